"""Configuration of the local Bridge server (:class:`BridgeConfig`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["DEFAULT_PORT", "BridgeConfig"]

#: The port the Storj Bridge service listens on by default.
DEFAULT_PORT = 6382


@dataclass
class BridgeConfig:
    """Settings of one local Bridge.

    Every duration is in seconds (floats allowed). Nothing here touches the disk or the
    network; :meth:`BridgeServer.start <storj.local.bridge.BridgeServer.start>` does.

    :ivar data_dir: directory holding ``bridge.sqlite3`` (created on start).
    :ivar host: address to bind; loopback by default.
    :ivar port: TCP port; ``0`` picks a free one (the service default is 6382).
    :ivar auto_activate: new users are activated at once (no activation email needed).
    :ivar dev_endpoints: serve the local extensions ``GET /_dev/outbox`` (each user reads
        its own mail with Basic authentication) and ``POST /_dev/audit`` to their callers;
        off by default (``storj-local serve --dev-endpoints`` turns it on). Requests
        carrying ``admin_secret`` are served whether it is on or off.
    :ivar admin_secret: the operator's secret (at least 32 characters): a request with it
        in the ``x-storj-admin-secret`` header may read every user's mail from
        ``GET /_dev/outbox`` and call ``POST /_dev/audit``. ``None`` (default): nobody
        can. :class:`storj.local.LocalNetwork` keeps one in ``network.json`` (mode 0600).
    :ivar control_secret: value of the ``x-storj-control-secret`` header sent to farmers'
        control endpoint; without it no contract can be negotiated.
    :ivar token_ttl: lifetime of bucket operation tokens (2018: one hour; 2016: 300).
    :ivar nonce_ttl: how long a used ECDSA ``__nonce`` is remembered (5 minutes).
    :ivar max_body_bytes: largest accepted request body; larger → 413.
    :ivar mirror_redundancy: extra copies automatic mirroring keeps of each shard
        (0 disables it); also the default ``redundancy`` of ``POST /buckets/:id/mirrors``.
    :ivar duplicate_file_policy: ``"error"`` (2018: a second file with the same name in a
        bucket → 409) or ``"replace"`` (2016: silent upsert).
    :ivar farmer_timeout: timeout of one control call to a farmer.
    :ivar farmer_timeout_ignore: a farmer that timed out is skipped this long unless it
        was seen again since (2016: 10 minutes).
    :ivar consign_attempts: farmers tried per ``PUT /frames/:id`` before giving up.
    :ivar request_timeout: socket timeout of the HTTP server, and the time a client has to
        send a whole request line and headers (bounds slow clients).
    :ivar enforce_transfer_limits: apply the free-tier transfer quotas (§1.3 → 420).
    :ivar max_connections: connections served at once; one more is answered 503
        ``{"error": ...}`` with ``Retry-After`` and closed (no thread is started for it).
    :ivar auth_failure_window: the window (seconds) of the failed-authentication limiter.
    :ivar max_auth_failures_per_account: failed Basic authentications of one account
        within ``auth_failure_window``; past it every Basic request for the account, with
        the right password too, is answered 429 ``Too Many Requests`` until old failures
        leave the window. Only failures count, never successes.
    :ivar max_auth_failures_per_address: the same limit for failures (Basic, or a wrong
        ``x-storj-admin-secret``) from one client address, whatever the account; a local
        network's clients all share 127.0.0.1, so it is higher than the account limit.
    :ivar mail_window: the window (seconds) of the mail limiter.
    :ivar max_mails_per_account: e-mails queued for one account within ``mail_window``;
        past it the unauthenticated routes that queue mail (``PATCH /users/:id``,
        ``POST /activations``) answer 429 for that account.
    :ivar legacy_channels: hand out the legacy WebSocket data channels (§6.6) of farmers
        that registered one: ``False`` (default) never; ``True`` adds
        ``channel: "ws://address:port"`` next to ``farmer`` in download pointers and in the
        ``PUT /frames/:id`` answer; ``"only"`` gives download pointers the pre-December-2016
        shape, ``channel`` and no ``farmer`` (a farmer without a channel is still given
        as ``farmer``; ``PUT /frames/:id`` keeps ``farmer``, which uploads need).
    :ivar repair_interval: seconds between maintenance passes — liveness, verification,
        repair and garbage collection (:mod:`storj.local.bridge.maintenance`); 0 runs no
        pass by itself (``BridgeServer.maintain()`` still runs one).
    :ivar audit_interval: a copy a file depends on is audited again when its last proof is
        older than this (copies reported bad by clients are verified at once).
    :ivar farmer_lost_after: a farmer that has failed every call since it was last seen
        this long ago is lost: its copies are replaced.
    :ivar unconfirmed_ttl: a copy no file depends on that its farmer never confirmed is
        dropped (and deleted from the farmer) this long after it was negotiated.
    :ivar frame_ttl: a frame no file refers to is removed this long after its last change
        (an upload that never became a file; at once for frames of deleted files).
    :ivar max_bucket_list: most buckets one ``GET /buckets`` returns (2018: 5000; the
        client pages on with ``startDate``); tests use small values.
    :ivar max_file_list: most entries one ``GET /buckets/:id/files`` returns (2018: 2000).
    """

    data_dir: str | os.PathLike[str]
    host: str = "127.0.0.1"
    port: int = 0
    auto_activate: bool = True
    dev_endpoints: bool = False
    control_secret: str | None = None
    admin_secret: str | None = None
    token_ttl: float = 3600.0
    nonce_ttl: float = 300.0
    max_body_bytes: int = 1024 * 1024
    mirror_redundancy: int = 2
    duplicate_file_policy: str = "error"
    farmer_timeout: float = 5.0
    farmer_timeout_ignore: float = 600.0
    consign_attempts: int = 3
    request_timeout: float = 60.0
    enforce_transfer_limits: bool = False
    legacy_channels: bool | str = False
    repair_interval: float = 300.0
    audit_interval: float = 86_400.0
    farmer_lost_after: float = 3_600.0
    unconfirmed_ttl: float = 86_400.0
    frame_ttl: float = 86_400.0
    max_connections: int = 256
    auth_failure_window: float = 300.0
    max_auth_failures_per_account: int = 10
    max_auth_failures_per_address: int = 100
    mail_window: float = 3600.0
    max_mails_per_account: int = 10
    max_bucket_list: int = 5000
    max_file_list: int = 2000

    def validate(self) -> None:
        """Raise :class:`ValueError` when a setting cannot work."""
        if self.duplicate_file_policy not in ("error", "replace"):
            raise ValueError('duplicate_file_policy must be "error" or "replace"')
        if not 0 <= int(self.port) <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        if not 0 <= self.mirror_redundancy <= 12:
            raise ValueError("mirror_redundancy must be between 0 and 12")
        for name in (
            "token_ttl",
            "nonce_ttl",
            "farmer_timeout",
            "request_timeout",
            "auth_failure_window",
            "mail_window",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.legacy_channels not in (False, True, "only"):
            raise ValueError('legacy_channels must be False, True or "only"')
        for name in (
            "repair_interval",
            "audit_interval",
            "farmer_lost_after",
            "unconfirmed_ttl",
            "frame_ttl",
        ):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be zero or a positive number of seconds")
        if self.consign_attempts < 1:
            raise ValueError("consign_attempts must be at least 1")
        for name in (
            "max_connections",
            "max_auth_failures_per_account",
            "max_auth_failures_per_address",
            "max_mails_per_account",
            "max_bucket_list",
            "max_file_list",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer")
        if self.admin_secret is not None and (
            not isinstance(self.admin_secret, str) or len(self.admin_secret) < 32
        ):
            raise ValueError("admin_secret must be a string of at least 32 characters (or None)")

"""A whole Storj v2 network on loopback: one Bridge and a few farmers, persistent on disk.

:class:`LocalNetwork` ties :class:`storj.local.bridge.BridgeServer` and
:class:`storj.local.farmer.FarmerNode` together::

    DATA/network.json                      control secret shared by Bridge and farmers, and
                                           the operator's admin secret (0600)
    DATA/running.json                      pid and URLs while a network serves DATA (0600)
    DATA/bridge/bridge.sqlite3
    DATA/farmers/farmer-N/identity.key     (N = index in LocalNetwork.farmers, from 0)
    DATA/farmers/farmer-N/farmer.sqlite3
    DATA/farmers/farmer-N/shards/<hash>

Everything under DATA is private to its owner: directories 0700, files 0600 (made so at
every start, whatever the umask or an older version left).

Clients reach it only over HTTP, exactly like a remote Bridge: point them at
:attr:`LocalNetwork.bridge_url`. The Bridge's ``/_dev`` extensions answer the holder of
the admin secret of ``network.json`` (:func:`read_admin_secret`: the owner of DATA), and
users (their own mail) only with ``dev_endpoints=True``. This module never imports the client
(``storj.http``, ``storj.transfer``, ``storj.cli``).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from storj.api import hash_password
from storj.exception import (
    BridgeError,
    BridgeTransportError,
    StorjError,
    bridge_error_for_status,
)
from storj.local._files import private_dir
from storj.local.farmer import FarmerConfig, FarmerNode

if TYPE_CHECKING:
    from storj.local.bridge import BridgeServer

__all__ = [
    "NETWORK_FILE",
    "RUNNING_FILE",
    "LocalNetwork",
    "read_admin_secret",
    "read_running_info",
]

log = logging.getLogger("storj.local.network")

#: Persistent settings of a data directory (control and admin secrets), mode 0600.
NETWORK_FILE = "network.json"
#: Written while a network serves a data directory: ``{pid, bridge_url, farmers, started}``.
RUNNING_FILE = "running.json"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_running_info(data_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``running.json`` of ``data_dir`` if the process that wrote it is still alive."""
    path = Path(data_dir) / RUNNING_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not _pid_alive(int(info.get("pid", 0))):
        return None
    return info


def read_admin_secret(data_dir: str | os.PathLike[str]) -> str | None:
    """The admin secret kept in ``data_dir/network.json`` (``None`` when there is none or
    the file cannot be read: only its owner can read it)."""
    try:
        settings = json.loads((Path(data_dir) / NETWORK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    secret = settings.get("admin_secret") if isinstance(settings, dict) else None
    return secret if isinstance(secret, str) and len(secret) >= 32 else None


def _write_private_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically, readable by the owner only."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps(payload, indent=2).encode("utf-8") + b"\n")
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # everything is on loopback: never go through a proxy
    return session


class LocalNetwork:
    """A Bridge plus ``farmers`` farmer nodes under ``data_dir``; a context manager.

    :param data_dir: where everything is kept; reusing it keeps users, buckets, files
        and shards (ports may change: farmers register again at each start).
    :param farmers: number of farmer nodes.
    :param host: loopback address to bind the Bridge and the farmers to.
    :param bridge_port: the Bridge's port; 0 picks a free one.
    :param auto_activate: new users are active at once (otherwise see :meth:`outbox`).
    :param mirror_redundancy: extra copies the Bridge keeps of each shard
        (``BridgeConfig.mirror_redundancy``); ``None`` keeps the Bridge's default.
    :param legacy_channels: run the legacy WebSocket data channels (§6.6): every farmer
        serves one (``FarmerConfig.legacy_channel``) and the Bridge hands them out
        (``BridgeConfig.legacy_channels``: ``True`` next to ``farmer``, ``"only"`` in
        download pointers without ``farmer``, the pre-December-2016 shape).
    :param clock: the Bridge's clock (seconds since the epoch, ``time.time`` by default);
        tests move it to make expiry and repair deadlines pass without waiting.
    :param farmer_options: other :class:`storj.local.farmer.FarmerConfig` fields for
        every farmer (e.g. ``max_connections``); the network sets ``data_dir``,
        ``bridge_url``, ``control_secret``, ``host`` and ``legacy_channel`` itself.
    :param bridge_options: any other :class:`storj.local.bridge.BridgeConfig` field
        (e.g. ``dev_endpoints=True``, ``max_connections``); ``admin_secret`` is always
        the one kept in ``network.json``.

    Nothing happens until :meth:`start` (or ``with``).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        farmers: int = 4,
        *,
        host: str = "127.0.0.1",
        bridge_port: int = 0,
        auto_activate: bool = True,
        mirror_redundancy: int | None = None,
        legacy_channels: bool | str = False,
        clock: Callable[[], float] = time.time,
        farmer_options: dict[str, Any] | None = None,
        **bridge_options: Any,
    ) -> None:
        if farmers < 1:
            raise ValueError("a local network needs at least one farmer")
        self.data_dir = Path(data_dir)
        self.farmer_count = farmers
        self.host = host
        self.bridge_port = bridge_port
        self.auto_activate = auto_activate
        self.mirror_redundancy = mirror_redundancy
        self.legacy_channels = legacy_channels
        self.bridge_options = bridge_options
        self.clock = clock
        self.farmer_options = dict(farmer_options or {})
        self.bridge: BridgeServer | None = None
        self.farmers: list[FarmerNode] = []
        #: Seconds the last :meth:`start` took (Bridge up and every farmer registered).
        self.startup_seconds: float | None = None
        self._control_secret: str | None = None
        self._admin_secret: str | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self.bridge is not None

    @property
    def bridge_url(self) -> str:
        """``http://host:port`` of the running Bridge (what ``STORJ_BRIDGE`` should be)."""
        return str(self._require_bridge().url)

    def start(self) -> LocalNetwork:
        """Start the Bridge, then every farmer in parallel; return once all are registered.

        :raises StorjError: another process serves this data directory.
        :raises BridgeError: a farmer could not register (everything is stopped again).
        """
        if self.bridge is not None:
            return self
        started = time.perf_counter()
        private_dir(self.data_dir)
        private_dir(self.data_dir / "farmers")
        other = read_running_info(self.data_dir)
        if other is not None and other.get("pid") != os.getpid():
            raise StorjError(
                f"a local network (pid {other.get('pid')}) is already serving {self.data_dir} "
                f"at {other.get('bridge_url')}; stop it first or use another data directory"
            )
        secret = self._load_or_create_secret()
        from storj.local.bridge import BridgeConfig, BridgeServer

        options = dict(self.bridge_options)
        options["admin_secret"] = self._admin_secret
        if self.mirror_redundancy is not None:
            options["mirror_redundancy"] = self.mirror_redundancy
        bridge = BridgeServer(
            BridgeConfig(
                data_dir=self.data_dir / "bridge",
                host=self.host,
                port=self.bridge_port,
                auto_activate=self.auto_activate,
                control_secret=secret,
                legacy_channels=self.legacy_channels,
                **options,
            ),
            clock=self.clock,
        )
        bridge.start()
        self.bridge = bridge
        self._warn_about_unused_farmers()
        nodes = [
            FarmerNode(
                FarmerConfig(
                    **{
                        **self.farmer_options,
                        "data_dir": self._farmer_dir(i),
                        "bridge_url": str(bridge.url),
                        "control_secret": secret,
                        "host": self.host,
                        "legacy_channel": bool(self.legacy_channels),
                    }
                )
            )
            for i in range(self.farmer_count)
        ]
        self.farmers = nodes
        try:
            with ThreadPoolExecutor(len(nodes), thread_name_prefix="storj-network-start") as pool:
                for future in [pool.submit(node.start) for node in nodes]:
                    future.result()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        self._write_running_file()
        log.info(
            "local network up in %.3fs: bridge %s, %d farmers",
            self.startup_seconds,
            bridge.url,
            len(nodes),
        )
        return self

    def stop(self) -> None:
        """Stop the farmers (in parallel), then the Bridge. Data stays on disk."""
        if self.bridge is not None and self.bridge.running:
            # no maintenance pass may see the farmers go and count their copies as lost
            self.bridge.services.maintenance.stop()
        nodes = [n for n in self.farmers if n.running]
        if nodes:
            with ThreadPoolExecutor(len(nodes), thread_name_prefix="storj-network-stop") as pool:
                list(pool.map(lambda node: node.stop(), nodes))
        bridge, self.bridge = self.bridge, None
        if bridge is not None:
            bridge.stop()
            self._remove_running_file()

    def __enter__(self) -> LocalNetwork:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.bridge_url if self.bridge is not None else "stopped"
        return f"LocalNetwork({str(self.data_dir)!r}, farmers={self.farmer_count}, {where})"

    # ------------------------------------------------------------------ farmers

    def stop_farmer(self, index: int) -> None:
        """Stop farmer ``index`` (its data stays; the Bridge notices when calls fail)."""
        self.farmers[index].stop()

    def start_farmer(self, index: int) -> FarmerNode:
        """Start farmer ``index`` again: same identity and shards, a fresh port, registered."""
        self._require_bridge()
        return self.farmers[index].start()

    # ------------------------------------------------------------------ users and tools

    def create_user(self, email: str | None = None, password: str | None = None) -> tuple[str, str]:
        """Register a user through ``POST /users`` and make sure it is activated.

        Sends ``{"email", "password": sha256_hex(password)}``. Without auto-activation the
        activation token is read from the Bridge's outbox and ``GET /activations/:token``
        is called. Missing values are generated; returns ``(email, password)`` (plaintext,
        for the caller's client).
        """
        email = email or f"user-{secrets.token_hex(6)}@example.com"
        password = password or secrets.token_urlsafe(18)
        base = self.bridge_url
        with _session() as session:
            url = f"{base}/users"
            response = self._checked(
                session.post,
                url,
                {201, 200},
                json={"email": email, "password": hash_password(password)},
            )
            user = response.json()
            if not user.get("activated"):
                tokens = [m["token"] for m in self.outbox(email) if m.get("kind") == "activation"]
                if not tokens:
                    raise BridgeError(f"no activation email for {email} in the Bridge's outbox")
                self._checked(
                    session.get,
                    f"{base}/activations/{tokens[-1]}",
                    {200},
                    shown_url=f"{base}/activations/<token>",
                )
        return email, password

    def outbox(self, email: str | None = None) -> list[dict[str, Any]]:
        """Emails the Bridge would have sent (activation, deactivation, reset)."""
        return list(self._require_bridge().outbox(email))

    def audit(self) -> Any:
        """Audit every copy a file depends on (delegates to ``BridgeServer.audit_all``)."""
        return self._require_bridge().audit_all()

    def maintain(self) -> Any:
        """Run one maintenance pass: liveness, verification, repair, garbage collection
        (delegates to ``BridgeServer.maintain``; returns its ``PassReport``)."""
        return self._require_bridge().maintain()
    @property
    def admin_secret(self) -> str:
        """The operator's secret of this data directory (``network.json``): the value of
        the ``x-storj-admin-secret`` header that lets a tool in another process read
        every user's mail (``GET /_dev/outbox``) or run an audit (``POST /_dev/audit``).
        Read or created on first use."""
        self._load_or_create_secret()
        assert self._admin_secret is not None
        return self._admin_secret

    # ------------------------------------------------------------------ internals

    def _require_bridge(self) -> BridgeServer:
        if self.bridge is None:
            raise StorjError("the local network is not running; call start() first")
        return self.bridge

    def _farmer_dir(self, index: int) -> Path:
        return self.data_dir / "farmers" / f"farmer-{index}"

    def _warn_about_unused_farmers(self) -> None:
        extra = self._farmer_dir(self.farmer_count)
        if extra.exists():
            log.warning(
                "%s holds more farmers than the %d started; shards stored only there "
                "cannot be downloaded until the network runs with more farmers",
                self.data_dir / "farmers",
                self.farmer_count,
            )

    def _load_or_create_secret(self) -> str:
        """The control secret of ``network.json`` (the admin secret is loaded along);
        missing secrets are created and the file rewritten with mode 0600."""
        if self._control_secret is not None:
            return self._control_secret
        path = self.data_dir / NETWORK_FILE
        settings: dict[str, Any] = {}
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            raise StorjError(f"{path} is unreadable ({exc}); delete it to start afresh") from exc
        if not isinstance(settings, dict):
            settings = {}
        secret = settings.get("control_secret")
        admin = settings.get("admin_secret")
        changed = False
        if not isinstance(secret, str) or len(secret) < 32:
            secret = secrets.token_hex(32)
            changed = True
        if not isinstance(admin, str) or len(admin) < 32:
            admin = secrets.token_hex(32)
            changed = True
        if changed:
            private_dir(self.data_dir)
            _write_private_json(path, {**settings, "control_secret": secret, "admin_secret": admin})
        elif path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        self._control_secret = secret
        self._admin_secret = admin
        return secret

    def _write_running_file(self) -> None:
        info = {
            "pid": os.getpid(),
            "bridge_url": self.bridge_url,
            "farmers": [
                {
                    "nodeID": n.node_id,
                    "url": n.url,
                    **({"channel": n.channel_url} if n.channel_url else {}),
                }
                for n in self.farmers
            ],
            "started": int(time.time()),
        }
        try:
            _write_private_json(self.data_dir / RUNNING_FILE, info)
        except OSError as exc:  # informative only
            log.warning("cannot write %s: %s", self.data_dir / RUNNING_FILE, exc)

    def _remove_running_file(self) -> None:
        path = self.data_dir / RUNNING_FILE
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            if info.get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError, AttributeError):
            pass

    @staticmethod
    def _checked(
        send: Any, url: str, ok: set[int], *, shown_url: str | None = None, **kwargs: Any
    ) -> requests.Response:
        method = send.__name__.upper()
        shown = shown_url or url
        try:
            response = send(url, timeout=30, **kwargs)
        except requests.RequestException as exc:
            raise BridgeTransportError(
                f"cannot reach the local Bridge: {exc}", method=method, url=shown
            ) from None
        if response.status_code not in ok:
            try:
                message = str(response.json().get("error", response.text))
            except (ValueError, AttributeError):
                message = response.text
            raise bridge_error_for_status(response.status_code)(
                message,
                status_code=response.status_code,
                method=method,
                url=shown,
                body=response.text,
            )
        return response

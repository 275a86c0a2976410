"""Settings for one ``storj`` invocation and the client built from them.

Precedence, field by field (bridge URL, user, password, mnemonic):

1. command-line options (``--url``, ``--user``; there is no password option so
   secrets never appear in process arguments);
2. the environment: ``STORJ_BRIDGE``, ``STORJ_BRIDGE_USER``, ``STORJ_BRIDGE_PASS``,
   ``STORJ_ENCRYPTION_KEY`` (libstorj's names);
3. the config file (:mod:`storj.configuration`);
4. the embedded default: with no Bridge configured, a persistent local network
   (:mod:`storj.cli._embedded`) and its stored account fill in what is missing.

A user without a password gets a hidden prompt when stdin is a terminal.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from storj.cli._embedded import EmbeddedNetwork, resolve_data_dir
from storj.cli._output import CommandError
from storj.cli._progress import bars_enabled
from storj.exception import ConfigurationError, EncryptionKeyError

if TYPE_CHECKING:
    from storj.http import Client
    from storj.transfer.config import TransferConfig

log = logging.getLogger(__name__)

ENV_BRIDGE = "STORJ_BRIDGE"
ENV_USER = "STORJ_BRIDGE_USER"
ENV_PASS = "STORJ_BRIDGE_PASS"  # noqa: S105 - the variable's name, not a password
ENV_KEY = "STORJ_ENCRYPTION_KEY"

FIELDS = ("bridge", "user", "password", "mnemonic")


@dataclass(frozen=True)
class Settings:
    """Where to connect and as whom. ``bridge is None`` means the embedded network.

    :ivar sources: for each field that has a value, where it came from:
        ``"option"``, ``"env"``, ``"config"`` or ``"embedded"``.
    """

    bridge: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    mnemonic: str | None = field(default=None, repr=False)
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        return self.bridge is None


def resolve_settings(
    *,
    options: Mapping[str, str | None],
    environ: Mapping[str, str],
    config: Mapping[str, str | None],
) -> Settings:
    """Merge the layers (options > environment > config file); pure, no I/O.

    ``options`` may hold ``bridge`` and ``user``; ``config`` any of :data:`FIELDS`.
    Empty strings count as unset.
    """
    env = {
        "bridge": environ.get(ENV_BRIDGE),
        "user": environ.get(ENV_USER),
        "password": environ.get(ENV_PASS),
        "mnemonic": environ.get(ENV_KEY),
    }
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for name in FIELDS:
        for source, layer in (("option", options), ("env", env), ("config", config)):
            value = layer.get(name)
            if value:
                values[name] = value.strip() if name != "password" else value
                sources[name] = source
                break
        else:
            values[name] = None
    if values["bridge"]:
        values["bridge"] = values["bridge"].rstrip("/") or values["bridge"]
    return Settings(sources=sources, **values)


def with_embedded(settings: Settings, embedded: Any) -> Settings:
    """Fill the fields still missing from the embedded network's URL and stored account."""
    creds = embedded.credentials
    values = {
        "bridge": embedded.bridge_url,
        "user": settings.user,
        "password": settings.password,
        "mnemonic": settings.mnemonic,
    }
    sources = dict(settings.sources)
    sources["bridge"] = "embedded"
    if not settings.user:
        values["user"], sources["user"] = creds.email, "embedded"
        if not settings.password:
            values["password"], sources["password"] = creds.password, "embedded"
    if not settings.mnemonic:
        values["mnemonic"], sources["mnemonic"] = creds.mnemonic, "embedded"
    return Settings(sources=sources, **values)


def read_config_file(path: str | os.PathLike[str] | None = None) -> dict[str, str | None]:
    """The config file's values as ``{bridge, user, password, mnemonic}`` (unset → absent).

    Reads :func:`storj.configuration.read_settings` (which also applies the environment;
    the environment layer above wins anyway, so the merge is unchanged).

    :raises ConfigurationError: the file exists but cannot be read.
    """
    from storj import configuration

    raw = configuration.read_settings(path, require_credentials=False)
    values = {
        "bridge": raw.bridge_url,
        "user": raw.email,
        "password": raw.password,
        "mnemonic": raw.encryption_key,
    }
    return {name: value for name, value in values.items() if value}


T = TypeVar("T")


class CliContext:
    """Per-invocation state on ``ctx.obj``: options, settings, and the lazily built client.

    Nothing is read or started until a command asks for it, so ``storj --help`` and
    ``storj generate-mnemonic`` touch neither the config file nor the network.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        user: str | None = None,
        quiet: bool = False,
        verbose: int = 0,
        debug: bool = False,
        data_dir: str | None = None,
        config: str | None = None,
        environ: Mapping[str, str] | None = None,
        config_reader: Callable[[str | None], Mapping[str, str | None]] = read_config_file,
    ) -> None:
        self.url = url
        self.user = user
        self.quiet = quiet
        self.verbose = verbose
        self.debug = debug
        self.environ = os.environ if environ is None else environ
        self.data_dir = resolve_data_dir(data_dir, self.environ)
        self.config_file = config
        self.config_reader = config_reader
        self._base: Settings | None = None
        self._settings: Settings | None = None
        self._embedded: EmbeddedNetwork | None = None
        self._client: Any = None
        self._key: Any = None
        #: Set by the tuning options of the transfer commands (:mod:`storj.cli._tuning`);
        #: ``None`` uses the engine's defaults.
        self.transfer_config: TransferConfig | None = None

    # -- settings -----------------------------------------------------------------------

    def base_settings(self) -> Settings:
        """Options > environment > config file, without the embedded default."""
        if self._base is None:
            self._base = resolve_settings(
                options={"bridge": self.url, "user": self.user},
                environ=self.environ,
                config=self.config_reader(self.config_file),
            )
        return self._base

    @property
    def bars(self) -> bool:
        """Whether to draw progress bars (stderr is a TTY and not ``-q``)."""
        return bars_enabled(self.quiet)

    @property
    def bridge_label(self) -> str | None:
        """The Bridge URL for messages (never contains credentials)."""
        if self._settings is not None:
            return self._settings.bridge
        base = self._base
        return base.bridge if base is not None else self.url

    @property
    def user_label(self) -> str | None:
        settings = self._settings or self._base
        return settings.user if settings is not None else self.user

    def embedded_network(self) -> EmbeddedNetwork:
        """Start (once) and return the embedded network for this data directory."""
        if self._embedded is None:
            self._embedded = EmbeddedNetwork(self.data_dir)
        if not self._embedded.running:
            self._embedded.start()
            ctx = click.get_current_context(silent=True)
            if ctx is not None:
                ctx.find_root().call_on_close(self.close)
        return self._embedded

    @property
    def uses_embedded(self) -> bool:
        return self.base_settings().embedded

    def settings(self, *, need_password: bool = True) -> Settings:
        """Complete settings; starts the embedded network when no Bridge is configured."""
        if self._settings is None:
            settings = self.base_settings()
            if settings.embedded:
                settings = with_embedded(settings, self.embedded_network())
            if need_password and settings.user and not settings.password:
                settings = Settings(
                    bridge=settings.bridge,
                    user=settings.user,
                    password=self._prompt_password(settings.user),
                    mnemonic=settings.mnemonic,
                    sources={**settings.sources, "password": "prompt"},
                )
            self._settings = settings
        return self._settings

    def _prompt_password(self, user: str) -> str:
        if not sys.stdin.isatty():
            raise ConfigurationError(
                f"no password for {user}; set {ENV_PASS} or store it with `storj import-keys`"
            )
        return str(click.prompt(f"Password for {user}", hide_input=True, err=True))

    # -- client and key -----------------------------------------------------------------

    def public_client(self) -> Any:
        """A client for public routes (contacts, info): credentials only if configured."""
        settings = self.settings(need_password=False)
        if settings.user and settings.password:
            return self.client()
        from storj.http import Client

        client = Client(None, None, settings.bridge)
        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            ctx.call_on_close(client.close)
        return client

    def client(self) -> Client:
        """The :class:`storj.http.Client` for these settings (built once)."""
        if self._client is None:
            from storj.http import Client

            settings = self.settings()
            if not settings.user:
                raise ConfigurationError(
                    f"no Bridge user configured; set {ENV_USER} and {ENV_PASS}, pass --user, "
                    "or run `storj import-keys`"
                )
            self._client = Client(
                settings.user,
                settings.password or "",
                settings.bridge,
                encryption_key=self._valid_mnemonic(),
            )
        return self._client

    def _valid_mnemonic(self) -> str | None:
        key = self.encryption_key(required=False)
        return key.mnemonic if key is not None else None

    def encryption_key(self, *, required: bool = True) -> Any:
        """The encryption key from the mnemonic, or ``None`` when not configured and not required.

        :raises EncryptionKeyError: required but missing, or not a valid mnemonic.
        """
        if self._key is None:
            mnemonic = self.settings().mnemonic
            if not mnemonic:
                if not required:
                    return None
                raise EncryptionKeyError(
                    f"no encryption key configured; set {ENV_KEY} to your mnemonic or run "
                    "`storj import-keys` (new one: `storj generate-mnemonic`)"
                )
            self._key = make_key(mnemonic)
        return self._key

    def close(self) -> None:
        """Close the client and stop the embedded network (idempotent)."""
        client, self._client = self._client, None
        if client is not None and hasattr(client, "close"):
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing must not hide the real outcome
                log.debug("closing the client failed", exc_info=True)
        if self._embedded is not None:
            self._embedded.stop()


def make_key(mnemonic: str) -> Any:
    """A :class:`storj.crypto.EncryptionKey` from a BIP39 mnemonic.

    :raises EncryptionKeyError: not a valid mnemonic (wrong words or checksum).
    """
    from storj import crypto

    try:
        return crypto.EncryptionKey(mnemonic)
    except EncryptionKeyError as exc:
        raise EncryptionKeyError(
            f"{exc.message.rstrip('.')} (check {ENV_KEY} or run `storj import-keys` again)"
        ) from None


pass_cli = click.make_pass_decorator(CliContext)


def data_path(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser()


def require(value: T | None, message: str) -> T:
    """``value`` or a :class:`CommandError` with ``message``."""
    if value is None:
        raise CommandError(message)
    return value

"""The embedded default: a persistent local Storj network run inside the ``storj`` process.

When no Bridge is configured, a command starts :class:`storj.local.LocalNetwork` on
loopback from a data directory that survives between invocations, runs against it,
and stops it when the command ends. On first use a local account (random email and
password) and a BIP39 mnemonic are created and written to ``credentials.json`` in that
directory with mode 0600; later invocations reuse them, so ``storj cp f storj://b/``
followed by ``storj ls storj://b/`` in another process shows the file.

Data directory: ``--data-dir`` > ``$STORJ_LOCAL_DATA`` >
``platformdirs.user_data_dir("storj")/local-network``. It is private to its owner
(directories 0700, files 0600). When another process serves the network, the outbox is
read with the admin secret of its ``network.json``, which only the owner can read.

This is the only part of the CLI that imports :mod:`storj.local` (the server); the
rest talks to it over HTTP like to any Bridge.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from storj.exception import ConfigurationError

log = logging.getLogger(__name__)

ENV_LOCAL_DATA = "STORJ_LOCAL_DATA"
CREDENTIALS_FILE = "credentials.json"
DEFAULT_FARMERS = 4


def default_data_dir() -> Path:
    """``platformdirs.user_data_dir("storj")/local-network``."""
    return Path(platformdirs.user_data_dir("storj")) / "local-network"


def resolve_data_dir(option: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
    """The embedded network's directory: the option, ``$STORJ_LOCAL_DATA``, or the default."""
    if option:
        return Path(option).expanduser()
    if environ.get(ENV_LOCAL_DATA):
        return Path(environ[ENV_LOCAL_DATA]).expanduser()
    return default_data_dir()


@dataclass(frozen=True)
class LocalCredentials:
    """The embedded network's account: email, password and mnemonic (never printed)."""

    email: str
    password: str = field(repr=False)
    mnemonic: str = field(repr=False)

    def to_json(self) -> dict[str, str]:
        return {"email": self.email, "password": self.password, "mnemonic": self.mnemonic}


def load_credentials(path: Path) -> LocalCredentials | None:
    """Read ``credentials.json``; ``None`` if it does not exist.

    :raises ConfigurationError: the file exists but cannot be used.
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read {path}: {exc.strerror}; fix its permissions or delete it"
        ) from exc
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:  # left readable by an older version
            os.chmod(path, 0o600)
    try:
        data = json.loads(raw)
        return LocalCredentials(str(data["email"]), str(data["password"]), str(data["mnemonic"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"{path} is damaged; delete it (or run `storj local reset`) to start afresh"
        ) from exc


def save_credentials(path: Path, credentials: LocalCredentials) -> None:
    """Write ``credentials.json`` atomically with mode 0600 (never readable by others)
    into a directory made 0700."""
    from storj.local._files import private_dir

    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(credentials.to_json(), handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def new_local_email() -> str:
    """A random local account email (``user-<hex>@storj.local``)."""
    return f"user-{secrets.token_hex(6)}@storj.local"


def new_local_password() -> str:
    """A random password (32 hex characters from the OS CSPRNG)."""
    return secrets.token_hex(16)


class EmbeddedNetwork:
    """The local network for one command, plus its stored account.

    Nothing happens in the constructor. :meth:`start` reuses a network that another
    process (``storj local serve``) is serving from the same directory, or else starts
    the Bridge and farmers in this process on loopback; it then makes sure the account
    exists. :meth:`stop` stops what this process started.
    """

    def __init__(self, data_dir: Path, *, farmers: int = DEFAULT_FARMERS) -> None:
        self.data_dir = Path(data_dir)
        self.farmers = farmers
        self.network: Any = None
        self.credentials: LocalCredentials | None = None
        self._url: str | None = None

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / CREDENTIALS_FILE

    @property
    def bridge_url(self) -> str:
        if self._url is None:
            raise RuntimeError("the embedded network is not running")
        return self._url

    @property
    def running(self) -> bool:
        return self._url is not None

    @property
    def reused(self) -> bool:
        """True when another process serves the network and this one only talks to it."""
        return self._url is not None and self.network is None

    def start(self) -> None:
        """Reuse or start the network, then load or create the local account and mnemonic."""
        if self._url is not None:
            return
        from storj.local._files import private_dir
        from storj.local.network import LocalNetwork, read_running_info

        private_dir(self.data_dir)
        serving = read_running_info(self.data_dir)
        if serving is not None and serving.get("pid") != os.getpid():
            self._url = str(serving["bridge_url"]).rstrip("/")
            log.info("using the local network served by pid %s at %s", serving.get("pid"),
                     self._url)
            fresh = False
        else:
            fresh = not (self.data_dir / "bridge" / "bridge.sqlite3").exists()
            network = LocalNetwork(self.data_dir, farmers=self.farmers)
            network.start()
            self.network = network
            self._url = network.bridge_url
        try:
            self.credentials = self._ensure_account(fresh_bridge=fresh)
        except BaseException:
            self.stop()
            raise
        log.debug("embedded network at %s (data in %s)", self._url, self.data_dir)

    def stop(self) -> None:
        """Stop the Bridge and farmers if this process started them (idempotent)."""
        network, self.network = self.network, None
        self._url = None
        if network is not None:
            network.stop()

    def outbox(self, email: str | None = None) -> list[dict[str, Any]]:
        """Emails the local Bridge would have sent (activation tokens): in-process, or
        from the network served by another process with the admin secret of
        ``network.json``."""
        if self.network is not None:
            return list(self.network.outbox(email))
        return fetch_outbox(self.bridge_url, email, admin_secret=self._admin_secret())

    def _admin_secret(self) -> str | None:
        from storj.local.network import read_admin_secret

        return read_admin_secret(self.data_dir)

    def create_user(self, email: str, password: str) -> None:
        """Register and activate ``email`` on the network (in-process or served elsewhere).

        :raises BadRequestError: the email is already registered.
        """
        if self.network is not None:
            self.network.create_user(email, password)
            return
        from storj.http import Client

        with Client(None, None, self.bridge_url) as client:
            user = client.user_create(email, password)
            if not user.get("activated"):
                # as the owner (admin secret), else as the new user itself
                mails = fetch_outbox(self.bridge_url, email, admin_secret=self._admin_secret(),
                                     password=password)
                tokens = [m.get("token") for m in mails if m.get("kind") == "activation"]
                if not tokens:
                    raise ConfigurationError(
                        f"the local network at {self.bridge_url} did not activate {email}; "
                        "restart it with auto-activation (`storj local serve`)"
                    )
                client.user_activate(str(tokens[-1]))

    def _ensure_account(self, *, fresh_bridge: bool) -> LocalCredentials:
        from storj import crypto
        from storj.exception import BadRequestError

        stored = load_credentials(self.credentials_path)
        if stored is None:
            stored = LocalCredentials(new_local_email(), new_local_password(),
                                      crypto.generate_mnemonic())
            self.create_user(stored.email, stored.password)
            save_credentials(self.credentials_path, stored)
            log.info("created the local account %s in %s", stored.email, self.data_dir)
        elif fresh_bridge:
            # the Bridge's database was deleted but the credentials survived: same account
            with contextlib.suppress(BadRequestError):
                self.create_user(stored.email, stored.password)
        return stored

    def __enter__(self) -> EmbeddedNetwork:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def fetch_outbox(
    bridge_url: str,
    email: str | None = None,
    *,
    admin_secret: str | None = None,
    password: str | None = None,
) -> list[dict[str, Any]]:
    """``GET /_dev/outbox[?email=]`` of a local Bridge; ``[]`` when it answers nothing.

    Sends ``x-storj-admin-secret`` when ``admin_secret`` is given (every user's mail),
    else Basic credentials of ``email`` when ``password`` (plaintext) is given (that
    user's own mail, from a Bridge with its dev endpoints on); anonymous callers get
    nothing.
    """
    import requests

    from storj import api

    params = {"email": email} if email else None
    headers = {}
    if admin_secret:
        headers["x-storj-admin-secret"] = admin_secret
    elif email and password:
        headers["Authorization"] = api.basic_auth_header(email, api.hash_password(password))
    try:
        with requests.Session() as session:
            session.trust_env = False
            response = session.get(bridge_url.rstrip("/") + "/_dev/outbox", params=params,
                                   headers=headers, timeout=10)
    except requests.RequestException:
        return []
    if response.status_code != 200:
        return []
    try:
        data = response.json()
    except ValueError:
        return []
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []

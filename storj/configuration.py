"""Storj configuration module: credentials and settings from the environment and an INI file.

Precedence, field by field (the first source that has a value wins):

1. environment variables (libstorj's names): ``STORJ_BRIDGE_USER`` (email),
   ``STORJ_BRIDGE_PASS`` (password), ``STORJ_BRIDGE`` (Bridge URL),
   ``STORJ_ENCRYPTION_KEY`` (BIP39 mnemonic);
2. the INI file (:func:`config_path`), section ``[storj]``, keys ``email``, ``password``
   and optionally ``bridge`` and ``encryption_key``::

       [storj]
       email = someone@example.com
       password = the plain-text password
       bridge = http://127.0.0.1:6382/
       encryption_key = abandon abandon ... about

   When the file does not exist, the location used by storj 0.1.x–0.3.x
   (``~/.storj/storj.ini``) is read instead, so old installations keep working.

The password is kept in plain text in the file (the client hashes it before it
leaves the process); :func:`write_config` therefore creates the file with mode
``0600`` from the first byte on. Nothing here logs or prints a credential.
"""

from __future__ import annotations

import configparser
import contextlib
import logging
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from storj.exception import ConfigurationError

__all__ = [
    "APP_NAME",
    "CFG_BRIDGE",
    "CFG_EMAIL",
    "CFG_ENCRYPTION_KEY",
    "CFG_PASSWORD",
    "CONFIG_FILE_NAME",
    "ENV_BRIDGE",
    "ENV_EMAIL",
    "ENV_ENCRYPTION_KEY",
    "ENV_PASSWORD",
    "Settings",
    "config_path",
    "legacy_config_path",
    "read_config",
    "read_settings",
    "write_config",
]

#: (str) – the application name (also the INI section name).
APP_NAME = "storj"
#: (str) – configuration parameter that holds the Storj account email address.
CFG_EMAIL = "email"
#: (str) – configuration parameter that holds the Storj account password.
CFG_PASSWORD = "password"  # noqa: S105 - the name of a setting, not a password
#: (str) – configuration parameter that holds the Bridge URL.
CFG_BRIDGE = "bridge"
#: (str) – configuration parameter that holds the encryption key (BIP39 mnemonic).
CFG_ENCRYPTION_KEY = "encryption_key"

#: File name of the configuration file inside :func:`config_path`'s directory.
CONFIG_FILE_NAME = "storj.ini"

#: Environment variable holding the account email (beats the config file).
ENV_EMAIL = "STORJ_BRIDGE_USER"
#: Environment variable holding the account password (beats the config file).
ENV_PASSWORD = "STORJ_BRIDGE_PASS"  # noqa: S105 - an environment variable name
#: Environment variable holding the Bridge URL.
ENV_BRIDGE = "STORJ_BRIDGE"
#: Environment variable holding the encryption key (a BIP39 mnemonic).
ENV_ENCRYPTION_KEY = "STORJ_ENCRYPTION_KEY"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """Everything a client needs, resolved from the environment and the INI file.

    ``password`` and ``encryption_key`` are secrets and are left out of ``repr``.
    ``bridge_url`` is ``None`` when nothing is configured (the client then uses its
    own default); ``source`` is the INI file that was read, if any.
    """

    email: str | None
    password: str | None = field(default=None, repr=False)
    bridge_url: str | None = None
    encryption_key: str | None = field(default=None, repr=False)
    source: Path | None = None


def config_path() -> Path:
    """Location of the configuration file, ``<user config dir>/storj.ini``.

    The directory comes from ``platformdirs.user_config_dir("storj")``:

    - Linux and other Unix: ``$XDG_CONFIG_HOME/storj/storj.ini``, by default
      ``~/.config/storj/storj.ini``;
    - macOS: ``~/Library/Application Support/storj/storj.ini``;
    - Windows: ``%LOCALAPPDATA%\\storj\\storj.ini``, e.g.
      ``C:\\Users\\<user>\\AppData\\Local\\storj\\storj.ini``.
    """
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False)) / CONFIG_FILE_NAME


def legacy_config_path() -> Path:
    """Where storj 0.1.x–0.3.x kept the file on Linux and macOS: ``~/.storj/storj.ini``."""
    return Path.home() / f".{APP_NAME}" / CONFIG_FILE_NAME


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def _resolve_path(path: str | os.PathLike[str] | None) -> Path:
    """The file to read: ``path`` if given, else :func:`config_path`, else the legacy one."""
    if path is not None:
        return Path(path)
    current = config_path()
    if not current.exists():
        legacy = legacy_config_path()
        if legacy.is_file():
            return legacy
    return current


def _read_section(path: Path) -> dict[str, str]:
    """The ``[storj]`` section of ``path`` as a dict (empty if the file or section is missing)."""
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ConfigurationError(
            f"cannot read the storj configuration file {path}: {exc}; fix or delete the file"
        ) from exc
    _warn_if_readable_by_others(path)
    if not parser.has_section(APP_NAME):
        return {}
    return {key: value.strip() for key, value in parser.items(APP_NAME) if value.strip()}


def _warn_if_readable_by_others(path: Path) -> None:
    if os.name != "posix":
        return
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning(
            "the storj configuration file %s holds a password and is readable by other "
            "users; run: chmod 600 %s",
            path,
            path,
        )


def read_settings(
    path: str | os.PathLike[str] | None = None, *, require_credentials: bool = True
) -> Settings:
    """Resolve email, password, Bridge URL and encryption key (see the module docstring).

    :param path: INI file to read instead of :func:`config_path`.
    :param require_credentials: raise when email or password is missing (default);
        pass ``False`` to get whatever is configured (e.g. to register a new account).
    :raises ConfigurationError: credentials are required but missing, or the file is unreadable.
    """
    file_path = _resolve_path(path)
    section = _read_section(file_path)
    email = _env(ENV_EMAIL) or section.get(CFG_EMAIL)
    password = _env(ENV_PASSWORD) or section.get(CFG_PASSWORD)
    if require_credentials and not (email and password):
        missing = " and ".join(
            name for name, value in (("email", email), ("password", password)) if not value
        )
        raise ConfigurationError(
            f"no storj {missing} configured: set the environment variables {ENV_EMAIL} and "
            f"{ENV_PASSWORD}, or write them to {file_path} as\n[{APP_NAME}]\n"
            f"{CFG_EMAIL} = you@example.com\n{CFG_PASSWORD} = ...\n"
            f"(storj.configuration.write_config does this with mode 0600)"
        )
    return Settings(
        email=email,
        password=password,
        bridge_url=_env(ENV_BRIDGE) or section.get(CFG_BRIDGE),
        encryption_key=_env(ENV_ENCRYPTION_KEY) or section.get(CFG_ENCRYPTION_KEY),
        source=file_path if section else None,
    )


def read_config(path: str | os.PathLike[str] | None = None) -> tuple[str, str]:
    """Reads the storj client configuration: the account credentials.

    ``STORJ_BRIDGE_USER`` / ``STORJ_BRIDGE_PASS`` take precedence over the
    ``email`` / ``password`` keys of the ``[storj]`` section of the INI file
    (:func:`config_path`; see there for the per-OS locations).

    :param path: INI file to read instead of the default location.
    :returns: storj account credentials (email, password), the password in plain text.
    :rtype: (tuple[str, str])
    :raises ConfigurationError: nothing is configured; the message names the file and
        the environment variables to set.
    """
    settings = read_settings(path)
    assert settings.email is not None and settings.password is not None
    return settings.email, settings.password


def write_config(
    email: str,
    password: str,
    path: str | os.PathLike[str] | None = None,
    *,
    bridge: str | None = None,
    encryption_key: str | None = None,
) -> Path:
    """Write the credentials (and optional Bridge URL / encryption key) to the INI file.

    The file is written atomically: a temporary file created with mode ``0600`` in the
    same directory (itself created with mode ``0700`` if missing) is filled, flushed to
    disk and renamed over the target, so no reader ever sees a partial file and the
    password is never world-readable. Other sections and keys of an existing file are
    kept; ``bridge`` / ``encryption_key`` are only written when given.

    :returns: the path written.
    :raises ConfigurationError: the file or its directory cannot be written.
    """
    if not email or not password:
        raise ValueError("write_config needs a non-empty email and password")
    target = Path(path) if path is not None else config_path()
    parser = configparser.ConfigParser(interpolation=None)
    if target.is_file():
        try:
            with target.open(encoding="utf-8") as handle:
                parser.read_file(handle)
        except (OSError, UnicodeDecodeError, configparser.Error) as exc:
            raise ConfigurationError(
                f"cannot update the storj configuration file {target}: {exc}"
            ) from exc
    if not parser.has_section(APP_NAME):
        parser.add_section(APP_NAME)
    parser.set(APP_NAME, CFG_EMAIL, email)
    parser.set(APP_NAME, CFG_PASSWORD, password)
    if bridge is not None:
        parser.set(APP_NAME, CFG_BRIDGE, bridge)
    if encryption_key is not None:
        parser.set(APP_NAME, CFG_ENCRYPTION_KEY, encryption_key)

    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file with O_EXCL and mode 0600 regardless of the umask.
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the storj configuration file {target}: {exc}"
        ) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            parser.write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise ConfigurationError(
            f"cannot write the storj configuration file {target}: {exc}"
        ) from exc
    return target

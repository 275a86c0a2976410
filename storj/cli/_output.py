"""What the ``storj`` command prints: tables, JSON, sizes, and the one-line errors.

Library errors (:mod:`storj.exception`) and ``OSError`` become a single
``Error: … what to do`` line at one boundary (:func:`to_click_exception`, called by
the root group); nothing else in the CLI formats errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import click

from storj.exception import (
    AuthenticationError,
    BridgeError,
    BridgeResponseError,
    BridgeServerError,
    BridgeTimeoutError,
    BridgeTransportError,
    ConfigurationError,
    ConflictError,
    EncryptionKeyError,
    FarmerError,
    IntegrityError,
    NotFoundError,
    RateLimitError,
    StorjError,
    TransferCancelledError,
)

#: Exit status of a command interrupted by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_CANCELLED = 130


class CommandError(click.ClickException):
    """An operation failed (exit 1); the message is one line that says what to do."""

    exit_code = 1


class Cancelled(click.ClickException):
    """The user pressed Ctrl-C; exit 130."""

    exit_code = EXIT_CANCELLED

    def __init__(self, message: str = "cancelled; no partial file was left behind") -> None:
        super().__init__(message)


def one_line(text: str) -> str:
    """Collapse whitespace (newlines included) so an error is exactly one line."""
    return " ".join(str(text).split())


def _with_hint(message: str, hint: str) -> str:
    message = message.rstrip(". ")
    if "storj " in message or "--" in message:  # already says what to do
        return message
    return f"{message}; {hint}"


def error_message(exc: BaseException, *, bridge: str | None = None, user: str | None = None) -> str:
    """The one-line, user-facing text for a library or OS error (no ``Error:`` prefix).

    Never includes passwords, mnemonics or keys: only the exception's own message, the
    Bridge URL and the user's email.
    """
    where = bridge or _origin(getattr(exc, "url", None)) or "the configured Bridge"
    if isinstance(exc, TransferCancelledError):
        return "cancelled; no partial file was left behind"
    if isinstance(exc, BridgeTimeoutError):
        return (
            f"the Bridge at {where} did not answer in time; check that it is running "
            "and reachable (--url / STORJ_BRIDGE), then try again"
        )
    if isinstance(exc, BridgeTransportError):
        return (
            f"cannot reach the Bridge at {where}; check the URL (--url / STORJ_BRIDGE) "
            "and that the Bridge is running"
        )
    if isinstance(exc, AuthenticationError):
        who = f" for {user}" if user else ""
        return (
            f"the Bridge refused the credentials{who} ({exc.message or 'not authorized'}); "
            "check the email and password (STORJ_BRIDGE_USER / STORJ_BRIDGE_PASS or "
            "`storj import-keys`) and that the account is activated"
        )
    if isinstance(exc, RateLimitError):
        return (
            f"the Bridge is limiting requests ({exc.message or 'rate limit reached'}); "
            "wait a minute and try again"
        )
    if isinstance(exc, NotFoundError):
        return _with_hint(
            exc.message or "not found",
            "check the name or id with `storj ls` / `storj list-buckets`",
        )
    if isinstance(exc, ConflictError):
        return _with_hint(exc.message or "conflict", "choose another name or use --force")
    if isinstance(exc, BridgeResponseError):
        return (
            f"{where} did not answer like a Storj Bridge ({exc.message}); check the URL "
            "(--url / STORJ_BRIDGE)"
        )
    if isinstance(exc, BridgeServerError):
        return f"the Bridge failed ({exc.status_code}: {exc.message}); try again later"
    if isinstance(exc, BridgeError):
        status = f"{exc.status_code}: " if exc.status_code is not None else ""
        return f"the Bridge rejected the request ({status}{exc.message})"
    if isinstance(exc, IntegrityError):
        return _with_hint(
            f"the download failed verification ({exc.message}); nothing was written",
            "try again; if it keeps failing the stored file is damaged",
        )
    if isinstance(exc, FarmerError):
        return _with_hint(f"a storage node failed ({exc})", "try again")
    if isinstance(exc, (ConfigurationError, EncryptionKeyError)):
        return exc.message or type(exc).__name__
    if isinstance(exc, StorjError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError):
        return os_error_message(exc)
    return str(exc) or type(exc).__name__


def _origin(url: str | None) -> str | None:
    """``scheme://host:port`` of a request URL (the Bridge that was contacted)."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def os_error_message(exc: OSError) -> str:
    """``PATH: reason; what to do`` for a file system error."""
    name = exc.filename if exc.filename is not None else ""
    prefix = f"{name}: " if name else ""
    if isinstance(exc, FileNotFoundError):
        return f"{prefix}no such file or directory; check the path"
    if isinstance(exc, IsADirectoryError):
        return f"{prefix}is a directory; use -r to copy a directory"
    if isinstance(exc, NotADirectoryError):
        return f"{prefix}not a directory; check the path"
    if isinstance(exc, PermissionError):
        return f"{prefix}permission denied; check the file's permissions"
    if isinstance(exc, FileExistsError):
        return f"{prefix}already exists; use --force to overwrite it"
    reason = exc.strerror or str(exc)
    return f"{prefix}{reason}"


def to_click_exception(
    exc: BaseException, *, bridge: str | None = None, user: str | None = None
) -> click.ClickException:
    """Map a library/OS error to the ``click`` exception that prints it (exit 1 or 130)."""
    if isinstance(exc, TransferCancelledError):
        return Cancelled()
    return CommandError(one_line(error_message(exc, bridge=bridge, user=user)))


# -- formatting ---------------------------------------------------------------------------


def human_size(size: int | None) -> str:
    """``1536`` → ``1.5 KiB``; ``None`` → ``-``."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def format_time(value: Any) -> str:
    """A datetime (or RFC 3339 text) as ``YYYY-MM-DD HH:MM:SS`` (UTC as sent); other values
    as text; ``None`` → ``-``."""
    if value is None:
        return "-"
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain left-aligned text table (two spaces between columns), header first."""
    body = [[str(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(headers), *body]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def json_default(value: Any) -> Any:
    """JSON for values ``json`` does not know: datetimes (RFC 3339 ``Z``) and models."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return to_json()
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


def dumps(data: Any) -> str:
    """Stable JSON text: sorted keys, two-space indent."""
    return json.dumps(data, default=json_default, indent=2, sort_keys=True)


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout."""
    click.echo(dumps(data))

"""Small pure helpers of the local Bridge: ids, tokens, timestamps, value checks."""

from __future__ import annotations

import hashlib
import os
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from storj.api import rmd160sha256_hex

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "activation_token",
    "bucket_token",
    "from_iso_or_ms",
    "is_hex",
    "is_int",
    "is_json_int",
    "iso_ms",
    "long_token",
    "new_object_id",
    "next_power_of_two",
    "now_ms",
    "renter_id",
    "valid_email",
    "valid_mimetype",
]

_HEX = re.compile(r"^[0-9a-fA-F]*$")
_EMAIL = re.compile(r"^[^@\s:/]+@[^@\s:/]+\.[^@\s:/]+$")
_MIME_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"  # noqa: S105 - not a password
_MIMETYPE = re.compile(rf"^{_MIME_TOKEN}/{_MIME_TOKEN}$")
_DAY_MS = 86_400_000

#: The integers the store can hold (SQLite ``INTEGER``: signed 64 bits). A client
#: integer outside this range is a client mistake (400), never an ``OverflowError``.
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_ms() -> int:
    """Current time in epoch milliseconds."""
    return int(time.time() * 1000)


def iso_ms(ms: int) -> str:
    """RFC 3339 UTC with milliseconds and ``Z`` (what ``JSON.stringify(new Date())`` gives)."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def from_iso_or_ms(value: str) -> int | None:
    """Parse a ``startDate`` query value (RFC 3339/ISO 8601 or epoch ms) to epoch ms.

    Returns ``None`` when the value is neither.
    """
    text = value.strip()
    if re.fullmatch(r"\d{1,15}", text):
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def new_object_id(ms: int | None = None) -> str:
    """A Mongo ObjectId-like id: 4-byte big-endian seconds + 8 random bytes, 24 hex."""
    seconds = (now_ms() if ms is None else ms) // 1000
    return (seconds & 0xFFFFFFFF).to_bytes(4, "big").hex() + os.urandom(8).hex()


def bucket_token(ms: int | None = None) -> str:
    """A bucket operation token: ``SHA256(512 random bytes ‖ ascii(ms))``, 64 hex."""
    stamp = str(now_ms() if ms is None else ms).encode("ascii")
    return hashlib.sha256(os.urandom(512) + stamp).hexdigest()


def activation_token() -> str:
    """An activation token: 256 random bits, 64 hex."""
    return os.urandom(32).hex()


def long_token() -> str:
    """A deactivation or password-reset token: 256 random bytes, 512 hex."""
    return os.urandom(256).hex()


def is_json_int(value: Any) -> TypeGuard[int]:
    """True for a JSON integer of any size (``bool`` is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_int(value: Any) -> TypeGuard[int]:
    """True for a JSON integer the store can hold (:data:`INT_MIN`..:data:`INT_MAX`;
    ``bool`` is not one)."""
    return is_json_int(value) and INT_MIN <= value <= INT_MAX


def is_hex(value: Any, length: int | None = None) -> bool:
    """True for a string of hex digits (of ``length`` characters when given)."""
    if not isinstance(value, str) or not _HEX.match(value):
        return False
    return len(value) == length if length is not None else len(value) % 2 == 0


def next_power_of_two(n: int) -> int:
    """``2^ceil(log2 n)``; 1 for n ≤ 1."""
    power = 1
    while power < n:
        power <<= 1
    return power


def valid_email(value: Any) -> bool:
    """A plausible e-mail address (one ``@``, a dot in the domain, no spaces)."""
    return isinstance(value, str) and len(value) <= 254 and bool(_EMAIL.match(value))


def valid_mimetype(value: Any) -> bool:
    """An RFC 6838 ``type/subtype`` (parameters are not accepted)."""
    return isinstance(value, str) and bool(_MIMETYPE.match(value))


def days_ms(days: int) -> int:
    """``days`` in milliseconds."""
    return days * _DAY_MS


def renter_id(email: str) -> str:
    """The id the Bridge gives farmers for the user ``email`` whose data a contract holds:
    ``hex(RIPEMD160(SHA256(utf8(email))))`` (40 hex, like a nodeID; it does not reveal the
    address to farmers)."""
    return rmd160sha256_hex(email.encode("utf-8"))


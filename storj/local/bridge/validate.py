"""Request checks shared by the routes; each failure is a 400/404 with a clear message."""

from __future__ import annotations

import re
from typing import Any

from storj.api import is_object_id
from storj.keys import load_public_key
from storj.local.bridge.auth import authenticate
from storj.local.bridge.context import RequestContext
from storj.local.bridge.errors import BadRequest, NotFound
from storj.local.bridge.store import Row
from storj.local.bridge.util import INT_MAX, INT_MIN, from_iso_or_ms, is_hex, is_json_int

__all__ = [
    "check_int",
    "check_name",
    "check_object_id",
    "check_public_key",
    "check_password",
    "optional_string",
    "owned_bucket",
    "owned_frame",
    "query_int",
    "start_date",
]

#: C0 control characters and DEL: never part of a bucket or file name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_object_id(value: str, what: str) -> str:
    """400 ``<What> id is malformed`` unless ``value`` is 24 hex characters (2018)."""
    if not is_object_id(value):
        raise BadRequest(f"{what} id is malformed")
    return value


def check_password(value: Any) -> str:
    """The client's password must be a SHA-256 hex digest (64 hex characters)."""
    if not is_hex(value, 64):
        raise BadRequest("Password must be hex encoded SHA-256 hash")
    return str(value)


def check_public_key(value: Any) -> str:
    """A SEC1 hex public key on secp256k1, compressed or uncompressed."""
    if not isinstance(value, str) or not value:
        raise BadRequest("Invalid public key supplied: expected a hex encoded secp256k1 key")
    if ":" in value:
        raise BadRequest("Invalid public key supplied: must not contain ':'")
    try:
        load_public_key(value)
    except ValueError as exc:
        raise BadRequest(f"Invalid public key supplied: {exc}") from None
    return value


def optional_string(body: dict[str, Any], name: str, default: str | None = None) -> str | None:
    value = body.get(name, default)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"Invalid {name}: expected a string")
    return value


def _range_message(name: str, minimum: int, maximum: int) -> str:
    return f"Invalid {name}: expected an integer from {minimum} to {maximum}"


def check_int(
    value: Any,
    name: str,
    minimum: int = INT_MIN,
    maximum: int = INT_MAX,
    *,
    message: str | None = None,
) -> int:
    """``value`` when it is a JSON integer from ``minimum`` to ``maximum``.

    The bounds are clamped to what the store can hold (signed 64 bits), so a value
    that passes can always be stored.

    :raises BadRequest: ``Invalid <name>: expected an integer from <minimum> to
        <maximum>`` for an integer above ``maximum`` or beyond what the store holds;
        ``message`` (a route's own wording; default: the same range message) for
        anything but a JSON integer (``true``, ``1.5``, ``"1"``…) and for a storable
        integer below ``minimum``.
    """
    minimum, maximum = max(minimum, INT_MIN), min(maximum, INT_MAX)
    in_range = _range_message(name, minimum, maximum)
    if not is_json_int(value):
        raise BadRequest(message or in_range)
    if not INT_MIN <= value <= maximum:
        raise BadRequest(in_range)
    if value < minimum:
        raise BadRequest(message or in_range)
    return value


def check_name(value: str, name: str) -> str:
    """A bucket or file name is text: not blank, and without control characters.

    :raises BadRequest: ``Invalid <name>: …`` saying which.
    """
    if not value.strip():
        raise BadRequest(f"Invalid {name}: must not be blank")
    if _CONTROL.search(value):
        raise BadRequest(f"Invalid {name}: must not contain control characters (such as NUL)")
    return value


def query_int(
    ctx: RequestContext, name: str, default: int, minimum: int = 0, maximum: int = INT_MAX
) -> int:
    """An integer query parameter from ``minimum`` to ``maximum`` (decimal digits).

    :raises BadRequest: ``Invalid <name>: expected an integer from <minimum> to <maximum>``.
    """
    raw = ctx.query.get(name)
    if raw is None or raw == "":
        return default
    minimum, maximum = max(minimum, INT_MIN), min(maximum, INT_MAX)
    text = raw.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits.lstrip("0")) > 19:
        raise BadRequest(_range_message(name, minimum, maximum))
    value = int(text, 10)
    if not minimum <= value <= maximum:
        raise BadRequest(_range_message(name, minimum, maximum))
    return value


def start_date(ctx: RequestContext) -> int | None:
    """``?startDate=`` (ISO date or epoch ms) for date-paginated listings (2018)."""
    raw = ctx.query.get("startDate")
    if raw is None or raw == "":
        return None
    value = from_iso_or_ms(raw)
    if value is None:
        raise BadRequest("Invalid startDate: expected an ISO 8601 date or epoch milliseconds")
    return value


def owned_bucket(ctx: RequestContext, bucket_id: str) -> Row:
    """Authenticate, then the user's bucket ``bucket_id`` (404 for anyone else's)."""
    user = authenticate(ctx)
    check_object_id(bucket_id, "Bucket")
    bucket = ctx.services.store.get_bucket(bucket_id)
    if bucket is None or bucket["user_email"] != user["email"]:
        raise NotFound("Bucket not found")
    return bucket


def owned_frame(ctx: RequestContext, frame_id: str) -> Row:
    """Authenticate, then the user's frame ``frame_id`` (404 for anyone else's)."""
    user = authenticate(ctx)
    check_object_id(frame_id, "Frame")
    frame = ctx.services.store.get_frame(frame_id)
    if frame is None or frame["user_email"] != user["email"]:
        raise NotFound("Frame not found")
    return frame

"""Request checks shared by the routes; each failure is a 400/404 with a clear message."""

from __future__ import annotations

from typing import Any

from storj.api import is_object_id
from storj.keys import load_public_key
from storj.local.bridge.auth import authenticate
from storj.local.bridge.context import RequestContext
from storj.local.bridge.errors import BadRequest, NotFound
from storj.local.bridge.store import Row
from storj.local.bridge.util import from_iso_or_ms, is_hex

__all__ = [
    "check_object_id",
    "check_public_key",
    "check_password",
    "optional_string",
    "owned_bucket",
    "owned_frame",
    "query_int",
    "start_date",
]


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


def query_int(ctx: RequestContext, name: str, default: int, minimum: int = 0) -> int:
    """A non-negative integer query parameter."""
    raw = ctx.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise BadRequest(f"Invalid {name}: expected an integer") from None
    if value < minimum:
        raise BadRequest(f"Invalid {name}: must be at least {minimum}")
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

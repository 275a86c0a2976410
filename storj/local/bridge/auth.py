"""Authentication of Bridge requests (``bridge-protocol.md`` §2).

Detection order: HTTP Basic when an ``Authorization: Basic`` header carries a non-empty
user and password; else ECDSA when both ``x-signature`` and ``x-pubkey`` are present;
else 401 ``No authentication strategy detected``.

* Basic: the password is the client's SHA-256 hex; the store keeps
  ``SHA256(ascii(password_hex))`` and compares in constant time.
* ECDSA: secp256k1, DER-hex signature over ``METHOD\\nPATH\\nPAYLOAD`` where PATH is the
  raw request path as sent and PAYLOAD the raw body (POST/PUT/PATCH) or raw query string
  (GET/DELETE/OPTIONS). High-S signatures verify. ``x-pubkey`` is looked up as an exact
  string. Every ECDSA request needs a ``__nonce`` inside the signed payload, unique per
  user for ``nonce_ttl`` (kept in SQLite, so a restart does not reopen the window).
* ``x-token``: bucket operation tokens, single use, expiring after ``token_ttl``.
* Public buckets and bucket-listed keys (§2.5) for tokens and file info. Unlike the
  2016 Bridge, a request allowed by a bucket-listed key needs a fresh ``__nonce`` too,
  remembered for its key's user (or for the key itself when it belongs to no user), so
  a captured request cannot be replayed.
* Farmer requests (§2.7): each accepted signed message is remembered until its
  ``x-node-timestamp`` leaves the five-minute window, so it is accepted only once.
* Failed Basic authentications are limited per account and per client address
  (``BridgeConfig.max_auth_failures_per_account`` / ``…_per_address`` within
  ``auth_failure_window``): past the limit every Basic request of that account or
  address, the right password included, is answered 429 ``Too Many Requests`` until the
  window has moved on.
* The operator's ``x-storj-admin-secret`` (``BridgeConfig.admin_secret``) for the local
  ``/_dev`` extensions, compared in constant time; a wrong one counts as a failure of the
  client address.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from storj.api import sha256_hex
from storj.keys import node_id as node_id_of
from storj.keys import verify
from storj.local.bridge.context import RequestContext
from storj.local.bridge.errors import (
    BridgeHTTPError,
    Forbidden,
    NotAuthorized,
    NotFound,
    TooManyRequests,
)
from storj.local.bridge.limits import FailureLimiter
from storj.local.bridge.store import Row

__all__ = [
    "ADMIN_SECRET_HEADER",
    "FARMER_CLOCK_SKEW_MS",
    "AuthLimiter",
    "admin_request",
    "authenticate",
    "authenticate_basic",
    "authenticate_farmer",
    "authorize_bucket",
    "consume_bucket_token",
    "farmer_message",
    "parse_basic",
    "store_password",
    "valid_signature_key",
]

_MAX_NONCE_LENGTH = 256

#: The header carrying the operator's ``BridgeConfig.admin_secret``.
ADMIN_SECRET_HEADER = "x-storj-admin-secret"  # noqa: S105 - a header name


class AuthLimiter:
    """Failed authentications per account and per client address (one window)."""

    def __init__(self, per_account: int, per_address: int, window: float) -> None:
        self.accounts = FailureLimiter(per_account, window)
        self.addresses = FailureLimiter(per_address, window)

    def check(self, account: str | None, address: str, now: float) -> None:
        """:raises TooManyRequests: the account or the address has too many failures."""
        waits = [self.addresses.blocked_for(address, now)]
        if account is not None:
            waits.append(self.accounts.blocked_for(account.lower(), now))
        longest = max((w for w in waits if w is not None), default=None)
        if longest is not None:
            raise TooManyRequests(longest)

    def failed(self, account: str | None, address: str, now: float) -> None:
        """Count one failure of ``account`` (when known) and of ``address``."""
        self.addresses.record(address, now)
        if account is not None:
            self.accounts.record(account.lower(), now)


def _client_address(ctx: RequestContext) -> str:
    return str(ctx.environ.get("REMOTE_ADDR") or "-")


def store_password(password_hex: str) -> str:
    """What the Bridge stores for a client password hash: ``SHA256(ascii(password_hex))``."""
    return sha256_hex(password_hex.encode("ascii"))


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """``(user, password)`` of a Basic ``Authorization`` header with both parts non-empty."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep or not user or not password:
        return None
    return user, password


def authenticate(ctx: RequestContext) -> Row:
    """Authenticate the request as a user (Basic or ECDSA); sets ``ctx.user``/``ctx.pubkey``.

    :raises NotAuthorized: 401 for every credential problem.
    :raises Forbidden: 403 when the account is not activated (2018 status).
    """
    if ctx.user is not None:
        return ctx.user
    basic = parse_basic(ctx.header("Authorization"))
    if basic is not None:
        user = _basic(ctx, *basic)
    elif ctx.header("x-signature") and ctx.header("x-pubkey"):
        user = _ecdsa(ctx)
    else:
        raise NotAuthorized("No authentication strategy detected")
    ctx.user = user
    return user


def authenticate_basic(ctx: RequestContext, *, allow_inactive: bool = False) -> Row | None:
    """The user of the request's Basic credentials; ``None`` without a Basic header.

    Goes through the failed-authentication limiter like :func:`authenticate`.
    ``allow_inactive`` accepts an account that is not activated yet.

    :raises NotAuthorized: wrong email or password.
    :raises TooManyRequests: too many recent failures for the account or the address.
    """
    basic = parse_basic(ctx.header("Authorization"))
    if basic is None:
        return None
    return _basic(ctx, *basic, require_active=not allow_inactive)


def _basic(ctx: RequestContext, email: str, password: str, *, require_active: bool = True) -> Row:
    services = ctx.services
    address = _client_address(ctx)
    services.auth_limiter.check(email, address, services.clock())
    user = services.store.get_user(email)
    try:
        expected = store_password(password)
    except UnicodeEncodeError:
        expected = ""
    if user is None or not expected or not hmac.compare_digest(user["hashpass"], expected):
        services.auth_limiter.failed(email, address, services.clock())
        raise NotAuthorized("Invalid email or password")
    if require_active and not user["activated"]:
        raise Forbidden("User account has not been activated")
    return user


def admin_request(ctx: RequestContext) -> bool:
    """True when the request carries the right ``x-storj-admin-secret``; False without it.

    :raises NotAuthorized: a wrong secret, or any secret when the Bridge has none
        (counted as a failure of the client address).
    :raises TooManyRequests: too many recent failures from the client address.
    """
    value = ctx.header(ADMIN_SECRET_HEADER)
    if value is None:
        return False
    services = ctx.services
    address = _client_address(ctx)
    services.auth_limiter.check(None, address, services.clock())
    expected = services.config.admin_secret
    if not expected or not hmac.compare_digest(
        value.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    ):
        services.auth_limiter.failed(None, address, services.clock())
        raise NotAuthorized(
            f"Invalid {ADMIN_SECRET_HEADER}: use the admin_secret of the Bridge "
            "(network.json of a local network)"
        )
    return True


def valid_signature_key(ctx: RequestContext) -> str | None:
    """The ``x-pubkey`` value when ``x-signature`` is a valid signature of this request."""
    pubkey = ctx.header("x-pubkey")
    signature = ctx.header("x-signature")
    if not pubkey or not signature:
        return None
    message = ctx.method.encode("ascii") + b"\n" + ctx.raw_path_bytes + b"\n" + ctx.signed_payload()
    return pubkey if verify(pubkey, signature, message) else None


def _ecdsa(ctx: RequestContext) -> Row:
    store = ctx.services.store
    pubkey = valid_signature_key(ctx)
    if pubkey is None:
        raise NotAuthorized("Invalid signature")
    key = store.get_key(pubkey)
    if key is None:
        raise NotAuthorized("Public key not registered")
    user = store.get_user(key["user_email"])
    if user is None:
        raise NotAuthorized("User not found")
    if not user["activated"]:
        raise Forbidden("User account has not been activated")
    _use_nonce(ctx, user["email"])
    ctx.pubkey = pubkey
    return user


def _use_nonce(ctx: RequestContext, owner: str) -> None:
    """Consume the request's ``__nonce`` for ``owner`` (a user's email, or
    ``pubkey:<hex>`` for a bucket-listed key of no user).

    :raises NotAuthorized: missing, malformed or already used within ``nonce_ttl``.
    """
    nonce = _nonce(ctx)
    ttl_ms = int(ctx.services.config.nonce_ttl * 1000)
    if not ctx.services.store.use_nonce(owner, nonce, ctx.now_ms(), ttl_ms):
        raise NotAuthorized("Invalid nonce supplied")


def _nonce(ctx: RequestContext) -> str:
    value: Any
    if ctx.method in ("POST", "PUT", "PATCH"):
        value = ctx.json().get("__nonce")
    else:
        value = ctx.query.get("__nonce")
    if value is None or value == "":
        raise NotAuthorized(
            "Missing __nonce: a signed request must carry a unique __nonce in its signed payload"
        )
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise NotAuthorized("Invalid nonce supplied")
    text = str(value)
    if len(text) > _MAX_NONCE_LENGTH:
        raise NotAuthorized("Invalid nonce supplied")
    return text


def consume_bucket_token(ctx: RequestContext, bucket_id: str) -> Row:
    """Use up the ``x-token`` of this request for ``bucket_id`` (single use).

    :raises NotAuthorized: unknown, expired or used token, or a token of another bucket.
    """
    token = ctx.header("x-token") or ""
    row = ctx.services.store.consume_token(token, ctx.now_ms()) if token else None
    if row is None:
        raise NotAuthorized("Invalid or expired token")
    if row["bucket"] != bucket_id:
        raise NotAuthorized("Not authorized")
    return row


def authorize_bucket(ctx: RequestContext, bucket_id: str, operation: str) -> Row:
    """Access to a bucket per §2.5: public permission, owner, or a bucket-listed key.

    Returns the bucket row. A bucket-listed key must sign a fresh ``__nonce`` like any
    ECDSA request (the 2016 Bridge did not check it on this path, so a captured request
    could be replayed): the nonce is remembered for the key's user, or for the key
    itself when it belongs to no user.

    :raises NotFound: 404 ``Bucket not found`` (also for another user's bucket).
    :raises NotAuthorized: no valid credentials, or a missing or reused nonce.
    """
    bucket = ctx.services.store.get_bucket(bucket_id)
    if bucket is not None and operation in bucket["public_permissions"]:
        return bucket
    try:
        user = authenticate(ctx)
    except BridgeHTTPError:
        pubkey = valid_signature_key(ctx) if bucket is not None else None
        if bucket is not None and pubkey is not None and pubkey in bucket["pubkeys"]:
            key = ctx.services.store.get_key(pubkey)
            _use_nonce(ctx, str(key["user_email"]) if key is not None else f"pubkey:{pubkey}")
            ctx.pubkey = pubkey
            return bucket
        raise
    if bucket is None or bucket["user_email"] != user["email"]:
        raise NotFound("Bucket not found")
    return bucket


#: How far a farmer's ``x-node-timestamp`` may be from the Bridge's clock (ms).
FARMER_CLOCK_SKEW_MS = 300_000


def farmer_message(method: str, full_url: bytes, timestamp: str, body: bytes) -> bytes:
    """What a farmer signs: ``METHOD ‖ fullURL ‖ timestamp ‖ rawBody`` (ECDSA-SHA256)."""
    return method.upper().encode("ascii") + full_url + timestamp.encode("ascii") + body


def authenticate_farmer(ctx: RequestContext) -> tuple[str, str]:
    """Check the 2018 farmer headers (§2.7, without proof of work); return
    ``(nodeID, pubkey)``.

    ``x-node-signature`` is a DER-hex ECDSA-SHA256 signature by ``x-node-pubkey`` over
    ``METHOD ‖ fullURL ‖ x-node-timestamp ‖ rawBody`` with ``fullURL`` =
    ``scheme://Host`` + the URL as requested; the key must hash to ``x-node-id`` and the
    timestamp be within five minutes of the Bridge's clock. Each accepted message is
    remembered until its timestamp leaves that window and refused when it comes again
    (a replay); the 2018 Bridge relied on the window alone.

    :raises NotAuthorized: missing or invalid headers, or a message already accepted.
    :raises TooManyRequests: more distinct farmer messages in the window than the
        Bridge remembers (100 000).
    """
    node_id = ctx.header("x-node-id")
    pubkey = ctx.header("x-node-pubkey")
    timestamp = ctx.header("x-node-timestamp")
    signature = ctx.header("x-node-signature")
    if not (node_id and pubkey and timestamp and signature):
        raise NotAuthorized(
            "Farmer authentication needs x-node-id, x-node-pubkey, x-node-timestamp "
            "and x-node-signature"
        )
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 16:
        raise NotAuthorized("Invalid x-node-timestamp: expected epoch milliseconds")
    if abs(ctx.now_ms() - int(timestamp)) > FARMER_CLOCK_SKEW_MS:
        raise NotAuthorized("x-node-timestamp is more than 5 minutes from the Bridge's clock")
    try:
        derived = node_id_of(pubkey)
    except ValueError:
        raise NotAuthorized("Invalid x-node-pubkey: expected a secp256k1 public key") from None
    if derived != node_id:
        raise NotAuthorized("x-node-pubkey does not match x-node-id")
    scheme = ctx.environ.get("wsgi.url_scheme", "http")
    host = ctx.header("Host") or ""
    url = f"{scheme}://{host}".encode("latin-1", errors="replace") + ctx.raw_path_bytes
    if ctx.raw_query_bytes:
        url += b"?" + ctx.raw_query_bytes
    message = farmer_message(ctx.method, url, timestamp, ctx.body())
    if not verify(pubkey, signature, message):
        raise NotAuthorized("Invalid farmer signature")
    # keyed by what was signed, not by the signature: a high-S twin of a captured
    # signature verifies too
    digest = hashlib.sha256(node_id.encode("ascii") + b"\n" + message).hexdigest()
    fresh = ctx.services.farmer_messages.first_use(
        digest, ctx.now_ms(), int(timestamp) + FARMER_CLOCK_SKEW_MS
    )
    if fresh is None:
        raise TooManyRequests(60, "Too many farmer requests in the last minutes; try again later")
    if not fresh:
        raise NotAuthorized(
            "This farmer request was already accepted: sign each request anew with a new "
            "x-node-timestamp"
        )
    return node_id, pubkey

"""HTTP errors of the local Bridge: each becomes ``{"error": message}`` with its status.

The status table follows ``bridge-protocol.md`` §1.4. Route code raises these; the
WSGI app turns them into JSON answers, and turns anything else into a logged 500.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "BridgeHTTPError",
    "Conflict",
    "Forbidden",
    "NotAuthorized",
    "NotFound",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "TooManyRequests",
    "TransferRateLimited",
]


class BridgeHTTPError(Exception):
    """An error answer: ``status`` and the ``{"error": message}`` body."""

    status = 500
    default_message = "Internal error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class BadRequest(BridgeHTTPError):
    status = 400
    default_message = "Bad request"


class NotAuthorized(BridgeHTTPError):
    status = 401
    default_message = "Not authorized"


class Forbidden(BridgeHTTPError):
    status = 403
    default_message = "Forbidden"


class NotFound(BridgeHTTPError):
    status = 404
    default_message = "Resource not found"


class Conflict(BridgeHTTPError):
    status = 409
    default_message = "Conflict"


class PayloadTooLarge(BridgeHTTPError):
    status = 413
    default_message = "Request body is too large"


class TransferRateLimited(BridgeHTTPError):
    status = 420
    default_message = "Transfer rate limit"


class TooManyRequests(BridgeHTTPError):
    """429 ``Too Many Requests`` (the 2018 limiter's answer), with ``Retry-After``."""

    status = 429
    default_message = "Too Many Requests"

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message)
        #: Seconds until the request may succeed (``Retry-After``, rounded up, ≥ 1).
        self.retry_after = max(1, int(-(-retry_after // 1)))


class ServiceUnavailable(BridgeHTTPError):
    status = 503
    default_message = "Service Unavailable"

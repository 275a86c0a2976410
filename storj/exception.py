"""Storj exception module.

Every error a user of this package can meet is one of these classes; nothing
else escapes the public API (``requests``, ``json`` and OS errors are turned
into these at the boundary where they happen, with the original chained as
``__cause__``)::

    StorjError
     ├── ConfigurationError            no credentials / unreadable config file
     ├── EncryptionKeyError            missing or invalid BIP39 mnemonic
     ├── InvalidFieldError             a record field of the wrong type or value
     │                                 (also a ValueError and a TypeError)
     ├── BridgeError (StorjBridgeApiError, BridgeError)
     │    ├── BridgeTransportError (ClientError)   no answer: DNS, refused, reset
     │    │    └── BridgeTimeoutError
     │    ├── BridgeResponseError      an answer we cannot understand (HTML, bad JSON, wrong shape)
     │    │    └── ResponseTooLargeError   an answer over Client(max_response_bytes=…)
     │    ├── BadRequestError          400
     │    ├── AuthenticationError      401 / 403
     │    ├── NotFoundError            404
     │    ├── ConflictError            409
     │    ├── RateLimitError           420 (transfer quota) / 429 (request rate)
     │    └── BridgeServerError        5xx
     ├── FarmerError (StorjFarmerError)             a storage node failed a shard transfer
     │    ├── FarmerTimeoutError
     │    ├── SuppliedTokenNotAcceptedError
     │    └── HashMismatchError         bytes received do not hash to the shard hash
     ├── DecryptionError                wrong passphrase for an id_ecdsa / keyring file
     ├── ShardingException              a file could not be split into shards (0.3.x name)
     ├── IntegrityError                 downloaded file fails its HMAC / size check
     └── TransferError                  an upload or download could not complete
          ├── TransferCancelledError
          └── OverwriteError            a replacement deleted the old entry, then failed

``StorjBridgeApiError`` (the 0.1.x name) and ``BridgeError`` (the 0.3.x name)
are the same class, so ``except StorjBridgeApiError`` keeps catching every
problem talking to the Bridge.

Messages and kept bodies come from peers, so they are bounded: the ``message`` of a
:class:`BridgeError` or :class:`FarmerError` keeps at most :data:`MAX_MESSAGE_CHARS`
characters and ``BridgeError.body`` at most :data:`MAX_BODY_CHARS`; a longer text is
cut and ends with ``… (truncated, N characters)`` (N = its original length).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BridgeError",
    "BridgeResponseError",
    "BridgeServerError",
    "BridgeTimeoutError",
    "BridgeTransportError",
    "ClientError",
    "ConfigurationError",
    "ConflictError",
    "DecryptionError",
    "EncryptionKeyError",
    "FarmerError",
    "FarmerTimeoutError",
    "HashMismatchError",
    "IntegrityError",
    "InvalidFieldError",
    "MAX_BODY_CHARS",
    "MAX_MESSAGE_CHARS",
    "NotFoundError",
    "OverwriteError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ShardingException",
    "StorjBridgeApiError",
    "StorjError",
    "StorjFarmerError",
    "SuppliedTokenNotAcceptedError",
    "TransferCancelledError",
    "TransferError",
    "bridge_error_for_status",
]

#: Longest ``message`` kept by :class:`BridgeError` and :class:`FarmerError` (characters).
MAX_MESSAGE_CHARS = 1024
#: Longest ``body`` kept by :class:`BridgeError` (characters).
MAX_BODY_CHARS = 2000


def _bounded(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters and a marker saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (truncated, {len(text)} characters)"


class StorjError(Exception):
    """Root of every exception raised by the ``storj`` package."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigurationError(StorjError):
    """The client could not be configured (no credentials, unreadable config file)."""


class EncryptionKeyError(StorjError):
    """The encryption key (a BIP39 mnemonic) is missing or invalid."""


class InvalidFieldError(StorjError, ValueError, TypeError):
    """A field of a :mod:`storj.model` record got a value of the wrong type or range.

    Raised by the record constructors, by assignment to a declared field and by
    ``from_json`` (e.g. ``Bucket(id=5)``, ``Frame(shards="x")``, ``File(size=-1)``).
    The message names the field and what it accepts. It is also a :class:`ValueError`
    and a :class:`TypeError`, the classes the records raised before. The
    :class:`~storj.http.Client` turns it into a :class:`BridgeResponseError` naming the
    route when a Bridge answer is the culprit.

    :ivar field: ``"Record.field"``, e.g. ``"Bucket.name"``.
    """

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_field_error, (type(self), self.message, self.field))


def _rebuild_field_error(
    cls: type[InvalidFieldError], message: str, field: str | None
) -> InvalidFieldError:
    return cls(message, field=field)


class _NoCode:
    """Marker: the constructor was called this package's way (no 0.3.x code)."""


_NO_CODE = _NoCode()


def _split_legacy(
    first: str | int | None, message: str | None, code: int | str | None
) -> tuple[int | str | None | _NoCode, str]:
    """``(code, message)`` of a :class:`BridgeError` / :class:`FarmerError` construction.

    0.3.x's form is ``Error(code, message)``: it applies when ``code=`` is given, when a
    message follows a first positional argument, or when the first argument is an
    ``int`` (bools are not codes). Otherwise the first argument (or ``message=``) is the
    message and the code is :data:`_NO_CODE`, for the class to choose.
    """
    is_int = isinstance(first, int) and not isinstance(first, bool)
    if code is not None:
        if first is not None and message is not None:
            raise TypeError("give the code once: Error(code, message) or Error(message, code=…)")
        text = message if message is not None else first
        return code, "" if text is None else str(text)
    if first is not None and (message is not None or is_int):
        return first, message or ""
    text = message if first is None else first
    return _NO_CODE, "" if text is None else str(text)


class BridgeError(StorjError, RuntimeError):
    """A request to the Bridge failed.

    :ivar status_code: the HTTP status the Bridge answered, or ``None`` when no
        answer arrived (see :class:`BridgeTransportError`).
    :ivar code: the 0.3.x error code. For the errors this package raises it is the
        HTTP status (``status_code``; ``None`` when no answer arrived); for a 0.3.x-style
        construction it is exactly what the caller passed.
    :ivar message: the Bridge's ``{"error": ...}`` message, or a description of
        what went wrong.
    :ivar method: HTTP method of the failed request.
    :ivar url: URL of the failed request (never contains credentials).
    :ivar body: the raw response text (at most :data:`MAX_BODY_CHARS` characters,
        then a truncation marker), if any.

    Two ways to construct it:

    * this package's: ``BridgeError(message, status_code=…, method=…, url=…, body=…)``;
    * storj 0.3.x's: ``BridgeError(code, message)`` / ``BridgeError(code='', message='')``
      — used when ``code=`` is given, when two positional arguments are given, or when
      the only one is an ``int``. ``BridgeError(0, 'error')`` has ``code == 0``,
      ``message == 'error'`` and ``str() == '[0] error'``, as in 0.3.x.

    ``str()`` is ``"[<code>] <message>"`` (plus ``" (METHOD url)"`` when known), or just
    the message when there is no code. Differs from 0.3.x: ``BridgeError(message='x')``
    alone is this package's form (``str() == 'x'``, 0.3.x gave ``'[] x'``), and one
    positional ``str`` is the message (0.3.x put it in ``code``; only its own request
    code did that). Like 0.3.x's classes it is a :class:`RuntimeError`.

    The message is bounded too (:data:`MAX_MESSAGE_CHARS`), so ``str()`` and ``repr()``
    stay short whatever a server sent.
    """

    def __init__(
        self,
        message_or_code: str | int | None = None,
        message: str | None = None,
        *,
        code: int | str | None = None,
        status_code: int | None = None,
        method: str | None = None,
        url: str | None = None,
        body: str | None = None,
    ) -> None:
        legacy_code, text = _split_legacy(message_or_code, message, code)
        super().__init__(_bounded(text, MAX_MESSAGE_CHARS))
        self.status_code = status_code
        self.code: int | str | None = (
            status_code if isinstance(legacy_code, _NoCode) else legacy_code
        )
        self.method = method
        self.url = url
        self.body = _bounded(body, MAX_BODY_CHARS) if body else body

    def __str__(self) -> str:
        where = f" ({self.method} {self.url})" if self.method and self.url else ""
        if self.code is not None:
            return f"[{self.code}] {self.message}{where}"
        return f"{self.message}{where}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r}, "
            f"method={self.method!r}, url={self.url!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_bridge_error,
            (type(self), self.message, self.status_code, self.method, self.url, self.body,
             self.code),
        )


def _rebuild_bridge_error(
    cls: type[BridgeError],
    message: str,
    status_code: int | None,
    method: str | None,
    url: str | None,
    body: str | None,
    code: int | str | None = None,
) -> BridgeError:
    error = cls(message, status_code=status_code, method=method, url=url, body=body)
    error.code = code
    return error


#: The name used by storj 0.1.x.
StorjBridgeApiError = BridgeError


class BridgeTransportError(BridgeError):
    """No usable answer from the Bridge: DNS failure, connection refused or reset.

    Check the Bridge URL (``STORJ_BRIDGE`` / ``api_url``) and that the Bridge is running.
    """


#: The name used by storj 0.3.x for "Failed to contact the bridge".
ClientError = BridgeTransportError


class BridgeTimeoutError(BridgeTransportError):
    """The Bridge did not answer within the configured timeout."""


class BridgeResponseError(BridgeError):
    """The Bridge answered something that is not the protocol's JSON.

    For example an HTML error page from a proxy, invalid JSON or text that is not
    UTF-8, JSON nested deeper than the protocol ever nests, JSON of the wrong shape, or
    a field of the wrong type (the message names the field and the route).
    """


class ResponseTooLargeError(BridgeResponseError):
    """The answer's body was larger than ``Client(max_response_bytes=…)``.

    The client stopped reading at the bound and closed the connection. The Bridge's
    largest legitimate answers are a few MB; raise the setting only if you know your
    Bridge sends more (e.g. a huge bucket listing), otherwise ``api_url`` points at
    something that is not a Bridge, or the Bridge misbehaves.
    """


class BadRequestError(BridgeError):
    """400: the Bridge rejected the request as malformed."""


class AuthenticationError(BridgeError):
    """401/403: wrong email or password, unregistered key, bad signature, replayed nonce,
    inactive account or an expired token."""


class NotFoundError(BridgeError):
    """404: the bucket, file, frame, key, user or contact does not exist (or is not yours)."""


class ConflictError(BridgeError):
    """409: the name is already used (bucket or file)."""


class RateLimitError(BridgeError):
    """420 (transfer quota reached) or 429 (too many requests): wait, then try again."""


class BridgeServerError(BridgeError):
    """5xx: the Bridge failed internally; retrying later may help."""


_STATUS_CLASSES: dict[int, type[BridgeError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    420: RateLimitError,
    429: RateLimitError,
}


def bridge_error_for_status(status_code: int) -> type[BridgeError]:
    """Return the :class:`BridgeError` subclass that represents an HTTP status."""
    if status_code in _STATUS_CLASSES:
        return _STATUS_CLASSES[status_code]
    if status_code >= 500:
        return BridgeServerError
    return BridgeError


class FarmerError(StorjError, RuntimeError):
    """A farmer (storage node) failed a shard transfer.

    :ivar code: a libstorj-style numeric code (``FarmerError.*`` constants), or for a
        0.3.x-style construction exactly what the caller passed.
    :ivar node_id: the farmer's nodeID, when known.
    :ivar status_code: the farmer's HTTP status, when it answered.

    Two ways to construct it: this package's ``FarmerError(message, code=…,
    node_id=…, status_code=…)`` (``code`` defaults to the class's ``CODE``), and storj
    0.3.x's ``FarmerError(code, message='')`` — used when the first argument is an
    ``int`` or a message follows it: ``FarmerError(0, 'error')`` has ``code == 0`` and
    ``str() == '[0] error'``. ``SuppliedTokenNotAcceptedError()`` and
    ``HashMismatchError()`` take no argument, as in 0.3.x, and carry their ``CODE``.
    ``str()`` is ``"[<code>] <message>"`` (plus ``" (farmer <nodeID>)"`` when known).
    Like 0.3.x's classes it is a :class:`RuntimeError`.

    The message is bounded (:data:`MAX_MESSAGE_CHARS`), whatever the farmer sent.
    """

    #: libstorj STORJ_FARMER_* codes, kept for parity with the reference client.
    TIMEOUT = 2001
    AUTH = 2002
    EXHAUSTED = 2003
    INTEGRITY = 2004
    REQUEST = 2000
    TOKEN_NOT_ACCEPTED = 10002
    HASH_MISMATCH = 10003

    CODE = REQUEST

    def __init__(
        self,
        message_or_code: str | int | None = None,
        message: str | None = None,
        *,
        code: int | str | None = None,
        node_id: str | None = None,
        status_code: int | None = None,
    ) -> None:
        given_code, text = _split_legacy(message_or_code, message, code)
        super().__init__(_bounded(text, MAX_MESSAGE_CHARS))
        self.code: int | str = (
            self.CODE if isinstance(given_code, _NoCode) or given_code is None else given_code
        )
        self.node_id = node_id
        self.status_code = status_code

    def __str__(self) -> str:
        who = f" (farmer {self.node_id})" if self.node_id else ""
        return f"[{self.code}] {self.message}{who}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_farmer_error,
            (type(self), self.message, self.code, self.node_id, self.status_code),
        )


def _rebuild_farmer_error(
    cls: type[FarmerError],
    message: str,
    code: int | str,
    node_id: str | None,
    status_code: int | None,
) -> FarmerError:
    return cls(message, code=code, node_id=node_id, status_code=status_code)


#: The name used by storj 0.3.x.
StorjFarmerError = FarmerError


class FarmerTimeoutError(FarmerError):
    """The farmer stalled or transferred below the low-speed limit."""

    CODE = FarmerError.TIMEOUT


class SuppliedTokenNotAcceptedError(FarmerError):
    """The farmer refused the transfer token (unknown, expired, or for another shard)."""

    CODE = FarmerError.TOKEN_NOT_ACCEPTED


class HashMismatchError(FarmerError):
    """The bytes transferred do not hash to the expected shard hash (or have the wrong size)."""

    CODE = FarmerError.HASH_MISMATCH


class ShardingException(StorjError):  # noqa: N818 - the 0.3.x name
    """Splitting a file into shards failed (the 0.3.x ``storj.model.ShardingException``).

    ``ShardingException(value)``: ``str()`` is ``str(value)`` and :attr:`value` keeps
    the object given, as in 0.3.x; unlike 0.3.x it is a :class:`StorjError`, so
    ``except StorjError`` catches it too.

    :ivar value: what the raiser passed (usually a message).
    """

    def __init__(self, value: object = "") -> None:
        super().__init__(str(value))
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.value,))


class DecryptionError(StorjError, ValueError):
    """Data encrypted with a passphrase could not be decrypted: the passphrase is wrong
    or the data was damaged or modified (:class:`storj.model.IdecdsaCipher`,
    :class:`storj.model.Keyring`, :class:`storj.file_crypto.FileCrypto`). Also a
    :class:`ValueError`, the class 0.3.x raised (``'bad decrypt'``)."""


class IntegrityError(StorjError):
    """A downloaded file failed verification (HMAC, shard hash or size); nothing was written."""


class TransferError(StorjError):
    """An upload or download could not be completed; the message says which step failed."""


class TransferCancelledError(TransferError):
    """The transfer was cancelled by the caller; partial results were cleaned up."""


class OverwriteError(TransferError):
    """Replacing a file on a Bridge that cannot replace an entry in one step failed
    between its two steps: the old entry was deleted, and the new entry could not be
    created (see ``overwrite`` in :func:`storj.transfer.upload_file`).

    The new version is complete: its shards are stored and :attr:`frame_id` holds
    them, but no entry points at it, so the name is empty. Create the entry again with
    ``client.bucket_entry_create(bucket_id, frame_id, filename, **entry_fields)``, or
    upload the file again (the name is free now).

    :ivar bucket_id: the bucket.
    :ivar frame_id: the frame that holds the new version's shards.
    :ivar filename: the stored (encrypted) file name.
    :ivar entry_fields: the other fields of the entry (``mimetype``, ``index``,
        ``hmac``, ``erasure``), as keyword arguments of
        :meth:`storj.http.Client.bucket_entry_create`; the ``index`` is needed to
        decrypt the new version.
    """

    def __init__(
        self,
        message: str = "",
        *,
        bucket_id: str | None = None,
        frame_id: str | None = None,
        filename: str | None = None,
        entry_fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.bucket_id = bucket_id
        self.frame_id = frame_id
        self.filename = filename
        self.entry_fields: dict[str, Any] = dict(entry_fields or {})

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_overwrite_error,
            (type(self), self.message, self.bucket_id, self.frame_id, self.filename,
             self.entry_fields),
        )


def _rebuild_overwrite_error(
    cls: type[OverwriteError],
    message: str,
    bucket_id: str | None,
    frame_id: str | None,
    filename: str | None,
    entry_fields: dict[str, Any],
) -> OverwriteError:
    return cls(
        message, bucket_id=bucket_id, frame_id=frame_id, filename=filename,
        entry_fields=entry_fields,
    )

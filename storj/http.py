"""Storj HTTP module: :class:`Client`, the documented REST client of the Storj Bridge.

Every public method is thin: it names one Bridge route (see its docstring), builds
the JSON body or query string, sends it through the single private request path
(:meth:`Client._request`) and wraps the JSON answer in a :mod:`storj.model` record.

The request path:

* **Exact bytes.** A JSON body is serialised once, compactly
  (``separators=(",", ":")``), and those bytes are both signed and sent. For GET
  and DELETE the query string is built here with :func:`urllib.parse.urlencode`
  and placed in the URL, so the signed payload is the query that goes on the wire.
* **Authentication** per route (``bridge-protocol.md`` §2): after
  :meth:`Client.authenticate`, ECDSA (``x-pubkey``, ``x-signature`` over
  ``METHOD\\nPATH\\nPAYLOAD`` with a fresh UUID4 ``__nonce``); otherwise HTTP Basic
  with the SHA-256 hex of the password. Public routes (``POST /users``,
  ``/activations``, ``/deactivations``, ``PATCH /users/:email``, ``/resets``,
  ``/contacts``, ``POST /reports/exchanges``, ``GET /``) carry no credentials.
* **Timeouts** on every request (``Client.timeout``): per socket operation *and* a
  total deadline per attempt (connect, headers and body); redirects are not followed.
* **Bounded answers.** A body is streamed and never read past
  ``Client.max_response_bytes`` (+1 byte); JSON nested deeper than
  :data:`MAX_JSON_DEPTH` levels is refused; known fields of the records are
  type-checked. Every such failure is a
  :class:`~storj.exception.BridgeResponseError` (never a ``RecursionError``,
  ``ValueError`` or ``TypeError``).
* **Retries** (:class:`RetryPolicy`) on connection errors, timeouts, 429 and 5xx,
  for requests that are safe to repeat, with exponential backoff; each attempt is
  signed again with a new nonce (the Bridge rejects a replayed nonce).
* **Errors** are mapped at one boundary to :mod:`storj.exception`: the Bridge's
  ``{"error": message}`` becomes the class for its status (``NotFoundError``,
  ``AuthenticationError``, …) carrying ``status_code``, ``message``, ``method``,
  ``url`` and ``body``; an answer that is not the protocol's JSON becomes
  :class:`~storj.exception.BridgeResponseError` (or the status class for an error
  status); no answer becomes :class:`~storj.exception.BridgeTransportError` /
  :class:`~storj.exception.BridgeTimeoutError`, chained to the ``requests`` error.

Logging (logger ``storj.http.Client``): method and path at DEBUG, retries at INFO.
Passwords, signatures, keys and request bodies are never logged.

A :class:`Client` may be shared between threads: it keeps no per-request state and
the underlying :class:`requests.Session` pools connections (up to 32 per host).
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import logging
import os
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import ecdsa
import requests
import requests.auth
import urllib3

from storj import keys as _keys
from storj import model, naming
from storj._legacy_client import LegacyClientMethods
from storj._retry import RetryPolicy, never_sent
from storj._sessions import DeadlineSession, Expiry, request_deadline
from storj.api import basic_auth_header, ecdsa_to_hex, hash_password, new_nonce, signing_string
from storj.exception import (
    BridgeError,
    BridgeResponseError,
    BridgeTimeoutError,
    BridgeTransportError,
    ConfigurationError,
    NotFoundError,
    ResponseTooLargeError,
    bridge_error_for_status,
)
from storj.metadata import __version__
from storj.paging import DatePager

if TYPE_CHECKING:
    from types import TracebackType
    from typing import IO

    from storj.crypto import EncryptionKey
    from storj.transfer import CancelToken, StorjFileReader, TransferConfig

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "MAX_JSON_DEPTH",
    "Client",
    "RetryPolicy",
]

#: Seconds ``Client`` waits by default (``Client(timeout=None)``), see the class.
DEFAULT_TIMEOUT = 60.0
#: The Bridge used when neither ``api_url`` nor ``STORJ_BRIDGE`` says otherwise.
DEFAULT_API_URL = "https://api.storj.io/"
ENV_BRIDGE = "STORJ_BRIDGE"
ENV_ENCRYPTION_KEY = "STORJ_ENCRYPTION_KEY"

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_OPERATIONS = ("PUSH", "PULL")
_USER_AGENT = f"storj-python/{__version__}"
_POOL_SIZE = 32

#: Default of ``Client(max_response_bytes=…)``: 16 MiB. The Bridge's largest answers
#: are a page of 2000 file entries or 5000 buckets (1–2 MB of JSON) and the Swagger
#: document of ``GET /`` (~100 KB); 16 MiB leaves ten times that as headroom, while the
#: bound keeps what a hostile server can make the client hold (the body, then its
#: parsed form, a few times larger) far below the memory of a small machine.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: Deepest JSON nesting accepted in an answer (the protocol nests about 5 levels).
MAX_JSON_DEPTH = 64
#: Most bytes read of an error answer (status outside 2xx); its message is all we use.
_ERROR_BODY_LIMIT = 64 * 1024
#: Bytes asked of the socket per read while streaming a body.
_READ_SIZE = 64 * 1024
#: Content codings this client asks for and decodes itself, with a bound.
_ACCEPT_ENCODING = "gzip, deflate"
#: urllib3's response class (``BaseHTTPResponse`` since 2.0, ``HTTPResponse`` before).
_URLLIB3_RESPONSE: type[Any] = getattr(
    urllib3.response, "BaseHTTPResponse", urllib3.response.HTTPResponse
)
#: What a failed read of an answer can raise, below ``requests``.
_READ_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)

M = TypeVar("M", bound="model.Model")


@dataclass(frozen=True)
class _Outgoing:
    """One fully built attempt: exactly what goes on the wire."""

    method: str
    path: str  # the route path, as signed (without the api_url prefix and the query)
    url: str
    body: bytes | None
    headers: dict[str, str]


class _HeadersOnly(requests.auth.AuthBase):
    """Credentials are already in the headers: stop ``requests`` adding ``~/.netrc`` ones."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


_HEADERS_ONLY = _HeadersOnly()


def _quote(segment: object) -> str:
    """Percent-encode one path segment (``@`` stays readable, as in ``/users/a@b.c``)."""
    return urllib.parse.quote(str(segment), safe="@")


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


#: True when the request certainly never reached the Bridge (safe to repeat for any method).
_connect_phase_failure = never_sent


@dataclass(frozen=True)
class _Answer:
    """One received answer: status line, headers and the (bounded) body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    content: bytes | bytearray
    complete: bool = True  # False: the body was longer than what was read

    @property
    def text(self) -> str | None:
        """The body as text for an exception (its start only; bad UTF-8 replaced)."""
        if not self.content:
            return None
        return bytes(self.content[: 4 * 2000]).decode("utf-8", "replace")


def _describe_body(answer: _Answer) -> str:
    content_type = answer.headers.get("Content-Type", "").split(";")[0].strip()
    if not answer.complete:
        return f"a body of more than {len(answer.content)} bytes"
    if not answer.content.strip():
        return "an empty body"
    return f"a body that is not JSON ({content_type or 'no content type'})"


class _DeadlinePassed(requests.exceptions.ReadTimeout):
    """The total deadline of an attempt passed (seen between two reads)."""


class _TooLarge(Exception):  # noqa: N818 - internal signal: the body passed its bound
    pass


class _BodyDecoder:
    """Collects a body of at most ``limit`` bytes, decoding gzip/deflate with that bound.

    A compressed body is inflated with ``max_length`` so a small "zip bomb" cannot
    expand past ``limit + 1`` bytes either. Raises :class:`_TooLarge` past the bound
    and :class:`ValueError` for a coding it cannot decode.
    """

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        coding = encoding.strip().lower()
        self._deflate = coding == "deflate"
        if coding in ("", "identity"):
            self._inflater: Any = None
        elif coding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._deflate:
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise ValueError(f"a body in an unsupported content coding ({encoding[:40]!r})")

    def _add(self, piece: bytes) -> None:
        self.data += piece
        if len(self.data) > self.limit:
            raise _TooLarge()

    def feed(self, chunk: bytes) -> None:
        if self._inflater is None:
            self._add(chunk)
            return
        try:
            try:
                piece = self._inflater.decompress(chunk, self.limit + 1 - len(self.data))
            except zlib.error:
                if not self._deflate:
                    raise
                # "deflate" sent raw, without the zlib header (as some servers do)
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                piece = self._inflater.decompress(chunk, self.limit + 1 - len(self.data))
            self._deflate = False  # the first bytes decoded: the format is settled
            self._add(piece)
            while self._inflater.unconsumed_tail:
                tail = self._inflater.unconsumed_tail
                self._add(self._inflater.decompress(tail, self.limit + 1 - len(self.data)))
        except zlib.error:
            raise ValueError("a compressed body that does not decompress") from None

    def finish(self) -> bytearray:
        if self._inflater is not None:
            try:
                self._add(self._inflater.flush())
            except zlib.error:
                raise ValueError("a compressed body that does not decompress") from None
        return self.data


def _read_bounded(
    response: requests.Response, limit: int, expiry: Expiry
) -> tuple[bytearray, bool]:
    """Read the body of a streamed response: at most ``limit`` (+1) bytes, decoded.

    Returns ``(body, complete)``; ``complete`` is False when the body went past
    ``limit`` (then the first ``limit + 1`` bytes, or more decoded ones, are kept).
    Each read is one socket read (``read1``) where urllib3 has it, so the deadline is
    looked at between reads even when a server trickles. Raises :class:`ValueError`
    for an undecodable coding, and whatever the transport raises.
    """
    raw: Any = response.raw
    if raw is None or not hasattr(raw, "read"):  # a session that read the body already
        content = response.content or b""
        return bytearray(content[: limit + 1]), len(content) <= limit
    read: Callable[[int], bytes]
    if isinstance(raw, _URLLIB3_RESPONSE):
        decoder = _BodyDecoder(response.headers.get("Content-Encoding", ""), limit)
        read1 = getattr(raw, "read1", None)  # urllib3 >= 2.3
        if read1 is not None:
            read = functools.partial(read1, decode_content=False)
        else:
            read = functools.partial(raw.read, decode_content=False)
    else:  # a stream of a custom adapter: taken as it comes
        decoder = _BodyDecoder("", limit)
        read = raw.read
    try:
        while True:
            if expiry.expired or time.monotonic() >= expiry.at:
                raise _DeadlinePassed("the deadline passed")
            chunk = read(_READ_SIZE)
            if not chunk:
                return decoder.finish(), True
            decoder.feed(chunk)
    except _TooLarge:
        return decoder.data, False


class _Closer:
    """Closes a response, also one whose session left no ``raw`` stream behind."""

    def __init__(self, response: requests.Response) -> None:
        self.response = response

    def close(self) -> None:
        with contextlib.suppress(AttributeError):
            self.response.close()


def _json_depth_exceeds(data: Any, limit: int) -> bool:
    """Whether ``data`` nests lists/objects more than ``limit`` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Iterable[Any] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _json_excerpt(data: Any) -> str | None:
    """The start of ``data`` as JSON text, for an exception's ``body``."""
    if data is None:
        return None
    try:
        return json.dumps(data)[:2000]
    except (TypeError, ValueError, RecursionError):
        return repr(data)[:2000]


def _route_answered(exc: NotFoundError) -> bool:
    """Whether a 404 came from the route itself (the Bridge's JSON ``{"error": ...}``),
    not from a Bridge without the route (the 2016 Bridge answers ``Cannot GET …``)."""
    try:
        data = json.loads(exc.body or "")
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and "error" in data


def _deadline_seconds(timeout: float | tuple[float, float]) -> float:
    """The total time one attempt may take: the timeout, or connect + read of a tuple."""
    return float(sum(timeout)) if isinstance(timeout, tuple) else float(timeout)


class Client(LegacyClientMethods):
    """Storj Bridge REST client.

    :param email: account email address (``None`` for a client that only calls public
        routes such as :meth:`user_create` or :meth:`contact_list`).
    :param password: account password in plain text; only its SHA-256 hex is kept
        (see :attr:`password`). With ``do_hashing=False``: the SHA-256 hex itself.
    :param api_url: Bridge URL; default ``$STORJ_BRIDGE``, else ``https://api.storj.io/``.
        A path prefix (``https://host/bridge/``) is kept in front of every route; ECDSA
        signatures cover the route path without it (what a Bridge mounted under the
        prefix sees as its request path).
    :param do_hashing: ``True`` (default): ``password`` is the plain password and is
        hashed. ``False`` (0.3.14's option for callers that keep only the hash):
        ``password`` already is the SHA-256 hex and is used as it is (lowercased);
        anything but 64 hex characters raises :class:`ValueError`. Kept as
        :attr:`do_hashing`; changing it affects later assignments to :attr:`password`.
    :param timeout: seconds to wait for the Bridge on each request (``None``: the default,
        :data:`DEFAULT_TIMEOUT` = 60 s): for connecting, for each read, **and** for the
        whole attempt — connect, request, headers and body together — so a server that
        trickles its headers or its body cannot hold a call longer
        (:class:`~storj.exception.BridgeTimeoutError`). A ``(connect, read)`` tuple is
        accepted too: then connecting waits ``connect`` s, each read ``read`` s
        and the whole attempt ``connect + read`` s. The total deadline is enforced by
        shutting down the socket, which needs the client's own session; with a
        ``session`` you pass in, it is checked between reads of the body only. Retries
        repeat an attempt that timed out only when the request is safe to repeat, each
        with a fresh deadline, so one call lasts at most ``(1 + retries) × deadline``
        plus the pauses between attempts (each at most ``RetryPolicy.backoff_max``, or
        ``retry_after_max`` when the Bridge sends ``Retry-After``): with the defaults,
        4 × 60 s + 30 s pauses at worst.
    :param retries: retries after the first attempt (int) or a :class:`RetryPolicy`.
    :param max_response_bytes: the largest answer body read from the Bridge
        (:data:`DEFAULT_MAX_RESPONSE_BYTES`, 16 MiB, by default; after decompression).
        The body is streamed and reading stops at this bound + 1 byte, so memory does
        not grow with what a server sends; a longer answer raises
        :class:`~storj.exception.ResponseTooLargeError`. Error answers (4xx/5xx) are
        read up to 64 KiB only (the message is all that is used).
    :param encryption_key: BIP39 mnemonic used by the transfer engine to encrypt files;
        default ``$STORJ_ENCRYPTION_KEY``. Never shown in ``repr``.
    :param session: a :class:`requests.Session` to use (and not close); by default the
        client creates one with a pooled :class:`~requests.adapters.HTTPAdapter` and
        closes it in :meth:`close` / on leaving a ``with`` block.
    :param storj_bridge: 0.3.14's name of ``api_url``; giving both with different
        values raises :class:`ValueError`.

    Positional arguments follow 0.3.14, ``Client(email, password, storj_bridge,
    do_hashing, timeout)``, which is also ``Client(email, password, api_url)``; the
    other options are keyword-only.

    Differences from storj 0.1.x–0.3.x are listed in each method's docstring; in short:
    every route and body is what the Bridge expects, ECDSA authentication works,
    filters are really sent, list methods fetch eagerly so errors raise at call time,
    and errors carry the HTTP status.
    """

    #: Logger of this class (``storj.http.Client``).
    logger = logging.getLogger(__name__ + ".Client")
    #: The Bridge's page cap of ``GET /buckets`` (2018: 5000). Only used to tell that a
    #: page whose buckets all share one millisecond may hide more (see
    #: :class:`storj.paging.DatePager`); set it on a client of a Bridge with another cap.
    bucket_page_limit: int = 5000
    #: The Bridge's page cap of ``GET /buckets/:id/files`` (2018: 2000); see above.
    file_page_limit: int = 2000

    def __init__(
        self,
        email: str | None,
        password: str | None,
        api_url: str | None = None,
        do_hashing: bool = True,
        timeout: float | tuple[float, float] | None = None,
        *,
        retries: int | RetryPolicy = 3,
        encryption_key: str | None = None,
        session: requests.Session | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        storj_bridge: str | None = None,
    ) -> None:
        if storj_bridge is not None:
            if api_url is not None and api_url != storj_bridge:
                raise ValueError(
                    f"api_url={api_url!r} and storj_bridge={storj_bridge!r} disagree; "
                    "give one of them (storj_bridge is 0.3.14's name of api_url)"
                )
            api_url = storj_bridge
        if not isinstance(do_hashing, bool):
            raise TypeError(f"do_hashing must be True or False, not {do_hashing!r}")
        #: 0.3.14: whether assigning :attr:`password` hashes the value (see the class).
        self.do_hashing: bool = do_hashing
        url = api_url or os.environ.get(ENV_BRIDGE) or DEFAULT_API_URL
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"api_url must be an http:// or https:// URL, not {url!r}")
        self.api_url: str = url if url.endswith("/") else url + "/"
        self.email: str | None = email
        self.password = password  # the setter hashes it
        self.timeout = self._check_timeout(DEFAULT_TIMEOUT if timeout is None else timeout)
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise ValueError(
                f"max_response_bytes must be a positive int, not {max_response_bytes!r}"
            )
        #: The largest answer body read from the Bridge, in bytes (see the class docstring).
        self.max_response_bytes: int = max_response_bytes
        self.retry_policy: RetryPolicy = RetryPolicy.coerce(retries)
        self.encryption_key: str | None = (
            encryption_key if encryption_key is not None else os.environ.get(ENV_ENCRYPTION_KEY)
        ) or None
        self._owns_session = session is None
        self.session: requests.Session = session if session is not None else self._new_session()
        self._signing_key: Any = None  # cryptography private key, set by authenticate()
        self._private_key: ecdsa.SigningKey | None = None
        self._public_key: ecdsa.VerifyingKey | None = None
        self._public_key_hex: str | None = None
        self._sleep: Callable[[float], None] = time.sleep

    # ------------------------------------------------------------------ setup

    @staticmethod
    def _check_timeout(timeout: Any) -> float | tuple[float, float]:
        values = timeout if isinstance(timeout, tuple) else (timeout,)
        if not values or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0 for v in values
        ):
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        return timeout

    @staticmethod
    def _new_session() -> requests.Session:
        return DeadlineSession(pool_maxsize=_POOL_SIZE)

    @property
    def password(self) -> str | None:
        """(str) – the lowercase SHA-256 hex of the password, as sent to the Bridge.

        Setting it stores ``storj.api.hash_password(value)`` (UTF-8, so non-ASCII
        passwords work); the plain text is never kept. ``None`` clears it. With
        :attr:`do_hashing` false the value must already be the SHA-256 hex (64 hex
        characters, else :class:`ValueError`) and is stored lowercased.
        """
        return self._password

    @password.setter
    def password(self, value: str | None) -> None:
        if value is None:
            self._password: str | None = None
            return
        if not isinstance(value, str):
            raise TypeError(f"password must be a str, not {type(value).__name__}")
        if getattr(self, "do_hashing", True):
            self._password = hash_password(value)
            return
        if len(value) != 64 or not all(c in "0123456789abcdefABCDEF" for c in value):
            raise ValueError(
                "with do_hashing=False the password must be its SHA-256 hex digest "
                "(64 hexadecimal characters); pass the plain password with do_hashing=True"
            )
        self._password = value.lower()

    @property
    def private_key(self) -> ecdsa.SigningKey | None:
        """The ECDSA private key (``ecdsa.SigningKey``) set by :meth:`authenticate`, else None.

        Assigning a key is the same as calling :meth:`authenticate` with it; assigning
        ``None`` returns to Basic authentication.
        """
        return self._private_key

    @private_key.setter
    def private_key(self, value: Any) -> None:
        if value is None:
            self._signing_key = self._private_key = self._public_key = None
            self._public_key_hex = None
        else:
            self.authenticate(value)

    @property
    def public_key(self) -> ecdsa.VerifyingKey | None:
        """The ``ecdsa.VerifyingKey`` of :attr:`private_key` (None before :meth:`authenticate`).

        Assignable (0.3.x set it by hand): any form ``key_register`` accepts (key
        object, SEC1 bytes or hex). With a :attr:`private_key` set, the value must be
        its public key (else :class:`ValueError`; ``None`` too — assign
        ``private_key = None`` to drop both). Without one, the key is kept for
        :meth:`key_register` / :meth:`key_dump` and requests stay on Basic
        authentication (signing needs the private key); ``None`` clears it.
        """
        return self._public_key

    @public_key.setter
    def public_key(self, value: Any) -> None:
        if value is None:
            if self._signing_key is not None:
                raise ValueError(
                    "the client signs with a private key; assign private_key = None to "
                    "remove the key pair"
                )
            self._public_key = self._public_key_hex = None
            return
        hex_key = _keys.public_key_hex(_keys.load_public_key(value))
        if self._signing_key is not None:
            if hex_key != self._public_key_hex:
                raise ValueError(
                    "this public key does not belong to the client's private key; "
                    "assign private_key (or call authenticate()) to change keys"
                )
            return
        self._public_key = ecdsa.VerifyingKey.from_string(
            bytes.fromhex(hex_key), curve=ecdsa.SECP256k1
        )
        self._public_key_hex = hex_key

    @property
    def public_key_hex(self) -> str | None:
        """Compressed SEC1 hex (66 characters) of :attr:`public_key`: the exact string sent
        in ``x-pubkey`` and registered by ``key_register(client.public_key)``; None before
        :meth:`authenticate` (or an assignment to :attr:`public_key`)."""
        return self._public_key_hex

    def authenticate(self, ecdsa_private_key: Any = None) -> None:
        """Switch to ECDSA-signed requests (``bridge-protocol.md`` §2.2–2.3).

        :param ecdsa_private_key: an ``ecdsa.SigningKey`` (secp256k1), a ``cryptography``
            EC private key, 32 raw bytes or 64 hex characters. ``None`` generates a new
            key pair; register its public half with ``key_register(client.public_key)``
            (over Basic auth, i.e. before calling this) or the Bridge answers 401
            ``Public key not registered``.
        :raises ValueError: the value is not a secp256k1 private key.

        Sets :attr:`private_key`, :attr:`public_key` and :attr:`public_key_hex`. Unlike
        0.1.x, which silently ignored anything but an ``ecdsa.SigningKey`` and then
        failed to encode the key, every accepted form works and anything else raises.
        """
        if ecdsa_private_key is None:
            ecdsa_private_key, _ = _keys.generate_new_key_pair()
        signing_key = _keys.load_private_key(ecdsa_private_key)
        secret = signing_key.private_numbers().private_value.to_bytes(32, "big")
        private = ecdsa.SigningKey.from_string(secret, curve=ecdsa.SECP256k1)
        self._signing_key = signing_key
        self._private_key = private
        self._public_key = private.get_verifying_key()
        self._public_key_hex = _keys.public_key_hex(signing_key)

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        auth = "ecdsa" if self._signing_key is not None else ("basic" if self._password else "none")
        return (
            f"{type(self).__name__}(email={self.email!r}, api_url={self.api_url!r}, auth={auth!r})"
        )

    # -------------------------------------------------------- request pipeline

    def _build(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> _Outgoing:
        """Build one attempt: serialise once, add the nonce and the credentials."""
        method = method.upper()
        has_body = method in _BODY_METHODS
        if params and has_body:
            raise ValueError("query parameters are only used with GET and DELETE")
        if json_body is not None and not has_body:
            raise ValueError(f"{method} requests carry no JSON body")
        query_items = [(k, _query_value(v)) for k, v in (params or {}).items() if v is not None]
        body_obj: dict[str, Any] | None = dict(json_body or {}) if has_body else None

        ecdsa_auth = auth and self._signing_key is not None
        if auth and not ecdsa_auth and not (self.email and self._password):
            raise ConfigurationError(
                f"{method} {path} needs credentials: create the Client with email and "
                "password (or set STORJ_BRIDGE_USER / STORJ_BRIDGE_PASS), or call authenticate()"
            )
        if ecdsa_auth:
            nonce = new_nonce()
            if body_obj is not None:
                body_obj["__nonce"] = nonce
            else:
                query_items.append(("__nonce", nonce))

        query = urllib.parse.urlencode(query_items)
        body = (
            json.dumps(body_obj, separators=(",", ":")).encode("utf-8")
            if body_obj is not None
            else None
        )
        out_headers = {
            "Accept": "application/json",
            "Accept-Encoding": _ACCEPT_ENCODING,
            "User-Agent": _USER_AGENT,
        }
        out_headers.update(headers or {})
        if body is not None:
            out_headers["Content-Type"] = "application/json"
        if ecdsa_auth:
            payload = body if body is not None else query.encode("ascii")
            message = signing_string(method, path, payload)
            out_headers["x-signature"] = _keys.sign(self._signing_key, message)
            out_headers["x-pubkey"] = self._public_key_hex or ""
        elif auth:
            out_headers["Authorization"] = basic_auth_header(self.email or "", self._password or "")
        url = self.api_url.rstrip("/") + path + (f"?{query}" if query else "")
        return _Outgoing(method, path, url, body, out_headers)

    def _send(self, out: _Outgoing) -> requests.Response:
        return self.session.request(
            out.method,
            out.url,
            data=out.body,
            headers=out.headers,
            timeout=self.timeout,
            allow_redirects=False,
            auth=_HEADERS_ONLY,
            stream=True,
        )

    def _attempt(
        self, out: _Outgoing, retry_status: Callable[[int], bool]
    ) -> tuple[_Answer | None, requests.RequestException | None, bool]:
        """Send one attempt within the total deadline and read its answer (bounded).

        Returns ``(answer, None, False)``, or ``(None, error, timed_out)`` when no
        complete answer arrived. An answer whose status ``retry_status`` accepts is
        returned without its body. Raises :class:`ResponseTooLargeError` for a body
        over :attr:`max_response_bytes` and :class:`BridgeResponseError` for one that
        cannot be decoded.
        """
        with request_deadline(_deadline_seconds(self.timeout)) as expiry:
            try:
                response = self._send(out)
            except requests.RequestException as exc:
                return None, exc, expiry.expired or isinstance(exc, requests.Timeout)
            with contextlib.closing(_Closer(response)):
                if expiry.expired:  # cut off inside the headers: http.client may still parse
                    return None, _DeadlinePassed("the deadline passed"), True
                status = response.status_code
                reason = response.reason or ""
                if retry_status(status):
                    return _Answer(status, reason, response.headers, b""), None, False
                ok = 200 <= status < 300
                limit = (
                    self.max_response_bytes
                    if ok
                    else min(self.max_response_bytes, _ERROR_BODY_LIMIT)
                )
                try:
                    content, complete = _read_bounded(response, limit, expiry)
                except ValueError as exc:
                    raise BridgeResponseError(
                        f"the Bridge answered HTTP {status} with {exc}; is {self.api_url} a "
                        "Storj Bridge?",
                        status_code=status,
                        method=out.method,
                        url=out.url,
                    ) from None
                except _READ_ERRORS as exc:
                    timed_out = expiry.expired or isinstance(
                        exc, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
                    )
                    error = (
                        exc
                        if isinstance(exc, requests.RequestException)
                        else requests.exceptions.ConnectionError(exc)
                    )
                    if error is not exc:
                        error.__cause__ = exc
                    return None, error, timed_out
            answer = _Answer(status, reason, response.headers, content, complete)
        if ok and not complete:
            raise ResponseTooLargeError(
                f"the Bridge's answer is larger than max_response_bytes="
                f"{self.max_response_bytes} bytes; reading stopped there. The Bridge's "
                "answers are a few MB at most: check that api_url points at a Storj Bridge, "
                "or raise Client(max_response_bytes=...) if yours really sends more",
                status_code=status,
                method=out.method,
                url=out.url,
            )
        return answer, None, False

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        auth: bool = True,
        idempotent: bool | None = None,
        expect: type | tuple[type, ...] | None = None,
        x_token: Callable[[], str] | None = None,
    ) -> Any:
        """Send one logical request (with retries) and return the decoded JSON (or None).

        :param auth: False for the Bridge's public routes (no credentials are sent).
        :param idempotent: whether the request may be repeated after it might have
            reached the Bridge; default: GET, PUT and DELETE are.
        :param expect: the JSON type the answer must have (``dict`` or ``list``); None
            accepts anything, including an empty body.
        :param x_token: called before each attempt for a fresh bucket token, sent as
            ``x-token`` (tokens are single use).
        """
        policy = self.retry_policy
        safe = policy.is_safe(method, idempotent)
        while True:
            headers = {"x-token": x_token()} if x_token is not None else None
            out = self._build(
                method, path, params=params, json_body=json, auth=auth, headers=headers
            )
            self.logger.debug("%s %s", out.method, out.path)
            answer, failure, timed_out = self._attempt(
                out, functools.partial(policy.should_retry_status, safe=safe)
            )
            if failure is not None:
                transport_error = self._transport_error(failure, out, timed_out=timed_out)
                retry = (safe or _connect_phase_failure(failure)) and not isinstance(
                    failure, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)
                )
                if not (retry and policy.can_retry()):
                    raise transport_error from failure
                policy = self._pause(policy, out, type(failure).__name__, None)
                continue
            assert answer is not None
            if policy.should_retry_status(answer.status, safe=safe):
                retry_after = answer.headers.get("Retry-After")
                policy = self._pause(policy, out, f"HTTP {answer.status}", retry_after)
                continue
            return self._decode(answer, out, expect)

    def _pause(
        self, policy: RetryPolicy, out: _Outgoing, reason: str, retry_after: str | None
    ) -> RetryPolicy:
        delay = policy.delay(retry_after)
        self.logger.info(
            "retrying %s %s after %s (retry %d of %d) in %.2f s",
            out.method,
            out.path,
            reason,
            policy.retries_made + 1,
            policy.total,
            delay,
        )
        if delay > 0:
            self._sleep(delay)
        return policy.increment(reason)

    def _transport_error(
        self, exc: requests.RequestException, out: _Outgoing, *, timed_out: bool = False
    ) -> BridgeError:
        where: dict[str, Any] = {"method": out.method, "url": out.url}
        if isinstance(exc, _DeadlinePassed) or (
            timed_out and not isinstance(exc, requests.Timeout)
        ):
            return BridgeTimeoutError(
                f"the Bridge at {self.api_url} did not complete its answer within the "
                f"{_deadline_seconds(self.timeout):g} s deadline of a request "
                f"(Client(timeout={self.timeout})); try again later or raise the timeout",
                **where,
            )
        if timed_out or isinstance(exc, requests.Timeout):
            return BridgeTimeoutError(
                f"the Bridge at {self.api_url} did not answer within {self.timeout} s; "
                "try again later or raise Client(timeout=...)",
                **where,
            )
        return BridgeTransportError(
            f"could not reach the Bridge at {self.api_url} ({type(exc).__name__}); check the "
            f"Bridge URL (STORJ_BRIDGE / api_url) and the network",
            **where,
        )

    def _decode(
        self, answer: _Answer, out: _Outgoing, expect: type | tuple[type, ...] | None
    ) -> Any:
        """Map one answer to JSON data or to the right exception (the error boundary)."""
        status = answer.status
        content = answer.content
        context: dict[str, Any] = {"status_code": status, "method": out.method, "url": out.url}
        text = answer.text

        if status >= 400 or status < 200:
            message = None
            data = None
            if answer.complete and content.strip():
                try:
                    data = json.loads(content)
                except (ValueError, RecursionError):
                    data = None
            if isinstance(data, dict) and isinstance(data.get("error"), str):
                message = data["error"]
            if message is None:
                message = (
                    f"the Bridge answered HTTP {status} {answer.reason}".rstrip()
                    + f" with {_describe_body(answer)}"
                )
            raise bridge_error_for_status(status)(message, body=text, **context)
        if 300 <= status < 400:
            location = answer.headers.get("Location", "?")[:200]
            raise BridgeResponseError(
                f"the Bridge answered HTTP {status} redirecting to {location}; "
                f"use that address as the Bridge URL instead of {self.api_url}",
                body=text,
                **context,
            )
        if status == 204 or not content.strip():
            if expect is not None:
                raise BridgeResponseError(
                    f"the Bridge answered HTTP {status} with an empty body where JSON was expected",
                    body=text,
                    **context,
                )
            return None
        try:
            data = json.loads(content)
        except RecursionError:
            data = None
            deep = True
        except ValueError as exc:  # also bad UTF-8 (UnicodeDecodeError)
            raise BridgeResponseError(
                f"the Bridge answered HTTP {status} with {_describe_body(answer)}; is "
                f"{self.api_url} a Storj Bridge?",
                body=text,
                **context,
            ) from exc
        else:
            deep = _json_depth_exceeds(data, MAX_JSON_DEPTH)
        if deep:
            raise BridgeResponseError(
                f"the Bridge answered HTTP {status} with JSON nested more than "
                f"{MAX_JSON_DEPTH} levels deep, which the protocol never does; is "
                f"{self.api_url} a Storj Bridge?",
                body=text,
                **context,
            )
        if isinstance(data, dict) and set(data) == {"error"}:
            raise bridge_error_for_status(status)(str(data["error"]), body=text, **context)
        if expect is not None and not isinstance(data, expect):
            names = (
                " or ".join(t.__name__ for t in expect)
                if isinstance(expect, tuple)
                else expect.__name__
            )
            raise BridgeResponseError(
                f"the Bridge answered a JSON {type(data).__name__} where a {names} was expected",
                body=text,
                **context,
            )
        return data

    def _shape_error(self, what: str, method: str, path: str, data: Any) -> NoReturn:
        raise BridgeResponseError(
            f"unexpected answer to {method} {path}: {what}",
            method=method,
            url=self.api_url.rstrip("/") + path,
            body=_json_excerpt(data),
        )

    def _wrap(self, cls: type[M], data: Any, method: str, path: str) -> M:
        """Build a model record from one JSON object (shape errors → BridgeResponseError)."""
        if not isinstance(data, Mapping):
            self._shape_error(
                f"expected a JSON object, got {type(data).__name__}", method, path, data
            )
        try:
            return cls.from_json(data)
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
            self._shape_error(f"cannot read it as {cls.__name__}: {exc}", method, path, data)

    def _wrap_list(self, cls: type[M], data: Any, method: str, path: str) -> list[M]:
        if not isinstance(data, list):
            self._shape_error(
                f"expected a JSON array, got {type(data).__name__}", method, path, data
            )
        return [self._wrap(cls, item, method, path) for item in data]

    def _key_hex(self, public_key: Any) -> str:
        """Hex of a public key given as an ecdsa/cryptography key object, bytes or a hex string."""
        if isinstance(public_key, str):
            _keys.load_public_key(public_key)  # raises ValueError for anything else
            return public_key.lower()
        if isinstance(public_key, (bytes, bytearray)):
            return _keys.public_key_hex(_keys.load_public_key(bytes(public_key)))
        try:
            return ecdsa_to_hex(public_key)
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"not a public key: {type(public_key).__name__}") from exc

    # ---------------------------------------------------------------- buckets

    def bucket_create(
        self, name: str, storage: int | None = None, transfer: int | None = None
    ) -> model.Bucket:
        """Create storage bucket.

        See API buckets: ``POST /buckets`` with ``{"name", "storage"?, "transfer"?}`` →
        201 Bucket. The Bridge accepts and ignores ``storage`` and ``transfer`` (limits are
        vestigial and always 0); they are sent when not None (0.1.x dropped a 0).

        With an :attr:`encryption_key` the name is sent encrypted as libstorj does
        (:func:`storj.naming.stored_bucket_name`), so the CLI and libstorj find the
        bucket by the same plain name; without one it is sent as given. The returned
        bucket's ``name`` is the plain name (``stored_name``: what the Bridge keeps).
        Differs from 0.3.x (always plaintext), because libstorj and the CLI encrypt.

        :param name: name (the bucket id is derived from your email and the stored name).
        :param storage: storage limit (in GB).
        :param transfer: transfer limit (in GB).
        :returns: bucket.
        :rtype: (:class:`storj.model.Bucket`)
        :raises ConflictError: (2018 Bridge) the name is already used; the 2016 Bridge
            answers 500 ``Name already used by another bucket`` (``BridgeServerError``).
        """
        stored = naming.stored_bucket_name(self._names_key(), name) if name else name
        body: dict[str, Any] = {"name": stored}
        if storage is not None:
            body["storage"] = storage
        if transfer is not None:
            body["transfer"] = transfer
        data = self._request("POST", "/buckets", json=body, expect=dict)
        return self._named_bucket(self._wrap(model.Bucket, data, "POST", "/buckets"))

    def bucket_delete(self, bucket_id: str) -> None:
        """Destroy a storage bucket.

        See API buckets: ``DELETE /buckets/{id}`` → 204.

        :param bucket_id: unique identifier.
        :raises NotFoundError: no such bucket.
        """
        self._request("DELETE", f"/buckets/{_quote(bucket_id)}")

    def bucket_files(self, bucket_id: str) -> list[model.File]:
        """List all the file metadata stored in the bucket.

        See API buckets: ``GET /buckets/{id}/files`` → 200
        ``[{bucket, mimetype, filename, frame, size, id, …}]``, asked page after page
        (``?startDate=``) until every entry has arrived: the 2018 Bridge returns at
        most 2000 per request. Names are read as :meth:`iter_bucket_files` says.
        Differs from 0.3.x (plain dicts of the first page only): the records are
        :class:`storj.model.File`, which keep dict access (``f["filename"]``,
        ``f["id"]``, ``f.get(...)``, ``f.keys()``; ``f.to_json()`` is a plain ``dict``,
        e.g. for :func:`json.dumps`), and a listing is never cut short. For bounded memory iterate
        :meth:`iter_bucket_files`; for one page, :meth:`bucket_files_page`.

        :param bucket_id: unique identifier.
        :returns: every entry of the bucket.
        :rtype: (list[:class:`storj.model.File`])
        :raises NotFoundError: no such bucket.
        """
        return list(self.iter_bucket_files(bucket_id))

    def iter_bucket_files(self, bucket_id: str) -> Iterator[model.File]:
        """Every entry of the bucket, lazily, one page in memory at a time.

        Sends ``GET /buckets/{id}/files`` (the first page when called, so errors raise
        here), then ``?startDate=`` pages as the iteration needs them
        (:class:`storj.paging.DatePager`: entries sharing a millisecond across a page
        boundary are neither dropped nor repeated; a 2016 Bridge's single answer is the
        whole list). With an :attr:`encryption_key` each ``filename`` is the decrypted
        name; see :meth:`bucket_list` for ``stored_name``, ``name_state`` and names
        that do not decrypt.

        :raises NotFoundError: no such bucket.
        :raises BridgeResponseError: more entries than a page share one millisecond.
        """
        pager: DatePager[model.File] = DatePager(
            self.file_page_limit, f"files of bucket {bucket_id}"
        )
        first = pager.accept(self.bucket_files_page(bucket_id))
        return self._pages(first, pager, lambda start: self.bucket_files_page(bucket_id, start))

    def bucket_files_page(
        self, bucket_id: str, start_date: str | None = None
    ) -> list[model.File]:
        """One page of the bucket's entries, as the Bridge sends it.

        Sends ``GET /buckets/{id}/files`` with ``?startDate=`` when given (the 2018
        Bridge returns at most 2000 entries created strictly after it, oldest first; the
        2016 Bridge ignores it and returns all). Names are read as in
        :meth:`iter_bucket_files`.

        :param start_date: RFC 3339 date (``"2018-01-02T03:04:05.678Z"``) or ``None``.
        :raises NotFoundError: no such bucket.
        """
        path = f"/buckets/{_quote(bucket_id)}/files"
        params = {"startDate": start_date} if start_date is not None else None
        data = self._request("GET", path, params=params, expect=list)
        entries = self._wrap_list(model.File, data, "GET", path)
        return [self._named_file(bucket_id, entry) for entry in entries]

    def bucket_get(self, bucket_id: str) -> model.Bucket:
        """Return the bucket object.

        See API buckets: ``GET /buckets/{id}`` → 200 Bucket. The name is read as in
        :meth:`bucket_list`.

        :param bucket_id: bucket unique identifier.
        :returns: bucket.
        :rtype: (:class:`storj.model.Bucket`)
        :raises NotFoundError: no such bucket (0.1.x documented ``None`` but raised too).
        """
        path = f"/buckets/{_quote(bucket_id)}"
        data = self._request("GET", path, expect=dict)
        return self._named_bucket(self._wrap(model.Bucket, data, "GET", path))

    def bucket_id_by_name(self, name: str) -> str:
        """Id of your bucket called ``name`` (its plain name).

        With an :attr:`encryption_key` sends ``GET /bucket-ids/{encrypted name}``
        (2018 Bridge; URL-escaped); without one, or when that answers 404, asks the
        route with the name as given (buckets of storj 0.3.x and other keyless tools).
        Only when the route itself is missing (a 2016 Bridge answers ``Cannot GET``)
        are the buckets listed (:meth:`bucket_list`) and their names compared.

        :raises NotFoundError: no bucket with that name.
        :raises ValueError: ``name`` is empty.
        """
        key = self._names_key()
        for stored in dict.fromkeys((naming.stored_bucket_name(key, name), name)):
            try:
                return self.bucket_id_by_stored_name(stored)
            except NotFoundError as exc:
                if not _route_answered(exc):
                    return str(self.find_bucket(name, lookup=False).id)
        raise NotFoundError(
            f"no bucket named {name!r}; list your buckets with client.bucket_list() "
            "(or `storj ls`)",
            status_code=404,
        )

    def bucket_id_by_stored_name(self, stored_name: str) -> str:
        """Id of the bucket whose name on the Bridge is ``stored_name`` (no encryption).

        See ``GET /bucket-ids/{name}`` → 200 ``{"id"}`` (2018 Bridge); the name is
        URL-escaped.

        :raises NotFoundError: no bucket with that stored name.
        """
        path = f"/bucket-ids/{urllib.parse.quote(stored_name, safe='')}"
        data = self._request("GET", path, expect=dict)
        if not isinstance(data.get("id"), str):
            self._shape_error("no string 'id' field", "GET", path, data)
        return data["id"]

    def find_bucket(self, name: str, *, lookup: bool = True) -> model.Bucket:
        """Your bucket called ``name`` (its plain name), as :meth:`bucket_get` returns it.

        Resolves the id with :meth:`bucket_id_by_name` and sends ``GET /buckets/{id}``;
        with ``lookup=False`` only lists the buckets and compares names.

        :raises NotFoundError: no bucket with that name.
        """
        if lookup:
            return self.bucket_get(self.bucket_id_by_name(name))
        for bucket in self.bucket_list():
            if bucket.name == name and bucket.name_state != "undecryptable":
                return bucket
        raise NotFoundError(
            f"no bucket named {name!r}; list your buckets with client.bucket_list() "
            "(or `storj ls`)",
            status_code=404,
        )

    def bucket_list(self) -> Iterator[model.Bucket]:
        """List all of the buckets belonging to the user.

        See API buckets: ``GET /buckets`` → 200 ``[Bucket…]``, asked page after page
        (``?startDate=``, :class:`storj.paging.DatePager`) as the iteration goes: the
        2018 Bridge returns at most 5000 per request. The first page is fetched when
        this method is called (0.1.x fetched on the first ``next()``, so errors
        surfaced far from the call); only one page is held in memory. For one page,
        :meth:`bucket_list_page`.

        Names: with an :attr:`encryption_key` each ``name`` is the decrypted name
        (``name_state == "decrypted"``); a name that is not libstorj ciphertext (storj
        0.3.x, keyless tools) is kept as it is (``"plaintext"``); ciphertext this key
        cannot decrypt keeps its stored form with ``name_state == "undecryptable"``
        (``decrypted`` is false; never show it as a name, see
        :func:`storj.naming.display_name`). ``stored_name`` is always the Bridge's form.

        :returns: buckets.
        :rtype: (generator[:class:`storj.model.Bucket`])
        :raises BridgeResponseError: more buckets than a page share one millisecond.
        """
        pager: DatePager[model.Bucket] = DatePager(self.bucket_page_limit, "buckets")
        first = pager.accept(self.bucket_list_page())
        return self._pages(first, pager, self.bucket_list_page)

    def bucket_list_page(self, start_date: str | None = None) -> list[model.Bucket]:
        """One page of your buckets, as the Bridge sends it.

        Sends ``GET /buckets`` with ``?startDate=`` when given (2018 Bridge: at most 5000
        buckets created strictly after it, oldest first; the 2016 Bridge ignores it).
        Names are read as in :meth:`bucket_list`.

        :param start_date: RFC 3339 date (``"2018-01-02T03:04:05.678Z"``) or ``None``.
        """
        params = {"startDate": start_date} if start_date is not None else None
        data = self._request("GET", "/buckets", params=params, expect=list)
        buckets = self._wrap_list(model.Bucket, data, "GET", "/buckets")
        return [self._named_bucket(bucket) for bucket in buckets]

    @staticmethod
    def _pages(
        first: list[M], pager: DatePager[Any], fetch: Callable[[str | None], list[M]]
    ) -> Iterator[M]:
        """Yield ``first``, then the new entries of each further page until ``pager`` is done."""
        yield from first
        while not pager.done:
            yield from pager.accept(fetch(pager.start_date))

    def _names_key(self) -> EncryptionKey | None:
        """The key names are encrypted with (from :attr:`encryption_key`), computed once
        per mnemonic; ``None`` without a key."""
        mnemonic = self.encryption_key
        cached = self.__dict__.get("_names_key_cache")
        if cached is None or cached[0] != mnemonic:
            cached = (mnemonic, naming.key_of(mnemonic))
            self.__dict__["_names_key_cache"] = cached
        return cached[1]

    def _named_bucket(self, bucket: model.Bucket) -> model.Bucket:
        """Set ``name`` (plain), ``stored_name`` and ``name_state`` of a Bridge record."""
        stored = bucket.name or ""
        name, bucket.name_state = naming.read_bucket_name(self._names_key(), stored)
        bucket.stored_name, bucket.name = stored, name
        return bucket

    def _named_file(self, bucket_id: str, entry: model.File) -> model.File:
        """Set ``filename`` (plain), ``stored_name`` and ``name_state`` of an entry."""
        stored = entry.filename or ""
        name, entry.name_state = naming.read_file_name(self._names_key(), bucket_id, stored)
        entry.stored_name, entry.filename = stored, name
        return entry

    def bucket_set_keys(
        self, bucket_id: str, bucket_name: str | None, keys: Iterable[Any]
    ) -> model.Bucket:
        """Update the bucket with the given public keys.

        See API buckets: ``PATCH /buckets/{bucket_id}`` with ``{"pubkeys": [hex…]}`` → 200
        Bucket. The Bridge ignores a ``name`` in this body, so ``bucket_name`` (kept for
        the documented signature) is not sent. Keys may be hex strings or key objects
        (encoded as compressed SEC1 hex).

        :param bucket_id: bucket unique identifier.
        :param bucket_name: bucket name (ignored, see above).
        :param keys: public keys.
        :returns: updated bucket information.
        :rtype: (:class:`storj.model.Bucket`)
        """
        path = f"/buckets/{_quote(bucket_id)}"
        body = {"pubkeys": [self._key_hex(key) for key in keys]}
        data = self._request("PATCH", path, json=body, idempotent=True, expect=dict)
        return self._named_bucket(self._wrap(model.Bucket, data, "PATCH", path))

    def bucket_set_mirrors(
        self, bucket_id: str, file_id: str, redundancy: int
    ) -> list[model.Mirror]:
        """Establishes a series of mirrors for the given file.

        See API buckets: ``POST /buckets/{id}/mirrors`` with ``{"file", "redundancy"}``
        (route of the 2016 Bridge; 2017+ Bridges mirror automatically and answer 404).
        Two answer shapes existed and both are read: 201 ``[{hash, mirrors, status}]``
        (one per shard) and 202 ``[[Mirror…], …]`` (per shard, the candidate mirrors),
        which is flattened. 0.1.x built one ``Mirror`` from the whole list and crashed.

        :param bucket_id: bucket unique identifier.
        :param file_id: file unique identitifer.
        :param redundancy: number of replicas (the Bridge allows at most 12).
        :returns: the mirror settings.
        :rtype: (list[:class:`storj.model.Mirror`])
        """
        if isinstance(redundancy, bool) or not isinstance(redundancy, int) or redundancy < 1:
            raise ValueError(f"redundancy must be a positive int, not {redundancy!r}")
        path = f"/buckets/{_quote(bucket_id)}/mirrors"
        data = self._request(
            "POST", path, json={"file": file_id, "redundancy": redundancy}, expect=list
        )
        items: list[Any] = []
        for entry in data:
            items.extend(entry if isinstance(entry, list) else [entry])
        return self._wrap_list(model.Mirror, items, "POST", path)

    # ---------------------------------------------------------------- contacts

    def contact_list(
        self,
        page: int | str = 1,
        address: str | None = None,
        protocol: str | None = None,
        user_agent: str | None = None,
        connected: bool | None = None,
    ) -> list[model.Contact]:
        """Lists contacts (public route, no credentials sent).

        See API contacts: ``GET /contacts?page=&address=&protocol=&userAgent=&connected=``
        (only the filters that are not None; ``connected`` as ``true``/``false``; pages of
        30). 0.1.x ignored every argument. The 2016 Bridge filters by address, protocol
        and userAgent, the 2018 Bridge by address only; both ignore ``connected``.

        :param page: pagination indicator.
        :param address: hostname or IP address.
        :param protocol: SemVer protocol tag.
        :param user_agent: Storj user agent string for farming client.
        :param connected: filter results by connection status.
        :returns: list of contacts.
        :rtype: (list[:class:`storj.model.Contact`])
        """
        params = {
            "page": page,
            "address": address,
            "protocol": protocol,
            "userAgent": user_agent,
            "connected": connected,
        }
        data = self._request("GET", "/contacts", params=params, auth=False, expect=list)
        return self._wrap_list(model.Contact, data, "GET", "/contacts")

    def contact_lookup(self, node_id: str) -> model.Contact:
        """Lookup for contact information of a node (public route).

        See API contacts: ``GET /contacts/{nodeID}`` → 200 Contact.

        :param node_id: node unique identifier.
        :returns: contact information
        :rtype: (:class:`storj.model.Contact`)
        :raises NotFoundError: unknown node.
        """
        path = f"/contacts/{_quote(node_id)}"
        data = self._request("GET", path, auth=False, expect=dict)
        return self._wrap(model.Contact, data, "GET", path)

    # ------------------------------------------------------------------- files

    def bucket_entry_create(
        self,
        bucket_id: str,
        frame_id: str,
        filename: str,
        mimetype: str | None = None,
        *,
        index: str | None = None,
        hmac: Mapping[str, Any] | None = None,
        erasure: Mapping[str, Any] | None = None,
        overwrite: bool = False,
    ) -> model.File:
        """Create the bucket entry of an uploaded frame (used by the transfer engine).

        See ``POST /buckets/{id}/files`` with the JSON body
        ``{"frame", "filename", "mimetype"?, "index"?, "hmac"?, "erasure"?,
        "overwrite"?}`` → 200 entry (+ ``size``). Omitted fields are not sent (the
        Bridge's default mimetype is ``application/octet-stream``). The frame is locked
        by the Bridge afterwards. Not retried automatically: a 2018 Bridge refuses a
        second entry with the same name, so a retry after a lost answer would look like
        a failure.

        ``filename`` is sent as given: the transfer engine passes the stored (with a
        key, encrypted) name; the returned record's ``filename`` is read as in
        :meth:`iter_bucket_files`.

        :param index: 64 hex, the file's key index (libstorj, 2018).
        :param hmac: ``{"type": "sha512", "value": hex}``.
        :param erasure: ``{"type": "reedsolomon"}`` when parity shards exist.
        :param overwrite: send ``"overwrite": true``: the local Bridge's extension that
            replaces an entry of the same name in one step. Other Bridges ignore the
            field (a 2018 Bridge then refuses the duplicate name; a 2016 Bridge replaces
            the entry anyway).
        """
        body: dict[str, Any] = {"frame": frame_id, "filename": filename}
        for key, value in (("mimetype", mimetype), ("index", index)):
            if value is not None:
                body[key] = value
        if hmac is not None:
            body["hmac"] = dict(hmac)
        if erasure is not None:
            body["erasure"] = dict(erasure)
        if overwrite:
            body["overwrite"] = True
        path = f"/buckets/{_quote(bucket_id)}/files"
        data = self._request("POST", path, json=body, expect=dict)
        return self._named_file(bucket_id, self._wrap(model.File, data, "POST", path))

    def file_id_by_name(self, bucket_id: str, name: str) -> str:
        """Id of the file called ``name`` (its plain name) in the bucket.

        With an :attr:`encryption_key` sends ``GET /buckets/{id}/file-ids/{encrypted
        name}`` (2018 Bridge); without one, or when that answers 404, asks with the name
        as given (files of keyless tools). Only when the route itself is missing (2016
        Bridge) are the bucket's files listed (:meth:`iter_bucket_files`) and compared.

        :raises NotFoundError: no such file (or bucket).
        :raises ValueError: ``name`` is empty.
        """
        key = self._names_key()
        for stored in dict.fromkeys((naming.stored_file_name(key, bucket_id, name), name)):
            try:
                return self.file_id_by_stored_name(bucket_id, stored)
            except NotFoundError as exc:
                if not _route_answered(exc):
                    return str(self.find_file(bucket_id, name, lookup=False).id)
        raise NotFoundError(
            f"no file named {name!r} in bucket {bucket_id}; list them with "
            "client.bucket_files(bucket_id) (or `storj ls storj://BUCKET/`)",
            status_code=404,
        )

    def file_id_by_stored_name(self, bucket_id: str, stored_name: str) -> str:
        """Id of the file whose name on the Bridge is ``stored_name`` (no encryption).

        See ``GET /buckets/{id}/file-ids/{name}`` → 200 ``{"id"}`` (2018 Bridge).

        :raises NotFoundError: no such file.
        """
        quoted = urllib.parse.quote(stored_name, safe="")
        path = f"/buckets/{_quote(bucket_id)}/file-ids/{quoted}"
        data = self._request("GET", path, expect=dict)
        if not isinstance(data.get("id"), str):
            self._shape_error("no string 'id' field", "GET", path, data)
        return data["id"]

    def find_file(self, bucket_id: str, name: str, *, lookup: bool = True) -> model.File:
        """The file called ``name`` (its plain name) in the bucket, as
        :meth:`file_metadata` returns it.

        Resolves the id with :meth:`file_id_by_name`, then sends
        ``GET /buckets/{id}/files/{file_id}/info``; with ``lookup=False`` only lists
        the bucket's files and compares names.

        :raises NotFoundError: no such file (or bucket).
        """
        if lookup:
            return self.file_metadata(bucket_id, self.file_id_by_name(bucket_id, name))
        for entry in self.iter_bucket_files(bucket_id):
            if entry.filename == name and entry.name_state != "undecryptable":
                return entry
        raise NotFoundError(
            f"no file named {name!r} in bucket {bucket_id}; list them with "
            "client.bucket_files(bucket_id) (or `storj ls storj://BUCKET/`)",
            status_code=404,
        )

    def file_metadata(self, bucket_id: str, file_id: str) -> model.File:
        """Get file metadata.

        See API buckets: ``GET /buckets/{id}/files/{file_id}/info`` → 200
        ``{bucket, mimetype, filename, frame, size, id, …}``. ``filename`` is read as in
        :meth:`iter_bucket_files` (plain with a key; ``stored_name`` as sent).

        :param bucket_id: bucket unique identifier.
        :param file_id: file unique identifier.
        :returns: file metadata.
        :rtype: (:class:`storj.model.File`)
        """
        path = f"/buckets/{_quote(bucket_id)}/files/{_quote(file_id)}/info"
        entry = self._wrap(model.File, self._request("GET", path, expect=dict), "GET", path)
        return self._named_file(bucket_id, entry)

    def file_mirrors(self, bucket_id: str, file_id: str) -> list[model.FileMirrors]:
        """Mirrors of each shard of a file.

        See ``GET /buckets/{id}/files/{file_id}/mirrors`` → 200
        ``[{"established": [...], "available": [...]}, …]`` (one per shard). This route
        takes normal authentication (0.3.x sent a PULL token it does not need).
        """
        path = f"/buckets/{_quote(bucket_id)}/files/{_quote(file_id)}/mirrors"
        data = self._request("GET", path, expect=list)
        return self._wrap_list(model.FileMirrors, data, "GET", path)

    def _pull_token(self, bucket_id: str) -> str:
        token = self.token_create(bucket_id, "PULL")
        value = token.get("token") or token.get("id")
        if not isinstance(value, str):
            self._shape_error(
                "the PULL token has no 'token' field", "POST", f"/buckets/{bucket_id}/tokens", None
            )
        return value

    def file_pointers(
        self,
        bucket_id: str,
        file_id: str,
        skip: int | str | None = None,
        limit: int | str | None = None,
        exclude: Iterable[str] | str | None = None,
    ) -> Iterator[model.FilePointer]:
        """Get list of pointers associated with a file.

        See API buckets: ``GET /buckets/{id}/files/{file_id}?skip=&limit=&exclude=`` with
        header ``x-token``: a PULL token created first with ``POST /buckets/{id}/tokens``
        (tokens are single use, so each attempt gets a new one). ``skip``, ``limit`` and
        ``exclude`` (nodeIDs, comma-joined) are sent when not None; the Bridge's defaults
        are 0 and 6. 0.1.x ignored ``skip``/``limit``; 0.3.x put them in the signed path.

        Each pointer has ``index``, ``hash``, ``size`` and, when a farmer could be reached,
        ``token``, ``operation`` and ``farmer`` (a Contact). Past the last shard the list
        is empty. Fetched at call time; an iterator over the result is returned.

        :param bucket_id: bucket unique identifier.
        :param file_id: file unique identifier.
        :param skip: pointer index to start the file slice.
        :param limit: number of pointers to resolve tokens for.
        :param exclude: nodeIDs of farmers not to use.
        :returns: file pointers.
        :rtype: (generator[:class:`storj.model.FilePointer`])
        """
        if exclude is not None and not isinstance(exclude, str):
            exclude = ",".join(exclude)
        params = {"skip": skip, "limit": limit, "exclude": exclude}
        path = f"/buckets/{_quote(bucket_id)}/files/{_quote(file_id)}"
        data = self._request(
            "GET",
            path,
            params=params,
            auth=False,
            expect=list,
            x_token=lambda: self._pull_token(bucket_id),
        )
        return iter(self._wrap_list(model.FilePointer, data, "GET", path))

    def file_remove(self, bucket_id: str, file_id: str) -> None:
        """Delete a file pointer from a specified bucket.

        See API buckets: ``DELETE /buckets/{id}/files/{file_id}`` → 204. Only the entry is
        removed; the farmers' data expires with its contracts.

        :param bucket_id: bucket unique identifier.
        :param file_id: file unique identifier.
        """
        self._request("DELETE", f"/buckets/{_quote(bucket_id)}/files/{_quote(file_id)}")

    # ------------------------------------------------------ transfer delegation

    def file_upload(self, bucket_id: str, file: Any, frame: Any) -> model.File:
        """Upload file.

        See API buckets: ``POST /buckets/{id}/files`` — after the shards have been stored:
        delegates to :func:`storj.transfer.file_upload`, which encrypts and shards the
        file, adds each shard to ``frame`` (``PUT /frames/{id}``), sends it to the
        farmers and creates the bucket entry. 0.1.x was a stub that sent the frame id as
        an HTTP header and uploaded nothing.

        :param bucket_id: bucket unique identifier.
        :param file: file to be uploaded (:class:`storj.model.File`, path or binary file).
        :param frame: frame used to stage file (:class:`storj.model.Frame`, a frame id,
            or ``None`` for a new frame).
        :returns: the bucket entry.
        """
        from storj import transfer

        return transfer.file_upload(self, bucket_id, file, frame)

    def upload_file(
        self,
        bucket_id: str,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        name: str | None = None,
        mimetype: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        config: TransferConfig | None = None,
        cancel: CancelToken | None = None,
        overwrite: bool = False,
    ) -> model.File:
        """Upload a file (path or readable binary file object) into a bucket, like libstorj.

        Sends ``POST /frames``, ``PUT /frames/{id}`` per shard, the shards to the farmers,
        ``POST /reports/exchanges`` and finally ``POST /buckets/{id}/files``; see
        :func:`storj.transfer.upload_file` for every parameter and error.

        With ``overwrite`` a file of the same name is replaced, and never lost: it stays
        until the new version's shards are all stored, then the entry is swapped in one
        request (the local Bridge; other Bridges: delete, then create at once, see
        :func:`storj.transfer.upload_file` for the window that leaves). Without it an
        existing name raises :class:`~storj.exception.ConflictError`.
        """
        from storj import transfer

        return transfer.upload_file(
            self,
            bucket_id,
            source,
            name=name,
            mimetype=mimetype,
            progress=progress,
            config=config,
            cancel=cancel,
            overwrite=overwrite,
        )

    def download_file(
        self,
        bucket_id: str,
        file_id: str,
        destination: str | os.PathLike[str] | IO[bytes],
        *,
        progress: Callable[[int, int], None] | None = None,
        config: TransferConfig | None = None,
        cancel: CancelToken | None = None,
    ) -> model.File:
        """Download, verify and decrypt a file to a path or writable binary file object.

        Sends ``GET /buckets/{id}/files/{file}/info``, pages of
        ``GET /buckets/{id}/files/{file}`` (pointers) and fetches the shards from the
        farmers; see :func:`storj.transfer.download_file` for every parameter and error.
        """
        from storj import transfer

        return transfer.download_file(
            self, bucket_id, file_id, destination, progress=progress, config=config, cancel=cancel
        )

    def open_file(
        self, bucket_id: str, file_id: str, *, config: TransferConfig | None = None
    ) -> StorjFileReader:
        """A seekable reader over a stored file, fetching only the shards a read needs.

        See :func:`storj.transfer.open_file`.
        """
        from storj import transfer

        return transfer.open_file(self, bucket_id, file_id, config=config)

    # ------------------------------------------------------------------ frames

    def frame_add_shard(
        self,
        shard: Any,
        frame_id: str,
        exclude: Iterable[str] | None = None,
        *,
        excludes: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Adds a shard item to the staging frame and negotiates a storage contract.

        See API frames: ``PUT /frames/{frame_id}`` with ``shard.to_json()``
        (``{hash, size, index, challenges, tree, parity?}``; None fields dropped) plus
        ``exclude`` (nodeIDs) when given → 200 ``{hash, token, operation: "PUSH",
        farmer: {address, port, nodeID, …}}``. 0.1.x sent the MerkleTree object itself
        and never sent ``exclude``.

        Only 429 answers and connection failures before sending are retried here: a
        failed negotiation (5xx/400) is for the caller to repeat, usually with the
        failing farmer in ``exclude`` (the transfer engine does this, like libstorj).

        :param shard: the shard (:class:`storj.model.Shard` or a mapping in wire form).
        :param frame_id: the frame unique identifier.
        :param exclude: farmers (nodeIDs) the Bridge must not choose.
        :param excludes: 0.3.x's name of ``exclude`` (giving both raises
            :class:`ValueError`). Differs from 0.3.x: nothing is sent when neither is
            given (0.3.x sent ``"exclude": null``).
        :returns: the Bridge's answer as a dict (``["token"]``, ``["farmer"]["address"]``…).
        """
        if excludes is not None:
            if exclude is not None:
                raise ValueError("give exclude or excludes (its 0.3.x name), not both")
            exclude = excludes
        if isinstance(shard, Mapping):
            wire = dict(shard)
        else:
            wire = dict(shard.to_json())
        body = {key: value for key, value in wire.items() if value is not None}
        if exclude is not None:
            body["exclude"] = [exclude] if isinstance(exclude, str) else list(exclude)
        path = f"/frames/{_quote(frame_id)}"
        data = self._request("PUT", path, json=body, idempotent=False, expect=dict)
        farmer = data.get("farmer")
        if not isinstance(data.get("token"), str) or not isinstance(farmer, dict):
            self._shape_error("expected {hash, token, operation, farmer}", "PUT", path, data)
        self._wrap(model.Contact, farmer, "PUT", path)  # type-checks the farmer's fields
        return data

    def frame_create(self) -> model.Frame:
        """Creates a file staging frame.

        See API frames: ``POST /frames`` (empty JSON object) → 200 Frame. Safe to retry (a
        lost answer leaves an empty frame behind, as libstorj's retries do).

        :returns: the frame.
        :rtype: (:class:`storj.model.Frame`)
        """
        data = self._request("POST", "/frames", json={}, idempotent=True, expect=dict)
        return self._wrap(model.Frame, data, "POST", "/frames")

    def frame_delete(self, frame_id: str) -> None:
        """Destroys the file staging frame by it's unique ID.

        See API frames: ``DELETE /frames/{frame_id}`` → 204 (no body; 0.1.x sent one).

        :param frame_id: unique identifier.
        """
        self._request("DELETE", f"/frames/{_quote(frame_id)}")

    def frame_get(self, frame_id: str) -> model.Frame:
        """Fetches the file staging frame by it's unique ID.

        See API frame: ``GET /frames/{frame_id}`` → 200 Frame (no body; 0.1.x sent one).

        :param frame_id: unique identifier.
        :returns: a frame.
        :rtype: (:class:`storj.model.Frame`)
        """
        path = f"/frames/{_quote(frame_id)}"
        return self._wrap(model.Frame, self._request("GET", path, expect=dict), "GET", path)

    def frame_list(self) -> Iterator[model.Frame]:
        """Returns all open file staging frames.

        See API frame: ``GET /frames`` → 200 ``[Frame…]``; fetched at call time, an
        iterator over the result is returned.

        :returns: all open file staging frames.
        :rtype: (generator[:class:`storj.model.Frame`])
        """
        data = self._request("GET", "/frames", expect=list)
        return iter(self._wrap_list(model.Frame, data, "GET", "/frames"))

    # -------------------------------------------------------------------- keys

    def key_delete(self, public_key: Any) -> None:
        """Removes a public ECDSA key.

        See API keys: ``DELETE /keys/{pubkey}`` (URL-escaped) → 204.

        :param public_key: key to be removed (hex string as registered, or a key object).
        """
        key = public_key if isinstance(public_key, str) else self._key_hex(public_key)
        self._request("DELETE", f"/keys/{urllib.parse.quote(key, safe='')}")

    def key_list(self) -> list[str]:
        """Lists the public ECDSA keys associated with the user.

        See API keys: ``GET /keys`` → 200 ``[{key, id, user, label}…]``.

        :returns: public keys (the ``key`` field of each record).
        :rtype: (list[str])
        """
        data = self._request("GET", "/keys", expect=list)
        if not all(isinstance(item, dict) and isinstance(item.get("key"), str) for item in data):
            self._shape_error("expected [{key, …}]", "GET", "/keys", data)
        return [item["key"] for item in data]

    def key_register(self, public_key: Any) -> list[model.Key]:
        """Register an ECDSA public key.

        See API keys: ``POST /keys`` with ``{"key": hex}`` → 200 ``{key, id, user, label}``.
        Accepts an ``ecdsa.VerifyingKey`` / ``SigningKey`` or a ``cryptography`` key
        (encoded with :func:`storj.api.ecdsa_to_hex`: compressed SEC1, the same string
        as :attr:`public_key_hex` sends in ``x-pubkey``), SEC1 bytes, or a hex string
        (sent as given, lowercased). 0.1.x could not encode key objects at all.

        :returns: public keys: a list holding the registered record.
        :rtype: (list[:class:`storj.model.Key`])
        :raises ValueError: not a secp256k1 public key (nothing is sent).
        """
        body = {"key": self._key_hex(public_key)}
        data = self._request("POST", "/keys", json=body, expect=dict)
        return [self._wrap(model.Key, data, "POST", "/keys")]

    # ------------------------------------------------------------------ tokens

    def token_create(
        self, bucket_id: str, operation: str, *, file_id: str | None = None
    ) -> model.Token:
        """Creates a token for the specified operation.

        See API buckets: ``POST /buckets/{id}/tokens`` with ``{"operation"}`` (plus
        ``"file"`` when ``file_id`` is given, for which a PULL token also reports the
        file's ``mimetype`` and ``size``) → 201 ``{token, id, bucket, operation, expires,
        encryptionKey}``. Tokens expire after 5 minutes (2016) / 1 hour (2018) and are
        single use.

        :param bucket_id: bucket unique identifier.
        :param operation: ``"PUSH"`` or ``"PULL"`` (case-insensitive).
        :returns: the token (mapping access ``token["token"]`` still works).
        :rtype: (:class:`storj.model.Token`)
        :raises ValueError: another operation (0.1.x sent anything to the Bridge).
        """
        op = operation.upper() if isinstance(operation, str) else operation
        if op not in _OPERATIONS:
            raise ValueError(f"operation must be 'PUSH' or 'PULL', not {operation!r}")
        body: dict[str, Any] = {"operation": op}
        if file_id is not None:
            body["file"] = file_id
        path = f"/buckets/{_quote(bucket_id)}/tokens"
        data = self._request("POST", path, json=body, idempotent=True, expect=dict)
        return self._wrap(model.Token, data, "POST", path)

    # ------------------------------------------------------------------- users

    def user_activate(self, token: str) -> model.User:
        """Activate user (public route).

        See API users: ``GET /activations/{token}`` → 200 User.

        :param token: activation token.
        :raises BadRequestError: invalid activation token.
        """
        path = f"/activations/{_quote(token)}"
        data = self._request("GET", path, auth=False, expect=dict)
        return self._wrap(model.User, data, "GET", path)

    def user_activation_email(self, email: str, token: str | None = None) -> model.User:
        """Send user activation email again (public route).

        See API users: ``POST /activations`` with ``{"email"}`` → 201 User. This is the
        Bridge's real route; the documented ``POST /activations/{token}`` does not exist
        and 0.1.x actually re-activated with ``GET /activations/{token}``. ``token`` is
        accepted for the documented signature and not sent.

        :param email: user's email address.
        :param token: activation token (unused).
        """
        data = self._request("POST", "/activations", json={"email": email}, auth=False, expect=dict)
        return self._wrap(model.User, data, "POST", "/activations")

    def user_create(self, email: str, password: str) -> model.User:
        """Create a new user with Storj bridge (public route).

        See API users: ``POST /users`` with ``{"email", "password": sha256 hex}`` → 201 User
        (not yet activated: the Bridge emails an activation link). The plain password is
        neither sent nor logged (0.1.x logged it and then crashed).

        :param email: user's email address.
        :param password: user's password (plain text; hashed here).
        :raises BadRequestError: email already registered.
        """
        body = {"email": email, "password": hash_password(password)}
        data = self._request("POST", "/users", json=body, auth=False, expect=dict)
        return self._wrap(model.User, data, "POST", "/users")

    def user_deactivate(self, token: str) -> model.User:
        """Discard activation token: confirm a deactivation (public route).

        See API users: ``GET /deactivations/{token}`` → 200 User (account disabled). 0.1.x
        sent ``DELETE /activations/{token}``, which does not exist.

        :param token: deactivation token (from the email sent by :meth:`user_delete`).
        """
        path = f"/deactivations/{_quote(token)}"
        data = self._request("GET", path, auth=False, expect=dict)
        return self._wrap(model.User, data, "GET", path)

    def user_delete(self, email: str) -> model.User:
        """Delete user account: request a deactivation email.

        See API users: ``DELETE /users/{email}`` → 200 User; the account is disabled only
        when the emailed token is confirmed with :meth:`user_deactivate`. Not retried
        (each call sends an email).

        :param email: user's email address (must be the authenticated user).
        """
        path = f"/users/{_quote(email)}"
        data = self._request("DELETE", path, idempotent=False, expect=dict)
        return self._wrap(model.User, data, "DELETE", path)

    def user_reset_password(self, email: str, password: str | None = None) -> model.User:
        """Request a password reset (public route).

        See API users: ``PATCH /users/{email}`` with ``{"password": sha256 hex of the NEW
        password}`` → 200 User; the Bridge emails a token that
        :meth:`user_reset_password_confirmation` confirms. The 2016 Bridge requires the new
        password here (0.1.x sent no body and was rejected with 400). Without
        ``password`` an empty object is sent, which only the 2018 Bridge accepts (it
        takes the new password at confirmation time).

        :param email: user's email address.
        :param password: the new password (plain text; hashed here, never sent or logged).
        """
        body = {"password": hash_password(password)} if password is not None else {}
        path = f"/users/{_quote(email)}"
        data = self._request("PATCH", path, json=body, auth=False, idempotent=False, expect=dict)
        return self._wrap(model.User, data, "PATCH", path)

    def user_reset_password_confirmation(
        self, token: str, password: str | None = None
    ) -> model.User:
        """Confirm a password reset request (public route).

        See API users: ``GET /resets/{token}`` → 200 User: the 2016 Bridge activates the
        password sent with :meth:`user_reset_password`. With ``password`` (the 2018
        two-step reset, where the request carried no password) this sends ``POST
        /resets/{token}`` with ``{"password": sha256 hex}`` instead.

        :param token: password reset token.
        :param password: the new password (plain text; hashed here, never sent or
            logged), for resets requested without one.
        """
        path = f"/resets/{_quote(token)}"
        if password is None:
            data = self._request("GET", path, auth=False, expect=dict)
            return self._wrap(model.User, data, "GET", path)
        body = {"password": hash_password(password)}
        data = self._request("POST", path, json=body, auth=False, idempotent=False, expect=dict)
        return self._wrap(model.User, data, "POST", path)

    # ------------------------------------------------------------ misc routes

    def exchange_report_send(self, report: Any) -> None:
        """Send an exchange report (public route, used by the transfer engine).

        See ``POST /reports/exchanges`` with ``{dataHash, reporterId, farmerId, clientId,
        exchangeStart, exchangeEnd, exchangeResultCode, exchangeResultMessage}`` → 201
        ``{}``. ``report`` is a mapping or a :class:`storj.model.ExchangeReport`. Not
        retried on 5xx or timeouts (reports are best effort; the transfer engine sends
        each at most twice).
        """
        body = dict(report) if isinstance(report, Mapping) else dict(report.to_json())
        self._request("POST", "/reports/exchanges", json=body, auth=False, idempotent=False)

    def get_info(self) -> dict[str, Any]:
        """The Bridge's API description (public route).

        See ``GET /`` → 200 Swagger document; ``["info"]`` has ``title``, ``version``,
        ``x-protocol-version`` and ``x-core-version``.
        """
        return self._request("GET", "/", auth=False, expect=dict)

"""Fault injection for the local Storj network: misbehaving farmers and Bridges on loopback.

A :class:`FaultInjector` is WSGI middleware. It holds rules; each rule pairs a
:class:`Scenario` (what goes wrong) with the requests it applies to (a regular
expression searched in the request target — the raw path plus ``?query`` — and the
HTTP methods), a fraction of those requests (drawn from a seeded RNG, so a run can be
repeated) and an optional number of times::

    from storj.local.faults import FaultInjector, FlipBits, Stall, Status

    faults = FaultInjector(seed=7)
    faults.add(Status(503), path=r"^/shards/", methods=["POST"], times=2)
    faults.add(FlipBits(), path=r"^/shards/", methods=["GET"], fraction=0.5)
    for farmer in network.farmers:
        farmer.set_faults(faults)          # FarmerNode runs every request through it
    ...
    faults.clear()                         # remove the rules, end every stall now

The first rule that matches a request (and whose draw succeeds) decides its fate; a
request no rule takes reaches the real application untouched.

Bridge faults go through :class:`FaultProxy`, a small loopback reverse proxy that
forwards every request byte for byte (raw path and query, so ECDSA signatures stay
valid) to an upstream such as ``network.bridge_url`` and runs the same middleware in
front of it::

    with FaultProxy(network.bridge_url, seed=3) as proxy:
        proxy.faults.add(Status(500), fraction=0.2)
        proxy.faults.add(Status(429, headers=[("Retry-After", "0")]), fraction=0.1)
        client = Client(email, password, api_url=proxy.url)

Scenarios
---------
:class:`Refuse`      drop the connection before answering (the socket is shut down
                     with ``SO_LINGER`` 0); a connection *refused* at the TCP level is a
                     stopped node (``LocalNetwork.stop_farmer``).
:class:`Status`      answer ``code`` with ``{"error": message}`` (500, 401, 503, 429 …)
                     without running the application.
:class:`Stall`       send nothing (or nothing more after ``after_bytes`` of the body)
                     for ``seconds``, then drop the connection.
:class:`Trickle`     move the body (the request body of an upload, the response body of
                     a download) at ``bytes_per_second``, then drop the connection after
                     ``max_seconds``.
:class:`Reset`       drop the connection after ``after_bytes`` of the body.
:class:`FlipBits`    flip ``bits`` bits of the body (upload or download).
:class:`ShortBody`   cut the body short: the application sees an early end of the
                     request body, or the response stops early (with a matching or with
                     the original ``Content-Length``).
:class:`Delay`       wait ``seconds``, then answer normally.

Body scenarios take ``on="auto" | "request" | "response"``: ``auto`` acts on the request
body when the request has one (a shard upload) and on the response body otherwise (a
shard download).

Stalls and trickles wait on an event that :meth:`FaultInjector.clear` (and
:meth:`FaultInjector.release`) sets, so no server thread outlives a test. Dropped
connections are signalled to werkzeug's server as a ``ConnectionError``, which it treats
as a client that went away (no traceback in the logs). The module never imports the
client (``storj.http``, ``storj.transfer``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

__all__ = [
    "Delay",
    "FaultContext",
    "FaultInjector",
    "FaultProxy",
    "FaultRule",
    "FlipBits",
    "Refuse",
    "Reset",
    "Scenario",
    "ShortBody",
    "Stall",
    "Status",
    "Trickle",
    "abort_connection",
]

log = logging.getLogger("storj.local.faults")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_STEP = 0.05  # seconds between two trickled pieces
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    413: "Payload Too Large",
    420: "Enhance Your Calm",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# --------------------------------------------------------------------------- helpers


def abort_connection(environ: Environ) -> None:
    """Drop the client's connection at once (werkzeug servers only).

    ``SO_LINGER`` 0 makes the final close a reset; the shutdown stops both directions
    now, so a client blocked in a read or a write returns immediately.
    """
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _dropped(environ: Environ, why: str) -> ConnectionAbortedError:
    abort_connection(environ)
    return ConnectionAbortedError(f"fault injected: {why}")


def _content_length(value: Any) -> int | None:
    try:
        length = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return length if length >= 0 else None


def _has_request_body(environ: Environ) -> bool:
    if environ.get("wsgi.input_terminated"):
        return True
    return (_content_length(environ.get("CONTENT_LENGTH")) or 0) > 0


def _target(environ: Environ) -> str:
    """The request target as sent: raw path plus ``?query``."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        text = str(raw)
        if "://" in text.split("?", 1)[0]:  # absolute-form request target
            rest = text.split("://", 1)[1]
            text = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        return text
    query = environ.get("QUERY_STRING") or ""
    path = environ.get("PATH_INFO") or "/"
    return f"{path}?{query}" if query else path


def _close(iterable: Any) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):
            close()


def _set_length(headers: list[tuple[str, str]], length: int) -> list[tuple[str, str]]:
    kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
    return kept + [("Content-Length", str(length))]


class _Captured:
    """Holds the status and headers the application gave, to send them later."""

    def __init__(self) -> None:
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.status = status
        self.headers = list(headers)
        return lambda data: None  # the legacy write() callable is not supported here

    def length(self) -> int | None:
        for key, value in self.headers:
            if key.lower() == "content-length":
                return _content_length(value)
        return None


# --------------------------------------------------------------------------- context


@dataclass
class FaultContext:
    """What a scenario gets for one request."""

    environ: Environ
    start_response: StartResponse
    app: WSGIApp
    #: Set when the injector is cleared or released: stalls and trickles end.
    release: threading.Event
    #: A per-request RNG derived from the injector's seed.
    rng: random.Random

    def call_app(self) -> tuple[_Captured, Iterable[bytes]]:
        """Run the application, keeping its status and headers back."""
        captured = _Captured()
        body = self.app(self.environ, captured)
        return captured, body

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when released early."""
        return self.release.wait(max(0.0, seconds))

    def body_side(self, on: str) -> str:
        if on == "auto":
            return "request" if _has_request_body(self.environ) else "response"
        return on


# --------------------------------------------------------------------------- scenarios


class Scenario:
    """A way for a request to go wrong. Subclasses implement :meth:`run`."""

    #: Short name used in statistics and reports.
    name = "scenario"

    def run(self, ctx: FaultContext) -> Iterable[bytes]:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Refuse(Scenario):
    """Drop the connection without reading the request or answering."""

    name = "refuse"

    def run(self, ctx: FaultContext) -> Iterable[bytes]:
        raise _dropped(ctx.environ, "connection dropped before the answer")


class Status(Scenario):
    """Answer ``code`` with a JSON ``{"error": message}`` body; the application never runs.

    :param code: HTTP status (500, 401, 503, 429 …).
    :param message: the error message; default ``"Injected <code>"``.
    :param headers: extra headers (``[("Retry-After", "1")]``).
    """

    name = "status"

    def __init__(
        self, code: int, message: str | None = None, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        if not 100 <= code <= 599:
            raise ValueError("an HTTP status is between 100 and 599")
        self.code = code
        self.message = message or f"Injected {code}"
        self.headers = list(headers)
        self.name = f"status-{code}"

    def run(self, ctx: FaultContext) -> Iterable[bytes]:
        body = json.dumps({"error": self.message}).encode("utf-8")
        headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *self.headers,
        ]
        ctx.start_response(f"{self.code} {_REASONS.get(self.code, 'Injected')}", headers)
        return [body]


class Delay(Scenario):
    """Wait ``seconds`` (or until released), then let the application answer normally."""

    name = "delay"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def run(self, ctx: FaultContext) -> Iterable[bytes]:
        ctx.wait(self.seconds)
        return ctx.app(ctx.environ, ctx.start_response)


class Stall(Scenario):
    """Send nothing for ``seconds``, then drop the connection.

    :param seconds: how long to hold the connection (released early by
        :meth:`FaultInjector.clear`).
    :param after_bytes: ``None`` stalls before anything is read or answered; a number
        lets the application answer and stalls after that many bytes of the response body.
    """

    name = "stall"

    def __init__(self, seconds: float = 30.0, after_bytes: int | None = None) -> None:
        self.seconds = seconds
        self.after_bytes = after_bytes

    def run(self, ctx: FaultContext) -> Iterable[bytes]:
        if self.after_bytes is None:
            ctx.wait(self.seconds)
            raise _dropped(ctx.environ, "stalled")
        captured, body = ctx.call_app()
        ctx.start_response(captured.status, captured.headers)
        return self._stream(ctx, body)

    def _stream(self, ctx: FaultContext, body: Iterable[bytes]) -> Iterator[bytes]:
        left = int(self.after_bytes or 0)
        try:
            for chunk in body:
                if len(chunk) >= left:
                    if left:
                        yield chunk[:left]
                    break
                left -= len(chunk)
                yield chunk
            ctx.wait(self.seconds)
        finally:
            _close(body)
        raise _dropped(ctx.environ, "stalled mid-body")


class Trickle(Scenario):
    """Move the body at ``bytes_per_second``; drop the connection after ``max_seconds``.

    On the request side the application reads the upload that slowly; on the response
    side the download is sent that slowly.
    """

    name = "trickle"

    def __init__(
        self, bytes_per_second: int = 1024, max_seconds: float = 60.0, on: str = "auto"
    ) -> None:
        if bytes_per_second < 1:
            raise ValueError("bytes_per_second must be at least 1")
        self.bytes_per_second = bytes_per_second
        self.max_seconds = max_seconds
        self.on = _check_side(on)

    @property
    def _piece(self) -> int:
        return max(1, int(self.bytes_per_second * _STEP))

    def run(self, ctx: FaultContext) -> Iterable[bytes]:
        deadline = time.monotonic() + self.max_seconds
        if ctx.body_side(self.on) == "request":
            ctx.environ["wsgi.input"] = _SlowInput(
                ctx.environ["wsgi.input"], self._piece, deadline, ctx.release
            )
            return ctx.app(ctx.environ, ctx.start_response)
        captured, body = ctx.call_app()
        ctx.start_response(captured.status, captured.headers)
        return self._stream(ctx, body, deadline)

    def _stream(self, ctx: FaultContext, body: Iterable[bytes], deadline: float) -> Iterator[bytes]:
        piece = self._piece
        try:
            for chunk in body:
                for start in range(0, len(chunk), piece):
                    if ctx.release.is_set() or time.monotonic() >= deadline:
                        raise _dropped(ctx.environ, "trickle ended")
                    yield chunk[start : start + piece]
                    ctx.wait(_STEP)
        finally:
            _close(body)


class Reset(Scenario):
    """Drop the connection after ``after_bytes`` of the body (request or response)."""

    name = "reset"

    def __init__(self, after_bytes: int = 0, on: str = "auto") -> None:
        self.after_bytes = after_bytes
        self.on = _check_side(on)

    def run(self, ctx: FaultContext) -> Iterable[bytes]:
        if ctx.body_side(self.on) == "request":
            stream = ctx.environ["wsgi.input"]
            left = min(self.after_bytes, _content_length(ctx.environ.get("CONTENT_LENGTH")) or 0)
            with contextlib.suppress(OSError, ValueError):
                while left > 0:
                    data = stream.read(min(left, 65536))
                    if not data:
                        break
                    left -= len(data)
            raise _dropped(ctx.environ, "reset mid-upload")
        captured, body = ctx.call_app()
        ctx.start_response(captured.status, captured.headers)
        return self._stream(ctx, body)

    def _stream(self, ctx: FaultContext, body: Iterable[bytes]) -> Iterator[bytes]:
        left = self.after_bytes
        try:
            for chunk in body:
                if len(chunk) >= left:
                    if left:
                        yield chunk[:left]
                    break
                left -= len(chunk)
                yield chunk
        finally:
            _close(body)
        raise _dropped(ctx.environ, "reset mid-body")


class FlipBits(Scenario):
    """Flip ``bits`` bits of the body, starting at byte ``offset`` (default: the middle).

    Each flipped bit is in its own byte (``offset``, ``offset + 1``, …); the bit within
    the byte comes from the per-request RNG.
    """

    name = "flip-bits"

    def __init__(self, bits: int = 1, offset: int | None = None, on: str = "auto") -> None:
        if bits < 1:
            raise ValueError("flip at least one bit")
        self.bits = bits
        self.offset = offset
        self.on = _check_side(on)

    def _positions(self, length: int | None, rng: random.Random) -> dict[int, int]:
        start = self.offset if self.offset is not None else (length or 0) // 2
        return {start + i: 1 << rng.randrange(8) for i in range(self.bits)}

    def run(self, ctx: FaultContext) -> Iterable[bytes]:
        if ctx.body_side(self.on) == "request":
            length = _content_length(ctx.environ.get("CONTENT_LENGTH"))
            ctx.environ["wsgi.input"] = _FlippingInput(
                ctx.environ["wsgi.input"], self._positions(length, ctx.rng)
            )
            return ctx.app(ctx.environ, ctx.start_response)
        captured, body = ctx.call_app()
        ctx.start_response(captured.status, captured.headers)
        return _flip_stream(body, self._positions(captured.length(), ctx.rng))


class ShortBody(Scenario):
    """Cut the body short after ``keep`` (a fraction below 1, or a number of bytes).

    Request side: the application sees the body end early. Response side: with
    ``honest_length`` the ``Content-Length`` announces the short body (a well-formed
    answer with too few bytes); without it the original length is announced and the
    connection closes early.
    """

    name = "short-body"

    def __init__(self, keep: float = 0.5, honest_length: bool = True, on: str = "auto") -> None:
        if keep < 0:
            raise ValueError("keep must not be negative")
        self.keep = keep
        self.honest_length = honest_length
        self.on = _check_side(on)

    def _kept(self, length: int | None) -> int:
        if isinstance(self.keep, float) and self.keep < 1:
            return int((length or 0) * self.keep)
        return int(self.keep)

    def run(self, ctx: FaultContext) -> Iterable[bytes]:
        if ctx.body_side(self.on) == "request":
            length = _content_length(ctx.environ.get("CONTENT_LENGTH"))
            ctx.environ["wsgi.input"] = _ShortInput(ctx.environ["wsgi.input"], self._kept(length))
            return ctx.app(ctx.environ, ctx.start_response)
        captured, body = ctx.call_app()
        kept = self._kept(captured.length())
        headers = _set_length(captured.headers, kept) if self.honest_length else captured.headers
        ctx.start_response(captured.status, headers)
        return _cut_stream(body, kept)


def _check_side(on: str) -> str:
    if on not in ("auto", "request", "response"):
        raise ValueError('on must be "auto", "request" or "response"')
    return on


def _flip_stream(body: Iterable[bytes], flips: dict[int, int]) -> Iterator[bytes]:
    position = 0
    try:
        for chunk in body:
            end = position + len(chunk)
            hit = [p for p in flips if position <= p < end]
            if hit:
                data = bytearray(chunk)
                for p in hit:
                    data[p - position] ^= flips[p]
                chunk = bytes(data)
            position = end
            yield chunk
    finally:
        _close(body)


def _cut_stream(body: Iterable[bytes], kept: int) -> Iterator[bytes]:
    left = kept
    try:
        for chunk in body:
            if left <= 0:
                break
            piece = chunk[:left]
            left -= len(piece)
            yield piece
    finally:
        _close(body)


class _InputFilter:
    """Base of the request-body wrappers: a ``read``/``readline`` stream over ``wsgi.input``."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _read(self, size: int) -> bytes:
        return bytes(self._stream.read(size))

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts: list[bytes] = []
            while True:
                data = self.read(65536)
                if not data:
                    return b"".join(parts)
                parts.append(data)
        return self._read(size)

    def readline(self, size: int | None = -1) -> bytes:
        return self.read(size if size and size > 0 else 65536)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = self.read(65536)
            if not data:
                return
            yield data


class _SlowInput(_InputFilter):
    def __init__(self, stream: Any, piece: int, deadline: float, release: threading.Event):
        super().__init__(stream)
        self._piece = piece
        self._deadline = deadline
        self._release = release

    def _read(self, size: int) -> bytes:
        if self._release.wait(_STEP) or time.monotonic() >= self._deadline:
            raise ConnectionAbortedError("fault injected: trickle ended")
        return bytes(self._stream.read(min(size, self._piece)))


class _FlippingInput(_InputFilter):
    def __init__(self, stream: Any, flips: dict[int, int]) -> None:
        super().__init__(stream)
        self._flips = flips
        self._position = 0

    def _read(self, size: int) -> bytes:
        data = bytes(self._stream.read(size))
        start, end = self._position, self._position + len(data)
        hit = [p for p in self._flips if start <= p < end]
        if hit:
            changed = bytearray(data)
            for p in hit:
                changed[p - start] ^= self._flips[p]
            data = bytes(changed)
        self._position = end
        return data


class _ShortInput(_InputFilter):
    def __init__(self, stream: Any, kept: int) -> None:
        super().__init__(stream)
        self._left = kept

    def _read(self, size: int) -> bytes:
        if self._left <= 0:
            return b""
        data = bytes(self._stream.read(min(size, self._left)))
        self._left -= len(data)
        return data


# --------------------------------------------------------------------------- rules


@dataclass
class FaultRule:
    """One scenario and the requests it applies to.

    :param scenario: what happens.
    :param path: regular expression searched in the request target (raw path plus
        ``?query``); ``None`` matches every request.
    :param methods: HTTP methods (upper case); ``None`` matches every method.
    :param fraction: share of the matching requests that get the fault (seeded draw).
    :param times: at most this many faults; ``None`` for no limit.
    """

    scenario: Scenario
    path: str | None = None
    methods: frozenset[str] | None = None
    fraction: float = 1.0
    times: int | None = None
    #: How many requests this rule has taken.
    hits: int = 0
    _regex: re.Pattern[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError("fraction must be between 0 and 1")
        if self.times is not None and self.times < 0:
            raise ValueError("times must not be negative")
        self._regex = re.compile(self.path) if self.path is not None else None
        if self.methods is not None:
            self.methods = frozenset(m.upper() for m in self.methods)

    def matches(self, method: str, target: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.methods is not None and method.upper() not in self.methods:
            return False
        return self._regex is None or self._regex.search(target) is not None


class FaultInjector:
    """Rules deciding which requests go wrong, and WSGI middleware applying them.

    :param rules: initial rules.
    :param seed: seed of the RNG drawing fractions, flipped bits and offsets.

    Thread-safe: one injector may serve several servers (every farmer of a network).
    """

    def __init__(self, rules: Iterable[FaultRule] = (), *, seed: int = 0) -> None:
        self._rules: list[FaultRule] = list(rules)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._release = threading.Event()
        #: Requests seen, and faults injected per scenario name.
        self.requests = 0
        self.injected: Counter[str] = Counter()
        #: The last 1000 faults: ``(method, path without query, scenario name)``.
        self.events: deque[tuple[str, str, str]] = deque(maxlen=1000)

    # ----------------------------------------------------------------- rules

    def add(
        self,
        scenario: Scenario,
        *,
        path: str | None = None,
        methods: Iterable[str] | None = None,
        fraction: float = 1.0,
        times: int | None = None,
    ) -> FaultRule:
        """Add a rule (see :class:`FaultRule`) after the existing ones; return it."""
        rule = FaultRule(
            scenario,
            path=path,
            methods=frozenset(methods) if methods is not None else None,
            fraction=fraction,
            times=times,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def clear(self) -> None:
        """Remove every rule and end every stall and trickle in progress."""
        with self._lock:
            self._rules.clear()
            release, self._release = self._release, threading.Event()
        release.set()

    def release(self) -> None:
        """End the stalls and trickles in progress (rules stay)."""
        with self._lock:
            release, self._release = self._release, threading.Event()
        release.set()

    def choose(self, method: str, target: str) -> tuple[Scenario, random.Random] | None:
        """The scenario for a request (counting it), or ``None`` to let it through."""
        with self._lock:
            self.requests += 1
            for rule in self._rules:
                if not rule.matches(method, target):
                    continue
                if rule.fraction < 1.0 and self._rng.random() >= rule.fraction:
                    continue
                rule.hits += 1
                name = rule.scenario.name
                self.injected[name] += 1
                self.events.append((method, target.split("?", 1)[0], name))
                return rule.scenario, random.Random(self._rng.getrandbits(64))
        return None

    # ----------------------------------------------------------------- WSGI

    def wrap(self, app: WSGIApp) -> WSGIApp:
        """``app`` behind this injector (a WSGI application)."""

        def faulty(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            return self.handle(environ, start_response, app)

        return faulty

    def handle(self, environ: Environ, start_response: StartResponse, app: WSGIApp) -> Any:
        """Serve one request: through a scenario when a rule takes it, else by ``app``."""
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        chosen = self.choose(method, _target(environ))
        if chosen is None:
            return app(environ, start_response)
        scenario, rng = chosen
        with self._lock:
            release = self._release
        log.debug("fault %s on %s %s", scenario.name, method, environ.get("PATH_INFO", ""))
        return scenario.run(FaultContext(environ, start_response, app, release, rng))

    def __repr__(self) -> str:
        return f"FaultInjector({len(self.rules)} rules, {dict(self.injected)})"


# --------------------------------------------------------------------------- proxy

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def _request_headers(environ: Environ) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
        elif key == "CONTENT_TYPE":
            name = "Content-Type"
        else:
            continue
        if name.lower() not in _HOP_BY_HOP and value != "":
            headers[name] = str(value)
    return headers


class _UploadBody:
    """A request body of known length, streamed to the upstream in 64 KiB pieces."""

    def __init__(self, stream: Any, length: int) -> None:
        self._stream = stream
        self._length = length

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        left = self._length
        while left > 0:
            data = self._stream.read(min(left, 65536))
            if not data:
                raise ConnectionAbortedError("the client sent a short body")
            left -= len(data)
            yield bytes(data)


class _ProxyHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        log.debug("proxy: " + message.rstrip(), *args)


class FaultProxy:
    """A loopback reverse proxy to ``upstream`` with a :class:`FaultInjector` in front.

    :param upstream: ``http://host:port`` of the real server (the Bridge).
    :param faults: the injector; a new one seeded with ``seed`` by default.
    :param host: address to bind (loopback).
    :param port: port to bind; 0 picks a free one.
    :param timeout: seconds to wait for the upstream.

    Requests are forwarded with their method, raw path and query, headers (hop-by-hop
    ones removed) and body; answers come back with their status, headers and body,
    streamed both ways. An unreachable upstream answers 502 ``{"error"}``.
    """

    def __init__(
        self,
        upstream: str,
        faults: FaultInjector | None = None,
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 30.0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults = faults if faults is not None else FaultInjector(seed=seed)
        self.host = host
        self._port = port
        self.timeout = timeout
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._session: requests.Session | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_port) if self._server is not None else self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FaultProxy:
        if self._server is not None:
            return self
        session = requests.Session()
        session.trust_env = False
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=64, max_retries=0)
        session.mount("http://", adapter)
        server = make_server(
            self.host,
            self._port,
            self.faults.wrap(self._forward),
            threaded=True,
            request_handler=_ProxyHandler,
        )
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"storj-faults-proxy-{server.server_port}",
            daemon=True,
        )
        self._session, self._server, self._thread = session, server, thread
        thread.start()
        return self

    def stop(self) -> None:
        server, thread, session = self._server, self._thread, self._session
        self._server = self._thread = self._session = None
        self.faults.release()
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        if session is not None:
            session.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _forward(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        session = self._session
        if session is None:
            raise ConnectionAbortedError("the proxy is stopping")
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        body: Any = None
        if environ.get("wsgi.input_terminated"):
            body = iter(lambda: environ["wsgi.input"].read(65536), b"")
        else:
            length = _content_length(environ.get("CONTENT_LENGTH")) or 0
            if length:
                body = _UploadBody(environ["wsgi.input"], length)
        try:
            answer = session.request(
                method,
                self.upstream + _target(environ),
                data=body,
                headers=_request_headers(environ),
                stream=True,
                allow_redirects=False,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            payload = json.dumps({"error": f"upstream unreachable: {exc}"}).encode("utf-8")
            start_response(
                "502 Bad Gateway",
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP]
        declared = answer.headers.get("Content-Length")
        if declared is not None:  # the body is relayed as received (still encoded)
            headers.append(("Content-Length", declared))
        start_response(f"{answer.status_code} {answer.reason or ''}".strip(), headers)
        return _relay(answer)


def _relay(answer: requests.Response) -> Iterator[bytes]:
    try:
        yield from answer.raw.stream(65536, decode_content=False)
    finally:
        answer.close()

"""HTTP server plumbing shared by the local Bridge and the farmers.

Both servers run werkzeug's threaded server (:class:`LimitedWSGIServer`, which caps the
connections served at once) with one request handler base, :class:`LocalRequestHandler`:
the request head must arrive in time (:class:`HeadDeadlineMixin`), a request whose
framing is ambiguous or malformed is refused before the application sees it
(:class:`RequestFramingMixin`, the request smuggling defence of RFC 9112), and the errors
the HTTP layer answers itself are JSON (:class:`JSONErrorMixin`) in the server's own
error shape. :func:`redact` takes the secrets out of every logged request line.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from werkzeug.serving import DechunkedInput, ThreadedWSGIServer, WSGIRequestHandler

if TYPE_CHECKING:
    _HandlerBase = BaseHTTPRequestHandler
else:
    _HandlerBase = object

__all__ = [
    "MAX_CONTENT_LENGTH",
    "Deadlines",
    "HeadDeadlineMixin",
    "InvalidJSON",
    "JSONErrorMixin",
    "LimitedWSGIServer",
    "LocalRequestHandler",
    "RequestFramingMixin",
    "framing_problem",
    "parse_json_body",
    "redact",
]


def _spelled(word: str) -> str:
    """A regex for ``word`` with any of its letters possibly percent-encoded."""
    return "".join(f"(?:{re.escape(c)}|%{ord(c):02x})" for c in word)


_SLASH = "(?:/|%2f)"
#: Path segments after which a Bridge route carries a secret token.
_TOKEN_ROUTES = ("activations", "deactivations", "resets")
_SECRET_IN_PATH = re.compile(
    f"({_SLASH}(?:{'|'.join(_spelled(w) for w in _TOKEN_ROUTES)}){_SLASH}+)"
    r"""(?:(?!%2f)[^/\s?#'"])+""",
    re.IGNORECASE,
)
_SECRET_IN_QUERY = re.compile(r"""((?:^|[?&;])token=)[^&;\s#'"]*""", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the secrets a request line can carry replaced by ``<token>``.

    The activation, deactivation and reset tokens of the Bridge's
    ``/activations/:token``, ``/deactivations/:token`` and ``/resets/:token`` routes
    (whatever their case, percent-encoded or not) and the value of a ``token`` query
    parameter (farmers' transfer tokens). Used on every line a server logs about a
    request: access lines, the HTTP layer's own errors, exceptions.
    """
    return _SECRET_IN_QUERY.sub(r"\1<token>", _SECRET_IN_PATH.sub(r"\1<token>", text))


class _Entry:
    __slots__ = ("action", "live", "seq", "when")

    def __init__(self, when: float, seq: int, action: Callable[[], None]) -> None:
        self.when = when
        self.seq = seq
        self.action = action
        self.live = True

    def __lt__(self, other: _Entry) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)


class Deadlines:
    """Run actions at deadlines from one daemon thread, with cheap cancellation.

    A server arms one deadline per request; a thread per deadline
    (``threading.Timer``) would cost a thread start and several context switches
    on every request. Cancelled entries are dropped lazily (and in bulk when they
    pile up), so :meth:`cancel` is O(1).
    """

    _COMPACT_AT = 1024

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[_Entry] = []
        self._cancelled = 0
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, action: Callable[[], None]) -> _Entry:
        """Run ``action()`` in ``delay`` seconds unless :meth:`cancel` is called first."""
        entry = _Entry(time.monotonic() + delay, next(self._seq), action)
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="storj-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0] is entry:
                self._cond.notify()
        return entry

    def cancel(self, entry: _Entry) -> None:
        """Forget ``entry`` (harmless if it already ran or was cancelled)."""
        with self._cond:
            if not entry.live:
                return
            entry.live = False
            self._cancelled += 1
            if self._cancelled > self._COMPACT_AT and self._cancelled * 2 > len(self._heap):
                self._heap = [e for e in self._heap if e.live]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and not self._heap[0].live:
                        heapq.heappop(self._heap)
                        self._cancelled = max(0, self._cancelled - 1)
                    if not self._heap:
                        self._cond.wait()
                        continue
                    delay = self._heap[0].when - time.monotonic()
                    if delay <= 0:
                        break
                    self._cond.wait(delay)
                entry = heapq.heappop(self._heap)
                entry.live = False
            try:
                entry.action()
            except Exception:  # noqa: S110 - an action must never stop the other deadlines
                pass


#: The deadlines of every server in this process.
_DEADLINES = Deadlines()


class HeadDeadlineMixin:
    """Bound the time a client may take to send a request line and its headers.

    A socket timeout only bounds each read, so a client trickling its request head one
    byte at a time (slowloris) would hold a server thread for ever. With this mixin on
    a ``BaseHTTPRequestHandler`` subclass, the whole head must arrive within
    ``head_timeout`` seconds of the handler starting to wait for it; otherwise the
    connection is shut down. The body is bounded by the handler's per-read timeout.
    All handlers share one deadline thread (:class:`Deadlines`).
    """

    head_timeout: float = 60.0
    connection: socket.socket
    _head_deadline: _Entry | None = None

    def handle_one_request(self) -> None:
        self._head_deadline = _DEADLINES.call_later(self.head_timeout, self._cut_off_slow_head)
        try:
            super().handle_one_request()  # type: ignore[misc]
        finally:
            self._disarm_head_deadline()

    def parse_request(self) -> bool:
        # The request line has arrived; the headers are read by the parser itself,
        # so the deadline stays armed until it returns.
        parsed: bool = super().parse_request()  # type: ignore[misc]
        self._disarm_head_deadline()
        return parsed

    def _disarm_head_deadline(self) -> None:
        entry = self._head_deadline
        if entry is not None:
            self._head_deadline = None
            _DEADLINES.cancel(entry)

    def _cut_off_slow_head(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class LimitedWSGIServer(ThreadedWSGIServer):
    """werkzeug's threaded server with at most ``max_connections`` connections served.

    One thread serves each accepted connection, so the cap also bounds the threads. A
    connection beyond it gets an immediate ``503 {"error": ...}`` with ``Retry-After``
    from the accepting thread and is closed a second later (closing at once, with the
    client's request still unread, would answer it with a reset that can destroy the
    503 before the client reads it). The server's own log lines (werkzeug's "Error on
    request") go to ``logger``, redacted.
    """

    #: Refused connections waiting for their delayed close; past it they close at once.
    max_lingering = 1024

    def __init__(
        self,
        host: str,
        port: int,
        app: Any,
        handler: type[WSGIRequestHandler],
        *,
        max_connections: int,
        logger: logging.Logger,
    ) -> None:
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise ValueError("max_connections must be a positive integer")
        if max_connections < 1:
            raise ValueError("max_connections must be a positive integer")
        super().__init__(host, port, app, handler)
        self.max_connections = max_connections
        self.logger = logger
        self._limit_lock = threading.Lock()
        self._active = 0
        self._lingering = 0

    @property
    def active_connections(self) -> int:
        """Connections being served now."""
        return self._active

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._limit_lock:
            full = self._active >= self.max_connections
            if not full:
                self._active += 1
        if full:
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self) -> None:
        with self._limit_lock:
            self._active -= 1

    def _refuse(self, sock: socket.socket) -> None:
        body = json.dumps(
            {
                "error": f"The server is busy: it serves at most {self.max_connections} "
                "connections at once; try again in a moment"
            }
        ).encode("utf-8")
        head = (
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Retry-After: 1\r\n"
            "Connection: close\r\n\r\n"
        ).encode("ascii")
        try:
            sock.setblocking(False)
            sock.send(head + body)  # a fresh socket's send buffer holds it
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self._limit_lock:
            linger = self._lingering < self.max_lingering
            if linger:
                self._lingering += 1
        if not linger:
            sock.close()
            return
        _DEADLINES.call_later(1.0, lambda: self._close_refused(sock))

    def _close_refused(self, sock: socket.socket) -> None:
        try:
            while sock.recv(65536):  # drop what the client sent, then close quietly
                pass
        except OSError:
            pass
        finally:
            sock.close()
            with self._limit_lock:
                self._lingering -= 1

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        text = message % args if args else message
        level = getattr(logging, type.upper(), logging.INFO)
        self.logger.log(level if isinstance(level, int) else logging.INFO, "%s", redact(text))
#: The largest ``Content-Length`` the servers parse (the store's signed 64-bit range);
#: a larger one is answered 413 before anything is read.
MAX_CONTENT_LENGTH = 2**63 - 1
_DIGITS = re.compile(r"[0-9]+")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
#: Most bytes of an unread request body discarded after an early error answer, so that
#: closing the socket does not reset the connection before the client has read the
#: answer.
_DRAIN_BYTES = 1024 * 1024


def framing_problem(
    request_version: str,
    target: str,
    headers: Message,
    raw_lines: Iterable[bytes] = (),
) -> tuple[int, str] | None:
    """What is wrong with a request head (its version, request target and headers as
    parsed by ``http.server``, and the header lines as received), as ``(status,
    message)``; ``None`` when it is sound.

    The rules (RFC 9112 §3-§6, RFC 9110 §5.5 and §8.6) that keep a request from being
    read two ways (request smuggling):

    * the request target is printable ASCII (other bytes are percent-encoded), so the
      servers never have to guess the encoding of a raw byte (400);
    * every header line is ``name: value`` on one line: a line without a colon,
      whitespace before the colon, a header block starting with whitespace, or a CR
      that does not end the line is refused (400), so is a line continued on the next
      one (obsolete line folding, 400);
    * header values hold no NUL (400);
    * ``Transfer-Encoding`` must be exactly ``chunked`` (the only coding the servers
      decode): another or an unknown coding, or ``chunked`` not last or not alone, is
      refused (400), so is any ``Transfer-Encoding`` in an HTTP/1.0 request and a
      request that has both ``Transfer-Encoding`` and ``Content-Length`` (400);
    * ``Content-Length`` is sent at most once and is a decimal number (400); one
      above :data:`MAX_CONTENT_LENGTH` gets 413.
    """
    if not target.isascii() or _CONTROL.search(target):
        return 400, "Malformed request target: percent-encode bytes that are not printable ASCII"
    if (
        headers.defects
        or headers.get_payload()
        or any(b"\r" in line.removesuffix(b"\n").removesuffix(b"\r") for line in raw_lines)
    ):
        return 400, "Malformed header line: send each header as 'Name: value' on one line"
    for _name, value in headers.items():
        if "\r" in value or "\n" in value:
            return 400, "Obsolete line folding is not accepted: send each header on one line"
        if "\x00" in value:
            return 400, "Header values must not contain NUL characters"
    encodings = headers.get_all("Transfer-Encoding") or []
    lengths = headers.get_all("Content-Length") or []
    if encodings:
        if _version(request_version) < (1, 1):
            return 400, "Transfer-Encoding is not allowed in an HTTP/1.0 request"
        if lengths:
            return 400, "A request must not have both Content-Length and Transfer-Encoding"
        codings = [c.strip(" \t").lower() for v in encodings for c in v.split(",")]
        codings = [c for c in codings if c]
        if codings != ["chunked"]:
            if not codings or codings[-1] != "chunked":
                return 400, "Transfer-Encoding must end with chunked"
            return 400, "Unsupported Transfer-Encoding: only chunked is accepted"
    if len(lengths) > 1:
        return 400, "Content-Length must be sent once"
    if lengths:
        value = lengths[0].strip(" \t")
        if not _DIGITS.fullmatch(value):
            return 400, "Invalid Content-Length: expected a decimal number of bytes"
        if len(value.lstrip("0")) > 19 or int(value) > MAX_CONTENT_LENGTH:
            return 413, "Content-Length is larger than this server accepts"
    return None


def _version(request_version: str) -> tuple[int, int]:
    """``(1, 1)`` for ``HTTP/1.1``; ``(0, 9)`` for anything unreadable."""
    try:
        major, minor = request_version.split("/", 1)[1].split(".")
        return int(major), int(minor)
    except (IndexError, ValueError):
        return 0, 9


class _LineRecorder:
    """A binary stream that remembers the lines read with ``readline``."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.lines: list[bytes] = []

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self.stream.readline(limit)
        self.lines.append(line)
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class RequestFramingMixin(_HandlerBase):
    """Refuse, on a ``BaseHTTPRequestHandler`` subclass, every request whose head
    :func:`framing_problem` objects to: the error is sent with :meth:`send_error`
    (which closes the connection) and the application never runs.

    With ``Expect: 100-continue`` the check runs before ``100 Continue`` is sent, so a
    refused client is not invited to send its body.
    """

    _head_lines: list[bytes]

    def parse_request(self) -> bool:
        # ``http.server`` hands the header lines to the e-mail parser, which splits
        # them at a bare CR too: record them as received to see those.
        recorder = _LineRecorder(self.rfile)
        self._head_lines = recorder.lines
        self.rfile = recorder  # type: ignore[assignment]
        try:
            if not super().parse_request():
                return False
        finally:
            self.rfile = recorder.stream
        return self._framing_ok()

    def handle_expect_100(self) -> bool:
        if not self._framing_ok():
            return False
        return super().handle_expect_100()

    def _framing_ok(self) -> bool:
        problem = framing_problem(self.request_version, self.path, self.headers,
                                  self._head_lines)
        if problem is None:
            return True
        self.close_connection = True
        self.send_error(*problem)
        return False


class JSONErrorMixin(_HandlerBase):
    """Errors the HTTP layer answers itself (unparsable request line, oversized or
    malformed headers, framing problems) as JSON, never the HTML page of
    ``http.server``, and always with ``Connection: close``.

    The body is :meth:`error_payload` (``{"error": message}``; a server with another
    error shape overrides it). Before the socket is closed, what the client already
    sent of its body is read and dropped (bounded), so that the close does not reset
    the connection before the client has read the answer.
    """

    def error_payload(self, message: str) -> dict[str, Any]:
        """The JSON body of an HTTP-layer error."""
        return {"error": message}

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        try:
            short, _ = self.responses.get(code, ("Error", ""))
        except AttributeError:
            short = "Error"
        body = json.dumps(self.error_payload(message or short)).encode("utf-8")
        self.log_error("code %d, message %s", code, message)
        self.send_response(code, short)
        self.send_header("Connection", "close")
        if code >= 200 and code not in (204, 304):
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)
        self._discard_pending_input()

    def _discard_pending_input(self) -> None:
        try:
            self.wfile.flush()
            with selectors.DefaultSelector() as selector:
                selector.register(self.connection, selectors.EVENT_READ)
                left = _DRAIN_BYTES
                while left > 0 and selector.select(timeout=0.01):
                    data = self.connection.recv(min(left, 65536))
                    if not data:
                        break
                    left -= len(data)
        except (OSError, ValueError):
            pass


class LocalRequestHandler(
    HeadDeadlineMixin, RequestFramingMixin, JSONErrorMixin, WSGIRequestHandler
):
    """The werkzeug request handler of the local Bridge and the farmers: a bounded
    request head, strict request framing and JSON errors from the HTTP layer."""

    def make_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().make_environ()
        if "HTTP_TRANSFER_ENCODING" in environ and not environ.get("wsgi.input_terminated"):
            # framing_problem let only "chunked" through, in any letter case (RFC 9112
            # §7); werkzeug only decodes the lowercase spelling: decode the others too.
            environ["HTTP_TRANSFER_ENCODING"] = "chunked"
            environ["wsgi.input_terminated"] = True
            environ["wsgi.input"] = DechunkedInput(environ["wsgi.input"])
        return environ


class InvalidJSON(ValueError):  # noqa: N818 - reads as what it is: invalid JSON
    """A request body that is not strict JSON text.

    ``detail`` says what is wrong when it is more than a syntax error (``None`` for a
    plain syntax or encoding error).
    """

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "invalid JSON")
        self.detail = detail


def _no_constant(name: str) -> Any:
    raise InvalidJSON(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise InvalidJSON(f"the number {text[:40]} is too large")
    return value


def _check_strings(value: Any) -> None:
    """Raise :class:`InvalidJSON` when a string (key or value) anywhere in ``value`` is
    not Unicode text, i.e. holds a lone surrogate from an escape like ``"\\ud800"``
    (what no UTF-8 store or answer can carry)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise InvalidJSON(
                        "a string holds an unpaired surrogate escape (\\ud800-\\udfff), "
                        "which is not Unicode text"
                    ) from None
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_json_body(data: bytes) -> Any:
    """``data`` (UTF-8 JSON text, RFC 8259) as Python values, strictly.

    Unlike ``json.loads``, refuses ``NaN``/``Infinity``, numbers too large for a float,
    and strings that are not Unicode text (lone surrogate escapes), so that every value
    that gets through can be stored and sent back as JSON.

    :raises InvalidJSON: not UTF-8, not JSON, nested too deeply, or one of the above.
    """
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_no_constant,
                           parse_float=_finite_float)
    except InvalidJSON:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidJSON() from None
    _check_strings(value)
    return value

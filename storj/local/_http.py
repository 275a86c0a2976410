"""HTTP server plumbing shared by the local Bridge and the farmers: request-head
deadlines, a cap on concurrent connections, and redaction of secrets in logged lines."""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

__all__ = ["Deadlines", "HeadDeadlineMixin", "LimitedWSGIServer", "redact"]


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

"""HTTP server plumbing shared by the local Bridge and the farmers."""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable

__all__ = ["Deadlines", "HeadDeadlineMixin"]


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

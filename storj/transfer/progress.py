"""Progress reporting and cancellation for transfers.

``progress`` is any callable ``progress(bytes_done, bytes_total)``. The engine calls
it only from the thread that started the transfer (the caller's), with
``bytes_done`` never decreasing, at most every :data:`MIN_INTERVAL` seconds, and a
last time with exactly ``(bytes_total, bytes_total)`` when the transfer succeeds.
Workers only add to a shared counter (:class:`ProgressMeter`); a shard that is
retried takes its bytes back, and the reported value is clamped so it never goes
backwards.

``cancel`` is any object with ``is_set()`` (a :class:`threading.Event`). The
caller's thread polls it and turns it into an :class:`Abort`, which every worker
checks between chunks and which closes in-flight sockets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from storj.exception import TransferCancelledError

__all__ = ["Abort", "Aborted", "CancelToken", "ProgressCallback", "ProgressMeter"]

#: Seconds between two progress calls (the final call is never delayed).
MIN_INTERVAL = 0.05


@runtime_checkable
class ProgressCallback(Protocol):
    """``progress(bytes_done, bytes_total)``."""

    def __call__(self, bytes_done: int, bytes_total: int) -> None: ...


@runtime_checkable
class CancelToken(Protocol):
    """Anything with ``is_set()``, e.g. :class:`threading.Event`."""

    def is_set(self) -> bool: ...


class ProgressMeter:
    """A thread-safe byte counter reported from one thread.

    :param total: the value the transfer ends at.
    :param callback: the user's ``progress`` callable, or ``None``.
    """

    def __init__(
        self,
        total: int,
        callback: Callable[[int, int], None] | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self._callback = callback
        self._clock = clock
        self._lock = threading.Lock()
        self._value = 0
        self._reported = -1
        self._last_call = float("-inf")

    def add(self, n: int) -> None:
        """Count ``n`` more bytes (negative to take back bytes of a failed attempt)."""
        with self._lock:
            self._value += n

    @property
    def value(self) -> int:
        """The current (unclamped) count."""
        return self._value

    def poll(self) -> None:
        """Report the count if it grew and :data:`MIN_INTERVAL` has passed (caller's thread)."""
        if self._callback is None:
            return
        now = self._clock()
        if now - self._last_call < MIN_INTERVAL:
            return
        done = min(max(self._value, 0), self.total)
        if done > self._reported and done < self.total:
            self._reported = done
            self._last_call = now
            self._callback(done, self.total)

    def finish(self) -> None:
        """Report ``(total, total)`` (once) after success."""
        if self._callback is not None and self._reported != self.total:
            self._reported = self.total
            self._callback(self.total, self.total)


class Aborted(Exception):  # noqa: N818 - an internal control-flow signal, not an error
    """Raised inside workers when the transfer was aborted; never escapes the engine."""


class Abort:
    """The shared "stop now" flag of one transfer.

    :meth:`set` records the first reason (an exception the caller's thread raises)
    and runs the registered callbacks, which close sockets so blocked reads and
    writes return at once. Workers call :meth:`check` between chunks.
    """

    def __init__(self, cancel: CancelToken | None = None) -> None:
        self._cancel = cancel
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next = 0
        self.reason: BaseException | None = None

    def is_set(self) -> bool:
        """Whether the transfer must stop."""
        return self._event.is_set()

    def poll_cancel(self) -> bool:
        """Check the caller's cancel token (call from the caller's thread); True if aborted."""
        if not self._event.is_set() and self._cancel is not None and self._cancel.is_set():
            self.set(TransferCancelledError("the transfer was cancelled"))
        return self._event.is_set()

    def set(self, reason: BaseException) -> None:
        """Stop the transfer because of ``reason`` (the first reason is kept)."""
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            callbacks = list(self._callbacks.values())
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001, S110 - closing a socket that is already gone
                pass

    def check(self) -> None:
        """Raise :class:`Aborted` if the transfer must stop."""
        if self._event.is_set():
            raise Aborted()

    def register(self, callback: Callable[[], None]) -> int:
        """Run ``callback`` when the transfer is aborted (at once if it already is)."""
        with self._lock:
            if not self._event.is_set():
                key = self._next
                self._next += 1
                self._callbacks[key] = callback
                return key
        callback()
        return -1

    def unregister(self, key: int) -> None:
        """Forget a callback registered with :meth:`register`."""
        with self._lock:
            self._callbacks.pop(key, None)

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking early if aborted; True if aborted."""
        return self._event.wait(timeout)

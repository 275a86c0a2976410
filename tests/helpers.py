"""Timing helpers shared by the tests: no assertion may depend on how fast the machine is.

* :func:`wait_until` polls a condition with a generous deadline instead of sleeping for
  a guessed time ("let the background thread finish"): fast on a fast machine, and a
  busy CI machine only makes it wait longer, never fail.
* :class:`FakeClock` replaces ``time.time``/``time.monotonic`` where the code under test
  takes a ``clock``: expiry and TTL checks are driven by :meth:`FakeClock.advance`, not
  raced against the wall clock.
* :func:`drain_pool` waits until a ``ThreadPoolExecutor`` has finished everything that
  was submitted to it, and :func:`settle_bridge` until a local Bridge has done all the
  background work its answers started: for "nothing (more) happened" checks.
* :class:`Stopwatch` measures CPU time next to wall-clock time, for "this is cheap"
  budgets that other processes loading the machine do not break.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = [
    "WAIT_TIMEOUT",
    "FakeClock",
    "Stopwatch",
    "drain_pool",
    "settle_bridge",
    "wait_until",
]

T = TypeVar("T")

#: Default deadline of :func:`wait_until`, in seconds: long enough for a loaded two-core
#: CI machine; a condition that holds returns at once, so passing tests never wait it out.
WAIT_TIMEOUT = 30.0


def wait_until(
    predicate: Callable[[], T],
    timeout: float = WAIT_TIMEOUT,
    *,
    interval: float = 0.01,
    message: str | None = None,
) -> T:
    """Call ``predicate`` until it returns something truthy and return that value.

    :raises AssertionError: still falsy after ``timeout`` seconds (``message``, or the
        predicate's name, says what was awaited).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"not true within {timeout:g} s: {what}")
        time.sleep(interval)


class FakeClock:
    """A clock that only moves when told: ``clock()`` returns the current time.

    Pass it where the code takes ``clock=time.time`` (or ``time.monotonic``); the start
    value defaults to the real ``time.time()`` so timestamps still look current (a
    farmer's signed ``x-node-timestamp`` must be within minutes of the Bridge's clock).
    Thread-safe: servers read it from their own threads.
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` forward (never back); return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += seconds
            return self._now


def drain_pool(pool: ThreadPoolExecutor, timeout: float = WAIT_TIMEOUT) -> None:
    """Return once every job submitted to ``pool`` before this call has finished.

    Occupies all of the pool's workers at once with jobs that meet at a barrier: the
    queue is first in, first out, so when every worker runs one of them, every earlier
    job has ended.

    :raises AssertionError: the workers did not all come free within ``timeout``.
    """
    workers = pool._max_workers  # a test helper may look inside
    barrier = threading.Barrier(workers + 1)
    futures = [pool.submit(barrier.wait, timeout) for _ in range(workers)]
    try:
        barrier.wait(timeout)
    except threading.BrokenBarrierError:
        raise AssertionError(f"the pool was still busy after {timeout:g} s") from None
    for future in futures:
        future.result(timeout)


def settle_bridge(bridge: Any, timeout: float = WAIT_TIMEOUT) -> None:
    """Return once a running :class:`~storj.local.bridge.BridgeServer` has acted on every
    exchange report it answered so far: the automatic mirrors deferred to a quiet moment
    have been submitted, and every background job (mirroring) has finished.

    For "nothing more happens" checks, instead of sleeping for a guessed time.
    """
    mirrors = bridge.services.mirrors
    wait_until(
        lambda: mirrors._releaser is None,  # the deferred mirrors were handed to the pool
        timeout,
        message="the Bridge submitted its deferred mirrors",
    )
    drain_pool(bridge.services.background, timeout)


class Stopwatch:
    """Wall-clock and CPU time of a block: ``with Stopwatch() as watch: ...``.

    ``watch.cpu`` is the CPU time of the whole process (every thread: the servers of a
    local network run in-process), which other processes loading the machine hardly
    change; use it for "this work is cheap" budgets, and ``watch.wall`` only for
    generous "this does not hang or wait" bounds.
    """

    wall: float
    cpu: float

    def __enter__(self) -> Stopwatch:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu

"""In-memory limiters of the local Bridge: failed authentications and one-time messages.

Both take the time from their caller (the Bridge's injectable ``Services.clock``), so
tests can move time instead of waiting, and both bound their own memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

__all__ = ["FailureLimiter", "SeenOnce"]


class FailureLimiter:
    """At most ``limit`` failures per key within ``window`` seconds.

    Only the newest ``limit`` failure times of a key are kept: the key is blocked while
    it has ``limit`` of them and the oldest is less than ``window`` old. At most
    ``max_keys`` keys are remembered; past that, keys whose failures all left the window
    are dropped first, then the least recently failed.
    """

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def blocked_for(self, key: str, now: float) -> float | None:
        """Seconds until ``key`` may try again, or ``None`` when it may now."""
        with self._lock:
            times = self._failures.get(key)
            if times is None or len(times) < self.limit:
                return None
            remaining = times[0] + self.window - now
            return remaining if remaining > 0 else None

    def record(self, key: str, now: float) -> None:
        """Count one failure of ``key`` at ``now``."""
        with self._lock:
            times = self._failures.get(key)
            if times is None:
                times = deque(maxlen=self.limit)
                self._failures[key] = times
            else:
                self._failures.move_to_end(key)
            times.append(now)
            if len(self._failures) > self.max_keys:
                self._forget(now)

    def _forget(self, now: float) -> None:
        stale = [k for k, t in self._failures.items() if not t or t[-1] + self.window <= now]
        for key in stale:
            del self._failures[key]
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)


class SeenOnce:
    """Remembers message digests until their expiry, so each is accepted only once.

    :meth:`first_use` is ``True`` the first time a digest is seen (and remembers it until
    ``expires``), ``False`` while it is remembered, and ``None`` when ``max_entries``
    live digests are already remembered (the caller refuses the message: forgetting
    one would let it be replayed).
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._expiry: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, digest: str, now: int, expires: int) -> bool | None:
        with self._lock:
            known = self._expiry.get(digest)
            if known is not None and known > now:
                return False
            while self._expiry and next(iter(self._expiry.values())) <= now:
                self._expiry.popitem(last=False)  # the oldest are usually the first to go
            if len(self._expiry) >= self.max_entries:
                for key in [k for k, e in self._expiry.items() if e <= now]:
                    del self._expiry[key]
                if len(self._expiry) >= self.max_entries:
                    return None
            self._expiry[digest] = expires
            return True

    def __len__(self) -> int:
        return len(self._expiry)

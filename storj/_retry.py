"""The retry policy for Bridge requests: a small immutable value object.

:class:`RetryPolicy` decides *whether* a failed attempt may be repeated and *how
long* to wait first; the client performs the attempts (re-signing each one with a
fresh nonce). ``increment()`` returns a new policy that remembers why each retry
happened, so one policy value can be shared by many threads.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import requests

__all__ = ["RetryPolicy", "never_sent", "parse_retry_after"]

#: Statuses worth repeating: the rate limiter (429) and transient server failures.
DEFAULT_STATUS_FORCELIST = frozenset({429, 500, 502, 503, 504})
#: Methods that are idempotent in the Bridge protocol as used by this client.
DEFAULT_ALLOWED_METHODS = frozenset({"GET", "PUT", "DELETE"})


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header (delta-seconds or an HTTP date).

    Returns ``None`` for a missing or unparsable value, and never a negative number.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - now()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


def never_sent(exc: BaseException | None) -> bool:
    """True when a failed request certainly never reached the Bridge.

    That is a connect timeout, a refused connection or a failed name lookup (the
    ``requests``/``urllib3`` exception, or the ``cause`` of a
    :class:`~storj.exception.BridgeTransportError`). Such a request is safe to repeat
    whatever its method, and the :class:`~storj.http.Client` already did so.
    """
    if exc is None:
        return False
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return type(reason).__name__ in {"NewConnectionError", "NameResolutionError"}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to repeat a failed Bridge request.

    :param total: retries allowed after the first attempt (``0`` disables retrying).
    :param backoff_factor: the n-th retry waits ``backoff_factor * 2 ** (n - 1)`` seconds
        (0.2, 0.4, 0.8, … by default), at most ``backoff_max``.
    :param status_forcelist: HTTP statuses that cause a retry. 429 is retried for every
        method (the Bridge rejected the request before doing anything); the others only
        for requests that are safe to repeat.
    :param allowed_methods: methods considered safe to repeat unless a call says otherwise.
    :param respect_retry_after: wait as long as a ``Retry-After`` header asks, up to
        ``retry_after_max`` seconds.
    :param history: reasons of the retries made so far (filled by :meth:`increment`).
    """

    total: int = 3
    backoff_factor: float = 0.2
    backoff_max: float = 10.0
    status_forcelist: frozenset[int] = DEFAULT_STATUS_FORCELIST
    allowed_methods: frozenset[str] = DEFAULT_ALLOWED_METHODS
    respect_retry_after: bool = True
    retry_after_max: float = 30.0
    history: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.total, bool) or not isinstance(self.total, int) or self.total < 0:
            raise ValueError(f"RetryPolicy.total must be an int >= 0, not {self.total!r}")
        if self.backoff_factor < 0 or self.backoff_max < 0 or self.retry_after_max < 0:
            raise ValueError("RetryPolicy delays must not be negative")
        object.__setattr__(self, "status_forcelist", frozenset(self.status_forcelist))
        object.__setattr__(
            self, "allowed_methods", frozenset(m.upper() for m in self.allowed_methods)
        )

    @classmethod
    def coerce(cls, retries: int | RetryPolicy | None) -> RetryPolicy:
        """A policy from the ``retries`` argument of the client (an int, a policy or None)."""
        if isinstance(retries, RetryPolicy):
            return retries
        if retries is None:
            return cls(total=0)
        return cls(total=retries)

    @property
    def attempts(self) -> int:
        """Attempts one request gets at most: the first one plus :attr:`total` retries."""
        return 1 + self.total

    @property
    def retries_made(self) -> int:
        """How many retries this policy has already allowed."""
        return len(self.history)

    def can_retry(self) -> bool:
        """True while retries are left."""
        return len(self.history) < self.total

    def is_safe(self, method: str, idempotent: bool | None = None) -> bool:
        """Whether a request may be sent again after it might have reached the Bridge."""
        if idempotent is not None:
            return idempotent
        return method.upper() in self.allowed_methods

    def should_retry_status(self, status: int, *, safe: bool) -> bool:
        """Whether an answer with ``status`` is worth another attempt."""
        if status not in self.status_forcelist or not self.can_retry():
            return False
        return safe or status == 429

    def increment(self, reason: str) -> RetryPolicy:
        """A new policy with one more retry recorded."""
        return replace(self, history=(*self.history, reason))

    def backoff(self) -> float:
        """Delay before the next retry, from the number of retries made so far."""
        return min(self.backoff_max, self.backoff_factor * (2 ** len(self.history)))

    def delay(self, retry_after: str | None = None) -> float:
        """Seconds to sleep before the next attempt (``Retry-After`` wins when respected)."""
        if self.respect_retry_after:
            asked = parse_retry_after(retry_after)
            if asked is not None:
                return min(asked, self.retry_after_max)
        return self.backoff()

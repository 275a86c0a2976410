"""Per-user transfer counters and the free-tier quotas (§1.3, §9).

Counters ``{lastHourStarted, lastHourBytes, lastDayStarted, lastDayBytes,
lastMonthStarted, lastMonthBytes}`` are kept for uploads (``PUT /frames/:id`` adds the
shard size) and downloads (pointer requests add the pointers' sizes) and reset lazily
when their window has passed. Quotas are enforced only with
``BridgeConfig.enforce_transfer_limits`` (a local network is usually unlimited).
"""

from __future__ import annotations

from typing import Any

from storj.local.bridge.store import Row, Store

__all__ = ["LIMITS", "over_limit", "record_transfer", "roll"]

_HOUR = 3_600_000
_DAY = 24 * _HOUR
_MONTH = 30 * _DAY
_WINDOWS = (("lastHour", _HOUR), ("lastDay", _DAY), ("lastMonth", _MONTH))

#: Free-tier limits per window (hour, day, month) in bytes.
LIMITS: dict[str, tuple[int, int, int]] = {
    "bytes_uploaded": (3_000_000_000, 10_000_000_000, 60_000_000_000),
    "bytes_downloaded": (9_000_000_000, 30_000_000_000, 180_000_000_000),
}


def roll(counters: dict[str, Any] | None, now: int) -> dict[str, int]:
    """Counters with every elapsed window restarted at ``now``."""
    out: dict[str, int] = {}
    for name, length in _WINDOWS:
        started = (counters or {}).get(f"{name}Started")
        used = int((counters or {}).get(f"{name}Bytes", 0) or 0)
        if not isinstance(started, int) or now - started >= length:
            started, used = now, 0
        out[f"{name}Started"] = started
        out[f"{name}Bytes"] = used
    return out


def over_limit(user: Row, column: str, now: int) -> bool:
    """True when a free-tier user has used up a window of ``column``."""
    if not user.get("is_free_tier"):
        return False
    counters = roll(user.get(column), now)
    return any(
        counters[f"{name}Bytes"] >= limit
        for (name, _), limit in zip(_WINDOWS, LIMITS[column], strict=True)
    )


def record_transfer(store: Store, email: str, column: str, nbytes: int, now: int) -> None:
    """Add ``nbytes`` to every window of the user's ``column`` counters."""

    def update(current: Any, amount: int) -> dict[str, int]:
        counters = roll(current, now)
        for name, _ in _WINDOWS:
            counters[f"{name}Bytes"] += amount
        return counters

    store.add_transfer(email, column, nbytes, update)

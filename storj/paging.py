"""Paging through the Bridge's ``startDate`` listings without dropping or repeating entries.

The 2018 Bridge caps ``GET /buckets`` (5000) and ``GET /buckets/:id/files`` (2000),
sorts by ``created`` ascending and, given ``?startDate=``, returns only entries with
``created > startDate``. Entries created in the same millisecond can straddle a page
boundary, so :class:`DatePager` asks the next page from one millisecond *before* the
last entry's ``created`` and skips the ids it has already returned at that millisecond.

It stops when a page brings nothing new (which also ends the listing on the 2016
Bridge, which ignores ``startDate`` and returns everything at once) or when entries
carry no ``created`` (nothing to page by). When a whole full page shares one
millisecond and brings nothing new, no request can reach the entries behind it: it
raises :class:`~storj.exception.BridgeResponseError` instead of looping or dropping.

Memory is bounded by a page: only the ids at the boundary millisecond are kept.
The class is pure (it never sends anything); :class:`storj.http.Client` drives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Generic, Protocol, TypeVar

from storj.exception import BridgeResponseError
from storj.model import format_timestamp

__all__ = ["DatePager", "Dated", "start_date_param"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Dated(Protocol):
    """A listed record: an id and a creation time (both may be missing on old Bridges)."""

    @property
    def id(self) -> str | None: ...

    @property
    def created(self) -> datetime | None: ...


D = TypeVar("D", bound=Dated)


def _ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(milliseconds=1)


def start_date_param(epoch_ms: int) -> str:
    """The ``startDate`` query value for "created after ``epoch_ms``": RFC 3339 with
    milliseconds, as the Bridge writes dates (``"2018-01-02T03:04:05.678Z"``)."""
    return format_timestamp(_EPOCH + timedelta(milliseconds=epoch_ms))


class DatePager(Generic[D]):
    """The state of one paged listing.

    Call :meth:`accept` with each page the Bridge returns, in order; it returns the
    entries not seen before. Ask the next page with ``startDate=`` :attr:`start_date`
    while :attr:`done` is false.

    :param limit: the Bridge's page cap for this listing (5000 buckets, 2000 files on
        the 2018 Bridge): a page this long that shares one millisecond may hide more
        entries of that millisecond.
    :param what: what is listed, for the error message (``"files of bucket …"``).
    """

    def __init__(self, limit: int, what: str = "entries") -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive int, not {limit!r}")
        self.limit = limit
        self.what = what
        self.done = False
        self._boundary: int | None = None  # epoch ms of the newest entry returned
        self._seen: set[str] = set()  # ids returned at that millisecond

    @property
    def start_date(self) -> str | None:
        """``startDate`` of the next request (``None``: the first page)."""
        if self._boundary is None:
            return None
        return start_date_param(self._boundary - 1)

    def _is_new(self, entry: D, created: int) -> bool:
        if self._boundary is None or created > self._boundary:
            return True
        return created == self._boundary and entry.id not in self._seen

    def accept(self, page: Sequence[D]) -> list[D]:
        """The entries of ``page`` not returned before; updates :attr:`done`.

        :raises BridgeResponseError: a full page of one millisecond brought nothing new
            (the listing cannot go on without dropping entries).
        """
        if self.done:
            raise RuntimeError("the listing is complete; start a new DatePager")
        if not page:
            self.done = True
            return []
        stamps = [e.created for e in page]
        if any(s is None for s in stamps):
            # Nothing to page by (2016 Bridge): this page is the whole listing.
            self.done = True
            return [e for e in page if e.id not in self._seen] if self._boundary else list(page)
        times = [_ms(s) for s in stamps if s is not None]
        fresh = [e for e, t in zip(page, times, strict=True) if self._is_new(e, t)]
        if not fresh:
            self.done = True
            if len(page) >= self.limit and all(t == self._boundary for t in times):
                raise BridgeResponseError(
                    f"cannot list all {self.what}: more than {self.limit} were created in "
                    f"the same millisecond ({start_date_param(times[0])}) and the Bridge "
                    "pages by creation time only, so the ones after this page cannot be "
                    "asked for; list them in smaller groups or ask the Bridge's operator"
                )
            return []
        newest = max(times)
        if newest != self._boundary:
            self._boundary, self._seen = newest, set()
        self._seen.update(str(e.id) for e, t in zip(page, times, strict=True) if t == newest)
        return fresh

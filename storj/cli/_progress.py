"""Progress bars: adapts the library's ``progress(bytes_done, bytes_total)`` callback to tqdm.

Bars go to stderr and only when stderr is a terminal and ``-q`` was not given, so
scripts and pipes get clean output.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import IO

from tqdm import tqdm


def bars_enabled(quiet: bool, stream: IO[str] | None = None) -> bool:
    """True when progress bars should be drawn: not quiet and the stream is a TTY."""
    if quiet:
        return False
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed stream
        return False


class ProgressBar:
    """A callable ``progress(done, total)`` that draws a tqdm bar (bytes, rate, ETA).

    The bar is created on the first call (when the total is known). ``done`` is
    cumulative; the bar follows it even if it moves backwards (a retried shard).
    A disabled bar does nothing, so callers never branch.
    """

    def __init__(self, description: str, *, enabled: bool, stream: IO[str] | None = None) -> None:
        self.description = description
        self.enabled = enabled
        self.stream = stream
        self._bar: tqdm | None = None
        self.done = 0
        self.total: int | None = None

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        if not self.enabled:
            return
        if self._bar is None:
            self._bar = tqdm(
                total=total,
                desc=self.description,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=self.stream if self.stream is not None else sys.stderr,
                leave=True,
                dynamic_ncols=True,
            )
        elif self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)  # respects tqdm's refresh interval

    def close(self) -> None:
        """Finish the bar (leaves the last line on screen)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

"""The knobs of the transfer engine: :class:`TransferConfig`.

The defaults are libstorj's (``bridge-protocol.md`` §8.4) except the concurrency,
which is sized for a laptop rather than for libstorj's 32/24 in-flight transfers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["DEFAULT_CONFIG", "TransferConfig"]

_MIB = 1024 * 1024

#: Reed–Solomon stripes use at most this many ``io_chunk_size`` buffers in total
#: (split across all data and parity shards), whatever the shard count.
RS_BUFFER_CHUNKS = 16
#: Smallest Reed–Solomon stripe (bytes per shard per step).
MIN_RS_STRIPE = 64 * 1024
#: Slowest rate (bytes/s) :meth:`TransferConfig.deadline_for` allows for, even when the
#: low-speed rule is off.
MIN_DEADLINE_RATE = 1024


def _positive_int(name: str, value: object, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"TransferConfig.{name} must be an int >= {minimum}, not {value!r}")


def _positive_number(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"TransferConfig.{name} must be a positive number, not {value!r}")


@dataclass(frozen=True, kw_only=True)
class TransferConfig:
    """How uploads and downloads run.

    Memory bound: a transfer holds at most about
    ``(2 · shard_concurrency + 10 + 16) · io_chunk_size`` bytes of buffers — two
    buffers per concurrent shard transfer, two per hashing thread (at most four) plus
    one for the Reed–Solomon reader, and at most 16 chunks' worth of Reed–Solomon
    stripes (split over all shards) — plus the HTTP stacks' own small buffers. With
    the defaults that is about 34 MiB, whatever the file size. Shards are never held
    in memory whole. An upload reads a regular file where it lies, encrypting it again
    each time shard bytes are needed (AES-CTR starts at any offset), and writes only
    the parity shards to a temporary file in :attr:`tmp_dir`; any other source is
    first encrypted into a temporary copy, the only one. A download writes each
    verified chunk straight to its place in the destination's temporary file. Disk
    use during an upload is therefore the parity size, plus the file size for a
    source that is not a regular file.

    :param shard_concurrency: shards transferred at the same time (threads).
    :param max_push_attempts: contract negotiations per shard (``PUT /frames/:id``); a
        farmer that fails a transfer is added to ``exclude`` and another one is asked
        for (libstorj ``STORJ_MAX_PUSH_FRAME_COUNT``).
    :param bridge_attempts: ``None`` (default): every Bridge request of a transfer is
        tried as often as the client's :class:`~storj.http.RetryPolicy` allows —
        ``1 + retries`` times, 4 with ``Client(retries=3)`` — and no more: the engine
        adds no retry layer of its own (see :ref:`transfer-retries`). An int ``n``
        (kept from earlier versions, where it was a second layer multiplying the
        client's) now means the same policy with ``n - 1`` retries for this transfer's
        Bridge requests, so each is tried at most ``n`` times; prefer
        ``Client(retries=...)``.
    :param pointer_replacements: how many times a download asks for another farmer
        for one shard (``limit=1&skip=i&exclude=…``) before giving the shard up.
    :param timeout: seconds to wait for a farmer to connect or to answer.
    :param low_speed_limit: bytes per second; a farmer transfer slower than this for
        :attr:`low_speed_time` seconds is aborted (libstorj/curl: 30720 B/s for 20 s).
    :param low_speed_time: see :attr:`low_speed_limit`.
    :param shard_deadline: seconds one shard transfer with a farmer may take in total
        (connecting, sending the request, the farmer's headers and the body), whatever
        the per-read :attr:`timeout` and the low-speed rule allow: a farmer trickling its
        answer headers, for instance, is cut off then
        (:class:`~storj.exception.FarmerTimeoutError`). ``None`` (default) computes it per
        shard with :meth:`deadline_for`: never shorter than a transfer the low-speed rule
        lets through.
    :param erasure: add Reed–Solomon parity shards; ``None`` (default) does as
        libstorj: parity for files of 2 MiB and more.
    :param challenges: audit challenges per shard (libstorj: 4).
    :param io_chunk_size: bytes per read, hash, encryption and socket call.
    :param tmp_dir: directory for temporary files; ``None`` uses :func:`tempfile.gettempdir`.
    :param verify_hmac: check the file's HMAC-SHA512 (over all shard hashes) before a
        download is declared good. Entries made before 2017 have none and are accepted.
    :param pointer_page_size: pointers asked for per ``GET /buckets/:id/files/:id``.
    :param report_exchanges: send exchange reports (``POST /reports/exchanges``) after
        each farmer transfer, as libstorj does.
    :param prefer_channels: download a shard whose pointer carries both a ``farmer``
        contact and a legacy ``channel`` (``ws://…``, ``bridge-protocol.md`` §6.6) over
        the channel instead of HTTP. A pointer with a ``channel`` and no ``farmer`` (the
        pre-December-2016 shape) is always downloaded over its channel.
    """

    shard_concurrency: int = 4
    max_push_attempts: int = 6
    bridge_attempts: int | None = None
    pointer_replacements: int = 5
    timeout: float = 60.0
    low_speed_limit: int = 30720
    low_speed_time: float = 20.0
    shard_deadline: float | None = None
    erasure: bool | None = None
    challenges: int = 4
    io_chunk_size: int = _MIB
    tmp_dir: str | os.PathLike[str] | None = None
    verify_hmac: bool = True
    pointer_page_size: int = 6
    report_exchanges: bool = True
    prefer_channels: bool = False

    def __post_init__(self) -> None:
        _positive_int("shard_concurrency", self.shard_concurrency)
        _positive_int("max_push_attempts", self.max_push_attempts)
        if self.bridge_attempts is not None:
            _positive_int("bridge_attempts", self.bridge_attempts)
        _positive_int("pointer_replacements", self.pointer_replacements, minimum=0)
        _positive_number("timeout", self.timeout)
        _positive_int("low_speed_limit", self.low_speed_limit, minimum=0)
        _positive_number("low_speed_time", self.low_speed_time)
        if self.shard_deadline is not None:
            _positive_number("shard_deadline", self.shard_deadline)
        if self.erasure is not None and not isinstance(self.erasure, bool):
            raise ValueError(
                f"TransferConfig.erasure must be True, False or None, not {self.erasure!r}"
            )
        _positive_int("challenges", self.challenges)
        _positive_int("io_chunk_size", self.io_chunk_size, minimum=4096)
        if self.io_chunk_size % 16:
            raise ValueError(
                "TransferConfig.io_chunk_size must be a multiple of 16 (the AES block)"
            )
        _positive_int("pointer_page_size", self.pointer_page_size)

    def deadline_for(self, size: int) -> float:
        """Seconds a transfer of a ``size``-byte shard may take in total.

        :attr:`shard_deadline` when set; else ``2 · timeout + low_speed_time + size /
        rate``, with ``rate`` the :attr:`low_speed_limit` (at least 1 KiB/s, also when the
        low-speed rule is off): time to connect and to get the answer, plus the whole
        shard at the slowest speed the low-speed rule accepts. With the defaults, a 32 MiB
        shard gets about 1232 s.
        """
        if self.shard_deadline is not None:
            return float(self.shard_deadline)
        rate = max(self.low_speed_limit, MIN_DEADLINE_RATE)
        return 2 * self.timeout + self.low_speed_time + max(size, 0) / rate

    def rs_stripe(self, shard_count: int, shard_size: int) -> int:
        """Bytes per shard handled in one Reed–Solomon step for ``shard_count`` shards.

        The stripes of all shards together stay within ``16 · io_chunk_size`` (or 64 KiB
        per shard, whichever is more); the stripe is the whole shard when that is
        smaller, else a multiple of 16 bytes.
        """
        budget = RS_BUFFER_CHUNKS * self.io_chunk_size // max(1, shard_count)
        stripe = max(MIN_RS_STRIPE, min(self.io_chunk_size, budget))
        stripe -= stripe % 16
        return max(1, min(stripe, shard_size))


#: The configuration used when none is given.
DEFAULT_CONFIG = TransferConfig()

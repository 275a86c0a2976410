"""storj 0.3.x's ``storj.sharder``: :class:`ShardingTools`, kept for code that imports it.

In 0.3.x this module was an older copy of the shard-size rule plus the helper the
downloader used to join shard files; it only ran on Python 2 (``print`` statements).
Here it works, on the same rule as :meth:`storj.model.ShardManager.determine_shard_size`
(:func:`storj.sharding.legacy_shard_size`). New code does not need it: uploads and
downloads (:meth:`storj.http.Client.upload_file`, :meth:`~storj.http.Client.download_file`)
size, split and join shards themselves, with libstorj's rule.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from typing import IO, TypedDict

from storj import sharding
from storj.exception import ShardingException

__all__ = ["ShardParameters", "ShardingException", "ShardingTools"]


class ShardParameters(TypedDict):
    """What :meth:`ShardingTools.get_optimal_shard_parametrs` returns (0.3.x's keys)."""

    shard_size: str
    shard_count: int
    file_size: int


def _chunk_number(name: str) -> int:
    """The ``N`` of a chunk file name ``<base>-N`` (0.3.x's naming); ``-1`` if none."""
    head, dash, tail = name.rpartition("-")
    if not dash or not tail.isdigit():
        return -1
    return int(tail)


class ShardingTools:
    """0.3.x's shard sizing and joining helpers (stateless; one instance serves all).

    :ivar MAX_SHARD_SIZE: the largest shard, 4 GiB.
    :ivar SHARD_MULTIPLES_BACK: how many doublings the shard size lags behind the file.
    """

    def __init__(self) -> None:
        self.MAX_SHARD_SIZE: int = sharding.MAX_SHARD_SIZE
        self.SHARD_MULTIPLES_BACK: int = sharding.SHARD_MULTIPLES_BACK

    def get_optimal_shard_parametrs(self, file_size: int) -> ShardParameters:
        """``{"shard_size": str, "shard_count": int, "file_size": int}`` for a file.

        The name keeps 0.3.x's spelling; :meth:`get_optimal_shard_parameters` is the
        same method. 43 GiB gives ``{"shard_size": "4294967296", "shard_count": 11, …}``.
        Differs from 0.3.x, whose Python 2 integer division gave a shard size of 0 (and
        then a ``ZeroDivisionError``) for files under 8 MiB: they get one 8 MiB shard.

        :raises ValueError: a negative size, or one beyond ``8 MiB · 2**41`` bytes.
        """
        size = sharding.legacy_shard_size(file_size)
        return {
            "shard_size": str(size),
            "shard_count": sharding.data_shard_count(file_size, size),
            "file_size": file_size,
        }

    get_optimal_shard_parameters = get_optimal_shard_parametrs

    def determine_shard_size(self, file_size: int, accumulator: int = 0) -> int:
        """0.3.x's shard size for ``file_size``, searching from ``accumulator`` doublings.

        Differs from 0.3.x, which returned ``None`` when the file did not fit the
        starting size and left the caller to loop: the search happens here.

        :raises ValueError: a negative size or accumulator, or a file too large.
        """
        return sharding.legacy_shard_size(file_size, accumulator)

    def shard_size(self, hops: int) -> int:
        """``8 MiB · 2**hops``: the shard size ``hops`` doublings above the base."""
        if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
            raise ValueError(f"hops must be an int >= 0, got {hops!r}")
        return sharding.LEGACY_BASE_SHARD_SIZE << hops

    def sort_index(self, f1: str, f2: str) -> int:
        """Compare two chunk file names ``<base>-N`` by ``N`` (for ``functools.cmp_to_key``).

        Negative when ``f1`` comes first. Names without a ``-N`` suffix sort first
        (0.3.x returned ``None`` for them, which no sort accepts).
        """
        return _chunk_number(f1) - _chunk_number(f2)

    def join_shards(self, shards: Iterable[IO[bytes]], destination_fp: IO[bytes]) -> bool:
        """Copy each shard (readable binary file objects, in order) into ``destination_fp``.

        Streams with :func:`shutil.copyfileobj`; returns ``True`` as 0.3.x did (which also
        printed progress lines to stdout; this prints nothing).
        """
        for shard in shards:
            shutil.copyfileobj(shard, destination_fp)
        return True

"""Shard sizing (libstorj's rule) and one-pass shard hashing with audit leaves.

Sizing (``bridge-protocol.md`` §8.1): find the smallest ``a ≥ 0`` with
``file_size ≤ 2 MiB · 2**a``; the shard size is ``2 MiB · 2**max(0, a − 4)``,
capped at 4 GiB. Files up to 32 MiB get 2 MiB shards; bigger files get 9–16
data shards, and beyond 64 GiB the count grows with 4 GiB shards. Examples:
10 MiB → 5 × 2 MiB (+4 parity), 100 MiB → 13 × 8 MiB (+9), 1 GiB → 16 × 64 MiB
(+11), 10 GiB → 10 × 1 GiB (+7), 100 GiB → 25 × 4 GiB (+17).

An empty file (``file_size == 0``) has **no shards**: :func:`determine_shard_size`
answers :data:`MIN_SHARD_SIZE` (the formula with ``a = 0``) and
:func:`data_shard_count` answers 0. The Bridge rejects zero-length shards, so
an uploader has nothing to send to farmers for an empty file.

Hashing: a shard's hash (``RIPEMD160(SHA256(shard))``) and its audit leaves
(one full SHA-256 pass per challenge, ``storj.merkle``) are all computed in
one read pass by :class:`ShardHasher`, whose memory does not depend on the
shard size. ``hashlib`` releases the GIL on large buffers, so several shards
can be hashed in parallel threads.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

from storj import merkle
from storj.api import ripemd160
from storj.merkle import Scheme

__all__ = [
    "DEFAULT_CHALLENGES",
    "DEFAULT_CHUNK_SIZE",
    "LEGACY_BASE_SHARD_SIZE",
    "MAX_SHARD_SIZE",
    "MIN_SHARD_SIZE",
    "SHARD_MULTIPLES_BACK",
    "ShardDigest",
    "ShardHasher",
    "data_shard_count",
    "determine_shard_size",
    "digest_stream",
    "erasure_enabled",
    "legacy_shard_size",
    "new_challenges",
    "parity_shard_count",
    "shard_ranges",
]

#: Smallest shard libstorj makes (2 MiB); also the base of the sizing rule.
MIN_SHARD_SIZE: Final = 2 * 1024 * 1024
#: Largest shard (4 GiB); the 2018 Bridge refuses bigger ones.
MAX_SHARD_SIZE: Final = 4 * 1024 * 1024 * 1024
#: How many doublings of the file size the shard size lags behind.
SHARD_MULTIPLES_BACK: Final = 4
#: libstorj's number of audit challenges per shard (``STORJ_SHARD_CHALLENGES``).
DEFAULT_CHALLENGES: Final = 4
#: Bytes per read when hashing: large enough that per-chunk Python work is negligible.
DEFAULT_CHUNK_SIZE: Final = 1024 * 1024
#: storj 0.3.x's base shard size (8 MiB) for :func:`legacy_shard_size`.
LEGACY_BASE_SHARD_SIZE: Final = 8 * 1024 * 1024
#: libstorj gives up on files needing more than this many doublings.
_MAX_ACCUMULATOR: Final = 41
#: Size of one audit challenge in bytes (``AUDIT_BYTES``).
CHALLENGE_SIZE: Final = 32


def _check_size(name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _doubling_rule(file_size: int, base: int, accumulator: int) -> int:
    """The shard-size-calculator rule shared by libstorj and storj 0.3.x.

    The smallest ``a >= accumulator`` with ``file_size <= base * 2**a`` gives
    ``base * 2**max(0, a - SHARD_MULTIPLES_BACK)``, capped at :data:`MAX_SHARD_SIZE`.
    """
    _check_size("file_size", file_size, minimum=0)
    _check_size("accumulator", accumulator, minimum=0)
    while file_size > base << accumulator:
        accumulator += 1
        if accumulator > _MAX_ACCUMULATOR:
            raise ValueError(
                f"file_size {file_size} is too large: the sizing rule supports at most "
                f"{base << _MAX_ACCUMULATOR} bytes"
            )
    hops = max(0, accumulator - SHARD_MULTIPLES_BACK)
    return min(base << hops, MAX_SHARD_SIZE)


def determine_shard_size(file_size: int) -> int:
    """libstorj's shard size (bytes) for a file of ``file_size`` bytes.

    ``1000`` → 2 MiB; ``134217729`` → 16 MiB; ``0`` → 2 MiB (an empty file has no
    shards anyway, see :func:`data_shard_count`). Raises :class:`ValueError` for
    a negative size or one beyond libstorj's limit (``2 MiB · 2**41`` bytes).
    """
    return _doubling_rule(file_size, MIN_SHARD_SIZE, 0)


def legacy_shard_size(file_size: int, accumulator: int = 0) -> int:
    """storj 0.3.x's shard size: the same rule on an 8 MiB base (:data:`LEGACY_BASE_SHARD_SIZE`).

    Files up to 128 MiB get 8 MiB; 43 GiB gets 4 GiB (11 shards, 0.3.14's test vector);
    an empty file gets 8 MiB (0.3.x answered 0 and then divided by it). Kept for code
    that compares against 0.3.x's numbers; uploads use :func:`determine_shard_size`.
    ``accumulator`` is where 0.3.x's search started. Raises :class:`ValueError` for a
    negative size or accumulator, or a file beyond ``8 MiB · 2**41`` bytes.
    """
    return _doubling_rule(file_size, LEGACY_BASE_SHARD_SIZE, accumulator)


def data_shard_count(file_size: int, shard_size: int) -> int:
    """``ceil(file_size / shard_size)``; 0 for an empty file."""
    _check_size("file_size", file_size, minimum=0)
    _check_size("shard_size", shard_size, minimum=1)
    return -(-file_size // shard_size)


def parity_shard_count(data_shards: int) -> int:
    """libstorj's Reed–Solomon parity shard count: ``ceil(2/3 · data_shards)``."""
    _check_size("data_shards", data_shards, minimum=0)
    return (2 * data_shards + 2) // 3


def erasure_enabled(file_size: int) -> bool:
    """Whether libstorj adds parity shards by default: files of at least :data:`MIN_SHARD_SIZE`."""
    _check_size("file_size", file_size, minimum=0)
    return file_size >= MIN_SHARD_SIZE


def shard_ranges(file_size: int, shard_size: int) -> Iterator[tuple[int, int, int]]:
    """``(index, offset, length)`` of each data shard; the last one may be short.

    The lengths always add up to ``file_size`` exactly (no byte is dropped).
    """
    count = data_shard_count(file_size, shard_size)
    for index in range(count):
        offset = index * shard_size
        yield index, offset, min(shard_size, file_size - offset)


def new_challenges(n: int = DEFAULT_CHALLENGES) -> list[bytes]:
    """``n`` fresh audit challenges of 32 random bytes each (``secrets``)."""
    _check_size("n", n, minimum=1)
    return [secrets.token_bytes(CHALLENGE_SIZE) for _ in range(n)]


@dataclass(eq=True)
class ShardDigest:
    """What a client declares for a shard in ``PUT /frames/:id``.

    :ivar hash: ``hex(RIPEMD160(SHA256(shard)))`` (40 hex).
    :ivar size: number of bytes hashed (the shard's real length).
    :ivar challenges: the challenges as 64-hex strings, in order.
    :ivar tree: the audit leaves (40 hex), one per challenge, padded with
        :data:`storj.merkle.PAD_LEAF` to a power of two.
    :ivar scheme: the audit hashing generation used for ``tree``.
    """

    hash: str
    size: int
    challenges: list[str]
    tree: list[str]
    scheme: str = "2017"

    @property
    def root(self) -> str:
        """The Merkle root of :attr:`tree` (what an auditor keeps)."""
        return merkle.merkle_root(self.tree, scheme=self.scheme)  # type: ignore[arg-type]

    @property
    def levels(self) -> int:
        """Levels of the audit tree: the ``depth`` argument of :func:`storj.merkle.verify_proof`."""
        return merkle.tree_levels(len(self.tree))


class ShardHasher:
    """Hash one shard and compute its audit leaves in a single pass.

    ``update(chunk)`` feeds one SHA-256 for the shard hash and one SHA-256 per
    challenge (pre-fed with the challenge bytes), so the shard is read once and
    memory stays at one chunk whatever the shard size. Feed large chunks (e.g.
    :data:`DEFAULT_CHUNK_SIZE`); per call the Python overhead is ``1 + n`` method
    calls. ``finish()`` gives the :class:`ShardDigest` with
    ``hash = RIPEMD160(SHA256(data))`` and the padded ``tree``.

    :param challenges: raw challenges (32 bytes each) or their hex forms; at
        least one (see :func:`new_challenges`).
    :param scheme: ``"2017"`` (default; libstorj-compatible) or ``"2016"``.
    """

    __slots__ = ("_audits", "_challenges", "_scheme", "_sha", "_size")

    def __init__(self, challenges: Sequence[bytes | str], *, scheme: Scheme = "2017") -> None:
        if isinstance(challenges, (str, bytes)) or not challenges:
            raise ValueError("challenges must be a non-empty list of challenges (32 bytes each)")
        self._audits = [merkle.StreamingAuditResponse(c, scheme=scheme) for c in challenges]
        self._challenges = [
            bytes.fromhex(c).hex() if isinstance(c, str) else bytes(c).hex() for c in challenges
        ]
        self._scheme = scheme
        self._sha = hashlib.sha256()
        self._size = 0

    @property
    def size(self) -> int:
        """Bytes fed so far."""
        return self._size

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        """Feed the next bytes of the shard."""
        self._sha.update(chunk)
        self._size += len(chunk) if not isinstance(chunk, memoryview) else chunk.nbytes
        prepared = chunk if self._scheme == "2017" else chunk.hex().encode("ascii")
        for audit in self._audits:
            audit._update_prepared(prepared)

    def finish(self) -> ShardDigest:
        """The shard's hash, size, challenges and padded leaves (may be called again)."""
        leaves = [audit.leaf() for audit in self._audits]
        return ShardDigest(
            hash=ripemd160(self._sha.digest()).hex(),
            size=self._size,
            challenges=list(self._challenges),
            tree=merkle.pad_leaves(leaves),
            scheme=self._scheme,
        )

    def __repr__(self) -> str:
        return (
            f"ShardHasher(challenges={len(self._challenges)}, size={self._size}, "
            f"scheme={self._scheme!r})"
        )


def digest_stream(
    stream: BinaryIO | io.RawIOBase | io.BufferedIOBase,
    challenges: Sequence[bytes | str],
    *,
    length: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    scheme: Scheme = "2017",
) -> ShardDigest:
    """Read up to ``length`` bytes (all, when ``None``) from ``stream`` and hash them.

    Reads stop early at end of file; the digest's ``size`` says how many bytes
    were hashed. Memory: one buffer of ``chunk_size`` bytes, reused.
    """
    if length is not None:
        _check_size("length", length, minimum=0)
    _check_size("chunk_size", chunk_size, minimum=1)
    hasher = ShardHasher(challenges, scheme=scheme)
    buffer = bytearray(chunk_size if length is None else min(chunk_size, max(length, 1)))
    view = memoryview(buffer)
    remaining = length
    readinto = getattr(stream, "readinto", None)
    while remaining is None or remaining > 0:
        want = len(buffer) if remaining is None else min(len(buffer), remaining)
        if readinto is not None:
            got = readinto(view[:want])
            if not got:
                break
            hasher.update(view[:got])
        else:
            data = stream.read(want)
            if not data:
                break
            got = len(data)
            hasher.update(data)
        if remaining is not None:
            remaining -= got
    view.release()
    return hasher.finish()

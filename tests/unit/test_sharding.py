"""storj.sharding (libstorj sizing, one-pass hashing) and storj.model.ShardManager."""

from __future__ import annotations

import io
import os
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storj import api, merkle, sharding
from storj.model import Shard, ShardManager
from tests.data import CHALLENGES, SHARD, TREE_2016, TREE_2017

MiB = 1024 * 1024
GiB = 1024 * MiB


# --------------------------------------------------------------------------- sizing


def test_constants():
    assert sharding.MIN_SHARD_SIZE == 2097152
    assert sharding.MAX_SHARD_SIZE == 4294967296
    assert sharding.SHARD_MULTIPLES_BACK == 4


@pytest.mark.parametrize(
    ("file_size", "shard_size"),
    [
        (1000, 2 * MiB),  # bridge-protocol.md §8.1
        (134217729, 16 * MiB),  # bridge-protocol.md §8.1
        (1, 2 * MiB),
        (2 * MiB, 2 * MiB),
        (32 * MiB, 2 * MiB),
        (32 * MiB + 1, 4 * MiB),
        (64 * GiB, 4 * GiB),
        (64 * GiB + 1, 4 * GiB),
        (43 * GiB, 4 * GiB),
    ],
)
def test_determine_shard_size(file_size, shard_size):
    assert sharding.determine_shard_size(file_size) == shard_size


@pytest.mark.parametrize(
    ("file_size", "shard_size", "data", "parity"),
    [  # peers-and-users.md §5
        (10 * MiB, 2 * MiB, 5, 4),
        (100 * MiB, 8 * MiB, 13, 9),
        (1 * GiB, 64 * MiB, 16, 11),
        (10 * GiB, 1 * GiB, 10, 7),
        (100 * GiB, 4 * GiB, 25, 17),
    ],
)
def test_libstorj_layouts(file_size, shard_size, data, parity):
    assert sharding.determine_shard_size(file_size) == shard_size
    assert sharding.data_shard_count(file_size, shard_size) == data
    assert sharding.parity_shard_count(data) == parity


def test_empty_file_has_no_shards():
    assert sharding.determine_shard_size(0) == sharding.MIN_SHARD_SIZE
    assert sharding.data_shard_count(0, sharding.MIN_SHARD_SIZE) == 0
    assert sharding.parity_shard_count(0) == 0
    assert list(sharding.shard_ranges(0, sharding.MIN_SHARD_SIZE)) == []
    assert sharding.erasure_enabled(0) is False


@pytest.mark.parametrize("bad", [-1, 1.5, "10", None, True])
def test_determine_shard_size_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="file_size"):
        sharding.determine_shard_size(bad)


def test_determine_shard_size_beyond_libstorj_limit():
    limit = sharding.MIN_SHARD_SIZE << 41
    assert sharding.determine_shard_size(limit) == 4 * GiB
    with pytest.raises(ValueError, match="too large"):
        sharding.determine_shard_size(limit + 1)


@pytest.mark.parametrize(
    ("n", "parity"), [(0, 0), (1, 1), (2, 2), (3, 2), (4, 3), (5, 4), (13, 9), (16, 11)]
)
def test_parity_shard_count(n, parity):
    assert sharding.parity_shard_count(n) == parity


def test_count_validation():
    with pytest.raises(ValueError, match="shard_size"):
        sharding.data_shard_count(10, 0)
    with pytest.raises(ValueError, match="data_shards"):
        sharding.parity_shard_count(-1)


def test_erasure_enabled_from_2_mib():
    assert not sharding.erasure_enabled(2 * MiB - 1)
    assert sharding.erasure_enabled(2 * MiB)


def test_shard_ranges_last_is_short():
    assert list(sharding.shard_ranges(10, 4)) == [(0, 0, 4), (1, 4, 4), (2, 8, 2)]
    assert list(sharding.shard_ranges(8, 4)) == [(0, 0, 4), (1, 4, 4)]


@given(file_size=st.integers(0, 10**12), shard_size=st.integers(1, 10**10))
@settings(max_examples=200, deadline=None)
def test_shard_ranges_cover_the_file_exactly(file_size, shard_size):
    if sharding.data_shard_count(file_size, shard_size) > 2000:
        shard_size = max(shard_size, -(-file_size // 2000))
    ranges = list(sharding.shard_ranges(file_size, shard_size))
    assert len(ranges) == sharding.data_shard_count(file_size, shard_size)
    expected_offset = 0
    for i, (index, offset, length) in enumerate(ranges):
        assert index == i
        assert offset == expected_offset
        assert 0 < length <= shard_size
        if i < len(ranges) - 1:
            assert length == shard_size
        expected_offset += length
    assert expected_offset == file_size


@given(file_size=st.integers(0, sharding.MIN_SHARD_SIZE << 41))
@settings(max_examples=200, deadline=None)
def test_libstorj_sizing_properties(file_size):
    size = sharding.determine_shard_size(file_size)
    assert sharding.MIN_SHARD_SIZE <= size <= sharding.MAX_SHARD_SIZE
    assert size & (size - 1) == 0
    count = sharding.data_shard_count(file_size, size)
    if size < sharding.MAX_SHARD_SIZE:
        assert count <= 16  # never more than 16 data shards below the 4 GiB cap


# --------------------------------------------------------------------------- challenges


def test_new_challenges():
    challenges = sharding.new_challenges(4)
    assert len(challenges) == 4
    assert all(isinstance(c, bytes) and len(c) == 32 for c in challenges)
    assert len(set(challenges)) == 4
    assert len(sharding.new_challenges()) == sharding.DEFAULT_CHALLENGES == 4
    with pytest.raises(ValueError):
        sharding.new_challenges(0)


# --------------------------------------------------------------------------- ShardHasher


def test_shard_hasher_worked_example():
    hasher = sharding.ShardHasher(CHALLENGES)
    hasher.update(SHARD)
    digest = hasher.finish()
    assert digest.hash == "d4b0d0d0d8f9c4be812d210a9f6d6caf954ce223"
    assert digest.size == 13
    assert digest.challenges == ["00" * 32, "11" * 32, "22" * 32]
    assert digest.tree == TREE_2017
    assert digest.root == "2047821ebf5cbf1111a64089d72fad184e4e4882"
    assert digest.levels == 3
    assert digest.scheme == "2017"


def test_shard_hasher_2016_scheme():
    hasher = sharding.ShardHasher([c.hex() for c in CHALLENGES], scheme="2016")
    hasher.update(SHARD[:5])
    hasher.update(memoryview(SHARD)[5:])
    digest = hasher.finish()
    assert digest.tree == TREE_2016
    assert digest.root == "3638d3ec95e6e7844148c78567e4a656f9b481ec"


def test_shard_hasher_finish_is_repeatable_and_size_counts():
    hasher = sharding.ShardHasher(CHALLENGES)
    hasher.update(bytearray(SHARD))
    assert hasher.size == 13
    assert hasher.finish() == hasher.finish()


@pytest.mark.parametrize("challenges", [[], b"x" * 32, "00" * 32, ["zz"]])
def test_shard_hasher_rejects_bad_challenges(challenges):
    with pytest.raises(ValueError):
        sharding.ShardHasher(challenges)


def test_shard_hasher_empty_data_is_consistent():
    digest = sharding.ShardHasher(CHALLENGES[:1]).finish()
    assert digest.hash == api.PAD_LEAF
    assert digest.size == 0
    assert digest.tree == [merkle.audit_leaf(CHALLENGES[0], b"")]


@given(
    data=st.binary(max_size=4096),
    cuts=st.lists(st.integers(0, 4096), max_size=8),
    n=st.integers(1, 6),
    scheme=st.sampled_from(["2016", "2017"]),
)
@settings(max_examples=60, deadline=None)
def test_shard_hasher_equals_the_definitions(data, cuts, n, scheme):
    challenges = [bytes([i]) * 32 for i in range(n)]
    hasher = sharding.ShardHasher(challenges, scheme=scheme)
    points = sorted({min(c, len(data)) for c in cuts})
    for a, b in zip([0, *points], [*points, len(data)], strict=True):
        hasher.update(data[a:b])
    digest = hasher.finish()
    assert digest.hash == api.rmd160sha256_hex(data)
    assert digest.size == len(data)
    leaves = [merkle.audit_leaf(c, data, scheme=scheme) for c in challenges]
    assert digest.tree == merkle.pad_leaves(leaves)
    for c in challenges:
        proof = merkle.make_proof(
            digest.tree, merkle.audit_response(c, data, scheme=scheme), scheme=scheme
        )
        assert merkle.verify_proof(proof, digest.root, digest.levels, scheme=scheme)


# --------------------------------------------------------------------------- digest_stream


class _NoReadinto:
    def __init__(self, data: bytes) -> None:
        self._io = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._io.read(min(n, 3))  # short reads on purpose


@pytest.mark.parametrize("chunk_size", [1, 4, 1024])
def test_digest_stream_reads_exactly_length(chunk_size):
    stream = io.BytesIO(SHARD + b"tail")
    digest = sharding.digest_stream(stream, CHALLENGES, length=13, chunk_size=chunk_size)
    assert digest.hash == "d4b0d0d0d8f9c4be812d210a9f6d6caf954ce223"
    assert digest.tree == TREE_2017
    assert stream.read() == b"tail"


def test_digest_stream_without_readinto_and_to_eof():
    digest = sharding.digest_stream(_NoReadinto(SHARD), CHALLENGES)
    assert digest.size == 13
    assert digest.tree == TREE_2017


def test_digest_stream_stops_at_eof():
    digest = sharding.digest_stream(io.BytesIO(SHARD), CHALLENGES, length=10**9)
    assert digest.size == 13
    assert sharding.digest_stream(io.BytesIO(b""), CHALLENGES, length=5).size == 0


def test_digest_stream_validation():
    with pytest.raises(ValueError):
        sharding.digest_stream(io.BytesIO(SHARD), CHALLENGES, length=-1)
    with pytest.raises(ValueError):
        sharding.digest_stream(io.BytesIO(SHARD), CHALLENGES, chunk_size=0)


def test_hashing_uses_big_chunks_not_per_byte_work():
    calls = []

    class Spy(io.BytesIO):
        def readinto(self, buffer):  # noqa: D401
            calls.append(len(buffer))
            return super().readinto(buffer)

    sharding.digest_stream(Spy(b"\x00" * (3 * MiB + 5)), CHALLENGES, length=3 * MiB + 5)
    assert max(calls) == sharding.DEFAULT_CHUNK_SIZE
    assert len(calls) <= 5


# --------------------------------------------------------------------------- ShardManager


def _write(data: bytes) -> str:
    handle = tempfile.NamedTemporaryFile(delete=False)
    with handle:
        handle.write(data)
    return handle.name


def test_shard_manager_constructor_does_no_io():
    manager = ShardManager("/nonexistent/file", 4, nchallenges=2)
    assert manager.filepath == "/nonexistent/file"
    assert manager.nchallenges == 2
    with pytest.raises(FileNotFoundError):
        manager.shards
    with pytest.raises(FileNotFoundError):
        manager.index


def test_shard_manager_rejects_directories(tmp_path):
    manager = ShardManager(str(tmp_path))
    with pytest.raises(ValueError, match="not a regular file"):
        manager.shards


@pytest.mark.parametrize(
    "kwargs",
    [
        {"filepath": 12},
        {"filepath": ""},
        {"filepath": "x", "shard_size": 0},
        {"filepath": "x", "shard_size": 1.5},
        {"filepath": "x", "nchallenges": 0},
        {"filepath": "x", "chunk_size": 0},
        {"filepath": "x", "scheme": "1999"},
    ],
)
def test_shard_manager_argument_validation(kwargs):
    with pytest.raises(ValueError):
        ShardManager(**kwargs)


def test_shard_manager_keeps_the_tail(tmp_path):
    data = bytes(range(256)) * 40 + b"xyz"  # 10243 bytes
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    manager = ShardManager(path, shard_size=1000, nchallenges=3)
    assert manager.index == 11
    shards = manager.shards
    assert [s.index for s in shards] == list(range(11))
    assert [s.size for s in shards] == [1000] * 10 + [243]
    for shard in shards:
        piece = data[shard.index * 1000 : shard.index * 1000 + shard.size]
        assert shard.hash == api.rmd160sha256_hex(piece)
        assert len(shard.challenges) == 3
        assert all(len(c) == 64 for c in shard.challenges)
        assert shard.tree == merkle.pad_leaves(
            [merkle.audit_leaf(c, piece) for c in shard.challenges]
        )
        assert isinstance(shard, Shard)
    assert manager.shards is shards  # computed once


def test_shard_manager_default_sizing_and_challenges(tmp_path):
    path = tmp_path / "small"
    path.write_bytes(SHARD)
    manager = ShardManager(str(path))
    assert manager.filesize == 13
    assert manager.shard_size == 2 * MiB
    assert manager.index == 1
    (shard,) = manager.shards
    assert shard.size == 13
    assert shard.hash == "d4b0d0d0d8f9c4be812d210a9f6d6caf954ce223"
    assert len(shard.challenges) == 12
    assert len(shard.tree) == 16
    assert shard.to_json()["tree"] == shard.tree


def test_shard_manager_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    manager = ShardManager(str(path))
    assert manager.shards == []
    assert manager.index == 0


def test_shard_manager_2016_scheme(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(SHARD)
    (shard,) = ShardManager(str(path), nchallenges=3, scheme="2016").shards
    assert shard.tree == merkle.pad_leaves(
        [merkle.audit_leaf(c, SHARD, scheme="2016") for c in shard.challenges]
    )


def test_shard_manager_exact_multiple(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"a" * 12)
    manager = ShardManager(str(path), shard_size=4, nchallenges=1, chunk_size=3)
    assert [s.size for s in manager.shards] == [4, 4, 4]


def test_shard_manager_reset_on_new_path(tmp_path):
    first = tmp_path / "a"
    first.write_bytes(b"a" * 10)
    second = tmp_path / "b"
    second.write_bytes(b"b" * 3)
    manager = ShardManager(str(first), shard_size=4, nchallenges=1)
    assert manager.index == 3
    manager.filepath = str(second)
    assert manager.index == 1
    assert manager.shards[0].hash == api.rmd160sha256_hex(b"bbb")
    assert "ShardManager(" in repr(manager)


def test_shard_manager_hash_helper():
    assert ShardManager.hash("") == "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb"
    assert ShardManager.hash("ab") == "e4973182d0c331ce8b083ffa2b28c8b4fc0f1d93"
    assert ShardManager.hash(b"ab") == "e4973182d0c331ce8b083ffa2b28c8b4fc0f1d93"


@given(
    data=st.binary(max_size=3000),
    shard_size=st.integers(1, 4000),
    chunk_size=st.integers(1, 700),
)
@settings(max_examples=40, deadline=None)
def test_shard_manager_covers_the_file_exactly(data, shard_size, chunk_size):
    if len(data) // shard_size > 200:
        shard_size = len(data) // 200 + 1
    path = _write(data)
    try:
        manager = ShardManager(path, shard_size=shard_size, nchallenges=1, chunk_size=chunk_size)
        shards = manager.shards
        assert manager.index == len(shards) == sharding.data_shard_count(len(data), shard_size)
        offset = 0
        for i, shard in enumerate(shards):
            assert shard.index == i
            piece = data[offset : offset + shard_size]
            assert shard.size == len(piece) > 0
            assert shard.hash == api.rmd160sha256_hex(piece)
            offset += shard.size
        assert offset == len(data)
    finally:
        os.unlink(path)


# -- storj 0.3.x's sizing rule (ShardManager.determine_shard_size, storj.sharder) -----------


@pytest.mark.parametrize(
    ("file_size", "expected"),
    [
        (0, 8 * MiB),
        (1000, 8 * MiB),
        (128 * MiB, 8 * MiB),
        (128 * MiB + 1, 16 * MiB),
        (43 * 1024 * MiB, 4096 * MiB),
    ],
)
def test_legacy_shard_size_vectors(file_size: int, expected: int) -> None:
    assert sharding.legacy_shard_size(file_size) == expected


def test_legacy_rule_is_libstorj_rule_on_a_four_times_larger_base() -> None:
    for size in (1, 5 * MiB, 300 * MiB, 7 * 1024 * MiB):
        legacy = sharding.legacy_shard_size(size * 4)
        assert legacy == min(sharding.determine_shard_size(size) * 4, sharding.MAX_SHARD_SIZE)


def test_legacy_shard_size_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        sharding.legacy_shard_size(-1)
    with pytest.raises(ValueError):
        sharding.legacy_shard_size(10, accumulator=-1)
    with pytest.raises(ValueError):
        sharding.legacy_shard_size((8 * MiB << 41) + 1)

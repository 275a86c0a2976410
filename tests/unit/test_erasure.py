"""Tests of storj.erasure: libstorj / klauspost / Backblaze compatible Reed–Solomon.

External vectors used here are copied from the test suites of libstorj
(``test/tests_rs.c``, whose GF and matrix values it took from klauspost's Go
code) and Backblaze JavaReedSolomon (``ReedSolomonTest.testOneEncode``,
``MatrixTest``, ``GaloisTest``), which all build the same code. The coding
matrix is also checked against an independent slow pure-Python construction.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storj import erasure
from storj.erasure import ReedSolomon

# ------------------------------------------------------ slow independent reference


def slow_mul(a: int, b: int) -> int:
    """Carry-less multiply reduced by x^8+x^4+x^3+x^2+1, bit by bit."""
    result = 0
    while b:
        if b & 1:
            result ^= a
        b >>= 1
        a <<= 1
        if a & 0x100:
            a ^= 0x11D
    return result


def slow_pow(a: int, n: int) -> int:
    result = 1
    for _ in range(n):
        result = slow_mul(result, a)
    return result


def slow_inverse(a: int) -> int:
    return next(b for b in range(1, 256) if slow_mul(a, b) == 1)


def slow_matmul(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
    out = []
    for row in a:
        new = []
        for c in range(len(b[0])):
            acc = 0
            for i, x in enumerate(row):
                acc ^= slow_mul(x, b[i][c])
            new.append(acc)
        out.append(new)
    return out


def slow_invert(m: list[list[int]]) -> list[list[int]]:
    k = len(m)
    work = [list(row) + [int(i == j) for j in range(k)] for i, row in enumerate(m)]
    for col in range(k):
        pivot = next(r for r in range(col, k) if work[r][col])
        work[col], work[pivot] = work[pivot], work[col]
        inv = slow_inverse(work[col][col])
        work[col] = [slow_mul(inv, x) for x in work[col]]
        for r in range(k):
            if r != col and work[r][col]:
                f = work[r][col]
                work[r] = [x ^ slow_mul(f, y) for x, y in zip(work[r], work[col], strict=True)]
    return [row[k:] for row in work]


def slow_matrix(data: int, total: int) -> list[list[int]]:
    vm = [[slow_pow(r, c) for c in range(data)] for r in range(total)]
    return slow_matmul(vm, slow_invert(vm[:data]))


def slow_encode(data: int, total: int, shards: list[bytes]) -> list[bytes]:
    m = slow_matrix(data, total)
    length = len(shards[0])
    parity = []
    for r in range(data, total):
        out = bytearray(length)
        for c in range(data):
            for j in range(length):
                out[j] ^= slow_mul(m[r][c], shards[c][j])
        parity.append(bytes(out))
    return parity


# --------------------------------------------------------------------- the field


def test_mul_table_matches_bitwise_multiplication():
    expected = np.array([[slow_mul(a, b) for b in range(256)] for a in range(256)], np.uint8)
    assert np.array_equal(erasure.GF_MUL_TABLE, expected)
    assert not erasure.GF_MUL_TABLE.flags.writeable


def test_field_vectors_from_klauspost_libstorj_backblaze():
    assert erasure.gf_mul(3, 4) == 12
    assert erasure.gf_mul(7, 7) == 21
    assert erasure.gf_mul(23, 45) == 41
    assert erasure.gf_exp(2, 2) == 4
    assert erasure.gf_exp(5, 20) == 235
    assert erasure.gf_exp(13, 7) == 43


def test_addmul_vectors_from_libstorj():
    src = [0, 1, 2, 3, 4, 5, 6, 10, 50, 100, 150, 174, 201, 255, 99, 32, 67, 85]
    times_25 = [0x0, 0x19, 0x32, 0x2B, 0x64, 0x7D, 0x56, 0xFA, 0xB8, 0x6D, 0xC7, 0x85, 0xC3,
                0x1F, 0x22, 0x7, 0x25, 0xFE]  # fmt: skip
    times_177 = [0x0, 0xB1, 0x7F, 0xCE, 0xFE, 0x4F, 0x81, 0x9E, 0x3, 0x6, 0xE8, 0x75, 0xBD,
                 0x40, 0x36, 0xA3, 0x95, 0xCB]  # fmt: skip
    assert erasure.GF_MUL_TABLE[25][src].tolist() == times_25
    assert erasure.GF_MUL_TABLE[177][src].tolist() == times_177


def test_field_axioms():
    mul = erasure.GF_MUL_TABLE.astype(np.int64)
    assert np.array_equal(mul, mul.T)  # commutative
    assert erasure.GF_MUL_TABLE[1].tolist() == list(range(256))  # identity
    assert not erasure.GF_MUL_TABLE[0].any()
    for a in range(1, 256):
        assert erasure.gf_mul(a, erasure.gf_inverse(a)) == 1
    # distributive over XOR, for every a, b, c
    a = np.arange(256)[:, None, None]
    b = np.arange(256)[None, :, None]
    c = np.arange(256)[None, None, :]
    table = erasure.GF_MUL_TABLE
    assert np.array_equal(table[a, b ^ c], table[a, b] ^ table[a, c])
    with pytest.raises(ValueError):
        erasure.gf_inverse(0)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
def test_associative(a, b, c):
    mul = erasure.gf_mul
    assert mul(a, mul(b, c)) == mul(mul(a, b), c)


def test_exp_includes_zero_to_the_zero():
    assert erasure.gf_exp(0, 0) == 1
    assert erasure.gf_exp(0, 5) == 0
    for a in (1, 2, 3, 29, 255):
        for n in range(0, 300, 7):
            assert erasure.gf_exp(a, n) == slow_pow(a, n)


# -------------------------------------------------------------------- matrices


def test_matrix_multiply_vector():
    product = erasure.matrix_multiply([[1, 2], [3, 4]], [[5, 6], [7, 8]])
    assert product.tolist() == [[11, 22], [19, 42]]


def test_invert_vectors():
    inv = erasure.invert_matrix([[56, 23, 98], [3, 100, 200], [45, 201, 123]])
    assert inv.tolist() == [[175, 133, 33], [130, 13, 245], [112, 35, 126]]
    m = [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [7, 7, 6, 6, 1]]
    assert erasure.invert_matrix(m).tolist() == [
        [1, 0, 0, 0, 0],
        [0, 1, 0, 0, 0],
        [123, 123, 1, 122, 122],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 1, 0],
    ]


def test_invert_singular():
    with pytest.raises(ValueError, match="singular"):
        erasure.invert_matrix([[4, 2], [12, 6]])
    with pytest.raises(ValueError, match="square"):
        erasure.invert_matrix([[1, 2, 3], [4, 5, 6]])


def test_vandermonde():
    vm = erasure.vandermonde(4, 3)
    assert vm.tolist() == [[1, 0, 0], [1, 1, 1], [1, 2, 4], [1, 3, 5]]


@pytest.mark.parametrize(("data", "total"), [(1, 2), (2, 3), (5, 10), (10, 13), (16, 27), (17, 29)])
def test_coding_matrix_matches_slow_reference(data, total):
    m = erasure.build_matrix(data, total)
    assert m.tolist() == slow_matrix(data, total)
    assert np.array_equal(m[:data], np.eye(data, dtype=np.uint8))  # systematic


def test_coding_matrix_any_square_subset_is_invertible():
    m = erasure.build_matrix(6, 10)
    rng = random.Random(7)
    for _ in range(30):
        rows = sorted(rng.sample(range(10), 6))
        inv = erasure.invert_matrix(m[rows])
        assert np.array_equal(erasure.matrix_multiply(m[rows], inv), np.eye(6, dtype=np.uint8))


# -------------------------------------------------------------------- encoding


def test_backblaze_one_encode_vector():
    rs = ReedSolomon(5, 5)
    data = [bytes([0, 1]), bytes([4, 5]), bytes([2, 3]), bytes([6, 7]), bytes([8, 9])]
    parity = rs.encode(data)
    assert parity == [bytes([12, 13]), bytes([10, 11]), bytes([14, 15]), bytes([90, 91]),
                      bytes([94, 95])]  # fmt: skip
    assert rs.verify(data + parity)
    broken = list(parity)
    broken[3] = bytes([91, 91])
    assert not rs.verify(data + broken)


@settings(max_examples=40, deadline=None)
@given(
    data_shards=st.integers(1, 12),
    parity_shards=st.integers(0, 9),
    length=st.integers(0, 40),
    seed=st.integers(0, 2**32),
)
def test_encode_matches_slow_reference(data_shards, parity_shards, length, seed):
    rng = random.Random(seed)
    shards = [rng.randbytes(length) for _ in range(data_shards)]
    parity = ReedSolomon(data_shards, parity_shards).encode(shards)
    total = data_shards + parity_shards
    assert parity == slow_encode(data_shards, total, shards)


def test_one_data_shard_parity_is_a_copy():
    rs = ReedSolomon(1, 3)
    data = bytes(range(256)) * 3
    assert rs.encode([data]) == [data, data, data]
    assert rs.reconstruct([None, None, data, None]) == [data] * 4


def test_encode_accepts_buffers_and_arrays():
    rs = ReedSolomon(3, 2)
    rng = random.Random(1)
    raw = [rng.randbytes(100) for _ in range(3)]
    expected = rs.encode(raw)
    mixed = [bytearray(raw[0]), memoryview(raw[1]), np.frombuffer(raw[2], np.uint8)]
    assert rs.encode(mixed) == expected


@settings(max_examples=30, deadline=None)
@given(length=st.integers(1, 5000), cuts=st.lists(st.integers(1, 5000), max_size=4))
def test_encode_into_chunks_equals_whole(length, cuts):
    rs = ReedSolomon(4, 3)
    rng = random.Random(length)
    shards = [rng.randbytes(length) for _ in range(4)]
    expected = rs.encode(shards)
    bounds = sorted({0, length, *(c for c in cuts if c < length)})
    out = [bytearray(length) for _ in range(3)]
    for start, stop in zip(bounds, bounds[1:], strict=False):
        views = [memoryview(b)[start:stop] for b in out]
        rs.encode_into([s[start:stop] for s in shards], views)
    assert [bytes(b) for b in out] == expected


def test_threads_give_identical_results():
    rng = np.random.default_rng(3)
    shards = [rng.integers(0, 256, (3 << 20) + 5, dtype=np.uint8) for _ in range(4)]
    one = ReedSolomon(4, 3, threads=1).encode(shards)
    rs = ReedSolomon(4, 3, threads=3)
    assert rs.encode(shards) == one
    all_shards: list = [s.tobytes() for s in shards] + one
    lost = list(all_shards)
    lost[0] = lost[2] = lost[5] = None
    assert rs.reconstruct(lost) == all_shards


# -------------------------------------------------------------- reconstruction


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_loss_up_to_parity_is_restored(data):
    data_shards = data.draw(st.integers(1, 17), label="data")
    parity_shards = data.draw(st.integers(0, 12), label="parity")
    length = data.draw(st.integers(0, 300), label="length")
    seed = data.draw(st.integers(0, 2**32), label="seed")
    total = data_shards + parity_shards
    lost = data.draw(
        st.lists(st.integers(0, total - 1), unique=True, max_size=parity_shards), label="lost"
    )
    rng = random.Random(seed)
    rs = ReedSolomon(data_shards, parity_shards)
    shards = [rng.randbytes(length) for _ in range(data_shards)]
    complete = shards + rs.encode(shards)
    damaged: list[bytes | None] = list(complete)
    for i in lost:
        damaged[i] = None
    assert rs.reconstruct(damaged) == complete
    assert rs.verify(complete)


def test_too_many_missing():
    rs = ReedSolomon(4, 2)
    shards: list[bytes | None] = [b"ab"] * 4 + rs.encode([b"ab"] * 4)
    shards[0] = shards[1] = shards[5] = None
    with pytest.raises(ValueError, match="too many shards missing: 3 of 6"):
        rs.reconstruct(shards)


def test_reconstruct_into_chunks():
    rs = ReedSolomon(5, 4)
    rng = random.Random(5)
    length = 10_000
    shards = [rng.randbytes(length) for _ in range(5)]
    complete = shards + rs.encode(shards)
    missing = [0, 3, 6, 8]
    out = {i: bytearray(length) for i in missing}
    available = [i for i in range(9) if i not in missing]
    for start in range(0, length, 3000):
        stop = min(length, start + 3000)
        rs.reconstruct_into(
            {i: complete[i][start:stop] for i in available},
            {i: memoryview(out[i])[start:stop] for i in missing},
        )
    assert {i: bytes(b) for i, b in out.items()} == {i: complete[i] for i in missing}


def test_reconstruct_into_validates():
    rs = ReedSolomon(2, 1)
    with pytest.raises(ValueError, match="out of range"):
        rs.reconstruct_into({0: b"a", 5: b"b"}, {2: bytearray(1)})
    with pytest.raises(ValueError, match="too many"):
        rs.reconstruct_into({0: b"a"}, {2: bytearray(1)})
    with pytest.raises(ValueError, match="writable"):
        rs.reconstruct_into({0: b"a", 1: b"b"}, {2: b"x"})


# ------------------------------------------------------------------ validation


def test_shard_count_limits():
    rs = ReedSolomon(200, 55)
    assert rs.total_shards == erasure.MAX_TOTAL_SHARDS
    rng = random.Random(9)
    shards = [rng.randbytes(8) for _ in range(200)]
    complete = shards + rs.encode(shards)
    damaged: list[bytes | None] = list(complete)
    for i in rng.sample(range(255), 55):
        damaged[i] = None
    assert rs.reconstruct(damaged) == complete
    with pytest.raises(ValueError, match="at most 255"):
        ReedSolomon(200, 56)
    with pytest.raises(ValueError, match="at most 255"):
        erasure.build_matrix(250, 256)
    with pytest.raises(ValueError):
        ReedSolomon(0, 1)
    with pytest.raises(ValueError):
        ReedSolomon(3, -1)


def test_unequal_lengths_and_counts():
    rs = ReedSolomon(3, 2)
    with pytest.raises(ValueError, match="same length"):
        rs.encode([b"abc", b"abc", b"ab"])
    with pytest.raises(ValueError, match="expected 3 data shards"):
        rs.encode([b"abc", b"abc"])
    with pytest.raises(ValueError, match="same length"):
        rs.reconstruct([b"abc", None, b"ab", b"xyz", b"xyz"])
    with pytest.raises(ValueError, match="expected 5 shards"):
        rs.reconstruct([b"abc", None])
    with pytest.raises(ValueError, match="same length"):
        rs.encode_into([b"abc"] * 3, [bytearray(2), bytearray(3)])
    with pytest.raises(ValueError, match="writable"):
        rs.encode_into([b"abc"] * 3, [b"xxx", bytearray(3)])
    assert not rs.verify([b"abc", b"abc", b"abc", None, b"abc"])


def test_repr_and_properties():
    rs = ReedSolomon(10, 7)
    assert repr(rs) == "ReedSolomon(data_shards=10, parity_shards=7)"
    assert (rs.data_shards, rs.parity_shards, rs.total_shards) == (10, 7, 17)
    m = rs.matrix
    m[0, 0] = 9
    assert rs.matrix[0, 0] == 1

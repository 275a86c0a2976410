"""storj.merkle: audit responses, leaves, trees and proofs (bridge-protocol.md §7)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storj import api, merkle
from tests.data import CHALLENGES, PAD, ROOT_2016, ROOT_2017, SHARD, TREE_2016, TREE_2017

# bridge-protocol.md §7.3
LEAVES = {"2016": TREE_2016, "2017": TREE_2017}
ROOTS = {"2016": ROOT_2016, "2017": ROOT_2017}
RESPONSE_1 = {
    "2016": "9f3048cefa05c536ebf370b9946a6ae31bcf77b8",
    "2017": "376fe64959445e02c397feee493f971e69755f95",
}


# --------------------------------------------------------------------------- reference values


def test_pad_leaf_is_hash_of_empty_string():
    assert merkle.PAD_LEAF == PAD
    assert api.rmd160sha256_hex(b"") == PAD


def test_section_1_2_hash_vectors():
    assert api.rmd160sha256_hex(SHARD) == "d4b0d0d0d8f9c4be812d210a9f6d6caf954ce223"
    assert api.calculate_bucket_id("user@example.com", "test-bucket") == "110318dd199675cec2d5f8d8"
    assert (
        api.calculate_file_id("110318dd199675cec2d5f8d8", "file.txt") == "552f1798ea74b6b83440c1df"
    )


@pytest.mark.parametrize("scheme", ["2016", "2017"])
def test_worked_example_leaves(scheme):
    leaves = [merkle.audit_leaf(c, SHARD, scheme=scheme) for c in CHALLENGES]
    assert merkle.pad_leaves(leaves) == LEAVES[scheme]


@pytest.mark.parametrize("scheme", ["2016", "2017"])
def test_worked_example_hex_challenges_give_the_same_leaves(scheme):
    leaves = [merkle.audit_leaf(c.hex(), SHARD, scheme=scheme) for c in CHALLENGES]
    assert merkle.pad_leaves(leaves) == LEAVES[scheme]


@pytest.mark.parametrize("scheme", ["2016", "2017"])
def test_worked_example_root(scheme):
    assert merkle.merkle_root(LEAVES[scheme], scheme=scheme) == ROOTS[scheme]
    # padding is added when missing
    assert merkle.merkle_root(LEAVES[scheme][:3], scheme=scheme) == ROOTS[scheme]


def test_worked_example_rows_2017():
    rows = merkle.tree_rows(LEAVES["2017"])
    assert rows == [
        [ROOTS["2017"]],
        ["a716e96d74007f307d85254c9eb5e0b03476f38f", "060361d13c1c39605e8eca4c8e1019c5128a229b"],
        LEAVES["2017"],
    ]


def test_worked_example_rows_2016():
    rows = merkle.tree_rows(LEAVES["2016"], scheme="2016")
    assert rows[0] == [ROOTS["2016"]]
    level1 = rows[1]
    assert level1[0].startswith("59ebeb95") and level1[0].endswith("b3bc")
    assert level1[1].startswith("6c2fcb99") and level1[1].endswith("920b")
    assert rows[2] == LEAVES["2016"]


@pytest.mark.parametrize("scheme", ["2016", "2017"])
def test_worked_example_response_to_challenge_1(scheme):
    response = merkle.audit_response(CHALLENGES[1], SHARD, scheme=scheme)
    assert len(response) == 20
    assert response.hex() == RESPONSE_1[scheme]
    assert merkle.leaf_from_response(response, scheme=scheme) == LEAVES[scheme][1]
    assert merkle.leaf_from_response(response.hex(), scheme=scheme) == LEAVES[scheme][1]


def test_parent_hash_schemes_differ():
    left, right = LEAVES["2017"][:2]
    assert merkle.parent_hash(left, right) == "a716e96d74007f307d85254c9eb5e0b03476f38f"
    assert merkle.parent_hash(left, right, scheme="2016") == api.rmd160sha256_hex(
        (left + right).encode()
    )


# --------------------------------------------------------------------------- proofs


def test_proof_example_2017_exact_structure():
    proof = merkle.make_proof(LEAVES["2017"], RESPONSE_1["2017"])
    assert proof == [
        ["151b2229ee512ba8c3f006c2545c3845ad95245e", ["376fe64959445e02c397feee493f971e69755f95"]],
        "060361d13c1c39605e8eca4c8e1019c5128a229b",
    ]
    assert merkle.verify_proof(proof, ROOTS["2017"], 3)


def test_proof_example_2016():
    response = merkle.audit_response(CHALLENGES[1], SHARD, scheme="2016")
    proof = merkle.make_proof(LEAVES["2016"], response, scheme="2016")
    assert proof[0] == [LEAVES["2016"][0], [RESPONSE_1["2016"]]]
    assert proof[1].startswith("6c2fcb99")
    assert merkle.verify_proof(proof, ROOTS["2016"], 3, scheme="2016")
    # the other scheme's verification refuses it
    assert not merkle.verify_proof(proof, ROOTS["2016"], 3)


@pytest.mark.parametrize("scheme", ["2016", "2017"])
@pytest.mark.parametrize("index", [0, 1, 2])
def test_every_worked_example_proof_verifies(scheme, index):
    response = merkle.audit_response(CHALLENGES[index], SHARD, scheme=scheme)
    proof = merkle.make_proof(LEAVES[scheme], response, scheme=scheme)
    assert merkle.verify_proof(proof, ROOTS[scheme], merkle.tree_levels(4), scheme=scheme)


def test_proof_for_even_and_odd_positions_nest_correctly():
    response0 = merkle.audit_response(CHALLENGES[0], SHARD)
    proof = merkle.make_proof(LEAVES["2017"], response0)
    assert proof == [
        [[response0.hex()], LEAVES["2017"][1]],
        "060361d13c1c39605e8eca4c8e1019c5128a229b",
    ]
    response2 = merkle.audit_response(CHALLENGES[2], SHARD)
    proof = merkle.make_proof(LEAVES["2017"], response2)
    assert proof == ["a716e96d74007f307d85254c9eb5e0b03476f38f", [[response2.hex()], PAD]]


def test_verify_needs_the_number_of_levels():
    proof = merkle.make_proof(LEAVES["2017"], RESPONSE_1["2017"])
    assert merkle.verify_proof(proof, ROOTS["2017"], 3)
    assert not merkle.verify_proof(proof, ROOTS["2017"], 2)
    assert not merkle.verify_proof(proof, ROOTS["2017"], 4)
    assert not merkle.verify_proof(proof, ROOTS["2017"], 0)
    assert not merkle.verify_proof(proof, ROOTS["2017"], True)


def test_verify_root_is_case_insensitive_in_2017():
    proof = merkle.make_proof(LEAVES["2017"], RESPONSE_1["2017"])
    assert merkle.verify_proof(proof, ROOTS["2017"].upper(), 3)


def test_tampered_proofs_fail():
    proof = merkle.make_proof(LEAVES["2017"], RESPONSE_1["2017"])
    bad_sibling = copy.deepcopy(proof)
    bad_sibling[1] = "0" * 40
    assert not merkle.verify_proof(bad_sibling, ROOTS["2017"], 3)
    bad_response = copy.deepcopy(proof)
    bad_response[0][1][0] = "1" * 40
    assert not merkle.verify_proof(bad_response, ROOTS["2017"], 3)
    swapped = [proof[1], proof[0]]
    assert not merkle.verify_proof(swapped, ROOTS["2017"], 3)
    assert not merkle.verify_proof(proof, "0" * 40, 3)


@pytest.mark.parametrize(
    "proof",
    [
        None,
        [],
        "376fe64959445e02c397feee493f971e69755f95",
        [["376fe64959445e02c397feee493f971e69755f95"], ["x"]],
        [[["376fe64959445e02c397feee493f971e69755f95"]]],
        [1, 2],
        [["zz"], "060361d13c1c39605e8eca4c8e1019c5128a229b"],
        [[PAD, ["376fe64959445e02c397feee493f971e69755f95"]], 5],
        {"a": 1},
    ],
)
def test_malformed_proofs_are_false_not_errors(proof):
    assert merkle.verify_proof(proof, ROOTS["2017"], 3) is False


def test_deeply_nested_garbage_is_false():
    proof: list = ["376fe64959445e02c397feee493f971e69755f95"]
    for _ in range(5000):
        proof = [proof]
    assert merkle.verify_proof(proof, ROOTS["2017"], 3) is False
    assert merkle.verify_proof(proof, ROOTS["2017"], 5001) is False


def test_verify_proof_bad_scheme_and_root_types():
    proof = merkle.make_proof(LEAVES["2017"], RESPONSE_1["2017"])
    assert merkle.verify_proof(proof, ROOTS["2017"], 3, scheme="1999") is False
    assert merkle.verify_proof(proof, None, 3) is False


def test_make_proof_for_unknown_response_fails():
    with pytest.raises(ValueError, match="Failed to generate proof"):
        merkle.make_proof(LEAVES["2017"], b"\x00" * 20)
    # a 2016 response is not in a 2017 tree
    with pytest.raises(ValueError, match="Failed to generate proof"):
        merkle.make_proof(LEAVES["2017"], RESPONSE_1["2016"])


@pytest.mark.parametrize("response", [b"short", "abc", 12, "g" * 40])
def test_make_proof_rejects_bad_responses(response):
    with pytest.raises(ValueError):
        merkle.make_proof(LEAVES["2017"], response)


@pytest.mark.parametrize("scheme", ["2016", "2017"])
def test_single_leaf_tree(scheme):
    response = merkle.audit_response(CHALLENGES[0], SHARD, scheme=scheme)
    leaf = merkle.leaf_from_response(response, scheme=scheme)
    assert merkle.tree_rows([leaf], scheme=scheme) == [[leaf]]
    assert merkle.merkle_root([leaf], scheme=scheme) == leaf
    proof = merkle.make_proof([leaf], response, scheme=scheme)
    assert proof == [response.hex()]
    assert merkle.verify_proof(proof, leaf, 1, scheme=scheme)
    assert not merkle.verify_proof(proof, leaf, 2, scheme=scheme)


# --------------------------------------------------------------------------- streaming


@pytest.mark.parametrize("scheme", ["2016", "2017"])
def test_streaming_response_matches_one_shot(scheme):
    stream = merkle.StreamingAuditResponse(CHALLENGES[1], scheme=scheme)
    for piece in (b"Hel", b"", b"lo, ", memoryview(b"Storj"), bytearray(b"!")):
        stream.update(piece)
    assert stream.hexdigest() == RESPONSE_1[scheme]
    assert stream.digest() == bytes.fromhex(RESPONSE_1[scheme])  # digest does not finalise
    assert stream.leaf() == LEAVES[scheme][1]
    assert stream.scheme == scheme


def test_streaming_response_continues_after_digest():
    stream = merkle.StreamingAuditResponse(CHALLENGES[0])
    stream.update(b"Hello, ")
    stream.digest()
    stream.update(b"Storj!")
    assert stream.digest() == merkle.audit_response(CHALLENGES[0], SHARD)


@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 2000), max_size=6))
@settings(max_examples=50, deadline=None)
def test_streaming_any_split(data, cuts):
    points = sorted({min(c, len(data)) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    for scheme in ("2016", "2017"):
        stream = merkle.StreamingAuditResponse(CHALLENGES[2], scheme=scheme)
        for piece in pieces:
            stream.update(piece)
        assert stream.digest() == merkle.audit_response(CHALLENGES[2], data, scheme=scheme)


@pytest.mark.parametrize("challenge", [b"", "", "xyz", 5, None])
def test_bad_challenges(challenge):
    with pytest.raises(ValueError, match="challenge"):
        merkle.StreamingAuditResponse(challenge)


def test_unknown_scheme():
    with pytest.raises(ValueError, match="unknown audit scheme"):
        merkle.audit_response(CHALLENGES[0], SHARD, scheme="2018")
    with pytest.raises(ValueError, match="unknown audit scheme"):
        merkle.merkle_root(LEAVES["2017"], scheme="2018")


# --------------------------------------------------------------------------- trees


@pytest.mark.parametrize(
    ("n", "padded"), [(1, 1), (2, 2), (3, 4), (4, 4), (5, 8), (12, 16), (17, 32)]
)
def test_pad_leaves_to_power_of_two(n, padded):
    leaves = [f"{i:040x}" for i in range(n)]
    out = merkle.pad_leaves(leaves)
    assert len(out) == padded
    assert out[:n] == leaves
    assert out[n:] == [PAD] * (padded - n)
    assert leaves == [f"{i:040x}" for i in range(n)]  # input untouched


@pytest.mark.parametrize(("n", "depth"), [(1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (16, 4), (17, 5)])
def test_tree_depth_and_levels(n, depth):
    assert merkle.tree_depth(n) == depth
    assert merkle.tree_levels(n) == depth + 1


@pytest.mark.parametrize("n", [0, -1, 1.5, True, None])
def test_tree_depth_rejects_bad_counts(n):
    with pytest.raises(ValueError):
        merkle.tree_depth(n)


@pytest.mark.parametrize("leaves", [[], "abc", None, [1, 2], [b"\x00" * 20]])
def test_tree_rejects_bad_leaves(leaves):
    with pytest.raises(ValueError):
        merkle.tree_rows(leaves)


def test_2017_leaves_must_be_40_hex_but_2016_accepts_text():
    with pytest.raises(ValueError, match="40 hex"):
        merkle.tree_rows(["a", "b"])
    with pytest.raises(ValueError, match="40 hex"):
        merkle.tree_rows(["0" * 39 + "g"])
    rows = merkle.tree_rows(["a", "b"], scheme="2016")
    assert rows[0] == ["e4973182d0c331ce8b083ffa2b28c8b4fc0f1d93"]  # hash("ab"), sdk-original §3.3


def test_2017_leaves_are_lowercased():
    upper = [leaf.upper() for leaf in LEAVES["2017"]]
    assert merkle.tree_rows(upper)[-1] == LEAVES["2017"]
    assert merkle.merkle_root(upper) == ROOTS["2017"]


def test_sdk_vectors_with_the_2016_scheme():
    rows = merkle.tree_rows(list("abcdefgh"), scheme="2016")
    assert rows[0] == ["2adf050f14bf6324bfd41577d0dc08e2e49766fa"]
    assert merkle.merkle_root(["a", "b", "c"], scheme="2016") == (
        "bc0a720fd203a66790eaabd93cf38095cbafc73a"
    )


# --------------------------------------------------------------------------- properties


@given(
    data=st.binary(max_size=512),
    challenges=st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=9),
    scheme=st.sampled_from(["2016", "2017"]),
)
@settings(max_examples=60, deadline=None)
def test_every_proof_for_every_challenge_verifies(data, challenges, scheme):
    leaves = [merkle.audit_leaf(c, data, scheme=scheme) for c in challenges]
    rows = merkle.tree_rows(leaves, scheme=scheme)
    root = rows[0][0]
    levels = merkle.tree_levels(len(leaves))
    assert len(rows) == levels
    for challenge in challenges:
        response = merkle.audit_response(challenge, data, scheme=scheme)
        proof = merkle.make_proof(leaves, response, scheme=scheme)
        assert merkle.verify_proof(proof, root, levels, scheme=scheme)
        assert not merkle.verify_proof(proof, root, levels + 1, scheme=scheme)


def _flip_first_string(node, position):
    """Return a copy of the proof with one hex digit of the ``position``-th string changed."""
    counter = [0]

    def walk(n):
        if isinstance(n, list):
            return [walk(x) for x in n]
        if counter[0] == position:
            counter[0] += 1
            return ("1" if n[0] != "1" else "2") + n[1:]
        counter[0] += 1
        return n

    return walk(node)


def _count_strings(node):
    return sum(_count_strings(x) for x in node) if isinstance(node, list) else 1


@given(
    data=st.binary(max_size=256),
    challenges=st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=8),
    scheme=st.sampled_from(["2016", "2017"]),
    pick=st.integers(0, 100),
    where=st.integers(0, 100),
)
@settings(max_examples=60, deadline=None)
def test_a_tampered_proof_fails(data, challenges, scheme, pick, where):
    leaves = [merkle.audit_leaf(c, data, scheme=scheme) for c in challenges]
    root = merkle.merkle_root(leaves, scheme=scheme)
    challenge = challenges[pick % len(challenges)]
    proof = merkle.make_proof(
        leaves, merkle.audit_response(challenge, data, scheme=scheme), scheme=scheme
    )
    tampered = _flip_first_string(proof, where % _count_strings(proof))
    assert tampered != proof
    assert not merkle.verify_proof(tampered, root, merkle.tree_levels(len(leaves)), scheme=scheme)


@given(data=st.binary(max_size=256), other=st.binary(max_size=256))
@settings(max_examples=30, deadline=None)
def test_proof_over_changed_data_cannot_be_made(data, other):
    if data == other:
        return
    leaves = [merkle.audit_leaf(c, data) for c in CHALLENGES]
    with pytest.raises(ValueError, match="Failed to generate proof"):
        merkle.make_proof(leaves, merkle.audit_response(CHALLENGES[0], other))

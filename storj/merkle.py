"""Audit leaves, Merkle trees and proofs of the Storj v2 storage audits.

When a client stores a shard it draws a few random *challenges* (32 bytes
each) and computes, for each one, the farmer's future *response*; the hash of
each response is a *leaf*. The Bridge receives the challenges and the leaves
(``PUT /frames/:id``: ``challenges`` and ``tree``), forwards the leaves to the
farmer and keeps the challenges and the Merkle root. To audit, the Bridge sends
the farmer one challenge; the farmer answers with a *proof* (the response plus
the sibling hashes up to the root) that the Bridge checks against the root.
See ``bridge-protocol.md`` §7.

Two incompatible hashing generations exist (``H(x) = RIPEMD160(SHA256(x))``):

``scheme="2017"`` (default; storj core ≥ 7, libstorj, everything since March 2017)
    ``response = RIPEMD160(SHA256(challenge_bytes ‖ shard_bytes))`` (20 bytes),
    ``leaf = H(response)``, ``parent = H(left_bytes ‖ right_bytes)``.

``scheme="2016"`` (storj-lib 6.x): the same steps over ASCII hex *text*:
    ``response = RIPEMD160(ascii(hex(SHA256(ascii(challenge_hex) ‖ ascii(hex(shard))))))``,
    ``leaf = H(ascii(hex(response)))``, ``parent = H(ascii(left_hex ‖ right_hex))``.

Both pad the leaves up to a power of two with :data:`PAD_LEAF` =
``hex(H(b""))``. Leaves, roots and proof entries travel as lowercase hex.

A proof (§7.4) is a nested list built from the bottom: it starts as
``[response_hex]`` and at each level becomes ``[current, sibling]`` when the
current index is even, ``[sibling, current]`` when it is odd. Verification
needs the root and the *number of levels* of the tree (``depth`` below, as the
reference verifier takes it): ``levels = ceil(log2(leaves)) + 1``, see
:func:`tree_levels`.

Everything here is pure (no I/O) and raises :class:`ValueError` for invalid
input, except :func:`verify_proof`, which answers ``False`` and never raises.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal

from storj.api import PAD_LEAF, ripemd160, rmd160sha256

__all__ = [
    "PAD_LEAF",
    "SCHEMES",
    "StreamingAuditResponse",
    "audit_leaf",
    "audit_response",
    "leaf_from_response",
    "make_proof",
    "merkle_root",
    "pad_leaves",
    "parent_hash",
    "tree_depth",
    "tree_levels",
    "tree_rows",
    "verify_proof",
]

Scheme = Literal["2017", "2016"]

#: The two audit hashing generations; ``"2017"`` is the default everywhere.
SCHEMES: Final = ("2017", "2016")

_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")


def _check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(
            f"unknown audit scheme {scheme!r}: use '2017' (raw bytes) or '2016' (hex text)"
        )
    return scheme


def _challenge_bytes(challenge: bytes | bytearray | memoryview | str) -> bytes:
    """A challenge as raw bytes; hex strings (as the Bridge stores them) are decoded."""
    if isinstance(challenge, str):
        try:
            raw = bytes.fromhex(challenge)
        except ValueError:
            raise ValueError(
                f"challenge must be bytes or a hex string, got {challenge[:80]!r}"
            ) from None
    elif isinstance(challenge, (bytes, bytearray, memoryview)):
        raw = bytes(challenge)
    else:
        raise ValueError(f"challenge must be bytes or a hex string, not {type(challenge).__name__}")
    if not raw:
        raise ValueError("challenge must not be empty (the protocol uses 32 random bytes)")
    return raw


def _response_bytes(response: bytes | bytearray | memoryview | str) -> bytes:
    """A challenge response (20 bytes) from raw bytes or its 40-hex form."""
    if isinstance(response, str):
        if not _HEX40.match(response):
            raise ValueError(f"response must be 40 hex characters, got {response[:80]!r}")
        return bytes.fromhex(response)
    if isinstance(response, (bytes, bytearray, memoryview)):
        raw = bytes(response)
        if len(raw) != 20:
            raise ValueError(f"response must be 20 bytes (a RIPEMD-160 digest), got {len(raw)}")
        return raw
    raise ValueError(f"response must be bytes or a hex string, not {type(response).__name__}")


class StreamingAuditResponse:
    """Compute the response to one challenge over a shard fed in chunks.

    A farmer answering an audit streams the stored shard from disk::

        resp = StreamingAuditResponse(challenge_hex)
        for chunk in iter(lambda: f.read(1 << 20), b""):
            resp.update(chunk)
        proof = make_proof(stored_leaves, resp.digest())

    ``digest()`` equals :func:`audit_response` over the concatenated chunks, may
    be called at any time and does not end the stream.
    """

    __slots__ = ("_scheme", "_sha")

    def __init__(self, challenge: bytes | str, *, scheme: Scheme = "2017") -> None:
        self._scheme = _check_scheme(scheme)
        raw = _challenge_bytes(challenge)
        if scheme == "2017":
            self._sha = hashlib.sha256(raw)
        else:
            self._sha = hashlib.sha256(raw.hex().encode("ascii"))

    @property
    def scheme(self) -> str:
        """The hashing generation (``"2017"`` or ``"2016"``)."""
        return self._scheme

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        """Feed the next bytes of the shard."""
        if self._scheme == "2017":
            self._sha.update(chunk)
        else:
            self._sha.update(chunk.hex().encode("ascii"))

    def _update_prepared(self, data: bytes | bytearray | memoryview) -> None:
        # For storj.sharding: bytes already in this scheme's pre-image form
        # (the raw chunk for 2017, its ASCII hex for 2016), prepared once for
        # all challenges of a shard.
        self._sha.update(data)

    def digest(self) -> bytes:
        """The 20-byte response so far."""
        if self._scheme == "2017":
            return ripemd160(self._sha.digest())
        return ripemd160(self._sha.hexdigest().encode("ascii"))

    def hexdigest(self) -> str:
        """The response as 40 lowercase hex characters (its form inside proofs)."""
        return self.digest().hex()

    def leaf(self) -> str:
        """The audit leaf of the response so far (:func:`leaf_from_response`)."""
        return leaf_from_response(self.digest(), scheme=self._scheme)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"StreamingAuditResponse(scheme={self._scheme!r})"


def audit_response(challenge: bytes | str, data: bytes, *, scheme: Scheme = "2017") -> bytes:
    """The farmer's 20-byte answer to ``challenge`` over the shard ``data``.

    ``challenge`` is the raw challenge (32 bytes) or its hex form.
    """
    stream = StreamingAuditResponse(challenge, scheme=scheme)
    stream.update(data)
    return stream.digest()


def leaf_from_response(response: bytes | str, *, scheme: Scheme = "2017") -> str:
    """The audit leaf (40 hex) of a response given as 20 bytes or 40 hex."""
    _check_scheme(scheme)
    raw = _response_bytes(response)
    if scheme == "2017":
        return rmd160sha256(raw).hex()
    return rmd160sha256(raw.hex().encode("ascii")).hex()


def audit_leaf(challenge: bytes | str, data: bytes, *, scheme: Scheme = "2017") -> str:
    """The leaf sent to the Bridge in ``tree`` for one challenge over ``data``."""
    return leaf_from_response(audit_response(challenge, data, scheme=scheme), scheme=scheme)


def tree_depth(leaf_count: int) -> int:
    """``ceil(log2(leaf_count))``: the number of parent levels above the leaves (0 for one leaf)."""
    if isinstance(leaf_count, bool) or not isinstance(leaf_count, int) or leaf_count < 1:
        raise ValueError(f"a tree needs at least 1 leaf, got {leaf_count!r}")
    return (leaf_count - 1).bit_length()


def tree_levels(leaf_count: int) -> int:
    """Number of levels including leaves and root: the ``depth`` :func:`verify_proof` takes."""
    return tree_depth(leaf_count) + 1


def _leaf_list(leaves: Iterable[str]) -> list[str]:
    if isinstance(leaves, (str, bytes)) or not isinstance(leaves, Iterable):
        raise ValueError("leaves must be a list of hex strings")
    out = list(leaves)
    if not out:
        raise ValueError("leaves must not be empty: an audit tree needs at least one leaf")
    for leaf in out:
        if not isinstance(leaf, str):
            raise ValueError(f"leaves must be hex strings, got {type(leaf).__name__}")
    return out


def pad_leaves(leaves: Iterable[str]) -> list[str]:
    """Return a new list: ``leaves`` followed by :data:`PAD_LEAF` up to a power of two."""
    out = _leaf_list(leaves)
    out.extend([PAD_LEAF] * ((1 << tree_depth(len(out))) - len(out)))
    return out


def parent_hash(left: str, right: str, *, scheme: Scheme = "2017") -> str:
    """The hash of a parent node from its two children (hex)."""
    _check_scheme(scheme)
    if scheme == "2017":
        try:
            joined = bytes.fromhex(left) + bytes.fromhex(right)
        except ValueError:
            raise ValueError(
                f"tree nodes must be hex strings, got {left[:80]!r} and {right[:80]!r}"
            ) from None
        return rmd160sha256(joined).hex()
    return rmd160sha256((left + right).encode("utf-8")).hex()


def _validated_leaves(leaves: Iterable[str], scheme: str) -> list[str]:
    _check_scheme(scheme)
    out = _leaf_list(leaves)
    if scheme == "2017":
        for leaf in out:
            if not _HEX40.match(leaf):
                raise ValueError(f"2017-scheme leaves must be 40 hex characters, got {leaf[:80]!r}")
        out = [leaf.lower() for leaf in out]
    return out


def tree_rows(leaves: Iterable[str], *, scheme: Scheme = "2017") -> list[list[str]]:
    """All levels of the tree over ``leaves`` (padded first); row 0 is ``[root]``.

    The last row is the padded leaf list. Under ``scheme="2017"`` every leaf
    must be 40 hex characters; the ``"2016"`` scheme hashes leaves as text and
    accepts any strings.
    """
    row = pad_leaves(_validated_leaves(leaves, scheme))
    rows = [row]
    while len(row) > 1:
        row = [parent_hash(row[i], row[i + 1], scheme=scheme) for i in range(0, len(row), 2)]
        rows.append(row)
    rows.reverse()
    return rows


def merkle_root(leaves: Iterable[str], *, scheme: Scheme = "2017") -> str:
    """The root (hex) of the tree over ``leaves`` (padded first)."""
    return tree_rows(leaves, scheme=scheme)[0][0]


def make_proof(
    leaves: Iterable[str], response: bytes | str, *, scheme: Scheme = "2017"
) -> list[Any]:
    """The farmer's proof that it holds the shard: ``response`` nested with its siblings.

    ``leaves`` are the leaves the farmer received (padding is added if missing);
    ``response`` is the answer to the audited challenge (20 bytes or 40 hex),
    e.g. :meth:`StreamingAuditResponse.digest`. Raises :class:`ValueError`
    ("Failed to generate proof") when the response's leaf is not among
    ``leaves``, i.e. the shard data is not what was stored.
    """
    rows = tree_rows(leaves, scheme=scheme)
    leaf = leaf_from_response(response, scheme=scheme)
    bottom = rows[-1]
    try:
        index = bottom.index(leaf)
    except ValueError:
        raise ValueError(
            "Failed to generate proof: the response's leaf is not in the audit tree "
            "(wrong challenge, wrong scheme, or the shard data changed)"
        ) from None
    proof: list[Any] = [_response_bytes(response).hex()]
    for row in reversed(rows[1:]):
        sibling = row[index ^ 1]
        proof = [proof, sibling] if index % 2 == 0 else [sibling, proof]
        index //= 2
    return proof


def _response_leaf(proof: Sequence[Any], scheme: str) -> str:
    node: Any = proof
    while True:
        if not isinstance(node, (list, tuple)):
            raise ValueError("proof nodes must be lists")
        if len(node) == 1:
            return leaf_from_response(node[0], scheme=scheme)  # type: ignore[arg-type]
        if len(node) != 2:
            raise ValueError("proof nodes must hold one or two elements")
        node = node[0] if isinstance(node[0], (list, tuple)) else node[1]


def _collapse(node: Any, leaf: str, level: int, scheme: str) -> str:
    if not isinstance(node, (list, tuple)):
        raise ValueError("proof nodes must be lists")
    if level == 0:
        if len(node) != 1 or leaf_from_response(node[0], scheme=scheme) != leaf:  # type: ignore[arg-type]
            raise ValueError("invalid proof value")
        return leaf
    if len(node) != 2:
        raise ValueError("invalid proof structure")
    left, right = node
    left_is_path = isinstance(left, (list, tuple))
    right_is_path = isinstance(right, (list, tuple))
    if left_is_path == right_is_path:
        raise ValueError("exactly one side of each proof pair continues the path")
    if left_is_path:
        left = _collapse(left, leaf, level - 1, scheme)
    elif not isinstance(left, str):
        raise ValueError("proof siblings must be hex strings")
    if right_is_path:
        right = _collapse(right, leaf, level - 1, scheme)
    elif not isinstance(right, str):
        raise ValueError("proof siblings must be hex strings")
    if scheme == "2017" and not (_HEX40.match(left) and _HEX40.match(right)):
        raise ValueError("proof siblings must be 40 hex characters")
    return parent_hash(left, right, scheme=scheme)  # type: ignore[arg-type]


def verify_proof(proof: Any, root: str, depth: int, *, scheme: Scheme = "2017") -> bool:
    """True when ``proof`` collapses to ``root`` through exactly ``depth`` levels.

    ``depth`` is the number of levels of the audited tree, leaves and root
    included (:func:`tree_levels`; 3 for 4 leaves), as the reference verifier
    takes it. Never raises: malformed input gives ``False``.
    """
    try:
        _check_scheme(scheme)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            return False
        if not isinstance(root, str):
            return False
        leaf = _response_leaf(proof, scheme)
        computed = _collapse(proof, leaf, depth - 1, scheme)
    except (ValueError, TypeError, RecursionError):
        return False
    if scheme == "2017":
        return computed == root.lower()
    return computed == root

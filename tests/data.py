"""Fixture data shared by the tests: one copy of each Bridge record and protocol vector.

Import what a test needs (``from tests.data import BUCKET, TREE_2017``). The values are
plain dicts and lists, so that they compare equal to what the code returns and go
straight into ``json.dumps`` and ``responses``; never change them in place (build a
variant with ``{**BUCKET, "name": "other"}`` or ``list(TREE_2017)``). ``tests/conftest.py``
checks after every test that nobody did.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- ids

BUCKET_ID = "110318dd199675cec2d5f8d8"
FILE_ID = "552f1798ea74b6b83440c1df"
FRAME_ID = "5840a1b2c3d4e5f601234567"
NODE_ID = "fc7250a211deddc70ee5a2738de5f07817351cef"
#: A compressed secp256k1 public key (hex), as the Bridge lists in ``pubkeys``.
PUBHEX = "034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa"

# --------------------------------------------------------------------------- Bridge records

#: ``GET /buckets/:id`` as the Bridge answers it (bridge-protocol.md §3).
BUCKET = {
    "id": BUCKET_ID,
    "user": "user@example.com",
    "name": "test-bucket",
    "status": "Active",
    "storage": 0,
    "transfer": 0,
    "pubkeys": [],
    "publicPermissions": [],
    "encryptionKey": "",
    "created": "2016-12-01T10:00:00.000Z",
}

#: A farmer contact as it appears inside a shard pointer (``lastSeen`` in ms).
FARMER = {
    "userAgent": "6.0.11",
    "protocol": "1.0.0",
    "address": "127.0.0.1",
    "port": 4001,
    "nodeID": NODE_ID,
    "lastSeen": 1480586400000,
}

# --------------------------------------------------------------------------- Merkle vectors
# bridge-protocol.md §7.3: the shard "Hello, Storj!" audited with three challenges.

SHARD = b"Hello, Storj!"
#: RIPEMD-160(SHA-256(SHARD)), hex: the shard's hash.
SHARD_HASH = "d4b0d0d0d8f9c4be812d210a9f6d6caf954ce223"
CHALLENGES = [bytes([b]) * 32 for b in (0x00, 0x11, 0x22)]
#: The same challenges as the Bridge sends them (hex).
CHALLENGES_HEX = [challenge.hex() for challenge in CHALLENGES]
#: The leaf that pads a tree to a power of two: RIPEMD-160(SHA-256(b"")).
PAD = "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb"
#: The padded leaves for CHALLENGES, with ``scheme="2017"``.
TREE_2017 = [
    "151b2229ee512ba8c3f006c2545c3845ad95245e",
    "6a5a21d4e3132a98b421527823165505e3fefef0",
    "ac4a5a02113b7cb2b6a4a38569fee509dc3575eb",
    PAD,
]
#: The same with ``scheme="2016"``.
TREE_2016 = [
    "c4ba6773583d66e9898902520813515a9eeeb7fa",
    "e7b700dbe6b338324bc80c7fe6eec7d59338ce00",
    "ebc7a2b9af4324b4cc0fdb4d020d0f14155cc549",
    PAD,
]
ROOT_2017 = "2047821ebf5cbf1111a64089d72fad184e4e4882"
ROOT_2016 = "3638d3ec95e6e7844148c78567e4a656f9b481ec"

#: Every name above whose value ``tests/conftest.py`` guards against changes in place.
SHARED_VALUES = ("BUCKET", "FARMER", "CHALLENGES", "CHALLENGES_HEX", "TREE_2017", "TREE_2016")

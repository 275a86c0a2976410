"""storj.model: the documented records, their JSON shapes and MerkleTree."""

from __future__ import annotations

import inspect
import json
import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storj import merkle, model
from storj.model import (
    Bucket,
    Contact,
    ExchangeReport,
    File,
    FileMirrors,
    FilePointer,
    Frame,
    Key,
    MerkleTree,
    Mirror,
    Shard,
    ShardManager,
    Token,
    User,
)
from tests.data import (
    BUCKET,
    BUCKET_ID,
    FARMER,
    FILE_ID,
    FRAME_ID,
    NODE_ID,
    PUBHEX,
    ROOT_2016,
    ROOT_2017,
    SHARD_HASH,
    TREE_2016,
    TREE_2017,
)

FARMER_TOKEN = "9b1f0c0e7e4a1d9c3c5b6a7d8e9f0a1b2c3d4e5f"
BUCKET_TOKEN = "ab" * 32


# bridge-protocol.md §3 and Appendix A, as the Bridge sends them.
SHAPES = {
    "user_created": (
        User,
        {
            "email": "user@example.com",
            "id": "user@example.com",
            "created": "2016-12-01T10:00:00.000Z",
            "activated": False,
            "isFreeTier": True,
        },
    ),
    "user_2018": (
        User,
        {
            "email": "user@example.com",
            "id": "user@example.com",
            "created": "2016-12-01T10:00:00.000Z",
            "activated": True,
            "isFreeTier": True,
            "uuid": "c4a1b9a2-6f1e-4a25-9f2c-3f3f0d1e2a3b",
            "preferences": {"dnt": False},
            "referralPartner": None,
            "defaultPaymentProcessor": None,
            "pubkey": PUBHEX,
        },
    ),
    "key": (Key, {"key": PUBHEX, "id": PUBHEX, "user": "user@example.com", "label": ""}),
    "bucket": (Bucket, {**BUCKET, "created": "2016-12-01T10:00:01.234Z"}),  # with milliseconds
    "frame": (
        Frame,
        {
            "id": FRAME_ID,
            "user": "user@example.com",
            "created": "2016-12-01T10:00:02.000Z",
            "locked": False,
            "size": 0,
            "shards": [],
        },
    ),
    "frame_2018": (
        Frame,
        {
            "id": FRAME_ID,
            "user": "user@example.com",
            "created": "2016-12-01T10:00:02.000Z",
            "locked": True,
            "size": 13,
            "storageSize": 26,
            "shards": ["5840a1b2c3d4e5f601234568", "5840a1b2c3d4e5f601234569"],
        },
    ),
    "put_frame_answer": (
        FilePointer,
        {
            "hash": SHARD_HASH,
            "token": FARMER_TOKEN,
            "operation": "PUSH",
            "farmer": FARMER,
        },
    ),
    "file_entry": (
        File,
        {
            "id": FILE_ID,
            "bucket": BUCKET_ID,
            "frame": FRAME_ID,
            "mimetype": "text/plain",
            "filename": "file.txt",
            "renewal": "2017-03-01T10:00:03.000Z",
            "created": "2016-12-01T10:00:03.000Z",
            "size": 13,
        },
    ),
    "file_list_item": (
        File,
        {
            "bucket": BUCKET_ID,
            "mimetype": "text/plain",
            "filename": "file.txt",
            "frame": FRAME_ID,
            "size": 13,
            "id": FILE_ID,
        },
    ),
    "file_info_2018": (
        File,
        {
            "bucket": BUCKET_ID,
            "mimetype": "application/octet-stream",
            "filename": "g9qacwq2AE1+5nzL/HYyYdY9WoIr+1ueOuVEx6/IzzZKK9sULoKDDdYvhOpavHH2P3xQNw==",
            "frame": FRAME_ID,
            "size": 13,
            "id": FILE_ID,
            "created": "2017-06-01T10:00:03.000Z",
            "hmac": {"type": "sha512", "value": "ab" * 64},
            "erasure": {"type": "reedsolomon"},
            "index": "150589c9593bbebc0e795d8c4fa97304b42c110d9f0095abfac644763beca66e",
        },
    ),
    "token": (
        Token,
        {
            "token": BUCKET_TOKEN,
            "id": BUCKET_TOKEN,
            "bucket": BUCKET_ID,
            "operation": "PULL",
            "expires": "2016-12-01T10:05:00.000Z",
            "encryptionKey": "",
        },
    ),
    "token_pull_file": (
        Token,
        {
            "token": BUCKET_TOKEN,
            "id": BUCKET_TOKEN,
            "bucket": BUCKET_ID,
            "operation": "PULL",
            "expires": "2016-12-01T10:05:00.000Z",
            "encryptionKey": "",
            "mimetype": "text/plain",
            "size": 13,
        },
    ),
    "pointer": (
        FilePointer,
        {
            "token": FARMER_TOKEN,
            "hash": SHARD_HASH,
            "farmer": FARMER,
            "operation": "PULL",
            "size": 13,
            "index": 0,
        },
    ),
    "pointer_2018": (
        FilePointer,
        {
            "index": 1,
            "hash": SHARD_HASH,
            "size": 13,
            "parity": True,
            "token": FARMER_TOKEN,
            "operation": "PULL",
            "farmer": dict(FARMER, hdKey="xpub661MyMwAqRbcF", hdIndex=12),
        },
    ),
    "pointer_2018_unreachable": (
        FilePointer,
        {"index": 2, "hash": SHARD_HASH, "size": 13, "parity": False},
    ),
    "pointer_websocket": (
        FilePointer,
        {
            "hash": SHARD_HASH,
            "token": FARMER_TOKEN,
            "operation": "PULL",
            "channel": "ws://127.0.0.1:4001",
        },
    ),
    "contact": (
        Contact,
        {
            "nodeID": NODE_ID,
            "address": "127.0.0.1",
            "port": 4001,
            "lastSeen": "2016-12-01T10:00:00.000Z",
            "protocol": "1.0.0",
            "userAgent": "6.0.11",
        },
    ),
    "contact_full": (
        Contact,
        {
            "nodeID": NODE_ID,
            "address": "127.0.0.1",
            "port": 4001,
            "lastSeen": "2016-12-01T10:00:00.000Z",
            "protocol": "1.2.0",
            "userAgent": "8.7.2",
            "lastTimeout": "2016-11-30T10:00:00.000Z",
            "responseTime": 1234.5,
            "timeoutRate": 0.01,
            "reputation": 5000,
            "spaceAvailable": True,
            "lastContractSent": 1480586400000,
        },
    ),
    "mirror_post_2016": (Mirror, {"hash": SHARD_HASH, "mirrors": 6, "status": "pending"}),
    "mirror_document": (
        Mirror,
        {
            "id": "5840a1b2c3d4e5f601234570",
            "shardHash": SHARD_HASH,
            "contact": {
                "nodeID": NODE_ID,
                "address": "127.0.0.1",
                "port": 4001,
                "lastSeen": "2016-12-01T10:00:00.000Z",
                "protocol": "1.0.0",
                "userAgent": "6.0.11",
            },
            "contract": {"data_hash": SHARD_HASH, "data_size": 13, "store_end": 1488362400000},
            "isEstablished": True,
        },
    ),
    "mirror_unpopulated": (
        Mirror,
        {
            "id": "5840a1b2c3d4e5f601234571",
            "shardHash": SHARD_HASH,
            "contact": NODE_ID,
            "isEstablished": False,
        },
    ),
    "file_mirrors": (
        FileMirrors,
        {
            "established": [
                {"shardHash": SHARD_HASH, "contract": {"farmer_id": NODE_ID, "data_size": 13}},
            ],
            "available": [],
        },
    ),
    "exchange_report": (
        ExchangeReport,
        {
            "dataHash": SHARD_HASH,
            "reporterId": "user@example.com",
            "clientId": "user@example.com",
            "farmerId": NODE_ID,
            "exchangeStart": 1480586400100,
            "exchangeEnd": 1480586400200,
            "exchangeResultCode": 1000,
            "exchangeResultMessage": "SHARD_UPLOADED",
        },
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_every_bridge_shape_round_trips(name):
    cls, data = SHAPES[name]
    record = cls.from_json(data)
    assert isinstance(record, cls)
    assert record.to_json() == data
    assert json.loads(json.dumps(record.to_json())) == data
    assert cls.from_json(record.to_json()) == record
    for key in data:
        assert key in record
        assert record[key] == data[key]
    assert sorted(record.keys()) == sorted(data)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_every_shape_tolerates_unknown_fields(name):
    cls, data = SHAPES[name]
    noisy = dict(data, someFutureField={"nested": [1, 2]}, x=None, self="odd")
    record = cls.from_json(noisy)
    assert record.extra["someFutureField"] == {"nested": [1, 2]}
    assert record.extra["self"] == "odd"
    assert record.to_json() == noisy
    assert record["someFutureField"] == {"nested": [1, 2]}
    assert record != cls.from_json(data)


def test_timestamps_are_aware_utc():
    bucket = Bucket.from_json(SHAPES["bucket"][1])
    assert bucket.created == datetime(2016, 12, 1, 10, 0, 1, 234000, tzinfo=UTC)
    assert bucket.created.utcoffset() == timedelta(0)
    assert bucket["created"] == "2016-12-01T10:00:01.234Z"


def test_contact_last_seen_accepts_ms_and_iso_and_keeps_the_form():
    in_pointer = Contact.from_json(FARMER)
    listed = Contact.from_json(SHAPES["contact"][1])
    assert in_pointer.lastSeen == datetime(2016, 12, 1, 10, 0, tzinfo=UTC)
    assert listed.lastSeen == datetime(2016, 12, 1, 10, 0, tzinfo=UTC)
    assert in_pointer.to_json()["lastSeen"] == 1480586400000
    assert listed.to_json()["lastSeen"] == "2016-12-01T10:00:00.000Z"


def test_timestamp_parsing_variants():
    assert model.parse_timestamp(None) is None
    assert model.parse_timestamp("2016-11-16T19:39:11.605Z") == datetime(
        2016, 11, 16, 19, 39, 11, 605000, tzinfo=UTC
    )
    assert model.parse_timestamp("2016-11-16T20:39:11.605+01:00") == datetime(
        2016, 11, 16, 19, 39, 11, 605000, tzinfo=UTC
    )
    assert model.parse_timestamp(datetime(2016, 1, 1)) == datetime(2016, 1, 1, tzinfo=UTC)
    cet = timezone(timedelta(hours=1))
    assert model.parse_timestamp(datetime(2016, 1, 1, 1, tzinfo=cet)).tzinfo == UTC
    assert model.parse_timestamp(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert model.format_timestamp(datetime(2016, 11, 16, 19, 39, 11, 605999, tzinfo=UTC)) == (
        "2016-11-16T19:39:11.605Z"
    )
    assert model.format_timestamp(datetime(2016, 11, 16, 19, 39, 11)) == "2016-11-16T19:39:11.000Z"


@pytest.mark.parametrize("bad", ["yesterday", True, [2016], {"a": 1}])
def test_bad_timestamps_raise_value_error(bad):
    with pytest.raises(ValueError, match="created"):
        Bucket(created=bad)


def test_assignment_converts_declared_fields():
    bucket = Bucket()
    bucket.created = "2016-12-01T10:00:01.234Z"
    assert isinstance(bucket.created, datetime)
    pointer = FilePointer()
    pointer.farmer = FARMER
    assert isinstance(pointer.farmer, Contact)
    pointer.token = FARMER_TOKEN
    assert isinstance(pointer.token, Token)


# --------------------------------------------------------------------------- value semantics


def test_value_equality_and_unhashable():
    a = Bucket.from_json(SHAPES["bucket"][1])
    b = Bucket.from_json(SHAPES["bucket"][1])
    assert a == b
    assert a is not b
    b.name = "other"
    assert a != b
    assert a != Frame(id=BUCKET_ID)
    assert Bucket(id=BUCKET_ID) != {"id": BUCKET_ID}
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(TypeError):
        {a}  # noqa: B018


def test_repr_is_readable():
    text = repr(Bucket(id=BUCKET_ID, name="test-bucket", extraThing=1))
    assert (
        text == "Bucket(id='110318dd199675cec2d5f8d8', name='test-bucket', extra={'extraThing': 1})"
    )
    assert repr(Mirror()) == "Mirror()"


def test_mapping_access_is_read_only_wire_form():
    token = Token.from_json(SHAPES["token"][1])
    assert token["token"] == BUCKET_TOKEN
    assert token.get("mimetype") is None
    assert token.get("mimetype", "x") == "x"
    assert "expires" in token and "nope" not in token
    assert token["bucket"] == BUCKET_ID
    assert dict(token.items()) == SHAPES["token"][1]
    assert list(token) == token.keys()
    assert len(token.values()) == len(token.keys())
    with pytest.raises(KeyError):
        token["nope"]
    with pytest.raises(TypeError):
        token["token"] = "x"  # type: ignore[index]
    wire = token["bucket"]
    assert dict(token)["token"] == BUCKET_TOKEN
    assert wire == BUCKET_ID


def test_records_pickle():
    pointer = FilePointer.from_json(SHAPES["pointer"][1])
    assert pickle.loads(pickle.dumps(pointer)) == pointer


def test_from_json_needs_an_object():
    with pytest.raises(ValueError, match="JSON object"):
        Bucket.from_json([1, 2])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- documented signatures


DOCUMENTED = {  # documented-api.txt
    Bucket: [
        "id",
        "name",
        "status",
        "user",
        "created",
        "storage",
        "transfer",
        "pubkeys",
        "publicPermissions",
        "encryptionKey",
    ],
    Contact: ["address", "port", "nodeID", "lastSeen", "protocol", "userAgent"],
    File: ["bucket", "hash", "mimetype", "filename", "size", "id", "frame"],
    FilePointer: ["hash", "token", "operation", "channel"],
    Frame: ["id", "created", "shards"],
    Mirror: ["hash", "mirrors", "status"],
    Shard: ["id", "hash", "size", "index", "challenges", "tree", "exclude"],
    Token: ["token", "bucket", "operation", "expires", "encryptionKey"],
}


@pytest.mark.parametrize("cls", list(DOCUMENTED), ids=lambda c: c.__name__)
def test_documented_constructor_keywords_in_order(cls):
    params = [
        p for p in inspect.signature(cls).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    assert [p.name for p in params][: len(DOCUMENTED[cls])] == DOCUMENTED[cls]
    assert all(p.default is None for p in params)
    assert any(p.kind is p.VAR_KEYWORD for p in inspect.signature(cls).parameters.values())


def test_positional_construction_like_0_1_x():
    bucket = Bucket(BUCKET_ID, "test-bucket", "Active")
    assert (bucket.id, bucket.name, bucket.status) == (BUCKET_ID, "test-bucket", "Active")


def test_documented_other_signatures():
    assert list(inspect.signature(MerkleTree).parameters)[:2] == ["leaves", "prehashed"]
    assert inspect.signature(MerkleTree).parameters["prehashed"].default is True
    sig = inspect.signature(ShardManager).parameters
    assert list(sig)[:3] == ["filepath", "shard_size", "nchallenges"]
    assert sig["nchallenges"].default == 12
    assert sig["shard_size"].default is None


# --------------------------------------------------------------------------- record specifics


def test_file_frame_bucket_and_aliases():
    entry = File.from_json(SHAPES["file_entry"][1])
    assert isinstance(entry.frame, Frame)
    assert entry.frame.id == FRAME_ID
    assert entry.bucket == BUCKET_ID
    assert entry.content_type == "text/plain"
    assert entry.name == "file.txt"
    assert entry.shard_manager is None
    assert entry.renewal - entry.created == timedelta(days=90)
    entry.name = "other.txt"
    entry.content_type = "image/png"
    assert entry.filename == "other.txt" and entry.mimetype == "image/png"
    assert File(bucket=Bucket(id=BUCKET_ID)).bucket == BUCKET_ID
    assert File(frame=Frame(id=FRAME_ID, size=3)).to_json() == {"frame": FRAME_ID}
    assert File(frame={"id": FRAME_ID}).frame == Frame(id=FRAME_ID)
    entry.shard_manager = ShardManager("/nonexistent")
    assert entry == File.from_json(
        dict(SHAPES["file_entry"][1], filename="other.txt", mimetype="image/png")
    )


def test_file_2018_fields():
    entry = File.from_json(SHAPES["file_info_2018"][1])
    assert entry.hmac == {"type": "sha512", "value": "ab" * 64}
    assert entry.erasure == {"type": "reedsolomon"}
    assert entry.index.startswith("150589c9")


def test_token_bucket_and_string():
    token = Token.from_json(SHAPES["token_pull_file"][1])
    assert isinstance(token.bucket, Bucket)
    assert token.bucket.id == BUCKET_ID
    assert token.id == token.token == BUCKET_TOKEN
    assert str(token) == BUCKET_TOKEN
    assert token.expires == datetime(2016, 12, 1, 10, 5, tzinfo=UTC)
    assert (token.mimetype, token.size) == ("text/plain", 13)


def test_token_implicit_id():
    token = Token(token="abc")
    assert token.id == "abc"
    assert token.to_json() == {"token": "abc"}
    assert token == Token(token="abc", id="abc")
    assert Token(token="abc", id="abc").to_json() == {"token": "abc", "id": "abc"}
    token.id = "abc"
    assert token.to_json() == {"token": "abc", "id": "abc"}
    assert Token(bucket={"id": BUCKET_ID, "name": "n"}).bucket.name == "n"


def test_file_pointer_farmer_token():
    pointer = FilePointer.from_json(SHAPES["pointer"][1])
    assert isinstance(pointer.token, Token)
    assert str(pointer.token) == FARMER_TOKEN
    assert pointer.token.token == pointer.token.id == FARMER_TOKEN  # 0.1.x and 0.3.x spellings
    assert f"/shards/{pointer.hash}?token={pointer.token}".endswith(FARMER_TOKEN)
    assert isinstance(pointer.farmer, Contact)
    assert pointer.farmer.nodeID == NODE_ID
    assert pointer.farmer.port == 4001
    assert (pointer.size, pointer.index, pointer.parity) == (13, 0, None)
    assert pointer["token"] == FARMER_TOKEN
    assert pointer["farmer"]["address"] == "127.0.0.1"


def test_file_pointer_without_farmer():
    pointer = FilePointer.from_json(SHAPES["pointer_2018_unreachable"][1])
    assert pointer.token is None and pointer.farmer is None
    assert pointer.parity is False


def test_contact_extras_and_declared_2018_fields():
    contact = Contact.from_json(SHAPES["contact_full"][1])
    assert contact.lastTimeout == datetime(2016, 11, 30, 10, tzinfo=UTC)
    assert contact.responseTime == 1234.5
    assert contact.extra == {
        "reputation": 5000,
        "spaceAvailable": True,
        "lastContractSent": 1480586400000,
    }


def test_mirror_contact_shapes():
    assert isinstance(Mirror.from_json(SHAPES["mirror_document"][1]).contact, Contact)
    assert Mirror.from_json(SHAPES["mirror_unpopulated"][1]).contact == NODE_ID
    with pytest.raises(ValueError, match="Mirror.contact"):
        Mirror(contact=5)


def test_file_mirrors_hold_mirrors():
    mirrors = FileMirrors.from_json(SHAPES["file_mirrors"][1])
    assert mirrors.available == []
    assert isinstance(mirrors.established[0], Mirror)
    assert mirrors.established[0].contract["farmer_id"] == NODE_ID
    with pytest.raises(ValueError):
        FileMirrors(available="nope")


def test_frame_shards_are_ids_and_default_empty():
    assert Frame().shards == []
    frame = Frame.from_json(SHAPES["frame_2018"][1])
    assert frame.shards == ["5840a1b2c3d4e5f601234568", "5840a1b2c3d4e5f601234569"]
    assert frame.storageSize == 26


def test_exchange_report_times_are_datetimes_sent_as_ms():
    report = ExchangeReport.from_json(SHAPES["exchange_report"][1])
    assert report.exchangeStart == datetime(2016, 12, 1, 10, 0, 0, 100000, tzinfo=UTC)
    built = ExchangeReport(
        dataHash=SHARD_HASH,
        reporterId="user@example.com",
        exchangeStart=datetime(2016, 12, 1, 10, 0, 0, 100000, tzinfo=UTC),
        exchangeEnd=1480586400200,
        exchangeResultCode=ExchangeReport.SUCCESS,
        exchangeResultMessage=ExchangeReport.STORJ_REPORT_SHARD_UPLOADED,
    )
    wire = built.to_json()
    assert wire["exchangeStart"] == 1480586400100
    assert wire["exchangeEnd"] == 1480586400200
    assert wire["exchangeResultCode"] == 1000
    assert ExchangeReport.FAILURE == 1100
    assert "SUCCESS" not in built.keys()


def test_key_str():
    assert str(Key.from_json(SHAPES["key"][1])) == PUBHEX
    assert model.PublicKey is Key


# --------------------------------------------------------------------------- Shard


def test_shard_to_json_is_the_put_frames_body():
    tree = MerkleTree(TREE_2017)
    shard = Shard(
        id="ignored",
        hash=SHARD_HASH,
        size=13,
        index=0,
        challenges=["00" * 32, bytes([0x11]) * 32, "22" * 32],
        tree=tree,
    )
    assert shard.to_json() == {
        "hash": SHARD_HASH,
        "size": 13,
        "index": 0,
        "challenges": ["00" * 32, "11" * 32, "22" * 32],
        "tree": TREE_2017,
        "exclude": [],
    }
    assert shard.tree is tree
    assert shard.leaves == TREE_2017
    shard.parity = True
    shard.exclude = [NODE_ID]
    body = shard.to_json()
    assert body["parity"] is True and body["exclude"] == [NODE_ID]
    assert "id" not in body
    assert json.loads(json.dumps(body)) == body
    assert shard == Shard(
        id="ignored",
        hash=SHARD_HASH,
        size=13,
        index=0,
        challenges=["00" * 32, "11" * 32, "22" * 32],
        tree=TREE_2017,
        exclude=[NODE_ID],
        parity=True,
    )


def test_shard_parity_false_is_sent_when_set():
    assert Shard(hash=SHARD_HASH, size=1, index=3, parity=False).to_json()["parity"] is False


def test_shard_defaults_and_helpers():
    shard = Shard()
    assert (shard.challenges, shard.tree, shard.exclude) == ([], [], [])
    assert Shard().challenges is not shard.challenges
    shard.add_challenge(b"\x00" * 32)
    shard.add_tree(TREE_2017[0])
    assert shard.challenges == ["00" * 32]
    assert shard.tree == [TREE_2017[0]]
    tree_shard = Shard(tree=MerkleTree(TREE_2017))
    with pytest.raises(ValueError):
        tree_shard.add_tree(TREE_2017[0])
    with pytest.raises(ValueError, match="Shard.tree"):
        Shard(tree="abc")


def test_shard_from_pointer_record_and_digest():
    pointer_record = {
        "index": 0,
        "hash": SHARD_HASH,
        "size": 13,
        "tree": TREE_2017,
        "challenges": ["00" * 32],
        "parity": False,
    }
    shard = Shard.from_json(pointer_record)
    assert shard.to_json() == dict(pointer_record, exclude=[])
    from storj import sharding

    hasher = sharding.ShardHasher([bytes([b]) * 32 for b in (0, 0x11, 0x22)])
    hasher.update(b"Hello, Storj!")
    shard = Shard.from_digest(hasher.finish(), 0, exclude=[NODE_ID])
    assert shard.to_json() == {
        "hash": SHARD_HASH,
        "size": 13,
        "index": 0,
        "challenges": ["00" * 32, "11" * 32, "22" * 32],
        "tree": TREE_2017,
        "exclude": [NODE_ID],
    }


# --------------------------------------------------------------------------- MerkleTree


def test_merkle_tree_sdk_vector_eight_leaves():
    tree = MerkleTree(list("abcdefgh"), scheme="2016")
    assert tree.depth == 3
    assert tree.count == 7
    assert tree.get_level(2) == [
        "e4973182d0c331ce8b083ffa2b28c8b4fc0f1d93",
        "c91b9f3b2937035cc07d3fcd258d7d8a1f0c4d3c",
        "8182daac9a266aa39328b835726f80a34835027d",
        "222025114b2d1374b4a354d1b4452f648c9b481d",
    ]
    assert tree.get_level(1) == [
        "39c096fc1b11e77f4347cfdb45ba9b03c0ad95d9",
        "47121e7ec10e7653f1262b1d3abb6f9a71b3de8b",
    ]
    assert tree.get_root() == "2adf050f14bf6324bfd41577d0dc08e2e49766fa"
    assert tree.rows[0] == ["2adf050f14bf6324bfd41577d0dc08e2e49766fa"]
    assert tree.rows[3] == list("abcdefgh")


def test_merkle_tree_sdk_vector_three_leaves_padded():
    tree = MerkleTree(["a", "b", "c"], scheme="2016")
    assert tree.leaves == ["a", "b", "c", "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb"]
    assert tree.depth == 2
    assert tree.count == 3
    assert tree.get_root() == "bc0a720fd203a66790eaabd93cf38095cbafc73a"


def test_merkle_tree_sdk_vector_two_and_one_leaves():
    tree = MerkleTree(["a", "b"], scheme="2016")
    assert (tree.depth, tree.count) == (1, 1)
    assert tree.get_root() == "e4973182d0c331ce8b083ffa2b28c8b4fc0f1d93"
    single = MerkleTree(["x"], scheme="2016")
    assert single.rows == [["x"]]
    assert (single.depth, single.count, single.get_root()) == (0, 0, "x")


def test_merkle_tree_prehashed_false_hashes_leaves_and_counts_them():
    tree = MerkleTree(["a", "b", "c"], prehashed=False, scheme="2016")
    hashed = [model.ShardManager.hash(x) for x in "abc"]
    assert tree.leaves == [*hashed, "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb"]
    assert tree.count == 3 + 4  # 0.1.x: leaves are counted when prehashed=False
    assert tree.get_root() == merkle.merkle_root(hashed, scheme="2016")
    assert MerkleTree([b"a", "b"], prehashed=False).leaves == [
        model.ShardManager.hash("a"),
        model.ShardManager.hash("b"),
    ]


@pytest.mark.parametrize(
    ("scheme", "leaves", "root"),
    [
        ("2017", TREE_2017, ROOT_2017),
        ("2016", TREE_2016, ROOT_2016),
    ],
)
def test_merkle_tree_bridge_example_roots(scheme, leaves, root):
    tree = MerkleTree(leaves[:3], scheme=scheme)
    assert tree.get_root() == root
    assert tree.leaves == leaves
    assert tree.levels == 3
    assert tree.to_json() == leaves
    response = merkle.audit_response(bytes([0x11]) * 32, b"Hello, Storj!", scheme=scheme)
    proof = tree.proof(response)
    assert tree.verify(proof)
    assert merkle.verify_proof(proof, root, tree.levels, scheme=scheme)


def test_merkle_tree_default_scheme_is_2017():
    assert MerkleTree(TREE_2017).scheme == "2017"
    assert MerkleTree(TREE_2017).get_root() == ROOT_2017


def test_merkle_tree_accepts_generators_and_copies():
    source = list(TREE_2017[:3])
    tree = MerkleTree(leaf for leaf in source)
    assert len(source) == 3
    tree.leaves.append("x")
    tree.rows[0].append("x")
    assert len(tree.leaves) == 4 and tree.rows[0] == [tree.get_root()]


@pytest.mark.parametrize(
    ("leaves", "kwargs", "message"),
    [
        (None, {}, "Leaves should be a list."),
        ("abc", {}, "list"),
        ([], {}, "empty"),
        ([1, 2], {}, "strings"),
        ([1], {"prehashed": False}, "strings or bytes"),
        (["a", "b"], {}, "40 hex"),
        (TREE_2017, {"scheme": "2018"}, "scheme"),
    ],
)
def test_merkle_tree_validation(leaves, kwargs, message):
    with pytest.raises(ValueError, match=message):
        MerkleTree(leaves, **kwargs)


def test_merkle_tree_get_level_bounds_and_equality():
    tree = MerkleTree(TREE_2017)
    with pytest.raises(ValueError):
        tree.get_level(3)
    assert tree == MerkleTree(TREE_2017[:3])
    assert tree != MerkleTree(TREE_2017, scheme="2016")
    with pytest.raises(TypeError):
        hash(tree)
    assert "2047821e" in repr(tree)


# --------------------------------------------------------------------------- properties

_text = st.text(max_size=20)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12), _text)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)),
    max_leaves=6,
)
_ms_datetimes = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=UTC)
)
_iso = _ms_datetimes.map(model.format_timestamp)
_ms = _ms_datetimes.map(lambda d: int(d.timestamp() * 1000))


def _record(fields, required=()):
    return st.fixed_dictionaries(
        {k: v for k, v in fields.items() if k in required},
        optional={k: v for k, v in fields.items() if k not in required},
    )


_contact = _record(
    {
        "address": _text,
        "port": st.integers(1, 65535),
        "nodeID": _text,
        "lastSeen": st.one_of(_iso, _ms),
        "protocol": _text,
        "userAgent": _text,
        "lastTimeout": _iso,
        "responseTime": st.integers(0, 10**6),
    }
)
RANDOM_SHAPES = {
    Bucket: _record(
        {
            "id": _text,
            "name": _text,
            "status": _text,
            "user": _text,
            "created": _iso,
            "storage": st.integers(0, 100),
            "transfer": st.integers(0, 100),
            "pubkeys": st.lists(_text, max_size=3),
            "publicPermissions": st.lists(_text, max_size=2),
            "encryptionKey": _text,
        }
    ),
    Contact: _contact,
    Token: _record(
        {
            "token": _text,
            "id": _text,
            "bucket": _text,
            "operation": _text,
            "expires": _iso,
            "encryptionKey": _text,
            "mimetype": _text,
            "size": st.integers(0, 10**9),
        },
        required=("token", "id"),
    ),
    FilePointer: _record(
        {
            "hash": _text,
            "token": _text,
            "operation": _text,
            "channel": _text,
            "farmer": _contact,
            "size": st.integers(1, 10**9),
            "index": st.integers(0, 100),
            "parity": st.booleans(),
        }
    ),
    File: _record(
        {
            "bucket": _text,
            "hash": _text,
            "mimetype": _text,
            "filename": _text,
            "size": st.integers(0, 10**12),
            "id": _text,
            "frame": _text,
            "created": _iso,
            "renewal": _iso,
            "hmac": st.fixed_dictionaries({"type": _text, "value": _text}),
            "erasure": st.fixed_dictionaries({"type": _text}),
            "index": _text,
        }
    ),
    Frame: _record(
        {
            "id": _text,
            "created": _iso,
            "shards": st.lists(_text, max_size=3),
            "user": _text,
            "locked": st.booleans(),
            "size": st.integers(0, 100),
            "storageSize": st.integers(0, 100),
        },
        required=("shards",),
    ),
    User: _record(
        {
            "email": _text,
            "id": _text,
            "created": _iso,
            "activated": st.booleans(),
            "isFreeTier": st.booleans(),
        }
    ),
    Key: _record({"key": _text, "id": _text, "user": _text, "label": _text}),
    ExchangeReport: _record(
        {
            "dataHash": _text,
            "reporterId": _text,
            "farmerId": _text,
            "clientId": _text,
            "exchangeStart": _ms,
            "exchangeEnd": _ms,
            "exchangeResultCode": st.sampled_from([1000, 1100]),
            "exchangeResultMessage": _text,
            "created": _iso,
        }
    ),
    Mirror: _record(
        {
            "hash": _text,
            "mirrors": st.integers(0, 12),
            "status": _text,
            "id": _text,
            "shardHash": _text,
            "contact": st.one_of(_text, _contact),
            "contract": st.dictionaries(_text, _scalar, max_size=3),
            "isEstablished": st.booleans(),
            "created": _iso,
        }
    ),
}


@pytest.mark.parametrize("cls", list(RANDOM_SHAPES), ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_json_round_trips(cls, data):
    wire = data.draw(RANDOM_SHAPES[cls])
    extra = data.draw(
        st.dictionaries(st.text(min_size=1, max_size=8).map(lambda s: "x_" + s), _json, max_size=3)
    )
    payload = {**wire, **extra}
    record = cls.from_json(payload)
    assert record.to_json() == payload
    assert cls.from_json(record.to_json()) == record
    assert record.extra == extra
    assert pickle.loads(pickle.dumps(record)) == record


@settings(max_examples=60, deadline=None)
@given(
    hash_=st.text(alphabet="0123456789abcdef", min_size=40, max_size=40),
    size=st.integers(1, 4 * 1024**3),
    index=st.integers(0, 300),
    challenges=st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=8),
    exclude=st.lists(st.text(alphabet="0123456789abcdef", min_size=40, max_size=40), max_size=3),
    parity=st.one_of(st.none(), st.booleans()),
)
def test_shard_json_round_trip(hash_, size, index, challenges, exclude, parity):
    leaves = merkle.pad_leaves([merkle.audit_leaf(c, b"data") for c in challenges])
    shard = Shard(
        hash=hash_,
        size=size,
        index=index,
        challenges=challenges,
        tree=MerkleTree(leaves),
        exclude=exclude,
        parity=parity,
    )
    body = shard.to_json()
    assert body["tree"] == leaves
    assert body["challenges"] == [c.hex() for c in challenges]
    assert ("parity" in body) == (parity is not None)
    assert Shard.from_json(body) == shard

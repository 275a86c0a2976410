"""Pure parts of the local Bridge: routing, ids and dates, validation, accounting, store."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storj import merkle
from storj.local.bridge import accounting
from storj.local.bridge.audit import proof_is_valid
from storj.local.bridge.auth import farmer_message, parse_basic, store_password
from storj.local.bridge.config import BridgeConfig
from storj.local.bridge.errors import BadRequest
from storj.local.bridge.router import Router, compile_pattern
from storj.local.bridge.routes_frames import validate_shard
from storj.local.bridge.store import SCHEMA_VERSION, DuplicateError, Store, StoreClosedError
from storj.local.bridge.util import (
    from_iso_or_ms,
    is_hex,
    is_int,
    iso_ms,
    new_object_id,
    next_power_of_two,
    valid_email,
    valid_mimetype,
)

# ----------------------------------------------------------------------------- router


def make_router() -> Router:
    router = Router()
    for method, pattern in [
        ("GET", "/buckets"),
        ("GET", "/buckets/:id"),
        ("GET", "/buckets/:id/files/:file"),
        ("GET", "/buckets/:id/files/:file/info"),
        ("POST", "/buckets"),
    ]:
        router.add(method, pattern, f"{method} {pattern}")(lambda ctx, **kw: (method, pattern, kw))
    return router


@pytest.mark.parametrize(
    ("method", "path", "pattern", "params"),
    [
        ("GET", "/buckets", "/buckets", {}),
        ("GET", "/buckets/", "/buckets", {}),
        ("GET", "/BUCKETS", "/buckets", {}),
        ("POST", "/Buckets/", "/buckets", {}),
        ("HEAD", "/buckets", "/buckets", {}),
        ("GET", "/buckets/AbC", "/buckets/:id", {"id": "AbC"}),
        ("GET", "/buckets/a%2Fb%2Bc", "/buckets/:id", {"id": "a/b+c"}),
        ("GET", "/buckets/x/files/y/", "/buckets/:id/files/:file", {"id": "x", "file": "y"}),
        (
            "GET",
            "/buckets/x/FILES/y/Info",
            "/buckets/:id/files/:file/info",
            {"id": "x", "file": "y"},
        ),
    ],
)
def test_router_matches_like_express(method, path, pattern, params):
    found = make_router().match(method, path)
    assert found is not None
    route, got = found
    assert (route.pattern, got) == (pattern, params)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/buckets//"), ("GET", "/bucketsx"), ("PUT", "/buckets"), ("GET", "/buckets/a/b")],
)
def test_router_rejects(method, path):
    assert make_router().match(method, path) is None


def test_router_describes_swagger_paths():
    paths = make_router().describe()
    assert paths["/buckets/{id}/files/{file}"] == {
        "get": {"summary": "GET /buckets/:id/files/:file"}
    }
    assert set(paths["/buckets"]) == {"get", "post"}


@given(
    st.text(
        alphabet=st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), min_size=1
    )
)
def test_router_parameters_round_trip(value):
    from urllib.parse import quote

    found = make_router()
    found.add("GET", "/bucket-ids/:name")(lambda ctx, name: name)
    route, params = found.match("GET", "/bucket-ids/" + quote(value, safe=""))
    assert params == {"name": value}
    assert compile_pattern("/bucket-ids/:name").pattern.endswith("/?$")


# ----------------------------------------------------------------------------- util


def test_iso_ms_matches_javascript_json():
    assert iso_ms(1479325151605) == "2016-11-16T19:39:11.605Z"
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"


@given(st.integers(min_value=0, max_value=253402300799999))
def test_iso_ms_round_trips(ms):
    text = iso_ms(ms)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)
    assert from_iso_or_ms(text) == ms


def test_from_iso_or_ms():
    assert from_iso_or_ms("1479325151605") == 1479325151605
    assert from_iso_or_ms("2016-11-16T19:39:11.605Z") == 1479325151605
    assert from_iso_or_ms("2016-11-16T19:39:11") == 1479325151000
    assert from_iso_or_ms("2016-11-16T20:39:11.605+01:00") == 1479325151605
    assert from_iso_or_ms("yesterday") is None
    assert from_iso_or_ms("") is None


def test_object_ids():
    stamp = int(datetime(2016, 12, 1, 10, tzinfo=UTC).timestamp() * 1000)
    oid = new_object_id(stamp)
    assert re.fullmatch(r"[0-9a-f]{24}", oid)
    assert oid[:8] == format(1480586400, "08x")
    assert len({new_object_id(stamp) for _ in range(100)}) == 100


@given(st.integers(min_value=0, max_value=5000))
def test_next_power_of_two(n):
    p = next_power_of_two(n)
    assert p & (p - 1) == 0 and p >= max(n, 1)
    assert p == 1 or p // 2 < n


def test_value_checks():
    assert is_int(3) and not is_int(True) and not is_int(3.0) and not is_int("3")
    assert is_hex("00ff", 4) and is_hex("AbCd") and not is_hex("abc") and not is_hex("zz", 2)
    assert (
        valid_email("user@example.com") and not valid_email("user@") and not valid_email("a b@c.d")
    )
    assert valid_mimetype("text/plain") and valid_mimetype("application/vnd.ms-excel")
    assert not valid_mimetype("text") and not valid_mimetype("text/plain; charset=utf-8")


def test_config_validation(tmp_path):
    BridgeConfig(data_dir=tmp_path).validate()
    for bad in (
        {"duplicate_file_policy": "upsert"},
        {"port": 70000},
        {"max_body_bytes": 0},
        {"mirror_redundancy": 13},
        {"token_ttl": 0},
        {"consign_attempts": 0},
    ):
        with pytest.raises(ValueError):
            BridgeConfig(data_dir=tmp_path, **bad).validate()


# ----------------------------------------------------------------------------- auth pieces


def test_store_password_is_double_sha256():
    # SHA256("password") as the client sends it, then SHA256 of that hex text
    client = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
    assert (
        store_password(client) == "113459eb7bb31bddee85ade5230d6ad5d8b2fb52879e00a84ff6ae1067a210d3"
    )


def test_parse_basic():
    assert parse_basic("Basic dXNlckBleGFtcGxlLmNvbTpzZWNyZXQ=") == ("user@example.com", "secret")
    assert parse_basic("basic dXNlckBleGFtcGxlLmNvbTpzZWNyZXQ=") == ("user@example.com", "secret")
    assert parse_basic("Basic dXNlcjo=") is None  # empty password
    assert parse_basic("Basic OnNlY3JldA==") is None  # empty user
    assert parse_basic("Basic !!!") is None
    assert parse_basic("Bearer abc") is None
    assert parse_basic(None) is None


def test_farmer_message():
    assert farmer_message("post", b"http://127.0.0.1:6382/contacts", "1480586400000", b"{}") == (
        b"POSThttp://127.0.0.1:6382/contacts1480586400000{}"
    )


# ----------------------------------------------------------------------------- shards & audits

SHARD = {
    "hash": "d4b0d0d0d8f9c4be812d210a9f6d6caf954ce223",
    "size": 13,
    "index": 0,
    "challenges": ["00" * 32, "11" * 32, "22" * 32],
    "tree": [
        "151B2229EE512BA8C3F006C2545C3845AD95245E",
        "6a5a21d4e3132a98b421527823165505e3fefef0",
        "ac4a5a02113b7cb2b6a4a38569fee509dc3575eb",
        "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb",
    ],
}


def test_validate_shard_normalises():
    shard = validate_shard({**SHARD, "exclude": ["f" * 40, "junk"], "parity": True})
    assert shard["tree"][0] == "151b2229ee512ba8c3f006c2545c3845ad95245e"
    assert shard["exclude"] == {"f" * 40}
    assert shard["parity"] is True
    assert validate_shard(SHARD)["parity"] is False


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 8, 9, 12])
def test_validate_shard_tree_length(count):
    body = {**SHARD, "challenges": ["ab" * 32] * count}
    body["tree"] = [SHARD["tree"][3]] * next_power_of_two(count)
    validate_shard(body)
    body["tree"] = body["tree"] + [SHARD["tree"][3]]
    with pytest.raises(BadRequest, match="Challenges and tree do not match"):
        validate_shard(body)


def test_audit_proofs_of_both_schemes():
    data = b"Hello, Storj!"
    leaves_2017 = merkle.pad_leaves([merkle.audit_leaf(c, data) for c in SHARD["challenges"]])
    leaves_2016 = merkle.pad_leaves(
        [merkle.audit_leaf(c, data, scheme="2016") for c in SHARD["challenges"]]
    )
    assert merkle.merkle_root(leaves_2017) == "2047821ebf5cbf1111a64089d72fad184e4e4882"
    for index, challenge in enumerate(SHARD["challenges"]):
        proof = merkle.make_proof(leaves_2017, merkle.audit_response(challenge, data))
        assert proof_is_valid(proof, leaves_2017)
        assert proof_is_valid(proof, leaves_2017, merkle.merkle_root(leaves_2017))
        old = merkle.make_proof(
            leaves_2016, merkle.audit_response(challenge, data, scheme="2016"), scheme="2016"
        )
        assert proof_is_valid(old, leaves_2016)
        assert not proof_is_valid(old, leaves_2017)
        assert index >= 0
    forged = merkle.make_proof(leaves_2017, merkle.audit_response(SHARD["challenges"][0], data))
    forged[1] = "00" * 20
    assert not proof_is_valid(forged, leaves_2017)
    assert not proof_is_valid(None, leaves_2017)
    assert not proof_is_valid([["zz"]], leaves_2017)


# ----------------------------------------------------------------------------- accounting


def test_transfer_windows_roll():
    counters = accounting.roll(None, 1_000)
    assert counters == {
        "lastHourStarted": 1_000,
        "lastHourBytes": 0,
        "lastDayStarted": 1_000,
        "lastDayBytes": 0,
        "lastMonthStarted": 1_000,
        "lastMonthBytes": 0,
    }
    used = {**counters, "lastHourBytes": 5, "lastDayBytes": 5, "lastMonthBytes": 5}
    later = accounting.roll(used, 1_000 + 3_600_000)
    assert (later["lastHourBytes"], later["lastDayBytes"]) == (0, 5)
    user = {"is_free_tier": True, "bytes_uploaded": {**counters, "lastHourBytes": 3_000_000_000}}
    assert accounting.over_limit(user, "bytes_uploaded", 2_000)
    assert not accounting.over_limit(user, "bytes_uploaded", 1_000 + 3_600_000)
    assert not accounting.over_limit({**user, "is_free_tier": False}, "bytes_uploaded", 2_000)


# ----------------------------------------------------------------------------- store


@pytest.fixture
def store(tmp_path):
    opened = Store(tmp_path / "b" / "bridge.sqlite3").open()
    yield opened
    opened.close()


def user_row(email="a@example.com"):
    return {"email": email, "hashpass": "h", "created": 1, "activated": True}


def test_store_schema_and_file(tmp_path, store):
    path = tmp_path / "b" / "bridge.sqlite3"
    assert path.stat().st_mode & 0o777 == 0o600
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert {
        "users",
        "keys",
        "nonces",
        "buckets",
        "tokens",
        "frames",
        "pointers",
        "entries",
        "contacts",
        "contracts",
        "mirrors",
        "reports",
        "outbox",
        "schema_version",
    } <= tables


def test_store_refuses_newer_schema(tmp_path, store):
    store.close()
    path = tmp_path / "b" / "bridge.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="schema version 99"):
        Store(path).open()


def test_store_reopen_keeps_rows(tmp_path, store):
    store.create_user(user_row())
    store.close()
    with pytest.raises(StoreClosedError):
        store.get_user("a@example.com")
    again = Store(tmp_path / "b" / "bridge.sqlite3").open()
    try:
        assert again.get_user("a@example.com")["hashpass"] == "h"
    finally:
        again.close()


def test_store_nonces(store):
    assert store.use_nonce("a", "n", now=1_000, ttl_ms=300_000)
    assert not store.use_nonce("a", "n", now=2_000, ttl_ms=300_000)
    assert store.use_nonce("b", "n", now=2_000, ttl_ms=300_000)  # unique per user
    assert store.use_nonce("a", "n", now=301_000, ttl_ms=300_000)  # forgotten after the ttl


def test_store_tokens_are_single_use(store):
    store.add_token(
        {"token": "t", "bucket": "b", "operation": "PULL", "expires": 10, "created": 0}, 0
    )
    assert store.consume_token("t", now=5)["bucket"] == "b"
    assert store.consume_token("t", now=6) is None
    store.add_token(
        {"token": "u", "bucket": "b", "operation": "PULL", "expires": 10, "created": 0}, 0
    )
    assert store.consume_token("u", now=10) is None  # expired


def test_store_duplicates_and_rollback(store):
    store.create_user(user_row())
    with pytest.raises(DuplicateError):
        store.create_user(user_row(), {"pubkey": "k", "user_email": "x", "label": "", "created": 1})
    assert store.get_key("k") is None  # the whole transaction rolled back
    with pytest.raises(DuplicateError):
        store.create_user(
            user_row("b@example.com"), {"pubkey": "k", "user_email": "b", "label": ""}
        )
    assert store.get_user("b@example.com") is None


def test_store_json_columns(store):
    row = {
        "id": "0" * 24,
        "user_email": "a",
        "name": "n",
        "pubkeys": ["02ab"],
        "public_permissions": ["PULL"],
        "created": 5,
    }
    store.create_bucket(row)
    got = store.get_bucket("0" * 24)
    assert (got["pubkeys"], got["public_permissions"], got["status"]) == (
        ["02ab"],
        ["PULL"],
        "Active",
    )
    assert json.loads(json.dumps(got))  # plain JSON-able values


# ----------------------------------------------------------------------------- schema 3


def _version_2_database(path) -> None:
    """A Bridge database as storj 1.0 wrote it: contracts keyed by (hash, farmer)."""
    from storj.local.bridge.store import MIGRATIONS

    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for migrate in MIGRATIONS[:2]:
        migrate(conn)
    conn.execute("INSERT INTO schema_version (version) VALUES (2)")
    for frame, email in (("f" * 24, "alice@example.com"), ("e" * 24, "bob@example.com")):
        conn.execute(
            "INSERT INTO frames (id, user_email, created, locked) VALUES (?, ?, 1, 1)",
            (frame, email),
        )
        conn.execute(
            "INSERT INTO pointers (id, frame, idx, hash, size, tree, challenges, node_id, created)"
            " VALUES (?, ?, 0, ?, 5, '[]', '[]', 'n1', 1)",
            ("p" + frame[1:], frame, "ab" * 20),
        )
    for data_hash in ("ab" * 20, "cd" * 20):
        conn.execute(
            "INSERT INTO contracts (id, hash, node_id, data_size, store_begin, store_end,"
            " audit_count, leaves, challenges, confirmed, created)"
            " VALUES (?, ?, 'n1', 5, 1, 2, 1, '[]', '[]', 1, 1)",
            (data_hash[:24], data_hash),
        )
    conn.commit()
    conn.close()


def test_schema_3_gives_every_contract_its_owners(tmp_path):
    path = tmp_path / "bridge.sqlite3"
    _version_2_database(path)
    store = Store(path).open()
    try:
        assert SCHEMA_VERSION == 3
        shared = store.contracts_at("n1", "ab" * 20)
        assert [c["owner"] for c in shared] == ["alice@example.com", "bob@example.com"]
        assert all(c["legacy"] == 1 and c["confirmed"] == 1 for c in shared)
        assert len({c["id"] for c in shared}) == 2
        # nobody's frame points at the other hash: it waits for garbage collection
        [orphan] = store.contracts_at("n1", "cd" * 20)
        assert orphan["owner"] == ""
        assert [c["hash"] for c in store.drop_unreferenced(now=5)] == ["cd" * 20]
        [release] = store.pending_releases()
        assert (release["node_id"], release["hash"]) == ("n1", "cd" * 20)
        assert store.release_status("n1", "cd" * 20, release["renter"], 0) == ("go", False)
        # the shard is still named there by Alice's and Bob's contracts
        assert store.release_status("n1", "ab" * 20, release["renter"], 0) == ("go", True)
        assert store.get_frame("f" * 24)["updated"] == 1
    finally:
        store.close()

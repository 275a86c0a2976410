"""storj.http.Client: exact request shapes, authentication, error mapping and retries.

Every Bridge call goes through ``responses``; nothing leaves the process except the
connection-refused test, which dials a closed port on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import types
import urllib.parse
import uuid

import ecdsa
import pytest
import requests
import responses
from cryptography.hazmat.primitives.asymmetric import ec

import storj
from storj import keys, model
from storj.api import hash_password, signing_string
from storj.exception import (
    AuthenticationError,
    BadRequestError,
    BridgeError,
    BridgeResponseError,
    BridgeServerError,
    BridgeTimeoutError,
    BridgeTransportError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    StorjError,
)
from storj.http import DEFAULT_API_URL, Client, RetryPolicy
from tests.data import BUCKET, BUCKET_ID, FARMER, FILE_ID, FRAME_ID, NODE_ID, PUBHEX, SHARD_HASH

API = "http://bridge.test"
EMAIL = "email@example.com"
PASSWORD = "s3CR3cy"
BASIC = (
    "Basic ZW1haWxAZXhhbXBsZS5jb206NjdmMWE3YTEwMDQ1ZDk3YTAzMzEyYzkzMzJkMmM5ODE5NTQwOGFiZmIx"
    "MzJiZTE0MTE5NGQ4YTc1ODk4ZDZkYQ=="
)
PRIVATE = b"\x11" * 32

PULL_TOKEN = "ab" * 32

FRAME = {
    "id": FRAME_ID,
    "user": "user@example.com",
    "created": "2016-12-01T10:00:00.000Z",
    "locked": False,
    "size": 0,
    "shards": [],
}
ENTRY = {
    "bucket": BUCKET_ID,
    "mimetype": "text/plain",
    "filename": "file.txt",
    "frame": FRAME_ID,
    "size": 13,
    "id": FILE_ID,
}
TOKEN = {
    "token": PULL_TOKEN,
    "id": PULL_TOKEN,
    "bucket": BUCKET_ID,
    "operation": "PULL",
    "expires": "2016-12-01T10:05:00.000Z",
    "encryptionKey": "",
}
CONTACT = {**FARMER, "lastSeen": "2016-12-01T10:00:00.000Z"}
POINTER = {
    "token": "cd" * 20,
    "hash": SHARD_HASH,
    "farmer": FARMER,
    "operation": "PULL",
    "size": 13,
    "index": 0,
}
USER = {
    "email": "user@example.com",
    "id": "user@example.com",
    "created": "2016-12-01T10:00:00.000Z",
    "activated": False,
    "isFreeTier": True,
}
KEY = {"key": PUBHEX, "id": PUBHEX, "user": "user@example.com", "label": ""}
SHARD_BODY = {
    "hash": SHARD_HASH,
    "size": 13,
    "index": 0,
    "challenges": ["00" * 32, "11" * 32, "22" * 32],
    "tree": [
        "c4ba6773583d66e9898902520813515a9eeeb7fa",
        "e7b700dbe6b338324bc80c7fe6eec7d59338ce00",
        "ebc7a2b9af4324b4cc0fdb4d020d0f14155cc549",
        "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb",
    ],
}
PUT_FRAME_ANSWER = {"hash": SHARD_HASH, "token": "ef" * 20, "operation": "PUSH", "farmer": FARMER}
REPORT = {
    "dataHash": SHARD_HASH,
    "reporterId": "user@example.com",
    "clientId": "user@example.com",
    "farmerId": NODE_ID,
    "exchangeStart": 1480586400100,
    "exchangeEnd": 1480586400200,
    "exchangeResultCode": 1000,
    "exchangeResultMessage": "SHARD_UPLOADED",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("STORJ_BRIDGE", "STORJ_ENCRYPTION_KEY", "STORJ_BRIDGE_USER", "STORJ_BRIDGE_PASS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(sleeps):
    c = Client(EMAIL, PASSWORD, API + "/")
    c._sleep = sleeps.append
    return c


@pytest.fixture
def signed(sleeps):
    c = Client(EMAIL, PASSWORD, API + "/")
    c._sleep = sleeps.append
    c.authenticate(PRIVATE)
    return c


def compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def split(request):
    parts = urllib.parse.urlsplit(request.url)
    return parts.path, parts.query


def assert_signed(request, pubhex=PUBHEX):
    """The request carries a valid signature over exactly what was sent, and a fresh nonce."""
    path, query = split(request)
    if request.method in ("POST", "PUT", "PATCH"):
        payload = request.body
        nonce = json.loads(payload)["__nonce"]
    else:
        payload = query.encode()
        nonce = dict(urllib.parse.parse_qsl(query))["__nonce"]
    assert request.headers["x-pubkey"] == pubhex
    message = signing_string(request.method, path, payload)
    assert keys.verify(pubhex, request.headers["x-signature"], message)
    assert "Authorization" not in request.headers
    assert uuid.UUID(nonce).version == 4
    return nonce


# ---------------------------------------------------------------- the route table
#
# (call, method, path, query, body, auth, status, answer, check)
#   query: exact query string sent (Basic client); body: exact JSON object sent.
#   auth: "basic" (Authorization header) or "none" (no credentials at all).

CASES = {
    "bucket_create": (
        lambda c: c.bucket_create("test-bucket"),
        "POST", "/buckets", "", {"name": "test-bucket"}, "basic", 201, BUCKET,
        lambda r: r == model.Bucket.from_json(BUCKET) and r.id == BUCKET_ID,
    ),
    "bucket_create_limits": (
        lambda c: c.bucket_create("b", 10, 0),
        "POST", "/buckets", "", {"name": "b", "storage": 10, "transfer": 0}, "basic", 201, BUCKET,
        lambda r: isinstance(r, model.Bucket),
    ),
    "bucket_delete": (
        lambda c: c.bucket_delete(BUCKET_ID),
        "DELETE", f"/buckets/{BUCKET_ID}", "", None, "basic", 204, None, lambda r: r is None,
    ),
    "bucket_files": (
        lambda c: c.bucket_files(BUCKET_ID),
        "GET", f"/buckets/{BUCKET_ID}/files", "", None, "basic", 200, [ENTRY],
        # typed records with 0.x dict access; ENTRY has no `created`, so one request
        lambda r: r == [model.File.from_json(ENTRY)] and r[0]["filename"] == "file.txt"
        and r[0]["id"] == FILE_ID and r[0].name_state == "plaintext",
    ),
    "bucket_get": (
        lambda c: c.bucket_get(BUCKET_ID),
        "GET", f"/buckets/{BUCKET_ID}", "", None, "basic", 200, BUCKET,
        lambda r: r == model.Bucket.from_json(BUCKET),
    ),
    "bucket_list": (
        lambda c: c.bucket_list(),
        "GET", "/buckets", "", None, "basic", 200, [BUCKET, BUCKET],
        lambda r: next(r) == model.Bucket.from_json(BUCKET) and len(list(r)) == 1,
    ),
    "bucket_set_keys": (
        lambda c: c.bucket_set_keys(BUCKET_ID, "ignored-name", [PUBHEX.upper()]),
        "PATCH", f"/buckets/{BUCKET_ID}", "", {"pubkeys": [PUBHEX]}, "basic", 200,
        {**BUCKET, "pubkeys": [PUBHEX]},
        lambda r: r.pubkeys == [PUBHEX],
    ),
    "bucket_set_mirrors_201": (
        lambda c: c.bucket_set_mirrors(BUCKET_ID, FILE_ID, 3),
        "POST", f"/buckets/{BUCKET_ID}/mirrors", "", {"file": FILE_ID, "redundancy": 3}, "basic",
        201, [{"hash": SHARD_HASH, "mirrors": 3, "status": "pending"}],
        lambda r: r == [model.Mirror(hash=SHARD_HASH, mirrors=3, status="pending")],
    ),
    "bucket_set_mirrors_202": (
        lambda c: c.bucket_set_mirrors(BUCKET_ID, FILE_ID, 2),
        "POST", f"/buckets/{BUCKET_ID}/mirrors", "", {"file": FILE_ID, "redundancy": 2}, "basic",
        202,
        [
            [{"id": "a" * 24, "shardHash": SHARD_HASH, "contact": NODE_ID, "isEstablished": False}],
            [{"id": "b" * 24, "shardHash": "e" * 40, "contact": NODE_ID, "isEstablished": False}],
        ],
        lambda r: [m.id for m in r] == ["a" * 24, "b" * 24] and r[1].shardHash == "e" * 40,
    ),
    "contact_list": (
        lambda c: c.contact_list(),
        "GET", "/contacts", "page=1", None, "none", 200, [CONTACT],
        lambda r: r == [model.Contact.from_json(CONTACT)],
    ),
    "contact_list_filters": (
        lambda c: c.contact_list(2, "127.0.0.1", "1.0.0", "6.0.11", True),
        "GET", "/contacts",
        "page=2&address=127.0.0.1&protocol=1.0.0&userAgent=6.0.11&connected=true",
        None, "none", 200, [], lambda r: r == [],
    ),
    "contact_list_disconnected": (
        lambda c: c.contact_list(user_agent="a b", connected=False),
        "GET", "/contacts", "page=1&userAgent=a+b&connected=false", None, "none", 200, [],
        lambda r: r == [],
    ),
    "contact_lookup": (
        lambda c: c.contact_lookup(NODE_ID),
        "GET", f"/contacts/{NODE_ID}", "", None, "none", 200, CONTACT,
        lambda r: r.nodeID == NODE_ID and r.port == 4001,
    ),
    "file_metadata": (
        lambda c: c.file_metadata(BUCKET_ID, FILE_ID),
        "GET", f"/buckets/{BUCKET_ID}/files/{FILE_ID}/info", "", None, "basic", 200, ENTRY,
        lambda r: r == model.File.from_json(ENTRY),
    ),
    "file_remove": (
        lambda c: c.file_remove(BUCKET_ID, FILE_ID),
        "DELETE", f"/buckets/{BUCKET_ID}/files/{FILE_ID}", "", None, "basic", 204, None,
        lambda r: r is None,
    ),
    "frame_add_shard": (
        lambda c: c.frame_add_shard(model.Shard(**SHARD_BODY), FRAME_ID, exclude=[NODE_ID]),
        "PUT", f"/frames/{FRAME_ID}", "", {**SHARD_BODY, "exclude": [NODE_ID]}, "basic", 200,
        PUT_FRAME_ANSWER,
        lambda r: r == PUT_FRAME_ANSWER and r["farmer"]["address"] == "127.0.0.1",
    ),
    "frame_add_shard_mapping": (
        lambda c: c.frame_add_shard(dict(SHARD_BODY, id=None), FRAME_ID),
        "PUT", f"/frames/{FRAME_ID}", "", SHARD_BODY, "basic", 200, PUT_FRAME_ANSWER,
        lambda r: r["token"] == "ef" * 20,
    ),
    "frame_create": (
        lambda c: c.frame_create(),
        "POST", "/frames", "", {}, "basic", 200, FRAME,
        lambda r: r == model.Frame.from_json(FRAME),
    ),
    "frame_delete": (
        lambda c: c.frame_delete(FRAME_ID),
        "DELETE", f"/frames/{FRAME_ID}", "", None, "basic", 204, None, lambda r: r is None,
    ),
    "frame_get": (
        lambda c: c.frame_get(FRAME_ID),
        "GET", f"/frames/{FRAME_ID}", "", None, "basic", 200, FRAME,
        lambda r: r.id == FRAME_ID and r.locked is False,
    ),
    "frame_list": (
        lambda c: c.frame_list(),
        "GET", "/frames", "", None, "basic", 200, [FRAME],
        lambda r: list(r) == [model.Frame.from_json(FRAME)],
    ),
    "key_delete": (
        lambda c: c.key_delete(PUBHEX),
        "DELETE", f"/keys/{PUBHEX}", "", None, "basic", 204, None, lambda r: r is None,
    ),
    "key_delete_escaped": (
        lambda c: c.key_delete("a/b c"),
        "DELETE", "/keys/a%2Fb%20c", "", None, "basic", 204, None, lambda r: r is None,
    ),
    "key_list": (
        lambda c: c.key_list(),
        "GET", "/keys", "", None, "basic", 200, [KEY, {**KEY, "key": "02" + "ab" * 32}],
        lambda r: r == [PUBHEX, "02" + "ab" * 32],
    ),
    "key_register_verifying_key": (
        lambda c: c.key_register(
            ecdsa.SigningKey.from_string(PRIVATE, ecdsa.SECP256k1).verifying_key
        ),
        "POST", "/keys", "", {"key": PUBHEX}, "basic", 200, KEY,
        lambda r: r == [model.Key.from_json(KEY)],
    ),
    "key_register_signing_key": (
        lambda c: c.key_register(ecdsa.SigningKey.from_string(PRIVATE, ecdsa.SECP256k1)),
        "POST", "/keys", "", {"key": PUBHEX}, "basic", 200, KEY, lambda r: len(r) == 1,
    ),
    "key_register_cryptography_key": (
        lambda c: c.key_register(keys.load_private_key(PRIVATE).public_key()),
        "POST", "/keys", "", {"key": PUBHEX}, "basic", 200, KEY, lambda r: len(r) == 1,
    ),
    "key_register_hex": (
        lambda c: c.key_register(PUBHEX.upper()),
        "POST", "/keys", "", {"key": PUBHEX}, "basic", 200, KEY,
        lambda r: r[0].key == PUBHEX,
    ),
    "token_create": (
        lambda c: c.token_create(BUCKET_ID, "push"),
        "POST", f"/buckets/{BUCKET_ID}/tokens", "", {"operation": "PUSH"}, "basic", 201,
        {**TOKEN, "operation": "PUSH"},
        lambda r: isinstance(r, model.Token) and r["token"] == PULL_TOKEN,
    ),
    "token_create_file": (
        lambda c: c.token_create(BUCKET_ID, "PULL", file_id=FILE_ID),
        "POST", f"/buckets/{BUCKET_ID}/tokens", "", {"operation": "PULL", "file": FILE_ID},
        "basic", 201, {**TOKEN, "mimetype": "text/plain", "size": 13},
        lambda r: r.size == 13,
    ),
    "user_activate": (
        lambda c: c.user_activate("f0" * 32),
        "GET", f"/activations/{'f0' * 32}", "", None, "none", 200, {**USER, "activated": True},
        lambda r: r.activated is True,
    ),
    "user_activation_email": (
        lambda c: c.user_activation_email("user@example.com", "ignored"),
        "POST", "/activations", "", {"email": "user@example.com"}, "none", 201, USER,
        lambda r: r == model.User.from_json(USER),
    ),
    "user_create": (
        lambda c: c.user_create("user@example.com", PASSWORD),
        "POST", "/users", "",
        {
            "email": "user@example.com",
            "password": "67f1a7a10045d97a03312c9332d2c98195408abfb132be141194d8a75898d6da",
        },
        "none", 201, USER, lambda r: r.email == "user@example.com",
    ),
    "user_deactivate": (
        lambda c: c.user_deactivate("d0" * 256),
        "GET", f"/deactivations/{'d0' * 256}", "", None, "none", 200, USER,
        lambda r: isinstance(r, model.User),
    ),
    "user_delete": (
        lambda c: c.user_delete("user@example.com"),
        "DELETE", "/users/user@example.com", "", None, "basic", 200, USER,
        lambda r: isinstance(r, model.User),
    ),
    "user_reset_password": (
        lambda c: c.user_reset_password("user@example.com", "new pässword"),
        "PATCH", "/users/user@example.com", "", {"password": hash_password("new pässword")},
        "none", 200, USER, lambda r: isinstance(r, model.User),
    ),
    "user_reset_password_2018": (
        lambda c: c.user_reset_password("user@example.com"),
        "PATCH", "/users/user@example.com", "", {}, "none", 200, USER,
        lambda r: isinstance(r, model.User),
    ),
    "user_reset_password_confirmation": (
        lambda c: c.user_reset_password_confirmation("e0" * 256),
        "GET", f"/resets/{'e0' * 256}", "", None, "none", 200, USER,
        lambda r: isinstance(r, model.User),
    ),
    "user_reset_password_confirmation_2018": (
        lambda c: c.user_reset_password_confirmation("e0" * 256, "s3CR3cy"),
        "POST", f"/resets/{'e0' * 256}", "",
        {"password": "67f1a7a10045d97a03312c9332d2c98195408abfb132be141194d8a75898d6da"},
        "none", 200, USER, lambda r: isinstance(r, model.User),
    ),
    "bucket_entry_create": (
        lambda c: c.bucket_entry_create(BUCKET_ID, FRAME_ID, "file.txt", "text/plain"),
        "POST", f"/buckets/{BUCKET_ID}/files", "",
        {"frame": FRAME_ID, "filename": "file.txt", "mimetype": "text/plain"}, "basic", 200,
        ENTRY, lambda r: r == model.File.from_json(ENTRY),
    ),
    "bucket_entry_create_2018": (
        lambda c: c.bucket_entry_create(
            BUCKET_ID, FRAME_ID, "f", index="0a" * 32,
            hmac={"type": "sha512", "value": "ff" * 64}, erasure={"type": "reedsolomon"},
        ),
        "POST", f"/buckets/{BUCKET_ID}/files", "",
        {
            "frame": FRAME_ID,
            "filename": "f",
            "index": "0a" * 32,
            "hmac": {"type": "sha512", "value": "ff" * 64},
            "erasure": {"type": "reedsolomon"},
        },
        "basic", 200, ENTRY, lambda r: isinstance(r, model.File),
    ),
    "bucket_entry_create_overwrite": (
        lambda c: c.bucket_entry_create(BUCKET_ID, FRAME_ID, "f", overwrite=True),
        "POST", f"/buckets/{BUCKET_ID}/files", "",
        {"frame": FRAME_ID, "filename": "f", "overwrite": True},
        "basic", 200, ENTRY, lambda r: isinstance(r, model.File),
    ),
    "exchange_report_send": (
        lambda c: c.exchange_report_send(REPORT),
        "POST", "/reports/exchanges", "", REPORT, "none", 201, {}, lambda r: r is None,
    ),
    "exchange_report_send_model": (
        lambda c: c.exchange_report_send(model.ExchangeReport.from_json(REPORT)),
        "POST", "/reports/exchanges", "", REPORT, "none", 201, {}, lambda r: r is None,
    ),
    "bucket_id_by_name": (
        lambda c: c.bucket_id_by_name("my bucket/1"),
        "GET", "/bucket-ids/my%20bucket%2F1", "", None, "basic", 200, {"id": BUCKET_ID},
        lambda r: r == BUCKET_ID,
    ),
    "file_id_by_name": (
        lambda c: c.file_id_by_name(BUCKET_ID, "a b.txt"),
        "GET", f"/buckets/{BUCKET_ID}/file-ids/a%20b.txt", "", None, "basic", 200,
        {"id": FILE_ID}, lambda r: r == FILE_ID,
    ),
    "file_mirrors": (
        lambda c: c.file_mirrors(BUCKET_ID, FILE_ID),
        "GET", f"/buckets/{BUCKET_ID}/files/{FILE_ID}/mirrors", "", None, "basic", 200,
        [{"established": [{"shardHash": SHARD_HASH, "contract": {"farmer_id": NODE_ID}}],
          "available": []}],
        lambda r: isinstance(r[0], model.FileMirrors)
        and r[0].established[0].shardHash == SHARD_HASH,
    ),
    "get_info": (
        lambda c: c.get_info(),
        "GET", "/", "", None, "none", 200, {"info": {"title": "Storj Bridge"}},
        lambda r: r["info"]["title"] == "Storj Bridge",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_route_basic(name, rsps, client):
    call, method, path, query, body, auth, status, answer, check = CASES[name]
    if answer is None:
        rsps.add(method, API + path, status=status)
    else:
        rsps.add(method, API + path, json=answer, status=status)
    result = call(client)
    assert check(result)
    # a listing asks the next page (from 1 ms before the last entry) until nothing is new
    assert len(rsps.calls) == (2 if name == "bucket_list" else 1)
    assert all("startDate=2016-12-01T09%3A59%3A59.999Z" in c.request.url for c in rsps.calls[1:])
    request = rsps.calls[0].request
    assert request.method == method
    assert request.url == API + path + (f"?{query}" if query else "")
    if body is None:
        assert request.body is None
    else:
        assert json.loads(request.body) == body
        assert request.body == compact(json.loads(request.body))  # compact, no spaces
        assert request.headers["Content-Type"] == "application/json"
    if auth == "basic":
        assert request.headers["Authorization"] == BASIC
    else:
        assert "Authorization" not in request.headers
    assert "x-signature" not in request.headers and "x-pubkey" not in request.headers
    assert request.req_kwargs["timeout"] == 60.0
    assert request.req_kwargs.get("allow_redirects", False) is False


@pytest.mark.parametrize("name", sorted(CASES))
def test_route_signed(name, rsps, signed):
    call, method, path, query, body, auth, status, answer, check = CASES[name]
    if answer is None:
        rsps.add(method, API + path, status=status)
    else:
        rsps.add(method, API + path, json=answer, status=status)
    assert check(call(signed))
    request = rsps.calls[0].request
    sent_path, sent_query = split(request)
    assert sent_path == path
    if auth == "none":
        # public routes: exactly the Basic-client request, no credentials, no nonce
        assert request.url == API + path + (f"?{query}" if query else "")
        assert not {"Authorization", "x-signature", "x-pubkey"} & set(request.headers)
        assert (None if body is None else json.loads(request.body)) == body
        return
    nonce = assert_signed(request)
    if body is None:
        expected = (query + "&" if query else "") + urllib.parse.urlencode({"__nonce": nonce})
        assert sent_query == expected
        assert request.body is None
    else:
        assert json.loads(request.body) == {**body, "__nonce": nonce}
        assert request.body == compact(json.loads(request.body))


def test_file_pointers_basic(rsps, client):
    rsps.add("POST", f"{API}/buckets/{BUCKET_ID}/tokens", json=TOKEN, status=201)
    rsps.add("GET", f"{API}/buckets/{BUCKET_ID}/files/{FILE_ID}", json=[POINTER])
    pointers = client.file_pointers(
        BUCKET_ID, FILE_ID, skip=0, limit=6, exclude=["a" * 40, "b" * 40]
    )
    first = next(pointers)
    assert isinstance(first, model.FilePointer)
    assert first.farmer.address == "127.0.0.1" and first.size == 13
    assert str(first.token) == "cd" * 20
    assert list(pointers) == []
    token_request, get_request = (call.request for call in rsps.calls)
    assert token_request.body == b'{"operation":"PULL"}'
    assert token_request.headers["Authorization"] == BASIC
    assert get_request.url == (
        f"{API}/buckets/{BUCKET_ID}/files/{FILE_ID}?skip=0&limit=6&exclude={'a' * 40}%2C{'b' * 40}"
    )
    assert get_request.headers["x-token"] == PULL_TOKEN
    assert "Authorization" not in get_request.headers
    assert get_request.req_kwargs["timeout"] == 60.0


def test_file_pointers_without_filters(rsps, signed):
    rsps.add("POST", f"{API}/buckets/{BUCKET_ID}/tokens", json=TOKEN, status=201)
    rsps.add("GET", f"{API}/buckets/{BUCKET_ID}/files/{FILE_ID}", json=[])
    assert list(signed.file_pointers(BUCKET_ID, FILE_ID)) == []
    token_request, get_request = (call.request for call in rsps.calls)
    assert_signed(token_request)
    assert get_request.url == f"{API}/buckets/{BUCKET_ID}/files/{FILE_ID}"
    assert get_request.headers["x-token"] == PULL_TOKEN
    assert not {"Authorization", "x-signature"} & set(get_request.headers)


def test_file_pointers_retry_uses_a_fresh_token(rsps, client, sleeps):
    second = {**TOKEN, "token": "99" * 32, "id": "99" * 32}
    rsps.add("POST", f"{API}/buckets/{BUCKET_ID}/tokens", json=TOKEN, status=201)
    rsps.add("GET", f"{API}/buckets/{BUCKET_ID}/files/{FILE_ID}", status=500,
             json={"error": "Failed to get retrieval token"})
    rsps.add("POST", f"{API}/buckets/{BUCKET_ID}/tokens", json=second, status=201)
    rsps.add("GET", f"{API}/buckets/{BUCKET_ID}/files/{FILE_ID}", json=[POINTER])
    assert len(list(client.file_pointers(BUCKET_ID, FILE_ID, 0, 1))) == 1
    tokens = [c.request.headers["x-token"] for c in rsps.calls if c.request.method == "GET"]
    assert tokens == [PULL_TOKEN, "99" * 32]
    assert sleeps == [0.2]


def test_token_create_rejects_other_operations(client):
    with pytest.raises(ValueError, match="PUSH"):
        client.token_create(BUCKET_ID, "DELETE")


def test_bucket_set_mirrors_validates_redundancy(client):
    with pytest.raises(ValueError):
        client.bucket_set_mirrors(BUCKET_ID, FILE_ID, 0)


def test_key_register_rejects_garbage(client):
    with pytest.raises(ValueError):
        client.key_register("04" + "00" * 64)
    with pytest.raises(ValueError):
        client.key_register(object())


def test_caller_dicts_are_not_mutated(rsps, signed):
    rsps.add("PUT", f"{API}/frames/{FRAME_ID}", json=PUT_FRAME_ANSWER)
    rsps.add("POST", f"{API}/buckets/{BUCKET_ID}/files", json=ENTRY)
    shard = json.loads(json.dumps(SHARD_BODY))
    hmac = {"type": "sha512", "value": "ff" * 64}
    signed.frame_add_shard(shard, FRAME_ID, exclude=[NODE_ID])
    signed.bucket_entry_create(BUCKET_ID, FRAME_ID, "f", hmac=hmac)
    assert shard == SHARD_BODY
    assert hmac == {"type": "sha512", "value": "ff" * 64}


# ------------------------------------------------------------ authentication

def test_basic_header_reference_vector(rsps, client):
    rsps.add("GET", f"{API}/buckets", json=[])
    client.bucket_list()
    assert rsps.calls[0].request.headers["Authorization"] == BASIC


def test_password_is_stored_hashed():
    c = Client(EMAIL, PASSWORD, API)
    assert c.password == "67f1a7a10045d97a03312c9332d2c98195408abfb132be141194d8a75898d6da"
    assert PASSWORD not in vars(c).values()
    c.password = "ünïcode"
    assert c.password == hash_password("ünïcode")
    with pytest.raises(TypeError):
        c.password = b"bytes"


@pytest.mark.parametrize(
    "key",
    [
        ecdsa.SigningKey.from_string(PRIVATE, curve=ecdsa.SECP256k1),
        keys.load_private_key(PRIVATE),
        PRIVATE,
        PRIVATE.hex(),
    ],
    ids=["ecdsa", "cryptography", "bytes", "hex"],
)
def test_authenticate_accepts_every_key_form(key):
    c = Client(EMAIL, PASSWORD, API)
    assert (c.private_key, c.public_key, c.public_key_hex) == (None, None, None)
    c.authenticate(key)
    assert isinstance(c.private_key, ecdsa.SigningKey)
    assert isinstance(c.public_key, ecdsa.VerifyingKey)
    assert c.public_key.to_string("compressed").hex() == PUBHEX
    assert c.public_key_hex == PUBHEX


def test_authenticate_without_key_generates_one():
    c = Client(EMAIL, PASSWORD, API)
    c.authenticate()
    assert len(c.public_key_hex) == 66 and c.public_key_hex[:2] in ("02", "03")
    assert storj.api.ecdsa_to_hex(c.public_key) == c.public_key_hex
    other = Client(EMAIL, PASSWORD, API)
    other.authenticate()
    assert other.public_key_hex != c.public_key_hex


@pytest.mark.parametrize(
    "bad",
    ["zz" * 32, b"\x01" * 31, "00" * 32, 12345, ec.generate_private_key(ec.SECP256R1())],
    ids=["not-hex", "short", "zero", "int", "wrong-curve"],
)
def test_authenticate_rejects_invalid_keys(bad):
    c = Client(EMAIL, PASSWORD, API)
    with pytest.raises(ValueError):
        c.authenticate(bad)
    assert c.private_key is None


def test_private_key_none_returns_to_basic(rsps, signed):
    signed.private_key = None
    assert signed.public_key_hex is None
    rsps.add("GET", f"{API}/buckets", json=[])
    signed.bucket_list()
    assert rsps.calls[0].request.headers["Authorization"] == BASIC


def test_key_register_of_own_key_matches_x_pubkey(rsps, signed):
    rsps.add("POST", f"{API}/keys", json=KEY)
    signed.key_register(signed.public_key)
    request = rsps.calls[0].request
    assert json.loads(request.body)["key"] == signed.public_key_hex == request.headers["x-pubkey"]


def test_signed_request_verifies_and_tampering_fails(rsps, signed):
    rsps.add("POST", f"{API}/buckets", json=BUCKET, status=201)
    signed.bucket_create("test-bucket")
    request = rsps.calls[0].request
    assert_signed(request)
    tampered = request.body.replace(b"test-bucket", b"test-bucket2")
    assert not keys.verify(PUBHEX, request.headers["x-signature"],
                           signing_string("POST", "/buckets", tampered))


def test_signed_path_excludes_api_url_prefix(rsps, sleeps):
    c = Client(EMAIL, PASSWORD, "http://bridge.test/prefix")
    c.authenticate(PRIVATE)
    rsps.add("GET", "http://bridge.test/prefix/buckets", json=[])
    c.bucket_list()
    request = rsps.calls[0].request
    assert urllib.parse.urlsplit(request.url).path == "/prefix/buckets"
    query = urllib.parse.urlsplit(request.url).query
    assert keys.verify(PUBHEX, request.headers["x-signature"],
                       signing_string("GET", "/buckets", query))


def test_nonces_unique_over_10000_requests(signed, monkeypatch):
    monkeypatch.setattr("storj.http._keys.sign", lambda key, message: "00")
    nonces = set()
    for i in range(5000):
        get = signed._build("GET", "/buckets", params={"skip": i})
        nonces.add(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(get.url).query))["__nonce"])
        post = signed._build("POST", "/frames", json_body={})
        nonces.add(json.loads(post.body)["__nonce"])
    assert len(nonces) == 10000


def test_signatures_of_many_requests_all_verify(signed):
    for i in range(20):
        out = signed._build("DELETE", f"/frames/{i}")
        query = urllib.parse.urlsplit(out.url).query
        assert keys.verify(PUBHEX, out.headers["x-signature"],
                           signing_string("DELETE", f"/frames/{i}", query))


def test_authenticated_route_without_credentials_is_refused_locally(rsps):
    c = Client(None, None, API)
    with pytest.raises(ConfigurationError, match="needs credentials"):
        c.bucket_list()
    assert len(rsps.calls) == 0
    rsps.add("GET", f"{API}/contacts", json=[])
    assert c.contact_list() == []


def test_netrc_credentials_are_never_added(rsps, signed, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine bridge.test login someone password other\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    rsps.add("GET", f"{API}/contacts", json=[])
    rsps.add("GET", f"{API}/buckets", json=[])
    signed.contact_list()
    signed.bucket_list()
    assert "Authorization" not in rsps.calls[0].request.headers
    assert "Authorization" not in rsps.calls[1].request.headers
    assert_signed(rsps.calls[1].request)


# ----------------------------------------------------------------- configuration

def test_defaults_and_documented_attributes():
    c = Client(EMAIL, PASSWORD)
    assert c.api_url == DEFAULT_API_URL == "https://api.storj.io/"
    assert c.email == EMAIL
    assert c.timeout == 60.0
    assert c.encryption_key is None
    assert isinstance(c.session, requests.Session)
    adapter = c.session.get_adapter("https://api.storj.io/")
    assert isinstance(adapter, requests.adapters.HTTPAdapter)
    assert isinstance(Client.logger, logging.Logger) and Client.logger.name == "storj.http.Client"


def test_api_url_argument_beats_environment(monkeypatch):
    monkeypatch.setenv("STORJ_BRIDGE", "http://127.0.0.1:6382")
    assert Client(EMAIL, PASSWORD).api_url == "http://127.0.0.1:6382/"
    assert Client(EMAIL, PASSWORD, "http://other:1/").api_url == "http://other:1/"


def test_bad_arguments():
    with pytest.raises(ValueError):
        Client(EMAIL, PASSWORD, "ftp://x")
    with pytest.raises(ValueError):
        Client(EMAIL, PASSWORD, API, timeout=0)
    # timeout=None is 0.3.14's "the default" (issue 13), no longer an error.
    assert Client(EMAIL, PASSWORD, API, timeout=None).timeout == 60.0
    with pytest.raises(ValueError):
        Client(EMAIL, PASSWORD, API, retries=-1)


def test_encryption_key_from_environment_and_hidden_in_repr(monkeypatch):
    monkeypatch.setenv("STORJ_ENCRYPTION_KEY", "abandon " * 11 + "about")
    c = Client(EMAIL, PASSWORD, API)
    assert c.encryption_key == "abandon " * 11 + "about"
    assert Client(EMAIL, PASSWORD, API, encryption_key="zoo").encryption_key == "zoo"
    c.authenticate(PRIVATE)
    text = repr(c)
    assert "abandon" not in text and PASSWORD not in text and c.password not in text
    assert PRIVATE.hex() not in text and EMAIL in text


def test_context_manager_closes_own_session_only(monkeypatch):
    closed = []
    with Client(EMAIL, PASSWORD, API) as c:
        monkeypatch.setattr(c.session, "close", lambda: closed.append("own"))
    assert closed == ["own"]
    session = requests.Session()
    monkeypatch.setattr(session, "close", lambda: closed.append("borrowed"))
    with Client(EMAIL, PASSWORD, API, session=session) as c:
        assert c.session is session
    assert closed == ["own"]


def test_custom_timeout_on_every_request(rsps):
    c = Client(EMAIL, PASSWORD, API, timeout=(3.05, 27))
    rsps.add("POST", f"{API}/buckets/{BUCKET_ID}/tokens", json=TOKEN, status=201)
    rsps.add("GET", f"{API}/buckets/{BUCKET_ID}/files/{FILE_ID}", json=[])
    list(c.file_pointers(BUCKET_ID, FILE_ID))
    assert [call.request.req_kwargs["timeout"] for call in rsps.calls] == [(3.05, 27)] * 2


def test_no_secrets_in_logs(rsps, signed, caplog):
    rsps.add("POST", f"{API}/users", json=USER, status=201)
    rsps.add("POST", f"{API}/buckets", json=BUCKET, status=201)
    plain = Client(EMAIL, PASSWORD, API)
    rsps.add("GET", f"{API}/buckets", json=[])
    with caplog.at_level(logging.DEBUG, logger="storj"):
        signed.user_create("user@example.com", "hunter2-secret")
        signed.bucket_create("test-bucket")
        plain.bucket_list()
    text = caplog.text
    assert "POST /users" in text and "POST /buckets" in text and "GET /buckets" in text
    signature = rsps.calls[1].request.headers["x-signature"]
    for secret in ("hunter2-secret", hash_password("hunter2-secret"), signature,
                   plain.password, BASIC.split()[1]):
        assert secret not in text


# ----------------------------------------------------------------- error mapping

@pytest.fixture
def once(sleeps):
    c = Client(EMAIL, PASSWORD, API, retries=0)
    c._sleep = sleeps.append
    return c


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (409, ConflictError),
        (420, RateLimitError),
        (429, RateLimitError),
        (500, BridgeServerError),
        (503, BridgeServerError),
    ],
)
def test_bridge_error_status_mapping(rsps, once, status, cls):
    rsps.add("GET", f"{API}/buckets/{BUCKET_ID}", status=status, json={"error": "Bucket not found"})
    with pytest.raises(cls) as info:
        once.bucket_get(BUCKET_ID)
    error = info.value
    assert type(error) is cls
    assert isinstance(error, BridgeError) and isinstance(error, StorjError)
    assert error.status_code == status
    assert error.message == "Bucket not found"
    assert error.method == "GET"
    assert error.url == f"{API}/buckets/{BUCKET_ID}"
    assert error.body == '{"error": "Bucket not found"}'
    assert str(error) == f"[{status}] Bucket not found (GET {API}/buckets/{BUCKET_ID})"


def test_html_502_is_a_server_error(rsps, once):
    rsps.add("GET", f"{API}/buckets", status=502, body="<html><body>Bad Gateway</body></html>",
             content_type="text/html")
    with pytest.raises(BridgeServerError) as info:
        once.bucket_list()
    assert info.value.status_code == 502
    assert "text/html" in info.value.message
    assert info.value.body.startswith("<html>")


def test_html_404_for_unknown_route(rsps, once):
    rsps.add("GET", f"{API}/bucket-ids/x", status=404, body="Cannot GET /bucket-ids/x",
             content_type="text/html")
    with pytest.raises(NotFoundError) as info:
        once.bucket_id_by_stored_name("x")  # bucket_id_by_name would fall back to listing
    assert info.value.status_code == 404


def test_non_json_success_body(rsps, once):
    rsps.add("GET", f"{API}/buckets", status=200, body="<html>hello</html>",
             content_type="text/html")
    with pytest.raises(BridgeResponseError) as info:
        once.bucket_list()
    assert info.value.status_code == 200
    assert "not JSON" in info.value.message


def test_empty_200_where_json_expected(rsps, once):
    rsps.add("GET", f"{API}/buckets/{BUCKET_ID}", status=200, body="")
    with pytest.raises(BridgeResponseError, match="empty body"):
        once.bucket_get(BUCKET_ID)


def test_wrong_json_shape(rsps, once):
    rsps.add("GET", f"{API}/buckets", json={"not": "a list"})
    rsps.add("GET", f"{API}/buckets/{BUCKET_ID}", json=[BUCKET])
    rsps.add("GET", f"{API}/keys", json=[{"no-key": 1}])
    rsps.add("GET", f"{API}/frames/{FRAME_ID}", json={**FRAME, "created": "not a date"})
    with pytest.raises(BridgeResponseError, match="list"):
        once.bucket_list()
    with pytest.raises(BridgeResponseError, match="dict"):
        once.bucket_get(BUCKET_ID)
    with pytest.raises(BridgeResponseError):
        once.key_list()
    with pytest.raises(BridgeResponseError, match="Frame"):
        once.frame_get(FRAME_ID)


def test_error_object_with_success_status(rsps, once):
    rsps.add("GET", f"{API}/buckets", status=200, json={"error": "odd"})
    with pytest.raises(BridgeError, match="odd") as info:
        once.bucket_list()
    assert info.value.status_code == 200


def test_redirect_is_not_followed(rsps, once):
    rsps.add("GET", f"{API}/buckets", status=301, headers={"Location": "https://bridge.test/buckets"})
    with pytest.raises(BridgeResponseError, match="https://bridge.test/buckets") as info:
        once.bucket_list()
    assert info.value.status_code == 301
    assert len(rsps.calls) == 1


def test_connection_error_is_transport_error(rsps, once):
    rsps.add("GET", f"{API}/buckets", body=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(BridgeTransportError) as info:
        once.bucket_list()
    assert type(info.value) is BridgeTransportError
    assert isinstance(info.value.__cause__, requests.exceptions.ConnectionError)
    assert info.value.status_code is None
    assert "STORJ_BRIDGE" in info.value.message


def test_timeout_is_timeout_error(rsps, once):
    rsps.add("GET", f"{API}/buckets", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(BridgeTimeoutError) as info:
        once.bucket_list()
    assert isinstance(info.value, BridgeTransportError)
    assert isinstance(info.value.__cause__, requests.exceptions.ReadTimeout)
    assert "60.0 s" in info.value.message


def test_real_connection_refused_on_loopback(sleeps):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    c = Client(EMAIL, PASSWORD, f"http://127.0.0.1:{port}/", timeout=2,
               retries=RetryPolicy(total=1, backoff_factor=0.001))
    c._sleep = sleeps.append
    with pytest.raises(BridgeTransportError) as info:
        c.bucket_create("x")  # a POST: retried only because nothing reached the Bridge
    assert not isinstance(info.value, BridgeTimeoutError)
    assert isinstance(info.value.__cause__, requests.exceptions.ConnectionError)
    assert info.value.method == "POST"
    assert sleeps == [0.001]


# ------------------------------------------------------------------------ retries

def test_retry_500_then_200_with_fresh_nonce(rsps, signed, sleeps):
    rsps.add("GET", f"{API}/buckets", status=500, json={"error": "Internal error"})
    rsps.add("GET", f"{API}/buckets", json=[BUCKET])
    assert len(list(signed.bucket_list())) == 1
    first, second = (call.request for call in rsps.calls[:2])  # then the next page
    assert assert_signed(first) != assert_signed(second)
    assert first.headers["x-signature"] != second.headers["x-signature"]
    assert sleeps == [0.2]


def test_retry_put_frames_resigns_body(rsps, signed, sleeps):
    rsps.add("PUT", f"{API}/frames/{FRAME_ID}", status=429, json={"error": "Too Many Requests"})
    rsps.add("PUT", f"{API}/frames/{FRAME_ID}", json=PUT_FRAME_ANSWER)
    signed.frame_add_shard(model.Shard(**SHARD_BODY), FRAME_ID)
    nonces = [assert_signed(call.request) for call in rsps.calls]
    assert len(set(nonces)) == 2


def test_failed_negotiation_is_left_to_the_caller(rsps, client, sleeps):
    rsps.add("PUT", f"{API}/frames/{FRAME_ID}", status=500, json={"error": "No offers"})
    with pytest.raises(BridgeServerError, match="No offers"):
        client.frame_add_shard(model.Shard(**SHARD_BODY), FRAME_ID, exclude=[NODE_ID])
    assert len(rsps.calls) == 1 and sleeps == []


def test_frame_create_and_tokens_are_retried(rsps, client, sleeps):
    rsps.add("POST", f"{API}/frames", status=502, body="bad gateway")
    rsps.add("POST", f"{API}/frames", json=FRAME)
    rsps.add("POST", f"{API}/buckets/{BUCKET_ID}/tokens", status=503, json={"error": "x"})
    rsps.add("POST", f"{API}/buckets/{BUCKET_ID}/tokens", json=TOKEN, status=201)
    client.frame_create()
    client.token_create(BUCKET_ID, "PULL")
    assert sleeps == [0.2, 0.2]


def test_retries_exhausted_raise_the_last_error(rsps, client, sleeps):
    for _ in range(4):
        rsps.add("GET", f"{API}/frames", status=503, json={"error": "Service Unavailable"})
    with pytest.raises(BridgeServerError) as info:
        client.frame_list()
    assert info.value.status_code == 503
    assert len(rsps.calls) == 4
    assert sleeps == [0.2, 0.4, 0.8]


def test_non_idempotent_post_is_not_retried_on_500(rsps, client, sleeps):
    rsps.add("POST", f"{API}/buckets", status=500,
             json={"error": "Name already used by another bucket"})
    with pytest.raises(BridgeServerError, match="Name already used"):
        client.bucket_create("test-bucket")
    assert len(rsps.calls) == 1 and sleeps == []


def test_429_is_retried_for_any_method_honouring_retry_after(rsps, client, sleeps):
    rsps.add("POST", f"{API}/buckets", status=429, json={"error": "Too Many Requests"},
             headers={"Retry-After": "3"})
    rsps.add("POST", f"{API}/buckets", status=429, json={"error": "Too Many Requests"},
             headers={"Retry-After": "100000"})
    rsps.add("POST", f"{API}/buckets", json=BUCKET, status=201)
    client.bucket_create("test-bucket")
    assert sleeps == [3.0, 30.0]


def test_420_transfer_quota_is_not_retried(rsps, client, sleeps):
    rsps.add("POST", f"{API}/frames", status=420, json={"error": "Transfer rate limit"})
    with pytest.raises(RateLimitError):
        client.frame_create()
    assert sleeps == []


def test_timeouts_retried_for_get_not_for_post(rsps, client, sleeps):
    rsps.add("GET", f"{API}/buckets", body=requests.exceptions.ReadTimeout())
    rsps.add("GET", f"{API}/buckets", json=[])
    assert list(client.bucket_list()) == []
    rsps.add("POST", f"{API}/users", body=requests.exceptions.ReadTimeout())
    with pytest.raises(BridgeTimeoutError):
        client.user_create("a@b.c", "pw")
    assert sleeps == [0.2]


def test_connect_timeout_is_retried_for_post(rsps, client, sleeps):
    rsps.add("POST", f"{API}/keys", body=requests.exceptions.ConnectTimeout())
    rsps.add("POST", f"{API}/keys", json=KEY)
    client.key_register(PUBHEX)
    assert sleeps == [0.2]


def test_user_delete_is_not_retried(rsps, client, sleeps):
    rsps.add("DELETE", f"{API}/users/{EMAIL}", status=500, json={"error": "Internal error"})
    with pytest.raises(BridgeServerError):
        client.user_delete(EMAIL)
    assert sleeps == []


def test_retry_policy_value_object():
    policy = RetryPolicy()
    assert policy.total == 3 and policy.retries_made == 0
    nxt = policy.increment("HTTP 500")
    assert nxt is not policy and policy.history == () and nxt.history == ("HTTP 500",)
    with pytest.raises(AttributeError):
        policy.total = 5
    assert [RetryPolicy(history=("x",) * n).backoff() for n in range(4)] == [0.2, 0.4, 0.8, 1.6]
    assert RetryPolicy(backoff_max=0.5, history=("x",) * 5).backoff() == 0.5
    assert RetryPolicy().delay("2") == 2.0
    assert RetryPolicy(respect_retry_after=False).delay("2") == 0.2
    assert RetryPolicy().delay("garbage") == 0.2
    assert RetryPolicy.coerce(0).can_retry() is False
    assert RetryPolicy.coerce(policy) is policy
    assert policy.should_retry_status(500, safe=False) is False
    assert policy.should_retry_status(429, safe=False) is True
    assert policy.should_retry_status(404, safe=True) is False


def test_parse_retry_after_http_date():
    from storj._retry import parse_retry_after

    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412500.0) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("nan") is None


# --------------------------------------------------------------- transfer delegation

def test_transfer_methods_delegate(monkeypatch):
    calls = []
    fake = types.ModuleType("storj.transfer")
    for name in ("file_upload", "upload_file", "download_file", "open_file"):
        setattr(fake, name, lambda *a, _n=name, **k: calls.append((_n, a, k)) or _n)
    monkeypatch.setitem(sys.modules, "storj.transfer", fake)
    monkeypatch.setattr(storj, "transfer", fake, raising=False)
    c = Client(EMAIL, PASSWORD, API)
    assert c.file_upload(BUCKET_ID, "file", "frame") == "file_upload"
    assert c.upload_file(BUCKET_ID, "/tmp/x", name="x", progress=None) == "upload_file"
    assert c.download_file(BUCKET_ID, FILE_ID, "/tmp/y") == "download_file"
    assert c.open_file(BUCKET_ID, FILE_ID) == "open_file"
    assert c.upload_file(BUCKET_ID, "/tmp/x", overwrite=True) == "upload_file"
    assert calls[0] == ("file_upload", (c, BUCKET_ID, "file", "frame"), {})
    assert calls[1] == (
        "upload_file",
        (c, BUCKET_ID, "/tmp/x"),
        {"name": "x", "mimetype": None, "progress": None, "config": None, "cancel": None,
         "overwrite": False},
    )
    assert calls[4][2]["overwrite"] is True
    assert calls[2] == (
        "download_file",
        (c, BUCKET_ID, FILE_ID, "/tmp/y"),
        {"progress": None, "config": None, "cancel": None},
    )
    assert calls[3] == ("open_file", (c, BUCKET_ID, FILE_ID), {"config": None})

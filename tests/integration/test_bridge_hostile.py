"""Hostile and careless input against the local Bridge, over real HTTP on loopback.

Wrong credentials, forged or replayed signatures, other users' resources, malformed ids
and bodies, oversized requests, slow clients: each gets a clear JSON error, never data
and never a traceback, and the server keeps serving (the fixtures check ``/health``).
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from storj import api, keys
from storj.local.bridge import BridgeServer
from tests.helpers import FakeClock
from tests.integration.test_bridge_api import (
    EMAIL,
    PASSWORD,
    Http,
    Signer,
    check_answer,
    make_bucket,
    make_config,
    make_frame,
    new_user,
)

pytestmark = pytest.mark.integration

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture
def server(tmp_path):
    bridge = BridgeServer(make_config(tmp_path)).start()
    yield bridge
    health = requests.get(bridge.url + "/health", timeout=5)
    assert (health.status_code, health.text) == (200, "OK")
    bridge.stop()


@pytest.fixture
def alice(server):
    return new_user(server)


@pytest.fixture
def signer(server, alice):
    signer = Signer(server.url)
    assert alice.post("/keys", json={"key": signer.pubkey}).status_code == 200
    return signer


# ----------------------------------------------------------------------------- Basic


def test_basic_auth_failures(server, alice):
    wrong = Http(server.url, EMAIL, "wrong").get("/buckets")
    assert (wrong.status_code, wrong.json()) == (401, {"error": "Invalid email or password"})
    unknown = Http(server.url, "nobody@example.com", PASSWORD).get("/buckets")
    assert (unknown.status_code, unknown.json()) == (401, {"error": "Invalid email or password"})
    # the plaintext password (not its SHA-256) is refused
    plain = Http(server.url).get(
        "/buckets", headers={"Authorization": api.basic_auth_header(EMAIL, PASSWORD)}
    )
    assert plain.status_code == 401
    for header in ("Basic !!!", "Basic " + "dXNlcg==", "Bearer x"):  # no password part
        response = Http(server.url).get("/buckets", headers={"Authorization": header})
        assert response.json() == {"error": "No authentication strategy detected"}


# ----------------------------------------------------------------------------- ECDSA


def test_ecdsa_compressed_uncompressed_and_high_s(server, alice):
    private = ec.generate_private_key(ec.SECP256K1())
    compressed = Signer(server.url, private)
    uncompressed = Signer(server.url, private, compressed=False)
    assert alice.post("/keys", json={"key": compressed.pubkey}).status_code == 200
    assert compressed.request("GET", "/buckets").status_code == 200
    # the key is looked up as an exact string: the uncompressed form is another key
    response = uncompressed.request("GET", "/buckets")
    assert response.json() == {"error": "Public key not registered"}
    assert alice.post("/keys", json={"key": uncompressed.pubkey}).status_code == 200
    assert uncompressed.request("GET", "/buckets").status_code == 200

    nonce = api.new_nonce()
    message = api.signing_string("GET", "/buckets", f"__nonce={nonce}")
    r, s = decode_dss_signature(bytes.fromhex(keys.sign(private, message)))
    high_s = max(s, SECP256K1_ORDER - s)
    signature = encode_dss_signature(r, high_s).hex()
    response = check_answer(
        requests.get(
            f"{server.url}/buckets?__nonce={nonce}",
            headers={"x-pubkey": compressed.pubkey, "x-signature": signature},
            timeout=5,
        )
    )
    assert response.status_code == 200


def test_ecdsa_signs_raw_path_and_query(server, signer, alice):
    bucket = make_bucket(alice, "a/b+c")
    # trailing slash and case are signed exactly as sent
    assert signer.request("GET", "/Buckets/").status_code == 200
    # a raw query with extra parameters and escapes is signed verbatim
    raw_query = "startDate=2016-01-01T00%3A00%3A00.000Z&x=%20"
    assert signer.request("GET", "/buckets", query=raw_query).status_code == 200
    escaped = "/bucket-ids/a%2Fb%2Bc"
    found = signer.request("GET", escaped)
    assert found.json() == {"id": bucket["id"]}
    # a signature over the decoded path does not verify
    wrong = signer.request("GET", escaped, sign_path="/bucket-ids/a/b+c")
    assert wrong.json() == {"error": "Invalid signature"}


def test_ecdsa_rejections(server, signer):
    stranger = Signer(server.url)
    assert stranger.request("GET", "/buckets").json() == {"error": "Public key not registered"}
    garbage = check_answer(
        requests.get(
            f"{server.url}/buckets?__nonce=1",
            headers={"x-pubkey": signer.pubkey, "x-signature": "3006020101020101"},
            timeout=5,
        )
    )
    assert garbage.json() == {"error": "Invalid signature"}
    not_hex = check_answer(
        requests.get(
            f"{server.url}/buckets",
            headers={"x-pubkey": "zz", "x-signature": "zz"},
            timeout=5,
        )
    )
    assert not_hex.json() == {"error": "Invalid signature"}
    other_body = json.dumps({"name": "other", "__nonce": api.new_nonce()}).encode()
    forged = signer.request("POST", "/buckets", {"name": "mine"}, sign_payload=other_body)
    assert (forged.status_code, forged.json()) == (401, {"error": "Invalid signature"})
    other_query = signer.request("GET", "/buckets", sign_payload=b"__nonce=other")
    assert other_query.json() == {"error": "Invalid signature"}
    # a signature for another method or path does not carry over
    assert signer.request("DELETE", "/buckets/" + "0" * 24, sign_path="/keys").status_code == 401
    assert signer.request("GET", "/buckets").status_code == 200


def test_nonces(server, signer):
    missing = signer.request("GET", "/buckets", nonce=None)
    assert missing.status_code == 401
    assert missing.json()["error"].startswith("Missing __nonce")
    assert signer.request("POST", "/frames", {}, nonce=None).status_code == 401
    assert signer.request("POST", "/frames", {}, nonce="").status_code == 401
    nonce = api.new_nonce()
    assert signer.request("POST", "/frames", {}, nonce=nonce).status_code == 200
    replay = signer.request("POST", "/frames", {}, nonce=nonce)
    assert (replay.status_code, replay.json()) == (401, {"error": "Invalid nonce supplied"})
    # the same nonce in a query string is the same nonce for this user
    assert signer.request("GET", "/frames", nonce=nonce).status_code == 401
    for bad in ({"a": 1}, [1], True):
        body = {"__nonce": bad}
        response = signer.request("POST", "/frames", body, nonce=None)
        assert response.json() == {"error": "Invalid nonce supplied"}
    assert len(Http(server.url, EMAIL, PASSWORD).get("/frames").json()) == 1


def test_nonce_replay_after_restart_and_after_expiry(tmp_path):
    # The Bridge's clock is a FakeClock: expiry is reached by advancing it, so the
    # checks hold however slowly the machine answers (no wall-clock TTL race).
    clock = FakeClock()
    config = make_config(tmp_path, nonce_ttl=300)
    with BridgeServer(config, clock=clock) as first:
        client = new_user(first)
        signer = Signer(first.url)
        client.post("/keys", json={"key": signer.pubkey})
        nonce = api.new_nonce()
        assert signer.request("GET", "/buckets", nonce=nonce).status_code == 200
    clock.advance(299)  # a restart does not reopen the window (nonces are in SQLite)
    with BridgeServer(config, clock=clock) as second:
        replayed = Signer(second.url, signer.private).request("GET", "/buckets", nonce=nonce)
        assert replayed.json() == {"error": "Invalid nonce supplied"}
    short = make_config(tmp_path, nonce_ttl=10)
    with BridgeServer(short, clock=clock) as third:
        again = Signer(third.url, signer.private)
        assert again.request("GET", "/frames", nonce="n1").status_code == 200
        clock.advance(9.9)  # still within the TTL: refused
        refused = again.request("GET", "/frames", nonce="n1")
        assert (refused.status_code, refused.json()) == (401, {"error": "Invalid nonce supplied"})
        clock.advance(0.2)  # past the TTL: the 2016 semantics accept it again
        assert again.request("GET", "/frames", nonce="n1").status_code == 200
        assert again.request("GET", "/frames", nonce="n1").status_code == 401


def test_concurrent_requests_with_one_nonce(server, signer):
    nonce = api.new_nonce()
    statuses: list[int] = []

    def call() -> None:
        statuses.append(signer.request("GET", "/buckets", nonce=nonce).status_code)

    threads = [threading.Thread(target=call) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [401] * 11


# ----------------------------------------------------------------------------- other users


def test_other_users_resources_stay_hidden(server, alice):
    bucket = make_bucket(alice, "secret-bucket")
    frame = make_frame(alice)
    entry = alice.post(
        f"/buckets/{bucket['id']}/files", json={"frame": frame["id"], "filename": "secret.txt"}
    ).json()
    key = keys.public_key_hex(ec.generate_private_key(ec.SECP256K1()))
    alice.post("/keys", json={"key": key})
    mallory = new_user(server, "mallory@example.com", "pw")
    b, f = bucket["id"], entry["id"]
    attempts = [
        ("GET", f"/buckets/{b}", 404),
        ("PATCH", f"/buckets/{b}", 404),
        ("DELETE", f"/buckets/{b}", 404),
        ("GET", f"/buckets/{b}/files", 404),
        ("POST", f"/buckets/{b}/files", 404),
        ("GET", f"/buckets/{b}/files/{f}", 404),
        ("GET", f"/buckets/{b}/files/{f}/info", 404),
        ("GET", f"/buckets/{b}/files/{f}/mirrors", 404),
        ("DELETE", f"/buckets/{b}/files/{f}", 404),
        ("POST", f"/buckets/{b}/tokens", 404),
        ("POST", f"/buckets/{b}/mirrors", 404),
        ("GET", f"/buckets/{b}/file-ids/secret.txt", 404),
        ("GET", "/bucket-ids/secret-bucket", 404),
        ("GET", f"/frames/{frame['id']}", 404),
        ("PUT", f"/frames/{frame['id']}", 404),
        ("DELETE", f"/frames/{frame['id']}", 404),
        ("DELETE", f"/keys/{key}", 404),
        ("DELETE", f"/users/{EMAIL}", 401),
    ]
    for method, path, status in attempts:
        body = {"frame": frame["id"], "file": f} if method in ("POST", "PUT", "PATCH") else None
        response = mallory.request(method, path, json=body)
        assert response.status_code == status, (method, path, response.text)
        for secret in ("secret", frame["id"], EMAIL, key):
            assert secret not in response.text or secret in path, (method, path, response.text)
    assert mallory.get("/buckets").json() == []
    assert mallory.get("/frames").json() == []
    assert mallory.get("/keys").json() == []
    # a PULL token of mallory's own bucket does not open alice's
    own = make_bucket(mallory, "own")
    token = mallory.post(f"/buckets/{own['id']}/tokens", json={}).json()["token"]
    response = Http(server.url).get(f"/buckets/{b}/files/{f}", headers={"x-token": token})
    assert (response.status_code, response.json()) == (401, {"error": "Not authorized"})
    # alice still has everything
    assert alice.get(f"/buckets/{b}/files/{f}/info").json()["filename"] == "secret.txt"


# ----------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", "/buckets/xyz", "Bucket id is malformed"),
        ("GET", "/buckets/" + "0" * 23, "Bucket id is malformed"),
        ("PATCH", "/buckets/zz", "Bucket id is malformed"),
        ("DELETE", "/buckets/zz", "Bucket id is malformed"),
        ("GET", "/buckets/zz/files", "Bucket id is malformed"),
        ("GET", "/buckets/zz/files/" + "0" * 24, "Bucket id is malformed"),
        ("GET", "/buckets/" + "0" * 24 + "/files/nope", "File id is malformed"),
        ("GET", "/buckets/" + "0" * 24 + "/files/nope/info", "File id is malformed"),
        ("DELETE", "/buckets/" + "0" * 24 + "/files/nope", "File id is malformed"),
        ("POST", "/buckets/zz/tokens", "Bucket id is malformed"),
        ("GET", "/frames/nope", "Frame id is malformed"),
        ("PUT", "/frames/nope", "Frame id is malformed"),
        ("DELETE", "/frames/nope", "Frame id is malformed"),
    ],
)
def test_malformed_ids(alice, method, path, message):
    make_bucket(alice)
    response = alice.request(method, path)
    assert (response.status_code, response.json()) == (400, {"error": message})


def test_malformed_bodies(server, alice):
    bucket = make_bucket(alice)
    raw = {"Content-Type": "application/json"}
    for data, message in [
        (b"{not json", "Request body is not valid JSON"),
        (b"\xff\xfe", "Request body is not valid JSON"),
        (b"[1, 2]", "Request body must be a JSON object"),
        (b'"text"', "Request body must be a JSON object"),
        (b"null", "Request body must be a JSON object"),
    ]:
        for method, path in [
            ("POST", "/buckets"),
            ("POST", "/users"),
            ("PUT", "/frames/" + make_frame(alice)["id"]),
            ("PATCH", f"/buckets/{bucket['id']}"),
            ("POST", "/reports/exchanges"),
        ]:
            response = alice.request(method, path, data=data, headers=raw)
            assert (response.status_code, response.json()) == (400, {"error": message}), path
    for body in (
        {"name": ["list"]},
        {"name": {"a": 1}},
        {"pubkeys": "02abc"},
        {"pubkeys": [1]},
    ):
        assert alice.post("/buckets", json=body).status_code == 400, body
    assert alice.post(f"/buckets/{bucket['id']}/tokens", json={"file": 5}).status_code == 400
    assert alice.post(f"/buckets/{bucket['id']}/mirrors", json={}).json() == {
        "error": "No file ID supplied"
    }
    too_many = alice.post(
        f"/buckets/{bucket['id']}/mirrors", json={"file": "0" * 24, "redundancy": 13}
    )
    assert too_many.json() == {"error": "Refusing to create more than 12 mirrors"}
    bad_escape = alice.get("/bucket-ids/%ff%fe")
    assert bad_escape.status_code == 400


def test_huge_bodies_are_refused(server, alice):
    limit = server.config.max_body_bytes
    body = b"{" + b" " * (limit + 10) + b"}"
    headers = {"Content-Type": "application/json"}
    declared = alice.post("/buckets", data=body, headers=headers)
    assert declared.status_code == 413
    assert declared.json()["error"].startswith("Request body is larger than")
    # the same without Content-Length (chunked), on a route that reads the body
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    chunked = alice.post("/buckets", data=chunks, headers=headers)
    assert chunked.status_code == 413
    # also refused before authentication
    anon = Http(server.url).post("/users", data=body, headers=headers)
    assert anon.status_code == 413
    # just under the limit is fine
    padded = json.dumps({"name": "ok", "pad": "x" * (limit - 100)})
    assert alice.post("/buckets", data=padded, headers=headers).status_code == 201


def test_unexpected_errors_are_500_json_and_logged(server, alice, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(server.services.store, "list_buckets", boom)
    with caplog.at_level("ERROR", logger="storj.local.bridge"):
        response = alice.get("/buckets")
    assert (response.status_code, response.json()) == (500, {"error": "Internal error"})
    assert "exploded" not in response.text
    assert any("RuntimeError" in (r.exc_text or "") for r in caplog.records)
    monkeypatch.undo()
    assert alice.get("/buckets").status_code == 200


def test_slow_clients_are_cut_off(tmp_path):
    with BridgeServer(make_config(tmp_path, request_timeout=0.3)) as bridge:
        slow = socket.create_connection(("127.0.0.1", bridge.port))
        try:
            slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finishes the headers
            started = time.monotonic()
            # other clients are served meanwhile
            assert requests.get(bridge.url + "/health", timeout=30).text == "OK"
            slow.settimeout(60)
            data = slow.recv(1024)
            # generous for a busy machine; far below the 60 s default request_timeout
            assert time.monotonic() - started < 10
            assert b"200 OK" not in data
        finally:
            slow.close()
        assert requests.get(bridge.url + "/health", timeout=5).text == "OK"


def test_many_concurrent_clients(server, alice):
    results: list[int] = []

    def work(i: int) -> None:
        results.append(alice.post("/buckets", json={"name": f"b{i}"}).status_code)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 40
    assert len(alice.get("/buckets").json()) == 40

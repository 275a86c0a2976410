"""The local farmer over real HTTP on loopback (bridge-protocol.md §5.4, §6, §7.4).

A tiny fake Bridge records the farmer's registration and exchange reports, so these
tests do not depend on ``storj.local.bridge``.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from storj import api, keys
from storj.local.farmer import (
    MSG_COMPLETED,
    MSG_HASH_MISMATCH,
    MSG_NO_HASH,
    MSG_NO_TOKEN,
    MSG_TOKEN_EXPIRED,
    MSG_TOKEN_NOT_ACCEPTED,
    MSG_TOKEN_WRONG_HASH,
    MSG_TOKEN_WRONG_OPERATION,
    MSG_TOO_LARGE,
    FarmerConfig,
    FarmerNode,
    TokenError,
    TokenStore,
    _ShardStream,
    load_or_create_identity,
    registration_message,
)
from tests.data import CHALLENGES_HEX, ROOT_2017, TREE_2017  # bridge-protocol.md §7.3
from tests.data import SHARD as HELLO
from tests.data import SHARD_HASH as HELLO_HASH
from tests.helpers import FakeClock, wait_until

SECRET = "c0ntrol-secret"


class FakeBridge:
    """Records ``POST /contacts`` and ``POST /reports/exchanges``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def app(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        record = {
            "method": environ["REQUEST_METHOD"],
            "path": environ["PATH_INFO"],
            "url": f"http://{environ['HTTP_HOST']}{environ['PATH_INFO']}",
            "headers": headers,
            "body": body,
        }
        with self.lock:
            self.requests.append(record)
        if record["path"] == "/contacts":
            data = json.loads(body)
            answer = {
                "nodeID": headers["x-node-id"],
                "address": data["address"],
                "port": data["port"],
            }
            status = "200 OK"
        else:
            answer, status = {}, "201 Created"
        out = json.dumps(answer).encode()
        start_response(status, [("Content-Type", "application/json")])
        return [out]

    def reports(self) -> list[dict]:
        with self.lock:
            return [
                json.loads(r["body"]) for r in self.requests if r["path"] == "/reports/exchanges"
            ]

    def registrations(self) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == "/contacts"]


@pytest.fixture
def bridge():
    fake = FakeBridge()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def make_farmer(
    tmp_path: Path, bridge: FakeBridge | None, name: str = "farmer", *, clock=None, **options
) -> FarmerNode:
    config = FarmerConfig(
        data_dir=tmp_path / name,
        bridge_url=bridge.url if bridge else None,
        control_secret=SECRET,
        **options,
    )
    return FarmerNode(config) if clock is None else FarmerNode(config, clock=clock)


@pytest.fixture
def farmer(tmp_path, bridge):
    node = make_farmer(tmp_path, bridge).start()
    yield node
    node.stop()


def control(farmer: FarmerNode, method: str, params: dict, secret: str | None = SECRET):
    headers = {} if secret is None else {"x-storj-control-secret": secret}
    body = {"id": "call-1", "method": method, "params": params}
    return requests.post(farmer.url + "/", json=body, headers=headers, timeout=10)


def consign(farmer: FarmerNode, data: bytes, size: int | None = None, tree=None) -> str:
    params = {
        "data_hash": api.rmd160sha256_hex(data),
        "data_size": len(data) if size is None else size,
        "audit_tree": tree or [],
    }
    answer = control(farmer, "CONSIGN", params).json()
    assert answer["id"] == "call-1"
    return answer["result"]["token"]


def retrieve(farmer: FarmerNode, data_hash: str) -> str:
    return control(farmer, "RETRIEVE", {"data_hash": data_hash}).json()["result"]["token"]


def post_shard(farmer, data_hash, token, data, **kwargs):
    params = {} if token is None else {"token": token}
    return requests.post(
        f"{farmer.url}/shards/{data_hash}", params=params, data=data, timeout=10, **kwargs
    )


def get_shard(farmer, data_hash, token, **kwargs):
    params = {} if token is None else {"token": token}
    return requests.get(f"{farmer.url}/shards/{data_hash}", params=params, timeout=10, **kwargs)


def raw_request(farmer, method: str, target: str) -> tuple[int, bytes]:
    """Send ``target`` byte for byte (requests would normalise dot segments)."""
    connection = http.client.HTTPConnection("127.0.0.1", farmer.port, timeout=10)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# --------------------------------------------------------------------------- tokens (pure)


def test_token_store_checks_in_protocol_order():
    clock = FakeClock(start=1000.0)
    store = TokenStore(ttl=60, clock=clock)
    token = store.issue("a" * 40, "PUSH")
    assert len(token.token) == 40 and api.is_shard_hash(token.token)
    assert token.expires == 1060.0
    cases = [
        ((None, "a" * 40, "PUSH"), MSG_NO_TOKEN),
        (("", "", "PUSH"), MSG_NO_TOKEN),
        (("f" * 40, "", "PUSH"), MSG_TOKEN_NOT_ACCEPTED),
        ((token.token, "", "PUSH"), MSG_NO_HASH),
        ((token.token, "b" * 40, "PUSH"), MSG_TOKEN_WRONG_HASH),
        ((token.token, "a" * 40, "PULL"), MSG_TOKEN_WRONG_OPERATION),
    ]
    for args, message in cases:
        with pytest.raises(TokenError) as info:
            store.check(*args)
        assert str(info.value) == message
    assert store.check(token.token, "a" * 40, "PUSH") == token
    clock.advance(60)
    with pytest.raises(TokenError, match=MSG_TOKEN_EXPIRED):
        store.check(token.token, "b" * 40, "PULL")  # expiry is checked before hash and operation


def test_token_store_reaps_long_expired_tokens_and_revokes():
    clock = FakeClock(start=1000.0)
    store = TokenStore(ttl=10, clock=clock)
    old = store.issue("a" * 40, "PUSH").token
    clock.advance(10 + 60 + 1)  # expired for longer than the grace period
    fresh = store.issue("a" * 40, "PUSH").token
    assert len(store) == 1
    with pytest.raises(TokenError, match=MSG_TOKEN_NOT_ACCEPTED):
        store.check(old, "a" * 40, "PUSH")
    store.revoke(fresh)
    with pytest.raises(TokenError, match=MSG_TOKEN_NOT_ACCEPTED):
        store.check(fresh, "a" * 40, "PUSH")


def test_tokens_are_unique():
    store = TokenStore(ttl=60)
    assert len({store.issue("a" * 40, "PUSH").token for _ in range(200)}) == 200


def test_a_claimed_token_cannot_be_used_twice_at_once():
    store = TokenStore(ttl=60)
    token = store.issue("a" * 40, "PULL").token
    store.claim(token, "a" * 40, "PULL")
    with pytest.raises(TokenError, match="The supplied token is not accepted"):
        store.claim(token, "a" * 40, "PULL")
    store.release(token)  # the transfer failed: the token may be used again
    store.claim(token, "a" * 40, "PULL")
    store.revoke(token)  # the transfer completed: single use
    with pytest.raises(TokenError, match="The supplied token is not accepted"):
        store.claim(token, "a" * 40, "PULL")


# --------------------------------------------------------------------------- identity


def test_identity_file_is_private_and_persistent(tmp_path):
    node = make_farmer(tmp_path, None)
    first = node.node_id
    path = tmp_path / "farmer" / "identity.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    private_hex = path.read_text().strip()
    assert len(private_hex) == 64
    assert keys.node_id(keys.load_private_key(private_hex)) == first
    assert make_farmer(tmp_path, None).node_id == first
    assert api.is_node_id(first)


def test_identity_known_vector_and_mode_repair(tmp_path):
    path = tmp_path / "identity.key"
    path.write_text("11" * 32 + "\n")
    os.chmod(path, 0o644)
    assert load_or_create_identity(path) == "11" * 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # bridge-protocol.md §1.2
    assert (
        keys.node_id(keys.load_private_key("11" * 32)) == "fc7250a211deddc70ee5a2738de5f07817351cef"
    )


def test_corrupt_identity_is_a_configuration_error(tmp_path):
    from storj.exception import ConfigurationError

    path = tmp_path / "identity.key"
    path.write_text("not a key\n")
    with pytest.raises(ConfigurationError, match="delete it"):
        load_or_create_identity(path)


def test_identity_survives_restart(tmp_path, bridge):
    node = make_farmer(tmp_path, bridge).start()
    node_id, port = node.node_id, node.port
    node.stop()
    again = make_farmer(tmp_path, bridge).start()
    try:
        assert again.node_id == node_id
        assert len(bridge.registrations()) == 2
        assert again.port > 0 and isinstance(port, int)
    finally:
        again.stop()


# --------------------------------------------------------------------------- registration


def test_registration_is_signed_as_documented(farmer, bridge):
    (record,) = bridge.registrations()
    headers = record["headers"]
    assert record["method"] == "POST"
    assert headers["x-node-id"] == farmer.node_id
    assert headers["x-node-pubkey"] == farmer.public_key
    assert keys.node_id(headers["x-node-pubkey"]) == farmer.node_id
    timestamp = int(headers["x-node-timestamp"])
    assert abs(timestamp - time.time() * 1000) < 60_000
    message = registration_message(
        "POST", record["url"], headers["x-node-timestamp"], record["body"]
    )
    assert (
        message
        == b"POST" + record["url"].encode() + headers["x-node-timestamp"].encode() + record["body"]
    )
    assert keys.verify(headers["x-node-pubkey"], headers["x-node-signature"], message)
    assert not keys.verify(headers["x-node-pubkey"], headers["x-node-signature"], message + b" ")
    body = json.loads(record["body"])
    assert body["address"] == "127.0.0.1"
    assert body["port"] == farmer.port
    assert body["protocol"] == "1.2.0"
    assert body["userAgent"] == farmer.config.user_agent
    assert isinstance(body["spaceAvailable"], int) and body["spaceAvailable"] >= 0


def test_contact_shape(farmer):
    contact = farmer.contact
    assert set(contact) == {"address", "port", "nodeID", "protocol", "userAgent", "lastSeen"}
    assert contact["nodeID"] == farmer.node_id
    assert contact["port"] == farmer.port != 0
    assert isinstance(contact["lastSeen"], int)


def test_advertised_address(tmp_path):
    def address(**options):
        return FarmerNode(FarmerConfig(tmp_path / "f", **options)).address

    assert address() == "127.0.0.1"
    assert address(host="0.0.0.0") == "127.0.0.1"
    assert address(host="::") == "::1"
    assert address(host="0.0.0.0", public_address="farmer.local") == "farmer.local"
    node = FarmerNode(FarmerConfig(tmp_path / "f", host="::1", port=4001))
    assert node.url == "http://[::1]:4001"
    assert not (tmp_path / "f").exists()  # no I/O before start or node_id


def test_registration_failure_is_a_bridge_error_and_stops_the_server(tmp_path):
    from storj.exception import BridgeTransportError

    node = FarmerNode(
        FarmerConfig(tmp_path / "f", bridge_url="http://127.0.0.1:9", control_secret=SECRET)
    )
    with pytest.raises(BridgeTransportError):
        node.start()
    assert not node.running


# --------------------------------------------------------------------------- upload


def test_upload_then_download(farmer, bridge):
    token = consign(farmer, HELLO)
    response = post_shard(
        farmer,
        HELLO_HASH,
        token,
        HELLO,
        headers={
            "Content-Type": "application/octet-stream",
            "x-storj-node-id": farmer.node_id,
            "x-storj-client-id": "user@example.com",
        },
    )
    assert response.status_code == 200
    assert response.json() == {"result": MSG_COMPLETED}
    assert (farmer.data_dir / "shards" / HELLO_HASH).read_bytes() == HELLO
    assert list((farmer.data_dir / "tmp").iterdir()) == []
    # single use
    again = post_shard(farmer, HELLO_HASH, token, HELLO)
    assert (again.status_code, again.json()) == (401, {"result": MSG_TOKEN_NOT_ACCEPTED})

    pull = retrieve(farmer, HELLO_HASH)
    download = get_shard(farmer, HELLO_HASH, pull)
    assert download.status_code == 200
    assert download.content == HELLO
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Length"] == "13"
    again = get_shard(farmer, HELLO_HASH, pull)
    assert (again.status_code, again.json()) == (401, {"result": MSG_TOKEN_NOT_ACCEPTED})

    reports = wait_until(lambda: len(bridge.reports()) >= 2 and bridge.reports())
    uploaded, downloaded = reports[0], reports[1]
    assert uploaded["exchangeResultMessage"] == "SHARD_UPLOADED"
    assert uploaded["exchangeResultCode"] == 1000
    assert uploaded["dataHash"] == HELLO_HASH
    assert uploaded["reporterId"] == uploaded["farmerId"] == farmer.node_id
    assert uploaded["clientId"] == "user@example.com"
    assert uploaded["exchangeStart"] <= uploaded["exchangeEnd"]
    assert downloaded["exchangeResultMessage"] == "SHARD_DOWNLOADED"
    assert "clientId" not in downloaded


def test_token_errors_on_upload(tmp_path, bridge):
    clock = FakeClock()  # the token expires when the test says so, not while it checks
    node = make_farmer(tmp_path, bridge, token_ttl=60, clock=clock).start()
    try:
        other = b"other shard"
        other_hash = api.rmd160sha256_hex(other)
        token = consign(node, HELLO)
        consign(node, other)

        def check(token_value, data_hash, message, data=HELLO):
            response = post_shard(node, data_hash, token_value, data)
            assert response.status_code == 401
            assert response.json() == {"result": message}

        check(None, HELLO_HASH, MSG_NO_TOKEN)
        check("", HELLO_HASH, MSG_NO_TOKEN)
        check("0" * 40, HELLO_HASH, MSG_TOKEN_NOT_ACCEPTED)
        check(token, other_hash, MSG_TOKEN_WRONG_HASH, other)
        # the route without a hash reaches the token checks
        response = requests.post(
            f"{node.url}/shards/", params={"token": token}, data=b"", timeout=5
        )
        assert (response.status_code, response.json()) == (401, {"result": MSG_NO_HASH})
        clock.advance(60)
        check(token, HELLO_HASH, MSG_TOKEN_EXPIRED)
        assert not (node.data_dir / "shards" / HELLO_HASH).exists()
    finally:
        node.stop()


def test_tokens_are_bound_to_the_operation(farmer):
    push = consign(farmer, HELLO)
    response = get_shard(farmer, HELLO_HASH, push)
    assert (response.status_code, response.json()) == (401, {"result": MSG_TOKEN_WRONG_OPERATION})
    assert post_shard(farmer, HELLO_HASH, push, HELLO).status_code == 200
    pull = retrieve(farmer, HELLO_HASH)
    response = post_shard(farmer, HELLO_HASH, pull, HELLO)
    assert (response.status_code, response.json()) == (401, {"result": MSG_TOKEN_WRONG_OPERATION})
    assert get_shard(farmer, HELLO_HASH, pull).content == HELLO


def test_oversize_upload_is_rejected(farmer, bridge):
    token = consign(farmer, HELLO, size=12)  # contract smaller than the data
    response = post_shard(farmer, HELLO_HASH, token, HELLO)
    assert response.status_code == 400
    assert response.json() == {"result": MSG_TOO_LARGE}
    assert not (farmer.data_dir / "shards" / HELLO_HASH).exists()
    assert list((farmer.data_dir / "tmp").iterdir()) == []
    report = wait_until(lambda: bridge.reports())[-1]
    assert report["exchangeResultMessage"] == "FAILED_INTEGRITY"
    assert report["exchangeResultCode"] == 1100


def test_large_oversize_upload_gets_an_answer(farmer):
    data = os.urandom(3 * 1024 * 1024)
    token = consign(farmer, data, size=100_000)
    response = post_shard(farmer, api.rmd160sha256_hex(data), token, data)
    assert response.status_code == 400
    assert response.json() == {"result": MSG_TOO_LARGE}


def test_wrong_hash_keeps_the_token_for_a_retry(farmer, bridge):
    token = consign(farmer, HELLO)
    bad = post_shard(farmer, HELLO_HASH, token, b"Hello, Storj?")
    assert bad.status_code == 400
    assert bad.json() == {"result": MSG_HASH_MISMATCH}
    assert not (farmer.data_dir / "shards" / HELLO_HASH).exists()
    good = post_shard(farmer, HELLO_HASH, token, HELLO)
    assert (good.status_code, good.json()) == (200, {"result": MSG_COMPLETED})
    messages = wait_until(lambda: len(bridge.reports()) >= 2 and bridge.reports())
    assert [r["exchangeResultMessage"] for r in messages] == ["FAILED_INTEGRITY", "SHARD_UPLOADED"]


def test_shorter_body_with_the_right_hash_is_accepted(farmer):
    token = consign(farmer, HELLO, size=100)
    assert post_shard(farmer, HELLO_HASH, token, HELLO).status_code == 200


def test_already_stored_shard_must_be_sent_again(farmer, bridge):
    """Knowing a stored shard's hash is no proof of having its bytes: a second upload is
    received and verified like the first (no 304/SHARD_EXISTS shortcut)."""
    assert post_shard(farmer, HELLO_HASH, consign(farmer, HELLO), HELLO).status_code == 200
    response = post_shard(farmer, HELLO_HASH, consign(farmer, HELLO), b"")
    assert response.status_code == 400
    assert response.json() == {"result": MSG_HASH_MISMATCH}
    response = post_shard(farmer, HELLO_HASH, consign(farmer, HELLO), HELLO)
    assert (response.status_code, response.json()) == (200, {"result": MSG_COMPLETED})
    report = wait_until(lambda: len(bridge.reports()) >= 3 and bridge.reports())[-1]
    assert report["exchangeResultMessage"] == "SHARD_UPLOADED"
    assert report["exchangeResultCode"] == 1000


def test_verified_upload_replaces_a_rotten_copy(farmer):
    assert post_shard(farmer, HELLO_HASH, consign(farmer, HELLO), HELLO).status_code == 200
    path = farmer.data_dir / "shards" / HELLO_HASH
    path.write_bytes(b"bit rot")
    assert post_shard(farmer, HELLO_HASH, consign(farmer, HELLO), HELLO).status_code == 200
    assert path.read_bytes() == HELLO


def test_chunked_upload(farmer):
    data = os.urandom(300_000)
    data_hash = api.rmd160sha256_hex(data)
    token = consign(farmer, data)

    def pieces():
        for i in range(0, len(data), 7_777):
            yield data[i : i + 7_777]

    response = requests.post(
        f"{farmer.url}/shards/{data_hash}", params={"token": token}, data=pieces(), timeout=10
    )
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert (response.status_code, response.json()) == (200, {"result": MSG_COMPLETED})
    assert (farmer.data_dir / "shards" / data_hash).read_bytes() == data


def test_chunked_oversize_upload(farmer):
    data = os.urandom(50_000)
    token = consign(farmer, data, size=49_999)
    response = requests.post(
        f"{farmer.url}/shards/{api.rmd160sha256_hex(data)}",
        params={"token": token},
        data=iter([data[:25_000], data[25_000:]]),
        timeout=10,
    )
    assert (response.status_code, response.json()) == (400, {"result": MSG_TOO_LARGE})


def test_download_unknown_shard_and_retrieve_errors(farmer):
    answer = control(farmer, "RETRIEVE", {"data_hash": HELLO_HASH}).json()
    assert answer == {"id": "call-1", "error": {"message": "Shard data not found"}}
    consign(farmer, HELLO)  # contract but no data yet
    answer = control(farmer, "RETRIEVE", {"data_hash": HELLO_HASH}).json()
    assert answer["error"]["message"] == "Shard data not found"


def test_shard_deleted_behind_the_farmer_is_404(farmer):
    post_shard(farmer, HELLO_HASH, consign(farmer, HELLO), HELLO)
    pull = retrieve(farmer, HELLO_HASH)
    (farmer.data_dir / "shards" / HELLO_HASH).unlink()
    response = get_shard(farmer, HELLO_HASH, pull)
    assert (response.status_code, response.json()) == (404, {"result": "Shard data not found"})


def test_large_shard_streams_both_ways(farmer):
    data = os.urandom(5 * 1024 * 1024 + 3)
    data_hash = api.rmd160sha256_hex(data)
    assert post_shard(farmer, data_hash, consign(farmer, data), data).status_code == 200
    response = get_shard(farmer, data_hash, retrieve(farmer, data_hash), stream=True)
    received = b"".join(response.iter_content(65536))
    assert received == data


# --------------------------------------------------------------------------- paths and headers


@pytest.mark.parametrize(
    "target",
    [
        "/shards/../../identity.key",
        "/shards/../identity.key",
        "/shards/..%2f..%2fidentity.key",
        "/shards/%2e%2e/%2e%2e/identity.key",
        "/shards/" + HELLO_HASH + "/../../identity.key",
        "/../identity.key",
        "/identity.key",
        "/shards",
    ],
)
def test_path_traversal_is_refused(farmer, target):
    for method in ("GET", "POST"):
        status, body = raw_request(farmer, method, target + "?token=" + "0" * 40)
        assert status in (400, 404), (method, target, status)
        assert "result" in json.loads(body)
        assert b"-----" not in body and len(body) < 200


@pytest.mark.parametrize(
    "bad_hash",
    [
        "..",
        "%2e%2e",
        "D4B0D0D0D8F9C4BE812D210A9F6D6CAF954CE223",
        HELLO_HASH[:-1],
        HELLO_HASH + "0",
        "x" * 40,
    ],
)
def test_malformed_hash_is_400(farmer, bad_hash):
    status, body = raw_request(farmer, "GET", f"/shards/{bad_hash}?token={'0' * 40}")
    assert status == 400
    assert json.loads(body) == {
        "result": "Invalid shard hash: expected 40 lowercase hex characters"
    }


def test_unknown_route_and_method(farmer):
    response = requests.get(f"{farmer.url}/nothing", timeout=5)
    assert (response.status_code, response.json()) == (404, {"result": "Not found"})
    response = requests.put(f"{farmer.url}/shards/{HELLO_HASH}", timeout=5)
    assert response.status_code == 405
    assert requests.get(f"{farmer.url}/", timeout=5).status_code == 405


def test_node_id_header_must_name_this_farmer(farmer):
    token = consign(farmer, HELLO)
    response = post_shard(farmer, HELLO_HASH, token, HELLO, headers={"x-storj-node-id": "1" * 40})
    assert response.status_code == 400
    assert "tunnel" in response.json()["result"]
    response = post_shard(
        farmer, HELLO_HASH, token, HELLO, headers={"x-storj-node-id": farmer.node_id}
    )
    assert response.status_code == 200


def test_cors_preflight(farmer):
    response = requests.options(f"{farmer.url}/shards/{HELLO_HASH}", timeout=5)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# --------------------------------------------------------------------------- control channel


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x"])
def test_control_requires_the_secret(farmer, secret):
    response = control(farmer, "CONSIGN", {"data_hash": HELLO_HASH, "data_size": 13}, secret)
    assert response.status_code == 401
    assert response.json() == {"result": "Not authorized"}


def test_farmer_without_secret_refuses_all_control(tmp_path):
    node = FarmerNode(FarmerConfig(tmp_path / "f")).start()
    try:
        response = requests.post(
            node.url + "/",
            json={"id": "1", "method": "CONSIGN", "params": {}},
            headers={"x-storj-control-secret": ""},
            timeout=5,
        )
        assert response.status_code == 401
    finally:
        node.stop()


def test_control_message_errors(farmer):
    headers = {"x-storj-control-secret": SECRET}
    response = requests.post(farmer.url + "/", data=b"not json", headers=headers, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Expected {id, method, params} as JSON"
    answer = control(farmer, "PROBE", {}).json()
    assert answer == {"id": "call-1", "error": {"message": "Unknown method 'PROBE'"}}
    bad = [
        {"data_hash": "../x", "data_size": 13},
        {"data_hash": HELLO_HASH, "data_size": 0},
        {"data_hash": HELLO_HASH, "data_size": "13"},
        {"data_hash": HELLO_HASH, "data_size": 13, "audit_tree": ["zz"]},
        {"data_hash": HELLO_HASH, "data_size": 5 * 1024**3},
    ]
    for params in bad:
        answer = control(farmer, "CONSIGN", params).json()
        assert "error" in answer and "result" not in answer, params


# --------------------------------------------------------------------------- mirror


def test_mirror_between_two_farmers(tmp_path, bridge):
    source = make_farmer(tmp_path, bridge, "a").start()
    target = make_farmer(tmp_path, bridge, "b").start()
    try:
        data = os.urandom(200_000)
        data_hash = api.rmd160sha256_hex(data)
        assert post_shard(source, data_hash, consign(source, data), data).status_code == 200
        token = retrieve(source, data_hash)
        params = {
            "data_hash": data_hash,
            "data_size": len(data),
            "audit_tree": [],
            "token": token,
            "farmer": source.contact,
        }
        answer = control(target, "MIRROR", params).json()
        assert answer == {"id": "call-1", "result": {}}
        wait_until(lambda: (target.data_dir / "shards" / data_hash).exists())
        assert (target.data_dir / "shards" / data_hash).read_bytes() == data

        def mirror_report():
            return [r for r in bridge.reports() if r["exchangeResultMessage"].startswith("MIRROR")]

        (report,) = wait_until(mirror_report)
        assert report["exchangeResultMessage"] == "MIRROR_SUCCESS"
        assert report["reporterId"] == target.node_id
        assert report["clientId"] == source.node_id
        # the target can now serve it
        assert get_shard(target, data_hash, retrieve(target, data_hash)).content == data
        # the source token was used up
        assert get_shard(source, data_hash, token).status_code == 401
    finally:
        source.stop()
        target.stop()


def test_mirror_with_a_bad_token_reports_failure(tmp_path, bridge):
    source = make_farmer(tmp_path, bridge, "a").start()
    target = make_farmer(tmp_path, bridge, "b").start()
    try:
        post_shard(source, HELLO_HASH, consign(source, HELLO), HELLO)
        params = {
            "data_hash": HELLO_HASH,
            "data_size": 13,
            "audit_tree": [],
            "token": "0" * 40,
            "farmer": source.contact,
        }
        assert control(target, "MIRROR", params).json()["result"] == {}

        def failed():
            return [r for r in bridge.reports() if r["exchangeResultMessage"] == "MIRROR_FAILED"]

        (report,) = wait_until(failed)
        assert report["exchangeResultCode"] == 1100
        assert not (target.data_dir / "shards" / HELLO_HASH).exists()
        assert list((target.data_dir / "tmp").iterdir()) == []
    finally:
        source.stop()
        target.stop()


def test_mirror_of_wrong_size_fails(tmp_path, bridge):
    source = make_farmer(tmp_path, bridge, "a").start()
    target = make_farmer(tmp_path, bridge, "b").start()
    try:
        post_shard(source, HELLO_HASH, consign(source, HELLO), HELLO)
        params = {
            "data_hash": HELLO_HASH,
            "data_size": 12,
            "token": retrieve(source, HELLO_HASH),
            "farmer": source.contact,
        }
        control(target, "MIRROR", params)
        wait_until(
            lambda: any(r["exchangeResultMessage"] == "MIRROR_FAILED" for r in bridge.reports())
        )
        assert not (target.data_dir / "shards" / HELLO_HASH).exists()
    finally:
        source.stop()
        target.stop()


# --------------------------------------------------------------------------- audit


def test_audit_proof_matches_the_spec_vector(farmer):
    merkle = pytest.importorskip("storj.merkle")
    token = consign(farmer, HELLO, tree=TREE_2017)
    assert post_shard(farmer, HELLO_HASH, token, HELLO).status_code == 200
    audits = [{"data_hash": HELLO_HASH, "challenge": c} for c in CHALLENGES_HEX]
    answer = control(farmer, "AUDIT", {"audits": audits}).json()
    proofs = answer["result"]["proofs"]
    assert len(proofs) == 3
    # bridge-protocol.md §7.4, challenge 1
    assert proofs[1] == [
        ["151b2229ee512ba8c3f006c2545c3845ad95245e", ["376fe64959445e02c397feee493f971e69755f95"]],
        "060361d13c1c39605e8eca4c8e1019c5128a229b",
    ]
    assert merkle.merkle_root(TREE_2017) == ROOT_2017
    for proof in proofs:
        assert merkle.verify_proof(proof, ROOT_2017, 3)
    assert answer["result"]["errors"] == [None, None, None]


def test_audit_failures(farmer):
    pytest.importorskip("storj.merkle")
    consign(farmer, HELLO, tree=TREE_2017)
    audits = [{"data_hash": HELLO_HASH, "challenge": "00" * 32}]
    answer = control(farmer, "AUDIT", {"audits": audits}).json()
    assert answer["result"] == {"proofs": [None], "errors": ["Shard data not found"]}
    post_shard(farmer, HELLO_HASH, consign(farmer, HELLO), HELLO)
    audits = [{"data_hash": HELLO_HASH, "challenge": "33" * 32}]  # not one of the leaves
    answer = control(farmer, "AUDIT", {"audits": audits}).json()
    assert answer["result"] == {"proofs": [None], "errors": ["Failed to generate proof"]}
    answer = control(
        farmer, "AUDIT", {"audits": [{"data_hash": HELLO_HASH, "challenge": "zz"}]}
    ).json()
    assert "error" in answer


def test_audit_with_several_trees_for_one_shard(farmer):
    merkle = pytest.importorskip("storj.merkle")
    sharding = pytest.importorskip("storj.sharding")
    data = os.urandom(100_000)
    data_hash = api.rmd160sha256_hex(data)
    digests = []
    for _ in range(2):  # the same bytes consigned twice with different challenges
        challenges = sharding.new_challenges(4)
        hasher = sharding.ShardHasher(challenges)
        hasher.update(data)
        digest = hasher.finish()
        assert digest.hash == data_hash
        token = consign(farmer, data, tree=digest.tree)
        post_shard(farmer, data_hash, token, data)
        digests.append(digest)
    for digest in digests:
        root = merkle.merkle_root(digest.tree)
        audits = [{"data_hash": data_hash, "challenge": c} for c in digest.challenges]
        proofs = control(farmer, "AUDIT", {"audits": audits}).json()["result"]["proofs"]
        assert all(merkle.verify_proof(p, root, 3) for p in proofs)


# --------------------------------------------------------------------------- robustness and logs


def test_unexpected_errors_are_500_and_the_server_survives(farmer, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(farmer, "_upload", boom)
    token = consign(farmer, HELLO)
    response = post_shard(farmer, HELLO_HASH, token, HELLO)
    assert (response.status_code, response.json()) == (500, {"result": "Internal error"})
    monkeypatch.undo()
    assert post_shard(farmer, HELLO_HASH, token, HELLO).status_code == 200


def test_one_log_line_per_request_without_the_token(farmer, caplog):
    token = consign(farmer, HELLO)
    with caplog.at_level(logging.INFO, logger="storj.local.farmer"):
        post_shard(farmer, HELLO_HASH, token, HELLO)
        get_shard(farmer, HELLO_HASH, "f" * 40)
    lines = [r.getMessage() for r in caplog.records if r.name == "storj.local.farmer"]
    assert len(lines) == 2
    assert "POST /shards/" + HELLO_HASH + " 200" in lines[0]
    assert "GET /shards/" + HELLO_HASH + " 401" in lines[1]
    assert all(token not in line and "f" * 40 not in line for line in lines)


def test_contracts_persist_across_restarts(tmp_path, bridge):
    node = make_farmer(tmp_path, bridge).start()
    consign(node, HELLO)
    node.stop()
    assert (tmp_path / "farmer" / "farmer.sqlite3").exists()
    node = make_farmer(tmp_path, bridge).start()
    try:
        # the token was in memory and is gone, the contract is not
        fresh = control(node, "CONSIGN", {"data_hash": HELLO_HASH, "data_size": 13}).json()
        assert post_shard(node, HELLO_HASH, fresh["result"]["token"], HELLO).status_code == 200
        node.stop()
        node.start()  # the same object restarts
        assert get_shard(node, HELLO_HASH, retrieve(node, HELLO_HASH)).content == HELLO
    finally:
        node.stop()


def test_concurrent_uploads_of_distinct_shards(farmer):
    blobs = [os.urandom(20_000 + i) for i in range(24)]
    errors: list[BaseException] = []

    def work(data):
        try:
            data_hash = api.rmd160sha256_hex(data)
            assert post_shard(farmer, data_hash, consign(farmer, data), data).status_code == 200
            assert get_shard(farmer, data_hash, retrieve(farmer, data_hash)).content == data
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(b,)) for b in blobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# ------------------------------------------------------------------ deferred reports


def _sender(quiet=0.2, max_delay=1.0):
    """Deferred reports on a FakeClock (``sent``: ``(clock time, n)``): whether a report
    is due depends only on the advances the test makes, however slow the machine."""
    from storj.local.farmer import _DeferredReports

    clock = FakeClock(start=1000.0)
    sent: list[tuple[float, str]] = []
    reports = _DeferredReports(
        lambda r: sent.append((clock(), r["n"])), quiet=quiet, max_delay=max_delay, clock=clock
    )
    return reports, sent, clock


def test_reports_wait_until_transfers_are_quiet():
    reports, sent, clock = _sender(quiet=0.2, max_delay=5.0)
    try:
        start = clock()
        for n in range(5):  # a transfer ends every 0.1 s
            reports.submit({"n": str(n)})
            clock.advance(0.1)
        clock.advance(0.09)  # 0.19 s after the last one: not quiet yet
        assert sent == []
        clock.advance(0.06)  # now 0.25 s
        wait_until(lambda: len(sent) == 5)
        assert [n for _, n in sent] == ["0", "1", "2", "3", "4"]
        assert sent[0][0] - start == pytest.approx(0.65)  # only once quiet
    finally:
        reports.close()


def test_reports_are_not_held_longer_than_max_delay():
    reports, sent, clock = _sender(quiet=0.3, max_delay=0.5)
    try:
        start = clock()
        for _ in range(9):  # never quiet: a transfer ends every 0.05 s
            reports.submit({"n": "x"})
            clock.advance(0.05)
        assert sent == []  # 0.45 s after the first report
        clock.advance(0.1)  # 0.55 s after the first one, 0.15 s after the last: not quiet
        wait_until(lambda: sent)
        assert sent[0][0] - start == pytest.approx(0.55)
        assert [n for _, n in sent] == ["x"] * 9
    finally:
        reports.close()


def test_an_urgent_report_sends_the_queue_at_once_and_close_flushes():
    reports, sent, _ = _sender(quiet=10, max_delay=10)  # the clock never moves
    reports.submit({"n": "a"})
    reports.submit({"n": "b"}, urgent=True)
    wait_until(lambda: len(sent) >= 2)
    assert [n for _, n in sent] == ["a", "b"]
    reports.submit({"n": "c"})
    reports.close()
    assert [n for _, n in sent] == ["a", "b", "c"]
    reports.submit({"n": "late"})  # after close: dropped
    assert len(sent) == 3


# --------------------------------------------------------------------------- renters


ALICE = "a" * 40
BOB = "b" * 40


def consign_for(farmer: FarmerNode, data: bytes, renter: str) -> str:
    params = {
        "data_hash": api.rmd160sha256_hex(data),
        "data_size": len(data),
        "audit_tree": [],
        "renter": renter,
    }
    return control(farmer, "CONSIGN", params).json()["result"]["token"]


def call(farmer: FarmerNode, method: str, **params) -> dict:
    return control(farmer, method, params).json()


def test_a_renter_that_never_sent_the_bytes_gets_nothing(farmer):
    assert post_shard(farmer, HELLO_HASH, consign_for(farmer, HELLO, ALICE), HELLO).ok
    consign_for(farmer, HELLO, BOB)  # Bob knows the hash and has a contract, not the bytes
    assert "token" in call(farmer, "RETRIEVE", data_hash=HELLO_HASH, renter=ALICE)["result"]
    refused = call(farmer, "RETRIEVE", data_hash=HELLO_HASH, renter=BOB)
    assert refused["error"] == {"message": "Shard data not found"}
    audit = {"data_hash": HELLO_HASH, "challenge": "00" * 32, "renter": BOB}
    answer = call(farmer, "AUDIT", audits=[audit])["result"]
    assert answer == {"proofs": [None], "errors": ["Shard data not found"]}
    # sending the bytes is the proof
    assert post_shard(farmer, HELLO_HASH, consign_for(farmer, HELLO, BOB), HELLO).ok
    assert "token" in call(farmer, "RETRIEVE", data_hash=HELLO_HASH, renter=BOB)["result"]


def test_a_push_is_limited_by_its_own_contract_size(farmer):
    """Another renter negotiating the same hash with a smaller size cannot shrink the
    limit of a push already granted."""
    token = consign_for(farmer, HELLO, ALICE)
    params = {"data_hash": HELLO_HASH, "data_size": 1, "audit_tree": [], "renter": BOB}
    assert "result" in control(farmer, "CONSIGN", params).json()
    assert post_shard(farmer, HELLO_HASH, token, HELLO).status_code == 200


def test_release_keeps_a_shard_another_renter_needs(farmer):
    path = farmer.shard_path(HELLO_HASH)
    assert post_shard(farmer, HELLO_HASH, consign_for(farmer, HELLO, ALICE), HELLO).ok
    assert post_shard(farmer, HELLO_HASH, consign_for(farmer, HELLO, BOB), HELLO).ok
    kept = call(farmer, "RELEASE", data_hash=HELLO_HASH, renter=ALICE, remove=True)["result"]
    assert kept == {"deleted": False, "bytes": 0} and path.exists()
    assert "error" in call(farmer, "RETRIEVE", data_hash=HELLO_HASH, renter=ALICE)
    freed = call(farmer, "RELEASE", data_hash=HELLO_HASH, renter=BOB, remove=True)["result"]
    assert freed == {"deleted": True, "bytes": len(HELLO)} and not path.exists()
    assert "error" in call(farmer, "RETRIEVE", data_hash=HELLO_HASH, renter=BOB)


def test_release_without_remove_or_with_a_pending_upload_deletes_nothing(farmer):
    path = farmer.shard_path(HELLO_HASH)
    assert post_shard(farmer, HELLO_HASH, consign_for(farmer, HELLO, ALICE), HELLO).ok
    answer = call(farmer, "RELEASE", data_hash=HELLO_HASH, renter=ALICE, remove=False)
    assert answer["result"] == {"deleted": False, "bytes": 0} and path.exists()
    token = consign_for(farmer, HELLO, BOB)  # an upload is on its way
    answer = call(farmer, "RELEASE", data_hash=HELLO_HASH, renter=ALICE, remove=True)
    assert answer["result"] == {"deleted": False, "bytes": 0, "busy": True} and path.exists()
    assert post_shard(farmer, HELLO_HASH, token, HELLO).ok


def test_release_voids_upload_tokens_of_dropped_contracts(farmer, bridge):
    assert post_shard(farmer, HELLO_HASH, consign_for(farmer, HELLO, ALICE), HELLO).ok
    abandoned = consign_for(farmer, HELLO, BOB)  # Bob's contract was dropped since
    busy = call(farmer, "RELEASE", data_hash=HELLO_HASH, renter=ALICE, remove=True,
                stale_after=3600)
    assert busy["result"]["busy"] is True
    freed = call(farmer, "RELEASE", data_hash=HELLO_HASH, renter=ALICE, remove=True,
                 stale_after=0)
    assert freed["result"] == {"deleted": True, "bytes": len(HELLO)}
    refused = post_shard(farmer, HELLO_HASH, abandoned, HELLO)
    assert refused.json() == {"result": MSG_TOKEN_NOT_ACCEPTED}


def test_ping_and_bad_renter(farmer):
    assert call(farmer, "PING")["result"] == {"nodeID": farmer.node_id}
    answer = call(farmer, "RETRIEVE", data_hash=HELLO_HASH, renter="not-hex")
    assert answer["error"] == {"message": "Invalid renter: expected 40 hex characters"}


def test_shards_stored_before_renters_are_adopted_once(tmp_path, bridge):
    node = make_farmer(tmp_path, bridge).start()
    assert post_shard(node, HELLO_HASH, consign(node, HELLO), HELLO).ok  # unscoped (old Bridge)
    node.stop()
    db = sqlite3.connect(node.data_dir / "farmer.sqlite3")
    db.execute("DELETE FROM renters")
    db.execute("PRAGMA user_version = 0")  # as written by storj < 1.1
    db.commit()
    db.close()
    node.start()
    try:
        refused = call(node, "RETRIEVE", data_hash=HELLO_HASH, renter=ALICE)
        assert refused["error"] == {"message": "Shard data not found"}
        adopted = call(node, "RETRIEVE", data_hash=HELLO_HASH, renter=ALICE, adopt=True)
        assert "token" in adopted["result"]
        assert "token" in call(node, "RETRIEVE", data_hash=HELLO_HASH, renter=ALICE)["result"]
    finally:
        node.stop()


def test_reports_are_signed_and_name_the_renter(farmer, bridge):
    assert post_shard(farmer, HELLO_HASH, consign_for(farmer, HELLO, ALICE), HELLO).ok
    wait_until(lambda: bridge.reports())
    with bridge.lock:
        [sent] = [r for r in bridge.requests if r["path"] == "/reports/exchanges"]
    report = json.loads(sent["body"])
    assert (report["renterId"], report["exchangeResultMessage"]) == (ALICE, "SHARD_UPLOADED")
    headers = sent["headers"]
    assert headers["x-node-id"] == farmer.node_id
    message = registration_message(
        "POST", sent["url"], headers["x-node-timestamp"], sent["body"]
    )
    assert keys.verify(headers["x-node-pubkey"], headers["x-node-signature"], message)
@pytest.mark.parametrize("how", ["complete", "abandoned", "never-started"])
def test_shard_body_closes_its_file_and_claim_without_the_server(tmp_path, how):
    """werkzeug does not call ``close()`` on a body when the client drops the connection
    while it drains the request: the body must close its file and end the token claim by
    itself once its iteration ends, or the file stays open until garbage collection
    (ResourceWarning) and the token stays claimed."""
    path = tmp_path / "shard"
    path.write_bytes(b"x" * 100_000)
    events: list[str] = []
    handle = open(path, "rb")
    body = _ShardStream(
        handle,
        100_000,
        lambda: events.append("complete"),
        lambda exc: events.append(f"error {exc}"),
        lambda: events.append("close"),
    )
    chunks = iter(body)
    if how == "complete":
        assert sum(len(c) for c in chunks) == 100_000
        assert events == ["complete", "close"]
    elif how == "abandoned":  # the server stopped writing after the first chunk
        next(chunks)
        del chunks  # the generator is finalised at once (no reference cycle)
        assert events == ["close"]
    else:
        del chunks
        assert events == []
        body.close()  # the server's close() is then the only one
        assert events == ["close"]
    assert handle.closed
    body.close()  # harmless a second time
    assert events.count("close") == 1

"""Shard negotiation, pointers, mirrors and audits of the local Bridge, with fake farmers.

``FakeFarmer`` is a tiny werkzeug server speaking what the Bridge expects of a farmer
(``docs/internals.rst``): signed self-registration (``POST /contacts``), the control RPC
(``POST /`` with ``x-storj-control-secret``: CONSIGN, RETRIEVE, MIRROR, AUDIT) and the
shard endpoints of §6 (``POST``/``GET /shards/:hash?token=``). The Appendix A exchange
of ``bridge-protocol.md`` is replayed step by step against it.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from storj import api, keys, merkle
from storj.local.bridge import BridgeServer
from storj.local.bridge.util import renter_id
from tests.data import CHALLENGES_HEX, TREE_2016  # TREE_2016: the leaves Appendix A sends
from tests.data import SHARD as HELLO
from tests.data import SHARD_HASH as HELLO_HASH
from tests.helpers import settle_bridge, wait_until
from tests.integration.test_bridge_api import (
    EMAIL,
    PASSWORD,
    SECRET,
    Http,
    make_config,
    new_user,
)

pytestmark = pytest.mark.integration


class FakeFarmer:
    """An in-memory farmer: control RPC, shard endpoints, signed registration."""

    def __init__(self, bridge_url: str, *, scheme: str = "2017", secret: str = SECRET) -> None:
        self.bridge_url = bridge_url
        self.scheme = scheme
        self.secret = secret
        self.private = ec.generate_private_key(ec.SECP256K1())
        self.node_id = keys.node_id(self.private)
        self.shards: dict[str, bytes] = {}
        self.trees: dict[str, list[str]] = {}
        self.tokens: dict[str, tuple[str, str]] = {}  # token -> (hash, "PUSH"/"PULL")
        self.calls: list[tuple[str, dict]] = []
        self.refuse: set[str] = set()  # control methods answered with an error
        self.lock = threading.Lock()
        self.server = None
        self.port = 0

    # -- life cycle

    def start(self) -> FakeFarmer:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self.server.server_port
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def signed_post(self, path: str, payload: dict) -> requests.Response:
        """POST to the Bridge with the farmer headers of §2.7."""
        body = json.dumps(payload).encode()
        stamp = str(int(time.time() * 1000))
        url = self.bridge_url + path
        headers = {
            "Content-Type": "application/json",
            "x-node-id": self.node_id,
            "x-node-pubkey": keys.public_key_hex(self.private),
            "x-node-timestamp": stamp,
            "x-node-signature": keys.sign(
                self.private, b"POST" + url.encode() + stamp.encode() + body
            ),
        }
        return requests.post(url, data=body, headers=headers, timeout=5)

    def register(self) -> dict:
        response = self.signed_post(
            "/contacts",
            {"address": "127.0.0.1", "port": self.port, "protocol": "1.2.0", "userAgent": "fake"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    # -- HTTP

    def app(self, environ, start_response):
        request = Request(environ)
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and request.path == "/":
            response = self.control(request)
        elif len(parts) == 2 and parts[0] == "shards":
            response = self.shard(request, parts[1])
        else:
            response = self.reply({"result": "Not found"}, 404)
        return response(environ, start_response)

    @staticmethod
    def reply(body: dict, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")

    def shard(self, request: Request, data_hash: str) -> Response:
        token = request.args.get("token")
        operation = "PUSH" if request.method == "POST" else "PULL"
        with self.lock:
            granted = self.tokens.get(token or "")
        if granted is None or granted[:2] != (data_hash, operation):
            return self.reply({"result": "The supplied token is not accepted"}, 401)
        if operation == "PUSH":
            data = request.get_data()
            if api.rmd160sha256_hex(data) != data_hash:
                return self.reply(
                    {"result": "Calculated hash does not match the expected result"}, 400
                )
            with self.lock:
                self.shards[data_hash] = data
                del self.tokens[token]
            self.report_own(data_hash, "SHARD_UPLOADED", granted[2])
            return self.reply({"result": "Consignment completed"})
        with self.lock:
            data = self.shards.get(data_hash)
            del self.tokens[token]
        if data is None:
            return self.reply({"result": "Shard data not found"}, 404)
        return Response(data, content_type="application/octet-stream")

    def control(self, request: Request) -> Response:
        if request.headers.get("x-storj-control-secret") != self.secret:
            return self.reply({"result": "Not authorized"}, 401)
        message = json.loads(request.get_data())
        method, params = message["method"], message["params"]
        with self.lock:
            self.calls.append((method, params))
        if method in self.refuse:
            return self.reply({"id": message["id"], "error": {"message": f"{method} refused"}})
        result = getattr(self, method.lower())(params)
        if isinstance(result, str):
            return self.reply({"id": message["id"], "error": {"message": result}})
        return self.reply({"id": message["id"], "result": result})

    # -- control methods

    def issue(self, data_hash: str, operation: str, renter: str | None = None) -> str:
        token = os.urandom(20).hex()
        with self.lock:
            self.tokens[token] = (data_hash, operation, renter)
        return token

    def report_own(self, data_hash: str, message: str, renter: str | None) -> None:
        """The signed report a farmer sends about its own copy (§2.7 headers, renterId)."""
        now = int(time.time() * 1000)
        report = {
            "dataHash": data_hash,
            "reporterId": self.node_id,
            "farmerId": self.node_id,
            "exchangeStart": now,
            "exchangeEnd": now,
            "exchangeResultCode": 1000,
            "exchangeResultMessage": message,
            "renterId": renter,
        }
        self.signed_post("/reports/exchanges", report)

    def consign(self, params: dict) -> dict:
        assert set(params) == {"data_hash", "data_size", "audit_tree", "renter"}
        self.trees[params["data_hash"]] = params["audit_tree"]
        return {"token": self.issue(params["data_hash"], "PUSH", params["renter"])}

    def ping(self, params: dict) -> dict:
        return {"nodeID": self.node_id}

    def release(self, params: dict) -> dict:
        with self.lock:
            data = self.shards.pop(params["data_hash"], None) if params["remove"] else None
        return {"deleted": data is not None, "bytes": len(data or b"")}

    def retrieve(self, params: dict) -> dict | str:
        if params["data_hash"] not in self.shards:
            return "Shard data not found"
        return {"token": self.issue(params["data_hash"], "PULL")}

    def mirror(self, params: dict) -> dict:
        self.trees[params["data_hash"]] = params["audit_tree"]
        threading.Thread(target=self.pull_mirror, args=(params,), daemon=True).start()
        return {}

    def pull_mirror(self, params: dict) -> None:
        source = params["farmer"]
        url = f"http://{source['address']}:{source['port']}/shards/{params['data_hash']}"
        response = requests.get(url, params={"token": params["token"]}, timeout=5)
        ok = (
            response.status_code == 200
            and api.rmd160sha256_hex(response.content) == params["data_hash"]
        )
        if ok:
            with self.lock:
                self.shards[params["data_hash"]] = response.content
        report = {
            "dataHash": params["data_hash"],
            "reporterId": self.node_id,
            "farmerId": self.node_id,
            "clientId": source["nodeID"],
            "exchangeStart": int(time.time() * 1000),
            "exchangeEnd": int(time.time() * 1000),
            "exchangeResultCode": 1000 if ok else 1100,
            "exchangeResultMessage": "MIRROR_SUCCESS" if ok else "MIRROR_FAILED",
            "renterId": params["renter"],
        }
        self.signed_post("/reports/exchanges", report)

    def audit(self, params: dict) -> dict:
        proofs = []
        for item in params["audits"]:
            data = self.shards.get(item["data_hash"])
            if data is None:
                proofs.append(None)
                continue
            response = merkle.audit_response(item["challenge"], data, scheme=self.scheme)
            try:
                proofs.append(
                    merkle.make_proof(self.trees[item["data_hash"]], response, scheme=self.scheme)
                )
            except ValueError:
                proofs.append(None)
        return {"proofs": proofs}


# ----------------------------------------------------------------------------- fixtures


class Network:
    def __init__(self, bridge: BridgeServer, farmers: list[FakeFarmer]) -> None:
        self.bridge = bridge
        self.farmers = farmers
        self.by_id = {f.node_id: f for f in farmers}


def start_network(tmp_path, farmers: int = 3, scheme: str = "2017", **options) -> Network:
    options.setdefault("farmer_lost_after", 0)
    options.setdefault("repair_interval", 0)
    bridge = BridgeServer(make_config(tmp_path, farmer_timeout=10.0, **options)).start()
    nodes = [FakeFarmer(bridge.url, scheme=scheme).start() for _ in range(farmers)]
    for node in nodes:
        node.register()
    return Network(bridge, nodes)


def stop_network(network: Network) -> None:
    for farmer in network.farmers:
        farmer.stop()
    network.bridge.stop()


@pytest.fixture
def net(tmp_path):
    network = start_network(tmp_path, mirror_redundancy=0)
    yield network
    stop_network(network)


def shard_body(data: bytes, index: int, *, challenges: int = 3, **extra) -> dict:
    chosen = [os.urandom(32).hex() for _ in range(challenges)]
    leaves = merkle.pad_leaves([merkle.audit_leaf(c, data) for c in chosen])
    return {
        "hash": api.rmd160sha256_hex(data),
        "size": len(data),
        "index": index,
        "challenges": chosen,
        "tree": leaves,
        **extra,
    }


def upload(client: Http, frame_id: str, data: bytes, index: int, **extra) -> dict:
    pointer = client.put(f"/frames/{frame_id}", json=shard_body(data, index, **extra))
    assert pointer.status_code == 200, pointer.text
    pointer = pointer.json()
    farmer = pointer["farmer"]
    sent = requests.post(
        f"http://{farmer['address']}:{farmer['port']}/shards/{pointer['hash']}",
        params={"token": pointer["token"]},
        data=data,
        headers={"x-storj-node-id": farmer["nodeID"]},
        timeout=5,
    )
    assert sent.json() == {"result": "Consignment completed"}
    return pointer


def report(client: Http, data_hash: str, farmer_id: str, message="SHARD_UPLOADED", code=1000):
    response = client.post(
        "/reports/exchanges",
        json={
            "dataHash": data_hash,
            "reporterId": EMAIL,
            "clientId": EMAIL,
            "farmerId": farmer_id,
            "exchangeStart": 1,
            "exchangeEnd": 2,
            "exchangeResultCode": code,
            "exchangeResultMessage": message,
        },
    )
    assert (response.status_code, response.json()) == (201, {})


def store_file(
    client: Http, shards: list[bytes], name="file.bin", **entry
) -> tuple[dict, dict, list]:
    bucket = client.post("/buckets", json={"name": "b-" + os.urandom(3).hex()}).json()
    frame = client.post("/frames", json={}).json()
    pointers = [upload(client, frame["id"], data, i) for i, data in enumerate(shards)]
    created = client.post(
        f"/buckets/{bucket['id']}/files", json={"frame": frame["id"], "filename": name, **entry}
    )
    assert created.status_code == 200, created.text
    return bucket, created.json(), pointers


# ----------------------------------------------------------------------------- Appendix A


def test_appendix_a_exchange(tmp_path):
    network = start_network(tmp_path, farmers=1, scheme="2016", mirror_redundancy=0)
    try:
        farmer = network.farmers[0]
        base = network.bridge.url
        anon = Http(base)
        created = anon.post(
            "/users", json={"email": EMAIL, "password": api.hash_password(PASSWORD)}
        )
        assert created.status_code == 201
        client = Http(base, EMAIL, PASSWORD)
        key = "034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa"
        assert client.post("/keys", json={"key": key}).json() == {
            "key": key,
            "id": key,
            "user": EMAIL,
            "label": "",
        }
        bucket = client.post("/buckets", json={"name": "test-bucket"})
        assert (bucket.status_code, bucket.json()["id"]) == (201, "110318dd199675cec2d5f8d8")
        frame = client.post("/frames", json={}).json()

        pointer = client.put(
            f"/frames/{frame['id']}",
            json={
                "hash": HELLO_HASH,
                "size": 13,
                "index": 0,
                "challenges": CHALLENGES_HEX,
                "tree": TREE_2016,
                "exclude": [],
            },
        )
        assert pointer.status_code == 200
        pointer = pointer.json()
        assert set(pointer) == {"hash", "token", "operation", "farmer"}
        assert (pointer["hash"], pointer["operation"]) == (HELLO_HASH, "PUSH")
        assert set(pointer["farmer"]) == {
            "userAgent",
            "protocol",
            "address",
            "port",
            "nodeID",
            "lastSeen",
        }
        assert pointer["farmer"]["nodeID"] == farmer.node_id
        assert pointer["farmer"]["port"] == farmer.port
        assert (pointer["farmer"]["userAgent"], pointer["farmer"]["protocol"]) == ("fake", "1.2.0")
        assert isinstance(pointer["farmer"]["lastSeen"], int)
        assert abs(pointer["farmer"]["lastSeen"] - time.time() * 1000) < 10_000
        # the farmer got the contract with the leaves, as the control RPC defines it
        assert farmer.calls[-1] == (
            "CONSIGN",
            {
                "data_hash": HELLO_HASH,
                "data_size": 13,
                "audit_tree": TREE_2016,
                "renter": renter_id(EMAIL),
            },
        )

        sent = requests.post(
            f"http://127.0.0.1:{farmer.port}/shards/{HELLO_HASH}",
            params={"token": pointer["token"]},
            data=HELLO,
            headers={"Content-Type": "application/octet-stream", "x-storj-node-id": farmer.node_id},
            timeout=5,
        )
        assert sent.json() == {"result": "Consignment completed"}
        report(anon, HELLO_HASH, farmer.node_id)

        entry = client.post(
            "/buckets/110318dd199675cec2d5f8d8/files",
            json={"frame": frame["id"], "mimetype": "text/plain", "filename": "file.txt"},
        ).json()
        assert (entry["id"], entry["size"], entry["frame"]) == (
            "552f1798ea74b6b83440c1df",
            13,
            frame["id"],
        )
        listed = client.get("/buckets/110318dd199675cec2d5f8d8/files").json()
        assert [(f["id"], f["filename"], f["size"], f["mimetype"]) for f in listed] == [
            ("552f1798ea74b6b83440c1df", "file.txt", 13, "text/plain")
        ]
        token = client.post("/buckets/110318dd199675cec2d5f8d8/tokens", json={"operation": "PULL"})
        assert token.status_code == 201
        token = token.json()
        pointers = anon.get(
            "/buckets/110318dd199675cec2d5f8d8/files/552f1798ea74b6b83440c1df",
            params={"skip": 0, "limit": 6},
            headers={"x-token": token["token"]},
        )
        assert pointers.status_code == 200
        [pull] = pointers.json()
        assert set(pull) == {"index", "hash", "size", "parity", "token", "farmer", "operation"}
        assert (pull["index"], pull["hash"], pull["size"], pull["parity"], pull["operation"]) == (
            0,
            HELLO_HASH,
            13,
            False,
            "PULL",
        )
        assert pull["farmer"]["nodeID"] == farmer.node_id
        shard = requests.get(
            f"http://127.0.0.1:{farmer.port}/shards/{HELLO_HASH}",
            params={"token": pull["token"]},
            timeout=5,
        )
        assert shard.content == HELLO

        contacts = anon.get("/contacts", params={"page": 1}).json()
        assert [(c["nodeID"], c["port"]) for c in contacts] == [(farmer.node_id, farmer.port)]
        assert isinstance(contacts[0]["lastSeen"], str)

        # the 2016 hex-string audit tree verifies against the 2016 root
        result = network.bridge.audit_all()
        assert (result["audited"], result["ok"], result["failed"], result["unreachable"]) == (
            1,
            1,
            0,
            0,
        )
        assert result["results"] == [{"hash": HELLO_HASH, "nodeID": farmer.node_id, "status": "ok"}]
    finally:
        stop_network(network)


# ----------------------------------------------------------------------------- negotiation


def test_exclude_and_failing_farmers(net):
    client = new_user(net.bridge)
    frame = client.post("/frames", json={}).json()
    a, b, c = net.farmers
    body = shard_body(b"data", 0, exclude=[a.node_id, b.node_id])
    for _ in range(5):
        pointer = client.put(f"/frames/{frame['id']}", json=body).json()
        assert pointer["farmer"]["nodeID"] == c.node_id
    everyone = shard_body(b"data", 0, exclude=[f.node_id for f in net.farmers])
    refused = client.put(f"/frames/{frame['id']}", json=everyone)
    assert refused.status_code == 400
    assert (
        refused.json()["error"]
        == "Could not get contract: no storage node is available (3 excluded)"
    )

    # a farmer that refuses CONSIGN is skipped; one that is down gets lastTimeout
    a.refuse.add("CONSIGN")
    b.stop()
    # farmers are tried in random order: b is tried before c in half of the calls, so
    # 40 calls leave b untried with probability 2**-40
    for _ in range(40):
        pointer = client.put(f"/frames/{frame['id']}", json=shard_body(b"x", 1))
        assert pointer.status_code == 200
        assert pointer.json()["farmer"]["nodeID"] == c.node_id
        contacts = {x["nodeID"]: x for x in Http(net.bridge.url).get("/contacts").json()}
        if "lastTimeout" in contacts[b.node_id]:
            break
    assert "lastTimeout" in contacts[b.node_id]
    assert "lastTimeout" not in contacts[a.node_id]
    c.refuse.add("CONSIGN")
    failed = client.put(f"/frames/{frame['id']}", json=shard_body(b"x", 1))
    assert failed.status_code == 400
    assert failed.json()["error"] == "Could not get contract: CONSIGN refused"


def test_frame_accounting_with_parity_and_replacement(net):
    client = new_user(net.bridge)
    frame = client.post("/frames", json={}).json()
    upload(client, frame["id"], b"a" * 100, 0)
    upload(client, frame["id"], b"b" * 60, 1)
    upload(client, frame["id"], b"p" * 100, 2, parity=True)
    state = client.get(f"/frames/{frame['id']}").json()
    assert (state["size"], state["storageSize"], len(state["shards"])) == (160, 260, 3)
    upload(client, frame["id"], b"c" * 70, 1)  # the same index again replaces the shard
    state = client.get(f"/frames/{frame['id']}").json()
    assert (state["size"], state["storageSize"], len(state["shards"])) == (170, 270, 3)


def test_challenges_of_the_2016_sdk_count(net):
    client = new_user(net.bridge)
    frame = client.post("/frames", json={}).json()
    body = shard_body(b"twelve", 0, challenges=12)
    assert len(body["tree"]) == 16
    assert client.put(f"/frames/{frame['id']}", json=body).status_code == 200


# ----------------------------------------------------------------------------- pointers


def test_pointer_pages_exclusion_and_unreachable_holders(net):
    client = new_user(net.bridge)
    shards = [bytes([i]) * (10 + i) for i in range(8)]
    bucket, entry, pointers = store_file(client, shards)
    path = f"/buckets/{bucket['id']}/files/{entry['id']}"
    first = client.get(path).json()
    assert [p["index"] for p in first] == [0, 1, 2, 3, 4, 5]
    assert [p["size"] for p in first] == [10, 11, 12, 13, 14, 15]
    assert all(p["operation"] == "PULL" and len(p["token"]) == 40 for p in first)
    assert [p["index"] for p in client.get(path, params={"skip": 6}).json()] == [6, 7]
    assert [p["index"] for p in client.get(path, params={"skip": 2, "limit": 3}).json()] == [
        2,
        3,
        4,
    ]
    assert client.get(path, params={"skip": 8}).json() == []
    for pointer in first:
        holder = net.by_id[pointer["farmer"]["nodeID"]]
        got = requests.get(
            f"http://127.0.0.1:{holder.port}/shards/{pointer['hash']}",
            params={"token": pointer["token"]},
            timeout=5,
        )
        assert got.content == shards[pointer["index"]]

    # excluding the only holder gives the 2018 pointer without token/farmer
    holder = pointers[0]["farmer"]["nodeID"]
    lonely = client.get(path, params={"skip": 0, "limit": 1, "exclude": holder}).json()
    assert lonely == [{"index": 0, "hash": pointers[0]["hash"], "size": 10, "parity": False}]
    # so does a holder that is down, and the Bridge notes its timeout
    net.by_id[holder].stop()
    down = client.get(path, params={"limit": 1}).json()
    assert set(down[0]) == {"index", "hash", "size", "parity"}
    contact = Http(net.bridge.url).get(f"/contacts/{holder}").json()
    assert "lastTimeout" in contact


def test_file_info_for_public_bucket(net):
    client = new_user(net.bridge)
    bucket, entry, _ = store_file(client, [b"public"], name="pub.txt", index="ab" * 32)
    anon = Http(net.bridge.url)
    path = f"/buckets/{bucket['id']}/files/{entry['id']}/info"
    assert anon.get(path).status_code == 401
    client.patch(f"/buckets/{bucket['id']}", json={"publicPermissions": ["PULL"]})
    info = anon.get(path).json()
    assert (info["filename"], info["size"], info["index"]) == ("pub.txt", 6, "ab" * 32)
    token = anon.post(
        f"/buckets/{bucket['id']}/tokens", json={"operation": "PULL", "file": entry["id"]}
    )
    assert token.status_code == 201
    assert (token.json()["mimetype"], token.json()["size"]) == ("application/octet-stream", 6)


# ----------------------------------------------------------------------------- mirrors


def mirror_calls(network: Network) -> int:
    """How many MIRROR control calls the fake farmers have received."""
    return sum(method == "MIRROR" for farmer in network.farmers for method, _ in farmer.calls)


def test_automatic_mirroring_after_upload_report(tmp_path):
    network = start_network(tmp_path, farmers=4, mirror_redundancy=2)
    try:
        client = new_user(network.bridge)
        bucket, entry, [pointer] = store_file(client, [b"mirror me"])
        origin = pointer["farmer"]["nodeID"]
        path = f"/buckets/{bucket['id']}/files/{entry['id']}/mirrors"

        def established():
            [listing] = client.get(path).json()
            return listing if len(listing["established"]) == 3 else None

        listing = wait_until(established)
        holders = {m["contact"]["nodeID"] for m in listing["established"]}
        assert origin in holders and len(holders) == 3
        for mirror in listing["established"]:
            assert set(mirror) == {"id", "shardHash", "contact", "contract", "isEstablished"}
            assert mirror["shardHash"] == pointer["hash"] and mirror["isEstablished"] is True
            assert mirror["contract"]["data_hash"] == pointer["hash"]
            assert mirror["contract"]["data_size"] == 9
            assert mirror["contract"]["farmer_id"] == mirror["contact"]["nodeID"]
        assert listing["available"] == []
        for node in holders - {origin}:
            assert network.by_id[node].shards[pointer["hash"]] == b"mirror me"
        # more reports do not create more copies: once the Bridge has acted on the
        # report (deferred mirrors submitted, background jobs done), nothing was asked
        settle_bridge(network.bridge)
        asked = mirror_calls(network)
        network.by_id[origin].report_own(pointer["hash"], "SHARD_UPLOADED", renter_id(EMAIL))
        settle_bridge(network.bridge)
        assert mirror_calls(network) == asked
        assert len(client.get(path).json()[0]["established"]) == 3
        assert sum(pointer["hash"] in f.shards for f in network.farmers) == 3

        # with the first holder gone, downloads use a mirror
        network.by_id[origin].stop()
        [pull] = client.get(f"/buckets/{bucket['id']}/files/{entry['id']}").json()
        assert pull["farmer"]["nodeID"] in holders - {origin}
        # a client's download error only has the copy verified: unreachable is not bad
        report(client, pointer["hash"], origin, message="DOWNLOAD_ERROR", code=1100)
        result = network.bridge.audit_all()
        statuses = {r["nodeID"]: r["status"] for r in result["results"]}
        assert statuses.pop(origin) == "unreachable"
        assert set(statuses.values()) == {"ok"} and len(statuses) == 2
        # the lost farmer's copy is replaced by repair (farmer_lost_after=0 here)
        assert network.bridge.maintain().copies_lost == 1
        wait_until(lambda: all(pointer["hash"] in f.shards for f in network.farmers if f.server))
        network.bridge.maintain()  # the bad copy was dropped when the mirror was established
        listing = client.get(path).json()[0]
        assert origin not in {m["contact"]["nodeID"] for m in listing["established"]}
        assert len(listing["established"]) == 3
        result = network.bridge.audit_all()
        assert (result["audited"], result["ok"]) == (3, 3)
    finally:
        stop_network(network)


def test_post_mirrors_2016_route(net):
    client = new_user(net.bridge)
    bucket, entry, pointers = store_file(client, [b"one", b"two"])
    response = client.post(
        f"/buckets/{bucket['id']}/mirrors", json={"file": entry["id"], "redundancy": 1}
    )
    assert response.status_code == 201
    assert response.json() == [
        {"hash": pointers[0]["hash"], "mirrors": 1, "status": "pending"},
        {"hash": pointers[1]["hash"], "mirrors": 1, "status": "pending"},
    ]
    path = f"/buckets/{bucket['id']}/files/{entry['id']}/mirrors"
    wait_until(lambda: all(len(x["established"]) == 2 for x in client.get(path).json()))
    missing = client.post(f"/buckets/{bucket['id']}/mirrors", json={"file": "0" * 24})
    assert (missing.status_code, missing.json()) == (404, {"error": "File not found"})


def test_unsolicited_mirror_success_is_ignored(net):
    client = new_user(net.bridge)
    bucket, entry, [pointer] = store_file(client, [b"solo"])
    stranger = next(f for f in net.farmers if f.node_id != pointer["farmer"]["nodeID"])
    report(client, pointer["hash"], stranger.node_id, message="MIRROR_SUCCESS")
    listing = client.get(f"/buckets/{bucket['id']}/files/{entry['id']}/mirrors").json()
    assert [m["contact"]["nodeID"] for m in listing[0]["established"]] == [
        pointer["farmer"]["nodeID"]
    ]


# ----------------------------------------------------------------------------- audits


def test_audits_detect_lost_and_corrupted_shards(net):
    client = new_user(net.bridge)
    _, _, pointers = store_file(client, [b"alpha", b"beta", b"gamma"])
    result = net.bridge.audit_all()
    assert (result["audited"], result["ok"]) == (3, 3)
    holder = net.by_id[pointers[1]["farmer"]["nodeID"]]
    holder.shards[pointers[1]["hash"]] = b"bet@"  # corrupted
    del net.by_id[pointers[2]["farmer"]["nodeID"]].shards[pointers[2]["hash"]]  # lost
    result = net.bridge.audit_all()
    statuses = {r["hash"]: r["status"] for r in result["results"]}
    assert [statuses[p["hash"]] for p in pointers] == ["ok", "failed", "failed"]
    assert (result["ok"], result["failed"], result["unreachable"]) == (1, 2, 0)
    audits = [p for m, p in holder.calls if m == "AUDIT"]
    challenge = audits[-1]["audits"][0]["challenge"]
    assert len(challenge) == 64


def test_contracts_and_pointers_survive_restart(tmp_path):
    network = start_network(tmp_path, farmers=2, mirror_redundancy=0)
    try:
        client = new_user(network.bridge)
        bucket, entry, pointers = store_file(client, [b"persist"])
        network.bridge.stop()
        network.bridge = BridgeServer(make_config(tmp_path, farmer_timeout=10.0)).start()
        client = Http(network.bridge.url, EMAIL, PASSWORD)
        [pull] = client.get(f"/buckets/{bucket['id']}/files/{entry['id']}").json()
        assert pull["farmer"]["nodeID"] == pointers[0]["farmer"]["nodeID"]
        assert network.bridge.audit_all()["ok"] == 1
    finally:
        stop_network(network)


def test_shards_of_one_frame_are_spread_over_farmers(net):
    client = new_user(net.bridge)
    everyone = {f.node_id for f in net.farmers}
    for _ in range(5):  # placement is random: repeat to make a lucky pass unlikely
        frame = client.post("/frames", json={}).json()
        holders = [upload(client, frame["id"], os.urandom(64), i)["farmer"]["nodeID"]
                   for i in range(len(everyone))]
        assert set(holders) == everyone  # one shard per farmer while farmers remain
        # re-sending index 0 replaces it: only the holders of the other shards are avoided
        again = client.put(f"/frames/{frame['id']}", json=shard_body(b"other", 0)).json()
        assert again["farmer"]["nodeID"] == holders[0]


# ----------------------------------------------------------------------------- report trust


def test_unauthenticated_reports_cannot_settle_mirrors_or_confirm_copies(net, monkeypatch):
    client = new_user(net.bridge)
    store = net.bridge.services.store
    bucket, entry, [pointer] = store_file(client, [b"watched"])
    origin = net.by_id[pointer["farmer"]["nodeID"]]
    wait_until(lambda: all(c["confirmed"] for c in store.contracts_for(pointer["hash"], EMAIL)))
    for farmer in net.farmers:  # mirrors stay pending: the targets never pull
        monkeypatch.setattr(farmer, "pull_mirror", lambda params: None)
    client.post(f"/buckets/{bucket['id']}/mirrors", json={"file": entry["id"], "redundancy": 1})
    path = f"/buckets/{bucket['id']}/files/{entry['id']}/mirrors"
    [target] = wait_until(lambda: client.get(path).json()[0]["available"])
    anon = Http(net.bridge.url)
    forged = {
        "dataHash": pointer["hash"],
        "reporterId": target["contact"]["nodeID"],
        "farmerId": target["contact"]["nodeID"],
        "exchangeStart": 1,
        "exchangeEnd": 2,
        "exchangeResultCode": 1100,
        "exchangeResultMessage": "MIRROR_FAILED",
        "renterId": renter_id(EMAIL),
    }
    assert anon.post("/reports/exchanges", json=forged).status_code == 201
    def pending() -> list[str]:
        return [m["contact"]["nodeID"] for m in client.get(path).json()[0]["available"]]

    assert pending() == [target["contact"]["nodeID"]]  # still pending
    # farmer headers that do not verify are refused outright
    bad = dict(json.loads(json.dumps(forged)))
    response = requests.post(
        net.bridge.url + "/reports/exchanges",
        json=bad,
        headers={
            "x-node-id": target["contact"]["nodeID"],
            "x-node-pubkey": keys.public_key_hex(origin.private),
            "x-node-timestamp": str(int(time.time() * 1000)),
            "x-node-signature": "30" * 8,
        },
        timeout=5,
    )
    assert response.status_code == 401
    assert pending() == [target["contact"]["nodeID"]]

    # a copy is confirmed only by its own farmer's signed report, not by a client's
    monkeypatch.setattr(FakeFarmer, "report_own", lambda self, *args: None)
    frame = client.post("/frames", json={}).json()
    quiet = upload(client, frame["id"], b"unconfirmed", 0)
    report(anon, quiet["hash"], quiet["farmer"]["nodeID"])
    [copy] = store.contracts_for(quiet["hash"], EMAIL)
    assert copy["confirmed"] == 0

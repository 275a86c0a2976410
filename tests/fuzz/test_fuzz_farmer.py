"""Property-based fuzzing of a local farmer's HTTP endpoints (hypothesis), over real HTTP.

``/shards/<hash>?token=`` is called with generated methods, hashes (the stored shard's,
random, traversal attempts, junk), tokens (random, one issued for another shard or the
other operation, one already used), headers and bodies; the control endpoint ``POST /``
gets generated JSON-RPC calls with a missing, wrong or right secret. Invariants:

* never a 5xx answer, always a JSON body (or an empty 204/304, or shard bytes for a
  valid PULL token);
* the stored shard is never served without a valid token for it and never changes;
* every file under ``shards/`` is named by the hash of its content; ``tmp/`` empties;
  nothing is written outside the farmer's data directory; the identity key is intact.

MIRROR calls only ever name loopback sources: the farmer connects to what it is told.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storj.api import rmd160sha256_hex
from storj.local.farmer import CONTROL_SECRET_HEADER, FarmerConfig, FarmerNode
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

SECRET = "c" * 64
FUZZ = settings(
    max_examples=int(os.environ.get("STORJ_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@dataclass
class Farm:
    node: FarmerNode
    root: Path
    data: Path
    shard: bytes
    shard_hash: str
    identity: bytes
    other_hash: str
    push_token_other: str
    pull_token: str
    used_token: str

    @property
    def port(self) -> int:
        return self.node.port


def control(node: FarmerNode, method: str, params: dict) -> dict:
    with requests.Session() as session:
        session.trust_env = False
        answer = session.post(node.url + "/", json={"id": "1", "method": method,
                                                    "params": params},
                              headers={CONTROL_SECRET_HEADER: SECRET}, timeout=10)
    return answer.json()


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-farmer")
    data, cwd = root / "data", root / "cwd"
    cwd.mkdir()
    previous = os.getcwd()
    os.chdir(cwd)
    node = FarmerNode(FarmerConfig(data_dir=data, control_secret=SECRET)).start()
    try:
        shard = random.Random(3).randbytes(5000)
        shard_hash = rmd160sha256_hex(shard)
        token = control(node, "CONSIGN", {"data_hash": shard_hash, "data_size": len(shard),
                                          "audit_tree": []})["result"]["token"]
        with requests.Session() as session:
            session.trust_env = False
            stored = session.post(f"{node.url}/shards/{shard_hash}", params={"token": token},
                                  data=shard, timeout=10)
            assert stored.status_code == 200
        other = random.Random(4).randbytes(100)
        other_hash = rmd160sha256_hex(other)
        push_other = control(node, "CONSIGN", {"data_hash": other_hash, "data_size": 100,
                                               "audit_tree": []})["result"]["token"]
        pull = control(node, "RETRIEVE", {"data_hash": shard_hash})["result"]["token"]
        farm = Farm(node=node, root=root, data=data, shard=shard, shard_hash=shard_hash,
                    identity=(data / "identity.key").read_bytes(), other_hash=other_hash,
                    push_token_other=push_other, pull_token=pull, used_token=token)
        yield farm
    finally:
        node.stop()
        os.chdir(previous)
    assert sorted(p.name for p in root.iterdir()) == ["cwd", "data"]
    assert list(cwd.iterdir()) == []


def assert_store_sound(farm: Farm) -> None:
    wait_until(lambda: not list((farm.data / "tmp").iterdir()), message="tmp/ emptied")
    for path in (farm.data / "shards").iterdir():
        assert rmd160sha256_hex(path.read_bytes()) == path.name, f"{path} does not match"
    assert (farm.data / "shards" / farm.shard_hash).read_bytes() == farm.shard
    assert (farm.data / "identity.key").read_bytes() == farm.identity
    assert sorted(p.name for p in farm.data.iterdir()) <= sorted(
        ["identity.key", "farmer.sqlite3", "farmer.sqlite3-wal", "farmer.sqlite3-shm",
         "shards", "tmp"]
    )


def send(farm: Farm, method: str, target: str, headers: dict[str, str],
         body: bytes | None) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", farm.port, timeout=20)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


junk = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30)
hex_text = st.text(alphabet="0123456789abcdef", max_size=44)


def hashes(farm: Farm) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([farm.shard_hash, farm.other_hash, farm.shard_hash.upper(), "", ".."]),
        st.sampled_from(["../identity.key", "..%2Fidentity.key", "%2e%2e%2fidentity.key",
                         "../../data/farmer.sqlite3", "..\\identity.key", "%00"]),
        hex_text,
        junk.map(lambda t: quote(t, safe="")),
    )


def tokens(farm: Farm) -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(),
        st.sampled_from([farm.push_token_other, farm.used_token, ""]),
        hex_text,
        junk,
    )


def test_shard_endpoint_with_generated_input(farm):
    @FUZZ
    @given(
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
        data_hash=hashes(farm),
        token=tokens(farm),
        extra_path=st.sampled_from(["", "/", "/x", "/../..", "//"]),
        node_id=st.one_of(st.none(), hex_text, st.just(farm.node.node_id)),
        body=st.one_of(st.none(), st.binary(max_size=300), st.just(farm.shard),
                       st.just(farm.shard + b"x")),
        client_id=st.one_of(st.none(), junk.map(lambda t: t.encode("utf-8")[:40].hex())),
    )
    def run(method, data_hash, token, extra_path, node_id, body, client_id):
        target = f"/shards/{data_hash}{extra_path}"
        if token is not None:
            target += "?token=" + quote(token, safe="")
        headers = {}
        if node_id is not None:
            headers["x-storj-node-id"] = node_id
        if client_id:
            headers["x-storj-client-id"] = client_id
        status, content_type, payload = send(farm, method, target, headers, body)
        assert status < 500, (method, target, status, payload[:200])
        if status in (204, 304) or method == "HEAD":
            return
        if "json" in content_type:
            answer = json.loads(payload)
            assert isinstance(answer, dict), answer
        else:
            pytest.fail(f"unexpected {status} {content_type!r} for {method} {target}")
        assert farm.shard not in payload

    run()
    assert_store_sound(farm)


def test_control_endpoint_with_generated_calls(farm):
    loopback = st.fixed_dictionaries({
        "address": st.sampled_from(["127.0.0.1"]),
        "port": st.sampled_from([farm.port, 1]),  # itself, or a closed port
        "nodeID": st.one_of(hex_text, st.just(farm.node.node_id)),
    })
    scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), junk)
    params = st.fixed_dictionaries(
        {},
        optional={
            "data_hash": st.one_of(st.sampled_from([farm.shard_hash, farm.other_hash]),
                                   hex_text, junk),
            "data_size": st.one_of(st.integers(-5, 2**63), scalar),
            "audit_tree": st.one_of(st.lists(hex_text, max_size=4), scalar),
            "token": st.one_of(st.sampled_from([farm.pull_token, farm.used_token]), junk),
            "farmer": st.one_of(loopback, scalar),
            "audits": st.one_of(
                st.lists(st.fixed_dictionaries({"data_hash": st.sampled_from(
                    [farm.shard_hash, "0" * 40]), "challenge": st.one_of(
                    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64), junk)}),
                    max_size=3),
                scalar),
            "contact": st.one_of(loopback, scalar),
        },
    )

    @FUZZ
    @given(
        secret=st.sampled_from([None, "", "wrong", SECRET, SECRET + "x", SECRET.upper()]),
        method=st.one_of(st.sampled_from(["CONSIGN", "RETRIEVE", "MIRROR", "AUDIT", "consign",
                                          "PING"]), junk),
        params=st.one_of(params, scalar, st.lists(scalar, max_size=2)),
        raw=st.one_of(st.none(), st.binary(max_size=100)),
    )
    def run(secret, method, params, raw):
        body = raw if raw is not None else json.dumps(
            {"id": 7, "method": method, "params": params}).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[CONTROL_SECRET_HEADER] = secret
        status, content_type, payload = send(farm, "POST", "/", headers, body)
        assert status < 500, (secret, method, params, payload[:200])
        assert "json" in content_type
        answer = json.loads(payload)
        if secret != SECRET:
            assert status == 401 and answer == {"result": "Not authorized"}
        assert farm.shard not in payload

    run()
    assert_store_sound(farm)


def test_shard_served_only_with_its_token(farm):
    """A token for another shard, a PUSH token, a used token: all 401; a PULL token
    serves the exact bytes once."""
    pull = control(farm.node, "RETRIEVE", {"data_hash": farm.shard_hash})["result"]["token"]
    for token in (farm.push_token_other, farm.used_token, "0" * 40):
        status, _, payload = send(farm, "GET", f"/shards/{farm.shard_hash}?token={token}",
                                  {}, None)
        assert status == 401 and farm.shard not in payload
    target = f"/shards/{farm.shard_hash}?token={pull}"
    status, _, payload = send(farm, "GET", target, {}, None)
    assert (status, hashlib.sha256(payload).digest()) == (200, hashlib.sha256(farm.shard).digest())
    status, _, _ = send(farm, "GET", target, {}, None)
    assert status == 401  # single use

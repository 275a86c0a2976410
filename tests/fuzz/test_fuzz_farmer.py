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

Then edge cases (``tests/fuzz/edge_cases.py``) on raw sockets with a socket timeout (a
hang fails): a deterministic sweep of every field of every control call (``id``,
``method``, ``params`` and the fields inside ``farmer``/``contact``/``audits``) and of the
shard routes' hash, token and headers with each kind of edge value (integer extremes,
non-JSON numbers, lone surrogates, NUL, RTL, non-characters, invalid UTF-8, wrong JSON
types); and generated uploads (a fresh token each) and control calls with every request
framing, bogus content types and huge header blocks. Invariants: never a 5xx; errors in
the documented shapes (``{"result": message}`` from the shard routes and the HTTP layer,
``{"id", "error": {"message"}}`` from the control RPC); 400/413 for every ambiguous
framing, 431 for a header block too large; the farmer answers afterwards.

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
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storj.api import rmd160sha256_hex
from storj.local.farmer import CONTROL_SECRET_HEADER, FarmerConfig, FarmerNode
from tests.fuzz import edge_cases as ec
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


# ----------------------------------------------------------------- edge cases

PER_ROUTE = settings(FUZZ, max_examples=max(8, FUZZ.max_examples // 4))


def assert_alive(farm: Farm) -> None:
    """The farmer still answers (a shard request without a token: 401 JSON)."""
    answer = ec.send_raw(farm.port, "GET", f"/shards/{farm.shard_hash}", [(b"Host", b"x")], b"")
    assert answer is not None and answer.status == 401, answer
    assert json.loads(answer.body) == {"result": "You did not supply a token"}


def check_farmer_answer(answer: ec.Answer | None, described: str, control: bool) -> None:
    """Never a 5xx; errors are JSON in the farmer's documented shapes."""
    assert answer is not None, f"no answer to a clean request: {described}"
    assert answer.status < 500, (described, answer.status, answer.body[:300])
    if answer.status in (204, 304) or (answer.status == 200 and not control):
        return
    assert "json" in answer.content_type, (described, answer.status, answer.content_type)
    body = json.loads(answer.body)
    assert isinstance(body, dict), body
    if control and set(body) in ({"id", "result"}, {"id", "error"}):  # the control RPC
        assert answer.status in (200, 400, 413), (described, answer.status)
        if "error" in body:
            assert isinstance(body["error"].get("message"), str), body
    else:  # the shard routes and the HTTP layer: {"result": message}
        assert set(body) == {"result"} and isinstance(body["result"], str), (described, body)


def control_templates(farm: Farm) -> dict[str, dict]:
    """A valid ``params`` object for each control method."""
    tree = ["0" * 40]
    source = {"address": "127.0.0.1", "port": farm.port, "nodeID": farm.node.node_id}
    return {
        "CONSIGN": {"data_hash": farm.other_hash, "data_size": 100, "audit_tree": tree,
                    "contact": {"nodeID": "1" * 40}},
        "RETRIEVE": {"data_hash": farm.shard_hash},
        "MIRROR": {"data_hash": farm.other_hash, "data_size": 100, "audit_tree": tree,
                   "token": "0" * 40, "farmer": source},
        "AUDIT": {"audits": [{"data_hash": farm.shard_hash, "challenge": "ab" * 32}]},
    }


def control_sweep(farm: Farm):
    """Each field of each control call (top level, params, nested contact fields) with
    each kind of edge value, the rest valid: raw JSON bodies."""
    for method, params in control_templates(farm).items():
        def call(id_=b"1", method_=json.dumps(method).encode(), params_=None):
            return ec.object_bytes({b'"id"': id_, b'"method"': method_,
                                    b'"params"': params_ or json.dumps(params).encode()})

        for token in ec.SWEEP_TOKENS:
            yield call(id_=token)
            yield call(method_=token)
            yield call(params_=token)
            for field, valid in params.items():
                spoiled = {json.dumps(k).encode(): json.dumps(v).encode()
                           for k, v in params.items()}
                spoiled[json.dumps(field).encode()] = token
                yield call(params_=ec.object_bytes(spoiled))
                if isinstance(valid, dict):  # one level down: farmer.port, contact.nodeID…
                    for inner in valid:
                        nested = {json.dumps(k).encode(): json.dumps(v).encode()
                                  for k, v in valid.items()}
                        nested[json.dumps(inner).encode()] = token
                        spoiled[json.dumps(field).encode()] = ec.object_bytes(nested)
                        yield call(params_=ec.object_bytes(spoiled))


def test_control_sweep_every_field_with_each_kind_of_edge_value(farm):
    """Integer extremes (``data_size``, ``farmer.port``, ``id``), non-JSON numbers, lone
    surrogates, NUL, RTL, non-characters, invalid UTF-8 and wrong JSON types in every
    field of every control call: never a 5xx, always the documented JSON shapes."""
    head = [(b"Host", b"x"), (CONTROL_SECRET_HEADER.encode(), SECRET.encode()),
            (b"Content-Type", b"application/json")]
    for body in control_sweep(farm):
        answer = ec.send_raw(farm.port, "POST", "/", head + [
            (b"Content-Length", str(len(body)).encode())], body)
        check_farmer_answer(answer, f"POST / {body[:300]!r}", control=True)
    assert_alive(farm)
    assert_store_sound(farm)


def test_shard_routes_sweep_path_query_and_headers(farm):
    """Invalid UTF-8 and edge values percent-encoded in the hash and the token, odd
    header values, on both shard routes: never a 5xx, JSON ``{"result"}`` errors."""
    for method in ("GET", "POST"):
        for piece in ec.SWEEP_PATH + [farm.shard_hash]:
            for token in ec.SWEEP_QUERY + [farm.push_token_other]:
                for header in ([], [(b"x-storj-node-id", b"\xff\x00")],
                               [(b"x-storj-client-id", "\u00e9".encode("latin-1"))]):
                    target = f"/shards/{piece}?token={token}"
                    answer = ec.send_raw(farm.port, method, target, [(b"Host", b"x")] + header
                                         + [(b"Content-Length", b"3")], b"abc")
                    described = f"{method} {target} {header}"
                    if header and header[0][1].find(b"\x00") >= 0:
                        assert answer is not None and answer.status == 400, described
                    check_farmer_answer(answer, described, control=False)
                    assert farm.shard not in answer.body
    assert_alive(farm)
    assert_store_sound(farm)


@st.composite
def upload_case(draw):
    data = draw(st.binary(min_size=1, max_size=300))
    declared = draw(st.sampled_from(["exact", "smaller", "larger"]))
    body_kind = draw(st.sampled_from(["data", "data", "more", "less", "other"]))
    return data, declared, body_kind, draw(ec.framing), draw(
        st.sampled_from(ec.CONTENT_TYPES)), draw(st.sampled_from(ec.EXTRA_HEADERS))


def test_upload_with_edge_framings(farm):
    """A fresh PUSH token each time, then an upload with every framing (length,
    chunked, both, odd codings, duplicate/malformed/huge lengths, none), a contract
    smaller, equal or larger than the data, odd content types and huge header blocks:
    never a 5xx, never a hang, 400/413 for ambiguous framings, 431 for a header block
    too large; every stored shard matches its hash."""

    @PER_ROUTE
    @given(case=upload_case())
    def run(case):
        data, declared, body_kind, framing, content_type, extra = case
        data_hash = rmd160sha256_hex(data)
        size = {"exact": len(data), "smaller": max(1, len(data) - 1),
                "larger": len(data) + 10}[declared]
        token = control(farm.node, "CONSIGN", {"data_hash": data_hash, "data_size": size,
                                               "audit_tree": []})["result"]["token"]
        body = {"data": data, "more": data + b"x", "less": data[:-1], "other": b"x" + data}[
            body_kind]
        framing_headers, payload = ec.frame_body(framing, body)
        headers = [(b"Host", b"x")] + extra + framing_headers
        if content_type is not None:
            headers.append((b"Content-Type", content_type.encode("latin-1")))
        answer = ec.send_raw(farm.port, "POST", f"/shards/{data_hash}?token={token}", headers,
                             payload)
        described = f"{framing} {declared} {body_kind} {content_type!r} {len(extra)}"
        check_framed_answer(answer, described, framing, extra, control=False)
        assert_alive(farm)

    run()
    assert_store_sound(farm)


def check_framed_answer(
    answer: Any, described: str, framing: str, extra: list, *, control: bool
) -> None:
    """A request sent with ``framing`` and the ``extra`` header lines got the right kind
    of answer: 431 for an oversized header block, 400/413 for an ambiguous framing, the
    farmer's documented shapes otherwise (a dropped connection is only fine for a
    request the server had to refuse)."""
    huge = any(len(v) > 65536 for _, v in extra) or len(extra) > 100
    if answer is None and (huge or framing not in ec.CLEAN_FRAMINGS):
        return
    check_farmer_answer(answer, described, control=control)
    assert answer is not None
    if huge:
        assert answer.status == 431, described
    elif framing not in ec.CLEAN_FRAMINGS:
        assert answer.status in (400, 413), (described, answer.status, answer.body)


@st.composite
def control_case(draw, farm: Farm):
    method = draw(st.sampled_from(sorted(control_templates(farm))))
    plan = draw(ec.body_plan(["data_hash", "data_size", "audit_tree", "token", "farmer",
                              "audits", "contact"]))
    top = draw(st.sampled_from(["params", "params", "params", "id", "method"]))
    return method, plan, top, draw(ec.framing), draw(st.sampled_from(ec.EXTRA_HEADERS))


def test_control_with_edge_values_and_framings(farm):
    """Generated control calls: template params spoiled with edge values (or the id or
    the method replaced by one), with every framing and odd header blocks. Never a 5xx;
    the documented JSON shapes; 400/413 for ambiguous framings."""
    templates = control_templates(farm)

    @PER_ROUTE
    @given(case=control_case(farm))
    def run(case):
        method, plan, top, framing, extra = case
        params = ec.build_body(templates[method], plan)
        fields = {b'"id"': b"7", b'"method"': json.dumps(method).encode(), b'"params"': params}
        if top != "params":
            fields = {**fields, b'"params"': json.dumps(templates[method]).encode(),
                      json.dumps(top).encode(): plan[2] if plan[0] in (0, 1) else params}
        body = ec.object_bytes(fields)
        framing_headers, payload = ec.frame_body(framing, body)
        headers = [(b"Host", b"x"), (CONTROL_SECRET_HEADER.encode(), SECRET.encode())]
        answer = ec.send_raw(farm.port, "POST", "/", headers + extra + framing_headers, payload)
        described = f"{framing} {len(extra)} {body[:300]!r}"
        check_framed_answer(answer, described, framing, extra, control=True)
        assert_alive(farm)

    run()
    assert_store_sound(farm)

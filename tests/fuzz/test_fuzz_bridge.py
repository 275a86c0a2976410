"""Property-based fuzzing of the local Bridge over real HTTP (hypothesis).

Every route of the Bridge's router is called with generated path parameters (the other
user's ids, traversal attempts, junk), query strings, JSON (and non-JSON) bodies and
authentication headers (none, valid, wrong, malformed Basic; random ECDSA headers;
random ``x-token``). Invariants:

* never a 5xx answer: everything sent here is a client mistake or a valid request;
* every answer is the protocol's JSON (``{"error": …}`` for errors), ``OK`` for
  ``/health``, or an empty 204/3xx;
* no answer contains another user's data (ids, names, keys, tokens of the victim) that
  the request did not itself carry;
* the server keeps running, the victim's bucket and file are intact afterwards, and
  nothing is written outside the network's data directory.

Then every route of the router (so a new route is covered without touching this file)
gets edge cases (``tests/fuzz/edge_cases.py``), sent byte for byte on raw sockets with
a socket timeout (a hang fails): a deterministic sweep of each body field, query and path
parameter with each kind of edge value (integer extremes around 2^31, 2^53, 2^63 and
2^64, huge integers, ``1e308``/``1e309``, ``NaN``/``Infinity``, lone surrogate escapes,
NUL, RTL marks, combining characters, non-characters, astral characters, invalid UTF-8
raw and percent-encoded, every wrong JSON type), the rest of the request valid so the
checks behind the first are reached; and generated combinations of those with request
framings (``Content-Length``, chunked, both, odd ``Transfer-Encoding`` values, duplicate
or malformed lengths, none), bogus content types and huge header blocks. Invariants:
never a 5xx, a JSON ``{"error"}`` for every 4xx, 400/413 for every ambiguous framing,
431 for a header block too large, and ``/health`` answers afterwards.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import socket
import string
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec as curves
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storj import api, keys
from storj.http import Client
from storj.local import LocalNetwork
from storj.local.bridge.app import build_router
from storj.transfer import download_file, upload_file
from tests.fuzz import edge_cases as ec

pytestmark = pytest.mark.integration

MNEMONIC = "abandon " * 11 + "about"
FUZZ = settings(
    max_examples=int(os.environ.get("STORJ_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
ROUTES = [(r.method, r.pattern) for r in build_router().routes]
BODY_KEYS = (
    "address challenges dataHash email encryptionKey erasure exchangeEnd exchangeResultCode "
    "exchangeResultMessage exchangeStart exclude file filename frame hash hmac index key "
    "mimetype name operation parity password port protocol pubkey pubkeys publicPermissions "
    "redirect redundancy size spaceAvailable startDate tree type userAgent value __nonce"
).split()
QUERY_KEYS = ("skip", "limit", "exclude", "startDate", "email", "token", "address", "port",
              "protocol", "userAgent", "redirect", "__nonce")


@dataclass
class World:
    network: LocalNetwork
    root: Path
    data: Path
    cwd: Path
    port: int
    attacker_auth: str
    victim: Client
    victim_bucket: str
    victim_file: str
    victim_data: bytes
    secrets: dict[str, str]
    ids: list[str]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-bridge")
    data, cwd = root / "data", root / "cwd"
    cwd.mkdir()
    previous = os.getcwd()
    os.chdir(cwd)  # a relative path written by a server would land here
    # the fuzzer sends the victim's email with wrong passwords many times: with the
    # default failure limits the victim would be locked out (test_access_control.py
    # tests the limiter itself)
    network = LocalNetwork(data, 2, mirror_redundancy=0, max_auth_failures_per_account=10**6,
                           max_auth_failures_per_address=10**6).start()
    try:
        victim_email, victim_password = network.create_user("victim@example.com")
        victim = Client(victim_email, victim_password, api_url=network.bridge_url,
                        encryption_key=MNEMONIC)
        bucket = victim.bucket_create("victim-private-bucket")
        source = root / "victim.bin"
        victim_data = random.Random(5).randbytes(3000)
        source.write_bytes(victim_data)
        entry = upload_file(victim, bucket.id, source, name="secret-report.pdf")
        source.unlink()
        _, public = keys.generate_new_key_pair()
        victim_pubkey = keys.public_key_hex(public)
        victim.key_register(victim_pubkey)
        frame = victim.frame_create()
        token = victim.token_create(bucket.id, "PULL")
        stored = victim.bucket_get(bucket.id)
        secrets = {
            "bucket id": bucket.id,
            "bucket name": str(stored.stored_name),
            "file id": entry.id,
            "file name": str(entry.stored_name),
            "frame id": frame.id,
            "pubkey": victim_pubkey,
            "token": str(token["token"]),
            "password hash": api.hash_password(victim_password),
        }
        attacker_email, attacker_password = network.create_user("attacker@example.com")
        attacker = Client(attacker_email, attacker_password, api_url=network.bridge_url)
        attacker_bucket = attacker.bucket_create("attacker-bucket").id
        attacker_frame = attacker.frame_create().id
        attacker.close()
        world = World(
            network=network,
            root=root,
            data=data,
            cwd=cwd,
            port=network.bridge.port,
            attacker_auth=api.basic_auth_header(attacker_email,
                                                api.hash_password(attacker_password)),
            victim=victim,
            victim_bucket=bucket.id,
            victim_file=entry.id,
            victim_data=victim_data,
            secrets=secrets,
            ids=[bucket.id, entry.id, frame.id, attacker_bucket, attacker_frame,
                 "victim@example.com", victim_pubkey, network.farmers[0].node_id],
        )
        yield world
    finally:
        network.stop()
        os.chdir(previous)
    # after the whole module: nothing outside the data directory
    assert sorted(p.name for p in root.iterdir()) == ["cwd", "data"]
    assert list(cwd.iterdir()) == []


# ----------------------------------------------------------------- strategies

junk_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40
)
traversal = st.sampled_from(
    ["..", "../..", "../../etc/passwd", "%2e%2e", "..%2F..%2Fbridge.sqlite3", ".", "",
     "a/../../b", "\\..\\..\\x", "%00", "null", "undefined", "0" * 24, "f" * 40, "ZZ" * 12]
)


def path_param(world: World) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(world.ids),
        st.text(alphabet="0123456789abcdef", min_size=0, max_size=48),
        traversal,
        junk_text,
    )


json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64), st.floats(allow_nan=False),
    junk_text, st.sampled_from(["PUSH", "PULL", "", "0" * 40, "a" * 24]),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(junk_text, inner, max_size=4),
    max_leaves=12,
)


def body_strategy(world: World) -> st.SearchStrategy[bytes | None]:
    keyed = st.dictionaries(
        st.sampled_from(BODY_KEYS),
        st.one_of(json_value, st.sampled_from(world.ids)),
        max_size=6,
    )
    return st.one_of(
        st.none(),
        keyed.map(lambda d: json.dumps(d).encode()),
        json_value.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.just(b"{" * 2000),  # deep nesting
        st.just(b'{"name": "' + b"x" * 5000 + b'"}'),
    )


def query_strategy(world: World) -> st.SearchStrategy[str]:
    pair = st.tuples(
        st.one_of(st.sampled_from(QUERY_KEYS), junk_text),
        st.one_of(st.sampled_from(world.ids), junk_text, st.integers(-5, 10**12).map(str)),
    )
    return st.lists(pair, max_size=4).map(
        lambda pairs: "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    )


def auth_strategy(world: World) -> st.SearchStrategy[dict[str, str]]:
    random_hex = st.text(alphabet="0123456789abcdef", max_size=140)
    return st.one_of(
        st.just({}),
        st.just({"Authorization": world.attacker_auth}),
        st.just({"Authorization": api.basic_auth_header("victim@example.com", "0" * 64)}),
        junk_text.map(lambda t: {"Authorization": "Basic " + base64.b64encode(
            t.encode("utf-8", "replace")).decode()}),
        st.text(alphabet=string.printable.strip(), max_size=60).map(
            lambda t: {"Authorization": t}),
        st.tuples(random_hex, random_hex).map(
            lambda pair: {"x-pubkey": pair[0], "x-signature": pair[1]}),
        st.one_of(random_hex, st.just(world.secrets["token"])).map(lambda t: {"x-token": t}),
    )


# ----------------------------------------------------------------- the checks


def send(world: World, method: str, target: str, body: bytes | None,
         headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", world.port, timeout=20)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def check_answer(world: World, request: str, status: int, headers: dict[str, str],
                 payload: bytes, path: str) -> None:
    assert status < 500, f"{status} for a client mistake: {request} -> {payload[:300]!r}"
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if "json" in content_type:
        answer = json.loads(payload)
        if status >= 400:
            assert isinstance(answer, dict) and isinstance(answer.get("error"), str), answer
    elif path.lower().rstrip("/") == "/health":
        assert payload == b"OK"
    else:
        assert status == 204 or 300 <= status < 400, (status, content_type, payload[:200])
    text = payload.decode("utf-8", "replace")
    for what, secret in world.secrets.items():
        if secret and secret in text:
            assert secret in request, f"the victim's {what} leaked: {request} -> {text[:300]}"


def fill(pattern: str, values: list[str], raw: list[bool]) -> str:
    """The route with its parameters: percent-encoded, or with ``/ % .`` left raw."""
    parts = []
    for segment in pattern.split("/"):
        if segment.startswith(":"):
            value = values.pop() if values else "x"
            parts.append(quote(value, safe="/%." if raw.pop() else ""))
        else:
            parts.append(segment)
    return "/".join(parts) or "/"


@st.composite
def requests_(draw, world: World):
    method, pattern = draw(st.sampled_from(ROUTES))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]))
    count = pattern.count(":")
    values = draw(st.lists(path_param(world), min_size=count, max_size=count))
    raw = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    path = fill(pattern, values, raw)
    query = draw(query_strategy(world))
    body = draw(body_strategy(world)) if method in ("POST", "PUT", "PATCH") else None
    headers = draw(auth_strategy(world))
    return method, path, query, body, headers


def test_every_route_with_generated_input(world):
    @FUZZ
    @given(request=requests_(world))
    def run(request):
        method, path, query, body, headers = request
        target = path + (f"?{query}" if query else "")
        status, answer_headers, payload = send(world, method, target, body, headers)
        described = f"{method} {target} {headers} {body!r}"
        check_answer(world, described, status, answer_headers, payload, path)

    run()
    assert_victim_intact(world)


def test_raw_http_garbage(world):
    """Malformed request lines and headers straight on the socket: answered with a 4xx
    (or 505 for an unknown HTTP version, as HTTP requires) or the connection closes."""

    @FUZZ
    @given(
        method=st.sampled_from(["GET", "POST", "BREW", "", "G\x00T", "get"]),
        target=st.one_of(st.binary(max_size=80), st.just(b"/" + b"a" * 70000)),
        version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/9", b"", b"x"]),
        header_lines=st.lists(st.binary(max_size=60), max_size=5),
        body=st.binary(max_size=100),
    )
    def run(method, target, version, header_lines, body):
        raw = method.encode("latin-1") + b" " + target + b" " + version + b"\r\n"
        raw += b"".join(line.replace(b"\r\n", b"") + b"\r\n" for line in header_lines)
        raw += b"\r\n" + body
        with socket.create_connection(("127.0.0.1", world.port), timeout=20) as sock:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        if not answer:
            return
        if not answer.startswith(b"HTTP/"):
            # a two-word request line is an HTTP/0.9 request: the answer is a bare body
            assert b"Internal error" not in answer and b"Traceback" not in answer, answer
            return
        status_line = answer.split(b"\r\n", 1)[0]
        assert status_line.startswith(b"HTTP/1."), status_line
        status = int(status_line.split()[1])
        assert status < 500 or status == 505, (raw[:200], answer[:300])

    run()
    assert_victim_intact(world)


def assert_victim_intact(world: World) -> None:
    """The server still answers and the victim's bucket and file are unchanged."""
    assert world.victim.bucket_get(world.victim_bucket).id == world.victim_bucket
    target = world.root / "victim-check.bin"
    download_file(world.victim, world.victim_bucket, world.victim_file, target)
    try:
        assert target.read_bytes() == world.victim_data
    finally:
        target.unlink()


# ----------------------------------------------------------------- edge cases on every route

#: Examples per route (every route of the router gets its own run).
PER_ROUTE = settings(FUZZ, max_examples=max(4, FUZZ.max_examples // 25))
SHARD = {  # bridge-protocol.md §7.3: a valid PUT /frames/:id body to start from
    "index": 0,
    "size": 13,
    "hash": "d4b0d0d0d8f9c4be812d210a9f6d6caf954ce223",
    "challenges": ["00" * 32, "11" * 32, "22" * 32],
    "tree": ["151b2229ee512ba8c3f006c2545c3845ad95245e",
             "6a5a21d4e3132a98b421527823165505e3fefef0",
             "ac4a5a02113b7cb2b6a4a38569fee509dc3575eb",
             "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb"],
}
CLEAN_FRAMINGS = ec.CLEAN_FRAMINGS
CONTACT = {"address": "127.0.0.1", "port": 1, "protocol": "1.2.0", "userAgent": "edge",
           "spaceAvailable": True}
#: Fields kept valid: the Bridge contacts the farmer at this address (a made-up host name
#: would mean DNS look-ups, slow on some machines); its checks are in
#: tests/integration/test_bridge_input.py.
FROZEN = frozenset({"address"})
EDGE_EMAIL = "edge@example.com"


class Own:
    """A third account with its own buckets, frames and files, so that edge cases get
    past the id and owner checks and reach the validation behind them; and a farmer
    identity for the farmer-signed contact routes (registered on ``127.0.0.1:1``, a
    closed port: the Bridge never waits on it)."""

    def __init__(self, world: World) -> None:
        email, password = world.network.create_user(EDGE_EMAIL)
        self.auth = api.basic_auth_header(email, api.hash_password(password))
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = self.auth
        self.url = world.network.bridge_url
        self.farmer = curves.generate_private_key(curves.SECP256K1())
        self.node_id = keys.node_id(self.farmer)
        self.pubkey = keys.public_key_hex(keys.generate_new_key_pair()[1])
        self.count = 0
        body = json.dumps(CONTACT).encode()
        headers = signed_contact_headers(self, "POST", f"127.0.0.1:{world.port}", "/contacts",
                                         body)
        registered = self.session.post(self.url + "/contacts", data=body, timeout=10,
                                       headers={k.decode(): v.decode() for k, v in headers})
        assert registered.ok, registered.text

    def frame(self) -> str:
        """A new, empty frame."""
        return self.session.post(self.url + "/frames", json={}, timeout=10).json()["id"]

    def route_resources(self) -> dict[str, str]:
        """A new bucket with one file (its frame holds the §7.3 shard, contracted with a
        farmer, so reports about that shard are accepted)."""
        self.count += 1
        bucket = self.session.post(self.url + "/buckets", json={"name": f"edge-{self.count}"},
                                   timeout=10).json()["id"]
        frame = self.frame()
        added = self.session.put(f"{self.url}/frames/{frame}", json=SHARD, timeout=10)
        assert added.ok, added.text
        entry = self.session.post(f"{self.url}/buckets/{bucket}/files", timeout=10,
                                  json={"frame": frame, "filename": "edge.bin"}).json()
        return {"id": bucket, "file": entry["id"], "frame": frame,
                "name": f"edge-{self.count}"}

    def path_value(self, method: str, pattern: str, name: str, res: dict[str, str]) -> str:
        if name == "frame" and method == "PUT":
            return self.frame()  # an empty frame each time: contracts never collide
        if name == "id" and pattern.startswith("/users"):
            return EDGE_EMAIL
        return {"nodeID": self.node_id, "pubkey": self.pubkey}.get(
            name, res.get(name, "0" * 24))

    def template(self, method: str, pattern: str, res: dict[str, str]) -> dict:
        """A valid body for the route (``{}`` when it takes none)."""
        report = {"dataHash": SHARD["hash"], "reporterId": "edge", "exchangeStart": 1,
                  "exchangeEnd": 2, "exchangeResultCode": 1000,
                  "exchangeResultMessage": "SHARD_UPLOADED"}
        return {
            ("POST", "/users"): lambda: {"email": "edge-new@example.com", "password": "0" * 64},
            ("POST", "/activations"): lambda: {"email": EDGE_EMAIL},
            ("PATCH", "/users/:id"): lambda: {"redirect": "https://example.com/"},
            ("POST", "/resets/:token"): lambda: {"password": "1" * 64},
            ("POST", "/keys"): lambda: {"key": self.pubkey, "label": "edge"},
            ("POST", "/buckets"): lambda: {"name": "edge", "pubkeys": [self.pubkey]},
            ("PATCH", "/buckets/:id"): lambda: {"encryptionKey": "", "publicPermissions": [],
                                                "pubkeys": []},
            ("POST", "/buckets/:id/tokens"): lambda: {"operation": "PULL", "file": res["file"]},
            ("PUT", "/frames/:frame"): lambda: SHARD,
            ("POST", "/buckets/:id/files"): lambda: {
                "frame": self.frame(), "filename": "edge-2", "mimetype": "text/plain",
                "index": "a" * 64, "hmac": {"type": "sha512", "value": "ab"},
                "erasure": {"type": "reedsolomon"}},
            ("POST", "/buckets/:id/mirrors"): lambda: {"file": res["file"], "redundancy": 0},
            ("POST", "/contacts"): lambda: CONTACT,
            ("PATCH", "/contacts/:nodeID"): lambda: CONTACT,
            ("POST", "/reports/exchanges"): lambda: report,
        }.get((method, pattern), dict)()

    def target(self, method: str, pattern: str, res: dict[str, str],
               spoil: dict[str, str] | None = None) -> str:
        spoil = spoil or {}
        return "/".join(
            spoil.get(s[1:]) or self.path_value(method, pattern, s[1:], res)
            if s.startswith(":") else s
            for s in pattern.split("/")
        ) or "/"


def signed_contact_headers(own: Own, method: str, host: str, target: str,
                           body: bytes) -> list[tuple[bytes, bytes]]:
    """The 2018 farmer headers (§2.7) for ``own``'s farmer identity."""
    stamp = str(int(time.time() * 1000))
    message = method.encode() + f"http://{host}".encode() + target.encode() + stamp.encode()
    return [
        (b"x-node-id", own.node_id.encode()),
        (b"x-node-pubkey", keys.public_key_hex(own.farmer).encode()),
        (b"x-node-timestamp", stamp.encode()),
        (b"x-node-signature", keys.sign(own.farmer, message + body).encode()),
    ]


def edge_headers(world: World, own: Own, method: str, target: str, body: bytes,
                 anonymous: bool) -> list[tuple[bytes, bytes]]:
    """``Host`` and the credentials the route takes (none when ``anonymous``)."""
    host = f"127.0.0.1:{world.port}"
    headers = [(b"Host", host.encode())]
    if anonymous:
        return headers
    if target.startswith("/contacts") and method in ("POST", "PATCH"):
        return headers + signed_contact_headers(own, method, host, target, body)
    return headers + [(b"Authorization", own.auth.encode())]


@pytest.fixture(scope="module")
def own(world):
    own = Own(world)
    yield own
    own.session.close()


def assert_healthy(world: World) -> None:
    health = ec.send_raw(world.port, "GET", "/health", [(b"Host", b"x")], b"")
    assert health is not None and (health.status, health.body) == (200, b"OK")


def check_edge_answer(world: World, answer: ec.Answer | None, described: str,
                      target: str) -> None:
    assert answer is not None, f"no answer to a clean request: {described}"
    check_answer(world, described, answer.status, answer.headers, answer.body,
                 target.split("?")[0])
    if answer.status >= 400:
        assert "json" in answer.content_type, described


def sweep(own: Own, method: str, pattern: str, res: dict[str, str]):
    """Every field of the route's body (its template's fields, or an unknown one), every
    query parameter (on ``GET`` routes) and every path parameter, each with every
    kind of edge value, one at a time, the rest valid: ``(target, body)`` pairs."""
    names = [s[1:] for s in pattern.split("/") if s.startswith(":")]
    has_body = method in ("POST", "PUT", "PATCH")

    def body(changes: dict[str, bytes] | None = None) -> bytes:
        template = own.template(method, pattern, res)
        fields = {json.dumps(k): json.dumps(v).encode() for k, v in template.items()}
        return ec.object_bytes({k.encode(): v for k, v in {**fields, **(changes or {})}.items()})

    if has_body:
        for field in sorted(set(own.template(method, pattern, res)) - FROZEN) or ["unknown"]:
            for token in ec.SWEEP_TOKENS:
                yield own.target(method, pattern, res), body({json.dumps(field): token})
    elif method == "GET":
        for key in QUERY_KEYS + ("page",):
            for value in ec.SWEEP_QUERY:
                yield f"{own.target(method, pattern, res)}?{key}={value}", b""
    for name in names:
        for piece in ec.SWEEP_PATH:
            yield own.target(method, pattern, res, {name: piece}), body() if has_body else b""


@pytest.mark.parametrize(("method", "pattern"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_field_of_every_route_with_each_kind_of_edge_value(world, own, method, pattern):
    """A deterministic sweep next to the generated examples below: integer extremes,
    non-JSON numbers, lone surrogates, NUL, RTL, combining marks, non-characters, invalid
    UTF-8 and wrong JSON types in each body field; integer extremes and invalid UTF-8 in
    each query and path parameter. Never a 5xx, JSON errors, ``/health`` afterwards."""
    res = own.route_resources()
    for target, body in sweep(own, method, pattern, res):
        headers = edge_headers(world, own, method, target, body, anonymous=False)
        headers.append((b"Content-Type", b"application/json"))
        if body:
            headers.append((b"Content-Length", str(len(body)).encode()))
        answer = ec.send_raw(world.port, method, target, headers, body)
        check_edge_answer(world, answer, f"{method} {target} {body[:300]!r}", target)
    assert_healthy(world)


@st.composite
def edge_request(draw, method: str, pattern: str):
    names = [s[1:] for s in pattern.split("/") if s.startswith(":")]
    spoil = {name: draw(ec.path_piece) for name in names if draw(st.integers(0, 3)) == 0}
    pairs = draw(st.lists(st.tuples(st.sampled_from(QUERY_KEYS + ("page", "skip")),
                                    ec.query_value), max_size=3))
    query = "&".join(f"{k}={v}" for k, v in pairs)
    has_body = method in ("POST", "PUT", "PATCH")
    plan = draw(ec.body_plan([k for k in BODY_KEYS if k not in FROZEN])) if has_body else None
    framing = draw(ec.framing) if has_body or draw(st.booleans()) else "none"
    content_type = draw(st.sampled_from(ec.CONTENT_TYPES))
    extra = draw(st.sampled_from(ec.EXTRA_HEADERS))
    anonymous = draw(st.integers(0, 9)) == 0
    return spoil, query, plan, framing, content_type, extra, anonymous


@pytest.mark.parametrize(("method", "pattern"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_edge_cases_on_every_route(world, own, method, pattern):
    """Generated combinations on each route of the router: integer extremes, Unicode
    edge cases (JSON escapes, raw and percent-encoded invalid UTF-8) and wrong JSON types
    in body, path and query, with every request framing (``Content-Length``, chunked,
    both, odd ``Transfer-Encoding`` values, duplicate or malformed lengths, none), odd
    content types and huge header blocks. Never a 5xx; a JSON ``{"error"}`` for every
    4xx; 400/413 for every ambiguous framing, 431 for a header block too large; and
    ``/health`` answers after each request."""
    res = own.route_resources()

    @PER_ROUTE
    @given(request=edge_request(method, pattern))
    def run(request):
        spoil, query, plan, framing, content_type, extra, anonymous = request
        target = own.target(method, pattern, res, spoil) + (f"?{query}" if query else "")
        body = ec.build_body(own.template(method, pattern, res), plan, FROZEN) if plan else b""
        headers = edge_headers(world, own, method, target, body, anonymous)
        if content_type is not None:
            headers.append((b"Content-Type", content_type.encode("latin-1")))
        framing_headers, payload = ec.frame_body(framing, body)
        answer = ec.send_raw(world.port, method, target, headers + extra + framing_headers,
                             payload)
        described = f"{method} {target} {framing} {content_type!r} {body[:300]!r}"
        huge = any(len(v) > 65536 for _, v in extra) or len(extra) > 100
        if answer is not None or (not huge and framing in CLEAN_FRAMINGS):
            check_edge_answer(world, answer, described, target)
            assert answer is not None
            if huge:
                assert answer.status == 431, described
            elif framing not in CLEAN_FRAMINGS:
                assert answer.status in (400, 413), (described, answer.status, answer.body)
        assert_healthy(world)

    run()

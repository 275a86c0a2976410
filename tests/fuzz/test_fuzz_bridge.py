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
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import socket
import string
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storj import api, catalog, crypto, keys
from storj.http import Client
from storj.local import LocalNetwork
from storj.local.bridge.app import build_router
from storj.transfer import download_file, upload_file

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
        key = crypto.EncryptionKey(MNEMONIC)
        bucket = catalog.create_bucket(victim, "victim-private-bucket", key)
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
            "bucket name": str(stored.name),
            "file id": entry.id,
            "file name": str(entry.filename),
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

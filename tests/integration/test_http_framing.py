"""Request framing at the HTTP layer shared by the local Bridge and the farmers
(``storj.local._http.LocalRequestHandler``), over raw sockets on loopback.

A request whose body could be read two ways (``Content-Length`` with
``Transfer-Encoding``, a coding other than ``chunked``, two lengths), a malformed header
block or a request target that is not ASCII is refused with a quick 4xx in the server's
own JSON error shape and the connection is closed: never a hang, never a 5xx. Both
servers behave the same. Every exchange has a 5 s socket timeout, so a server that
waits for a body that will never come fails the test instead of stalling it.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from storj import api
from storj.local.bridge import BridgeServer
from storj.local.farmer import MSG_TOO_LARGE, FarmerConfig, FarmerNode
from tests.data import SHARD as HELLO
from tests.data import SHARD_HASH as HELLO_HASH
from tests.integration.test_bridge_api import make_config, new_user

pytestmark = pytest.mark.integration

TIMEOUT = 5.0
SECRET = "framing-control-secret"


@dataclass
class Target:
    """A server and a request of it that reads a JSON body."""

    name: str
    port: int
    head: bytes  # request line and the headers that authorise it, each ending in CRLF
    error_key: str  # the key of the server's error body

    def health(self) -> None:
        path = "/health" if self.name == "bridge" else "/shards/" + HELLO_HASH
        answer = requests.get(f"http://127.0.0.1:{self.port}{path}", timeout=TIMEOUT)
        assert answer.status_code in (200, 401), answer.text  # the farmer: no token


@pytest.fixture(scope="module")
def bridge(tmp_path_factory) -> Iterator[BridgeServer]:
    server = BridgeServer(make_config(tmp_path_factory.mktemp("framing-bridge"))).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def farmer(tmp_path_factory) -> Iterator[FarmerNode]:
    node = FarmerNode(FarmerConfig(data_dir=tmp_path_factory.mktemp("framing-farmer"),
                                   control_secret=SECRET)).start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def bridge_target(bridge) -> Target:
    new_user(bridge, "framing@example.com", "framing password")
    auth = api.basic_auth_header("framing@example.com", api.hash_password("framing password"))
    head = b"POST /buckets HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth.encode() + b"\r\n"
    return Target("bridge", bridge.port, head, "error")


@pytest.fixture(scope="module")
def farmer_target(farmer) -> Target:
    head = b"POST / HTTP/1.1\r\nHost: x\r\nx-storj-control-secret: " + SECRET.encode() + b"\r\n"
    return Target("farmer", farmer.port, head, "result")


@pytest.fixture(params=["bridge", "farmer"])
def target(request) -> Target:
    return request.getfixturevalue(f"{request.param}_target")


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw``, read the whole answer until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):  # socket.timeout here = the server hung
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def refused(target: Target, raw: bytes, status: int = 400) -> str:
    """``raw`` gets ``status`` with the server's JSON error and a closed connection."""
    code, headers, body = exchange(target.port, raw)
    assert code == status, (raw[:200], code, body[:300])
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json; charset=utf-8"
    message = json.loads(body)[target.error_key]
    assert isinstance(message, str) and message
    target.health()
    return message


# ----------------------------------------------------------------------------- framing


def test_content_length_with_a_transfer_encoding_list_is_400_not_a_hang(target):
    """The case that hung: the server decoded ``{}`` as chunked and waited for more."""
    raw = target.head + b"Content-Length: 2\r\nTransfer-Encoding: chunked, identity\r\n\r\n{}"
    assert refused(target, raw) == (
        "A request must not have both Content-Length and Transfer-Encoding"
    )


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
    ],
)
def test_content_length_with_chunked_is_400(target, headers):
    raw = target.head + headers + b"\r\n0\r\n\r\n"
    assert refused(target, raw) == (
        "A request must not have both Content-Length and Transfer-Encoding"
    )


@pytest.mark.parametrize(
    ("coding", "message"),
    [
        (b"identity", "Transfer-Encoding must end with chunked"),
        (b"gzip", "Transfer-Encoding must end with chunked"),
        (b"chunked, identity", "Transfer-Encoding must end with chunked"),
        (b"chunked, gzip", "Transfer-Encoding must end with chunked"),
        (b"", "Transfer-Encoding must end with chunked"),
        (b",", "Transfer-Encoding must end with chunked"),
        (b"gzip, chunked", "Unsupported Transfer-Encoding: only chunked is accepted"),
        (b"chunked, chunked", "Unsupported Transfer-Encoding: only chunked is accepted"),
        (b"x-unknown, chunked", "Unsupported Transfer-Encoding: only chunked is accepted"),
    ],
)
def test_transfer_codings_other_than_chunked_are_400(target, coding, message):
    raw = target.head + b"Transfer-Encoding: " + coding + b"\r\n\r\n0\r\n\r\n"
    assert refused(target, raw) == message


def test_two_transfer_encoding_headers_are_read_as_one_list(target):
    raw = target.head + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n"
    assert refused(target, raw) == "Transfer-Encoding must end with chunked"


def test_transfer_encoding_in_http_1_0_is_400(target):
    raw = target.head.replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    raw += b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    assert refused(target, raw) == "Transfer-Encoding is not allowed in an HTTP/1.0 request"


@pytest.mark.parametrize(
    "lengths",
    [
        b"Content-Length: 2\r\nContent-Length: 7\r\n",
        b"Content-Length: 2\r\nContent-Length: 2\r\n",
    ],
)
def test_duplicate_content_length_is_400(target, lengths):
    raw = target.head + lengths + b"\r\n{}"
    assert refused(target, raw) == "Content-Length must be sent once"


@pytest.mark.parametrize("value", [b"-1", b"abc", b"+2", b"0x2", b"2, 2", b"", b"1.0", b"\xb2"])
def test_malformed_content_length_is_400(target, value):
    raw = target.head + b"Content-Length: " + value + b"\r\n\r\n{}"
    assert refused(target, raw) == "Invalid Content-Length: expected a decimal number of bytes"


@pytest.mark.parametrize("value", [b"9223372036854775808", b"9" * 30, b"1" * 5000])
def test_content_length_beyond_any_body_is_413_at_once(target, value):
    raw = target.head + b"Content-Length: " + value + b"\r\n\r\n{}"
    assert refused(target, raw, 413) == "Content-Length is larger than this server accepts"


def test_a_chunked_body_in_any_letter_case_is_read(target):
    body = b'{"name": "chunked-bucket"}' if target.name == "bridge" else json.dumps(
        {"id": 1, "method": "RETRIEVE", "params": {"data_hash": HELLO_HASH}}).encode()
    raw = target.head + b"Transfer-Encoding: Chunked\r\n\r\n"
    raw += f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    code, _, answer = exchange(target.port, raw)
    if target.name == "bridge":
        assert (code, json.loads(answer)["name"]) == (201, "chunked-bucket")
    else:
        assert (code, json.loads(answer)) == (
            200, {"id": 1, "error": {"message": "Shard data not found"}})


# ----------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    "lines",
    [
        b"no colon here\r\n",
        b"Content-Length : 2\r\n",
        b"X-A\x00B: 1\r\n",
        b"X-A: 1\rX-B: 2\r\n",
        b"From nobody\r\n",
    ],
)
def test_header_lines_that_are_not_name_colon_value_are_400(target, lines):
    raw = target.head + lines + b"Content-Length: 2\r\n\r\n{}"
    assert refused(target, raw) == (
        "Malformed header line: send each header as 'Name: value' on one line"
    )


def test_a_header_block_starting_with_whitespace_is_400(target):
    line, rest = target.head.split(b"\r\n", 1)
    raw = line + b"\r\n  folded: 1\r\n" + rest + b"Content-Length: 2\r\n\r\n{}"
    assert refused(target, raw) == (
        "Malformed header line: send each header as 'Name: value' on one line"
    )


@pytest.mark.parametrize("fold", [b" ", b"\t", b"   "])
def test_obsolete_line_folding_is_400(target, fold):
    raw = target.head + b"X-Long: first\r\n" + fold + b"second\r\nContent-Length: 2\r\n\r\n{}"
    assert refused(target, raw) == (
        "Obsolete line folding is not accepted: send each header on one line"
    )


def test_nul_in_a_header_value_is_400(target):
    raw = target.head + b"X-Thing: a\x00b\r\nContent-Length: 2\r\n\r\n{}"
    assert refused(target, raw) == "Header values must not contain NUL characters"


def test_too_many_headers_is_431(target):
    many = b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(150))
    assert refused(target, target.head + many + b"\r\n", 431) == "Too many headers"


def test_a_very_long_header_line_is_431(target):
    raw = target.head + b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n"
    assert refused(target, raw, 431) == "Line too long"


def test_a_very_long_request_line_is_414(target):
    raw = b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    refused(target, raw, 414)


@pytest.mark.parametrize("path", [b"/caf\xc3\xa9", b"/caf\xe9", b"/a\x01b", b"/a\x7fb"])
def test_a_request_target_that_is_not_printable_ascii_is_400(target, path):
    raw = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert refused(target, raw) == (
        "Malformed request target: percent-encode bytes that are not printable ASCII"
    )


def test_bad_framing_is_refused_before_100_continue(target):
    raw = target.head + b"Expect: 100-continue\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"
    with socket.create_connection(("127.0.0.1", target.port), timeout=TIMEOUT) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"100 Continue" not in answer


def test_a_body_without_length_is_not_read(target):
    """No ``Content-Length`` and no ``Transfer-Encoding``: the request has no body
    (RFC 9112 §6.3); the server answers at once instead of waiting for one."""
    code, _, body = exchange(target.port, target.head + b"\r\n{\"name\": \"ignored\"}")
    assert code < 500, body
    if target.name == "farmer":
        assert code == 400
    target.health()


# ----------------------------------------------------------------------------- farmer


def consign(farmer: FarmerNode, size: int) -> str:
    call = {"id": 1, "method": "CONSIGN",
            "params": {"data_hash": HELLO_HASH, "data_size": size, "audit_tree": []}}
    answer = requests.post(farmer.url + "/", json=call, timeout=TIMEOUT,
                           headers={"x-storj-control-secret": SECRET})
    return answer.json()["result"]["token"]


@pytest.mark.parametrize("declared", [14, 2**40, 2**63 - 1])
def test_farmer_refuses_an_upload_longer_than_its_contract_before_reading(farmer, declared):
    token = consign(farmer, len(HELLO))
    raw = (f"POST /shards/{HELLO_HASH}?token={token} HTTP/1.1\r\nHost: x\r\n"
           f"Content-Length: {declared}\r\n\r\n").encode() + HELLO
    code, _, body = exchange(farmer.port, raw)
    assert (code, json.loads(body)) == (400, {"result": MSG_TOO_LARGE})
    assert not (farmer.data_dir / "shards" / HELLO_HASH).exists()


def test_farmer_refuses_a_control_message_longer_than_its_limit_before_reading(farmer):
    raw = (b"POST / HTTP/1.1\r\nHost: x\r\nx-storj-control-secret: " + SECRET.encode()
           + b"\r\nContent-Length: 1000000000000\r\n\r\n{}")
    code, _, body = exchange(farmer.port, raw)
    too_large = {"id": None, "error": {"message": "Message too large"}}
    assert (code, json.loads(body)) == (413, too_large)

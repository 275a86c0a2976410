"""storj.http.Client and the farmer client against hostile or broken peers on loopback.

A raw-socket server (port 0) answers each request with what a test scripts: huge
bodies streamed without being stored, bodies and headers trickled a byte at a time,
deeply nested JSON, huge error messages, compressed bombs. The clients must raise a
documented :mod:`storj.exception` error, within their deadline, without their memory
growing with what the server sends. Wrong field types in otherwise valid Bridge
answers are checked table-driven through ``responses``; the legacy data channel's
deadline against a WebSocket peer that drips frames.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import io
import ipaddress
import json
import pickle
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable

import pytest
import requests
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from storj import model, web_socket
from storj.api import rmd160sha256_hex
from storj.exception import (
    BadRequestError,
    BridgeError,
    BridgeResponseError,
    BridgeServerError,
    BridgeTimeoutError,
    BridgeTransportError,
    FarmerError,
    FarmerTimeoutError,
    HashMismatchError,
    InvalidFieldError,
    NotFoundError,
    ResponseTooLargeError,
    StorjError,
    SuppliedTokenNotAcceptedError,
)
from storj.http import DEFAULT_MAX_RESPONSE_BYTES, MAX_JSON_DEPTH, Client, RetryPolicy
from storj.transfer._tempfiles import TempFiles
from storj.transfer.config import TransferConfig
from storj.transfer.farmer_client import FarmerClient
from tests.data import BUCKET, BUCKET_ID, FILE_ID, FRAME_ID, NODE_ID, PUBHEX, SHARD_HASH
from tests.ws_peer import FakeWebSocketPeer

EMAIL = "email@example.com"
PASSWORD = "s3CR3cy"
MIB = 1024 * 1024
#: Generous bound on how much the client process may grow while a server sends 200 MB.
RSS_GROWTH_LIMIT = 64 * MIB
#: One-sided: the old client needed 40+ s (or for ever) for these; a busy machine is fine.
SLOW_CALL_LIMIT = 20.0



# --------------------------------------------------------------------------- the server


Behaviour = Callable[[socket.socket, "HostileBridge"], None]


class HostileBridge:
    """A loopback HTTP/1.1 server: reads each request's head and body, then hands the
    socket to ``behaviour(sock, server)``; one thread per connection."""

    def __init__(self, behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> None:
        self.behaviour = behaviour
        self.tls = tls
        self.stop = threading.Event()
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.thread = threading.Thread(target=self._serve, name="hostile-bridge", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with contextlib.ExitStack() as stack, contextlib.suppress(OSError):
            stack.enter_context(conn)
            conn.settimeout(30)
            if self.tls is not None:  # the TLS socket takes over the descriptor
                conn = stack.enter_context(self.tls.wrap_socket(conn, server_side=True))
            pending = b""
            while not self.stop.is_set():  # requests on this connection, one by one
                while b"\r\n\r\n" not in pending and len(pending) < 65536:
                    data = conn.recv(4096)
                    if not data:
                        return
                    pending += data
                header_text, _, pending = pending.partition(b"\r\n\r\n")
                length = 0
                for line in header_text.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(pending) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending += data
                pending = pending[length:]
                self.behaviour(conn, self)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def serve():
    servers: list[HostileBridge] = []

    def start(behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> HostileBridge:
        server = HostileBridge(behaviour, tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def head(status: str = "200 OK", **headers: object) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(status: str, body: bytes, **headers: object) -> Behaviour:
    def behaviour(sock: socket.socket, server: HostileBridge) -> None:
        sock.sendall(head(status, Content_Length=len(body), **headers) + body)

    return behaviour


def stream(status: str, first: bytes, filler: bytes, total: int, **headers: object) -> Behaviour:
    """Send ``first`` then ``filler`` repeatedly up to ``total`` bytes, without storing it."""

    def behaviour(sock: socket.socket, server: HostileBridge) -> None:
        sock.sendall(head(status, **headers) + first)
        sent = len(first)
        deadline = time.monotonic() + 60
        while sent < total and not server.stop.is_set() and time.monotonic() < deadline:
            sock.sendall(filler)  # raises once the client hung up
            sent += len(filler)

    return behaviour


def trickle(prefix: bytes, drip: bytes, interval: float = 0.3) -> Behaviour:
    """Send ``prefix``, then one byte of ``drip`` every ``interval`` s (bounded)."""

    def behaviour(sock: socket.socket, server: HostileBridge) -> None:
        sock.sendall(prefix)
        for byte in drip:
            if server.stop.wait(interval):
                return
            sock.sendall(bytes([byte]))

    return behaviour


# --------------------------------------------------------------------------- memory


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


class PeakRss:
    """Peak resident memory growth of this process across a block (Linux)."""

    def __enter__(self) -> PeakRss:
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")  # reset VmHWM to the current RSS
            self.peak_field = "VmHWM"
        except OSError:
            self.peak_field = "VmRSS"  # no peak reset: the RSS after the block
        self.before = _status_kib("VmRSS") * 1024
        return self

    def __exit__(self, *exc: object) -> None:
        self.growth = _status_kib(self.peak_field) * 1024 - self.before


pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SHUT_RDWR"), reason="needs BSD sockets"
)


def client_for(server: HostileBridge, **kwargs: object) -> Client:
    kwargs.setdefault("retries", 0)
    return Client(EMAIL, PASSWORD, server.url, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- size bound


@pytest.mark.parametrize("framing", ["content-length", "until-close", "chunked"])
def test_huge_body_is_cut_at_the_bound_and_memory_stays_flat(serve, framing):
    total = 200 * 1000 * 1000
    filler = b"0," * 32768
    if framing == "content-length":
        behaviour = stream("200 OK", b"[", filler, total, Content_Length=total)
    elif framing == "until-close":
        behaviour = stream("200 OK", b"[", filler, total, Connection="close")
    else:
        chunk = f"{len(filler):x}\r\n".encode() + filler + b"\r\n"
        behaviour = stream("200 OK", b"1\r\n[\r\n", chunk, total, Transfer_Encoding="chunked")
    server = serve(behaviour)
    with client_for(server) as client, PeakRss() as rss:
        with pytest.raises(ResponseTooLargeError) as info:
            client.bucket_list()
    assert rss.growth < RSS_GROWTH_LIMIT, rss.growth
    error = info.value
    assert isinstance(error, BridgeResponseError)
    assert str(DEFAULT_MAX_RESPONSE_BYTES) in error.message
    assert "max_response_bytes" in error.message and error.status_code == 200
    assert len(str(error)) < 2000 and len(repr(error)) < 2000


def test_max_response_bytes_is_a_documented_setting(serve):
    body = json.dumps([BUCKET] * 50).encode()
    server = serve(answer("200 OK", body))
    with client_for(server, max_response_bytes=len(body)) as client:
        assert len(list(client.bucket_list())) == 50  # exactly at the bound: fine
    with client_for(server, max_response_bytes=len(body) - 1) as client:
        with pytest.raises(ResponseTooLargeError, match=f"max_response_bytes={len(body) - 1}"):
            client.bucket_list()
    for bad in (0, -1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="max_response_bytes"):
            Client(EMAIL, PASSWORD, server.url, max_response_bytes=bad)  # type: ignore[arg-type]


def test_gzip_bomb_is_bounded_after_decompression(serve):
    bomb = gzip.compress(b"[" + b"0," * (100 * MIB), compresslevel=9)
    assert len(bomb) < 2 * MIB
    server = serve(answer("200 OK", bomb, Content_Encoding="gzip"))
    with client_for(server) as client, PeakRss() as rss:
        with pytest.raises(ResponseTooLargeError):
            client.bucket_list()
    assert rss.growth < RSS_GROWTH_LIMIT, rss.growth


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers
        ("identity", lambda data: data),
    ],
)
def test_compressed_answers_still_decode(serve, coding, encode):
    body = json.dumps([BUCKET] * 20).encode()
    server = serve(answer("200 OK", encode(body), Content_Encoding=coding))
    with client_for(server) as client:
        assert [b.id for b in client.bucket_list()] == [BUCKET_ID] * 20


def test_unknown_or_broken_coding_is_a_response_error(serve):
    server = serve(answer("200 OK", b"\x00garbage", Content_Encoding="gzip"))
    with client_for(server) as client, pytest.raises(BridgeResponseError, match="decompress"):
        client.bucket_list()
    server = serve(answer("200 OK", b"[]", Content_Encoding="compress"))
    with client_for(server) as client, pytest.raises(BridgeResponseError, match="coding"):
        client.bucket_list()


# --------------------------------------------------------------------------- total deadline


def test_trickled_body_hits_the_total_deadline(serve):
    body = json.dumps([BUCKET] * 10).encode()
    server = serve(trickle(head(Content_Length=len(body)), body))
    with client_for(server, timeout=2) as client:
        started = time.monotonic()
        with pytest.raises(BridgeTimeoutError) as info:
            client.bucket_list()
        elapsed = time.monotonic() - started
    assert elapsed < SLOW_CALL_LIMIT, elapsed
    assert "deadline" in info.value.message and "timeout" in info.value.message
    assert info.value.method == "GET"


def test_trickled_headers_hit_the_total_deadline(serve):
    server = serve(trickle(b"HTTP/1.1 200 OK\r\n", b"X-Padding: " + b"a" * 1000))
    with client_for(server, timeout=2) as client:
        started = time.monotonic()
        with pytest.raises(BridgeTimeoutError):
            client.bucket_list()
        assert time.monotonic() - started < SLOW_CALL_LIMIT


def test_a_connect_read_tuple_bounds_the_attempt_by_its_sum(serve):
    body = json.dumps([BUCKET] * 10).encode()
    server = serve(trickle(head(Content_Length=len(body)), body))
    with client_for(server, timeout=(1, 1.5)) as client:
        started = time.monotonic()
        with pytest.raises(BridgeTimeoutError, match="2.5 s deadline"):
            client.bucket_list()
        assert time.monotonic() - started < SLOW_CALL_LIMIT


def test_retries_each_get_one_deadline_and_stop(serve):
    body = json.dumps([BUCKET] * 10).encode()
    server = serve(trickle(head(Content_Length=len(body)), body))
    policy = RetryPolicy(total=2, backoff_factor=0)
    with client_for(server, timeout=1, retries=policy) as client:
        started = time.monotonic()
        with pytest.raises(BridgeTimeoutError):
            client.bucket_list()  # a GET: safe to repeat
        assert time.monotonic() - started < SLOW_CALL_LIMIT
    assert server.connections == 3  # 1 + retries attempts, no more

    server = serve(trickle(head(Content_Length=len(body)), body))
    with client_for(server, timeout=1, retries=policy) as client:
        with pytest.raises(BridgeTimeoutError):
            client.bucket_create("x")  # a POST: not repeated after it may have arrived
    assert server.connections == 1


def test_a_borrowed_session_still_bounds_a_trickled_body(serve):
    body = json.dumps([BUCKET] * 10).encode()
    server = serve(trickle(head(Content_Length=len(body)), body, interval=0.2))
    with requests.Session() as session:
        client = client_for(server, timeout=1, session=session)
        started = time.monotonic()
        with pytest.raises(BridgeTimeoutError):
            client.bucket_list()
        assert time.monotonic() - started < SLOW_CALL_LIMIT


def test_the_deadline_spares_prompt_answers_and_reused_connections(serve):
    body = json.dumps([BUCKET]).encode()
    server = serve(answer("200 OK", body))
    with client_for(server, timeout=1) as client:
        for _ in range(3):
            assert len(list(client.bucket_list())) == 1
        time.sleep(1.5)  # past the deadlines of the calls above: nothing fires late
        assert len(list(client.bucket_list())) == 1


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (server context, CA file for the client)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, str(cert_file)


def tls_client(server: HostileBridge, ca_file: str, **kwargs: object) -> Client:
    client = client_for(server, **kwargs)
    client.session.trust_env = False  # REQUESTS_CA_BUNDLE would win over session.verify
    client.session.verify = ca_file
    return client


def test_https_answers_and_the_deadline_over_tls(serve, tls_pair):
    context, ca_file = tls_pair
    server = serve(answer("200 OK", json.dumps([BUCKET]).encode()), tls=context)
    with tls_client(server, ca_file, timeout=5) as client:
        for _ in range(2):
            assert [b.id for b in client.bucket_list()] == [BUCKET_ID]
    body = json.dumps([BUCKET] * 10).encode()
    server = serve(trickle(head(Content_Length=len(body)), body), tls=context)
    with tls_client(server, ca_file, timeout=2) as client:
        started = time.monotonic()
        with pytest.raises(BridgeTimeoutError):
            client.bucket_list()
        assert time.monotonic() - started < SLOW_CALL_LIMIT


def test_https_connection_failures_are_transport_errors():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with Client(EMAIL, PASSWORD, f"https://127.0.0.1:{port}/", retries=0, timeout=2) as client:
        with pytest.raises(BridgeTransportError):
            client.bucket_list()


# --------------------------------------------------------------------------- JSON checks


@pytest.mark.parametrize("depth", [100_000, 2_000, MAX_JSON_DEPTH + 1])
def test_deep_nesting_is_a_response_error(serve, depth):
    body = b"[" * depth + b"]" * depth
    server = serve(answer("200 OK", body))
    with client_for(server) as client, pytest.raises(BridgeResponseError, match="nested"):
        client.bucket_list()


def test_nesting_at_the_limit_is_accepted(serve):
    deep: object = []
    for _ in range(MAX_JSON_DEPTH - 3):  # + the outer list, the object, the innermost []
        deep = [deep]
    server = serve(answer("200 OK", json.dumps([{**BUCKET, "someExtra": deep}]).encode()))
    with client_for(server) as client:
        assert list(client.bucket_list())[0].extra["someExtra"] == deep


def test_deep_nesting_inside_an_error_answer(serve):
    body = b'{"error": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    server = serve(answer("400 Bad Request", body))
    with client_for(server) as client, pytest.raises(BadRequestError) as info:
        client.bucket_list()
    assert "HTTP 400" in info.value.message


@pytest.mark.parametrize(
    "body",
    [b'[{"id": "\xff\xfe"}]', b"[1, 2", b"\xef\xbb\xbf" + b"[]" * 3, b"NaN-ish", b"{" * 10],
)
def test_invalid_json_or_utf8_is_a_response_error(serve, body):
    server = serve(answer("200 OK", body))
    with client_for(server) as client, pytest.raises(BridgeResponseError):
        client.bucket_list()


# --------------------------------------------------------------------------- error messages


def test_huge_error_message_is_truncated(serve):
    message = "x" * 50_000
    server = serve(answer("404 Not Found", json.dumps({"error": message}).encode()))
    with client_for(server) as client, pytest.raises(NotFoundError) as info:
        client.bucket_get(BUCKET_ID)
    error = info.value
    assert error.message.startswith("x" * 1000)
    assert error.message.endswith("… (truncated, 50000 characters)")
    assert len(error.message) < 1100
    assert len(error.body) < 2100 and "truncated" in error.body
    assert len(str(error)) < 1300 and len(repr(error)) < 1400


def test_50_mb_error_answer_is_not_read_whole(serve):
    total = 50 * 1000 * 1000
    behaviour = stream("500 Internal Server Error", b'{"error": "', b"x" * 65536, total,
                       Content_Length=total + 2)
    server = serve(behaviour)
    with client_for(server) as client, PeakRss() as rss:
        with pytest.raises(BridgeServerError) as info:
            client.bucket_get(BUCKET_ID)
    assert rss.growth < RSS_GROWTH_LIMIT, rss.growth
    error = info.value
    assert "HTTP 500" in error.message and "more than" in error.message
    assert len(str(error)) < 1300 and len(repr(error)) < 1400 and len(error.body) < 2100


def test_error_classes_bound_what_they_keep():
    error = BridgeError("m" * 10_000, body="b" * 10_000, status_code=500)
    assert len(error.message) < 1100 and len(error.body) < 2100
    assert error.message.endswith("(truncated, 10000 characters)")
    assert len(str(error)) < 1200 and len(repr(error)) < 1300
    short = BridgeError("short", body="body")
    assert (short.message, short.body) == ("short", "body")
    farmer = FarmerError("f" * 10_000, node_id=NODE_ID)
    assert len(farmer.message) < 1100 and len(str(farmer)) < 1200 and len(repr(farmer)) < 1200


# --------------------------------------------------------------------------- field types

PATHS = {
    # name: (call, method, route path, a good answer)
    "bucket_get": (lambda c: c.bucket_get(BUCKET_ID), "GET", f"/buckets/{BUCKET_ID}", BUCKET),
    "bucket_list": (lambda c: list(c.bucket_list()), "GET", "/buckets", [BUCKET]),
    "bucket_create": (lambda c: c.bucket_create("b"), "POST", "/buckets", BUCKET),
    "bucket_set_keys": (
        lambda c: c.bucket_set_keys(BUCKET_ID, None, []), "PATCH", f"/buckets/{BUCKET_ID}",
        BUCKET,
    ),
    "bucket_files": (
        lambda c: c.bucket_files(BUCKET_ID), "GET", f"/buckets/{BUCKET_ID}/files",
        [{"id": FILE_ID, "bucket": BUCKET_ID, "filename": "f", "size": 1, "frame": FRAME_ID}],
    ),
    "file_metadata": (
        lambda c: c.file_metadata(BUCKET_ID, FILE_ID), "GET",
        f"/buckets/{BUCKET_ID}/files/{FILE_ID}/info",
        {"id": FILE_ID, "bucket": BUCKET_ID, "filename": "f", "size": 1, "frame": FRAME_ID,
         "hmac": {"type": "sha512", "value": "00"}},
    ),
    "bucket_entry_create": (
        lambda c: c.bucket_entry_create(BUCKET_ID, FRAME_ID, "f"), "POST",
        f"/buckets/{BUCKET_ID}/files",
        {"id": FILE_ID, "bucket": BUCKET_ID, "filename": "f", "size": 1, "frame": FRAME_ID},
    ),
    "frame_create": (
        lambda c: c.frame_create(), "POST", "/frames",
        {"id": FRAME_ID, "shards": [], "locked": False, "size": 0, "user": EMAIL},
    ),
    "frame_get": (
        lambda c: c.frame_get(FRAME_ID), "GET", f"/frames/{FRAME_ID}",
        {"id": FRAME_ID, "shards": [], "locked": False, "size": 0},
    ),
    "frame_list": (
        lambda c: list(c.frame_list()), "GET", "/frames", [{"id": FRAME_ID, "shards": []}],
    ),
    "frame_add_shard": (
        lambda c: c.frame_add_shard({"hash": SHARD_HASH, "size": 1, "index": 0}, FRAME_ID),
        "PUT", f"/frames/{FRAME_ID}",
        {"hash": SHARD_HASH, "token": "ab" * 20, "operation": "PUSH",
         "farmer": {"address": "127.0.0.1", "port": 4000, "nodeID": NODE_ID}},
    ),
    "token_create": (
        lambda c: c.token_create(BUCKET_ID, "PUSH"), "POST", f"/buckets/{BUCKET_ID}/tokens",
        {"token": "ab" * 32, "bucket": BUCKET_ID, "operation": "PUSH", "size": 3},
    ),
    "contact_list": (
        lambda c: c.contact_list(), "GET", "/contacts",
        [{"address": "127.0.0.1", "port": 4000, "nodeID": NODE_ID, "responseTime": 1.5}],
    ),
    "contact_lookup": (
        lambda c: c.contact_lookup(NODE_ID), "GET", f"/contacts/{NODE_ID}",
        {"address": "127.0.0.1", "port": 4000, "nodeID": NODE_ID},
    ),
    "key_register": (
        lambda c: c.key_register(PUBHEX), "POST", "/keys",
        {"key": PUBHEX, "user": EMAIL, "label": ""},
    ),
    "user_create": (
        lambda c: c.user_create(EMAIL, "pw"), "POST", "/users",
        {"email": EMAIL, "id": EMAIL, "activated": False, "isFreeTier": True},
    ),
    "bucket_set_mirrors": (
        lambda c: c.bucket_set_mirrors(BUCKET_ID, FILE_ID, 2), "POST",
        f"/buckets/{BUCKET_ID}/mirrors", [{"hash": SHARD_HASH, "mirrors": 2, "status": "ok"}],
    ),
    "file_mirrors": (
        lambda c: c.file_mirrors(BUCKET_ID, FILE_ID), "GET",
        f"/buckets/{BUCKET_ID}/files/{FILE_ID}/mirrors",
        [{"established": [{"shardHash": SHARD_HASH, "isEstablished": True,
                           "contract": {}, "contact": NODE_ID}], "available": []}],
    ),
    "file_pointers": (
        lambda c: list(c.file_pointers(BUCKET_ID, FILE_ID)), "GET",
        f"/buckets/{BUCKET_ID}/files/{FILE_ID}",
        [{"hash": SHARD_HASH, "token": "cd" * 20, "size": 13, "index": 0, "parity": False,
          "operation": "PULL",
          "farmer": {"address": "127.0.0.1", "port": 4000, "nodeID": NODE_ID}}],
    ),
}

# (path, where in the answer: a key path into the good answer, bad value, field named)
BAD_FIELDS = [
    ("bucket_get", ("id",), 5, "Bucket.id"),
    ("bucket_get", ("name",), ["x"], "Bucket.name"),
    ("bucket_get", ("pubkeys",), "02ab", "Bucket.pubkeys"),
    ("bucket_get", ("pubkeys",), [1], "Bucket.pubkeys[0]"),
    ("bucket_get", ("storage",), "0", "Bucket.storage"),
    ("bucket_get", ("created",), 10**30, "Bucket.created"),
    ("bucket_list", (0, "status"), {"a": 1}, "Bucket.status"),
    ("bucket_create", ("user",), True, "Bucket.user"),
    ("bucket_set_keys", ("publicPermissions",), [None], "Bucket.publicPermissions[0]"),
    ("bucket_files", (0, "size"), "1", "File.size"),
    ("bucket_files", (0, "id"), 7, "File.id"),
    ("file_metadata", ("id",), 1.5, "File.id"),
    ("file_metadata", ("size",), -1, "File.size"),
    ("file_metadata", ("hmac",), "sha512", "File.hmac"),
    ("file_metadata", ("frame",), 12, "File.frame"),
    ("file_metadata", ("bucket",), [], "File.bucket"),
    ("bucket_entry_create", ("filename",), {"x": 1}, "File.filename"),
    ("frame_create", ("shards",), "abc", "Frame.shards"),
    ("frame_get", ("shards",), {"0": "a"}, "Frame.shards"),
    ("frame_get", ("locked",), "no", "Frame.locked"),
    ("frame_list", (0, "size"), 1e3, "Frame.size"),
    ("frame_add_shard", ("farmer", "port"), "4000", "Contact.port"),
    ("frame_add_shard", ("farmer", "address"), ["127.0.0.1"], "Contact.address"),
    ("token_create", ("token",), 12345, "Token.token"),
    ("token_create", ("size",), "3", "Token.size"),
    ("token_create", ("bucket",), 5, "Token.bucket"),
    ("contact_list", (0, "port"), 70000, "Contact.port"),
    ("contact_list", (0, "responseTime"), "fast", "Contact.responseTime"),
    ("contact_lookup", ("nodeID",), 42, "Contact.nodeID"),
    ("key_register", ("key",), ["02"], "Key.key"),
    ("user_create", ("activated",), "yes", "User.activated"),
    ("bucket_set_mirrors", (0, "mirrors"), "2", "Mirror.mirrors"),
    ("file_mirrors", (0, "established"), "none", "FileMirrors.established"),
    ("file_mirrors", (0, "established", 0, "contract"), [1], "Mirror.contract"),
    ("file_mirrors", (0, "established", 0, "contact"), 5, "Mirror.contact"),
    ("file_mirrors", (0, "available"), [3], "FileMirrors.available[0]"),
    ("file_pointers", (0, "size"), "13", "FilePointer.size"),
    ("file_pointers", (0, "index"), -2, "FilePointer.index"),
    ("file_pointers", (0, "token"), 99, "FilePointer.token"),
    ("file_pointers", (0, "parity"), "false", "FilePointer.parity"),
    ("file_pointers", (0, "farmer"), "127.0.0.1:4000", "FilePointer.farmer"),
    ("file_pointers", (0, "farmer", "port"), [4000], "Contact.port"),
]


def _with(good: object, where: tuple, value: object) -> object:
    data = json.loads(json.dumps(good))
    target = data
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    return data


@pytest.mark.parametrize(
    ("name", "where", "bad", "field"), BAD_FIELDS, ids=[f"{b[0]}-{b[3]}" for b in BAD_FIELDS]
)
def test_wrong_field_types_are_response_errors_naming_field_and_route(name, where, bad, field):
    call, method, path, good = PATHS[name]
    api = "http://bridge.test"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        if name == "file_pointers":  # a PULL token is created first
            mock.add("POST", f"{api}/buckets/{BUCKET_ID}/tokens", json={"token": "ab" * 32})
        mock.add(method, api + path, json=good)
        client = Client(EMAIL, PASSWORD, api, retries=0)
        call(client)  # the good answer is accepted
        mock.replace(method, api + path, json=_with(good, where, bad))
        with pytest.raises(BridgeResponseError) as info:
            call(client)
    message = info.value.message
    assert field in message, message
    assert f"{method} {path}" in message, message
    assert not isinstance(info.value, InvalidFieldError)


def test_every_model_parsing_path_is_in_the_table():
    assert {row[0] for row in BAD_FIELDS} == set(PATHS)


# --------------------------------------------------------------------------- constructors


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: model.Bucket(id=5, name=["x"]), "Bucket.id"),
        (lambda: model.Bucket(name=["x"]), "Bucket.name"),
        (lambda: model.File(id=1), "File.id"),
        (lambda: model.File(size="12"), "File.size"),
        (lambda: model.Frame(shards="abc"), "Frame.shards"),
        (lambda: model.Frame(shards=5), "Frame.shards"),
        (lambda: model.Token(token=5), "Token.token"),
        (lambda: model.FilePointer(size="12"), "FilePointer.size"),
        (lambda: model.FilePointer(farmer=5), "FilePointer.farmer"),
        (lambda: model.Contact(port="4000"), "Contact.port"),
        (lambda: model.Contact(port=True), "Contact.port"),
        (lambda: model.User(activated=1), "User.activated"),
        (lambda: model.Key(key=b"02ab"), "Key.key"),
        (lambda: model.Mirror(contract="x"), "Mirror.contract"),
        (lambda: model.FileMirrors(established=[1]), "FileMirrors.established[0]"),
        (lambda: model.Shard(size=-1), "Shard.size"),
        (lambda: model.Shard(tree=[1]), "Shard.tree[0]"),
        (lambda: model.Shard(challenges=[None]), "Shard.challenges[0]"),
        (lambda: model.ExchangeReport(exchangeResultCode="1000"),
         "ExchangeReport.exchangeResultCode"),
        (lambda: model.Bucket(created="yesterday"), "Bucket.created"),
        (lambda: model.Bucket.from_json([1]), None),
    ],
)
def test_constructors_raise_the_documented_field_error(make, field):
    with pytest.raises(InvalidFieldError) as info:
        make()
    error = info.value
    assert isinstance(error, StorjError)
    assert isinstance(error, ValueError) and isinstance(error, TypeError)
    assert error.field == field
    if field is not None:
        assert field in str(error)


def test_assignment_is_checked_too_and_unknown_fields_are_not():
    bucket = model.Bucket(id=BUCKET_ID, anything=object(), nested={"x": [1, {"y": None}]})
    with pytest.raises(InvalidFieldError, match="Bucket.name"):
        bucket.name = 3
    bucket.name = "ok"
    assert bucket.name == "ok" and "anything" in bucket.extra
    pointer = model.FilePointer.from_json(
        {"hash": SHARD_HASH, "size": 0, "farmer": {"port": 1, "whatever": [1]}, "new": 1}
    )
    assert pointer.farmer.extra == {"whatever": [1]} and pointer.extra == {"new": 1}
    assert model.Bucket(pubkeys=("a", "b")).pubkeys == ["a", "b"]


def test_field_errors_pickle():
    error = InvalidFieldError("Bucket.id must be a str, not int", field="Bucket.id")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.message, copy.field) == (InvalidFieldError, error.message, "Bucket.id")


# --------------------------------------------------------------------------- farmers

SHARD = bytes(range(256)) * 256  # 64 KiB
SHARD_OF = rmd160sha256_hex(SHARD)


def farmer_config(**kwargs: object) -> TransferConfig:
    base: dict[str, object] = {"timeout": 5.0, "low_speed_limit": 0, "io_chunk_size": 16384}
    base.update(kwargs)
    return TransferConfig(**base)  # type: ignore[arg-type]


def contact(server: HostileBridge) -> dict[str, object]:
    return {"address": "127.0.0.1", "port": int(server.url.rsplit(":", 1)[1].strip("/")),
            "nodeID": NODE_ID}


@pytest.fixture
def shard_file(tmp_path):
    files = TempFiles(tmp_path)
    source = files.create()
    source.pwrite(SHARD, 0)
    yield source
    files.cleanup()


def test_push_does_not_read_a_huge_answer(serve, shard_file):
    total = 200 * 1000 * 1000
    server = serve(stream("200 OK", b"{", b" " * 65536, total, Content_Length=total))
    with FarmerClient(farmer_config()) as client, PeakRss() as rss:
        started = time.monotonic()
        assert client.push(contact(server), SHARD_OF, "tok", shard_file, 0, len(SHARD)) == 200
        assert time.monotonic() - started < SLOW_CALL_LIMIT
    assert rss.growth < RSS_GROWTH_LIMIT, rss.growth


def test_push_huge_error_answer_is_bounded(serve, shard_file):
    total = 200 * 1000 * 1000
    server = serve(stream("500 Internal Server Error", b'{"result": "', b"z" * 65536, total,
                          Content_Length=total))
    with FarmerClient(farmer_config()) as client, PeakRss() as rss:
        with pytest.raises(FarmerError) as info:
            client.push(contact(server), SHARD_OF, "tok", shard_file, 0, len(SHARD))
    assert rss.growth < RSS_GROWTH_LIMIT, rss.growth
    assert info.value.status_code == 500 and len(str(info.value)) < 1300


def test_farmer_error_messages_are_bounded(serve, shard_file):
    body = json.dumps({"result": "y" * 3000}).encode()
    server = serve(answer("401 Unauthorized", body))
    with FarmerClient(farmer_config()) as client:
        with pytest.raises(SuppliedTokenNotAcceptedError) as info:
            client.push(contact(server), SHARD_OF, "tok", shard_file, 0, len(SHARD))
    error = info.value
    assert "y" * 500 in error.message and "(truncated," in error.message
    assert len(error.message) < 1100 and len(str(error)) < 1300 and len(repr(error)) < 1300


@pytest.mark.parametrize("framing", ["until-close", "content-length"])
def test_pull_never_reads_past_the_pointer_size(serve, framing):
    total = 200 * 1000 * 1000
    headers = {"Connection": "close"} if framing == "until-close" else {"Content_Length": total}
    server = serve(stream("200 OK", SHARD, b"\0" * 65536, total, **headers))
    got = []
    with FarmerClient(farmer_config()) as client, PeakRss() as rss:
        with pytest.raises(HashMismatchError, match="more than|announced"):
            client.pull(contact(server), SHARD_OF, "tok", len(SHARD),
                        lambda view, at: got.append(len(view)))
    assert rss.growth < RSS_GROWTH_LIMIT, rss.growth
    assert sum(got) <= len(SHARD)


def test_pull_with_trickled_headers_hits_the_shard_deadline(serve):
    server = serve(trickle(b"HTTP/1.1 200 OK\r\n", b"X-Padding: " + b"a" * 1000))
    with FarmerClient(farmer_config(shard_deadline=2)) as client:
        started = time.monotonic()
        with pytest.raises(FarmerTimeoutError, match="deadline of 2 s"):
            client.pull(contact(server), SHARD_OF, "tok", len(SHARD), lambda view, at: None)
        assert time.monotonic() - started < SLOW_CALL_LIMIT


def test_pull_with_a_trickled_body_hits_the_shard_deadline(serve):
    server = serve(trickle(head(Content_Length=len(SHARD)), SHARD[:2000], interval=0.2))
    with FarmerClient(farmer_config(shard_deadline=2)) as client:
        started = time.monotonic()
        with pytest.raises(FarmerTimeoutError, match="deadline"):
            client.pull(contact(server), SHARD_OF, "tok", len(SHARD), lambda view, at: None)
        assert time.monotonic() - started < SLOW_CALL_LIMIT


def test_push_with_a_trickled_answer_hits_the_shard_deadline(serve, shard_file):
    server = serve(trickle(b"HTTP/1.1 200 OK\r\n", b"X-Padding: " + b"a" * 1000))
    with FarmerClient(farmer_config(shard_deadline=2)) as client:
        started = time.monotonic()
        with pytest.raises(FarmerTimeoutError, match="deadline"):
            client.push(contact(server), SHARD_OF, "tok", shard_file, 0, len(SHARD))
        assert time.monotonic() - started < SLOW_CALL_LIMIT


def test_shard_deadline_setting():
    config = TransferConfig()
    assert config.shard_deadline is None
    assert config.deadline_for(32 * MIB) == pytest.approx(2 * 60 + 20 + 32 * MIB / 30720)
    assert TransferConfig(low_speed_limit=0).deadline_for(1024 * 100) == pytest.approx(240)
    assert TransferConfig(shard_deadline=7).deadline_for(10**12) == 7
    for bad in (0, -1, "5", True):
        with pytest.raises(ValueError, match="shard_deadline"):
            TransferConfig(shard_deadline=bad)  # type: ignore[arg-type]


def test_data_channel_pull_has_a_total_deadline(tmp_path):
    def drip(ws, request):  # tiny frames, often enough for the per-frame timeout
        for _ in range(300):
            if ws.protocol.state.name != "OPEN":
                return
            try:
                ws.send(b"\0")
            except Exception:
                return
            time.sleep(0.1)

    with FakeWebSocketPeer(drip) as peer:
        started = time.monotonic()
        with pytest.raises(FarmerTimeoutError, match="deadline of 1 s"):
            web_socket.pull_shard(peer.url, token="t" * 40, shard_hash=SHARD_OF,
                                  destination=io.BytesIO(), size=len(SHARD), timeout=5,
                                  deadline=1)
        assert time.monotonic() - started < SLOW_CALL_LIMIT

"""The farmer shard client against small misbehaving HTTP servers on loopback.

Each server behaviour is a handler function; the real local farmer is exercised by the
integration tests.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from storj.api import rmd160sha256_hex
from storj.exception import (
    FarmerError,
    FarmerTimeoutError,
    HashMismatchError,
    SuppliedTokenNotAcceptedError,
)
from storj.model import Contact
from storj.transfer._tempfiles import TempFiles
from storj.transfer.config import TransferConfig
from storj.transfer.farmer_client import (
    FarmerClient,
    FarmerEndpoint,
    farmer_endpoint,
    shard_url,
)
from storj.transfer.progress import Abort, Aborted

NODE = "fc7250a211deddc70ee5a2738de5f07817351cef"
DATA = hashlib.sha256(b"seed").digest() * 4096  # 128 KiB
DATA_HASH = rmd160sha256_hex(DATA)
#: Seconds a misbehaving fake farmer stalls (its handler threads are daemons).
STALL = 30.0
#: Seconds within which a timeout, the low-speed rule or an abort must have ended a
#: transfer: generous for a busy machine, below ``STALL`` and the slowest trickle, so a
#: client that waited for the farmer instead still fails.
SLOW_PEER_BOUND = 10.0


class Server:
    """A threaded HTTP server whose handler is ``behaviour(handler)``."""

    def __init__(self, behaviour):
        self.requests: list[dict] = []
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                server_self.requests.append({"method": "GET", "path": self.path})
                behaviour(self)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                record = {"method": "POST", "path": self.path, "headers": dict(self.headers)}
                server_self.requests.append(record)
                self.server_self = server_self
                self.record = record
                self.length = length
                behaviour(self)

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):  # a client hung up: expected
                pass

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def contact(self):
        return {"address": "127.0.0.1", "port": self.httpd.server_address[1], "nodeID": NODE}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def reply(handler, status, payload=None, body=None, length=None):
    raw = body if body is not None else json.dumps(payload or {}).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw) if length is None else length))
    handler.end_headers()
    handler.wfile.write(raw)
    handler.wfile.flush()


def serve_bytes(data, *, length=None, pause=0.0, chunk=None, interval=0.0):
    def behaviour(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(data) if length is None else length))
        handler.end_headers()
        handler.wfile.flush()
        if pause:
            time.sleep(pause)
        step = chunk or len(data) or 1
        try:
            for start in range(0, len(data), step):
                handler.wfile.write(data[start : start + step])
                handler.wfile.flush()
                if interval:
                    time.sleep(interval)
        except OSError:
            pass
        handler.close_connection = True

    return behaviour


def receive(status=200, payload=None):
    def behaviour(handler):
        body = handler.rfile.read(handler.length)
        handler.record["body"] = body
        reply(handler, status, payload or {"result": "Consignment completed"})

    return behaviour


@pytest.fixture
def temp(tmp_path):
    files = TempFiles(tmp_path)
    yield files
    files.cleanup()


def config(**kw):
    base = {"timeout": 5.0, "low_speed_time": 1.0, "low_speed_limit": 1000, "io_chunk_size": 16384}
    base.update(kw)
    return TransferConfig(**base)


def pull_all(client, contact, data_hash=DATA_HASH, size=len(DATA), **kw):
    got = bytearray()
    positions = []

    def sink(view, position):
        positions.append(position)
        got.extend(view)

    client.pull(contact, data_hash, "tok", size, sink, **kw)
    return bytes(got), positions


# ------------------------------------------------------------------ endpoints


def test_farmer_endpoint_from_contact_dict_and_ipv6_url():
    contact = Contact(address="10.0.0.1", port=4001, nodeID=NODE)
    endpoint = farmer_endpoint(contact)
    assert (endpoint.address, endpoint.port, endpoint.node_id) == ("10.0.0.1", 4001, NODE)
    endpoint = farmer_endpoint({"address": "::1", "port": "4002", "nodeID": NODE})
    assert endpoint.port == 4002
    assert (
        shard_url(endpoint, DATA_HASH, "t0k") == f"http://[::1]:4002/shards/{DATA_HASH}?token=t0k"
    )


@pytest.mark.parametrize("contact", [{"port": 1}, {"address": "x"}, {"address": "x", "port": "y"}])
def test_farmer_endpoint_rejects_incomplete_contacts(contact):
    with pytest.raises(FarmerError):
        farmer_endpoint(contact)


# ----------------------------------------------------------------------- push


def test_push_streams_the_file_range_with_exact_headers(temp):
    source = temp.create()
    source.pwrite(b"x" * 100 + DATA + b"y" * 100, 0)
    with Server(receive()) as server, FarmerClient(config()) as client:
        sent = []
        status = client.push(
            server.contact, DATA_HASH, "tok", source, 100, len(DATA), on_bytes=sent.append
        )
    assert status == 200
    (request,) = server.requests
    assert request["path"] == f"/shards/{DATA_HASH}?token=tok"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-length"] == str(len(DATA))
    assert headers["content-type"] == "application/octet-stream"
    assert headers["x-storj-node-id"] == NODE
    assert "transfer-encoding" not in headers
    assert request["body"] == DATA
    assert sum(sent) == len(DATA)


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (401, "The supplied token is not accepted", SuppliedTokenNotAcceptedError),
        (400, "Calculated hash does not match the expected result", HashMismatchError),
        (500, "Not connected to bridge", FarmerError),
        (503, "No space left", FarmerError),
        (504, "Gateway timeout", FarmerTimeoutError),
    ],
)
def test_push_maps_farmer_errors(temp, status, message, error):
    source = temp.create()
    source.pwrite(DATA, 0)
    with Server(receive(status, {"result": message})) as server, FarmerClient(config()) as client:
        with pytest.raises(error) as info:
            client.push(server.contact, DATA_HASH, "tok", source, 0, len(DATA))
    assert message in str(info.value)
    assert info.value.status_code == status
    assert info.value.node_id == NODE


def test_push_accepts_304_already_stored(temp):
    source = temp.create()
    source.pwrite(DATA, 0)

    def behaviour(handler):
        handler.rfile.read(handler.length)
        handler.send_response(304)
        handler.end_headers()

    with Server(behaviour) as server, FarmerClient(config()) as client:
        assert client.push(server.contact, DATA_HASH, "tok", source, 0, len(DATA)) == 304


def test_push_to_a_farmer_that_stops_reading_is_aborted_as_too_slow(temp):
    size = 32 * 1024 * 1024  # more than the socket buffers hold
    source = temp.create()
    source.truncate(size)

    def behaviour(handler):
        time.sleep(STALL)  # never reads the upload

    with Server(behaviour) as server, FarmerClient(config(low_speed_time=0.5)) as client:
        start = time.monotonic()
        with pytest.raises(FarmerTimeoutError) as info:
            client.push(server.contact, DATA_HASH, "tok", source, 0, size)
        assert time.monotonic() - start < SLOW_PEER_BOUND
    assert "B/s" in str(info.value)


def test_push_connection_refused_is_a_farmer_error(temp):
    source = temp.create()
    source.pwrite(DATA, 0)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with FarmerClient(config()) as client, pytest.raises(FarmerError) as info:
        client.push(
            {"address": "127.0.0.1", "port": port, "nodeID": NODE},
            DATA_HASH,
            "t",
            source,
            0,
            len(DATA),
        )
    assert info.value.node_id == NODE


# ----------------------------------------------------------------------- pull


def test_pull_delivers_verified_bytes_in_order():
    with Server(serve_bytes(DATA, chunk=1000)) as server, FarmerClient(config()) as client:
        counted = []
        got, positions = pull_all(client, server.contact, on_bytes=counted.append)
    assert got == DATA
    assert positions == list(range(0, len(DATA), 16384))
    assert sum(counted) == len(DATA)


def test_pull_wrong_bytes_is_a_hash_mismatch():
    corrupt = bytearray(DATA)
    corrupt[5] ^= 1
    with Server(serve_bytes(bytes(corrupt))) as server, FarmerClient(config()) as client:
        with pytest.raises(HashMismatchError) as info:
            pull_all(client, server.contact)
    assert DATA_HASH in str(info.value)


def test_pull_wrong_content_length_is_a_hash_mismatch():
    with Server(serve_bytes(DATA[:-1])) as server, FarmerClient(config()) as client:
        with pytest.raises(HashMismatchError, match="announced"):
            pull_all(client, server.contact)


def test_pull_short_body_fails():
    # Announces the right length, sends half, closes the connection.
    with Server(serve_bytes(DATA[: len(DATA) // 2], length=len(DATA))) as server:
        with FarmerClient(config()) as client, pytest.raises(FarmerError):
            pull_all(client, server.contact)


def test_pull_chunked_body_longer_than_the_shard_fails():
    def behaviour(handler):
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        payload = DATA + b"extra"
        handler.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload))

    with Server(behaviour) as server, FarmerClient(config()) as client:
        with pytest.raises(HashMismatchError, match="more than"):
            pull_all(client, server.contact)


@pytest.mark.parametrize("status", [401, 404, 500])
def test_pull_error_status(status):
    with Server(lambda h: reply(h, status, {"result": "nope"})) as server:
        with FarmerClient(config()) as client, pytest.raises(FarmerError) as info:
            pull_all(client, server.contact)
    assert info.value.status_code == status
    assert "nope" in str(info.value)


def test_pull_stalled_body_is_aborted_by_the_low_speed_rule():
    behaviour = serve_bytes(DATA[:1000] + DATA[1000:], pause=0.0, chunk=1000, interval=STALL)
    with Server(behaviour) as server, FarmerClient(config(low_speed_time=0.5)) as client:
        start = time.monotonic()
        with pytest.raises(FarmerTimeoutError):
            pull_all(client, server.contact)
        assert time.monotonic() - start < SLOW_PEER_BOUND


def test_pull_trickling_farmer_below_the_limit_is_aborted():
    # ~5 kB/s (slower still on a busy machine): 128 KiB take at least 26 s
    behaviour = serve_bytes(DATA, chunk=100, interval=0.02)
    slow = config(low_speed_time=0.6, low_speed_limit=50_000)
    with Server(behaviour) as server, FarmerClient(slow) as client:
        start = time.monotonic()
        with pytest.raises(FarmerTimeoutError):
            pull_all(client, server.contact)
        assert time.monotonic() - start < SLOW_PEER_BOUND


def test_pull_no_answer_times_out():
    with Server(lambda h: time.sleep(STALL)) as server:
        with FarmerClient(config(timeout=0.5)) as client:
            start = time.monotonic()
            with pytest.raises(FarmerTimeoutError, match="within"):
                pull_all(client, server.contact)
            assert time.monotonic() - start < SLOW_PEER_BOUND


def test_abort_interrupts_a_blocked_pull_promptly():
    behaviour = serve_bytes(DATA, chunk=1000, interval=STALL)
    abort = Abort()
    with Server(behaviour) as server, FarmerClient(config(low_speed_time=30), abort) as client:
        threading.Timer(0.3, abort.set, args=(RuntimeError("stop"),)).start()
        start = time.monotonic()
        with pytest.raises(Aborted):
            pull_all(client, server.contact)
        assert time.monotonic() - start < SLOW_PEER_BOUND


def test_sink_errors_are_not_blamed_on_the_farmer():
    def sink(view, position):
        raise OSError(28, "No space left on device")

    with Server(serve_bytes(DATA)) as server, FarmerClient(config()) as client:
        with pytest.raises(OSError, match="No space"):
            client.pull(server.contact, DATA_HASH, "tok", len(DATA), sink)


def test_endpoint_without_node_id_sends_no_routing_header(temp):
    source = temp.create()
    source.pwrite(DATA, 0)
    with Server(receive()) as server, FarmerClient(config()) as client:
        endpoint = FarmerEndpoint("127.0.0.1", server.httpd.server_address[1], None)
        client.push(endpoint, DATA_HASH, "tok", source, 0, len(DATA))
    headers = {k.lower() for k in server.requests[0]["headers"]}
    assert "x-storj-node-id" not in headers

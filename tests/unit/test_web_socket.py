"""The legacy WebSocket data channel: storj.web_socket (client) and storj.local.channel (server).

Everything runs on loopback with short timeouts; no test waits more than about a second.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.server import ServerConnection

from storj import web_socket
from storj.api import PAD_LEAF, rmd160sha256_hex
from storj.exception import (
    FarmerError,
    FarmerTimeoutError,
    HashMismatchError,
    SuppliedTokenNotAcceptedError,
    TransferError,
)
from storj.local import channel
from storj.local.channel import ChannelGrant, ChannelServer
from storj.model import FilePointer
from tests.data import SHARD as HELLO
from tests.data import SHARD_HASH as HELLO_HASH  # bridge-protocol.md §7.3
from tests.helpers import wait_until
from tests.ws_peer import FakeWebSocketPeer

TOKEN = "ab" * 20


#: Seconds a misbehaving fake peer holds on (released early when its test ends), and the
#: timeouts that a test's bound must stay under.
STALL = 30.0
#: Seconds within which a 0.3 s timeout, a refusal or a stop must have taken effect:
#: generous for a busy machine, far below ``STALL``, so waiting for the peer still fails.
SLOW_PEER_BOUND = 10.0


# ----------------------------------------------------------------------------- a farmer


class Farm:
    """The three callbacks of a farmer, backed by a directory and a token table."""

    def __init__(self, root: Path) -> None:
        self.shards = root / "shards"
        self.tmp = root / "tmp"
        self.shards.mkdir(parents=True)
        self.tokens: dict[str, tuple[str, str, int | None]] = {}
        self.calls: list[tuple[str, str, str]] = []
        self.consumed: list[str] = []
        self.failures: list[tuple[int, str]] = []
        self.fail_authorize = False
        self.fail_store = False
        self.lock = threading.Lock()

    def issue(self, shard_hash: str, operation: str, size: int | None = None) -> str:
        token = os.urandom(20).hex()
        self.tokens[token] = (shard_hash, operation, size)
        return token

    def authorize(self, token: str, shard_hash: str, operation: str) -> ChannelGrant | None:
        with self.lock:
            self.calls.append((token, shard_hash, operation))
        if self.fail_authorize:
            raise RuntimeError("injected failure")
        record = self.tokens.get(token)
        if record is None or record[:2] != (shard_hash, operation):
            return None

        def consume() -> None:
            self.tokens.pop(token, None)
            self.consumed.append(token)

        def failed(code: int, reason: str) -> None:
            self.failures.append((code, reason))

        return ChannelGrant(size=record[2], consume=consume, on_failure=failed)

    def open_shard(self, shard_hash: str) -> Any:
        path = self.shards / shard_hash
        return open(path, "rb") if path.is_file() else None  # the server closes it

    def store_shard(self, shard_hash: str, temp: Path) -> None:
        if self.fail_store:
            raise OSError("disk full (injected)")
        os.replace(temp, self.shards / shard_hash)

    def stored(self) -> list[str]:
        return sorted(p.name for p in self.shards.iterdir())

    def temp_files(self) -> list[str]:
        return sorted(p.name for p in self.tmp.iterdir()) if self.tmp.exists() else []

    def put(self, data: bytes) -> str:
        shard_hash = rmd160sha256_hex(data)
        (self.shards / shard_hash).write_bytes(data)
        return shard_hash


@pytest.fixture
def farm(tmp_path: Path) -> Farm:
    return Farm(tmp_path)


def make_server(farm: Farm, **options: Any) -> ChannelServer:
    options.setdefault("idle_timeout", 2.0)
    options.setdefault("open_timeout", 1.0)
    options.setdefault("close_timeout", 1.0)
    return ChannelServer(
        authorize=farm.authorize,
        open_shard=farm.open_shard,
        store_shard=farm.store_shard,
        temp_dir=farm.tmp,
        **options,
    )


@pytest.fixture
def server(farm: Farm) -> Iterator[ChannelServer]:
    with make_server(farm) as srv:
        yield srv


def raw_close(ws: Any) -> tuple[int | None, str]:
    """Read until the server closes; return its close code and reason."""
    try:
        while True:
            ws.recv(timeout=3)
    except ConnectionClosed as exc:
        return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")


def raw_connect(url: str, **kwargs: Any) -> Any:
    return connect(url, open_timeout=2, close_timeout=1, proxy=None, compression=None, **kwargs)


# ----------------------------------------------------------------------------- pure parts


def test_channel_request_is_the_documented_json() -> None:
    text = web_socket.channel_request(TOKEN, HELLO_HASH, "PULL")
    assert json.loads(text) == {"token": TOKEN, "hash": HELLO_HASH, "operation": "PULL"}


@pytest.mark.parametrize(
    ("token", "shard_hash", "operation"),
    [
        ("", HELLO_HASH, "PUSH"),
        (TOKEN, HELLO_HASH.upper(), "PUSH"),
        (TOKEN, HELLO_HASH + "\n", "PUSH"),
        (TOKEN, HELLO_HASH[:-1], "PULL"),
        (TOKEN, HELLO_HASH, "push"),
        (TOKEN, HELLO_HASH, "DELETE"),
    ],
)
def test_channel_request_rejects_bad_arguments(token: str, shard_hash: str, operation: str) -> None:
    with pytest.raises(ValueError):
        web_socket.channel_request(token, shard_hash, operation)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (3101, SuppliedTokenNotAcceptedError),
        (3102, HashMismatchError),
        (3100, FarmerError),
        (3103, FarmerError),
        (1011, FarmerError),
        (4000, FarmerError),
    ],
)
def test_close_codes_map_to_exceptions(code: int, cls: type[FarmerError]) -> None:
    error = web_socket.close_error(code, "the reason", "download of shard x")
    assert type(error) is cls
    assert f"close {code}: the reason" in error.message
    assert error.message.startswith("download of shard x: ")


def test_missing_close_frame_is_a_farmer_error() -> None:
    error = web_socket.close_error(None, "", "upload")
    assert type(error) is FarmerError
    assert "1006" in error.message


@given(
    token=st.text(min_size=1, max_size=100),
    shard_hash=st.from_regex(r"\A[0-9a-f]{40}\Z"),
    operation=st.sampled_from(["PUSH", "PULL"]),
)
def test_server_parses_every_client_request(token: str, shard_hash: str, operation: str) -> None:
    request = web_socket.channel_request(token, shard_hash, operation)
    assert channel._parse_request(request) == (token, shard_hash, operation)


@given(st.one_of(st.text(max_size=200), st.binary(max_size=50)))
def test_server_parser_only_refuses_with_3100_or_3103(message: Any) -> None:
    try:
        token, shard_hash, operation = channel._parse_request(message)
    except channel._Close as close:
        assert close.code in (3100, 3103)
    else:
        assert operation in ("PUSH", "PULL") and len(shard_hash) == 40 and token


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("size", [0, 1, 15359, 1024 * 1024 + 7])
def test_push_then_pull_round_trip(farm: Farm, server: ChannelServer, size: int) -> None:
    data = os.urandom(size)
    shard_hash = rmd160sha256_hex(data)
    push_token = farm.issue(shard_hash, "PUSH", size)
    sent: list[int] = []
    web_socket.push_shard(
        server.url,
        token=push_token,
        shard_hash=shard_hash,
        source=io.BytesIO(data),
        size=size,
        chunk_size=4096,
        on_bytes=sent.append,
    )
    assert sum(sent) == size
    assert all(n <= 4096 for n in sent)
    assert farm.stored() == [shard_hash]
    assert (farm.shards / shard_hash).read_bytes() == data
    assert farm.consumed == [push_token]
    assert farm.temp_files() == []

    pull_token = farm.issue(shard_hash, "PULL")
    out = io.BytesIO()
    got = web_socket.pull_shard(
        server.url, token=pull_token, shard_hash=shard_hash, destination=out, size=size
    )
    assert got == size
    assert out.getvalue() == data
    assert farm.consumed == [push_token, pull_token]
    assert farm.failures == []


def test_reference_shard_and_empty_shard_hashes(farm: Farm, server: ChannelServer) -> None:
    for data, expected in ((HELLO, HELLO_HASH), (b"", PAD_LEAF)):
        token = farm.issue(expected, "PUSH", len(data))
        web_socket.push_shard(
            server.url, token=token, shard_hash=expected, source=io.BytesIO(data), size=len(data)
        )
    assert farm.stored() == sorted([HELLO_HASH, PAD_LEAF])


def test_pull_sends_bounded_frames(farm: Farm, tmp_path: Path) -> None:
    data = os.urandom(10_000)
    shard_hash = farm.put(data)
    sizes: list[int] = []
    with make_server(farm, chunk_size=1000) as srv:
        web_socket.pull_shard(
            srv.url,
            token=farm.issue(shard_hash, "PULL"),
            shard_hash=shard_hash,
            destination=io.BytesIO(),
            on_bytes=sizes.append,
        )
    assert sizes == [1000] * 10


def test_client_class_pulls_a_file_pointer(farm: Farm, server: ChannelServer) -> None:
    shard_hash = farm.put(HELLO)
    token = farm.issue(shard_hash, "PULL")
    pointer = FilePointer(channel=server.url, hash=shard_hash, token=token, size=13, index=0)
    out = io.BytesIO()
    client = web_socket.Client(pointer, out)
    assert client.run() == 13
    assert out.getvalue() == HELLO
    # a plain dict pointer, as 0.1.x code passed
    out2 = io.BytesIO()
    token2 = farm.issue(shard_hash, "PULL")
    web_socket.Client({"channel": server.url, "hash": shard_hash, "token": token2}, out2).run()
    assert out2.getvalue() == HELLO


def test_client_class_needs_a_channel() -> None:
    pointer = FilePointer(hash=HELLO_HASH, token=TOKEN, farmer={"address": "h", "port": 1})
    with pytest.raises(FarmerError, match="no data channel URL"):
        web_socket.Client(pointer, io.BytesIO())
    with pytest.raises(FarmerError, match="invalid shard hash"):
        web_socket.Client({"channel": "ws://h:1", "hash": "x", "token": TOKEN}, io.BytesIO())


# ----------------------------------------------------------------------------- error closes


def test_wrong_token_is_3101(farm: Farm, server: ChannelServer) -> None:
    shard_hash = farm.put(HELLO)
    with pytest.raises(SuppliedTokenNotAcceptedError, match="close 3101"):
        web_socket.pull_shard(
            server.url, token=TOKEN, shard_hash=shard_hash, destination=io.BytesIO()
        )
    with pytest.raises(SuppliedTokenNotAcceptedError):
        web_socket.push_shard(
            server.url, token=TOKEN, shard_hash=HELLO_HASH, source=io.BytesIO(HELLO), size=13
        )
    # a PULL token does not allow a PUSH
    pull = farm.issue(HELLO_HASH, "PULL")
    with pytest.raises(SuppliedTokenNotAcceptedError):
        web_socket.push_shard(
            server.url, token=pull, shard_hash=HELLO_HASH, source=io.BytesIO(HELLO), size=13
        )
    assert farm.consumed == []


def test_more_bytes_than_the_contract_is_3102(farm: Farm, server: ChannelServer) -> None:
    data = os.urandom(200_000)
    shard_hash = rmd160sha256_hex(data)
    token = farm.issue(shard_hash, "PUSH", 100_000)
    with pytest.raises(HashMismatchError, match="close 3102: Shard exceeds the amount"):
        web_socket.push_shard(
            server.url, token=token, shard_hash=shard_hash, source=io.BytesIO(data), size=len(data)
        )
    assert farm.stored() == []
    wait_until(lambda: farm.failures == [(3102, channel.MSG_TOO_LARGE)])
    assert farm.temp_files() == []
    assert token in farm.tokens  # not consumed: the client may retry


def test_refusals_reach_a_streaming_client_at_once(farm: Farm) -> None:
    # The client streams the shard right after its request; the refusal must not wait
    # for the close timeout (the library stops reading while its queue is full).
    data = os.urandom(8 * 1024 * 1024)
    shard_hash = rmd160sha256_hex(data)
    token = farm.issue(shard_hash, "PUSH", 1000)
    with make_server(farm, close_timeout=STALL) as srv:  # far above the bound below
        for bad_token, expected in (
            (TOKEN, SuppliedTokenNotAcceptedError),
            (token, HashMismatchError),
        ):
            started = time.monotonic()
            with pytest.raises(expected):
                web_socket.push_shard(
                    srv.url,
                    token=bad_token,
                    shard_hash=shard_hash,
                    source=io.BytesIO(data),
                    size=len(data),
                    timeout=STALL,
                )
            assert time.monotonic() - started < SLOW_PEER_BOUND
    assert farm.stored() == []
    assert farm.temp_files() == []


def test_hash_mismatch_is_3102(farm: Farm, server: ChannelServer) -> None:
    token = farm.issue(HELLO_HASH, "PUSH", 13)
    with pytest.raises(HashMismatchError, match="close 3102: Calculated hash does not match"):
        web_socket.push_shard(
            server.url,
            token=token,
            shard_hash=HELLO_HASH,
            source=io.BytesIO(b"Hello, Storj?"),
            size=13,
        )
    assert farm.stored() == []
    assert farm.temp_files() == []


def test_bad_first_frame_is_3100(
    farm: Farm, server: ChannelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_socket, "channel_request", lambda *args: "{not json")
    with pytest.raises(FarmerError, match="invalid message \\(close 3100") as info:
        web_socket.pull_shard(
            server.url, token=TOKEN, shard_hash=HELLO_HASH, destination=io.BytesIO()
        )
    assert type(info.value) is FarmerError
    assert farm.calls == []


def test_wrong_operation_is_3103(
    farm: Farm, server: ChannelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = json.dumps({"token": TOKEN, "hash": HELLO_HASH, "operation": "DELETE"})
    monkeypatch.setattr(web_socket, "channel_request", lambda *args: request)
    with pytest.raises(FarmerError, match="invalid operation \\(close 3103") as info:
        web_socket.pull_shard(
            server.url, token=TOKEN, shard_hash=HELLO_HASH, destination=io.BytesIO()
        )
    assert type(info.value) is FarmerError
    assert farm.calls == []


def test_failing_callback_is_1011_and_the_server_survives(
    farm: Farm, server: ChannelServer, caplog: pytest.LogCaptureFixture
) -> None:
    shard_hash = farm.put(HELLO)
    farm.fail_authorize = True
    with caplog.at_level(logging.ERROR, logger="storj.local.channel"):
        with pytest.raises(FarmerError, match="close 1011: Unexpected error") as info:
            web_socket.pull_shard(
                server.url, token=TOKEN, shard_hash=shard_hash, destination=io.BytesIO()
            )
    assert type(info.value) is FarmerError
    assert any("injected failure" in r.getMessage() or r.exc_info for r in caplog.records)
    assert TOKEN not in caplog.text
    farm.fail_authorize = False
    out = io.BytesIO()
    web_socket.pull_shard(
        server.url, token=farm.issue(shard_hash, "PULL"), shard_hash=shard_hash, destination=out
    )
    assert out.getvalue() == HELLO


def test_failing_store_is_1011_and_leaves_no_temp_file(farm: Farm, server: ChannelServer) -> None:
    farm.fail_store = True
    token = farm.issue(HELLO_HASH, "PUSH", 13)
    with pytest.raises(FarmerError, match="close 1011"):
        web_socket.push_shard(
            server.url, token=token, shard_hash=HELLO_HASH, source=io.BytesIO(HELLO), size=13
        )
    assert farm.temp_files() == []
    assert farm.stored() == []
    assert farm.consumed == []
    assert farm.failures == [(1011, channel.MSG_UNEXPECTED)]


def test_missing_shard_is_1011(farm: Farm, server: ChannelServer) -> None:
    token = farm.issue(HELLO_HASH, "PULL")
    with pytest.raises(FarmerError, match="close 1011: Shard data not found"):
        web_socket.pull_shard(
            server.url, token=token, shard_hash=HELLO_HASH, destination=io.BytesIO()
        )
    assert farm.consumed == []


def test_frames_above_the_server_limit_are_refused(farm: Farm) -> None:
    data = os.urandom(4096)
    shard_hash = rmd160sha256_hex(data)
    token = farm.issue(shard_hash, "PUSH", len(data))
    with make_server(farm, max_frame_size=1024) as srv:
        with pytest.raises(FarmerError, match="close 1009"):
            web_socket.push_shard(
                srv.url,
                token=token,
                shard_hash=shard_hash,
                source=io.BytesIO(data),
                size=len(data),
                chunk_size=2048,
            )
        wait_until(lambda: len(farm.failures) == 1)
    assert farm.stored() == []
    assert farm.temp_files() == []


def test_short_source_is_a_transfer_error_and_stores_nothing(
    farm: Farm, server: ChannelServer
) -> None:
    token = farm.issue(HELLO_HASH, "PUSH", 13)
    with pytest.raises(TransferError, match="source ended after 5 of 13 bytes"):
        web_socket.push_shard(
            server.url, token=token, shard_hash=HELLO_HASH, source=io.BytesIO(HELLO[:5]), size=13
        )
    wait_until(lambda: len(farm.failures) == 1)
    assert farm.stored() == []
    assert farm.temp_files() == []


# ----------------------------------------------------------------------------- malicious peers


@pytest.mark.parametrize(
    "first",
    [
        b'{"token": "x"}',  # binary frame
        "[]",
        json.dumps({"hash": HELLO_HASH, "operation": "PUSH"}),
        json.dumps({"token": 5, "hash": HELLO_HASH, "operation": "PUSH"}),
        '{"token": "t", "hash": "../../etc/passwd", "operation": "PUSH"}',
        json.dumps({"token": "t", "hash": HELLO_HASH.upper(), "operation": "PUSH"}),
        json.dumps({"token": "t", "hash": HELLO_HASH + "\n", "operation": "PUSH"}),
        json.dumps({"token": "t", "hash": HELLO_HASH, "operation": "PUSH", "pad": "x" * 5000}),
    ],
)
def test_invalid_first_message_is_3100_before_any_callback(
    farm: Farm, server: ChannelServer, first: Any
) -> None:
    with raw_connect(server.url) as ws:
        ws.send(first)
        code, _ = raw_close(ws)
    assert code == 3100
    assert farm.calls == []
    assert farm.temp_files() == []


def test_extra_keys_in_the_request_are_ignored(farm: Farm, server: ChannelServer) -> None:
    # the 0.1.x SDK sent the whole pointer as the request
    shard_hash = farm.put(HELLO)
    token = farm.issue(shard_hash, "PULL")
    request = {"token": token, "hash": shard_hash, "operation": "PULL", "channel": server.url}
    with raw_connect(server.url) as ws:
        ws.send(json.dumps(request))
        assert ws.recv(timeout=2) == HELLO
        assert raw_close(ws) == (1000, "Consignment completed")


def test_text_frame_inside_a_push_is_3100(farm: Farm, server: ChannelServer) -> None:
    token = farm.issue(HELLO_HASH, "PUSH", 13)
    with raw_connect(server.url) as ws:
        ws.send(web_socket.channel_request(token, HELLO_HASH, "PUSH"))
        ws.send(b"Hello")
        ws.send("not binary")
        assert raw_close(ws) == (3100, channel.MSG_NOT_BINARY)
    wait_until(lambda: farm.failures == [(3100, channel.MSG_NOT_BINARY)])
    assert farm.temp_files() == []


@pytest.mark.parametrize("abrupt", [False, True])
def test_client_leaving_mid_push_leaves_nothing(
    farm: Farm, server: ChannelServer, abrupt: bool
) -> None:
    data = os.urandom(100_000)
    shard_hash = rmd160sha256_hex(data)
    token = farm.issue(shard_hash, "PUSH", len(data))
    with raw_connect(server.url) as ws:
        ws.send(web_socket.channel_request(token, shard_hash, "PUSH"))
        ws.send(data[:50_000])
        wait_until(lambda: len(farm.temp_files()) == 1)
        if abrupt:
            ws.socket.shutdown(socket.SHUT_RDWR)
            ws.close_socket()
        else:
            ws.close()
    wait_until(lambda: len(farm.failures) == 1)
    assert farm.temp_files() == []
    assert farm.stored() == []
    assert farm.consumed == []


def test_silent_client_hits_the_idle_timeout(farm: Farm) -> None:
    with make_server(farm, idle_timeout=0.3) as srv:
        started = time.monotonic()
        with raw_connect(srv.url) as ws:
            assert raw_close(ws) == (1011, channel.MSG_IDLE)
        assert time.monotonic() - started < SLOW_PEER_BOUND
        # idle in the middle of a push, too
        token = farm.issue(HELLO_HASH, "PUSH", 13)
        with raw_connect(srv.url) as ws:
            ws.send(web_socket.channel_request(token, HELLO_HASH, "PUSH"))
            ws.send(HELLO[:4])
            assert raw_close(ws) == (1011, channel.MSG_IDLE)
        wait_until(lambda: farm.failures == [(1011, channel.MSG_IDLE)])
    assert farm.temp_files() == []


def test_peer_that_never_finishes_the_handshake_is_dropped(farm: Farm) -> None:
    with make_server(farm, open_timeout=0.3) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=3) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never ends the headers
            started = time.monotonic()
            while sock.recv(4096):  # the server answers nothing useful and hangs up
                pass
            assert time.monotonic() - started < SLOW_PEER_BOUND


def test_client_that_stops_reading_a_pull_is_dropped(farm: Farm) -> None:
    data = os.urandom(12 * 1024 * 1024)
    shard_hash = farm.put(data)
    token = farm.issue(shard_hash, "PULL")
    with make_server(farm, idle_timeout=0.3, chunk_size=256 * 1024) as srv:
        with raw_connect(srv.url, max_queue=1, max_size=None) as ws:
            ws.send(web_socket.channel_request(token, shard_hash, "PULL"))
            # never read: the server's send must time out instead of hanging
            wait_until(lambda: len(farm.failures) == 1)
            ws.close_socket()
        started = time.monotonic()
    assert time.monotonic() - started < SLOW_PEER_BOUND  # stop() did not hang either
    assert farm.consumed == []


def test_stop_closes_open_connections_quickly(farm: Farm) -> None:
    srv = make_server(farm, idle_timeout=30).start()
    with raw_connect(srv.url) as ws:
        started = time.monotonic()
        srv.stop()
        assert time.monotonic() - started < SLOW_PEER_BOUND
        assert raw_close(ws)[0] == 1001
    assert not srv.running
    srv.stop()  # idempotent


def test_server_url_and_lifecycle(farm: Farm) -> None:
    srv = make_server(farm)
    assert srv.url == "ws://127.0.0.1:0"
    assert not farm.tmp.exists()  # no I/O before start()
    with srv:
        assert srv.running and srv.port > 0
        assert srv.url == f"ws://127.0.0.1:{srv.port}"
        assert farm.tmp.is_dir()


# ----------------------------------------------------------------------------- malicious farmers




def pull(url: str, *, size: int | None = 13, timeout: float = 2.0, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    web_socket.pull_shard(
        url,
        token=TOKEN,
        shard_hash=HELLO_HASH,
        destination=out,
        size=size,
        timeout=timeout,
        **kwargs,
    )
    return out.getvalue()


def test_fake_farmer_sends_the_right_bytes() -> None:
    def good(ws: ServerConnection, request: dict[str, Any]) -> None:
        assert request == {"token": TOKEN, "hash": HELLO_HASH, "operation": "PULL"}
        ws.send(HELLO[:6])
        ws.send(HELLO[6:])
        ws.close(1000, "Consignment completed")

    with FakeWebSocketPeer(good) as fake:
        assert pull(fake.url) == HELLO


def test_stalling_farmer_times_out() -> None:
    def stall(ws: ServerConnection, request: dict[str, Any]) -> None:
        ws.send(HELLO[:3])
        fake.release.wait(STALL)

    with FakeWebSocketPeer(stall) as fake:
        started = time.monotonic()
        with pytest.raises(FarmerTimeoutError, match="no data from the farmer for 0.3 s"):
            pull(fake.url, timeout=0.3)
        assert time.monotonic() - started < SLOW_PEER_BOUND


def test_farmer_that_never_confirms_a_push_times_out() -> None:
    def swallow(ws: ServerConnection, request: dict[str, Any]) -> None:
        ws.recv(timeout=STALL)
        fake.release.wait(STALL)

    with FakeWebSocketPeer(swallow) as fake:
        with pytest.raises(FarmerTimeoutError, match="did not confirm"):
            web_socket.push_shard(
                fake.url,
                token=TOKEN,
                shard_hash=HELLO_HASH,
                source=io.BytesIO(HELLO),
                size=13,
                timeout=0.3,
            )


class Zeros(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = len(buffer)
        buffer[:n] = bytes(n)
        return n


def test_farmer_that_stops_reading_a_push_times_out() -> None:
    def deaf(ws: ServerConnection, request: dict[str, Any]) -> None:
        fake.release.wait(STALL)

    with FakeWebSocketPeer(deaf) as fake:
        started = time.monotonic()
        with pytest.raises(FarmerTimeoutError, match="did not take the data"):
            web_socket.push_shard(
                fake.url,
                token=TOKEN,
                shard_hash=HELLO_HASH,
                source=Zeros(),
                size=512 * 1024 * 1024,
                chunk_size=1024 * 1024,
                timeout=0.3,
            )
        assert time.monotonic() - started < SLOW_PEER_BOUND


def test_farmer_sending_more_than_the_size_is_refused() -> None:
    def flood(ws: ServerConnection, request: dict[str, Any]) -> None:
        ws.send(HELLO)
        ws.send(b"more")
        ws.close(1000, "Consignment completed")

    with FakeWebSocketPeer(flood) as fake:
        with pytest.raises(HashMismatchError, match="more than the shard's 13 bytes"):
            pull(fake.url)
        with pytest.raises(FarmerError, match="more than 15 bytes"):
            pull(fake.url, size=None, max_size=15)


def test_flooding_farmer_is_dropped_at_once() -> None:
    def flood(ws: ServerConnection, request: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionClosed):
            for _ in range(256):
                ws.send(bytes(64 * 1024))

    with FakeWebSocketPeer(flood) as fake:
        started = time.monotonic()
        with pytest.raises(HashMismatchError, match="more than the shard's 13 bytes"):
            pull(fake.url, timeout=STALL)
        assert time.monotonic() - started < SLOW_PEER_BOUND


def test_farmer_sending_wrong_bytes_is_a_hash_mismatch() -> None:
    def liar(ws: ServerConnection, request: dict[str, Any]) -> None:
        ws.send(b"Hello, World!")
        ws.close(1000, "Consignment completed")

    with FakeWebSocketPeer(liar) as fake:
        with pytest.raises(HashMismatchError, match="the bytes hash to"):
            pull(fake.url)
        with pytest.raises(HashMismatchError, match="the bytes hash to"):
            pull(fake.url, size=None)


def test_farmer_closing_early_is_a_hash_mismatch() -> None:
    def short(ws: ServerConnection, request: dict[str, Any]) -> None:
        ws.send(HELLO[:5])
        ws.close(1000, "Consignment completed")

    with FakeWebSocketPeer(short) as fake:
        with pytest.raises(HashMismatchError, match="only 5 of 13 bytes"):
            pull(fake.url)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (3100, FarmerError),
        (3101, SuppliedTokenNotAcceptedError),
        (3102, HashMismatchError),
        (3103, FarmerError),
        (1011, FarmerError),
        (4321, FarmerError),
    ],
)
def test_farmer_close_codes_raise_typed_errors(code: int, cls: type[FarmerError]) -> None:
    def refuse(ws: ServerConnection, request: dict[str, Any]) -> None:
        ws.send(HELLO)  # even a complete shard does not count without a 1000 close
        ws.close(code, "because")

    with FakeWebSocketPeer(refuse) as fake:
        with pytest.raises(cls, match=f"close {code}: because") as info:
            pull(fake.url)
        assert type(info.value) is cls


def test_farmer_dropping_the_connection_is_a_farmer_error() -> None:
    def drop(ws: ServerConnection, request: dict[str, Any]) -> None:
        ws.send(HELLO[:3])
        ws.socket.shutdown(socket.SHUT_RDWR)

    with FakeWebSocketPeer(drop) as fake:
        with pytest.raises(FarmerError, match="without a close frame"):
            pull(fake.url)


def test_farmer_text_frame_and_huge_frame_are_refused() -> None:
    def text(ws: ServerConnection, request: dict[str, Any]) -> None:
        ws.send("hello")
        fake.release.wait(STALL)

    with FakeWebSocketPeer(text) as fake:
        with pytest.raises(FarmerError, match="text frame"):
            pull(fake.url)

    def huge(ws: ServerConnection, request: dict[str, Any]) -> None:
        ws.send(bytes(2048))
        fake2.release.wait(STALL)

    with FakeWebSocketPeer(huge) as fake2:
        with pytest.raises(FarmerError, match="closed by this client \\(close 1009"):
            pull(fake2.url, max_frame_size=1024)


def test_unreachable_or_foreign_peers() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    with pytest.raises(FarmerError, match="cannot open the data channel"):
        pull(f"ws://127.0.0.1:{free_port}")
    with pytest.raises(FarmerError, match="invalid data channel URL"):
        pull("http://127.0.0.1:1/shards")

    # an HTTP server (a current farmer) answers the upgrade with 404
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises(FarmerError, match="answered HTTP 404"):
            pull(f"ws://127.0.0.1:{port}")
        thread.join(2)

    # a peer that accepts TCP but never answers the handshake
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(FarmerTimeoutError, match="did not open within 0.3 s"):
            pull(f"ws://127.0.0.1:{port}", timeout=0.3)
        assert time.monotonic() - started < SLOW_PEER_BOUND

"""The legacy WebSocket data channel end to end (``bridge-protocol.md`` §6.6, issue 8).

A :class:`~storj.local.LocalNetwork` with ``legacy_channels``: every farmer serves a
data channel and registers it; the Bridge hands out ``channel`` pointers (``"only"``:
without ``farmer``, the pre-December-2016 shape); the download engine pulls them over
the channel with the same checks, replacements and Reed–Solomon recovery as HTTP.
Everything is on loopback; misbehaving channels are bounded by short timeouts.
"""

from __future__ import annotations

import io
import json
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from websockets.sync.server import ServerConnection

from storj import api, keys, web_socket
from storj.api import rmd160sha256_hex
from storj.exception import (
    FarmerError,
    FarmerTimeoutError,
    HashMismatchError,
    SuppliedTokenNotAcceptedError,
    TransferCancelledError,
    TransferError,
)
from storj.http import Client
from storj.local import LocalNetwork
from storj.local.bridge import BridgeConfig, BridgeServer
from storj.local.bridge.serialize import location_json
from storj.local.bridge.store import _SCHEMA_V1, SCHEMA_VERSION, Store
from storj.local.farmer import MSG_TOKEN_NOT_ACCEPTED, TokenError, registration_message
from storj.model import FilePointer, Shard
from storj.sharding import ShardHasher, new_challenges
from storj.transfer import TransferConfig, download_file, open_file
from storj.transfer.farmer_client import FarmerClient
from tests.helpers import wait_until
from tests.ws_peer import FakeWebSocketPeer

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
MNEMONIC = "abandon " * 11 + "about"
CHANNEL = re.compile(r"ws://127\.0\.0\.1:(\d+)")
#: Seconds a misbehaving fake peer stalls or drips (released early when its test ends).
STALL = 60.0
#: Seconds within which a client must have given up on a misbehaving peer: generous for
#: a busy machine, and below ``STALL`` and the idle timeouts of the tests, so a client
#: that waited for the peer instead of applying its rule would fail.
SLOW_PEER_BOUND = 20.0
HEX40 = re.compile(r"[0-9a-f]{40}")


# ----------------------------------------------------------------------------- helpers


class Env:
    """A running network, a user with a bucket, and scratch directories."""

    def __init__(self, network: LocalNetwork, tmp_path: Path) -> None:
        self.network = network
        self.email, self.password = network.create_user()
        self.client = Client(
            self.email, self.password, api_url=network.bridge_url, encryption_key=MNEMONIC
        )
        self.bucket = self.client.bucket_create("legacy").id
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()
        self.out = tmp_path / "out"
        self.out.mkdir()
        self.tmp_path = tmp_path

    def config(self, **options: Any) -> TransferConfig:
        return TransferConfig(tmp_dir=self.tmp, **options)

    def upload(self, size: int, name: str) -> tuple[str, bytes]:
        data = random.Random(f"{name}-{size}").randbytes(size)
        path = self.tmp_path / name
        path.write_bytes(data)
        entry = self.client.upload_file(self.bucket, path, name=name, config=self.config())
        return str(entry.id), data

    def holder(self, shard_hash: str) -> int:
        """Index of the (only) farmer holding ``shard_hash``."""
        holders = [i for i, f in enumerate(self.network.farmers) if f.has_shard(shard_hash)]
        assert len(holders) == 1, holders
        return holders[0]

    def raw_pointers(self, file_id: str, query: str = "") -> list[dict[str, Any]]:
        """``GET /buckets/:id/files/:file`` with Basic auth, as JSON."""
        auth = api.basic_auth_header(self.email, api.hash_password(self.password))
        with requests.Session() as session:
            session.trust_env = False
            response = session.get(
                f"{self.network.bridge_url}/buckets/{self.bucket}/files/{file_id}{query}",
                headers={"Authorization": auth},
                timeout=10,
            )
        assert response.status_code == 200, response.text
        return list(response.json())

    def assert_clean(self) -> None:
        assert list(self.tmp.iterdir()) == []
        assert [p.name for p in self.out.iterdir() if p.name.startswith(".")] == []


def network(tmp_path: Path, mode: bool | str, farmers: int = 4) -> LocalNetwork:
    # No background mirroring: each shard lives on exactly one farmer.
    return LocalNetwork(
        tmp_path / "net", farmers=farmers, legacy_channels=mode, mirror_redundancy=0
    )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with network(tmp_path, "only") as net:
        e = Env(net, tmp_path)
        yield e
        e.client.close()


@pytest.fixture
def pulls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record every channel pull (``None`` or its exception); forbid HTTP pulls."""
    record: list[Any] = []
    original = FarmerClient.pull_channel

    def pull_channel(self: FarmerClient, channel: str, *args: Any, **kwargs: Any) -> None:
        assert CHANNEL.fullmatch(channel), channel
        try:
            original(self, channel, *args, **kwargs)
        except Exception as exc:
            record.append(exc)
            raise
        record.append(None)

    def no_http(self: FarmerClient, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a channel-only pointer was pulled over HTTP")

    monkeypatch.setattr(FarmerClient, "pull_channel", pull_channel)
    monkeypatch.setattr(FarmerClient, "pull", no_http)
    return record


# ----------------------------------------------------------------------------- round trips


def test_sdk_round_trip_through_channel_only_pointers(env: Env, pulls: list[Any]) -> None:
    """Client.upload_file (HTTP) then Client.download_file over the data channels."""
    file_id, data = env.upload(3 * MIB + 5, "three.bin")  # 2 data + 2 parity shards
    pointers = list(env.client.file_pointers(env.bucket, file_id, skip=0, limit=6))
    assert [p.farmer for p in pointers] == [None] * 4
    assert all(CHANNEL.fullmatch(str(p.channel)) for p in pointers)

    target = env.out / "three.bin"
    entry = env.client.download_file(env.bucket, file_id, target, config=env.config())
    assert target.read_bytes() == data
    assert entry.plaintext_name == "three.bin"
    assert pulls == [None, None]  # the two data shards, parity not needed
    env.assert_clean()

    # The seekable reader uses the channels too (a read across the shard boundary).
    with open_file(env.client, env.bucket, file_id, config=env.config()) as reader:
        reader.seek(2 * MIB - 3)
        assert reader.read(8) == data[2 * MIB - 3 : 2 * MIB + 5]
    assert pulls == [None] * 4
    env.assert_clean()


def test_small_file_into_a_file_object(env: Env, pulls: list[Any]) -> None:
    file_id, data = env.upload(1000, "small.bin")
    out = io.BytesIO()
    download_file(env.client, env.bucket, file_id, out, config=env.config())
    assert out.getvalue() == data
    assert pulls == [None]


def test_web_socket_client_on_a_real_pointer(env: Env) -> None:
    """The documented ``storj.web_socket.Client(pointer, file_contents).run()``."""
    file_id, _ = env.upload(1000, "client.bin")
    (pointer,) = env.client.file_pointers(env.bucket, file_id, skip=0, limit=1)
    farmer = env.network.farmers[env.holder(pointer.hash)]
    assert pointer.channel == farmer.channel_url

    contents = io.BytesIO()
    assert web_socket.Client(pointer, contents).run() == 1000
    assert contents.getvalue() == farmer.shard_path(pointer.hash).read_bytes()
    assert rmd160sha256_hex(contents.getvalue()) == pointer.hash

    # Farmer tokens are single use: the same pointer again is refused with 3101.
    with pytest.raises(SuppliedTokenNotAcceptedError, match="close 3101"):
        web_socket.Client(pointer, io.BytesIO(), timeout=5).run()


# ----------------------------------------------------------------------------- the Bridge


def test_channel_only_pointer_exact_shape(env: Env) -> None:
    file_id, _ = env.upload(1000, "shape.bin")
    (pointer,) = env.raw_pointers(file_id)
    shard_hash = pointer["hash"]
    farmer = env.network.farmers[env.holder(shard_hash)]
    assert pointer == {
        "index": 0,
        "hash": shard_hash,
        "size": 1000,
        "parity": False,
        "token": pointer["token"],
        "channel": f"ws://127.0.0.1:{farmer.channel_url.rsplit(':', 1)[1]}",
        "operation": "PULL",
    }
    assert "farmer" not in pointer
    assert HEX40.fullmatch(pointer["token"])
    assert farmer.contact["channel"] == pointer["channel"]
    port = int(CHANNEL.fullmatch(pointer["channel"]).group(1))  # type: ignore[union-attr]
    assert port not in (farmer.port, 0)


def test_frames_answer_and_pointers_with_legacy_channels_true(tmp_path: Path) -> None:
    with network(tmp_path, True) as net:
        env = Env(net, tmp_path)
        file_id, data = env.upload(1000, "both.bin")
        (pointer,) = env.raw_pointers(file_id)
        farmer = net.farmers[env.holder(pointer["hash"])]
        assert set(pointer) == {
            "index",
            "hash",
            "size",
            "parity",
            "token",
            "farmer",
            "channel",
            "operation",
        }
        assert pointer["farmer"]["nodeID"] == farmer.node_id
        assert pointer["channel"] == farmer.channel_url

        # PUT /frames/:id: farmer (the upload needs it) and channel.
        frame = env.client.frame_create()
        challenges = new_challenges(2)
        hasher = ShardHasher(challenges)
        payload = b"Hello, Storj!"
        hasher.update(payload)
        digest = hasher.finish()
        shard = Shard(
            hash=digest.hash, size=13, index=0, challenges=digest.challenges, tree=digest.tree
        )
        answer = env.client.frame_add_shard(shard, frame.id)
        chosen = next(f for f in net.farmers if f.node_id == answer["farmer"]["nodeID"])
        assert answer["channel"] == chosen.channel_url
        assert set(answer) == {"hash", "token", "operation", "farmer", "channel"}

        # Push over the farmer's channel: stored, single-use token, size and hash checked.
        web_socket.push_shard(
            answer["channel"],
            token=answer["token"],
            shard_hash=digest.hash,
            source=io.BytesIO(payload),
            size=13,
            timeout=5,
        )
        assert chosen.shard_path(digest.hash).read_bytes() == payload
        with pytest.raises(SuppliedTokenNotAcceptedError):
            web_socket.push_shard(
                answer["channel"],
                token=answer["token"],
                shard_hash=digest.hash,
                source=io.BytesIO(payload),
                size=13,
                timeout=5,
            )
        store = net.bridge.services.store  # type: ignore[union-attr]
        wait_until(
            lambda: any(
                r["result_message"] == "SHARD_UPLOADED" and r["reporter_id"] == chosen.node_id
                for r in store.reports(digest.hash)
            )
        )
        # The HTTP path still works on the same network.
        net.bridge.config.legacy_channels = False  # type: ignore[union-attr]
        (plain,) = env.raw_pointers(file_id)
        assert "channel" not in plain and "farmer" in plain
        out = io.BytesIO()
        download_file(env.client, env.bucket, file_id, out, config=env.config())
        assert out.getvalue() == data
        env.client.close()


@pytest.mark.parametrize(
    ("sent", "message"),
    [(b"Hello, Storj?", "failed integrity"), (b"Hello, Storj!!", "failed integrity")],
)
def test_farmer_channel_checks_hash_and_contract_size(
    tmp_path: Path, sent: bytes, message: str
) -> None:
    with network(tmp_path, True, farmers=1) as net:
        env = Env(net, tmp_path)
        frame = env.client.frame_create()
        hasher = ShardHasher(new_challenges(1))
        hasher.update(b"Hello, Storj!")
        digest = hasher.finish()
        shard = Shard(
            hash=digest.hash, size=13, index=0, challenges=digest.challenges, tree=digest.tree
        )
        answer = env.client.frame_add_shard(shard, frame.id)
        with pytest.raises(HashMismatchError, match="close 3102"):
            web_socket.push_shard(
                answer["channel"],
                token=answer["token"],
                shard_hash=digest.hash,
                source=io.BytesIO(sent),
                size=len(sent),
                timeout=5,
            )
        farmer = net.farmers[0]
        assert not farmer.has_shard(digest.hash)
        assert list((farmer.data_dir / "tmp").iterdir()) == []
        store = net.bridge.services.store  # type: ignore[union-attr]
        wait_until(
            lambda: (
                [r["result_message"] for r in store.reports(digest.hash)] == ["FAILED_INTEGRITY"]
            )
        )
        env.client.close()


def test_location_json_modes() -> None:
    contact = {
        "node_id": "a" * 40,
        "address": "127.0.0.1",
        "port": 4001,
        "protocol": "1.2.0",
        "user_agent": "x",
        "last_seen": 1,
        "channel": "ws://127.0.0.1:4002",
    }
    farmer = {
        "userAgent": "x",
        "protocol": "1.2.0",
        "address": "127.0.0.1",
        "port": 4001,
        "nodeID": "a" * 40,
        "lastSeen": 1,
    }
    assert location_json(contact, False) == {"farmer": farmer}
    assert location_json(contact, True) == {"farmer": farmer, "channel": "ws://127.0.0.1:4002"}
    assert location_json(contact, "only") == {"channel": "ws://127.0.0.1:4002"}
    assert location_json(contact, "only", keep_farmer=True) == {
        "farmer": farmer,
        "channel": "ws://127.0.0.1:4002",
    }
    no_channel = {**contact, "channel": None}
    assert location_json(no_channel, "only") == {"farmer": farmer}
    with pytest.raises(ValueError, match="legacy_channels"):
        BridgeConfig(data_dir="x", legacy_channels="sometimes").validate()


def signed(bridge_url: str, method: str, path: str, body: dict[str, Any], private: Any) -> Any:
    """A farmer-signed ``POST /contacts`` / ``PATCH /contacts/:id`` (§2.7)."""
    raw = json.dumps(body).encode()
    url = bridge_url + path
    timestamp = int(time.time() * 1000)
    headers = {
        "Content-Type": "application/json",
        "x-node-id": keys.node_id(private),
        "x-node-pubkey": keys.public_key_hex(private),
        "x-node-timestamp": str(timestamp),
        "x-node-signature": keys.sign(private, registration_message(method, url, timestamp, raw)),
    }
    with requests.Session() as session:
        session.trust_env = False
        return session.request(method, url, data=raw, headers=headers, timeout=10)


def test_contact_channel_registration_rules(tmp_path: Path) -> None:
    config = BridgeConfig(data_dir=tmp_path / "bridge", control_secret="s" * 32)
    with BridgeServer(config) as bridge:
        private = keys.load_private_key(keys.private_key_hex(keys.generate_new_key_pair()[0]))
        node_id = keys.node_id(private)
        base = {"address": "127.0.0.1", "port": 4001, "protocol": "1.2.0", "userAgent": "t"}
        for bad in (
            "ws://127.0.0.2:4002",  # another host
            "wss://127.0.0.1:4002",
            "ws://127.0.0.1:4002/path",
            "ws://user@127.0.0.1:4002",
            "ws://127.0.0.1",
            "ws://127.0.0.1:0",
            "ws://127.0.0.1:65536",
            4002,
        ):
            answer = signed(bridge.url, "POST", "/contacts", {**base, "channel": bad}, private)
            assert answer.status_code == 400, bad
            assert answer.json() == {
                "error": "Invalid channel: expected ws://<address>:<port> on the contact's address"
            }
        store = bridge.services.store

        def channel() -> Any:
            row = store.get_contact(node_id)
            return None if row is None else row["channel"]

        ok = signed(
            bridge.url, "POST", "/contacts", {**base, "channel": "ws://127.0.0.1:4002"}, private
        )
        assert ok.status_code == 200
        assert ok.json() == {"nodeID": node_id, "address": "127.0.0.1", "port": 4001}
        assert channel() == "ws://127.0.0.1:4002"
        # PATCH to a new channel port; then the address moves: the old channel is dropped.
        patch = f"/contacts/{node_id}"
        assert (
            signed(
                bridge.url, "PATCH", patch, {"channel": "ws://127.0.0.1:4003"}, private
            ).status_code
            == 201
        )
        assert channel() == "ws://127.0.0.1:4003"
        assert (
            signed(bridge.url, "PATCH", patch, {"address": "localhost"}, private).status_code == 201
        )
        assert channel() is None
        assert (
            signed(
                bridge.url, "PATCH", patch, {"channel": "ws://LOCALHOST:4004"}, private
            ).status_code
            == 201
        )
        assert channel() == "ws://LOCALHOST:4004"
        assert signed(bridge.url, "PATCH", patch, {"channel": None}, private).status_code == 201
        assert channel() is None
        # A re-registration without a channel forgets it.
        signed(bridge.url, "POST", "/contacts", {**base, "channel": "ws://127.0.0.1:4002"}, private)
        assert channel() == "ws://127.0.0.1:4002"
        assert signed(bridge.url, "POST", "/contacts", base, private).status_code == 200
        assert channel() is None


def test_store_migrates_a_version_1_database(tmp_path: Path) -> None:
    path = tmp_path / "bridge.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(_SCHEMA_V1)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version (version) VALUES (1)")
    conn.execute(
        "INSERT INTO contacts (node_id, address, port, protocol, user_agent, last_seen, created)"
        " VALUES ('n', '127.0.0.1', 4001, '1.2.0', 'x', 1, 1)"
    )
    conn.commit()
    conn.close()
    assert SCHEMA_VERSION >= 2
    store = Store(path).open()
    try:
        contact = store.get_contact("n")
        assert contact is not None and contact["channel"] is None
        assert store.update_contact("n", channel="ws://127.0.0.1:4002")["channel"] == (  # type: ignore[index]
            "ws://127.0.0.1:4002"
        )
    finally:
        store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    conn.close()


# ----------------------------------------------------------------------------- failures


def refuse_tokens(network: LocalNetwork, how_many: int | None) -> list[str]:
    """Make the farmers refuse the next ``how_many`` PULL tokens (``None``: all)."""
    refused: list[str] = []
    lock = threading.Lock()
    for farmer in network.farmers:
        original = farmer.tokens.check

        def check(token: Any, data_hash: Any, operation: str, original: Any = original) -> Any:
            with lock:
                if operation == "PULL" and (how_many is None or len(refused) < how_many):
                    refused.append(str(token))
                    raise TokenError(MSG_TOKEN_NOT_ACCEPTED)
            return original(token, data_hash, operation)

        farmer.tokens.check = check  # type: ignore[method-assign]
    return refused


def test_refused_token_is_replaced(env: Env, pulls: list[Any]) -> None:
    file_id, data = env.upload(1000, "refused.bin")
    refused = refuse_tokens(env.network, 1)
    target = env.out / "refused.bin"
    env.client.download_file(env.bucket, file_id, target, config=env.config())
    assert target.read_bytes() == data
    assert len(refused) == 1
    assert len(pulls) == 2
    assert isinstance(pulls[0], SuppliedTokenNotAcceptedError) and "close 3101" in str(pulls[0])
    assert pulls[1] is None
    env.assert_clean()


def test_always_refused_token_fails_typed_without_partial_file(env: Env, pulls: list[Any]) -> None:
    file_id, _ = env.upload(1000, "never.bin")
    refused = refuse_tokens(env.network, None)
    target = env.out / "never.bin"
    started = time.monotonic()
    with pytest.raises(TransferError, match="could not be downloaded from any farmer"):
        env.client.download_file(
            env.bucket, file_id, target, config=env.config(pointer_replacements=2)
        )
    assert time.monotonic() - started < 10
    assert len(refused) == 3  # the first pointer and two replacements
    assert [type(p) for p in pulls] == [SuppliedTokenNotAcceptedError] * 3
    assert not target.exists()
    env.assert_clean()


def upload_recoverable(env: Env) -> tuple[str, bytes, int]:
    """Upload a 2 + 2 shard file and pick a farmer holding a data shard whose loss the
    parity can cover (it holds at most two of the four shards)."""
    for attempt in range(5):
        file_id, data = env.upload(3 * MIB + 5, f"rs-{attempt}.bin")
        hashes = [p["hash"] for p in env.raw_pointers(file_id, "?skip=0&limit=6")]
        owners = [env.holder(h) for h in hashes]
        for index in owners[:2]:
            if owners.count(index) <= 2:
                return file_id, data, index
    raise AssertionError("no recoverable layout in 5 uploads")


def test_reed_solomon_recovery_when_a_channel_farmer_is_stopped(env: Env, pulls: list[Any]) -> None:
    file_id, data, victim = upload_recoverable(env)
    env.network.stop_farmer(victim)
    target = env.out / "rs.bin"
    env.client.download_file(env.bucket, file_id, target, config=env.config())
    assert target.read_bytes() == data
    env.assert_clean()


def test_reed_solomon_recovery_when_only_the_channel_is_down(env: Env, pulls: list[Any]) -> None:
    """The farmer still answers the Bridge (tokens are issued) but its channel refuses
    connections: the pointer is asked for again, within the replacement budget, then
    the shard is rebuilt from parity."""
    file_id, data, victim = upload_recoverable(env)
    farmer = env.network.farmers[victim]
    farmer._state.channel.stop()  # type: ignore[union-attr]
    target = env.out / "rs.bin"
    env.client.download_file(env.bucket, file_id, target, config=env.config(pointer_replacements=1))
    assert target.read_bytes() == data
    failures = [p for p in pulls if p is not None]
    assert failures and all(type(p) is FarmerError for p in failures)
    assert all("cannot open the data channel" in str(p) for p in failures)
    env.assert_clean()


# ----------------------------------------------------------------------------- malicious peers




def divert_first_listing(monkeypatch: pytest.MonkeyPatch, client: Client, url: str) -> None:
    """The first pointer listing sends every shard to ``url``; later ones are genuine."""
    original = client.file_pointers
    calls = []

    def file_pointers(*args: Any, **kwargs: Any) -> Iterator[FilePointer]:
        pointers = list(original(*args, **kwargs))
        calls.append(kwargs)
        if len(calls) == 1:
            pointers = [FilePointer.from_json({**p.to_json(), "channel": url}) for p in pointers]
        return iter(pointers)

    monkeypatch.setattr(client, "file_pointers", file_pointers)


def oversized(ws: ServerConnection, request: dict[str, Any]) -> None:
    ws.send(bytes(2 * MIB))  # over the client's 1 MiB frame limit


def early_close(ws: ServerConnection, request: dict[str, Any]) -> None:
    ws.send(b"x" * 100)
    ws.socket.close()  # no close frame (1006)


def wrong_bytes(ws: ServerConnection, request: dict[str, Any]) -> None:
    ws.send(bytes(1000))
    ws.close(1000, "Consignment completed")


def too_many_bytes(ws: ServerConnection, request: dict[str, Any]) -> None:
    ws.send(bytes(1001))
    ws.close(1000, "Consignment completed")


def refuses(ws: ServerConnection, request: dict[str, Any]) -> None:
    ws.close(3101, "The supplied token is not accepted")


def unexpected(ws: ServerConnection, request: dict[str, Any]) -> None:
    ws.close(1011, "Unexpected error")


@pytest.mark.parametrize(
    ("behaviour", "error", "text"),
    [
        (oversized, FarmerError, "1009"),
        (early_close, FarmerError, "1006"),
        (wrong_bytes, HashMismatchError, "hash to"),
        (too_many_bytes, HashMismatchError, "more than the shard's 1000 bytes"),
        (refuses, SuppliedTokenNotAcceptedError, "close 3101"),
        (unexpected, FarmerError, "close 1011"),
    ],
)
def test_malicious_channel_is_replaced(
    env: Env,
    pulls: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    behaviour: Callable[[ServerConnection, dict[str, Any]], None],
    error: type[Exception],
    text: str,
) -> None:
    file_id, data = env.upload(1000, "victim.bin")
    with FakeWebSocketPeer(behaviour) as fake:
        divert_first_listing(monkeypatch, env.client, fake.url)
        started = time.monotonic()
        out = env.out / "victim.bin"
        env.client.download_file(env.bucket, file_id, out, config=env.config(timeout=10))
        assert time.monotonic() - started < SLOW_PEER_BOUND
        assert fake.connections == 1
    assert out.read_bytes() == data
    assert type(pulls[0]) is error and text in str(pulls[0]), pulls[0]
    assert pulls[1:] == [None]
    env.assert_clean()


def test_stalling_channel_times_out_and_is_replaced(
    env: Env, pulls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    file_id, data = env.upload(1000, "stall.bin")

    def stall(ws: ServerConnection, request: dict[str, Any]) -> None:
        ws.send(b"x" * 10)
        fake.release.wait(STALL)

    with FakeWebSocketPeer(stall) as fake:
        divert_first_listing(monkeypatch, env.client, fake.url)
        out = env.out / "stall.bin"
        started = time.monotonic()
        env.client.download_file(env.bucket, file_id, out, config=env.config(timeout=2))
        assert time.monotonic() - started < SLOW_PEER_BOUND
    assert out.read_bytes() == data
    assert isinstance(pulls[0], FarmerTimeoutError) and pulls[1:] == [None]


def test_dripping_channel_hits_the_low_speed_rule(
    env: Env, pulls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    file_id, data = env.upload(1000, "drip.bin")

    def drip(ws: ServerConnection, request: dict[str, Any]) -> None:
        # one byte every 0.1 s (10 B/s, slower still on a busy machine): never idle,
        # far too slow; until the client gives up or the test ends
        for _ in range(int(STALL * 10)):
            if fake.release.wait(0.1):
                return
            ws.send(b"x")

    with FakeWebSocketPeer(drip) as fake:
        divert_first_listing(monkeypatch, env.client, fake.url)
        out = env.out / "drip.bin"
        started = time.monotonic()
        # the genuine farmer only has to move 200 of its 1000 bytes within 2 s
        config = env.config(timeout=10, low_speed_limit=100, low_speed_time=2)
        env.client.download_file(env.bucket, file_id, out, config=config)
        assert time.monotonic() - started < SLOW_PEER_BOUND
    assert out.read_bytes() == data
    assert isinstance(pulls[0], FarmerTimeoutError) and "B/s" in str(pulls[0])


def test_cancel_interrupts_a_stalled_channel(
    env: Env, pulls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    file_id, _ = env.upload(1000, "cancel.bin")

    def stall(ws: ServerConnection, request: dict[str, Any]) -> None:
        cancel.set()  # the client has sent its request and now waits for data
        fake.release.wait(STALL)

    cancel = threading.Event()
    with FakeWebSocketPeer(stall) as fake:
        divert_first_listing(monkeypatch, env.client, fake.url)
        out = env.out / "cancel.bin"
        started = time.monotonic()
        with pytest.raises(TransferCancelledError):
            env.client.download_file(
                env.bucket, file_id, out, config=env.config(timeout=STALL), cancel=cancel
            )
        assert time.monotonic() - started < SLOW_PEER_BOUND
        assert fake.connections == 1  # cancelled while the stalled channel was open
    assert not out.exists()
    env.assert_clean()


def test_pull_shard_cancel_and_low_speed_arguments() -> None:
    """``storj.web_socket.pull_shard``'s ``cancel`` and low-speed rule, without the engine."""

    def stall(ws: ServerConnection, request: dict[str, Any]) -> None:
        ws.send(b"x")
        cancel.set()  # the first pull is now waiting for more (the second has no cancel)
        fake.release.wait(STALL)

    cancel = threading.Event()
    with FakeWebSocketPeer(stall) as fake:
        started = time.monotonic()
        with pytest.raises(TransferCancelledError, match="cancelled"):
            web_socket.pull_shard(
                fake.url,
                token="ab" * 20,
                shard_hash="d4b0d0d0d8f9c4be812d210a9f6d6caf954ce223",
                destination=io.BytesIO(),
                size=13,
                timeout=30,
                cancel=cancel,
            )
        assert time.monotonic() - started < SLOW_PEER_BOUND
        started = time.monotonic()
        with pytest.raises(FarmerTimeoutError, match="less than 100 B/s for 0.3 s"):
            web_socket.pull_shard(
                fake.url,
                token="ab" * 20,
                shard_hash="d4b0d0d0d8f9c4be812d210a9f6d6caf954ce223",
                destination=io.BytesIO(),
                size=13,
                timeout=30,
                low_speed_limit=100,
                low_speed_time=0.3,
            )
        assert time.monotonic() - started < SLOW_PEER_BOUND
    for bad in ({"low_speed_limit": -1}, {"low_speed_time": 0}):
        with pytest.raises(ValueError, match="low_speed"):
            web_socket.pull_shard(
                "ws://127.0.0.1:1",
                token="ab" * 20,
                shard_hash="d4b0d0d0d8f9c4be812d210a9f6d6caf954ce223",
                destination=io.BytesIO(),
                **bad,  # type: ignore[arg-type]
            )

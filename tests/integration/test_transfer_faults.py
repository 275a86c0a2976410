"""Failures during transfers against the real local network: farmers that die or hold bad
bytes, shards that are gone, a Bridge that fails, cancel. After every failure there must
be no temporary file, no partial destination file and no frame left behind.
"""

from __future__ import annotations

import json
import random
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from storj import crypto
from storj.exception import (
    RateLimitError,
    TransferCancelledError,
    TransferError,
)
from storj.http import Client
from storj.local import LocalNetwork
from storj.local.pytest_plugin import storj_network, storj_user  # noqa: F401 (fixtures)
from storj.transfer import ShardLayout, TransferConfig, download_file, upload_file
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
MNEMONIC = "abandon " * 11 + "about"


class BridgeProxy:
    """A loopback HTTP proxy in front of the Bridge that can fail chosen requests.

    ``fail(method, pattern, status, times, forward=False)``: the next ``times`` requests
    whose method and path match answer ``status``; with ``forward`` the request first
    reaches the Bridge (an answer lost after the Bridge acted).
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rules: list[dict] = []
        self.log: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()
        http = requests.Session()
        http.trust_env = False
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                rule = proxy.take(self.command, self.path)
                status, payload, ctype = None, b"", "application/json"
                if rule is None or rule["forward"]:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    answer = http.request(
                        self.command, proxy.upstream + self.path, data=body, headers=headers
                    )
                    status, payload = answer.status_code, answer.content
                    ctype = answer.headers.get("Content-Type", ctype)
                if rule is not None:
                    status = rule["status"]
                    payload = json.dumps({"error": "injected failure"}).encode()
                    ctype = "application/json"
                proxy.log.append((self.command, self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail(self, method: str, pattern: str, status: int, times: int = 1, forward=False):
        self.rules.append(
            {
                "method": method,
                "re": re.compile(pattern),
                "status": status,
                "left": times,
                "forward": forward,
            }
        )

    def take(self, method: str, path: str):
        with self.lock:
            for rule in self.rules:
                if rule["left"] and rule["method"] == method and rule["re"].search(path):
                    rule["left"] -= 1
                    return rule
        return None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Env:
    def __init__(self, network, tmp_path: Path, api_url: str | None = None) -> None:
        email, password = network.create_user()
        self.network = network
        self.client = Client(
            email, password, api_url=api_url or network.bridge_url, encryption_key=MNEMONIC
        )
        self.key = crypto.EncryptionKey(MNEMONIC)
        self.bucket = self.client.bucket_create("faults").id
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir(exist_ok=True)
        self.out = tmp_path / "out"
        self.out.mkdir(exist_ok=True)
        self.tmp_path = tmp_path

    def config(self, **kw) -> TransferConfig:
        return TransferConfig(tmp_dir=self.tmp, **kw)

    def source(self, size: int, name: str = "source.bin") -> tuple[Path, bytes]:
        data = random.Random(size).randbytes(size)
        path = self.tmp_path / name
        path.write_bytes(data)
        return path, data

    def holders(self, shard_hash: str) -> list[Path]:
        paths = [f.shard_path(shard_hash) for f in self.network.farmers]
        return [p for p in paths if p.is_file()]

    def pointers(self, file_id: str) -> list:
        return list(self.client.file_pointers(self.bucket, file_id, skip=0, limit=100))

    def assert_clean(self) -> None:
        assert list(self.tmp.iterdir()) == []
        assert list(self.out.iterdir()) == []


@pytest.fixture
def lonely(tmp_path):
    """A network whose Bridge keeps exactly one copy of each shard (no mirrors)."""
    network = LocalNetwork(tmp_path / "net", 4, mirror_redundancy=0)
    network.start()
    try:
        yield Env(network, tmp_path)
    finally:
        network.stop()


@pytest.fixture
def env(storj_network, tmp_path):  # noqa: F811
    return Env(storj_network, tmp_path)


# --------------------------------------------------------------------------- upload


def test_stopped_farmer_before_upload(env):
    env.network.stop_farmer(0)
    path, data = env.source(5 * MIB)
    entry = upload_file(env.client, env.bucket, path, name="a.bin", config=env.config())
    target = env.out / "a.bin"
    download_file(env.client, env.bucket, entry.id, target, config=env.config())
    assert target.read_bytes() == data
    dead = env.network.farmers[0]
    assert not any(dead.shard_path(p.hash).exists() for p in env.pointers(entry.id))


def test_farmer_dying_after_the_contract_is_excluded_and_renegotiated(env, monkeypatch):
    real = env.client.frame_add_shard
    calls = []
    killed = []

    def negotiate(shard, frame_id, exclude=None):
        answer = real(shard, frame_id, exclude=exclude)
        calls.append((shard.index, list(exclude or []), answer["farmer"]["nodeID"]))
        if not killed:  # the first farmer offered dies before the shard reaches it
            index = [f.node_id for f in env.network.farmers].index(answer["farmer"]["nodeID"])
            env.network.stop_farmer(index)
            killed.append(answer["farmer"]["nodeID"])
        return answer

    monkeypatch.setattr(env.client, "frame_add_shard", negotiate)
    reports = []
    real_report = env.client.exchange_report_send
    monkeypatch.setattr(
        env.client, "exchange_report_send", lambda r: (reports.append(r), real_report(r))
    )
    path, data = env.source(1000)
    upload_file(env.client, env.bucket, path, name="b.bin", config=env.config())
    assert [c[1] for c in calls] == [[], killed]
    assert calls[1][2] != killed[0]
    assert [(r["exchangeResultMessage"], r["farmerId"]) for r in reports] == [
        ("TRANSFER_FAILED", killed[0]),
        ("SHARD_UPLOADED", calls[1][2]),
    ]
    assert all(r["reporterId"] == env.client.email for r in reports)
    env.assert_clean()


def test_upload_gives_up_after_max_push_attempts_and_deletes_the_frame(env, monkeypatch):
    from storj.exception import FarmerError
    from storj.transfer import farmer_client

    def refuse(self, farmer, *args, **kwargs):
        raise FarmerError("refused", node_id=farmer.node_id)

    monkeypatch.setattr(farmer_client.FarmerClient, "push", refuse)
    frames = {f.id for f in env.client.frame_list()}
    path, _ = env.source(3000)
    with pytest.raises(TransferError, match="after 3 farmers failed"):
        upload_file(
            env.client, env.bucket, path, name="c.bin", config=env.config(max_push_attempts=3)
        )
    assert {f.id for f in env.client.frame_list()} == frames
    env.assert_clean()


# ------------------------------------------------------------------------- download


def test_corrupt_copies_are_replaced_by_good_ones(env):
    path, data = env.source(3 * MIB)
    entry = upload_file(
        env.client, env.bucket, path, name="d.bin", config=env.config(erasure=False)
    )
    pointers = env.pointers(entry.id)
    for p in pointers:  # wait for the Bridge's automatic mirrors (at least 2 copies)
        wait_until(lambda p=p: len(env.holders(p.hash)) >= 2, message="a mirror copy")
        copies = env.holders(p.hash)
        assert len(copies) >= 2
        for copy in copies[:-1]:  # keep one good copy
            raw = bytearray(copy.read_bytes())
            raw[len(raw) // 2] ^= 0xFF
            copy.write_bytes(bytes(raw))
    target = env.out / "d.bin"
    download_file(env.client, env.bucket, entry.id, target, config=env.config())
    assert target.read_bytes() == data


def test_corrupt_shard_without_other_copy_is_rebuilt_from_parity(lonely):
    env = lonely
    path, data = env.source(5 * MIB + 17)
    entry = upload_file(env.client, env.bucket, path, name="e.bin", config=env.config())
    (copy,) = env.holders(env.pointers(entry.id)[1].hash)
    copy.write_bytes(b"\0" * copy.stat().st_size)
    target = env.out / "e.bin"
    download_file(env.client, env.bucket, entry.id, target, config=env.config())
    assert target.read_bytes() == data


@pytest.mark.parametrize("gone", ["data", "mixed"])
def test_up_to_parity_shards_gone_are_rebuilt(lonely, gone):
    env = lonely
    size = 10 * MIB + 5
    layout = ShardLayout.plan(size)
    assert (layout.data_shards, layout.parity_shards) == (6, 4)
    path, data = env.source(size)
    entry = upload_file(env.client, env.bucket, path, name="f.bin", config=env.config())
    pointers = env.pointers(entry.id)
    victims = [0, 2, 4, 5] if gone == "data" else [1, 5, 6, 9]  # 5 = the short last shard
    for i in victims:
        for copy in env.holders(pointers[i].hash):
            copy.unlink()
    calls = []
    target = env.out / "f.bin"
    download_file(
        env.client,
        env.bucket,
        entry.id,
        target,
        config=env.config(),
        progress=lambda d, t: calls.append((d, t)),
    )
    assert target.read_bytes() == data
    assert calls[-1] == (size, size)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert list(env.tmp.iterdir()) == []


def test_more_shards_gone_than_parity_fails_without_partial_file(lonely):
    env = lonely
    path, _ = env.source(10 * MIB + 5)
    entry = upload_file(env.client, env.bucket, path, name="g.bin", config=env.config())
    pointers = env.pointers(entry.id)
    for i in [0, 1, 2, 3, 6]:  # 4 data + 1 parity: 5 > 4
        for copy in env.holders(pointers[i].hash):
            copy.unlink()
    target = env.out / "g.bin"
    with pytest.raises(TransferError, match="too few shards|could not be downloaded"):
        download_file(
            env.client, env.bucket, entry.id, target, config=env.config(pointer_replacements=1)
        )
    env.assert_clean()


def test_missing_shard_without_parity_is_a_typed_error(lonely):
    env = lonely
    path, _ = env.source(3 * MIB)
    entry = upload_file(
        env.client, env.bucket, path, name="h.bin", config=env.config(erasure=False)
    )
    for copy in env.holders(env.pointers(entry.id)[1].hash):
        copy.unlink()
    target = env.out / "h.bin"
    with pytest.raises(TransferError, match="no parity"):
        download_file(env.client, env.bucket, entry.id, target, config=env.config())
    env.assert_clean()


def test_ranged_reader_falls_back_to_parity(lonely):
    env = lonely
    path, data = env.source(5 * MIB)
    entry = upload_file(env.client, env.bucket, path, name="r.bin", config=env.config())
    for copy in env.holders(env.pointers(entry.id)[2].hash):
        copy.unlink()
    with env.client.open_file(env.bucket, entry.id, config=env.config()) as reader:
        reader.seek(4 * MIB + 3)
        assert reader.read(100) == data[4 * MIB + 3 : 4 * MIB + 103]
        reader.seek(10)
        assert reader.read(10) == data[10:20]
    assert list(env.tmp.iterdir()) == []


# --------------------------------------------------------------------------- bridge


@pytest.fixture
def proxied(storj_network, tmp_path):  # noqa: F811
    proxy = BridgeProxy(storj_network.bridge_url)
    try:
        yield Env(storj_network, tmp_path, api_url=proxy.url), proxy
    finally:
        proxy.close()


def test_bridge_errors_then_success_during_upload_and_download(proxied):
    env, proxy = proxied
    proxy.fail("POST", r"^/frames$", 500)
    proxy.fail("PUT", r"^/frames/", 503, times=2)
    proxy.fail("POST", r"^/buckets/[0-9a-f]+/files$", 500)
    proxy.fail("GET", r"/info$", 500)
    proxy.fail("GET", r"/files/[0-9a-f]{24}\?", 502)
    path, data = env.source(3 * MIB)
    entry = upload_file(env.client, env.bucket, path, name="p.bin", config=env.config())
    target = env.out / "p.bin"
    download_file(env.client, env.bucket, entry.id, target, config=env.config())
    assert target.read_bytes() == data
    assert all(rule["left"] == 0 for rule in proxy.rules)


def test_entry_created_but_answer_lost_is_recovered(proxied):
    env, proxy = proxied
    proxy.fail("POST", r"^/buckets/[0-9a-f]+/files$", 500, forward=True)
    path, data = env.source(4000)
    entry = upload_file(env.client, env.bucket, path, name="lost.bin", config=env.config())
    assert entry.id == env.client.file_id_by_name(
        env.bucket, crypto.encrypt_file_name(env.key, env.bucket, "lost.bin")
    )
    target = env.out / "lost.bin"
    download_file(env.client, env.bucket, entry.id, target, config=env.config())
    assert target.read_bytes() == data


def test_transfer_rate_limit_aborts_at_once(proxied):
    env, proxy = proxied
    proxy.fail("PUT", r"^/frames/", 420, times=100)
    frames = {f.id for f in env.client.frame_list()}
    path, _ = env.source(3 * MIB)
    with pytest.raises(RateLimitError):
        upload_file(env.client, env.bucket, path, name="rl.bin", config=env.config())
    assert sum(1 for m, p, s in proxy.log if m == "PUT" and s == 420) <= 4  # no retries
    assert {f.id for f in env.client.frame_list()} == frames
    env.assert_clean()


# --------------------------------------------------------------------------- cancel


def test_cancel_upload_mid_transfer(env):
    cancel = threading.Event()
    frames = {f.id for f in env.client.frame_list()}
    path, _ = env.source(24 * MIB)
    calls = []

    def progress(done, total):
        calls.append(done)
        if done > 0:
            cancel.set()

    with pytest.raises(TransferCancelledError):
        upload_file(
            env.client,
            env.bucket,
            path,
            name="x.bin",
            config=env.config(shard_concurrency=1),
            progress=progress,
            cancel=cancel,
        )
    assert calls and calls[-1] < ShardLayout.plan(24 * MIB).upload_bytes
    assert {f.id for f in env.client.frame_list()} == frames
    with pytest.raises(Exception):  # noqa: B017 - not stored
        env.client.file_id_by_name(
            env.bucket, crypto.encrypt_file_name(env.key, env.bucket, "x.bin")
        )
    env.assert_clean()


def test_cancel_before_start_and_during_download(env):
    cancel = threading.Event()
    cancel.set()
    path, _ = env.source(2000)
    with pytest.raises(TransferCancelledError):
        upload_file(env.client, env.bucket, path, name="y.bin", config=env.config(), cancel=cancel)
    env.assert_clean()

    path, _ = env.source(20 * MIB, "big.bin")
    entry = upload_file(env.client, env.bucket, path, name="z.bin", config=env.config())
    cancel = threading.Event()

    def progress(done, total):
        if done > 0:
            cancel.set()

    target = env.out / "z.bin"
    with pytest.raises(TransferCancelledError):
        download_file(
            env.client,
            env.bucket,
            entry.id,
            target,
            config=env.config(shard_concurrency=1),
            progress=progress,
            cancel=cancel,
        )
    env.assert_clean()


def test_a_used_token_is_renewed_without_excluding_the_only_holder(lonely):
    env = lonely
    path, data = env.source(3 * MIB)
    entry = upload_file(env.client, env.bucket, path, name="t.bin", config=env.config())
    reports = []
    real_report = env.client.exchange_report_send
    env.client.exchange_report_send = lambda r: (reports.append(r), real_report(r))
    with env.client.open_file(env.bucket, entry.id, config=env.config()) as reader:
        first = reader._data[0]  # the listing's pointer: its single-use token is spent here
        farmer = first.farmer
        url = f"http://{farmer.address}:{farmer.port}/shards/{first.hash}?token={first.token}"
        assert requests.get(url, timeout=10).status_code == 200
        assert reader.read(1000) == data[:1000]
    assert [r["exchangeResultMessage"] for r in reports] == ["DOWNLOAD_ERROR", "SHARD_DOWNLOADED"]
    assert list(env.tmp.iterdir()) == []

"""Fault injection through the real local network (``storj.local.faults``).

Every farmer of one network runs behind a :class:`FaultInjector`; the Bridge is reached
through a :class:`FaultProxy` when its faults are tested. For each farmer scenario —
dropped connection, 500, 401, 503, stall, trickle below the low-speed limit, reset
mid-body, flipped bits, short body — and for upload and download:

* with a few faults the transfer completes (the client excludes the farmer and asks
  for another contract, or rebuilds the shard from Reed–Solomon parity) and the bytes
  read back are identical;
* with every request failing it ends in a typed error (``TransferError``) within a
  bounded time, with no partial destination file, no temporary file and no new entry.

After every test: the file stored at the start still has the same shard files on disk
(nothing stored before is lost or altered), and neither the client nor the servers keep
a thread or a file descriptor they did not have before.
"""

from __future__ import annotations

import gc
import hashlib
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from storj import crypto, keys
from storj.exception import (
    BridgeServerError,
    BridgeTransportError,
    StorjError,
    TransferError,
)
from storj.http import Client, RetryPolicy
from storj.local import LocalNetwork
from storj.local.faults import (
    FaultInjector,
    FaultProxy,
    FlipBits,
    Refuse,
    Reset,
    Scenario,
    ShortBody,
    Stall,
    Status,
    Trickle,
)
from storj.transfer import ShardLayout, TransferConfig, download_file, upload_file
from tests.helpers import WAIT_TIMEOUT, wait_until

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
MNEMONIC = "abandon " * 11 + "about"
#: 2 data shards + 2 parity shards: two lost shards can be rebuilt.
BASE_SIZE = 3 * MIB + 17
SMALL_SIZE = 1000

#: Short client timeouts so that a stall or a trickle costs 1.5 s (loopback transfers
#: of these small files take milliseconds; 1.5 s leaves a busy machine room, so that a
#: genuine farmer is never taken for a failing one).
FAST = {
    "timeout": 1.5,
    "low_speed_limit": 64 * 1024,
    "low_speed_time": 1.5,
    "max_push_attempts": 3,
    "pointer_replacements": 1,
}
#: Seconds a failing farmer or Bridge holds a request when the client does not give up
#: (the stall and trickle scenarios): longer than every bound below, so a client that
#: waited for them instead of applying its timeouts fails the bounds.
HOLD = 60.0
#: Seconds a transfer that cannot succeed may take before its typed error (generous for a
#: busy machine; below ``HOLD``).
FAIL_BOUND = 30.0
#: Seconds a slow farmer may hold a transfer beyond the low-speed window (generous for a
#: busy machine; far below ``HOLD``).
SLOW_BOUND = 10.0

SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "refuse": Refuse,
    "status-500": lambda: Status(500),
    "status-401": lambda: Status(401, "The supplied token is not accepted"),
    "status-503": lambda: Status(503),
    "stall": lambda: Stall(HOLD),
    # 256 B/s: even the 1000-byte uploads take over 4 s (far longer than the 1.5 s
    # timeout, however fast the machine); downloads fall far below the low-speed limit
    "trickle": lambda: Trickle(256, max_seconds=HOLD),
    "reset-mid-body": lambda: Reset(after_bytes=4096),
    "flipped-bits": lambda: FlipBits(bits=3),
    "short-body": lambda: ShortBody(0.5),
    "short-body-dishonest-length": lambda: ShortBody(0.5, honest_length=False),
}


# ------------------------------------------------------------------ leak checks

#: Threads that belong to the servers of the network fixture (or to a fault proxy).
SERVER_THREAD = re.compile(
    r"^(storj-bridge-|storj-farmer-(\d+|report|mirror)|storj-faults-proxy-|storj-network-)"
)
SERVER_FILE = re.compile(r"\.sqlite3(-wal|-shm|-journal)?$")


def _listening_inodes() -> set[str]:
    """Socket inodes in the LISTEN state (servers' own sockets, e.g. a restarted farmer)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A":
                inodes.add(f"socket:[{fields[9]}]")
    return inodes


def _fds() -> dict[int, str]:
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            found[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
    return found


class LeakCheck:
    """Threads and open files of this process before and after a piece of work."""

    def __init__(self) -> None:
        self.threads = {t.ident for t in threading.enumerate()}
        self.fds = _fds()

    def leaks(self) -> tuple[list[str], list[str]]:
        threads = [
            t.name
            for t in threading.enumerate()
            if t.ident not in self.threads and t.is_alive() and not SERVER_THREAD.match(t.name)
        ]
        listening = _listening_inodes()
        files = [
            target
            for fd, target in _fds().items()
            if self.fds.get(fd) != target
            and not SERVER_FILE.search(target)
            and target not in listening
        ]
        return threads, files

    def assert_clean(self, wait: float = WAIT_TIMEOUT) -> None:
        """Wait up to ``wait`` seconds for stragglers to end, then fail on any left."""
        found: tuple[list[str], list[str]] = ([], [])

        def clean() -> bool:
            nonlocal found
            gc.collect()  # objects only a reference cycle holds are not leaked
            found = self.leaks()
            return not found[0] and not found[1]

        try:
            wait_until(clean, wait, interval=0.05)
        except AssertionError:
            raise AssertionError(
                f"leaked threads {found[0]}, leaked descriptors {found[1]}"
            ) from None


# ------------------------------------------------------------------ the rig


class Rig:
    """One network (no automatic mirrors: recovery must come from the client), one
    user, one bucket and one file stored before any fault."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.network = LocalNetwork(root / "net", 4, mirror_redundancy=0).start()
        self.faults = FaultInjector(seed=20240611)
        for farmer in self.network.farmers:
            farmer.set_faults(self.faults)
        email, password = self.network.create_user()
        self.email, self.password = email, password
        self.client = Client(email, password, api_url=self.network.bridge_url,
                             encryption_key=MNEMONIC)
        self.key = crypto.EncryptionKey(MNEMONIC)
        self.bucket = self.client.bucket_create("faults").id
        self.tmp = root / "tmp"
        self.tmp.mkdir()
        self.out = root / "out"
        self.out.mkdir()
        self.base_data = random.Random(1).randbytes(BASE_SIZE)
        base = root / "base.bin"
        base.write_bytes(self.base_data)
        self.base = upload_file(self.client, self.bucket, base, name="base.bin",
                                config=self.config())
        self.base_shards = self.shard_digests()
        assert len(self.base_shards) == 4  # 2 data + 2 parity, one copy each
        self.counter = 0

    def config(self, **overrides) -> TransferConfig:
        return TransferConfig(tmp_dir=self.tmp, **{**FAST, **overrides})

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}.bin"

    def pointers(self, file_id: str):
        return list(self.client.file_pointers(self.bucket, file_id, skip=0, limit=100))

    def shard_digests(self) -> dict[str, str]:
        """SHA-256 of every copy of the base file's shards, by path."""
        digests = {}
        for pointer in self.pointers(self.base.id):
            for farmer in self.network.farmers:
                path = farmer.shard_path(pointer.hash)
                if path.is_file():
                    digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        return digests

    def holder(self, shard_hash: str) -> int:
        (index,) = [i for i, f in enumerate(self.network.farmers) if f.has_shard(shard_hash)]
        return index

    def file_names(self) -> set[str]:
        return {f.name for f in self.client.bucket_files(self.bucket)}

    def frames(self) -> set[str]:
        return {f.id for f in self.client.frame_list()}

    def assert_no_leftovers(self) -> None:
        assert list(self.tmp.iterdir()) == []
        assert list(self.out.iterdir()) == []

    def close(self) -> None:
        self.faults.clear()
        self.client.close()
        self.network.stop()


@pytest.fixture(scope="module")
def rig(tmp_path_factory) -> Iterator[Rig]:
    rig = Rig(tmp_path_factory.mktemp("faults"))
    try:
        yield rig
    finally:
        rig.close()


@pytest.fixture
def checked(rig: Rig, record_property) -> Iterator[Rig]:
    """The rig, with faults removed afterwards and the invariants checked."""
    rig.faults.clear()
    leaks = LeakCheck()
    checked_bytes = [0]
    rig.checked_bytes = checked_bytes  # type: ignore[attr-defined]
    try:
        yield rig
    finally:
        rig.faults.clear()
    for path in rig.out.iterdir():
        path.unlink()
    assert rig.shard_digests() == rig.base_shards, "a shard stored before was lost or altered"
    leaks.assert_clean()
    record_property("bytes_checked", checked_bytes[0])


def _source(rig: Rig, size: int, seed: int) -> tuple[Path, bytes]:
    data = random.Random(seed).randbytes(size)
    path = rig.root / f"src-{seed}.bin"
    path.write_bytes(data)
    return path, data


def _download_equals(rig: Rig, file_id: str, data: bytes) -> None:
    target = rig.out / f"check-{file_id}.bin"
    download_file(rig.client, rig.bucket, file_id, target, config=rig.config())
    assert target.read_bytes() == data
    target.unlink()
    rig.checked_bytes[0] += len(data)  # type: ignore[attr-defined]


# ------------------------------------------------------------------ farmer: uploads


#: For a request body "dishonest length" means nothing more than "short body".
UPLOAD_SCENARIOS = [name for name in SCENARIOS if name != "short-body-dishonest-length"]


@pytest.mark.parametrize("scenario", UPLOAD_SCENARIOS)
def test_upload_completes_despite_failing_farmers(checked: Rig, scenario: str):
    rig = checked
    rule = rig.faults.add(SCENARIOS[scenario](), path=r"^/shards/", methods=["POST"], times=2)
    path, data = _source(rig, SMALL_SIZE, list(SCENARIOS).index(scenario))
    started = time.monotonic()
    entry = upload_file(rig.client, rig.bucket, path, name=rig.name("up"), config=rig.config())
    assert time.monotonic() - started < FAIL_BOUND
    assert rule.hits == 2  # two farmers failed, a third one stored the shard
    rig.faults.clear()
    _download_equals(rig, entry.id, data)
    rig.assert_no_leftovers()


@pytest.mark.parametrize("scenario", UPLOAD_SCENARIOS)
def test_upload_to_only_failing_farmers_is_a_typed_error(checked: Rig, scenario: str):
    rig = checked
    rig.faults.add(SCENARIOS[scenario](), path=r"^/shards/", methods=["POST"])
    path, _ = _source(rig, SMALL_SIZE, 7)
    names, frames = rig.file_names(), rig.frames()
    started = time.monotonic()
    with pytest.raises(TransferError, match="could not be stored after 3 farmers failed"):
        upload_file(rig.client, rig.bucket, path, name=rig.name("fail"), config=rig.config())
    assert time.monotonic() - started < FAIL_BOUND
    rig.faults.clear()
    assert rig.file_names() == names  # no entry
    assert rig.frames() == frames  # the frame was deleted
    rig.assert_no_leftovers()


# ------------------------------------------------------------------ farmer: downloads


def _download_params() -> list:
    return [pytest.param(name) for name in SCENARIOS]


@pytest.mark.parametrize("scenario", _download_params())
def test_download_completes_despite_failing_farmers(checked: Rig, scenario: str):
    rig = checked
    rule = rig.faults.add(SCENARIOS[scenario](), path=r"^/shards/", methods=["GET"], times=2)
    target = rig.out / "base.bin"
    started = time.monotonic()
    download_file(rig.client, rig.bucket, rig.base.id, target, config=rig.config())
    elapsed = time.monotonic() - started
    assert target.read_bytes() == rig.base_data
    rig.checked_bytes[0] += BASE_SIZE  # type: ignore[attr-defined]
    assert rule.hits == 2  # two shards failed and were rebuilt from parity
    assert elapsed < FAST["low_speed_time"] + SLOW_BOUND


@pytest.mark.parametrize("scenario", _download_params())
def test_download_from_only_failing_farmers_is_a_typed_error(checked: Rig, scenario: str):
    rig = checked
    rig.faults.add(SCENARIOS[scenario](), path=r"^/shards/", methods=["GET"])
    target = rig.out / "never.bin"
    started = time.monotonic()
    with pytest.raises(TransferError, match="could not be downloaded"):
        download_file(rig.client, rig.bucket, rig.base.id, target, config=rig.config())
    elapsed = time.monotonic() - started
    rig.faults.clear()
    rig.assert_no_leftovers()  # no partial destination, no temporary file
    assert elapsed < FAST["low_speed_time"] + SLOW_BOUND


def test_download_when_a_farmer_refuses_connections(checked: Rig):
    """A stopped farmer: connections to its port are refused at the TCP level. The one
    holding the fewest of the file's shards is stopped: up to two lost shards are rebuilt
    from parity; more (all four on one farmer) must give a typed error."""
    rig = checked
    held = [sum(f.has_shard(p.hash) for p in rig.pointers(rig.base.id))
            for f in rig.network.farmers]
    index = min((count, i) for i, count in enumerate(held) if count)[1]
    rig.network.stop_farmer(index)
    try:
        target = rig.out / "base.bin"
        if held[index] <= 2:
            download_file(rig.client, rig.bucket, rig.base.id, target, config=rig.config())
            assert target.read_bytes() == rig.base_data
            rig.checked_bytes[0] += BASE_SIZE  # type: ignore[attr-defined]
        else:
            with pytest.raises(TransferError):
                download_file(rig.client, rig.bucket, rig.base.id, target,
                              config=rig.config())
    finally:
        rig.network.start_farmer(index)
        rig.network.farmers[index].set_faults(rig.faults)


def test_mixed_faults_on_a_fraction_of_requests(checked: Rig):
    """Seeded faults on half of the shard requests, at most two per direction and file
    (so recovery stays possible whatever the placement): uploads and downloads of files
    with parity all complete with identical bytes."""
    rig = checked
    layout = ShardLayout.plan(2 * MIB + 1)
    assert layout.parity_shards == 2
    kinds = [Status(503), Reset(after_bytes=1000), FlipBits(), Refuse(), ShortBody(0.3)]
    for seed in range(4):
        rig.faults.clear()
        rig.faults.add(kinds[seed], path=r"^/shards/", methods=["POST"], fraction=0.5, times=2)
        rig.faults.add(kinds[seed + 1], path=r"^/shards/", methods=["GET"], fraction=0.5,
                       times=2)
        path, data = _source(rig, 2 * MIB + 1 + seed, 100 + seed)
        entry = upload_file(rig.client, rig.bucket, path, name=rig.name("mixed"),
                            config=rig.config())
        _download_equals(rig, entry.id, data)
    assert sum(rig.faults.injected.values()) > 0


# ------------------------------------------------------------------ the Bridge


@pytest.fixture
def bridge_proxy(checked: Rig) -> Iterator[tuple[Rig, FaultProxy, Client]]:
    rig = checked
    with FaultProxy(rig.network.bridge_url, seed=99) as proxy:
        # 8 quick retries: with 30 % of requests failing, one call failing 9 times in a
        # row has a chance of 2e-5
        retries = RetryPolicy(total=8, backoff_factor=0.02, backoff_max=0.1)
        client = Client(rig.email, rig.password, api_url=proxy.url, encryption_key=MNEMONIC,
                        timeout=3.0, retries=retries)
        try:
            yield rig, proxy, client
        finally:
            client.close()


def test_bridge_answering_errors_for_a_fraction_of_requests(bridge_proxy):
    rig, proxy, client = bridge_proxy
    proxy.faults.add(Status(500), fraction=0.12)
    proxy.faults.add(Status(503), fraction=0.12)
    proxy.faults.add(Status(429, "Too many requests", [("Retry-After", "0")]), fraction=0.1)
    for size, seed in ((SMALL_SIZE, 11), (2 * MIB + 1, 12)):
        path, data = _source(rig, size, seed)
        entry = upload_file(client, rig.bucket, path, name=rig.name("bridge"),
                            config=rig.config())
        target = rig.out / "bridge.bin"
        download_file(client, rig.bucket, entry.id, target, config=rig.config())
        assert target.read_bytes() == data
        target.unlink()
        rig.checked_bytes[0] += size  # type: ignore[attr-defined]
    assert sum(proxy.faults.injected.values()) >= 3


def test_bridge_stalling_some_requests(bridge_proxy):
    rig, proxy, client = bridge_proxy
    proxy.faults.add(Stall(HOLD), path=r"^/frames", times=1)
    proxy.faults.add(Stall(HOLD), path=r"^/buckets/[0-9a-f]+/files", times=1)
    path, data = _source(rig, SMALL_SIZE, 13)
    entry = upload_file(client, rig.bucket, path, name=rig.name("stall"), config=rig.config())
    target = rig.out / "stall.bin"
    download_file(client, rig.bucket, entry.id, target, config=rig.config())
    assert target.read_bytes() == data
    rig.checked_bytes[0] += SMALL_SIZE  # type: ignore[attr-defined]
    assert proxy.faults.injected["stall"] == 2


@pytest.mark.parametrize(
    ("scenario", "error"),
    [(lambda: Status(503), BridgeServerError), (Refuse, BridgeTransportError)],
    ids=["status-503", "refuse"],
)
def test_bridge_down_is_a_typed_error(bridge_proxy, scenario, error):
    rig, proxy, client = bridge_proxy
    client.retry_policy = RetryPolicy(total=2, backoff_factor=0.02)
    names = rig.file_names()
    proxy.faults.add(scenario())
    path, _ = _source(rig, SMALL_SIZE, 14)
    started = time.monotonic()
    config = rig.config(bridge_attempts=2)
    with pytest.raises(error):
        upload_file(client, rig.bucket, path, name=rig.name("down"), config=config)
    target = rig.out / "down.bin"
    with pytest.raises(error):
        download_file(client, rig.bucket, rig.base.id, target, config=config)
    assert time.monotonic() - started < 2 * FAIL_BOUND
    proxy.faults.clear()
    assert rig.file_names() == names
    rig.assert_no_leftovers()


def test_proxy_is_transparent_to_signed_requests(bridge_proxy):
    """ECDSA signatures cover the raw path and body: through the proxy they still verify."""
    rig, proxy, client = bridge_proxy
    private, public = keys.generate_new_key_pair()
    client.key_register(keys.public_key_hex(public))
    client.authenticate(private)
    assert rig.bucket in {b.id for b in client.bucket_list()}
    path, data = _source(rig, SMALL_SIZE, 15)
    entry = upload_file(client, rig.bucket, path, name=rig.name("signed"), config=rig.config())
    target = rig.out / "signed.bin"
    download_file(client, rig.bucket, entry.id, target, config=rig.config())
    assert target.read_bytes() == data
    rig.checked_bytes[0] += SMALL_SIZE  # type: ignore[attr-defined]
    assert proxy.faults.requests > 5 and not proxy.faults.injected


def test_rules_are_seeded_counted_and_ordered():
    def draws(seed: int) -> list[str | None]:
        faults = FaultInjector(seed=seed)
        faults.add(Status(500), path=r"^/frames", methods=["PUT"], times=3)
        faults.add(Refuse(), path=r"^/frames", fraction=0.5)
        picked = []
        for _ in range(12):
            chosen = faults.choose("PUT", "/frames/abc?x=1")
            picked.append(chosen[0].name if chosen else None)
        assert faults.choose("GET", "/buckets") is None
        assert faults.requests == 13
        return picked

    first = draws(1)
    assert first[:3] == ["status-500"] * 3  # the first matching rule wins, 3 times only
    assert set(first[3:]) == {"refuse", None}  # then about half of the requests
    assert draws(1) == first  # the same seed gives the same faults
    assert draws(2) != first


# ------------------------------------------------------------------ the end


def test_everything_stored_before_is_intact(rig: Rig):
    """Run last in this module: the first file still downloads byte-identical."""
    rig.faults.clear()
    target = rig.out / "final.bin"
    download_file(rig.client, rig.bucket, rig.base.id, target, config=rig.config())
    assert target.read_bytes() == rig.base_data
    target.unlink()
    assert isinstance(rig.faults.injected, dict)
    assert issubclass(TransferError, StorjError)

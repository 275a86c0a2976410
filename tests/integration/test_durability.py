"""Stored data stays safe on the local network.

* Isolation: nothing a user does with their own frames can replace, confirm, delete or read
  another user's copies (issue: "one user can destroy another user's file").
* Repair: a copy that fails an audit, a copy a client reports as bad, and every copy of a
  farmer unreachable for ``farmer_lost_after`` are replaced from a good copy; the bad ones
  are dropped.
* Garbage collection: abandoned uploads and deleted files give their space back, and
  audits judge only what files depend on.

Time-dependent rules use the Bridge's injected clock; everything asynchronous (farmer
reports, mirrors) is awaited with :func:`wait_until` and a generous deadline.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from storj import api, crypto, merkle
from storj.exception import TransferCancelledError
from storj.http import Client
from storj.local import LocalNetwork
from storj.local.faults import Delay, FaultInjector
from storj.transfer import TransferConfig
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


class OffsetClock:
    """Real time plus an offset the test moves forward: time keeps flowing for the
    farmers' signed timestamps (which must stay within ±5 min of the Bridge's clock), and
    expiry rules see the jumps."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def eventually(predicate: Any) -> Any:
    """Wait for ``predicate`` (mirrors and farmer reports are asynchronous) with a deadline
    generous enough for a loaded two-core machine."""
    return wait_until(predicate, 120.0)


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


def start(tmp_path: Path, clock: OffsetClock, farmers: int = 5, **options: Any) -> LocalNetwork:
    options.setdefault("repair_interval", 0)
    return LocalNetwork(tmp_path / "net", farmers=farmers, clock=clock, **options).start()


@pytest.fixture
def net(tmp_path: Path, clock: OffsetClock) -> Iterator[LocalNetwork]:
    network = start(tmp_path, clock, mirror_redundancy=2)
    try:
        yield network
    finally:
        network.stop()


def user_client(net: LocalNetwork) -> Client:
    email, password = net.create_user()
    return Client(
        email, password, api_url=net.bridge_url, encryption_key=crypto.generate_mnemonic()
    )


def upload(
    client: Client, tmp_path: Path, size: int, name: str = "data.bin"
) -> tuple[str, str, bytes]:
    data = os.urandom(size)
    source = tmp_path / name
    source.write_bytes(data)
    bucket = client.bucket_create("b-" + os.urandom(4).hex())
    entry = client.upload_file(bucket.id, source)
    assert entry.id is not None
    return bucket.id, entry.id, data


def download(client: Client, tmp_path: Path, bucket_id: str, file_id: str) -> bytes:
    target = tmp_path / ("out-" + os.urandom(4).hex())
    client.download_file(bucket_id, file_id, target)
    return target.read_bytes()


def shard_hashes(net: LocalNetwork, owner: str) -> set[str]:
    store = net.bridge.services.store  # type: ignore[union-attr]
    return {c["hash"] for c in store.needed_contracts() if c["owner"] == owner}


def good_holders(net: LocalNetwork, data_hash: str, owner: str) -> set[str]:
    store = net.bridge.services.store  # type: ignore[union-attr]
    return {
        c["node_id"]
        for c in store.contracts_for(data_hash, owner)
        if c["confirmed"] and c["bad"] is None
    }


def all_at_redundancy(net: LocalNetwork, owner: str, copies: int = 3) -> bool:
    hashes = shard_hashes(net, owner)
    return bool(hashes) and all(len(good_holders(net, h, owner)) >= copies for h in hashes)


@dataclass
class Stored:
    """A user's one-shard file whose copies are all confirmed."""

    client: Client
    email: str
    bucket_id: str
    file_id: str
    data: bytes
    data_hash: str


def stored_file(net: LocalNetwork, tmp_path: Path, copies: int = 3) -> Stored:
    """A new user uploads a 3000-byte file (one shard); returns once ``copies`` good
    copies of it exist."""
    client = user_client(net)
    assert client.email
    email = client.email
    bucket_id, file_id, data = upload(client, tmp_path, 3000)
    eventually(lambda: all_at_redundancy(net, email, copies=copies))
    [data_hash] = shard_hashes(net, email)
    return Stored(client, email, bucket_id, file_id, data, data_hash)


def farmer(net: LocalNetwork, node_id: str) -> Any:
    return next(f for f in net.farmers if f.node_id == node_id)


def shard_files(net: LocalNetwork) -> set[str]:
    return {p.name for f in net.farmers for p in (f.data_dir / "shards").iterdir()}


# ----------------------------------------------------------------------------- isolation


class Raw:
    """Basic-auth requests as any client could send them."""

    def __init__(self, url: str, email: str, password: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.auth = (email, api.hash_password(password))

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=30, **kwargs)


def shard_body(data_hash: str, index: int, exclude: list[str]) -> dict[str, Any]:
    challenges = [os.urandom(32).hex() for _ in range(4)]
    return {
        "hash": data_hash,
        "size": 1000,
        "index": index,
        "challenges": challenges,
        "tree": [os.urandom(20).hex() for _ in range(4)],
        "exclude": exclude,
    }


def test_another_user_cannot_replace_delete_or_read_copies(net, tmp_path):
    alice = stored_file(net, tmp_path)
    bucket_id, file_id, data, data_hash = (
        alice.bucket_id, alice.file_id, alice.data, alice.data_hash
    )
    holders = good_holders(net, data_hash, alice.email)
    everyone = {f.node_id for f in net.farmers}

    mallory_email, mallory_password = net.create_user()
    mallory = Raw(net.bridge_url, mallory_email, mallory_password)
    frame = mallory("POST", "/frames", json={}).json()
    for holder in sorted(holders):
        # negotiate Alice's hash with exactly the farmer holding her copy ...
        body = shard_body(data_hash, 0, sorted(everyone - {holder}))
        answer = mallory("PUT", f"/frames/{frame['id']}", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["farmer"]["nodeID"] == holder
        # ... then re-send the index with another hash (this used to delete her contract)
        body = shard_body(os.urandom(20).hex(), 0, [])
        other = mallory("PUT", f"/frames/{frame['id']}", json=body)
        assert other.status_code == 200, other.text
    # a frame naming her hash on her farmers, made into Mallory's own file
    frame = mallory("POST", "/frames", json={}).json()
    for index, holder in enumerate(sorted(holders)):
        assert mallory(
            "PUT", f"/frames/{frame['id']}",
            json=shard_body(data_hash, index, sorted(everyone - {holder})),
        ).status_code == 200
    bucket = mallory("POST", "/buckets", json={"name": "loot"}).json()
    entry = mallory(
        "POST", f"/buckets/{bucket['id']}/files", json={"frame": frame["id"], "filename": "x"}
    )
    assert entry.status_code == 200, entry.text
    # Mallory never sent the bytes: no farmer hands them out to her
    pointers = mallory("GET", f"/buckets/{bucket['id']}/files/{entry.json()['id']}").json()
    assert pointers and all("token" not in p and "farmer" not in p for p in pointers)

    # Alice's copies are untouched and proved by audit (Mallory's claims fail theirs),
    # and her file downloads
    assert good_holders(net, data_hash, alice.email) == holders
    result = net.audit()
    assert (result["ok"], result["failed"]) == (3, 3)
    assert good_holders(net, data_hash, alice.email) == holders
    assert download(alice.client, tmp_path, bucket_id, file_id) == data
    # collecting Mallory's debris never deletes Alice's shard from the farmers
    mallory("DELETE", f"/buckets/{bucket['id']}")
    net.maintain()
    assert all(farmer(net, h).has_shard(data_hash) for h in holders)
    assert download(alice.client, tmp_path, bucket_id, file_id) == data


def push_raw(net: LocalNetwork, user: Raw, data: bytes, node_id: str) -> tuple[str, str]:
    """Upload ``data`` as a one-shard file to ``node_id`` the raw protocol way; returns
    ``(bucket id, file id)``."""
    data_hash = api.rmd160sha256_hex(data)
    everyone = {f.node_id for f in net.farmers}
    frame = user("POST", "/frames", json={}).json()
    challenges = [os.urandom(32).hex() for _ in range(4)]
    body = {
        "hash": data_hash,
        "size": len(data),
        "index": 0,
        "challenges": challenges,
        "tree": [merkle.audit_leaf(c, data) for c in challenges],  # audits must pass
        "exclude": sorted(everyone - {node_id}),
    }
    pointer = user("PUT", f"/frames/{frame['id']}", json=body).json()
    contact = pointer["farmer"]
    sent = requests.post(
        f"http://{contact['address']}:{contact['port']}/shards/{data_hash}",
        params={"token": pointer["token"]},
        data=data,
        timeout=30,
    )
    assert sent.status_code == 200, sent.text
    bucket = user("POST", "/buckets", json={"name": os.urandom(4).hex()}).json()
    entry = user("POST", f"/buckets/{bucket['id']}/files", json={"frame": frame["id"]})
    assert entry.status_code == 200, entry.text
    return bucket["id"], entry.json()["id"]


def pull_raw(user: Raw, bucket_id: str, file_id: str) -> bytes | None:
    [pointer] = user("GET", f"/buckets/{bucket_id}/files/{file_id}").json()
    if "token" not in pointer:
        return None
    contact = pointer["farmer"]
    got = requests.get(
        f"http://{contact['address']}:{contact['port']}/shards/{pointer['hash']}",
        params={"token": pointer["token"]},
        timeout=30,
    )
    return got.content


def test_farmer_keeps_a_shared_shard_until_its_last_renter_releases_it(tmp_path, clock):
    """Two users who both uploaded the same bytes share the farmer's file; deleting one
    user's file never deletes the other's data; the last deletion frees the space."""
    net = start(tmp_path, clock, farmers=3, mirror_redundancy=0)
    try:
        alice = Raw(net.bridge_url, *net.create_user())
        bob = Raw(net.bridge_url, *net.create_user())
        data = os.urandom(1000)
        node = net.farmers[0].node_id
        a_bucket, _ = push_raw(net, alice, data, node)
        b_bucket, b_file = push_raw(net, bob, data, node)
        assert alice("DELETE", f"/buckets/{a_bucket}").status_code == 204
        report = net.maintain()
        assert (report.releases_done, report.bytes_reclaimed) == (1, 0)
        assert net.farmers[0].has_shard(api.rmd160sha256_hex(data))
        assert pull_raw(bob, b_bucket, b_file) == data
        assert bob("DELETE", f"/buckets/{b_bucket}").status_code == 204
        report = net.maintain()
        assert (report.releases_done, report.bytes_reclaimed) == (1, len(data))
        assert not net.farmers[0].has_shard(api.rmd160sha256_hex(data))
    finally:
        net.stop()


# ----------------------------------------------------------------------------- repair


def corrupt(net: LocalNetwork, node_id: str, data_hash: str) -> None:
    path = farmer(net, node_id).shard_path(data_hash)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_repair_restores_redundancy_after_corruption_and_a_lost_farmer(tmp_path, clock):
    """The acceptance scenario: corrupt one copy, stop one farmer; after the repair
    interval every shard is back at its redundancy, an audit is clean, and the file
    downloads byte-identical with the damaged farmer gone too."""
    net = start(
        tmp_path,
        clock,
        farmers=7,
        mirror_redundancy=2,
        repair_interval=0.2,
        audit_interval=0,
        farmer_lost_after=0,
    )
    try:
        alice = user_client(net)
        assert alice.email
        bucket_id, file_id, data = upload(alice, tmp_path, 5 * MIB)
        eventually(lambda: all_at_redundancy(net, alice.email))
        hashes = sorted(shard_hashes(net, alice.email))
        assert len(hashes) >= 3
        damaged = sorted(good_holders(net, hashes[0], alice.email))[0]
        corrupt(net, damaged, hashes[0])
        gone = next(
            n
            for h in hashes[1:]
            for n in sorted(good_holders(net, h, alice.email))
            if n != damaged
        )
        net.stop_farmer(next(i for i, f in enumerate(net.farmers) if f.node_id == gone))

        def repaired() -> bool:
            store = net.bridge.services.store  # type: ignore[union-attr]
            for h in hashes:
                if any(c["bad"] is not None for c in store.contracts_for(h, alice.email)):
                    return False  # bad copies are dropped once replaced
                lost = {gone, damaged} if h == hashes[0] else {gone}
                good = good_holders(net, h, alice.email)
                if len(good) < 3 or good & lost:
                    return False
            return True

        eventually(repaired)
        assert all(gone not in good_holders(net, h, alice.email) for h in hashes)
        assert damaged not in good_holders(net, hashes[0], alice.email)
        result = net.audit()
        assert result["failed"] == result["unreachable"] == 0
        assert result["ok"] == 3 * len(hashes)
        net.stop_farmer(next(i for i, f in enumerate(net.farmers) if f.node_id == damaged))
        assert download(alice, tmp_path, bucket_id, file_id) == data
    finally:
        net.stop()


def test_a_farmer_counts_as_lost_only_after_farmer_lost_after(tmp_path, clock):
    net = start(tmp_path, clock, farmers=5, mirror_redundancy=1, farmer_lost_after=120)
    try:
        alice = stored_file(net, tmp_path, copies=2)
        bucket_id, file_id, data, data_hash = (
            alice.bucket_id, alice.file_id, alice.data, alice.data_hash
        )
        gone = sorted(good_holders(net, data_hash, alice.email))[0]
        net.stop_farmer(next(i for i, f in enumerate(net.farmers) if f.node_id == gone))
        first = net.maintain()
        assert first.copies_lost == 0 and first.repairs_started == 0
        assert gone in good_holders(net, data_hash, alice.email)
        clock.advance(121)
        second = net.maintain()
        assert (second.farmers_lost, second.copies_lost, second.repairs_started) == (1, 1, 1)
        eventually(lambda: len(good_holders(net, data_hash, alice.email) - {gone}) == 2)
        net.maintain()
        assert gone not in {
            c["node_id"]
            for c in net.bridge.services.store.contracts_for(data_hash, alice.email)  # type: ignore[union-attr]
        }
        assert download(alice.client, tmp_path, bucket_id, file_id) == data
    finally:
        net.stop()


def test_client_report_of_a_bad_copy_is_verified_then_repaired(net, tmp_path):
    alice = stored_file(net, tmp_path)
    bucket_id, file_id, data, data_hash = (
        alice.bucket_id, alice.file_id, alice.data, alice.data_hash
    )
    holders = sorted(good_holders(net, data_hash, alice.email))
    # an unauthenticated report about a good copy changes nothing (it is only verified)
    report = {
        "dataHash": data_hash,
        "reporterId": "someone",
        "farmerId": holders[0],
        "exchangeStart": 1,
        "exchangeEnd": 2,
        "exchangeResultCode": 1100,
        "exchangeResultMessage": "FAILED_INTEGRITY",
    }
    session = requests.Session()
    session.trust_env = False
    url = net.bridge_url + "/reports/exchanges"
    assert session.post(url, json=report, timeout=30).status_code == 201
    store = net.bridge.services.store  # type: ignore[union-attr]
    eventually(lambda: not any(c["suspect"] for c in store.contracts_for(data_hash, alice.email)))
    assert good_holders(net, data_hash, alice.email) == set(holders)
    # a real failure: the copy rotted; the client's report gets it verified and replaced
    corrupt(net, holders[1], data_hash)
    report["farmerId"] = holders[1]
    assert session.post(url, json=report, timeout=30).status_code == 201
    eventually(
        lambda: len(good_holders(net, data_hash, alice.email) - {holders[1]}) == 3
        and not any(c["bad"] for c in store.contracts_for(data_hash, alice.email))
    )
    assert download(alice.client, tmp_path, bucket_id, file_id) == data


def test_pointers_skip_a_copy_that_failed_its_audit(tmp_path, clock):
    net = start(tmp_path, clock, farmers=4, mirror_redundancy=1)
    try:
        alice = stored_file(net, tmp_path, copies=2)
        bucket_id, file_id, data, data_hash = (
            alice.bucket_id, alice.file_id, alice.data, alice.data_hash
        )
        holders = sorted(good_holders(net, data_hash, alice.email))
        corrupt(net, holders[0], data_hash)
        assert net.audit()["failed"] == 1
        for _ in range(5):
            [pointer] = alice.client.file_pointers(bucket_id, file_id)
            assert pointer.farmer is not None and pointer.farmer.nodeID == holders[1]
        assert download(alice.client, tmp_path, bucket_id, file_id) == data
    finally:
        net.stop()


# ----------------------------------------------------------------------------- collection


def test_abandoned_uploads_are_collected_and_not_audited(tmp_path, clock):
    """A client that crashed after storing shards (its frame never became a file), an
    empty frame left behind, and an upload cancelled in the middle: audits do not count
    them as failures, and one pass after ``frame_ttl`` every byte is given back."""
    net = start(
        tmp_path, clock, farmers=4, mirror_redundancy=0, frame_ttl=60, unconfirmed_ttl=60
    )
    try:
        email, password = net.create_user()
        crashed = Raw(net.bridge_url, email, password)
        data = os.urandom(5000)
        frame = crashed("POST", "/frames", json={}).json()
        body = dict(shard_body(api.rmd160sha256_hex(data), 0, []), size=len(data))
        pointer = crashed("PUT", f"/frames/{frame['id']}", json=body).json()
        contact = pointer["farmer"]
        assert requests.post(
            f"http://{contact['address']}:{contact['port']}/shards/{pointer['hash']}",
            params={"token": pointer["token"]},
            data=data,
            timeout=30,
        ).ok
        empty = crashed("POST", "/frames", json={}).json()

        # an SDK upload cancelled while its first shard is on its way (every farmer
        # answers a shard upload only after a second, so the cancel lands mid-upload)
        alice = Client(email, password, api_url=net.bridge_url,
                       encryption_key=crypto.generate_mnemonic())
        bucket = alice.bucket_create("b")
        source = tmp_path / "big.bin"
        source.write_bytes(os.urandom(6 * MIB))
        faults = FaultInjector(seed=1)
        faults.add(Delay(1.0), path=r"^/shards/", methods=["POST"])
        for node in net.farmers:
            node.set_faults(faults)
        cancel = _CancelAfterBytes(1)
        with pytest.raises(TransferCancelledError):
            alice.upload_file(bucket.id, source, progress=cancel.progress, cancel=cancel,
                              config=TransferConfig(shard_concurrency=1))
        faults.clear()
        assert shard_files(net)  # debris on the farmers

        store = net.bridge.services.store  # type: ignore[union-attr]
        result = net.audit()  # audits judge only what files depend on
        assert (result["audited"], result["failed"]) == (0, 0)
        clock.advance(61)
        report = net.maintain()
        report.bytes_reclaimed += net.maintain().bytes_reclaimed  # pushes still in flight
        assert report.frames_removed >= 2
        assert store.get_frame(frame["id"]) is None and store.get_frame(empty["id"]) is None
        assert report.bytes_reclaimed >= len(data)
        assert shard_files(net) == set()
    finally:
        net.stop()


def test_deleted_files_give_their_space_back(net, tmp_path):
    alice = user_client(net)
    assert alice.email
    bucket_id, file_id, _ = upload(alice, tmp_path, 3000, name="gone.bin")
    eventually(lambda: all_at_redundancy(net, alice.email))
    gone = shard_hashes(net, alice.email)
    upload(alice, tmp_path, 3000, name="kept.bin")
    eventually(lambda: all_at_redundancy(net, alice.email))
    kept_hashes = shard_hashes(net, alice.email) - gone
    assert shard_files(net) == gone | kept_hashes
    alice.file_remove(bucket_id, file_id)
    report = net.maintain()
    assert (report.frames_removed, report.contracts_dropped, report.releases_done) == (1, 3, 3)
    assert report.bytes_reclaimed == 3 * 3000  # one 3000-byte shard, three copies
    assert shard_files(net) == kept_hashes
    assert net.audit()["failed"] == 0


class _CancelAfterBytes:
    """A cancel token set once ``limit`` bytes were sent."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.done = 0

    def progress(self, done: int, total: int) -> None:
        self.done = done

    def is_set(self) -> bool:
        return self.done >= self.limit


def test_replaced_file_gives_the_old_version_back(net, tmp_path):
    alice = user_client(net)
    assert alice.email
    bucket_id, file_id, _ = upload(alice, tmp_path, 3000, name="doc.bin")
    eventually(lambda: all_at_redundancy(net, alice.email))
    old = shard_hashes(net, alice.email)
    newer = tmp_path / "doc.bin"
    newer.write_bytes(os.urandom(4000))
    entry = alice.upload_file(bucket_id, newer, overwrite=True)
    assert entry.id == file_id
    report = net.maintain()  # the replaced entry's frame is garbage at once
    assert report.frames_removed == 1 and report.releases_done == 3
    assert not old & shard_hashes(net, alice.email)
    assert not old & shard_files(net)
    assert download(alice, tmp_path, bucket_id, file_id) == newer.read_bytes()


def test_storj_local_serve_passes_the_maintenance_settings(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from storj.exception import StorjError
    from storj.local import __main__ as local_main
    from storj.local import network as network_module

    seen: dict[str, Any] = {}

    class Recorder:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            seen.update(kwargs)

        def start(self) -> None:
            raise StorjError("recorded")

        def stop(self) -> None:
            pass

    monkeypatch.setattr(network_module, "LocalNetwork", Recorder)
    result = CliRunner().invoke(
        local_main.cli,
        ["serve", "--data", str(tmp_path), "--repair-interval", "60",
         "--farmer-lost-after", "600"],
    )
    assert result.exit_code == 1 and "recorded" in result.output
    assert (seen["repair_interval"], seen["farmer_lost_after"]) == (60.0, 600.0)


def test_a_release_never_undoes_a_copy_stored_again_since(tmp_path, clock):
    """A copy dropped (release queued), then mirrored back to the same farmer before the
    release ran: the release is obsolete and must not take the new copy away."""
    net = start(tmp_path, clock, farmers=2, mirror_redundancy=1)
    try:
        alice = stored_file(net, tmp_path, copies=2)
        bucket_id, file_id, data, data_hash = (
            alice.bucket_id, alice.file_id, alice.data, alice.data_hash
        )
        services = net.bridge.services  # type: ignore[union-attr]
        [first, _] = services.store.contracts_for(data_hash, alice.email)
        services.store.drop_contracts([first["id"]], services.now_ms())
        assert len(services.store.pending_releases()) == 1
        assert services.mirrors.ensure(data_hash, alice.email) == 1  # back to that farmer
        eventually(lambda: first["node_id"] in good_holders(net, data_hash, alice.email))
        report = net.maintain()
        assert report.releases_done == 0 and services.store.pending_releases() == []
        assert net.audit()["ok"] == 2
        assert farmer(net, first["node_id"]).has_shard(data_hash)
        assert download(alice.client, tmp_path, bucket_id, file_id) == data
    finally:
        net.stop()

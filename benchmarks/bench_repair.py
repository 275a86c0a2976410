"""Repair and garbage collection on a local network: how long until redundancy is back,
how much space an abandoned upload and deleted files give back.

Repair: ``--files`` files of ``--size`` MiB are uploaded (Reed–Solomon on, so each file
has data and parity shards) and left to reach ``1 + --mirrors`` good copies per shard.
Then every copy one farmer holds of the first file's shards is corrupted on disk, and
another farmer (the one holding the most copies) is stopped. The Bridge runs its
maintenance pass every ``--interval`` seconds (audits every time, a farmer counts as lost
at once): the script measures the time until every shard
again has its full number of good copies and no bad copy is left, checks that an audit is
clean, stops the farmer whose copies were corrupted as well, and downloads every file
byte for byte from the remaining farmers.

Collection: an upload cancelled after a third of its bytes, then every file deleted; two
maintenance passes later (the Bridge's clock moved past ``frame_ttl``; a shard whose push
was still in flight when it was released goes in the second), the script counts the
bytes the farmers freed and the shard files left on disk.

Usage::

    python benchmarks/bench_repair.py [--files 4] [--size 6] [--farmers 8] [--mirrors 2]

Prints the figures; :func:`measure` returns them for ``reliability_report.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from storj import crypto  # noqa: E402
from storj.exception import TransferCancelledError  # noqa: E402
from storj.http import Client  # noqa: E402
from storj.local import LocalNetwork  # noqa: E402

MIB = 1024 * 1024


@dataclass
class RepairFigures:
    files: int
    file_mib: int
    farmers: int
    copies_per_shard: int
    shards: int
    copies_corrupted: int
    copies_on_stopped_farmer: int
    repair_interval: float
    seconds_to_restore: float
    copies_made: int
    bytes_copied: int
    audit_ok: int
    audit_failed: int
    downloads_identical: int
    cancelled_upload_bytes_reclaimed: int
    deleted_files_bytes_reclaimed: int
    shard_files_left: int
    audit_failures_from_debris: int

    def summary(self) -> dict[str, Any]:
        return asdict(self)


class _Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class _CancelAt:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.done = 0

    def progress(self, done: int, total: int) -> None:
        self.done = done

    def is_set(self) -> bool:
        return self.done >= self.limit


def _wait(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not reached within {timeout} s")
        time.sleep(0.05)


def measure(
    files: int = 4, size_mib: int = 6, farmers: int = 8, mirrors: int = 2, interval: float = 0.5
) -> RepairFigures:
    """Run the repair and collection scenarios (see the module docstring)."""
    clock = _Clock()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        net = LocalNetwork(
            work / "net",
            farmers=farmers,
            mirror_redundancy=mirrors,
            repair_interval=interval,
            audit_interval=0,
            farmer_lost_after=0,
            frame_ttl=600,
            unconfirmed_ttl=600,
            clock=clock,
        ).start()
        try:
            return _scenarios(net, work, clock, files, size_mib, farmers, 1 + mirrors)
        finally:
            net.stop()


def _scenarios(
    net: LocalNetwork, work: Path, clock: _Clock, files: int, size_mib: int, farmers: int,
    target: int,
) -> RepairFigures:
    assert net.bridge is not None
    store = net.bridge.services.store
    email, password = net.create_user()
    client = Client(email, password, api_url=net.bridge_url,
                    encryption_key=crypto.generate_mnemonic())
    bucket = client.bucket_create("repair")
    originals: dict[str, bytes] = {}
    first_hashes: set[str] = set()
    for n in range(files):
        data = os.urandom(size_mib * MIB)
        source = work / f"file-{n}.bin"
        source.write_bytes(data)
        entry = client.upload_file(bucket.id, source)
        originals[str(entry.id)] = data
        if n == 0:
            first_hashes = {p.hash for p in client.file_pointers(bucket.id, str(entry.id))}

    def groups() -> dict[tuple[str, str], list[dict[str, Any]]]:
        return store.needed_groups()

    def good(copies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [c for c in copies if c["confirmed"] and c["bad"] is None]

    _wait(lambda: all(len(good(c)) >= target for c in groups().values()), 120)
    shards = len(groups())
    by_farmer = {f.node_id: f for f in net.farmers}
    counts: dict[str, int] = {}
    first_copies: dict[str, list[str]] = {}
    for (data_hash, _owner), copies in groups().items():
        for c in copies:
            counts[c["node_id"]] = counts.get(c["node_id"], 0) + 1
            if data_hash in first_hashes:
                first_copies.setdefault(c["node_id"], []).append(data_hash)
    # the damaged farmer: every copy of the first file's shards it holds is corrupted
    damaged = max(first_copies, key=lambda n: (len(first_copies[n]), n))
    for data_hash in first_copies[damaged]:
        path = by_farmer[damaged].shard_path(data_hash)
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        path.write_bytes(bytes(raw))
    stopped = max((n for n in counts if n != damaged), key=lambda n: (counts[n], n))
    copies_before = {c["id"] for c in store.needed_contracts()}
    started = time.perf_counter()
    index = next(i for i, f in enumerate(net.farmers) if f.node_id == stopped)
    net.stop_farmer(index)

    def restored() -> bool:
        for copies in groups().values():
            if any(c["bad"] is not None or c["node_id"] == stopped for c in copies):
                return False
            if len(good(copies)) < target:
                return False
        return True

    while not restored():
        time.sleep(0.05)
        if time.perf_counter() - started > 300:
            raise RuntimeError("redundancy was not restored within 300 s")
    seconds = time.perf_counter() - started
    made = [c for c in store.needed_contracts() if c["id"] not in copies_before]
    audit = net.audit()
    net.stop_farmer(next(i for i, f in enumerate(net.farmers) if f.node_id == damaged))
    identical = 0
    for file_id, data in originals.items():
        target_path = work / f"out-{file_id}"
        client.download_file(bucket.id, file_id, target_path)
        identical += target_path.read_bytes() == data
    for node in (damaged, stopped):
        net.start_farmer(next(i for i, f in enumerate(net.farmers) if f.node_id == node))

    # collection: a cancelled upload, then every file deleted
    net.bridge.services.maintenance.stop()
    source = work / "cancelled.bin"
    source.write_bytes(os.urandom(size_mib * MIB))
    cancel = _CancelAt(size_mib * MIB // 3)
    try:
        client.upload_file(bucket.id, source, progress=cancel.progress, cancel=cancel)
    except TransferCancelledError:
        pass
    debris_failures = net.audit()["failed"]
    cancelled = net.maintain().bytes_reclaimed
    for file_id in originals:
        client.file_remove(bucket.id, file_id)
    clock.offset += 601
    deleted = net.maintain().bytes_reclaimed
    # a push still in flight when its shard was released is deleted by the next pass
    deleted += net.maintain().bytes_reclaimed
    left = sum(1 for f in net.farmers for _ in (f.data_dir / "shards").iterdir())
    return RepairFigures(
        files=files,
        file_mib=size_mib,
        farmers=farmers,
        copies_per_shard=target,
        shards=shards,
        copies_corrupted=len(first_copies[damaged]),
        copies_on_stopped_farmer=counts[stopped],
        repair_interval=net.bridge.config.repair_interval,
        seconds_to_restore=round(seconds, 2),
        copies_made=len(made),
        bytes_copied=sum(c["data_size"] for c in made),
        audit_ok=audit["ok"],
        audit_failed=audit["failed"],
        downloads_identical=identical,
        cancelled_upload_bytes_reclaimed=cancelled,
        deleted_files_bytes_reclaimed=deleted,
        shard_files_left=left,
        audit_failures_from_debris=debris_failures,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--size", type=int, default=6, help="MiB per file")
    parser.add_argument("--farmers", type=int, default=8)
    parser.add_argument("--mirrors", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.5, help="repair interval, s")
    args = parser.parse_args(argv)
    figures = measure(args.files, args.size, args.farmers, args.mirrors, args.interval)
    for name, value in figures.summary().items():
        print(f"{name:34} {value}")
    ok = figures.downloads_identical == figures.files and figures.audit_failed == 0
    return 0 if ok and figures.shard_files_left == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

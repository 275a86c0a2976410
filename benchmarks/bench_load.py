"""Mixed load from concurrent clients against one local network, on loopback.

Starts ``python -m storj.local serve --farmers N --port 0`` in its own process (the
Bridge and its farmers), registers one user per client, then runs ``--clients`` threads
that each perform ``--ops`` operations drawn from a seeded mix:

=============== ====== ================================================================
operation       weight what it does
=============== ====== ================================================================
create-bucket   8      ``POST /buckets``
upload-small    25     ``upload_file`` of 1–32 KiB (one shard)
upload-medium   10     ``upload_file`` of 256 KiB, 1 MiB or 2 MiB + 1 (parity)
list            22     ``GET /buckets`` or ``GET /buckets/:id/files``
download        25     ``download_file`` of one of the client's files, bytes compared
delete          10     ``DELETE /buckets/:id/files/:id`` (or an empty extra bucket)
=============== ====== ================================================================

It prints the operations per second, the p50/p99 latency of the metadata calls (create,
list, delete), the error and mismatch counts (both must be 0) and the peak RSS (VmHWM)
of the network process and of this client process. Loopback only; every loop is
bounded by ``--ops`` and the whole run by ``--deadline`` seconds.

Usage::

    python benchmarks/bench_load.py [--clients 16] [--ops 100] [--farmers 4] [--seed 1]
        [--deadline 900] [--json]

:func:`run_load` is also used by ``tests/integration/test_load.py`` (a small version).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from storj.exception import NotFoundError  # noqa: E402
from storj.http import Client  # noqa: E402
from storj.transfer import TransferConfig, download_file, upload_file  # noqa: E402

KIB = 1024
MIB = 1024 * KIB
MNEMONIC = "abandon " * 11 + "about"
MIX = {
    "create-bucket": 8,
    "upload-small": 25,
    "upload-medium": 10,
    "list": 22,
    "download": 25,
    "delete": 10,
}
METADATA = ("create-bucket", "list", "delete")
MEDIUM_SIZES = (256 * KIB, MIB, 2 * MIB + 1)


@dataclass
class LoadResult:
    clients: int
    ops_per_client: int
    seconds: float = 0.0
    operations: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    mismatches: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    metadata_latencies: list[float] = field(default_factory=list)
    network_peak_rss_mib: float | None = None
    client_peak_rss_mib: float | None = None

    @property
    def total_ops(self) -> int:
        return sum(self.operations.values())

    @property
    def ops_per_second(self) -> float:
        return self.total_ops / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        data = sorted(self.metadata_latencies)
        if not data:
            return 0.0
        if len(data) == 1:
            return data[0] * 1000
        cuts = statistics.quantiles(data, n=100, method="inclusive")
        return cuts[int(q) - 1] * 1000

    def summary(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "ops_per_client": self.ops_per_client,
            "operations": self.total_ops,
            "by_kind": dict(sorted(self.operations.items())),
            "seconds": round(self.seconds, 2),
            "ops_per_second": round(self.ops_per_second, 1),
            "metadata_calls": len(self.metadata_latencies),
            "metadata_p50_ms": round(self.percentile_ms(50), 1),
            "metadata_p99_ms": round(self.percentile_ms(99), 1),
            "errors": len(self.errors),
            "mismatches": self.mismatches,
            "mib_uploaded": round(self.bytes_up / MIB, 1),
            "mib_downloaded": round(self.bytes_down / MIB, 1),
            "network_peak_rss_mib": self.network_peak_rss_mib,
            "client_peak_rss_mib": self.client_peak_rss_mib,
        }


def peak_rss_mib(pid: int | str = "self") -> float | None:
    """VmHWM of a process in MiB (Linux), else None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


class _Worker(threading.Thread):
    """One client: its own user, buckets and files; ``ops`` operations."""

    def __init__(self, index: int, url: str, ops: int, seed: int, tmp: Path,
                 result: LoadResult, lock: threading.Lock, deadline: float) -> None:
        super().__init__(name=f"load-client-{index}", daemon=True)
        self.index = index
        self.url = url
        self.ops = ops
        self.rng = random.Random(seed * 1000 + index)
        self.tmp = tmp / f"client-{index}"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.result = result
        self.lock = lock
        self.deadline = deadline
        self.client: Client | None = None
        self.buckets: list[str] = []
        self.files: dict[str, tuple[str, str, int]] = {}  # file id -> (bucket, sha256, size)
        self.counter = 0
        self.config = TransferConfig(tmp_dir=self.tmp, shard_concurrency=2)

    # -- bookkeeping --------------------------------------------------------------

    def _timed_metadata(self, call: Any, *args: Any) -> Any:
        started = time.perf_counter()
        value = call(*args)
        elapsed = time.perf_counter() - started
        with self.lock:
            self.result.metadata_latencies.append(elapsed)
        return value

    def _next_name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.index}-{self.counter}"

    # -- operations ---------------------------------------------------------------

    def create_bucket(self) -> None:
        assert self.client is not None
        bucket = self._timed_metadata(self.client.bucket_create, self._next_name("bucket"))
        self.buckets.append(bucket.id)

    def upload(self, size: int) -> None:
        assert self.client is not None
        data = self.rng.randbytes(size)
        path = self.tmp / "source.bin"
        path.write_bytes(data)
        bucket = self.rng.choice(self.buckets)
        entry = upload_file(self.client, bucket, path, name=self._next_name("file") + ".bin",
                            config=self.config)
        path.unlink()
        self.files[entry.id] = (bucket, hashlib.sha256(data).hexdigest(), size)
        with self.lock:
            self.result.bytes_up += size

    def listing(self) -> None:
        assert self.client is not None
        if self.rng.random() < 0.5:
            self._timed_metadata(self.client.bucket_list)
        else:
            self._timed_metadata(self.client.bucket_files, self.rng.choice(self.buckets))

    def download(self) -> None:
        assert self.client is not None
        if not self.files:
            self.upload(self.rng.randint(KIB, 32 * KIB))
            return
        file_id = self.rng.choice(sorted(self.files))
        bucket, digest, size = self.files[file_id]
        target = self.tmp / "download.bin"
        download_file(self.client, bucket, file_id, target, config=self.config)
        got = hashlib.sha256(target.read_bytes()).hexdigest()
        target.unlink()
        with self.lock:
            self.result.bytes_down += size
            if got != digest:
                self.result.mismatches += 1

    def delete(self) -> None:
        assert self.client is not None
        used = {bucket for bucket, _, _ in self.files.values()}
        empty = [b for b in self.buckets[1:] if b not in used]
        if empty and (not self.files or self.rng.random() < 0.3):
            self._timed_metadata(self.client.bucket_delete, empty[0])
            self.buckets.remove(empty[0])
            return
        if not self.files:
            self.create_bucket()
            return
        file_id = self.rng.choice(sorted(self.files))
        bucket = self.files.pop(file_id)[0]
        self._timed_metadata(self.client.file_remove, bucket, file_id)
        try:
            self.client.file_metadata(bucket, file_id)
        except NotFoundError:
            return
        raise AssertionError(f"file {file_id} still listed after its deletion")

    # -- the loop -----------------------------------------------------------------

    def run(self) -> None:
        kinds = list(MIX)
        weights = [MIX[k] for k in kinds]
        try:
            email = f"load-{self.index}-{os.getpid()}@example.com"
            password = f"password-{self.index}"
            with Client(None, None, api_url=self.url) as anonymous:
                anonymous.user_create(email, password)
            self.client = Client(email, password, api_url=self.url, encryption_key=MNEMONIC)
            self.create_bucket()
        except Exception as exc:  # noqa: BLE001 - counted and reported
            with self.lock:
                self.result.errors.append(f"client {self.index} setup: {exc!r}")
            return
        try:
            for _ in range(self.ops):
                if time.monotonic() > self.deadline:
                    with self.lock:
                        self.result.errors.append(f"client {self.index}: deadline reached")
                    return
                kind = self.rng.choices(kinds, weights)[0]
                try:
                    if kind == "create-bucket":
                        self.create_bucket()
                    elif kind == "upload-small":
                        self.upload(self.rng.randint(KIB, 32 * KIB))
                    elif kind == "upload-medium":
                        self.upload(self.rng.choice(MEDIUM_SIZES))
                    elif kind == "list":
                        self.listing()
                    elif kind == "download":
                        self.download()
                    else:
                        self.delete()
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    with self.lock:
                        self.result.errors.append(f"client {self.index} {kind}: {exc!r}")
                    continue
                with self.lock:
                    self.result.operations[kind] += 1
        finally:
            self.client.close()


def run_load(url: str, *, clients: int, ops: int, seed: int = 1, tmp_dir: Path | None = None,
             deadline: float = 900.0, network_pid: int | None = None) -> LoadResult:
    """Run ``clients`` threads of ``ops`` operations each against the Bridge at ``url``."""
    result = LoadResult(clients=clients, ops_per_client=ops)
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
        stop_at = time.monotonic() + deadline
        workers = [
            _Worker(i, url, ops, seed, Path(tmp), result, lock, stop_at) for i in range(clients)
        ]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=max(1.0, stop_at - time.monotonic() + 30))
        result.seconds = time.perf_counter() - started
        if any(w.is_alive() for w in workers):
            result.errors.append("a client did not finish before the deadline")
        missing = clients * ops - result.total_ops - len(result.errors)
        if missing > 0:
            result.errors.append(f"{missing} operations neither completed nor failed")
    if network_pid is not None:
        result.network_peak_rss_mib = peak_rss_mib(network_pid)
    result.client_peak_rss_mib = peak_rss_mib()
    return result


class NetworkProcess:
    """``python -m storj.local serve`` in a temporary directory."""

    def __init__(self, data: Path, farmers: int) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(  # noqa: S603 - our interpreter and module
            [sys.executable, "-m", "storj.local", "serve", "--data", str(data),
             "--farmers", str(farmers), "--port", "0", "-q"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True,
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            match = re.search(r"Bridge (http://\S+?),", line)
            if match:
                self.url = match.group(1)
                break
        else:
            raise RuntimeError("the local network did not start")
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure(clients: int, ops: int, farmers: int = 4, seed: int = 1,
            deadline: float = 900.0) -> LoadResult:
    """Start a network process, run the load against it, stop it."""
    with tempfile.TemporaryDirectory(prefix="storj-load-") as tmp:
        network = NetworkProcess(Path(tmp) / "net", farmers)
        try:
            return run_load(network.url, clients=clients, ops=ops, seed=seed,
                            tmp_dir=Path(tmp), deadline=deadline, network_pid=network.pid)
        finally:
            network.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--ops", type=int, default=100)
    parser.add_argument("--farmers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=900.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = measure(args.clients, args.ops, args.farmers, args.seed, args.deadline)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['clients']} clients x {summary['ops_per_client']} operations "
              f"({summary['operations']} done in {summary['seconds']} s)")
        print(f"  by kind:            {summary['by_kind']}")
        print(f"  operations/second:  {summary['ops_per_second']}")
        print(f"  metadata p50 / p99: {summary['metadata_p50_ms']} ms / "
              f"{summary['metadata_p99_ms']} ms ({summary['metadata_calls']} calls)")
        print(f"  errors:             {summary['errors']}")
        print(f"  mismatched files:   {summary['mismatches']}")
        print(f"  uploaded/downloaded {summary['mib_uploaded']} MiB / "
              f"{summary['mib_downloaded']} MiB")
        print(f"  network peak RSS:   {summary['network_peak_rss_mib']} MiB "
              "(Bridge + farmers, one process)")
        print(f"  client peak RSS:    {summary['client_peak_rss_mib']} MiB")
        for error in result.errors[:20]:
            print(f"  ERROR {error}")
    return 0 if not result.errors and not result.mismatches else 1


if __name__ == "__main__":
    raise SystemExit(main())

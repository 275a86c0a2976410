"""Upload/download throughput of the transfer engine against a local network.

Starts ``python -m storj.local serve --farmers N --port 0`` in a separate process (so
the farmers' CPU is not counted in this process and does not hold its GIL), creates
a user and a bucket, then uploads and downloads one random file with Reed–Solomon
off and on. For each run it prints wall seconds, MiB/s of file bytes, the client's
peak RSS, and the ratio to a CPU bound measured in the same run on one thread:

* upload bound = AES-256-CTR over the file + SHA-256 over
  (data + parity bytes) × (1 + challenges) (the shard hash and one pass per audit
  challenge: the work the protocol requires);
* download bound = SHA-256 over the fetched bytes (the data shards) + AES-256-CTR
  over the file.

Usage::

    python benchmarks/bench_transfer.py [--size 256M] [--farmers 4] [--rs off,on]
        [--concurrency 4] [--profile upload|download] [--tmp DIR]
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storj import catalog, crypto, sharding  # noqa: E402
from storj.http import Client  # noqa: E402
from storj.transfer import ShardLayout, TransferConfig  # noqa: E402

MIB = 1024 * 1024


def parse_size(text: str) -> int:
    units = {"K": 1024, "M": MIB, "G": 1024 * MIB}
    text = text.strip().upper().rstrip("B").rstrip("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def peak_rss_mib() -> float:
    """Peak resident memory of this process (VmHWM), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def self_cpu() -> float:
    """CPU seconds (user + system) used by this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak_rss() -> bool:
    """Reset VmHWM (Linux ``clear_refs`` 5) so each transfer gets its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def write_random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(MIB)
    with open(path, "wb") as out:
        left = size
        counter = 0
        while left:
            # Vary every block cheaply so shards differ (hash of the counter in front).
            piece = hashlib.sha256(counter.to_bytes(8, "big")).digest() + block[32:]
            piece = piece[: min(MIB, left)]
            out.write(piece)
            digest.update(piece)
            left -= len(piece)
            counter += 1
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def warm_memory(size: int) -> float:
    """Touch ``size`` bytes of fresh memory in a child process, then free it.

    On virtual machines whose memory the host backs lazily and takes back when the
    guest frees it (virtio-balloon free page reporting, a few seconds later), writing a
    page the guest has not used recently is slow (2–5 ms/MiB measured here against
    ~0.1 ms/MiB for a recently freed page). The page-cache pages of the temporary,
    shard and output files would pay that inside the timed transfers, so this runs
    right before each one. Returns the seconds spent.
    """
    start = time.perf_counter()
    code = (
        "import mmap\n"
        f"n = {size}\n"
        "m = mmap.mmap(-1, n)\n"
        "block = b'\\1' * (1 << 20)\n"
        "for off in range(0, n, 1 << 20):\n"
        "    m[off:off + (1 << 20)] = block[: min(1 << 20, n - off)]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603 - our interpreter
    return time.perf_counter() - start


def measure_bound(path: Path, size: int, parity_bytes: int, challenges: int) -> tuple[float, float]:
    """(upload bound, download bound) in seconds, single-threaded, from the page cache."""
    key, iv = os.urandom(32), os.urandom(16)
    buffer = bytearray(MIB)
    view = memoryview(buffer)

    def aes_pass() -> float:
        cipher = crypto.ctr_cipher(key, iv, 0)
        start = time.perf_counter()
        with open(path, "rb", buffering=0) as handle:
            while got := handle.readinto(buffer):
                cipher.update(view[:got])
        return time.perf_counter() - start

    def sha_pass(hashers: int, volume: int) -> float:
        objs = [hashlib.sha256() for _ in range(hashers)]
        start = time.perf_counter()
        left = volume
        while left > 0:
            with open(path, "rb", buffering=0) as handle:
                while left > 0 and (got := handle.readinto(buffer)):
                    piece = view[: min(got, left)]
                    for h in objs:
                        h.update(piece)
                    left -= piece.nbytes
        return time.perf_counter() - start

    aes = min(aes_pass() for _ in range(2))
    upload_sha = sha_pass(1 + challenges, size + parity_bytes)
    download_sha = sha_pass(1, size)
    return aes + upload_sha, aes + download_sha


class Network:
    """``python -m storj.local serve`` in a child process."""

    def __init__(self, data: Path, farmers: int, mirrors: int | None = None) -> None:
        self.data = data
        self.farmers = farmers
        self.mirrors = mirrors
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def __enter__(self) -> Network:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        command = [sys.executable, "-m", "storj.local", "serve", "--data", str(self.data),
                   "--farmers", str(self.farmers), "--port", "0", "-q"]
        if self.mirrors is not None:
            command += ["--mirrors", str(self.mirrors)]
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        running = self.data / "running.json"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"the local network exited: {err}")
            try:
                info = json.loads(running.read_text())
                self.url = info["bridge_url"]
                return self
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        raise RuntimeError("the local network did not start within 60 s")

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="256M", help="file size (e.g. 256M, 1G)")
    parser.add_argument("--farmers", type=int, default=4)
    parser.add_argument("--rs", default="off,on", help="comma list of off/on")
    parser.add_argument("--concurrency", type=int, default=4, help="shard_concurrency")
    parser.add_argument("--profile", choices=("upload", "download"), help="cProfile one step")
    parser.add_argument(
        "--mirrors",
        type=int,
        help="automatic mirrors the Bridge makes of each shard (default: `serve`'s, i.e. 2; "
        "0 keeps the farmers' CPU for the transfer itself)",
    )
    parser.add_argument("--tmp", help="work directory (default: a new temporary one)")
    parser.add_argument(
        "--warm",
        default="auto",
        help="bytes of memory to touch right before each timed step (VM first-touch cost; "
        "'auto' = 4 x size + 512M, 0 = none)",
    )
    args = parser.parse_args()

    size = parse_size(args.size)
    work = Path(args.tmp) if args.tmp else Path(tempfile.mkdtemp(prefix="storj-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    mnemonic = crypto.generate_mnemonic()
    try:
        source = work / "source.bin"
        warm = 4 * size + 512 * MIB if args.warm == "auto" else parse_size(args.warm)
        print(f"writing a {size / MIB:.0f} MiB random file ...", flush=True)
        expected = write_random_file(source, size)
        layout_rs = ShardLayout.plan(size, True)
        parity_bytes = layout_rs.parity_shards * layout_rs.parity_size
        challenges = sharding.DEFAULT_CHALLENGES
        print("measuring the single-threaded bound ...", flush=True)
        bounds = {
            False: measure_bound(source, size, 0, challenges),
            True: measure_bound(source, size, parity_bytes, challenges),
        }
        with Network(work / "net", args.farmers, args.mirrors) as net:
            email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", "benchmark password"
            Client(None, None, api_url=net.url).user_create(email, password)
            client = Client(email, password, api_url=net.url, encryption_key=mnemonic)
            bucket = catalog.create_bucket(client, "bench", crypto.EncryptionKey(mnemonic))
            mirrors = "default" if args.mirrors is None else args.mirrors
            print(f"\nfile {size / MIB:.0f} MiB, {args.farmers} farmers (separate process, "
                  f"mirrors {mirrors}), shard_concurrency {args.concurrency}, "
                  f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
            header = (f"{'step':<16}{'wall s':>7}{'MiB/s':>8}{'bound s':>8}{'ratio':>7}"
                      f"{'client CPU s':>13}{'farmers CPU s':>14}{'peak RSS MiB':>13}")
            print(header)
            print("-" * len(header))

            def timed(label: str, bound: float, work_fn):  # type: ignore[no-untyped-def]
                if warm:
                    warm_memory(warm)
                reset_peak_rss()
                profiler = cProfile.Profile() if args.profile and label.startswith(args.profile) \
                    else None
                farmer0, client0 = process_cpu(net.pid), self_cpu()
                start = time.perf_counter()
                if profiler:
                    profiler.enable()
                result = work_fn()
                if profiler:
                    profiler.disable()
                wall = time.perf_counter() - start
                client_cpu, farmer_cpu = self_cpu() - client0, process_cpu(net.pid) - farmer0
                print(f"{label:<16}{wall:>7.2f}{size / MIB / wall:>8.1f}{bound:>8.2f}"
                      f"{wall / bound:>7.2f}{client_cpu:>13.2f}{farmer_cpu:>14.2f}"
                      f"{peak_rss_mib():>13.0f}", flush=True)
                if profiler:
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
                return result

            for mode in args.rs.split(","):
                rs = mode.strip() == "on"
                layout = ShardLayout.plan(size, rs)
                cfg = TransferConfig(
                    shard_concurrency=args.concurrency, tmp_dir=str(work), erasure=rs
                )
                up_bound, down_bound = bounds[rs]
                name = f"file-{mode}-{uuid.uuid4().hex[:6]}.bin"
                target = work / f"out-{mode}.bin"
                entry = timed(
                    f"upload RS {mode}",
                    up_bound,
                    lambda cfg=cfg, name=name: client.upload_file(
                        bucket.id, str(source), name=name, config=cfg
                    ),
                )
                timed(
                    f"download RS {mode}",
                    down_bound,
                    lambda cfg=cfg, entry=entry, target=target: client.download_file(
                        bucket.id, entry.id, str(target), config=cfg
                    ),
                )
                if file_sha256(target) != expected:
                    print("  !! downloaded bytes differ from the source")
                    return 1
                target.unlink()
                print(f"  ({layout.data_shards} data + {layout.parity_shards} parity shards of "
                      f"{layout.shard_size / MIB:g} MiB)")
        return 0
    finally:
        if not args.tmp:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""Throughput of the file pipeline's primitives on this machine.

Prints MiB/s for AES-256-CTR (storj.crypto), SHA-256 (hashlib), the one-pass
shard hasher (storj.sharding.ShardHasher, if present), and Reed–Solomon encode
and reconstruct (storj.erasure). Run from the checkout::

    python benchmarks/bench_primitives.py
    python benchmarks/bench_primitives.py --size 64 --shard-size 4 --data 16 --parity 11
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from storj import crypto, erasure  # noqa: E402

MiB = 1 << 20


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """Best wall time of ``repeat`` runs of ``fn`` (after one warm-up run)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def report(name: str, nbytes: int, seconds: float) -> None:
    print(f"{name:<44} {nbytes / MiB / seconds:9.0f} MiB/s   ({seconds * 1e3:8.1f} ms)")


def bench_ctr(buf: bytes, chunk: int, repeat: int) -> None:
    key, iv = bytes(range(32)), bytes(16)

    def run() -> None:
        cipher = crypto.ctr_cipher(key, iv, 12345)
        view = memoryview(buf)
        for pos in range(0, len(buf), chunk):
            cipher.update(view[pos : pos + chunk])

    report(f"AES-256-CTR ({chunk // 1024} KiB updates)", len(buf), best_of(repeat, run))


def bench_sha256(buf: bytes, chunk: int, repeat: int) -> None:
    def run() -> None:
        h = hashlib.sha256()
        view = memoryview(buf)
        for pos in range(0, len(buf), chunk):
            h.update(view[pos : pos + chunk])
        h.digest()

    report("SHA-256 (hashlib)", len(buf), best_of(repeat, run))


def bench_shard_hasher(buf: bytes, chunk: int, repeat: int, challenges: int) -> None:
    try:
        from storj import sharding
    except ImportError:
        print("storj.sharding not available: shard hasher skipped")
        return
    chal = sharding.new_challenges(challenges)

    def run() -> None:
        hasher = sharding.ShardHasher(chal)
        view = memoryview(buf)
        for pos in range(0, len(buf), chunk):
            hasher.update(view[pos : pos + chunk])
        hasher.finish()

    report(f"ShardHasher ({challenges} challenges, one pass)", len(buf), best_of(repeat, run))


def bench_rs(data: int, parity: int, shard_size: int, threads: int | None, repeat: int) -> None:
    rng = np.random.default_rng(0)
    shards = [rng.integers(0, 256, shard_size, dtype=np.uint8) for _ in range(data)]
    rs = erasure.ReedSolomon(data, parity, threads=threads)
    label = f"{data}+{parity} x {shard_size / MiB:g} MiB, threads={threads or 'auto'}"
    out = [np.empty(shard_size, dtype=np.uint8) for _ in range(parity)]
    seconds = best_of(repeat, lambda: rs.encode_into(shards, out))
    report(f"RS encode_into ({label})", data * shard_size, seconds)
    seconds = best_of(repeat, lambda: rs.encode(shards))
    report("RS encode -> bytes (allocates the result)", data * shard_size, seconds)

    complete = [s.tobytes() for s in shards] + [p.tobytes() for p in out]
    lost = min(parity, data)
    damaged: list[bytes | None] = list(complete)
    for i in range(lost):
        damaged[i] = None  # worst case: lose data shards first
    seconds = best_of(repeat, lambda: rs.reconstruct(damaged))
    report(f"RS reconstruct ({lost} data shards lost)", data * shard_size, seconds)
    if rs.reconstruct(damaged) != complete:
        raise SystemExit("RS reconstruct returned wrong bytes")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=64, help="MiB for CTR/SHA/hasher (64)")
    parser.add_argument("--chunk", type=int, default=1024, help="KiB per update call (1024)")
    parser.add_argument("--challenges", type=int, default=4, help="audit challenges (4)")
    parser.add_argument("--data", type=int, default=16, help="RS data shards (16)")
    parser.add_argument("--parity", type=int, default=11, help="RS parity shards (11)")
    parser.add_argument("--shard-size", type=float, default=4, help="RS shard MiB (4)")
    parser.add_argument(
        "--threads", type=int, default=None, help="RS threads (default: CPU count, max 8)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure; best is shown")
    args = parser.parse_args(argv)

    size = int(args.size * MiB)
    chunk = args.chunk * 1024
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    buf = os.urandom(size)
    bench_ctr(buf, chunk, args.repeat)
    bench_sha256(buf, chunk, args.repeat)
    bench_shard_hasher(buf, chunk, args.repeat, args.challenges)
    bench_rs(args.data, args.parity, int(args.shard_size * MiB), args.threads, args.repeat)
    if args.threads is None:
        bench_rs(args.data, args.parity, int(args.shard_size * MiB), 1, args.repeat)


if __name__ == "__main__":
    main()

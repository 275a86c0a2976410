"""Crash consistency of the local network: SIGKILL during uploads, restart, verify.

The network runs as its own process (``python -m storj.local serve --data DIR``). A
client thread uploads files of mixed sizes without pause; at a random moment (seeded)
the network process is killed with SIGKILL, its SQLite databases are checked with
``PRAGMA integrity_check``, and it is started again on the same directory. At the end
every file whose upload reported success — and every entry the Bridge lists, including
one whose upload was cut by the kill — downloads byte-identical.
"""

from __future__ import annotations

import os
import queue
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from storj.exception import StorjError
from storj.http import Client
from storj.transfer import TransferConfig, download_file, upload_file
from tests.helpers import WAIT_TIMEOUT

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MNEMONIC = "abandon " * 11 + "about"
SIZES = (1000, 40_000, 300_000, 2 * 1024 * 1024 + 1)
URL_LINE = re.compile(r"Bridge (http://[0-9.]+:\d+),")


class NetworkProcess:
    """``python -m storj.local serve`` on DIR, with its Bridge URL."""

    def __init__(self, data: Path, log: Path) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "storj.local", "serve", "--data", str(data),
             "--farmers", "4", "--port", "0", "-q"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        lines: queue.Queue[str] = queue.Queue()

        def drain() -> None:
            assert self.proc.stdout is not None
            for raw in self.proc.stdout:
                lines.put(raw.decode("utf-8", "replace"))

        self.reader = threading.Thread(target=drain, name="crash-test-stdout", daemon=True)
        self.reader.start()
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise AssertionError(
                    f"the network did not print its URL within {WAIT_TIMEOUT:g} s"
                ) from None
            match = URL_LINE.search(line)
            if match:
                self.url = match.group(1)
                return

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs in the network process."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.reader.join(timeout=30)  # the pipe ends with the process
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self.log.close()

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        finally:
            self.kill()


def integrity_errors(data: Path) -> dict[str, str]:
    """``PRAGMA integrity_check`` of the Bridge's and every farmer's database."""
    databases = [data / "bridge" / "bridge.sqlite3", *sorted(data.glob("farmers/*/farmer.sqlite3"))]
    assert databases[0].is_file()
    problems = {}
    for db in databases:
        connection = sqlite3.connect(db)
        try:
            result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        finally:
            connection.close()
        if result != ["ok"]:
            problems[str(db)] = "; ".join(result)
    return problems


class Uploader(threading.Thread):
    """Uploads random files until told to stop or until one fails (after the kill)."""

    def __init__(self, url: str, account: tuple[str, str], bucket: str, round_no: int,
                 rng: random.Random, root: Path) -> None:
        super().__init__(name=f"crash-test-uploader-{round_no}", daemon=True)
        # generous timeouts: a busy machine must not fail an upload before the kill (after
        # it, connections to the dead process fail at once)
        self.client = Client(*account, api_url=url, encryption_key=MNEMONIC, timeout=30,
                             retries=0)
        self.bucket = bucket
        self.round_no = round_no
        self.rng = rng
        self.root = root
        self.stopping = threading.Event()
        self.first_success = threading.Event()
        self.succeeded: dict[str, bytes] = {}
        self.in_flight: tuple[str, bytes] | None = None
        self.unexpected: BaseException | None = None
        self.failure: BaseException | None = None
        self.config = TransferConfig(timeout=30, bridge_attempts=1, max_push_attempts=2,
                                     tmp_dir=root / "tmp")

    def run(self) -> None:
        index = 0
        try:
            while not self.stopping.is_set():
                index += 1
                name = f"r{self.round_no}-f{index}.bin"
                data = self.rng.randbytes(self.rng.choice(SIZES))
                source = self.root / name
                source.write_bytes(data)
                self.in_flight = (name, data)
                try:
                    upload_file(self.client, self.bucket, source, name=name, config=self.config)
                except StorjError as exc:
                    self.failure = exc  # expected once the network is gone
                    return
                self.succeeded[name] = data
                self.in_flight = None
                self.first_success.set()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.unexpected = exc
        finally:
            self.client.close()


def run_crash_rounds(tmp_path: Path, rounds: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    data = tmp_path / "net"
    (tmp_path / "tmp").mkdir()
    log = tmp_path / "network.log"
    network = NetworkProcess(data, log)
    try:
        setup = Client(None, None, api_url=network.url)
        email, password = "crash@example.com", "crash-test-password"
        setup.user_create(email, password)
        setup.close()
        with Client(email, password, api_url=network.url, encryption_key=MNEMONIC) as client:
            bucket = client.bucket_create("crash").id
    except BaseException:
        network.terminate()
        raise

    expected: dict[str, bytes] = {}
    maybe: dict[str, bytes] = {}
    kills = 0
    for round_no in range(rounds):
        uploader = Uploader(network.url, (email, password), bucket, round_no, rng, tmp_path)
        uploader.start()
        # at least one upload per round completes; then the kill comes at a random point
        # (any moment is a valid one: no assertion depends on the pause)
        assert uploader.first_success.wait(timeout=WAIT_TIMEOUT) or not uploader.is_alive(), (
            "no upload completed"
        )
        time.sleep(rng.uniform(0.0, 0.8))
        network.kill()
        kills += 1
        uploader.join(timeout=60)
        assert not uploader.is_alive(), "an upload did not end after the network was killed"
        assert uploader.unexpected is None, f"untyped error: {uploader.unexpected!r}"
        expected.update(uploader.succeeded)
        if uploader.in_flight is not None:
            maybe[uploader.in_flight[0]] = uploader.in_flight[1]
        assert integrity_errors(data) == {}
        network = NetworkProcess(data, log)

    checked = 0
    try:
        with Client(email, password, api_url=network.url, encryption_key=MNEMONIC) as client:
            listed = {f.name: f.id for f in client.bucket_files(bucket)}
            assert set(expected) <= set(listed), "a file reported as uploaded is gone"
            assert set(listed) <= set(expected) | set(maybe), "an unknown entry appeared"
            out = tmp_path / "out"
            out.mkdir()
            for name, file_id in sorted(listed.items()):
                target = out / name
                download_file(client, bucket, file_id, target,
                              config=TransferConfig(tmp_dir=tmp_path / "tmp"))
                wanted = expected.get(name, maybe.get(name))
                assert target.read_bytes() == wanted, f"{name} differs after the crashes"
                checked += len(wanted or b"")
                target.unlink()
    finally:
        network.terminate()
    assert integrity_errors(data) == {}
    return {"kills": kills, "files": len(expected), "bytes_checked": checked}


def test_sigkill_during_uploads_loses_nothing_reported(tmp_path, record_property):
    result = run_crash_rounds(tmp_path, rounds=2, seed=7)
    assert result["kills"] == 2
    assert result["files"] >= 1
    record_property("bytes_checked", result["bytes_checked"])


@pytest.mark.slow
def test_sigkill_many_times(tmp_path, record_property):
    result = run_crash_rounds(tmp_path, rounds=8, seed=8)
    assert result["kills"] == 8
    record_property("bytes_checked", result["bytes_checked"])

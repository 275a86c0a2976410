"""The main flows as real processes: ``python -m storj …``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from storj import crypto
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET_VARS = ("STORJ_BRIDGE", "STORJ_BRIDGE_USER", "STORJ_BRIDGE_PASS", "STORJ_ENCRYPTION_KEY")


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARS}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        STORJ_LOCAL_DATA=str(tmp_path / "embedded"),
    )
    env.update(extra)
    return env


def storj(env: dict[str, str], *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "storj", *args],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert proc.returncode == expect, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def test_against_a_network_run_by_the_test(tmp_path):
    from storj.local import LocalNetwork

    with LocalNetwork(tmp_path / "net", farmers=4) as network:
        email, password = network.create_user()
        mnemonic = crypto.generate_mnemonic()
        env = clean_env(tmp_path, STORJ_BRIDGE=network.bridge_url, STORJ_BRIDGE_USER=email,
                        STORJ_BRIDGE_PASS=password, STORJ_ENCRYPTION_KEY=mnemonic)
        src = tmp_path / "report.pdf"
        data = os.urandom(50_000)
        src.write_bytes(data)
        storj(env, "mkbkt", "reports")
        storj(env, "cp", str(src), "storj://reports/")
        listed = json.loads(storj(env, "ls", "storj://reports/", "--json").stdout)
        assert [(f["name"], f["size"]) for f in listed] == [("report.pdf", 50_000)]
        storj(env, "cp", "storj://reports/report.pdf", str(tmp_path / "copy.pdf"))
        assert (tmp_path / "copy.pdf").read_bytes() == data

        unknown = storj(env, "ls", "storj://missing/", expect=1)
        assert unknown.stderr.count("\n") == 1 and unknown.stderr.startswith("Error: ")
        assert storj(env, "cp", str(src), "storj://", expect=2).returncode == 2
        wrong = storj({**env, "STORJ_BRIDGE_PASS": "nope"}, "ls", expect=1)
        assert wrong.stderr.startswith("Error: the Bridge refused the credentials")
        assert "Traceback" not in wrong.stderr
        for proc_output in (unknown.stderr, wrong.stderr):
            assert password not in proc_output and mnemonic not in proc_output


def test_embedded_default_across_invocations_and_demo(tmp_path):
    env = clean_env(tmp_path)
    src = tmp_path / "a.txt"
    src.write_text("hello embedded network\n")
    first = storj(env, "cp", str(src), "storj://b/")
    second = storj(env, "ls", "storj://b/")
    assert second.stdout.splitlines()[1].endswith(" a.txt")

    creds_path = tmp_path / "embedded" / "credentials.json"
    assert stat.S_IMODE(os.stat(creds_path).st_mode) == 0o600
    creds = json.loads(creds_path.read_text())

    demo = storj(env, "demo", "--size", "300KiB")
    assert "OK: bytes match (307200 bytes)" in demo.stdout
    assert "embedded local network" in demo.stdout
    for proc in (first, second, demo):
        for secret in (creds["password"], creds["mnemonic"]):
            assert secret not in proc.stdout and secret not in proc.stderr


def test_ctrl_c_during_download_exits_130_and_leaves_no_file(tmp_path):
    import signal

    from storj.local import LocalNetwork
    from storj.local.faults import FaultInjector, Stall

    with LocalNetwork(tmp_path / "net", farmers=4) as network:
        email, password = network.create_user()
        mnemonic = crypto.generate_mnemonic()
        env = clean_env(tmp_path, STORJ_BRIDGE=network.bridge_url, STORJ_BRIDGE_USER=email,
                        STORJ_BRIDGE_PASS=password, STORJ_ENCRYPTION_KEY=mnemonic)
        src = tmp_path / "big.bin"
        src.write_bytes(os.urandom(24 * 1024 * 1024))
        storj(env, "cp", str(src), "storj://big/")
        # Every shard download sends 64 KiB, then stalls (until the test ends): the
        # download is certainly still running when Ctrl-C comes, however fast the machine.
        faults = FaultInjector()
        faults.add(Stall(300, after_bytes=64 * 1024), path=r"^/shards/", methods=["GET"])
        for farmer in network.farmers:
            farmer.set_faults(faults)
        dest = tmp_path / "dl"
        dest.mkdir()
        try:
            with subprocess.Popen(
                [sys.executable, "-m", "storj", "cp", "storj://big/big.bin", str(dest)],
                env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
            ) as proc:
                try:
                    wait_until(
                        lambda: (list(dest.iterdir()) and faults.injected["stall"])
                        or proc.poll() is not None,
                        message="the download started (temporary file, a stalled shard)",
                    )
                    assert proc.poll() is None, proc.communicate()
                    proc.send_signal(signal.SIGINT)  # the temporary file exists: running
                    out, err = proc.communicate(timeout=60)
                finally:
                    if proc.poll() is None:
                        proc.kill()
            assert proc.returncode == 130, (out, err)
            assert err == "Error: cancelled; no partial file was left behind\n"
            assert list(dest.iterdir()) == []
        finally:
            faults.clear()


def test_reuses_a_network_served_by_storj_local_serve(tmp_path):
    import signal

    from storj.local.network import read_running_info

    data = tmp_path / "served"
    env = clean_env(tmp_path, STORJ_LOCAL_DATA=str(data))
    server = subprocess.Popen(
        [sys.executable, "-m", "storj", "local", "serve", "--port", "0", "-q"],
        env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_until(
            lambda: read_running_info(data) is not None or server.poll() is not None,
            message="storj local serve wrote its running file",
        )
        assert server.poll() is None, server.communicate()
        url = read_running_info(data)["bridge_url"]
        storj(env, "mkbkt", "shared")
        demo = storj(env, "demo", "--size", "64KiB")
        assert f"embedded local network at {url}" in demo.stdout
        assert "OK: bytes match" in demo.stdout
        listed = storj(env, "ls", "--json")
        assert [b["name"] for b in json.loads(listed.stdout)] == ["shared"]
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert server.returncode == 0

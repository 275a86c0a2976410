"""``storj cp`` with non-default transfer settings against a real LocalNetwork on loopback."""

from __future__ import annotations

import os
import secrets

import pytest
from click.testing import CliRunner

from storj import crypto
from storj.cli import cli
from storj.http import Client

pytestmark = pytest.mark.integration

SIZE = 3 * 1024 * 1024 + 5  # over 2 MiB: "auto" would add parity shards


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    from storj.local import LocalNetwork

    with LocalNetwork(tmp_path_factory.mktemp("cli-tuning-net"), farmers=4) as net:
        yield net


@pytest.fixture
def env(network, tmp_path, monkeypatch):
    email, password = network.create_user()
    mnemonic = crypto.generate_mnemonic()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    for name in ("STORJ_TRANSFER_CONCURRENCY", "STORJ_TRANSFER_ERASURE"):
        monkeypatch.delenv(name, raising=False)
    values = {
        "STORJ_BRIDGE": network.bridge_url,
        "STORJ_BRIDGE_USER": email,
        "STORJ_BRIDGE_PASS": password,
        "STORJ_ENCRYPTION_KEY": mnemonic,
        "STORJ_LOCAL_DATA": str(tmp_path / "embedded"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    client = Client(email, password, network.bridge_url, encryption_key=mnemonic)
    yield client
    client.close()


def run(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, (result.exit_code, result.output)
    return result


def stored(client, bucket, name):
    bucket_id = client.bucket_id_by_name(bucket)
    entry = client.find_file(bucket_id, name)
    pointers = list(client.file_pointers(bucket_id, str(entry.id), skip=0, limit=20))
    return entry, pointers


def test_cp_rs_off_concurrency_1_round_trips_without_parity(env, tmp_path):
    data = os.urandom(SIZE)
    source = tmp_path / "src.bin"
    source.write_bytes(data)
    bucket = f"tune-{secrets.token_hex(4)}"

    run("-q", "cp", "--erasure", "off", "--concurrency", "1", "--timeout", "30",
        str(source), f"storj://{bucket}/plain.bin")
    run("-q", "cp", str(source), f"storj://{bucket}/auto.bin")  # the default, for contrast

    plain, plain_pointers = stored(env, bucket, "plain.bin")
    assert plain.erasure is None
    assert plain_pointers and not any(p.parity for p in plain_pointers)
    auto, auto_pointers = stored(env, bucket, "auto.bin")
    assert auto.erasure == {"type": "reedsolomon"}
    assert any(p.parity for p in auto_pointers)
    assert len(plain_pointers) < len(auto_pointers)

    target = tmp_path / "back.bin"
    run("-q", "cp", "--concurrency", "1", f"storj://{bucket}/plain.bin", str(target))
    assert target.read_bytes() == data

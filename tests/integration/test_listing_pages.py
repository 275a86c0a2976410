"""Listings that never hide entries: more buckets and files than a page holds, entries
sharing one ``created`` millisecond across a page boundary (an injected clock), through
Client and through the CLI, on a local Bridge with small page caps and with the 2018
defaults (2000 files, 5000 buckets)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from storj import crypto
from storj.api import calculate_bucket_id, calculate_file_id
from storj.cli import cli
from storj.exception import BridgeResponseError
from storj.http import Client
from storj.local import LocalNetwork
from tests.helpers import FakeClock

pytestmark = pytest.mark.integration

CAP = 3


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """The CLI reads no config file of the machine's user."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("STORJ_LOCAL_DATA", str(tmp_path / "embedded"))


def cli_json(env: dict[str, str], monkeypatch, *args: str) -> list[dict]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    clock = FakeClock()
    with LocalNetwork(tmp_path_factory.mktemp("small-pages"), farmers=1, clock=clock,
                      max_bucket_list=CAP, max_file_list=CAP) as net:
        yield net, clock


def account(net: LocalNetwork, mnemonic: str | None):
    email, password = net.create_user()
    client = Client(email, password, api_url=net.bridge_url, encryption_key=mnemonic)
    client.bucket_page_limit = client.file_page_limit = CAP
    env = {"STORJ_BRIDGE": net.bridge_url, "STORJ_BRIDGE_USER": email,
           "STORJ_BRIDGE_PASS": password, "STORJ_ENCRYPTION_KEY": mnemonic or ""}
    return client, env


def add_files(client: Client, bucket_id: str, names: list[str]) -> list[str]:
    """Bucket entries through the API's fast path (an empty frame each, no shards)."""
    key = crypto.EncryptionKey(str(client.encryption_key))
    ids = []
    for name in names:
        frame = client.frame_create()
        stored = key.encrypt_file_name(bucket_id, name)
        ids.append(str(client.bucket_entry_create(bucket_id, str(frame.id), stored).id))
    return ids


def test_small_caps_with_shared_milliseconds(small, monkeypatch):
    net, clock = small
    client, env = account(net, crypto.generate_mnemonic())
    # groups of 2 buckets / files per millisecond, 3 per page: every page boundary
    # falls inside a millisecond at least once
    bucket_names = [f"bucket-{i}" for i in range(8)]
    for i, name in enumerate(bucket_names):
        if i % 2 == 0:
            clock.advance(0.001)
        client.bucket_create(name)
    assert len(client.bucket_list_page()) == CAP  # the Bridge really caps a page
    assert [b.name for b in client.bucket_list()] == bucket_names
    bucket_id = client.bucket_id_by_name("bucket-0")
    file_names = [f"dir/file-{i:02d}.txt" for i in range(11)]
    created = []
    for i in range(0, len(file_names), 2):
        clock.advance(0.001)
        created += add_files(client, bucket_id, file_names[i:i + 2])
    assert len(client.bucket_files_page(bucket_id)) == CAP
    files = client.bucket_files(bucket_id)
    assert [f.filename for f in files] == file_names
    assert [f["id"] for f in files] == created
    assert [f.filename for f in client.iter_bucket_files(bucket_id)] == file_names
    assert client.find_file(bucket_id, "dir/file-10.txt").id == created[-1]
    # through the CLI: ls, list-files, list-buckets stream every page
    assert [b["name"] for b in cli_json(env, monkeypatch, "ls")] == bucket_names
    assert [b["name"] for b in cli_json(env, monkeypatch, "list-buckets")] == bucket_names
    listed = cli_json(env, monkeypatch, "ls", "storj://bucket-0/")
    assert [f["name"] for f in listed] == file_names
    assert [f["id"] for f in cli_json(env, monkeypatch, "list-files", bucket_id)] == created
    under = cli_json(env, monkeypatch, "ls", "storj://bucket-0/dir/")
    assert [f["name"] for f in under] == file_names
    one = cli_json(env, monkeypatch, "ls", "storj://bucket-0/dir/file-10.txt")
    assert [f["id"] for f in one] == created[-1:]


def test_a_full_page_of_one_millisecond_is_an_error_not_a_silent_cut(small):
    net, clock = small
    client, _ = account(net, crypto.generate_mnemonic())
    bucket = client.bucket_create("crowded")
    clock.advance(0.001)
    add_files(client, str(bucket.id), [f"same-ms-{i}" for i in range(CAP + 1)])
    with pytest.raises(BridgeResponseError, match=r"more than 3 were created in the same"):
        client.bucket_files(str(bucket.id))


@pytest.fixture(scope="module")
def default_caps(tmp_path_factory):
    with LocalNetwork(tmp_path_factory.mktemp("default-pages"), farmers=1) as net:
        yield net


def test_default_caps_more_than_2000_files_and_5000_buckets(default_caps, monkeypatch):
    net = default_caps
    mnemonic = crypto.generate_mnemonic()
    email, password = net.create_user()
    client = Client(email, password, api_url=net.bridge_url, encryption_key=mnemonic)
    key = crypto.EncryptionKey(mnemonic)
    bucket = client.bucket_create("big")
    frame = client.frame_create()
    store = net.bridge.services.store  # created quickly: straight into the Bridge's store
    base = int(bucket.created.timestamp() * 1000) + 1 if bucket.created else 1
    names = [f"f{i:05d}" for i in range(2001)]
    # 2001 entries, 4 per millisecond, so the 2000-entry page ends inside a millisecond
    rows = []
    for i, name in enumerate(names):
        stored = key.encrypt_file_name(str(bucket.id), name)
        rows.append((calculate_file_id(str(bucket.id), stored), bucket.id, frame.id,
                     "text/plain", stored, base + i // 4, base + 10**10))
    bucket_rows = []
    for i in range(5001):
        stored = key.encrypt_bucket_name(f"b{i:05d}")
        bucket_rows.append((calculate_bucket_id(email, stored), email, stored, base + 1 + i // 4))
    with store.tx() as conn:
        conn.executemany(
            "INSERT INTO entries (id, bucket, frame, mimetype, filename, created, renewal) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        conn.executemany(
            "INSERT INTO buckets (id, user_email, name, created) VALUES (?, ?, ?, ?)",
            bucket_rows)
    assert len(client.bucket_files_page(str(bucket.id))) == 2000
    assert [f.filename for f in client.bucket_files(str(bucket.id))] == names
    all_buckets = [b.name for b in client.bucket_list()]
    assert len(client.bucket_list_page()) == 5000
    assert all_buckets == ["big"] + [f"b{i:05d}" for i in range(5001)]
    env = {"STORJ_BRIDGE": net.bridge_url, "STORJ_BRIDGE_USER": email,
           "STORJ_BRIDGE_PASS": password, "STORJ_ENCRYPTION_KEY": mnemonic}
    assert [f["name"] for f in cli_json(env, monkeypatch, "ls", "storj://big/")] == names
    assert len(cli_json(env, monkeypatch, "list-buckets")) == 5002
    client.close()

"""storj 0.3.x's modules on a real local network: Uploader, Downloader, managers, scripts.

Written the way 0.3.x code used them (imports, constructors, calls), checked against
this package's own client.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import storj
from storj import keys
from storj.downloader import Downloader
from storj.exception import EncryptionKeyError, NotFoundError, TransferError
from storj.http import Client
from storj.model import File
from storj.uploader import Uploader

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ENV_NAMES = ("STORJ_BRIDGE", "STORJ_BRIDGE_USER", "STORJ_BRIDGE_PASS", "STORJ_ENCRYPTION_KEY")


# network, account, env: tests/integration/conftest.py


@pytest.fixture
def client(env, account):
    with Client(account["email"], account["password"], env["STORJ_BRIDGE"]) as c:
        yield c


@pytest.fixture
def bucket_id(client):
    return client.bucket_create(f"compat-{secrets.token_hex(4)}").id


def write(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


# -- Uploader / Downloader ----------------------------------------------------------------


def test_uploader_uploads_and_the_client_downloads(env, account, client, bucket_id, tmp_path):
    source = tmp_path / "report.pdf"
    data = write(source, 300_000)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with Uploader(
        account["email"], account["password"], storj_bridge=env["STORJ_BRIDGE"]
    ) as uploader:
        entry = uploader.file_upload(bucket_id, str(source), str(scratch))
    assert isinstance(entry, File) and entry.id
    assert entry.bucket.id == bucket_id  # 0.3.x spelling
    assert list(scratch.iterdir()) == []  # temporary files cleaned up
    out = tmp_path / "copy.pdf"
    client.download_file(bucket_id, entry.id, str(out))
    assert out.read_bytes() == data


def test_uploader_without_a_mnemonic_refuses(env, account, bucket_id, tmp_path, monkeypatch):
    monkeypatch.delenv("STORJ_ENCRYPTION_KEY")
    source = tmp_path / "a.txt"
    write(source, 10)
    with Uploader(account["email"], account["password"], storj_bridge=env["STORJ_BRIDGE"]) as up:
        with pytest.raises(EncryptionKeyError, match="mnemonic"):
            up.file_upload(bucket_id, str(source), str(tmp_path))


def test_uploader_maps_retries_onto_the_transfer_config(env, account):
    with Uploader(account["email"], account["password"], 7.5, 3, 2) as uploader:
        config = uploader.transfer_config("/somewhere")
    assert (config.max_push_attempts, config.timeout, config.tmp_dir) == (3, 7.5, "/somewhere")
    assert uploader.max_retries_upload_same_farmer == 2
    assert uploader.client.api_url.rstrip("/") == env["STORJ_BRIDGE"]  # from the configuration


def test_downloader_writes_to_home_and_never_overwrites(env, account, client, bucket_id, tmp_path):
    source = tmp_path / "notes.txt"
    data = write(source, 5_000)
    entry = client.upload_file(bucket_id, str(source), name="notes.txt")
    with Downloader(account["email"], account["password"]) as downloader:
        path = downloader.download_begin(bucket_id, entry.id)
        assert path == os.path.join(os.environ["HOME"], "notes.txt")
        assert Path(path).read_bytes() == data
        Path(path).write_bytes(b"mine")
        with pytest.raises(TransferError, match="already exists"):
            downloader.download_begin(bucket_id, entry.id)
        assert Path(path).read_bytes() == b"mine"
        folder = tmp_path / "dl"
        folder.mkdir()
        into_dir = downloader.download_begin(bucket_id, entry.id, str(folder))
        assert into_dir == str(folder / "notes.txt") and Path(into_dir).read_bytes() == data
        explicit = downloader.download_begin(bucket_id, entry.id, str(tmp_path / "x.bin"))
        assert explicit == str(tmp_path / "x.bin") and Path(explicit).read_bytes() == data
    # same permissions as the client's own download; no partial file left behind
    client.download_file(bucket_id, entry.id, str(tmp_path / "direct.bin"))
    mode = stat.S_IMODE((tmp_path / "direct.bin").stat().st_mode)
    assert stat.S_IMODE(Path(explicit).stat().st_mode) == mode
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".storj-download-")]
    assert not [p for p in folder.iterdir() if p.name != "notes.txt"]


def test_downloader_metadata_methods(env, account, client, bucket_id, tmp_path):
    source = tmp_path / "big.bin"
    write(source, 3 * 1024 * 1024)  # 2 data shards + parity
    entry = client.upload_file(bucket_id, str(source), name="big.bin")
    pointers = list(client.file_pointers(bucket_id, entry.id, skip=0, limit=50))
    with Downloader(account["email"], account["password"]) as downloader:
        assert downloader.get_file_pointers_count(bucket_id, entry.id) == len(pointers) > 2
        assert downloader.filename_from_bridge == "big.bin"
        assert downloader.file_frame.id == entry.frame.id


def test_downloader_names_a_hostile_name_safely(env, account, client, bucket_id, tmp_path):
    source = tmp_path / "f"
    data = write(source, 100)
    entry = client.upload_file(bucket_id, str(source), name="../../escape")
    with Downloader(account["email"], account["password"]) as downloader:
        path = downloader.download_begin(bucket_id, entry.id)
    assert path == os.path.join(os.environ["HOME"], "escape")
    assert Path(path).read_bytes() == data


# -- managers -------------------------------------------------------------------------------


def test_file_manager(env, client, bucket_id, tmp_path):
    source = tmp_path / "one.bin"
    data = write(source, 20_000)
    files = storj.FileManager(bucket_id)
    entry = files.upload(str(source))
    assert [f.id for f in files.all()] == [entry.id]
    assert isinstance(files.all()[0], File)
    assert files.download(entry.id).read() == data
    target = io.BytesIO()
    assert files.download(entry.id, target).id == entry.id
    assert target.getvalue() == data
    with open(source, "rb") as handle:
        second = files.upload(handle, name="two.bin")
    assert sorted(f.id for f in files.all()) == sorted([entry.id, second.id])
    files.delete(entry.id)
    assert [f.id for f in files.all()] == [second.id]


def test_file_manager_upload_into_a_given_frame(env, client, bucket_id, tmp_path):
    source = tmp_path / "framed.bin"
    write(source, 1_000)
    frame = client.frame_create()
    entry = storj.FileManager(bucket_id).upload(str(source), frame)
    assert entry.frame.id == frame.id


def test_user_key_manager(env, client):
    _, public = keys.generate_new_key_pair()
    hex_key = keys.public_key_hex(public)
    storj.UserKeyManager.add(public)  # a key object, as 0.x code passed
    assert hex_key in storj.UserKeyManager.all()
    storj.UserKeyManager.remove(hex_key)
    assert hex_key not in storj.UserKeyManager.all()
    for _ in range(2):
        storj.UserKeyManager.add(keys.public_key_hex(keys.generate_new_key_pair()[1]))
    storj.UserKeyManager.clear()
    assert storj.UserKeyManager.all() == []


def test_bucket_key_manager(env, client, bucket_id):
    bucket = client.bucket_get(bucket_id)
    one = keys.public_key_hex(keys.generate_new_key_pair()[1])
    two = keys.generate_new_key_pair()[1]
    manager = storj.BucketKeyManager(bucket, [])
    manager.add(one)
    manager.add(two)
    manager.add(one)  # already there: no duplicate
    assert manager.all() == [one, keys.public_key_hex(two)]
    assert client.bucket_get(bucket_id).pubkeys == manager.all()
    manager.remove(one)
    assert client.bucket_get(bucket_id).pubkeys == [keys.public_key_hex(two)]
    with pytest.raises(NotFoundError):
        manager.remove(one)
    # a manager built from the id reads the Bridge's list
    assert storj.BucketKeyManager(bucket_id).all() == [keys.public_key_hex(two)]
    manager.clear()
    assert client.bucket_get(bucket_id).pubkeys == []


# -- console scripts ------------------------------------------------------------------------


def invoke(group, *args, expect=0):
    result = CliRunner().invoke(group, list(args), catch_exceptions=False)
    assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
    return result


def test_storj_bucket_commands(env, client):
    from storj.cli import bucket

    name = f"legacy-{secrets.token_hex(4)}"
    assert invoke(bucket, "create", name, "--storage", "5").stdout == f"Bucket {name} created\n"
    lines = invoke(bucket, "list").stdout.splitlines()
    mine = [line for line in lines if f"Name: {name}," in line]
    assert len(mine) == 1 and mine[0].startswith("[info]   ID: ")
    assert mine[0].endswith("Storage: 0, Transfer: 0")
    bucket_id = mine[0].split("ID: ")[1].split(",")[0]
    got = invoke(bucket, "get", bucket_id).stdout.splitlines()
    assert f"{'id'.rjust(18)} : {bucket_id}" in got
    assert f"{'name'.rjust(18)} : {name}" in got
    # made by the legacy script, found by name by the modern CLI (same naming model)
    from storj.cli import cli

    assert invoke(cli, "get-bucket-id", name).stdout.strip() == bucket_id
    failed = invoke(bucket, "get", "0" * 24, expect=1)
    assert failed.stderr.startswith("Error: ") and "Traceback" not in failed.output


def test_storj_file_upload(env, client, bucket_id, tmp_path):
    from storj.cli import file

    source = tmp_path / "up.bin"
    data = write(source, 4_000)
    out = invoke(file, "upload", bucket_id, str(source)).stdout.strip()
    assert out.startswith(f"File up.bin uploaded to bucket {bucket_id}: ID ")
    file_id = out.rsplit(" ", 1)[1]
    target = tmp_path / "down.bin"
    client.download_file(bucket_id, file_id, str(target))
    assert target.read_bytes() == data
    assert "modern command" in invoke(file, "upload", "--help").stdout.lower()


def test_storj_key_commands(env, client, tmp_path):
    from storj.cli import keys as keys_group

    folder = tmp_path / "pems"
    out = invoke(keys_group, "generate", "--dir", str(folder)).stdout
    registered = out.strip().splitlines()[-1].rsplit(" ", 1)[1]
    assert registered in client.key_list()
    assert stat.S_IMODE((folder / "private.pem").stat().st_mode) == 0o600
    assert invoke(keys_group, "generate", "--dir", str(folder), expect=1).stderr.startswith(
        "Error: "
    )
    assert registered in invoke(keys_group, "export").stdout
    client.key_delete(registered)
    loaded = invoke(
        keys_group, "load", str(folder / "private.pem"), str(folder / "public.pem")
    ).stdout
    assert registered in loaded and registered in client.key_list()
    client.key_delete(registered)


def test_storj_bucket_as_a_process(env, tmp_path):
    script = shutil.which("storj-bucket", path=os.path.dirname(sys.executable))
    fallback = [sys.executable, "-c", "from storj.cli import bucket; bucket()"]
    command = [script] if script else fallback
    name = f"proc-{secrets.token_hex(4)}"
    child_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    made = subprocess.run(
        [*command, "create", name], env=child_env, capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL,
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout == f"Bucket {name} created\n"
    listed = subprocess.run(
        [*command, "list"], env=child_env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert f"Name: {name}," in listed.stdout
    assert env["STORJ_BRIDGE_PASS"] not in listed.stdout + listed.stderr

"""One naming model: names made from Python are found by name by our CLI and by libstorj's
own CLI (``/usr/bin/storj``, Debian package ``storj``, libstorj 1.0.3), and the reverse.

The libstorj tests are skipped when ``/usr/bin/storj`` is absent, unless ``$CI`` is set:
then they fail, because CI must run them (``.ci/run`` installs the package).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from storj import crypto
from storj.cli import cli
from storj.http import Client

pytestmark = pytest.mark.integration

LIBSTORJ = Path("/usr/bin/storj")  # by absolute path: our own console script is `storj` too
LIBSTORJ_TIMEOUT = 300


# network: tests/integration/conftest.py


@pytest.fixture
def account(network, tmp_path, monkeypatch):
    email, password = network.create_user()
    mnemonic = crypto.generate_mnemonic()
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "STORJ_BRIDGE": network.bridge_url,
        "STORJ_BRIDGE_USER": email,
        "STORJ_BRIDGE_PASS": password,
        "STORJ_ENCRYPTION_KEY": mnemonic,
        "STORJ_LOCAL_DATA": str(tmp_path / "embedded"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = Client(email, password, api_url=network.bridge_url, encryption_key=mnemonic)
    yield {"env": env, "client": client, "email": email, "password": password,
           "mnemonic": mnemonic}
    client.close()


def ours(*args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
    return result.stdout


def libstorj(env: dict[str, str], *args: str) -> str:
    if not LIBSTORJ.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{LIBSTORJ} is missing: CI must install it (apt-get install -y storj)")
        pytest.skip(f"{LIBSTORJ} (Debian package storj, libstorj's CLI) is not installed")
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("STORJ_")}
    run_env.update(env)
    done = subprocess.run(
        [str(LIBSTORJ), *args], env=run_env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=LIBSTORJ_TIMEOUT, check=False,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def libstorj_rows(output: str) -> list[dict[str, str]]:
    """``ID: x \\tDecrypted: true \\tName: y`` lines as dicts."""
    rows = []
    for line in output.splitlines():
        fields = dict(re.findall(r"(\w+): (.*?)\s*(?:\t|$)", line))
        if "ID" in fields:
            rows.append(fields)
    return rows


def source(tmp_path: Path, name: str, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return path, data


# -- libstorj ----------------------------------------------------------------------------


def test_python_names_are_libstorj_names(account, tmp_path):
    client = account["client"]
    bucket = client.bucket_create("from-python")
    path, data = source(tmp_path, "report.txt", 300_000)
    entry = client.upload_file(bucket.id, path, name="docs/report.txt")
    assert (entry.filename, entry.decrypted) == ("docs/report.txt", True)

    buckets = libstorj_rows(libstorj(account["env"], "list-buckets"))
    assert [(b["ID"], b["Name"], b["Decrypted"]) for b in buckets] == [
        (bucket.id, "from-python", "true")
    ]
    files = libstorj_rows(libstorj(account["env"], "list-files", bucket.id))
    assert [(f["ID"], f["Name"]) for f in files] == [(entry.id, "docs/report.txt")]
    out = tmp_path / "by-libstorj.bin"
    libstorj(account["env"], "download-file", bucket.id, entry.id, str(out))
    assert out.read_bytes() == data


def test_libstorj_names_are_python_names(account, tmp_path):
    made = libstorj_rows(libstorj(account["env"], "add-bucket", "from-libstorj"))
    assert made and made[0]["Name"] == "from-libstorj"
    client = account["client"]
    bucket_id = client.bucket_id_by_name("from-libstorj")
    assert bucket_id == made[0]["ID"]
    found = client.find_bucket("from-libstorj")
    assert (found.id, found.name, found.decrypted) == (bucket_id, "from-libstorj", True)
    assert found.stored_name != "from-libstorj"  # libstorj stored it encrypted

    path, data = source(tmp_path, "photo.jpg", 200_000)
    uploaded = libstorj(account["env"], "upload-file", bucket_id, str(path))
    file_id = re.search(r"File ID: ([0-9a-f]{24})", uploaded)
    assert file_id, uploaded
    entry = client.find_file(bucket_id, "photo.jpg")
    assert (entry.id, entry.filename, entry.decrypted) == (file_id.group(1), "photo.jpg", True)
    assert [f.filename for f in client.bucket_files(bucket_id)] == ["photo.jpg"]
    out = tmp_path / "by-python.jpg"
    client.download_file(bucket_id, client.file_id_by_name(bucket_id, "photo.jpg"), out)
    assert out.read_bytes() == data
    # and our CLI sees the same names
    assert ours("get-bucket-id", "from-libstorj").strip() == bucket_id
    listed = json.loads(ours("ls", "storj://from-libstorj/", "--json"))
    assert [(f["name"], f["id"]) for f in listed] == [("photo.jpg", entry.id)]


# -- our CLI -------------------------------------------------------------------------------


def test_python_to_our_cli(account, tmp_path):
    client = account["client"]
    bucket = client.bucket_create("py-to-cli")
    path, data = source(tmp_path, "a.bin", 50_000)
    entry = client.upload_file(bucket.id, path, name="dir/a.bin")
    assert ours("get-bucket-id", "py-to-cli").strip() == bucket.id
    table = ours("ls")
    assert any(line.split()[0] == bucket.id and line.endswith("py-to-cli")
               for line in table.splitlines())
    files = json.loads(ours("ls", "storj://py-to-cli/dir/", "--json"))
    assert [(f["id"], f["name"], f["decrypted"]) for f in files] == [(entry.id, "dir/a.bin", True)]
    out = tmp_path / "out.bin"
    ours("cp", "storj://py-to-cli/dir/a.bin", str(out))
    assert out.read_bytes() == data


def test_our_cli_to_python(account, tmp_path):
    path, data = source(tmp_path, "notes.txt", 40_000)
    ours("mkbkt", "cli-to-py")
    ours("cp", str(path), "storj://cli-to-py/notes.txt")
    client = account["client"]
    bucket = client.find_bucket("cli-to-py")
    assert (bucket.name, bucket.decrypted) == ("cli-to-py", True)
    [entry] = client.bucket_files(bucket.id)
    assert (entry.filename, entry["filename"], entry.decrypted) == ("notes.txt", "notes.txt", True)
    out = tmp_path / "back.txt"
    client.download_file(bucket.id, client.file_id_by_name(bucket.id, "notes.txt"), out)
    assert out.read_bytes() == data
    client.file_remove(bucket.id, entry.id)
    client.bucket_delete(client.bucket_id_by_name("cli-to-py"))
    assert "cli-to-py" not in ours("ls")


def test_plaintext_and_foreign_names(account, network):
    """A 0.3.x-style plaintext bucket is found by its name; a bucket encrypted under
    another mnemonic is never shown as a name (marked in tables, null in JSON)."""
    email, password = account["email"], account["password"]
    with Client(email, password, api_url=network.bridge_url, encryption_key="") as keyless:
        legacy = keyless.bucket_create("legacy-plain")
        assert (legacy.name, legacy.stored_name, legacy.name_state) == (
            "legacy-plain", "legacy-plain", "plaintext")
    other = crypto.generate_mnemonic()
    with Client(email, password, api_url=network.bridge_url, encryption_key=other) as them:
        foreign = them.bucket_create("their-secret")
    client = account["client"]
    assert client.bucket_id_by_name("legacy-plain") == legacy.id
    seen = {b.id: b for b in client.bucket_list()}
    assert seen[legacy.id].name_state == "plaintext"
    assert seen[foreign.id].name_state == "undecryptable" and not seen[foreign.id].decrypted
    listed = {b["id"]: b for b in json.loads(ours("ls", "--json"))}
    assert listed[legacy.id]["name"] == "legacy-plain"
    assert listed[foreign.id]["name"] is None
    assert listed[foreign.id]["stored_name"] == foreign.stored_name
    rows = {line.split()[0]: line for line in ours("list-buckets").splitlines()[1:]}
    assert rows[foreign.id].endswith("[encrypted] " + str(foreign.stored_name))
    assert "their-secret" not in ours("ls")
    assert ours("get-bucket-id", "legacy-plain").strip() == legacy.id

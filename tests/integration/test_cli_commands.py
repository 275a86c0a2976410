"""Every ``storj`` command through click's CliRunner against a real LocalNetwork on loopback."""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from storj import crypto
from storj.cli import cli

pytestmark = pytest.mark.integration


# network, account, env: tests/integration/conftest.py


def run(*args, input=None, expect=0):
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
    return result


def one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    return lines[0]


def name(prefix="b"):
    return f"{prefix}-{secrets.token_hex(4)}"


def make_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


# -- unix style ---------------------------------------------------------------------------


def test_mkbkt_ls_and_bucket_id(env, account):
    bucket = name()
    run("mkbkt", bucket)
    listed = json.loads(run("ls", "--json").stdout)
    mine = [b for b in listed if b["name"] == bucket]
    assert len(mine) == 1 and mine[0]["decrypted"] is True
    assert set(mine[0]) == {"id", "name", "decrypted", "name_state", "stored_name", "created"}
    assert mine[0]["name_state"] == "decrypted" and mine[0]["stored_name"] != bucket
    assert run("get-bucket-id", bucket).stdout.strip() == mine[0]["id"]
    assert json.loads(run("list-buckets", "--json").stdout) == listed
    table = run("ls").stdout
    assert table.splitlines()[0].split() == ["ID", "CREATED", "NAME"]
    assert any(line.endswith(bucket) for line in table.splitlines())
    # the Bridge stores the libstorj-encrypted name, never the plaintext
    stored = crypto.encrypt_bucket_name(account["mnemonic"], bucket)
    from storj.http import Client

    with Client(account["email"], account["password"], env["STORJ_BRIDGE"]) as client:
        assert stored in [b.stored_name for b in client.bucket_list()]


def test_cp_roundtrip_and_overwrite_rules(env, tmp_path):
    bucket = name()
    src = tmp_path / "hello.bin"
    data = make_file(src, 70_000)
    out = run("cp", str(src), f"storj://{bucket}/")  # creates the bucket
    assert f"storj://{bucket}/hello.bin" in out.stdout
    files = json.loads(run("ls", f"storj://{bucket}/", "--json").stdout)
    assert [(f["name"], f["size"]) for f in files] == [("hello.bin", 70_000)]
    assert set(files[0]) == {"id", "bucket", "name", "decrypted", "name_state", "stored_name",
                             "size", "mimetype", "created"}

    dest = tmp_path / "out" / "copy.bin"
    dest.parent.mkdir()
    run("cp", f"storj://{bucket}/hello.bin", str(dest))
    assert dest.read_bytes() == data
    # into a directory: keeps the stored name
    run("cp", f"storj://{bucket}/hello.bin", str(dest.parent))
    assert (dest.parent / "hello.bin").read_bytes() == data

    again = run("cp", f"storj://{bucket}/hello.bin", str(dest), expect=1)
    assert "already exists; use --force" in one_error_line(again)
    dest.write_bytes(b"old")
    run("cp", "--force", f"storj://{bucket}/hello.bin", str(dest))
    assert dest.read_bytes() == data

    dup = run("cp", str(src), f"storj://{bucket}/", expect=1)
    assert "already exists; use --force" in one_error_line(dup)
    newer = make_file(src, 1000)
    run("cp", "-f", str(src), f"storj://{bucket}/hello.bin")
    run("cp", "-f", f"storj://{bucket}/hello.bin", str(dest))
    assert dest.read_bytes() == newer
    assert sorted(os.listdir(dest.parent)) == ["copy.bin", "hello.bin"]  # no partial files


def test_recursive_copy_keeps_relative_paths(env, tmp_path):
    bucket = name()
    tree = tmp_path / "site"
    contents = {
        "index.html": make_file(tree / "index.html", 100),
        "css/a.css": make_file(tree / "css" / "a.css", 200),
        "img/deep/x.png": make_file(tree / "img" / "deep" / "x.png", 300),
    }
    usage = run("cp", str(tree), f"storj://{bucket}/", expect=2)
    assert "use -r" in usage.stderr
    run("cp", "-r", str(tree), f"storj://{bucket}/")
    names = sorted(f["name"] for f in json.loads(run("ls", f"storj://{bucket}/", "--json").stdout))
    assert names == ["site/css/a.css", "site/img/deep/x.png", "site/index.html"]
    under = json.loads(run("ls", f"storj://{bucket}/site/img/", "--json").stdout)
    assert [f["name"] for f in under] == ["site/img/deep/x.png"]

    dest = tmp_path / "restore"
    run("cp", "-r", f"storj://{bucket}/", str(dest))
    for rel, data in contents.items():
        assert (dest / "site" / rel).read_bytes() == data
    only = tmp_path / "only-css"
    run("cp", "-r", f"storj://{bucket}/site/css/", str(only))
    assert sorted(p.name for p in only.rglob("*")) == ["a.css"]
    assert run("cp", f"storj://{bucket}/", str(dest), expect=2).exit_code == 2


def test_rm_file_and_bucket(env, tmp_path):
    bucket = name()
    src = tmp_path / "f.txt"
    make_file(src, 10)
    run("cp", str(src), f"storj://{bucket}/f.txt")
    refused = run("rm", bucket, expect=1)
    assert one_error_line(refused) == (
        f"Error: bucket {bucket} still holds 1 file(s); remove them first or use "
        f"`storj rm --force {bucket}`"
    )
    run("rm", f"storj://{bucket}/f.txt")
    assert json.loads(run("ls", f"storj://{bucket}/", "--json").stdout) == []
    run("cp", str(src), f"storj://{bucket}/g.txt")
    run("rm", bucket, "g.txt")
    run("cp", str(src), f"storj://{bucket}/h.txt")
    run("rm", "--force", f"storj://{bucket}")
    assert bucket not in [b["name"] for b in json.loads(run("ls", "--json").stdout)]
    gone = run("rm", f"storj://{bucket}/h.txt", expect=1)
    assert f"no bucket named '{bucket}'" in one_error_line(gone)


def test_lm_lists_mirrors(env, tmp_path):
    bucket = name()
    src = tmp_path / "m.bin"
    make_file(src, 5000)
    run("cp", str(src), f"storj://{bucket}/m.bin")
    shards = json.loads(run("lm", f"storj://{bucket}/m.bin", "--json").stdout)
    assert len(shards) >= 1
    assert shards[0]["index"] == 0
    assert len(shards[0]["established"]) >= 1
    table = run("lm", f"storj://{bucket}/m.bin").stdout
    assert table.split()[:5] == ["SHARD", "HASH", "ESTABLISHED", "AVAILABLE", "NODES"]


# -- id style -----------------------------------------------------------------------------


def test_id_style_commands(env, tmp_path):
    bucket = name()
    bucket_id = run("add-bucket", bucket).stdout.strip()
    assert len(bucket_id) == 24
    src = tmp_path / "doc.txt"
    data = make_file(src, 4321)
    file_id = run("upload-file", bucket_id, str(src)).stdout.strip()
    assert len(file_id) == 24
    files = json.loads(run("list-files", bucket_id, "--json").stdout)
    assert [(f["id"], f["name"], f["size"]) for f in files] == [(file_id, "doc.txt", 4321)]
    dest = tmp_path / "back.txt"
    run("download-file", bucket_id, file_id, str(dest))
    assert dest.read_bytes() == data
    mirrors = json.loads(run("list-mirrors", bucket_id, file_id, "--json").stdout)
    assert mirrors and mirrors[0]["established"]
    run("remove-file", bucket_id, file_id)
    assert json.loads(run("list-files", bucket_id, "--json").stdout) == []
    run("remove-bucket", bucket_id)
    missing = run("list-files", bucket_id, expect=1)
    assert "Bucket not found" in one_error_line(missing)
    assert run("list-files", "not-an-id", expect=2).exit_code == 2


def test_get_info(env):
    info = json.loads(run("get-info", "--json").stdout)
    assert info["url"] == env["STORJ_BRIDGE"]
    assert info["title"]


# -- account and keys ---------------------------------------------------------------------


def test_keys_add_list_remove(env, tmp_path):
    key_file = tmp_path / "my.key"
    out = run("keys", "add", "--output", str(key_file)).stdout
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    private_hex = key_file.read_text().strip()
    assert len(private_hex) == 64 and private_hex not in out
    public = out.split("Registered public key ")[1].split()[0]
    assert public in json.loads(run("keys", "list", "--json").stdout)
    run("keys", "remove", public)
    assert public not in json.loads(run("keys", "list", "--json").stdout)
    exists = run("keys", "add", "--output", str(key_file), expect=1)
    assert "already exists" in one_error_line(exists)


def test_token_create(env):
    bucket_id = run("add-bucket", name()).stdout.strip()
    token = json.loads(run("token", "create", bucket_id, "--operation", "PULL", "--json").stdout)
    assert token["bucket"] == bucket_id and token["operation"] == "PULL" and token["token"]
    assert run("token", "create", bucket_id, "--operation", "SEND", expect=2).exit_code == 2


def test_contacts(env, network):
    contacts = json.loads(run("contacts", "list", "--json").stdout)
    node_ids = {c["nodeID"] for c in contacts}
    assert {f.node_id for f in network.farmers} <= node_ids
    one = json.loads(run("contacts", "get", network.farmers[0].node_id, "--json").stdout)
    assert one["nodeID"] == network.farmers[0].node_id
    assert run("contacts", "list", "--page", "9").stdout.splitlines() == [
        "NODE ID  ADDRESS  LAST SEEN  USER AGENT"
    ]


def test_register_import_and_export_keys(env, tmp_path, monkeypatch):
    email = f"new-{secrets.token_hex(4)}@example.com"
    monkeypatch.setenv("STORJ_BRIDGE_PASS", "s3cret-pass")
    out = run("register", "--email", email)
    assert out.stdout.strip() == f"Registered and activated {email}"
    assert "s3cret-pass" not in out.output

    mnemonic = crypto.generate_mnemonic()
    monkeypatch.setenv("STORJ_ENCRYPTION_KEY", mnemonic)
    config = tmp_path / "cfg.ini"
    out = run("--user", email, "--config", str(config), "import-keys")
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
    text = config.read_text()
    assert email in text and mnemonic in text and env["STORJ_BRIDGE"] in text
    assert "s3cret-pass" not in out.output and mnemonic not in out.output

    # the config file alone is enough now
    for var in ("STORJ_BRIDGE", "STORJ_BRIDGE_USER", "STORJ_BRIDGE_PASS", "STORJ_ENCRYPTION_KEY"):
        monkeypatch.delenv(var)
    bucket = name()
    run("--config", str(config), "mkbkt", bucket)
    assert [b["name"] for b in json.loads(run("--config", str(config), "ls", "--json").stdout)] \
        == [bucket]
    assert run("--config", str(config), "export-keys", "--reveal").stdout.strip() == mnemonic
    refused = run("--config", str(config), "export-keys", expect=2)
    assert mnemonic not in refused.output

    wrong = run("--config", str(config), "import-keys", input="x@y.z\nwrong\n" + mnemonic + "\n",
                expect=1)
    prompts, error = wrong.stderr.rsplit("\n", 2)[0], wrong.stderr.strip().splitlines()[-1]
    assert "Email: x@y.z" in prompts and "wrong" not in prompts  # the password is not echoed
    assert error.startswith("Error: the Bridge refused the credentials for x@y.z")


def test_import_keys_rejects_bad_mnemonic(env, tmp_path, monkeypatch):
    monkeypatch.setenv("STORJ_ENCRYPTION_KEY", "not a mnemonic at all")
    bad = run("--config", str(tmp_path / "c.ini"), "import-keys", expect=1)
    assert "encryption key" in one_error_line(bad)
    assert not (tmp_path / "c.ini").exists()


def test_generate_mnemonic():
    words = run("generate-mnemonic").stdout.split()
    assert len(words) == 24 and crypto.validate_mnemonic(" ".join(words))
    assert len(run("generate-mnemonic", "--words", "12").stdout.split()) == 12


# -- precedence and errors ----------------------------------------------------------------


def test_option_beats_env_and_env_beats_config(env, account, tmp_path, monkeypatch):
    config = tmp_path / "c.ini"
    config.write_text(
        "[storj]\nemail = nobody@example.com\npassword = nope\n"
        "bridge = http://127.0.0.1:9/\n"
    )
    config.chmod(0o600)
    # env (right user, right bridge) beats the config file (wrong ones)
    run("--config", str(config), "ls")
    # --url beats STORJ_BRIDGE
    bad = run("--config", str(config), "--url", "http://127.0.0.1:9", "ls", expect=1)
    assert "cannot reach the Bridge at http://127.0.0.1:9" in one_error_line(bad)
    # with the environment gone, the config file's bridge is used
    monkeypatch.delenv("STORJ_BRIDGE")
    bad = run("--config", str(config), "ls", expect=1)
    assert "cannot reach the Bridge at http://127.0.0.1:9" in one_error_line(bad)


def test_error_paths(env, tmp_path, monkeypatch):
    assert run("cp", "x", "storj://", expect=2).exit_code == 2
    assert run("--url", "ftp://host", "ls", expect=2).exit_code == 2
    assert run("ls", "storj:///x", expect=2).exit_code == 2
    unknown = run("ls", "storj://no-such-bucket/", expect=1)
    assert one_error_line(unknown) == (
        "Error: no bucket named 'no-such-bucket'; list your buckets with `storj ls` "
        "or create it with `storj mkbkt no-such-bucket`"
    )
    missing = run("cp", str(tmp_path / "nope.txt"), "storj://b/", expect=1)
    assert "nope.txt: no such file or directory" in one_error_line(missing)
    bucket = name()
    run("mkbkt", bucket)
    nofile = run("cp", f"storj://{bucket}/ghost", str(tmp_path), expect=1)
    assert "does not exist" in one_error_line(nofile)
    monkeypatch.setenv("STORJ_BRIDGE_PASS", "wrong-password")
    wrong = run("ls", expect=1)
    line = one_error_line(wrong)
    assert "refused the credentials" in line and "wrong-password" not in line


def test_debug_lets_the_exception_through(env, monkeypatch):
    from storj.exception import AuthenticationError

    monkeypatch.setenv("STORJ_BRIDGE_PASS", "wrong-password")
    result = CliRunner().invoke(cli, ["--debug", "ls"])
    assert result.exit_code == 1
    assert isinstance(result.exception, AuthenticationError)  # a traceback, not one line


def test_demo_against_configured_bridge(env):
    out = run("demo", "--size", "96KiB").stdout
    assert "OK: bytes match (98304 bytes)" in out
    lines = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    assert lines["SHA-256 sent"].strip() == lines["SHA-256 received"].strip()
    assert env["STORJ_BRIDGE"] in lines["Network"]
    assert run("demo", "--size", "lots", expect=2).exit_code == 2


# -- the embedded default -----------------------------------------------------------------


def test_embedded_default_persists_between_invocations(env, monkeypatch, tmp_path):
    for var in ("STORJ_BRIDGE", "STORJ_BRIDGE_USER", "STORJ_BRIDGE_PASS", "STORJ_ENCRYPTION_KEY"):
        monkeypatch.delenv(var)
    data_dir = Path(env["STORJ_LOCAL_DATA"])
    src = tmp_path / "a.txt"
    data = make_file(src, 3000)
    run("cp", str(src), "storj://docs/")
    creds = data_dir / "credentials.json"
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    secret = json.loads(creds.read_text())
    files = json.loads(run("ls", "storj://docs/", "--json").stdout)
    assert [f["name"] for f in files] == ["a.txt"]
    run("cp", "storj://docs/a.txt", str(tmp_path / "b.txt"))
    assert (tmp_path / "b.txt").read_bytes() == data
    assert json.loads(creds.read_text()) == secret  # reused, not recreated
    status = run("local", "status", expect=3)  # 3: no network is serving it right now
    assert f"Not running. Data in {data_dir}." in status.stdout
    assert "files:   1" in status.stdout
    audit = run("local", "audit")
    assert "0 failed" in audit.stdout
    # register on the embedded network: activated at once from the local outbox
    monkeypatch.setenv("STORJ_BRIDGE_PASS", "pw-for-new-user")
    out = run("register", "--email", "someone@example.com")
    assert out.stdout == "Registered and activated someone@example.com\n"
    monkeypatch.delenv("STORJ_BRIDGE_PASS")
    # --data-dir beats STORJ_LOCAL_DATA: another, empty network
    other = tmp_path / "other-net"
    assert json.loads(run("--data-dir", str(other), "ls", "--json").stdout) == []
    assert (other / "credentials.json").exists()
    run("--data-dir", str(other), "local", "reset", "--yes")
    assert not other.exists()

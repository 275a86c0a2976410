"""The error boundary and Ctrl-C, through CliRunner with a fake client (no network)."""

import _thread

import pytest
from click.testing import CliRunner

from storj import crypto
from storj.cli import cli
from storj.cli._context import CliContext
from storj.cli._local import local_argv
from storj.exception import BridgeTransportError, NotFoundError, TransferCancelledError
from tests.helpers import WAIT_TIMEOUT

KEY = crypto.EncryptionKey("abandon " * 11 + "about")


class FakeClient:
    def __init__(self, upload=None):
        self.upload = upload
        self.removed = []

    def bucket_id_by_name(self, name):
        return "a" * 24

    def file_id_by_name(self, bucket_id, name):
        raise NotFoundError("File not found", status_code=404)

    def bucket_files(self, bucket_id):
        return []

    def upload_file(self, bucket_id, source, *, name, progress, cancel, overwrite=False,
                    config=None):
        return self.upload(cancel)

    def bucket_list(self):
        raise BridgeTransportError("Connection refused", method="GET", url="http://h:1/buckets")


@pytest.fixture
def fake(monkeypatch, tmp_path):
    holder = {}
    monkeypatch.setattr(CliContext, "client", lambda self: holder["client"])
    monkeypatch.setattr(CliContext, "encryption_key", lambda self, required=True: KEY)
    monkeypatch.setenv("STORJ_BRIDGE", "http://h:1")
    src = tmp_path / "f.bin"
    src.write_bytes(b"x" * 10)
    holder["src"] = src
    return holder


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_ctrl_c_during_upload_exits_130(fake):
    cancelled = []

    def upload(cancel):
        _thread.interrupt_main()
        assert cancel.wait(WAIT_TIMEOUT)
        cancelled.append(True)
        raise TransferCancelledError("cancelled")

    fake["client"] = FakeClient(upload)
    result = invoke("cp", str(fake["src"]), "storj://b/")
    assert result.exit_code == 130
    assert cancelled == [True]
    assert result.stderr == "Error: cancelled; no partial file was left behind\n"


def test_library_error_is_one_line_exit_1(fake):
    fake["client"] = FakeClient()
    result = invoke("ls")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: cannot reach the Bridge at http://h:1; check the URL (--url / STORJ_BRIDGE) "
        "and that the Bridge is running\n"
    )
    assert result.stdout == ""


def test_debug_reraises(fake):
    fake["client"] = FakeClient()
    result = invoke("--debug", "ls")
    assert isinstance(result.exception, BridgeTransportError)


def test_upload_of_a_directory_needs_r(fake, tmp_path):
    fake["client"] = FakeClient()
    result = invoke("cp", str(tmp_path), "storj://b/")
    assert result.exit_code == 2 and "use -r" in result.stderr


def test_usage_errors_exit_2(fake):
    fake["client"] = FakeClient()
    for args in (["cp", "only-one"], ["cp", "a", "b"], ["cp", "storj://a/x", "storj://b/"],
                 ["lm", "storj://b/"], ["export-keys"], ["rm", "a/b"], ["nonsense"]):
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output


def test_local_argv():
    assert local_argv(["status"], "/d") == ["status", "--data", "/d"]
    assert local_argv(["serve", "--port", "0"], "/d") == ["serve", "--data", "/d", "--port", "0"]
    assert local_argv(["status", "--data", "/x"], "/d") == ["status", "--data", "/x"]
    assert local_argv(["status", "--data=/x"], "/d") == ["status", "--data=/x"]
    assert local_argv(["--help"], "/d") == ["--help"]
    assert local_argv(["reset", "-h"], "/d") == ["reset", "-h"]
    assert local_argv([], "/d") == []


def test_user_without_password_is_asked_for_one(monkeypatch, tmp_path):
    for var in ("STORJ_BRIDGE_PASS", "STORJ_BRIDGE_USER", "STORJ_ENCRYPTION_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("STORJ_BRIDGE", "http://127.0.0.1:9")
    result = invoke("--user", "a@b.c", "ls")  # stdin is not a terminal: no prompt
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no password for a@b.c; set STORJ_BRIDGE_PASS or store it with "
        "`storj import-keys`\n"
    )

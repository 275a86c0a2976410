"""The transfer tuning options build the TransferConfig handed to the engine."""

import click
import pytest
from click.testing import CliRunner

from storj import crypto
from storj.cli import cli
from storj.cli._context import CliContext
from storj.cli._tuning import transfer_config_from
from storj.exception import NotFoundError
from storj.model import File
from storj.transfer import TransferConfig
from storj.transfer.config import DEFAULT_CONFIG

KEY = crypto.EncryptionKey("abandon " * 11 + "about")
BUCKET = "a" * 24
FILE = "b" * 24
ENV_VARS = (
    "STORJ_TRANSFER_CONCURRENCY", "STORJ_TRANSFER_ERASURE", "STORJ_TRANSFER_TIMEOUT",
    "STORJ_TRANSFER_LOW_SPEED_LIMIT", "STORJ_TRANSFER_LOW_SPEED_TIME",
    "STORJ_TRANSFER_SHARD_DEADLINE", "STORJ_TRANSFER_TMP_DIR",
)


class RecordingClient:
    """Records the ``config=`` each transfer method receives."""

    def __init__(self):
        self.configs = []

    def bucket_id_by_name(self, name):
        return BUCKET

    def file_id_by_name(self, bucket_id, name):
        if name == "there.bin":
            return FILE
        raise NotFoundError("File not found", status_code=404)

    def upload_file(self, bucket_id, source, *, name, progress, cancel, overwrite=False,
                    config=None):
        self.configs.append(("upload", config))
        return File(id=FILE, filename=name, size=3)

    def download_file(self, bucket_id, file_id, handle, *, progress, cancel, config=None):
        self.configs.append(("download", config))
        handle.write(b"abc")
        return File(id=file_id, filename="there.bin", size=3)


@pytest.fixture
def client(monkeypatch, tmp_path):
    recording = RecordingClient()
    monkeypatch.setattr(CliContext, "client", lambda self: recording)
    monkeypatch.setattr(CliContext, "encryption_key", lambda self, required=True: KEY)
    monkeypatch.setenv("STORJ_BRIDGE", "http://h:1")
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.bin").write_bytes(b"abc")
    return recording


def invoke(*args, expect=0):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == expect, (result.exit_code, result.output)
    return result


def test_no_options_give_the_engine_defaults(client):
    invoke("cp", "f.bin", "storj://b/")
    invoke("cp", "storj://b/there.bin", "out.bin")
    assert client.configs == [("upload", DEFAULT_CONFIG), ("download", DEFAULT_CONFIG)]


def test_cp_upload_options_build_the_config(client, tmp_path):
    invoke("cp", "--concurrency", "1", "--erasure", "OFF", "--timeout", "2.5",
           "--low-speed-limit", "0", "--low-speed-time", "3", "--shard-deadline", "90",
           "--tmp-dir", str(tmp_path), "f.bin", "storj://b/")
    assert client.configs == [("upload", TransferConfig(
        shard_concurrency=1, erasure=False, timeout=2.5, low_speed_limit=0,
        low_speed_time=3.0, shard_deadline=90.0, tmp_dir=str(tmp_path),
    ))]


def test_cp_download_gets_the_config_too(client):
    invoke("cp", "--concurrency", "2", "--timeout", "5", "storj://b/there.bin", "out.bin")
    assert client.configs == [("download", TransferConfig(shard_concurrency=2, timeout=5.0))]


@pytest.mark.parametrize(("args", "expected"), [
    (("upload-file", BUCKET, "f.bin", "--erasure", "on"), ("upload", {"erasure": True})),
    (("download-file", "--concurrency", "3", BUCKET, FILE, "o.bin"),
     ("download", {"shard_concurrency": 3})),
    (("storj-file", "upload", "--erasure", "auto", BUCKET, "f.bin"), ("upload", {})),
])
def test_id_style_and_legacy_commands(client, args, expected):
    if args[0] == "storj-file":
        from storj.cli import file as legacy

        result = CliRunner().invoke(legacy, list(args[1:]))
        assert result.exit_code == 0, result.output
    else:
        invoke(*args)
    kind, fields = expected
    assert client.configs == [(kind, TransferConfig(**fields))]


def test_environment_variables_and_options_win(client, monkeypatch):
    monkeypatch.setenv("STORJ_TRANSFER_CONCURRENCY", "7")
    monkeypatch.setenv("STORJ_TRANSFER_ERASURE", "off")
    invoke("cp", "f.bin", "storj://b/")
    invoke("cp", "--concurrency", "2", "f.bin", "storj://b/x.bin")
    assert [config for _, config in client.configs] == [
        TransferConfig(shard_concurrency=7, erasure=False),
        TransferConfig(shard_concurrency=2, erasure=False),
    ]


@pytest.mark.parametrize(("args", "env", "fragment"), [
    (("--concurrency", "0"), {}, "'--concurrency'"),
    (("--concurrency", "many"), {}, "'--concurrency'"),
    (("--erasure", "maybe"), {}, "'--erasure'"),
    (("--timeout", "0"), {}, "'--timeout'"),
    (("--low-speed-limit", "-1"), {}, "'--low-speed-limit'"),
    (("--shard-deadline", "-3"), {}, "'--shard-deadline'"),
    (("--tmp-dir", "no-such-dir"), {}, "'--tmp-dir'"),
    ((), {"STORJ_TRANSFER_TIMEOUT": "soon"}, "STORJ_TRANSFER_TIMEOUT"),
])
def test_bad_values_are_usage_errors(client, monkeypatch, args, env, fragment):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = invoke("cp", *args, "f.bin", "storj://b/", expect=2)
    assert fragment in result.stderr
    assert client.configs == []  # nothing was sent


def test_download_file_has_no_upload_only_options(client):
    result = invoke("download-file", "--erasure", "off", BUCKET, FILE, "o.bin", expect=2)
    assert "No such option '--erasure'" in result.stderr


def test_transfer_config_from_is_pure():
    assert transfer_config_from() == DEFAULT_CONFIG
    assert transfer_config_from(erasure="on", concurrency=9) == TransferConfig(
        erasure=True, shard_concurrency=9
    )
    with pytest.raises(click.BadParameter, match="auto, on, off"):
        transfer_config_from(erasure="sometimes")
    with pytest.raises(click.BadParameter, match="shard_concurrency"):
        transfer_config_from(concurrency=0)

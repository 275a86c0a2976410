"""Configuration precedence: options > environment > config file > embedded default."""

import os
import stat
from types import SimpleNamespace

import pytest

from storj.cli._context import (
    CliContext,
    Settings,
    read_config_file,
    resolve_settings,
    with_embedded,
)
from storj.cli._embedded import (
    CREDENTIALS_FILE,
    LocalCredentials,
    load_credentials,
    resolve_data_dir,
    save_credentials,
)
from storj.exception import ConfigurationError

ENV = {
    "STORJ_BRIDGE": "http://env:1/",
    "STORJ_BRIDGE_USER": "env@example.com",
    "STORJ_BRIDGE_PASS": "env-pass",
    "STORJ_ENCRYPTION_KEY": "env words",
}
CONFIG = {
    "bridge": "http://config:2",
    "user": "config@example.com",
    "password": "config-pass",
    "mnemonic": "config words",
}


def test_options_beat_env_beat_config():
    s = resolve_settings(
        options={"bridge": "http://opt:3", "user": "opt@example.com"}, environ=ENV, config=CONFIG
    )
    assert (s.bridge, s.user, s.password, s.mnemonic) == (
        "http://opt:3", "opt@example.com", "env-pass", "env words"
    )
    assert s.sources == {"bridge": "option", "user": "option", "password": "env", "mnemonic": "env"}


def test_env_beats_config():
    s = resolve_settings(options={}, environ=ENV, config=CONFIG)
    assert (s.bridge, s.user, s.password, s.mnemonic) == (
        "http://env:1", "env@example.com", "env-pass", "env words"
    )


def test_config_used_when_nothing_else():
    s = resolve_settings(options={"bridge": None, "user": None}, environ={}, config=CONFIG)
    assert (s.bridge, s.user, s.password, s.mnemonic) == (
        "http://config:2", "config@example.com", "config-pass", "config words"
    )
    assert set(s.sources.values()) == {"config"}
    assert not s.embedded


def test_empty_values_count_as_unset():
    s = resolve_settings(options={"bridge": ""}, environ={"STORJ_BRIDGE": ""}, config={})
    assert s.bridge is None and s.embedded and s.sources == {}


def test_embedded_fills_only_missing_fields():
    net = SimpleNamespace(
        bridge_url="http://127.0.0.1:5555",
        credentials=LocalCredentials("local@storj.local", "local-pass", "local words"),
    )
    s = with_embedded(resolve_settings(options={}, environ={}, config={}), net)
    assert (s.bridge, s.user, s.password, s.mnemonic) == (
        "http://127.0.0.1:5555", "local@storj.local", "local-pass", "local words"
    )
    assert set(s.sources.values()) == {"embedded"}
    # an explicit user keeps its own password (never the local account's)
    s = with_embedded(
        resolve_settings(options={"user": "me@x.y"}, environ={"STORJ_ENCRYPTION_KEY": "k"},
                         config={}),
        net,
    )
    assert (s.user, s.password, s.mnemonic) == ("me@x.y", None, "k")


def test_secrets_not_in_repr():
    s = Settings(bridge="http://b", user="u@x", password="hunter2", mnemonic="secret words")
    assert "hunter2" not in repr(s) and "secret" not in repr(s)
    c = LocalCredentials("u@x", "hunter2", "secret words")
    assert "hunter2" not in repr(c) and "secret" not in repr(c)


def test_read_config_file(tmp_path, monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "storj.ini"
    path.write_text("[storj]\nemail = f@x.y\npassword = pw\nbridge = http://file:9/\n")
    assert read_config_file(str(path)) == {
        "user": "f@x.y", "password": "pw", "bridge": "http://file:9/"
    }
    assert read_config_file(str(tmp_path / "missing.ini")) == {}
    bad = tmp_path / "bad.ini"
    bad.write_text("this is not ini")
    with pytest.raises(ConfigurationError):
        read_config_file(str(bad))


def test_cli_context_layers(tmp_path):
    ctx = CliContext(
        url=None, user="opt@x.y", environ={"STORJ_BRIDGE": "http://env:1"},
        config_reader=lambda path: CONFIG, data_dir=str(tmp_path),
    )
    s = ctx.base_settings()
    assert (s.bridge, s.user, s.password) == ("http://env:1", "opt@x.y", "config-pass")
    assert ctx.data_dir == tmp_path


def test_data_dir_precedence(tmp_path):
    assert resolve_data_dir(str(tmp_path / "a"), {"STORJ_LOCAL_DATA": "/nope"}) == tmp_path / "a"
    assert resolve_data_dir(None, {"STORJ_LOCAL_DATA": str(tmp_path / "b")}) == tmp_path / "b"
    default = resolve_data_dir(None, {})
    assert default.name == "local-network" and default.parent.name == "storj"


def test_credentials_file_mode_and_roundtrip(tmp_path):
    path = tmp_path / "net" / CREDENTIALS_FILE
    assert load_credentials(path) is None
    creds = LocalCredentials("a@b.c", "pw", "w1 w2")
    save_credentials(path, creds)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_credentials(path) == creds
    assert [p.name for p in path.parent.iterdir()] == [CREDENTIALS_FILE]  # no temp left
    path.write_text("{broken")
    with pytest.raises(ConfigurationError, match="damaged"):
        load_credentials(path)

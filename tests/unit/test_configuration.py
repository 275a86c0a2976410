"""storj.configuration: sources, precedence, errors and the file's permissions."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from storj import configuration as cfg
from storj.exception import ConfigurationError

ENV_VARS = ("STORJ_BRIDGE_USER", "STORJ_BRIDGE_PASS", "STORJ_BRIDGE", "STORJ_ENCRYPTION_KEY")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real environment or home directory leaks into these tests."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path


def write_ini(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_documented_constants():
    assert cfg.APP_NAME == "storj"
    assert cfg.CFG_EMAIL == "email"
    assert cfg.CFG_PASSWORD == "password"


@pytest.mark.skipif(sys.platform != "linux", reason="XDG layout is the Linux one")
def test_config_path_follows_xdg(isolated):
    assert cfg.config_path() == isolated / "xdg" / "storj" / "storj.ini"


def test_legacy_path_is_home_dot_storj(isolated):
    assert cfg.legacy_config_path() == isolated / "home" / ".storj" / "storj.ini"


def test_read_config_from_file(isolated):
    write_ini(cfg.config_path(), "[storj]\nemail = a@example.com\npassword = pa%ss word\n")
    assert cfg.read_config() == ("a@example.com", "pa%ss word")


def test_read_config_explicit_path(isolated):
    path = write_ini(isolated / "other.ini", "[storj]\nemail = b@example.com\npassword = pw\n")
    assert cfg.read_config(path) == ("b@example.com", "pw")
    assert cfg.read_config(str(path)) == ("b@example.com", "pw")


def test_environment_only(monkeypatch):
    monkeypatch.setenv("STORJ_BRIDGE_USER", "env@example.com")
    monkeypatch.setenv("STORJ_BRIDGE_PASS", "envpass")
    assert cfg.read_config() == ("env@example.com", "envpass")


def test_environment_wins_field_by_field(isolated, monkeypatch):
    write_ini(cfg.config_path(), "[storj]\nemail = file@example.com\npassword = filepass\n")
    monkeypatch.setenv("STORJ_BRIDGE_PASS", "envpass")
    assert cfg.read_config() == ("file@example.com", "envpass")
    monkeypatch.setenv("STORJ_BRIDGE_USER", "env@example.com")
    assert cfg.read_config() == ("env@example.com", "envpass")


def test_empty_environment_value_does_not_hide_file(isolated, monkeypatch):
    write_ini(cfg.config_path(), "[storj]\nemail = file@example.com\npassword = filepass\n")
    monkeypatch.setenv("STORJ_BRIDGE_USER", "")
    assert cfg.read_config() == ("file@example.com", "filepass")


def test_legacy_file_is_read_when_the_new_one_is_missing(isolated):
    write_ini(cfg.legacy_config_path(), "[storj]\nemail = old@example.com\npassword = old\n")
    assert cfg.read_config() == ("old@example.com", "old")
    write_ini(cfg.config_path(), "[storj]\nemail = new@example.com\npassword = new\n")
    assert cfg.read_config() == ("new@example.com", "new")


def test_missing_configuration_names_path_and_variables(isolated):
    with pytest.raises(ConfigurationError) as info:
        cfg.read_config()
    message = str(info.value)
    assert str(cfg.config_path()) in message
    assert "STORJ_BRIDGE_USER" in message and "STORJ_BRIDGE_PASS" in message
    assert "email and password" in message


def test_missing_password_only(isolated, monkeypatch):
    monkeypatch.setenv("STORJ_BRIDGE_USER", "env@example.com")
    with pytest.raises(ConfigurationError, match="no storj password configured"):
        cfg.read_config()


def test_file_without_section_is_not_configured(isolated):
    path = write_ini(isolated / "x.ini", "[other]\nemail = a@b.c\n")
    with pytest.raises(ConfigurationError) as info:
        cfg.read_config(path)
    assert str(path) in str(info.value)


def test_malformed_file_is_a_configuration_error(isolated):
    path = write_ini(isolated / "bad.ini", "this is not ini\n[storj\n")
    with pytest.raises(ConfigurationError, match="cannot read the storj configuration file"):
        cfg.read_config(path)


def test_read_settings_all_sources(isolated, monkeypatch):
    write_ini(
        cfg.config_path(),
        "[storj]\nemail = a@example.com\npassword = pw\nbridge = http://127.0.0.1:6382/\n"
        "encryption_key = abandon abandon about\n",
    )
    settings = cfg.read_settings()
    assert settings == cfg.Settings(
        email="a@example.com",
        password="pw",
        bridge_url="http://127.0.0.1:6382/",
        encryption_key="abandon abandon about",
        source=cfg.config_path(),
    )
    monkeypatch.setenv("STORJ_BRIDGE", "http://127.0.0.1:9999/")
    monkeypatch.setenv("STORJ_ENCRYPTION_KEY", "zoo zoo wrong")
    settings = cfg.read_settings()
    assert settings.bridge_url == "http://127.0.0.1:9999/"
    assert settings.encryption_key == "zoo zoo wrong"


def test_settings_repr_hides_secrets():
    settings = cfg.Settings(email="a@b.c", password="hunter2", encryption_key="abandon about")
    text = repr(settings)
    assert "hunter2" not in text and "abandon" not in text and "a@b.c" in text


def test_read_settings_without_credentials(isolated):
    settings = cfg.read_settings(require_credentials=False)
    assert settings == cfg.Settings(email=None, password=None)


def test_write_config_creates_private_file(isolated):
    path = cfg.write_config("w@example.com", "secret pw")
    assert path == cfg.config_path()
    assert cfg.read_config() == ("w@example.com", "secret pw")
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["storj.ini"]  # no temp file left


def test_write_config_mode_is_0600_even_with_permissive_umask(isolated):
    old = os.umask(0)
    try:
        path = cfg.write_config("w@example.com", "pw", isolated / "d" / "c.ini")
    finally:
        os.umask(old)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_config_never_exposes_the_file(isolated, monkeypatch):
    """The file is born 0600: every file created in the directory is checked at creation."""
    created_modes = []
    real_mkstemp = cfg.tempfile.mkstemp

    def spy(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        created_modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return fd, name

    monkeypatch.setattr(cfg.tempfile, "mkstemp", spy)
    target = isolated / "c.ini"
    target.write_text("[storj]\nemail = x\npassword = y\n")
    target.chmod(0o644)
    cfg.write_config("w@example.com", "pw", target)
    assert created_modes == [0o600]
    if os.name == "posix":
        assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_write_config_keeps_other_keys_and_writes_optional_ones(isolated):
    path = write_ini(
        isolated / "c.ini",
        "[storj]\nemail = old\npassword = old\nbridge = http://a/\n[extra]\nk = v\n",
    )
    cfg.write_config("new@example.com", "newpw", path, encryption_key="abandon about")
    settings = cfg.read_settings(path)
    assert (settings.email, settings.password) == ("new@example.com", "newpw")
    assert settings.bridge_url == "http://a/"
    assert settings.encryption_key == "abandon about"
    assert "[extra]" in path.read_text()
    cfg.write_config("new@example.com", "newpw", path, bridge="http://b/")
    assert cfg.read_settings(path).bridge_url == "http://b/"


def test_write_config_rejects_empty_credentials(isolated):
    with pytest.raises(ValueError):
        cfg.write_config("", "pw", isolated / "c.ini")


def test_write_config_unwritable_directory(isolated, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cfg.tempfile, "mkstemp", refuse)
    with pytest.raises(ConfigurationError, match="cannot create") as info:
        cfg.write_config("a@b.c", "pw", isolated / "c.ini")
    assert isinstance(info.value.__cause__, PermissionError)


def test_write_config_failed_write_leaves_no_temp_file(isolated, monkeypatch):
    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cfg.os, "replace", fail)
    with pytest.raises(ConfigurationError, match="cannot write"):
        cfg.write_config("a@b.c", "pw", isolated / "d" / "c.ini")
    assert list((isolated / "d").iterdir()) == []


def test_group_readable_file_warns(isolated, caplog):
    path = write_ini(isolated / "c.ini", "[storj]\nemail = a\npassword = b\n")
    path.chmod(0o644)
    with caplog.at_level("WARNING", logger="storj.configuration"):
        cfg.read_config(path)
    if os.name == "posix":
        assert "chmod 600" in caplog.text
        assert "b\n" not in caplog.text

"""Every name of the documented API (documented-api.txt) resolves and works at package level."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import ecdsa
import pytest
import responses

import storj
from storj import model
from storj.exception import ConfigurationError
from tests.data import BUCKET, BUCKET_ID

API = "http://bridge.test"
TOKEN = {
    "token": "ab" * 32,
    "id": "ab" * 32,
    "bucket": BUCKET_ID,
    "operation": "PUSH",
    "expires": "2016-12-01T10:05:00.000Z",
    "encryptionKey": "",
}
BASIC = (
    "Basic ZW1haWxAZXhhbXBsZS5jb206NjdmMWE3YTEwMDQ1ZDk3YTAzMzEyYzkzMzJkMmM5ODE5NTQwOGFiZmIx"
    "MzJiZTE0MTE5NGQ4YTc1ODk4ZDZkYQ=="
)

# documented method → documented parameter names (in order)
CLIENT_METHODS = {
    "bucket_create": ["name", "storage", "transfer"],
    "bucket_delete": ["bucket_id"],
    "bucket_files": ["bucket_id"],
    "bucket_get": ["bucket_id"],
    "bucket_list": [],
    "bucket_set_keys": ["bucket_id", "bucket_name", "keys"],
    "bucket_set_mirrors": ["bucket_id", "file_id", "redundancy"],
    "contact_list": ["page", "address", "protocol", "user_agent", "connected"],
    "contact_lookup": ["node_id"],
    "file_metadata": ["bucket_id", "file_id"],
    "file_pointers": ["bucket_id", "file_id", "skip", "limit"],
    "file_remove": ["bucket_id", "file_id"],
    "file_upload": ["bucket_id", "file", "frame"],
    "frame_add_shard": ["shard", "frame_id"],
    "frame_create": [],
    "frame_delete": ["frame_id"],
    "frame_get": ["frame_id"],
    "frame_list": [],
    "key_delete": ["public_key"],
    "key_list": [],
    "key_register": ["public_key"],
    "token_create": ["bucket_id", "operation"],
    "user_activate": ["token"],
    "user_activation_email": ["email", "token"],
    "user_create": ["email", "password"],
    "user_deactivate": ["token"],
    "user_delete": ["email"],
    "user_reset_password": ["email"],
    "user_reset_password_confirmation": ["token"],
    "authenticate": ["ecdsa_private_key"],
}

MODEL_KWARGS = {
    "Bucket": ["id", "name", "status", "user", "created", "storage", "transfer", "pubkeys",
               "publicPermissions", "encryptionKey"],
    "Contact": ["address", "port", "nodeID", "lastSeen", "protocol", "userAgent"],
    "File": ["bucket", "hash", "mimetype", "filename", "size", "id", "frame"],
    "FilePointer": ["hash", "token", "operation", "channel"],
    "Frame": ["id", "created", "shards"],
    "MerkleTree": ["leaves", "prehashed"],
    "Mirror": ["hash", "mirrors", "status"],
    "Shard": ["id", "hash", "size", "index", "challenges", "tree", "exclude"],
    "ShardManager": ["filepath", "shard_size", "nchallenges"],
    "Token": ["token", "bucket", "operation", "expires", "encryptionKey"],
}


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STORJ_BRIDGE_USER", "email@example.com")
    monkeypatch.setenv("STORJ_BRIDGE_PASS", "s3CR3cy")
    monkeypatch.setenv("STORJ_BRIDGE", API)
    monkeypatch.delenv("STORJ_ENCRYPTION_KEY", raising=False)


@pytest.mark.parametrize(
    "module",
    ["api", "configuration", "exception", "http", "metadata", "model", "web_socket"],
)
def test_documented_modules_import(module):
    mod = importlib.import_module(f"storj.{module}")
    assert mod.__doc__


def test_module_docstrings_match_documentation():
    assert storj.web_socket.__doc__.startswith("Storj web socket module")
    assert importlib.import_module("storj.http").__doc__.startswith("Storj HTTP module")


def test_configuration_names():
    from storj import configuration

    assert configuration.APP_NAME == "storj"
    assert configuration.CFG_EMAIL == "email"
    assert configuration.CFG_PASSWORD == "password"
    assert callable(configuration.read_config)
    assert list(inspect.signature(configuration.read_config).parameters) == ["path"]


def test_api_ecdsa_to_hex_vector():
    assert storj.api.ecdsa_to_hex(b"\xf8\xd2\xaf\xa1\xdb\xa0\xee\xfd\xf9c\x01\xcf\x0c") == (
        "04f8d2afa1dba0eefdf96301cf0c"
    )


def test_client_signature_and_attributes():
    from storj.http import Client

    params = list(inspect.signature(Client).parameters)
    assert params[:2] == ["email", "password"]
    client = Client("email@example.com", "s3CR3cy")
    for name in ("api_url", "session", "email", "password", "private_key", "public_key",
                 "public_key_hex", "timeout", "encryption_key", "logger"):
        assert hasattr(client, name), name
    assert client.api_url == API + "/"


@pytest.mark.parametrize("method", sorted(CLIENT_METHODS))
def test_client_documented_methods(method):
    from storj.http import Client

    function = getattr(Client, method)
    assert callable(function)
    params = list(inspect.signature(function).parameters)[1:]
    documented = CLIENT_METHODS[method]
    assert params[: len(documented)] == documented
    assert function.__doc__, method


def test_client_high_level_methods_exist():
    from storj.http import Client

    for name in ("upload_file", "download_file", "open_file", "bucket_entry_create",
                 "exchange_report_send", "bucket_id_by_name", "file_id_by_name",
                 "file_mirrors", "get_info", "close"):
        assert callable(getattr(Client, name)), name


@pytest.mark.parametrize("name", sorted(MODEL_KWARGS))
def test_model_classes_take_documented_keywords(name):
    cls = getattr(model, name)
    params = inspect.signature(cls).parameters
    for kwarg in MODEL_KWARGS[name]:
        assert kwarg in params, f"{name}({kwarg}=...)"


def test_package_level_names():
    for name in ("BucketManager", "TokenManager", "generate_new_key_pair", "get_client",
                 "Client", "__version__", "StorjBridgeApiError", "BridgeError"):
        assert hasattr(storj, name), name
    assert storj.Client is importlib.import_module("storj.http").Client
    keys_module = importlib.import_module("storj.keys")
    assert storj.generate_new_key_pair is keys_module.generate_new_key_pair
    assert storj.__version__ == importlib.import_module("storj.metadata").__version__
    assert storj.StorjBridgeApiError is storj.exception.BridgeError


def test_all_is_exact_and_resolves():
    helpers = {"annotations", "TYPE_CHECKING", "Any"}
    public = {
        name
        for name in dir(storj)
        if not name.startswith("_") and not inspect.ismodule(getattr(storj, name))
    }
    assert set(storj.__all__) == (public - helpers) | {"__version__"}
    for name in storj.__all__:
        assert getattr(storj, name) is not None
    with pytest.raises(AttributeError):
        storj.no_such_name  # noqa: B018


def test_import_storj_is_cheap():
    code = (
        "import sys, storj; "
        "heavy = [m for m in ('requests', 'ecdsa', 'cryptography', 'storj.http', 'storj.local', "
        "'storj.cli', 'numpy') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_null_handler_on_package_logger():
    import logging

    handlers = logging.getLogger("storj").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_generate_new_key_pair():
    private, public = storj.generate_new_key_pair()
    assert isinstance(private, ecdsa.SigningKey) and isinstance(public, ecdsa.VerifyingKey)
    assert private.curve == ecdsa.SECP256k1
    assert private.get_verifying_key().to_string() == public.to_string()


def test_get_client_from_environment():
    client = storj.get_client()
    assert isinstance(client, storj.Client)
    assert client.email == "email@example.com"
    assert client.password == "67f1a7a10045d97a03312c9332d2c98195408abfb132be141194d8a75898d6da"
    assert client.api_url == API + "/"
    assert storj.get_client() is not client


def test_get_client_from_file(monkeypatch, tmp_path):
    from storj.configuration import write_config

    for name in ("STORJ_BRIDGE_USER", "STORJ_BRIDGE_PASS", "STORJ_BRIDGE"):
        monkeypatch.delenv(name)
    write_config("file@example.com", "pw", bridge="http://127.0.0.1:6382/",
                 encryption_key="abandon about")
    client = storj.get_client()
    assert (client.email, client.api_url, client.encryption_key) == (
        "file@example.com", "http://127.0.0.1:6382/", "abandon about")


def test_get_client_without_configuration(monkeypatch):
    monkeypatch.delenv("STORJ_BRIDGE_USER")
    monkeypatch.delenv("STORJ_BRIDGE_PASS")
    with pytest.raises(ConfigurationError, match="STORJ_BRIDGE_USER"):
        storj.get_client()
    with pytest.raises(ConfigurationError):
        storj.BucketManager.all()


@responses.activate
def test_bucket_manager():
    responses.add("GET", f"{API}/buckets", json=[BUCKET])
    responses.add("GET", f"{API}/buckets/{BUCKET_ID}", json=BUCKET)
    responses.add("POST", f"{API}/buckets", json=BUCKET, status=201)
    responses.add("DELETE", f"{API}/buckets/{BUCKET_ID}", status=204)

    assert storj.BucketManager.all() == [model.Bucket.from_json(BUCKET)]
    assert storj.BucketManager.list() == [model.Bucket.from_json(BUCKET)]
    bucket = storj.BucketManager.get(BUCKET_ID)
    assert isinstance(bucket, model.Bucket) and bucket.id == BUCKET_ID  # not double-wrapped
    assert storj.BucketManager.create("test-bucket", storage_limit=5).name == "test-bucket"
    assert storj.BucketManager.delete(BUCKET_ID) is None
    for call in responses.calls:
        assert call.request.headers["Authorization"] == BASIC
    posts = [c.request for c in responses.calls if c.request.method == "POST"]
    assert [p.body for p in posts] == [b'{"name":"test-bucket","storage":5}']
    assert responses.calls[-1].request.method == "DELETE"


@responses.activate
def test_manager_client_follows_configuration_changes(monkeypatch):
    responses.add("GET", f"{API}/buckets", json=[])
    responses.add("GET", "http://other.test/buckets", json=[])
    storj.BucketManager.all()
    storj.BucketManager.all()
    monkeypatch.setenv("STORJ_BRIDGE", "http://other.test")
    storj.BucketManager.all()
    assert [c.request.url for c in responses.calls] == [
        f"{API}/buckets", f"{API}/buckets", "http://other.test/buckets"]


@responses.activate
def test_token_manager():
    responses.add("POST", f"{API}/buckets/{BUCKET_ID}/tokens", json=TOKEN, status=201)
    manager = storj.TokenManager(BUCKET_ID)
    assert manager.bucket_id == BUCKET_ID
    token = manager.create("push")
    assert isinstance(token, model.Token)
    assert token.token == "ab" * 32 and token["token"] == "ab" * 32
    assert responses.calls[0].request.body == b'{"operation":"PUSH"}'
    with pytest.raises(ValueError):
        manager.create("DESTROY")

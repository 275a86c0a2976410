"""Code written against storj 0.1.x–0.3.14 runs on this package.

Each test is a small piece of user code in the style of that era — the imports,
constructors, calls, attribute reads and ``except`` clauses 0.3.14's own tests and its
users exercised (``from storj.model import KeyPair``, ``Client(email, password,
do_hashing=False)``, ``BridgeError(0, 'error')``, ``Uploader(...).file_upload(...)``,
``storj-bucket list`` …) — run against this package and, where 0.3.x talked to a
Bridge, against a real local network on loopback (0.3.14's integration test needed
the live ``api.storj.io``).

Every test imports what it uses inside its body, so a name that is missing fails the
one test that uses it, not the whole module. Where this package deliberately differs
from 0.3.x (because 0.3.x was wrong about the Bridge, or insecure), the test checks the
new behaviour and its docstring says what 0.3.x did; ``docs/upgrading.rst`` lists every
difference.

The 0.3.x code talks to the Bridge the way 0.3.x users configured it: credentials in
arguments or in the configuration (``storj.read_config()`` / ``storj.get_client()``),
here through ``STORJ_BRIDGE`` / ``STORJ_BRIDGE_USER`` / ``STORJ_BRIDGE_PASS`` /
``STORJ_ENCRYPTION_KEY`` pointing at the local network, with the configuration
directory moved into ``tmp_path`` so no user file is read or written.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from storj.local import LocalNetwork

pytestmark = pytest.mark.integration

#: Bytes of the files the tests upload: more than one 0.3.x 8 MiB chunk is not
#: needed to exercise the names; a few KiB keep the tests quick.
DATA = bytes(range(256)) * 24 + b"tail"


@dataclass
class Account:
    """A user of a running local network, configured as a 0.3.x user was."""

    network: LocalNetwork
    email: str
    password: str
    bridge: str
    mnemonic: str
    home: Path

    @property
    def password_hash(self) -> str:
        return hashlib.sha256(self.password.encode("ascii")).hexdigest()

    def file(self, name: str = "photo.jpg", data: bytes = DATA) -> Path:
        path = self.home / name
        path.write_bytes(data)
        return path

    def client(self) -> Any:
        """A 0.3.x-style client: ``Client(email, password)``, Bridge from the environment."""
        from storj.http import Client

        return Client(self.email, self.password)


@pytest.fixture
def account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    from storj.crypto import generate_mnemonic

    home = tmp_path / "home"
    home.mkdir()
    for var in list(os.environ):
        if var.startswith("STORJ_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.chdir(home)
    with LocalNetwork(tmp_path / "net", farmers=4) as network:
        email, password = network.create_user()
        mnemonic = generate_mnemonic()
        monkeypatch.setenv("STORJ_BRIDGE", network.bridge_url)
        monkeypatch.setenv("STORJ_BRIDGE_USER", email)
        monkeypatch.setenv("STORJ_BRIDGE_PASS", password)
        monkeypatch.setenv("STORJ_ENCRYPTION_KEY", mnemonic)
        yield Account(network, email, password, network.bridge_url, mnemonic, home)


def _upload(account: Account, client: Any, bucket_name: str = "photos") -> tuple[Any, Any]:
    """A bucket and a file in it (uploaded with this package's engine)."""
    bucket = client.bucket_create(bucket_name)
    entry = client.upload_file(bucket.id, str(account.file()))
    return bucket, entry


# =========================================================================== imports


def test_import_model_names_of_0_3_x() -> None:
    """0.3.x: ``from storj.model import KeyPair, ShardManager, IdecdsaCipher, …``."""
    from storj.model import (  # noqa: F401
        Bucket,
        Contact,
        File,
        IdecdsaCipher,
        KeyPair,
        Keyring,
        MerkleTree,
        Shard,
        ShardingException,
        ShardManager,
        Token,
    )


def test_import_exception_names_of_0_3_x() -> None:
    """0.3.x: ``StorjBridgeApiError`` is ``BridgeError`` (0.1.x's name kept as an alias)."""
    from storj.exception import BridgeError, ClientError, FarmerError, StorjBridgeApiError

    assert StorjBridgeApiError is BridgeError
    assert issubclass(ClientError, Exception) and issubclass(FarmerError, Exception)


def test_import_transfer_modules_of_0_3_x() -> None:
    """0.3.x: ``storj.uploader``, ``storj.downloader``, ``storj.file_crypto``."""
    from storj.downloader import Downloader
    from storj.file_crypto import FileCrypto
    from storj.uploader import Uploader

    assert callable(Uploader) and callable(Downloader) and callable(FileCrypto)


def test_import_http_client() -> None:
    import storj
    from storj.http import Client

    assert storj.Client is Client


def test_package_level_names_of_0_3_x() -> None:
    """0.3.x ``storj/__init__.py`` exported these."""
    import storj

    for name in (
        "get_client",
        "read_config",
        "BucketManager",
        "BucketKeyManager",
        "FileManager",
        "UserKeyManager",
        "TokenManager",
        "Client",
        "Bucket",
        "File",
        "Token",
        "ecdsa_to_hex",
    ):
        assert callable(getattr(storj, name)), name
    from storj import Bucket, File, Token, ecdsa_to_hex
    from storj.model import Bucket as ModelBucket

    assert Bucket is ModelBucket
    assert File(id="5f3a", filename="a.txt").filename == "a.txt"
    assert Token(token="t", operation="PULL").operation == "PULL"
    assert ecdsa_to_hex(b"\xf8\xd2\xaf\xa1\xdb\xa0\xee\xfd\xf9c\x01\xcf\x0c") == (
        "04f8d2afa1dba0eefdf96301cf0c"
    )


def test_sharder_module_of_0_3_x() -> None:
    """0.3.x ``storj.sharder.ShardingTools``: the sizing helpers and ``join_shards``."""
    import functools
    import io

    from storj.sharder import ShardingException, ShardingTools

    tools = ShardingTools()
    assert tools.MAX_SHARD_SIZE == 4294967296
    assert tools.SHARD_MULTIPLES_BACK == 4
    assert tools.shard_size(0) == 8 * 1024 * 1024
    assert tools.shard_size(2) == 32 * 1024 * 1024
    params = tools.get_optimal_shard_parametrs(43 * 1024**3)
    assert params == {"shard_size": "4294967296", "shard_count": 11, "file_size": 43 * 1024**3}
    assert tools.get_optimal_shard_parametrs(1000)["shard_count"] == 1
    assert tools.determine_shard_size(134217729, 0) == 16 * 1024 * 1024
    names = ["f-10", "f-2", "f-1"]
    assert sorted(names, key=functools.cmp_to_key(tools.sort_index)) == ["f-1", "f-2", "f-10"]
    out = io.BytesIO()
    assert tools.join_shards([io.BytesIO(b"ab"), io.BytesIO(b"cd")], out) is True
    assert out.getvalue() == b"abcd"
    assert str(ShardingException("bad chunk")) == "bad chunk"


# =========================================================================== exceptions


def test_bridge_error_as_0_3_14_constructed_it() -> None:
    from storj.exception import BridgeError

    error = BridgeError(0, "error")
    assert error.code == 0
    assert error.message == "error"
    assert str(error) == "[0] error"
    keywords = BridgeError(code=500, message="Internal error")
    assert (keywords.code, keywords.message) == (500, "Internal error")
    assert str(keywords) == "[500] Internal error"
    with pytest.raises(BridgeError):
        raise BridgeError()


def test_farmer_error_as_0_3_14_constructed_it() -> None:
    from storj.exception import FarmerError

    error = FarmerError(0, "error")
    assert (error.code, error.message, str(error)) == (0, "error", "[0] error")
    assert FarmerError(10002).code == 10002


def test_client_error_message() -> None:
    from storj.exception import ClientError

    error = ClientError("error")
    assert error.message == "error"
    assert str(error) == "error"
    assert ClientError().message == ""


def test_farmer_error_subclasses_of_0_3_14() -> None:
    """0.3.14: ``SuppliedTokenNotAcceptedError()`` and ``HashMismatchError()`` take no argument."""
    from storj.exception import FarmerError, HashMismatchError, SuppliedTokenNotAcceptedError

    rejected = SuppliedTokenNotAcceptedError()
    mismatch = HashMismatchError()
    assert isinstance(rejected, FarmerError) and isinstance(mismatch, FarmerError)
    assert rejected.code == SuppliedTokenNotAcceptedError.CODE == 10002
    assert mismatch.code == HashMismatchError.CODE == 10003


def test_bridge_errors_from_the_client_are_caught_by_0_3_x_except_clauses(
    account: Account,
) -> None:
    """0.3.x code wrapped calls in ``except BridgeError`` / ``except StorjBridgeApiError``."""
    from storj.exception import BridgeError, StorjBridgeApiError

    client = account.client()
    with pytest.raises(BridgeError) as caught:
        client.bucket_get("0123456789abcdef01234567")
    assert isinstance(caught.value, StorjBridgeApiError)
    assert caught.value.message
    assert str(caught.value)


# =========================================================================== Client


def test_client_hashes_the_password_by_default() -> None:
    from storj.http import Client

    client = Client("someone@example.com", "s3CR3cy")
    assert client.password == hashlib.sha256(b"s3CR3cy").hexdigest()
    assert client.do_hashing is True
    assert client.email == "someone@example.com"


def test_client_do_hashing_false_takes_the_sha256_hex(account: Account) -> None:
    """0.3.14 (for the GUI): the password given is already the SHA-256 hex."""
    from storj.http import Client

    client = Client(account.email, account.password_hash, do_hashing=False)
    assert client.do_hashing is False
    assert client.password == account.password_hash
    bucket = client.bucket_create("prehashed")
    assert bucket.id in [b.id for b in client.bucket_list()]


def test_client_storj_bridge_keyword(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    """0.3.14 chose the Bridge with ``storj_bridge=``."""
    from storj.http import Client

    monkeypatch.delenv("STORJ_BRIDGE")
    client = Client(account.email, account.password, storj_bridge=account.bridge)
    assert client.api_url.rstrip("/") == account.bridge.rstrip("/")
    assert client.bucket_create("via-storj-bridge").name == "via-storj-bridge"


def test_client_positional_arguments_of_0_3_14(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0.3.14: ``Client(email, password, storj_bridge, do_hashing, timeout)``."""
    from storj.http import Client

    monkeypatch.delenv("STORJ_BRIDGE")
    client = Client(account.email, account.password_hash, account.bridge, False, 30)
    assert client.do_hashing is False
    assert list(client.bucket_list()) == []


def test_client_timeout_none_means_the_default(account: Account) -> None:
    """0.3.14's default was ``timeout=None`` (no timeout); here it means the default timeout."""
    from storj.http import Client

    client = Client(account.email, account.password, timeout=None)
    assert client.timeout is not None and client.timeout > 0
    assert list(client.bucket_list()) == []


def test_client_private_and_public_key_are_settable(account: Account) -> None:
    """0.1.x: ``client.private_key = …`` / ``client.public_key = …`` then signed requests."""
    import storj

    private_key, public_key = storj.generate_new_key_pair()
    client = account.client()
    client.key_register(public_key)
    client.private_key = private_key
    client.public_key = public_key
    assert client.public_key is not None
    assert client.bucket_create("signed").name == "signed"


def test_client_public_key_that_does_not_match_is_refused(account: Account) -> None:
    import storj

    private_key, _ = storj.generate_new_key_pair()
    _, other_public = storj.generate_new_key_pair()
    client = account.client()
    client.private_key = private_key
    with pytest.raises((ValueError, storj.exception.StorjError)):
        client.public_key = other_public


# --------------------------------------------------------------------------- key helpers


def test_key_dump_without_keys(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    client = account.client()
    client.key_dump()
    assert "No keys associated with this account." in capsys.readouterr().out


def test_key_generate_registers_a_new_key(account: Account) -> None:
    """0.3.x prompted with ``raw_input`` and slept 3 s; now: no prompt, registered."""
    client = account.client()
    client.key_generate()
    assert client.private_key is not None and client.public_key is not None
    assert len(client.key_list()) == 1
    assert client.bucket_create("after-key-generate").name == "after-key-generate"


def test_key_dump_prints_public_keys_never_the_private_key(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """0.3.x printed the private key object and crashed when keys were registered."""
    client = account.client()
    client.key_generate()
    registered = client.key_list()
    capsys.readouterr()
    client.key_dump()
    out = capsys.readouterr().out
    private_hex = client.private_key.to_string().hex()
    assert private_hex not in out
    assert all(key in out for key in registered)


def test_key_export_writes_pem_files(account: Account) -> None:
    """0.3.x wrote ``public.pem`` / ``private.pem`` into the working directory."""
    client = account.client()
    client.key_generate(register=False)
    client.key_export()
    private_pem = account.home / "private.pem"
    public_pem = account.home / "public.pem"
    assert private_pem.read_bytes().startswith(b"-----BEGIN ")
    assert b"PRIVATE KEY-----" in private_pem.read_bytes()
    assert public_pem.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert stat.S_IMODE(private_pem.stat().st_mode) == 0o600
    before = private_pem.read_bytes()
    client.key_generate(register=False)
    with pytest.raises(Exception):  # noqa: B017 - refuses to overwrite, whatever the class
        client.key_export()
    assert private_pem.read_bytes() == before


def test_key_import_reads_pem_files_and_registers(account: Account) -> None:
    import storj

    private_key, public_key = storj.generate_new_key_pair()
    private_path = account.home / "mine.pem"
    public_path = account.home / "mine.pub.pem"
    private_path.write_bytes(private_key.to_pem())
    public_path.write_bytes(public_key.to_pem())
    client = account.client()
    client.key_import(str(private_path), str(public_path))
    assert client.private_key.to_string() == private_key.to_string()
    assert len(client.key_list()) == 1
    assert client.bucket_create("imported-key").name == "imported-key"


# --------------------------------------------------------------------------- buckets


def test_bucket_lifecycle_as_0_3_14_integration_test(account: Account) -> None:
    """0.3.14's ``integration/bucket_test.py``, against a local Bridge."""
    from storj.exception import BridgeError

    client = account.client()
    bucket = client.bucket_create("integration-" + datetime.now(UTC).strftime("%Y%m%d_%H%M%S"))
    assert bucket == client.bucket_get(bucket.id)
    assert bucket in client.bucket_list()
    client.bucket_delete(bucket.id)
    with pytest.raises(BridgeError):
        client.bucket_get(bucket.id)
    with pytest.raises(StopIteration):
        next(client.bucket_list())


def test_token_create_and_read_attributes(account: Account) -> None:
    client = account.client()
    bucket = client.bucket_create("tokens")
    token = client.token_create(bucket.id, "PUSH")
    assert token.operation == "PUSH"
    assert token.bucket.id == bucket.id  # 0.3.x wrapped the id in a Bucket
    assert token.id


def test_bucket_files_entries_read_like_dicts(account: Account) -> None:
    """0.3.x returned raw JSON dicts: ``f['filename']``, ``f['id']``."""
    client = account.client()
    bucket, entry = _upload(account, client)
    files = client.bucket_files(bucket.id)
    assert [(f["id"], f["filename"]) for f in files] == [(entry.id, "photo.jpg")]
    assert files[0]["size"] == len(DATA)


def test_file_metadata_bucket_and_frame_ids(account: Account) -> None:
    """0.3.x: ``file.bucket.id`` and ``file.frame.id`` (ids wrapped in records)."""
    client = account.client()
    bucket, entry = _upload(account, client)
    info = client.file_metadata(bucket.id, entry.id)
    assert info.bucket.id == bucket.id
    assert info.frame.id == entry.frame.id
    assert info.filename == "photo.jpg"
    assert info.name == "photo.jpg" and info.content_type == info.mimetype


def test_file_pointers_read_like_dicts(account: Account) -> None:
    """0.3.14: ``file_pointers(bucket_id, file_id, skip, limit)`` with string arguments.

    0.3.14 returned a list of dicts; this returns an iterator of records with dict-style
    access, so ``for pointer in …: pointer['hash']`` works in both.
    """
    client = account.client()
    bucket, entry = _upload(account, client)
    pointers = list(client.file_pointers(bucket.id, entry.id, skip="0", limit="1"))
    assert len(pointers) == 1
    assert len(pointers[0]["hash"]) == 40
    assert pointers[0]["farmer"]["nodeID"]


# --------------------------------------------------------------------------- 0.3.x methods


def test_file_download_returns_a_bytesio(account: Account) -> None:
    """0.3.x ``file_download`` returned the content in a ``BytesIO`` (left at its end)."""
    client = account.client()
    bucket, entry = _upload(account, client)
    content = client.file_download(bucket.id, entry.id)
    assert isinstance(content, io.BytesIO)
    assert content.getvalue() == DATA
    assert content.tell() == len(DATA)


def test_send_exchange_report(account: Account) -> None:
    """0.3.14's name for ``exchange_report_send``; returns an ``ExchangeReport``."""
    from storj.model import ExchangeReport

    client = account.client()
    bucket, entry = _upload(account, client)
    pointer = next(iter(client.file_pointers(bucket.id, entry.id, skip="0", limit="1")))
    now = int(datetime.now(UTC).timestamp() * 1000)
    report = ExchangeReport(
        dataHash=pointer["hash"],
        reporterId=account.email,
        farmerId=pointer["farmer"]["nodeID"],
        clientId=account.email,
        exchangeStart=now,
        exchangeEnd=now + 1,
        exchangeResultCode=ExchangeReport.SUCCESS,
        exchangeResultMessage=ExchangeReport.STORJ_REPORT_SHARD_DOWNLOADED,
    )
    answer = client.send_exchange_report(report)
    assert isinstance(answer, ExchangeReport)


def test_check_file_existence_in_bucket(account: Account) -> None:
    """0.3.14: 1 = same name, 2 = same content hash, False = neither."""
    client = account.client()
    bucket, entry = _upload(account, client)
    assert (
        client.check_file_existence_in_bucket(bucket.id, str(account.home / "photo.jpg"), entry.id)
        == 1
    )
    other = account.file("other.bin", b"something else entirely")
    assert client.check_file_existence_in_bucket(bucket.id, str(other), entry.id) is False


def test_frame_add_shard_with_excludes(account: Account) -> None:
    """0.3.14 named the farmer blacklist ``excludes=``."""
    from storj.model import ShardManager

    client = account.client()
    frame = client.frame_create()
    manager = ShardManager(str(account.file("shard.bin")), 4096)
    shard = manager.shards[0]
    excluded = account.network.farmers[0].node_id
    answer = client.frame_add_shard(shard, frame.id, excludes=[excluded])
    assert answer["hash"] == shard.hash
    assert answer["farmer"]["nodeID"] != excluded
    assert answer["operation"] == "PUSH"


# =========================================================================== storj.model


KEYPAIR_PRIVATE = "c7d360e0d7d6820ea8d33cc7ad81bf9d04c2f9c793f21cbf0a4a004350346ab8"
KEYPAIR_PUBLIC = "03980352d67d91a8cf64251b1d4f7272654c70aa21932aaea1b359c47b26aee9d0"


@pytest.mark.parametrize(
    "kwargs", [{"secret": "master_password"}, {"pkey": KEYPAIR_PRIVATE}], ids=["secret", "pkey"]
)
def test_keypair_vector_of_0_3_14(kwargs: dict[str, str]) -> None:
    from storj.model import KeyPair

    wallet = KeyPair(**kwargs)
    assert wallet.private_key == KEYPAIR_PRIVATE
    assert wallet.public_key == KEYPAIR_PUBLIC
    assert wallet.node_id == "abb5b062c7797924bb5b7d65e4f8a2f7c6e0311f"
    assert wallet.address == "1GevCn3H1p76GHHPS9nzg8wBYLFaS2MAmX"


def test_keypair_random_and_sign() -> None:
    import base64

    from storj.model import KeyPair

    first, second = KeyPair(), KeyPair()
    assert len(first.private_key) == 64 and first.private_key != second.private_key
    signature = base64.b64decode(first.sign("message"))
    assert len(signature) == 65
    assert 31 <= signature[0] <= 34  # 27 + recovery id + 4: compressed public key


def test_idecdsa_cipher_round_trip_and_vector() -> None:
    from storj.model import IdecdsaCipher

    cipher = IdecdsaCipher()
    data = KEYPAIR_PRIVATE
    assert cipher.simpleDecrypt("testpassword", cipher.simpleEncrypt("testpassword", data)) == data
    key, iv = cipher.EVP_BytesToKey("secret", 10, 20)
    as_bytes = key.encode("latin-1") if isinstance(key, str) else key
    assert as_bytes.hex() == "5ebe2294ecd0e0f08eab"
    assert len(iv) == 20
    assert IdecdsaCipher.unpad(IdecdsaCipher.pad(b"0123456789abcdef")) == b"0123456789abcdef"


def test_keyring_derives_a_key_from_a_passphrase() -> None:
    """0.3.x's Keyring prompted and ignored the passphrase; this one derives from it."""
    from storj.model import Keyring

    keyring = Keyring()
    key = keyring.get_encryption_key("correct horse")
    assert key
    assert keyring.get_encryption_key("correct horse") == key
    assert keyring.get_encryption_key("battery staple") != key


def test_keyring_keeps_the_0_3_x_method_names() -> None:
    """0.3.x code called ``generate``, ``export_keyring`` and ``import_keyring``.

    Their 0.3.x forms prompted with ``raw_input`` and imported with ``eval``; only the
    names are checked here (the non-interactive signatures are this package's own).
    """
    from storj.model import Keyring

    for name in ("generate", "get_encryption_key", "export_keyring", "import_keyring"):
        assert callable(getattr(Keyring, name)), name


def test_shard_manager_documented_positional_signature(tmp_path: Path) -> None:
    """``ShardManager(filepath, shard_size, nchallenges=12)`` stays the positional contract."""
    from storj.model import ShardManager

    source = tmp_path / "doc.txt"
    source.write_bytes(DATA)
    manager = ShardManager(str(source), 4096, 3)
    assert [shard.size for shard in manager.shards] == [4096, len(DATA) - 4096]
    assert all(len(shard.challenges) == 3 for shard in manager.shards)
    assert ShardManager.hash("") == "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb"
    assert ShardManager.hash("ab") == "e4973182d0c331ce8b083ffa2b28c8b4fc0f1d93"


def test_sharding_exception_str() -> None:
    from storj.model import ShardingException

    with pytest.raises(ShardingException) as caught:
        raise ShardingException("cannot read file")
    assert str(caught.value) == "cannot read file"


def test_shard_manager_0_3_x_keywords(tmp_path: Path) -> None:
    """0.3.x: ``num_chunks=``, ``tmp_path=``, ``suffix=``; the remainder is no longer dropped."""
    from storj.model import ShardManager

    source = tmp_path / "video.mp4"
    source.write_bytes(DATA)
    chunks = tmp_path / "chunks"
    chunks.mkdir()
    manager = ShardManager(str(source), num_chunks=3, tmp_path=str(chunks), suffix=".part")
    assert manager.tmp_path == str(chunks)
    assert manager.suffix == ".part"
    assert len(manager.shards) == 3
    assert sum(shard.size for shard in manager.shards) == len(DATA)
    written = sorted(chunks.iterdir())
    assert [p.name for p in written] == [f"video.mp4-{n}.part" for n in (1, 2, 3)]
    assert b"".join(p.read_bytes() for p in written) == DATA


def test_shard_manager_shard_count_methods(tmp_path: Path) -> None:
    """0.3.14's test: a 43 GiB file → 11 shards of 4 GiB (libstorj's rule agrees).

    0.3.14's test set the private ``_filesize``; a sparse file of that size does the
    same through the public constructor without writing 43 GiB.
    """
    from storj.model import ShardManager

    small = tmp_path / "small.bin"
    small.write_bytes(DATA)
    manager = ShardManager(str(small), num_chunks=1)
    assert manager.determine_shard_size() > 0
    assert manager.get_optimal_shard_number() == 1
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.truncate(43 * 1024**3)
    manager = ShardManager(str(big))
    assert manager.get_optimal_shard_number() == 11
    assert manager.determine_shard_size() == 4 * 1024**3


def test_shard_records_and_debug_string(tmp_path: Path) -> None:
    from storj.model import ShardManager

    source = tmp_path / "doc.txt"
    source.write_bytes(DATA)
    shard = ShardManager(str(source), 4096).shards[0]
    public = shard.get_public_record()
    private = shard.get_private_record()
    assert public is not None and private is not None
    assert shard.hash in str(public)
    debug = shard.all()
    assert debug.startswith("Shard{") and shard.hash in debug


def test_contact_last_seen_is_a_datetime() -> None:
    from storj.model import Contact

    contact = Contact(
        address="api.storj.io",
        port=8443,
        nodeID="32033d2dc11b877df4b1caefbffba06495ae6b18",
        lastSeen="2016-05-24T15:16:01.139Z",
        protocol="0.7.0",
        userAgent="4.0.3",
    )
    assert contact.lastSeen == datetime(2016, 5, 24, 15, 16, 1, 139000, tzinfo=UTC)
    assert (contact.address, contact.port, contact.userAgent) == ("api.storj.io", 8443, "4.0.3")


def test_file_and_token_wrap_ids_like_0_3_x() -> None:
    """0.3.x ``File(bucket='…').bucket.id``, ``.frame.id``; ``Token(bucket='…').bucket.id``."""
    from storj.model import File, Token

    f = File(
        bucket="bucket_id", hash="hash", mimetype="mimetype", filename="filename", frame="frame_id"
    )
    assert f.bucket.id == "bucket_id"
    assert f.frame.id == "frame_id"
    assert f.shard_manager is None
    assert f.hash == "hash"
    token = Token(token="t0k3n", bucket="bucket_id", operation="PULL")
    assert token.bucket.id == "bucket_id"


def test_merkle_tree_vector_of_0_3_14() -> None:
    """0.3.14's 8-leaf vector (2016 hex-string hashing, now ``scheme='2016'``).

    The default scheme is the Bridge's 2017+ one (raw-byte hashing, 40-hex leaves):
    0.3.x's trees did not match what farmers prove, so 0.3.x leaves such as ``'a'`` are
    refused by the default.
    """
    from storj.model import MerkleTree

    tree = MerkleTree(list("abcdefgh"), scheme="2016")
    assert tree.depth == 3
    assert tree.count == 7
    assert tree.get_root() == "2adf050f14bf6324bfd41577d0dc08e2e49766fa"
    assert tree.get_level(1) == [
        "39c096fc1b11e77f4347cfdb45ba9b03c0ad95d9",
        "47121e7ec10e7653f1262b1d3abb6f9a71b3de8b",
    ]
    with pytest.raises(ValueError):
        MerkleTree(None)  # type: ignore[arg-type]


# =========================================================================== package level


def test_read_config_and_get_client(account: Account) -> None:
    import storj

    assert storj.read_config() == (account.email, account.password)
    client = storj.get_client()
    assert client.bucket_create("from-config").name == "from-config"


def test_bucket_manager(account: Account) -> None:
    import storj

    bucket = storj.BucketManager.create("managed")
    assert storj.BucketManager.get(bucket.id) == bucket
    assert [b.id for b in storj.BucketManager.all()] == [bucket.id]
    storj.BucketManager.delete(bucket.id)
    assert storj.BucketManager.all() == []


def test_token_manager(account: Account) -> None:
    """0.3.x upper-cased the operation."""
    import storj

    bucket = storj.BucketManager.create("tokens")
    token = storj.TokenManager(bucket.id).create("pull")
    assert token.operation == "PULL"


def test_bucket_key_manager(account: Account) -> None:
    """0.3.x ``clear``/``remove`` raised TypeError (``bucket_set_keys`` without a name)."""
    import storj
    from storj.api import ecdsa_to_hex

    bucket = storj.BucketManager.create("shared")
    _, public_key = storj.generate_new_key_pair()
    key_hex = ecdsa_to_hex(public_key)
    manager = storj.BucketKeyManager(bucket, [])
    manager.add(key_hex)
    assert manager.all() == [key_hex]
    assert key_hex in storj.BucketManager.get(bucket.id).pubkeys
    manager.remove(key_hex)
    assert manager.all() == []
    assert key_hex not in storj.BucketManager.get(bucket.id).pubkeys
    manager.add(public_key)  # an ecdsa key object, as 0.3.x accepted
    assert len(manager.all()) == 1
    assert len(storj.BucketManager.get(bucket.id).pubkeys) == 1
    manager.clear()
    assert manager.all() == []
    assert storj.BucketManager.get(bucket.id).pubkeys == []


def test_user_key_manager(account: Account) -> None:
    """0.3.x's ``add`` registered nothing for a hex string (indentation bug); now it does."""
    import storj
    from storj.api import ecdsa_to_hex

    _, public_key = storj.generate_new_key_pair()
    key_hex = ecdsa_to_hex(public_key)
    assert storj.UserKeyManager.all() == []
    storj.UserKeyManager.add(key_hex)
    assert len(storj.UserKeyManager.all()) == 1
    storj.UserKeyManager.remove(storj.UserKeyManager.all()[0])
    assert storj.UserKeyManager.all() == []
    storj.UserKeyManager.add(public_key)
    storj.UserKeyManager.clear()
    assert storj.UserKeyManager.all() == []


def test_file_manager(account: Account) -> None:
    import storj

    bucket = storj.BucketManager.create("files")
    manager = storj.FileManager(bucket.id)
    manager.upload(str(account.file("notes.txt")))
    files = manager.all()
    assert [f["filename"] for f in files] == ["notes.txt"]
    file_id = files[0]["id"]
    content = manager.download(file_id)
    if isinstance(content, io.BytesIO):
        data = content.getvalue()
    elif isinstance(content, bytes):
        data = content
    else:  # a path
        data = Path(content).read_bytes()
    assert data == DATA
    manager.delete(file_id)
    assert manager.all() == []


# =========================================================================== transfers


def test_uploader_uploads_for_real(account: Account) -> None:
    """0.3.x encrypted with the password hash, exited the process on failure and returned None.

    Now: the file is encrypted as libstorj does (key from ``STORJ_ENCRYPTION_KEY``),
    errors raise, and the created file comes back.
    """
    from storj.uploader import Uploader

    client = account.client()
    bucket = client.bucket_create("uploads")
    scratch = account.home / "scratch"
    scratch.mkdir()
    uploader = Uploader(account.email, account.password)
    entry = uploader.file_upload(bucket.id, str(account.file("upload.bin")), str(scratch))
    assert entry.filename == "upload.bin"
    target = account.home / "check.bin"
    client.download_file(bucket.id, entry.id, str(target))
    assert target.read_bytes() == DATA


def test_uploader_with_storj_bridge(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    from storj.http import Client
    from storj.uploader import Uploader

    monkeypatch.delenv("STORJ_BRIDGE")

    client = Client(account.email, account.password, storj_bridge=account.bridge)
    bucket = client.bucket_create("uploads-explicit")
    uploader = Uploader(account.email, account.password, timeout=None, storj_bridge=account.bridge)
    entry = uploader.file_upload(bucket.id, str(account.file()), str(account.home))
    assert client.file_download(bucket.id, entry.id).getvalue() == DATA


def test_downloader_download_begin(account: Account) -> None:
    """0.3.x wrote ``~/<filename>``; the default is kept, a destination may be given."""
    from storj.downloader import Downloader

    client = account.client()
    bucket, entry = _upload(account, client)
    (account.home / "photo.jpg").unlink()
    downloader = Downloader(account.email, account.password)
    path = downloader.download_begin(bucket.id, entry.id)
    assert Path(path) == account.home / "photo.jpg"
    assert Path(path).read_bytes() == DATA
    elsewhere = account.home / "elsewhere.jpg"
    assert Path(downloader.download_begin(bucket.id, entry.id, str(elsewhere))) == elsewhere
    assert elsewhere.read_bytes() == DATA


def test_downloader_never_overwrites_silently(account: Account) -> None:
    from storj.downloader import Downloader

    client = account.client()
    bucket, entry = _upload(account, client)
    existing = account.home / "photo.jpg"
    existing.write_bytes(b"mine")
    with pytest.raises(Exception):  # noqa: B017 - refused, whatever the class
        Downloader(account.email, account.password).download_begin(bucket.id, entry.id)
    assert existing.read_bytes() == b"mine"


def test_file_crypto_round_trip(tmp_path: Path) -> None:
    from storj.file_crypto import FileCrypto

    plain = tmp_path / "plain.txt"
    plain.write_bytes(DATA)
    crypto = FileCrypto()
    crypto.encrypt_file("AES", str(plain), str(tmp_path / "enc"), "password")
    assert (tmp_path / "enc").read_bytes()[:8] == b"Salted__"
    crypto.decrypt_file("AES", str(tmp_path / "enc"), str(tmp_path / "dec"), "password")
    assert (tmp_path / "dec").read_bytes() == DATA


def test_file_crypto_streams_between_file_objects() -> None:
    from storj.file_crypto import FileCrypto

    crypto = FileCrypto()
    encrypted = io.BytesIO()
    crypto.encrypt_file_aes(io.BytesIO(DATA), encrypted, "password")
    encrypted.seek(0)
    decrypted = io.BytesIO()
    crypto.decrypt_file_aes(encrypted, decrypted, "password")
    assert decrypted.getvalue() == DATA


# =========================================================================== web socket


def test_web_socket_client_callbacks() -> None:
    """0.x's ws4py-style hooks: binary frames are appended to ``file_contents``."""
    from storj.web_socket import Client

    pointer = {
        "token": "99cf1af00b552113a856f8ef44f58d22269389e8",
        "hash": "ba084d3f143f2896809d3f1d7dffed472b39d8de",
        "operation": "PULL",
        "channel": "ws://127.0.0.1:4000",
        "farmer": {"address": "127.0.0.1", "port": 4000, "nodeID": "0" * 40},
    }
    contents = io.BytesIO()
    client = Client(pointer, contents)
    client.opened()
    client.received_message(b"first ")
    client.received_message(b"second")
    client.closed(1000, "done")
    assert contents.getvalue() == b"first second"


def test_web_socket_client_subclass_hooks_are_overridable() -> None:
    from storj.web_socket import Client

    seen: list[Any] = []

    class Recorder(Client):
        def received_message(self, message: Any) -> None:
            seen.append(message)
            super().received_message(message)

    contents = io.BytesIO()
    pointer = {
        "token": "99cf1af00b552113a856f8ef44f58d22269389e8",
        "hash": "ba084d3f143f2896809d3f1d7dffed472b39d8de",
        "operation": "PULL",
        "channel": "ws://127.0.0.1:4000",
    }
    recorder = Recorder(pointer, contents)
    recorder.received_message(b"x")
    assert seen == [b"x"] and contents.getvalue() == b"x"


# =========================================================================== console scripts


def test_storj_cli_functions_of_0_3_x() -> None:
    """0.3.x entry points: ``storj.cli:bucket``, ``storj.cli:file``, ``storj.cli:keys``."""
    import click

    from storj.cli import bucket, file, keys

    for command in (bucket, file, keys):
        assert isinstance(command, click.Command)


def test_console_scripts_are_installed() -> None:
    from importlib.metadata import entry_points

    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("storj-bucket") == "storj.cli:bucket"
    assert scripts.get("storj-file") == "storj.cli:file"
    assert scripts.get("storj-key") == "storj.cli:keys"


def test_storj_bucket_create_list_get(account: Account) -> None:
    """The 0.3.x output lines: ``Bucket <name> created``, ``[info]   ID: …, Name: …``."""
    from click.testing import CliRunner

    from storj.cli import bucket

    runner = CliRunner()
    created = runner.invoke(bucket, ["create", "cli-bucket"])
    assert created.exit_code == 0, created.output
    assert created.output == "Bucket cli-bucket created\n"
    listed = runner.invoke(bucket, ["list"])
    assert listed.exit_code == 0, listed.output
    (bucket_id,) = [b.id for b in account.client().bucket_list()]
    assert listed.output.startswith(f"[info]   ID: {bucket_id}, Name: cli-bucket")
    shown = runner.invoke(bucket, ["get", bucket_id])
    assert shown.exit_code == 0, shown.output
    assert f"{'id'.rjust(18)} : {bucket_id}" in shown.output


def test_storj_file_upload(account: Account) -> None:
    from click.testing import CliRunner

    from storj.cli import file

    client = account.client()
    bucket = client.bucket_create("cli-files")
    result = CliRunner().invoke(file, ["upload", bucket.id, str(account.file("cli.bin"))])
    assert result.exit_code == 0, result.output
    assert [f["filename"] for f in client.bucket_files(bucket.id)] == ["cli.bin"]


def test_storj_key_script_help_names_the_modern_command() -> None:
    from click.testing import CliRunner

    from storj.cli import keys

    result = CliRunner().invoke(keys, ["--help"])
    assert result.exit_code == 0
    for command in ("generate", "export", "load"):
        assert command in result.output


def test_storj_bucket_script_runs_as_a_process(account: Account) -> None:
    """``storj-bucket list`` as 0.3.x users ran it from a shell."""
    script = Path(sys.executable).with_name("storj-bucket")
    if not script.exists():
        pytest.fail(f"{script} is not installed (pip install -e . registers it)")
    account.client().bucket_create("shell")
    result = subprocess.run(
        [str(script), "list"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Name: shell" in result.stdout

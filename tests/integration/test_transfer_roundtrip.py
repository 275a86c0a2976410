"""Upload and download through the real local network on loopback (bridge-protocol.md §5–§8).

Every round trip checks the bytes, that no temporary file is left, and what the Bridge
and the farmers hold: the stored name is libstorj's encrypted name, the entry's HMAC
verifies over the shard hashes, and each shard on a farmer's disk is exactly the
AES-256-CTR ciphertext of its slice of the file (parity = Reed–Solomon of those).
"""

from __future__ import annotations

import io
import os
import random
import threading
from pathlib import Path

import pytest

from storj import crypto
from storj.api import calculate_file_id, rmd160sha256_hex
from storj.erasure import ReedSolomon
from storj.exception import ConflictError, EncryptionKeyError, NotFoundError
from storj.http import Client
from storj.local.pytest_plugin import storj_network, storj_user  # noqa: F401 (fixtures)
from storj.model import File, Frame
from storj.transfer import ShardLayout, TransferConfig, download_file, open_file, upload_file

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
MNEMONIC = "abandon " * 11 + "about"


class Env:
    def __init__(self, network, user, tmp_path: Path) -> None:
        email, password = user
        self.network = network
        self.client = Client(email, password, api_url=network.bridge_url, encryption_key=MNEMONIC)
        self.key = crypto.EncryptionKey(MNEMONIC)
        self.bucket = self.client.bucket_create("transfers").id
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()
        self.out = tmp_path / "out"
        self.out.mkdir()
        self.tmp_path = tmp_path
        self.config = TransferConfig(tmp_dir=self.tmp)

    def source(self, size: int, name: str = "source.bin") -> tuple[Path, bytes]:
        data = random.Random(size).randbytes(size)
        path = self.tmp_path / name
        path.write_bytes(data)
        return path, data

    def shard_bytes(self, shard_hash: str) -> bytes:
        for farmer in self.network.farmers:
            path = farmer.shard_path(shard_hash)
            if path.is_file():
                return path.read_bytes()
        raise AssertionError(f"no farmer holds {shard_hash}")

    def assert_clean(self) -> None:
        assert list(self.tmp.iterdir()) == []
        assert [p.name for p in self.out.iterdir() if p.name.startswith(".")] == []


@pytest.fixture
def env(storj_network, storj_user, tmp_path):  # noqa: F811
    e = Env(storj_network, storj_user, tmp_path)
    yield e
    e.client.close()


def roundtrip(env: Env, size: int, *, erasure=None, kind="path") -> tuple[File, bytes]:
    path, data = env.source(size)
    config = TransferConfig(tmp_dir=env.tmp, erasure=erasure)
    name = f"file-{size}-{kind}-{erasure}.bin"
    if kind == "path":
        entry = upload_file(env.client, env.bucket, path, name=name, config=config)
    elif kind == "fileobj":
        with open(path, "rb") as handle:
            entry = upload_file(env.client, env.bucket, handle, name=name, config=config)
            assert handle.tell() == size
    else:  # a non-seekable pipe
        read_fd, write_fd = os.pipe()

        def feed():
            with os.fdopen(write_fd, "wb") as w:
                w.write(data)

        writer = threading.Thread(target=feed)
        writer.start()
        with os.fdopen(read_fd, "rb", buffering=0) as reader:
            entry = upload_file(env.client, env.bucket, reader, name=name, config=config)
        writer.join()
    env.assert_clean()
    assert entry.plaintext_name == name
    assert entry.size == size

    target = env.out / "result.bin"
    meta = download_file(env.client, env.bucket, entry.id, target, config=config)
    assert target.read_bytes() == data
    assert meta.plaintext_name == name
    env.assert_clean()
    target.unlink()

    buffer = io.BytesIO(b"prefix")
    buffer.seek(6)
    download_file(env.client, env.bucket, entry.id, buffer, config=config)
    assert buffer.getvalue() == b"prefix" + data
    env.assert_clean()
    return entry, data


RANDOM_SIZE = random.Random(7).randrange(3 * MIB, 9 * MIB)
SIZES = [0, 1, 15359, 2 * MIB - 1, 2 * MIB, 2 * MIB + 1, RANDOM_SIZE]


@pytest.mark.parametrize("size", SIZES)
def test_roundtrip_from_a_path(env, size):
    entry, _ = roundtrip(env, size)
    layout = ShardLayout.plan(size)
    assert (entry.erasure is not None) == (layout.parity_shards > 0)


@pytest.mark.parametrize("size", [1, 2 * MIB + 1, 5 * MIB + 3])
@pytest.mark.parametrize("kind", ["fileobj", "pipe"])
def test_roundtrip_from_file_objects_and_pipes(env, size, kind):
    roundtrip(env, size, kind=kind)


@pytest.mark.parametrize("size", [0, 1000, 2 * MIB + 1])
@pytest.mark.parametrize("erasure", [True, False])
def test_roundtrip_with_and_without_parity(env, size, erasure):
    entry, _ = roundtrip(env, size, erasure=erasure)
    assert (entry.erasure == {"type": "reedsolomon"}) == (erasure and size > 0)


@pytest.mark.parametrize("kind", ["path", "pipe"])
def test_roundtrip_33_mib(env, kind):
    roundtrip(env, 33 * MIB, kind=kind)


def test_stored_form_is_byte_compatible_with_libstorj(env):
    size = 5 * MIB + 123
    path, data = env.source(size)
    entry = upload_file(env.client, env.bucket, path, name="compat.txt", config=env.config)

    # The name: libstorj's AES-256-GCM name, so the id is calculate_file_id of it.
    stored = crypto.encrypt_file_name(env.key, env.bucket, "compat.txt")
    assert (entry.filename, entry.stored_name) == ("compat.txt", stored)
    assert entry.id == calculate_file_id(env.bucket, stored)
    assert entry.mimetype == "text/plain"
    assert env.client.file_id_by_name(env.bucket, stored) == entry.id

    info = env.client.file_metadata(env.bucket, entry.id)
    assert len(info.index) == 64 and info.erasure == {"type": "reedsolomon"}
    encryption = crypto.file_encryption_v1(env.key.bucket_key(env.bucket), info.index)
    assert encryption.key == crypto.file_key(env.key.bucket_key(env.bucket), info.index)
    assert encryption.iv == bytes.fromhex(info.index)[:16]

    pointers = list(env.client.file_pointers(env.bucket, entry.id, skip=0, limit=20))
    layout = ShardLayout.plan(size)
    assert [p.index for p in pointers] == list(range(layout.total_shards))
    assert [bool(p.parity) for p in pointers] == [False] * 3 + [True] * 2
    assert [p.size for p in pointers] == [2 * MIB, 2 * MIB, MIB + 123, 2 * MIB, 2 * MIB]
    assert info.hmac["type"] == "sha512"
    assert info.hmac["value"] == crypto.file_hmac(encryption.key, [p.hash for p in pointers])

    # Each data shard is the AES-256-CTR ciphertext of its slice (counter continuing).
    ciphertext = crypto.ctr_crypt(encryption.key, encryption.iv, data)
    shards = [env.shard_bytes(p.hash) for p in pointers]
    for p, shard in zip(pointers, shards, strict=True):
        assert rmd160sha256_hex(shard) == p.hash
    assert b"".join(shards[:3]) == ciphertext
    # Parity: Reed–Solomon over the zero-padded encrypted data shards.
    padded = [s.ljust(2 * MIB, b"\0") for s in shards[:3]]
    assert ReedSolomon(3, 2).encode(padded) == shards[3:]


def test_ranged_reads_fetch_only_needed_shards(env, monkeypatch):
    size = 7 * MIB + 5
    path, data = env.source(size)
    entry = upload_file(env.client, env.bucket, path, name="ranged.bin", config=env.config)
    pulls = []
    from storj.transfer import farmer_client

    real_pull = farmer_client.FarmerClient.pull

    def spy(self, farmer, shard_hash, *args, **kwargs):
        pulls.append(shard_hash)
        return real_pull(self, farmer, shard_hash, *args, **kwargs)

    monkeypatch.setattr(farmer_client.FarmerClient, "pull", spy)
    with open_file(env.client, env.bucket, entry.id, config=env.config) as reader:
        assert reader.seekable() and reader.readable() and not reader.writable()
        assert reader.size == size
        reader.seek(4 * MIB - 10)
        assert reader.read(20) == data[4 * MIB - 10 : 4 * MIB + 10]  # crosses shards 1 → 2
        assert len(pulls) == 2
        assert reader.seek(-5, io.SEEK_END) == size - 5
        assert reader.read() == data[-5:]
        assert reader.read(10) == b""
        reader.seek(0)
        with io.BufferedReader(reader, buffer_size=65536) as buffered:
            assert buffered.read(100) == data[:100]
            buffered.seek(2 * MIB + 7)
            assert buffered.read(9) == data[2 * MIB + 7 : 2 * MIB + 16]
            assert reader.tell() >= 2 * MIB + 16
        assert len(pulls) <= 5
    env.assert_clean()
    with pytest.raises(ValueError):
        reader.read(1)


def test_ranged_reader_reads_everything_in_pieces(env):
    size = 4 * MIB + 77
    path, data = env.source(size)
    entry = upload_file(env.client, env.bucket, path, name="pieces.bin", config=env.config)
    out = bytearray()
    with env.client.open_file(env.bucket, entry.id, config=env.config) as reader:
        while chunk := reader.read(300_000):
            out += chunk
    assert bytes(out) == data
    env.assert_clean()


def test_progress_is_monotonic_and_ends_at_the_totals(env):
    size = 6 * MIB + 1
    path, data = env.source(size)
    up, down = [], []
    thread_ids = set()

    def record(calls):
        def progress(done, total):
            thread_ids.add(threading.get_ident())
            calls.append((done, total))

        return progress

    entry = env.client.upload_file(
        env.bucket, str(path), name="p.bin", progress=record(up), config=env.config
    )
    layout = ShardLayout.plan(size)
    assert up[-1] == (layout.upload_bytes, layout.upload_bytes)
    target = env.out / "p.bin"
    env.client.download_file(
        env.bucket, entry.id, str(target), progress=record(down), config=env.config
    )
    assert down[-1] == (size, size)
    for calls in (up, down):
        dones = [d for d, _ in calls]
        assert dones == sorted(dones)
        assert len({t for _, t in calls}) == 1
    assert thread_ids == {threading.get_ident()}


def test_upload_refuses_an_existing_name(env):
    path, _ = env.source(100)
    env.client.upload_file(env.bucket, str(path), name="same.bin", config=env.config)
    frames_before = len(list(env.client.frame_list()))
    with pytest.raises(ConflictError, match="already exists"):
        env.client.upload_file(env.bucket, str(path), name="same.bin", config=env.config)
    assert len(list(env.client.frame_list())) == frames_before
    env.assert_clean()


def test_documented_file_upload_into_a_given_frame(env):
    path, data = env.source(3 * MIB)
    frame = env.client.frame_create()
    file = File(filename=str(path), mimetype="application/x-test")
    entry = env.client.file_upload(env.bucket, file, frame)
    assert entry.frame.id == frame.id
    assert entry.mimetype == "application/x-test"
    assert entry.plaintext_name == path.name
    target = env.out / "doc.bin"
    env.client.download_file(env.bucket, entry.id, str(target))
    assert target.read_bytes() == data
    # A frame id and no frame at all work too.
    other, _ = env.source(10, "other.bin")
    assert env.client.file_upload(env.bucket, str(other), None).plaintext_name == "other.bin"
    third, _ = env.source(10, "third.bin")
    frame = Frame(id=env.client.frame_create().id)
    assert env.client.file_upload(env.bucket, str(third), frame.id).frame.id == frame.id


def test_client_without_mnemonic_is_refused(env):
    email = env.client.email
    bare = Client(email, "unused", api_url=env.network.bridge_url, encryption_key=None)
    bare.encryption_key = None
    path, _ = env.source(10)
    with pytest.raises(EncryptionKeyError, match="mnemonic"):
        upload_file(bare, env.bucket, path)


def test_download_of_a_missing_file_is_not_found(env):
    target = env.out / "missing.bin"
    with pytest.raises(NotFoundError):
        download_file(env.client, env.bucket, "0" * 24, target, config=env.config)
    assert not target.exists()
    env.assert_clean()


def test_download_with_the_wrong_mnemonic_fails_integrity(env):
    from storj.exception import IntegrityError

    path, _ = env.source(3000)
    entry = upload_file(env.client, env.bucket, path, name="secret.bin", config=env.config)
    other = Client(
        env.client.email,
        "x",
        api_url=env.network.bridge_url,
        encryption_key=crypto.generate_mnemonic(),
    )
    other._password = env.client._password  # same account, another key
    target = env.out / "secret.bin"
    with pytest.raises(IntegrityError, match="encryption key"):
        download_file(other, env.bucket, entry.id, target, config=env.config)
    assert not target.exists()
    env.assert_clean()


def test_download_of_a_pre_2017_entry_uses_the_v0_key_and_counter(env):
    """An entry without ``index`` (2016 JS client / early libstorj): key and counter come
    from the file id of the (plaintext) name, and there is no HMAC."""
    from storj import sharding
    from storj.model import Shard
    from storj.transfer._tempfiles import TempFiles
    from storj.transfer.farmer_client import FarmerClient

    name = "legacy.txt"
    data = random.Random(3).randbytes(300_000)
    file_id = calculate_file_id(env.bucket, name)
    legacy = crypto.file_encryption_v0(env.key.bucket_key(env.bucket), file_id)
    ciphertext = legacy.crypt(data)
    hasher = sharding.ShardHasher(sharding.new_challenges(3))
    hasher.update(ciphertext)
    digest = hasher.finish()
    frame = env.client.frame_create()
    answer = env.client.frame_add_shard(Shard.from_digest(digest, 0), frame.id)
    with TempFiles(env.tmp) as temp, FarmerClient(env.config) as farmers:
        source = temp.create()
        source.pwrite(ciphertext, 0)
        farmers.push(answer["farmer"], digest.hash, answer["token"], source, 0, len(ciphertext))
    entry = env.client.bucket_entry_create(env.bucket, frame.id, name, "text/plain")
    assert entry.id == file_id and entry.index is None and entry.hmac is None

    target = env.out / name
    meta = download_file(env.client, env.bucket, file_id, target, config=env.config)
    assert target.read_bytes() == data
    assert meta.plaintext_name is None  # a plaintext name does not decrypt
    with open_file(env.client, env.bucket, file_id, config=env.config) as reader:
        reader.seek(123_456)
        assert reader.read(1000) == data[123_456:124_456]
    env.assert_clean()


def _temp_suffixes_seen_during_upload(env: Env, source, size: int) -> set[str]:
    """Upload ``source`` and return the suffixes of the temporary files that existed
    while it ran (looked at from the progress callback)."""
    seen: set[str] = set()

    def progress(done, total):
        seen.update(p.suffix for p in env.tmp.iterdir())

    env.client.upload_file(
        env.bucket,
        source,
        name=f"copy-check-{random.random()}.bin",
        progress=progress,
        config=TransferConfig(tmp_dir=env.tmp, shard_concurrency=1),
    )
    env.assert_clean()
    return seen


def test_a_regular_file_is_encrypted_on_read_without_a_temporary_copy(env):
    size = 5 * MIB
    path, data = env.source(size)
    assert _temp_suffixes_seen_during_upload(env, str(path), size) == {".parity"}
    with open(path, "rb") as handle:
        assert _temp_suffixes_seen_during_upload(env, handle, size) == {".parity"}
    # An in-memory object is copied, encrypted, once (it has no descriptor to pread).
    assert _temp_suffixes_seen_during_upload(env, io.BytesIO(data), size) == {
        ".encrypted",
        ".parity",
    }


@pytest.mark.parametrize("change", ["append", "rewrite"])
def test_a_source_file_changed_during_the_upload_is_refused_and_nothing_is_stored(
    env, change, monkeypatch
):
    from storj.exception import TransferError
    from storj.transfer.farmer_client import FarmerClient

    size = 5 * MIB
    path, _ = env.source(size)
    frames_before = {f.id for f in env.client.frame_list()}
    pushes = []
    real_push = FarmerClient.push

    def push(self, *args, **kwargs):
        # The shards are hashed; the file changes as the first one is being sent.
        if not pushes:
            if change == "append":
                with open(path, "ab") as handle:
                    handle.write(b"more")
            else:
                stamp = os.stat(path).st_mtime_ns
                with open(path, "r+b") as handle:
                    handle.write(b"X" * 100)
                os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
        pushes.append(args[1])
        return real_push(self, *args, **kwargs)

    monkeypatch.setattr(FarmerClient, "push", push)
    with pytest.raises(TransferError, match="changed while it was being uploaded"):
        env.client.upload_file(
            env.bucket,
            str(path),
            name="moving.bin",
            config=TransferConfig(tmp_dir=env.tmp, shard_concurrency=1),
        )
    assert len(pushes) == 1  # no other farmer was tried: the source, not the farmer, failed
    env.assert_clean()
    with pytest.raises(NotFoundError):
        env.client.file_id_by_name(env.bucket, env.key.encrypt_file_name(env.bucket, "moving.bin"))
    assert {f.id for f in env.client.frame_list()} == frames_before

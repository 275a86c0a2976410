"""storj 0.3.x names on our engine: ShardManager keywords, Shard records, ids, FileCrypto,
web socket callbacks, legacy CLI help (no network)."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from storj import web_socket
from storj.downloader import safe_file_name
from storj.file_crypto import DecryptionError, FileCrypto
from storj.merkle import verify_proof
from storj.model import (
    Contact,
    File,
    FilePointer,
    MerkleTree,
    ObjectId,
    Shard,
    ShardManager,
    Token,
)
from storj.uploader import Uploader
from tests.unit.test_web_socket import Farm, farm, server  # noqa: F401 (fixtures)

MIB = 1024 * 1024
GIB = 1024 * MIB


def make(tmp_path: Path, size: int, name: str = "data.bin") -> tuple[Path, bytes]:
    path = tmp_path / name
    data = os.urandom(size)
    path.write_bytes(data)
    return path, data


# -- ShardManager ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "chunks", "sizes"),
    [
        (1001, 4, [251, 251, 251, 248]),
        (1000, 4, [250, 250, 250, 250]),
        (5, 4, [2, 2, 1]),  # fewer shards than asked for, but no byte lost
        (1, 3, [1]),
        (0, 3, []),
    ],
)
def test_num_chunks_keeps_every_byte(tmp_path, size, chunks, sizes):
    path, data = make(tmp_path, size)
    manager = ShardManager(path, num_chunks=chunks, nchallenges=2)
    assert [s.size for s in manager.shards] == sizes
    assert manager.index == len(sizes)
    assert manager.num_chunks == chunks
    assert sum(s.size for s in manager.shards) == len(data)
    assert [s.hash for s in manager.shards] == [
        ShardManager.hash(data[i * sizes[0] : i * sizes[0] + n]) for i, n in enumerate(sizes)
    ]


def test_tmp_path_writes_private_chunk_files(tmp_path):
    path, data = make(tmp_path, 1001, "movie.mkv")
    out = tmp_path / "chunks"
    out.mkdir()
    manager = ShardManager(str(path), num_chunks=3, tmp_path=str(out), suffix=".part")
    assert (manager.tmp_path, manager.suffix) == (str(out), ".part")
    shards = manager.shards
    names = sorted(p.name for p in out.iterdir())
    assert names == ["movie.mkv-1.part", "movie.mkv-2.part", "movie.mkv-3.part"]
    assert manager.chunk_path(2) == str(out / "movie.mkv-2.part")
    joined = b"".join((out / n).read_bytes() for n in names)
    assert joined == data
    for shard, n in zip(shards, names, strict=True):
        assert ShardManager.hash((out / n).read_bytes()) == shard.hash
        assert stat.S_IMODE((out / n).stat().st_mode) == 0o600


def test_tmp_path_replaces_an_old_chunk_but_not_through_a_symlink(tmp_path):
    path, data = make(tmp_path, 10, "f")
    out = tmp_path / "c"
    out.mkdir()
    (out / "f-1").write_bytes(b"old content that is longer")
    ShardManager(path, tmp_path=out).shards
    assert (out / "f-1").read_bytes() == data
    (out / "f-1").unlink()
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    (out / "f-1").symlink_to(victim)
    with pytest.raises(OSError):
        ShardManager(path, tmp_path=out).shards
    assert victim.read_bytes() == b"keep"


def test_no_tmp_path_writes_nothing_and_empty_file_leaves_no_chunk(tmp_path):
    path, _ = make(tmp_path, 100)
    before = sorted(os.listdir(tmp_path))
    manager = ShardManager(path, 40, 2)  # the documented positional signature
    assert manager.tmp_path is None and manager.suffix == ""
    assert [s.size for s in manager.shards] == [40, 40, 20]
    assert sorted(os.listdir(tmp_path)) == before
    with pytest.raises(ValueError, match="tmp_path"):
        manager.chunk_path(1)
    empty, _ = make(tmp_path, 0, "empty")
    out = tmp_path / "out"
    out.mkdir()
    assert ShardManager(empty, tmp_path=out).shards == []
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shard_size": 10, "num_chunks": 2},
        {"num_chunks": -1},
        {"num_chunks": True},
        {"suffix": "a/b"},
        {"tmp_path": 5},
    ],
)
def test_bad_keywords(tmp_path, kwargs):
    path, _ = make(tmp_path, 10)
    with pytest.raises(ValueError):
        ShardManager(path, **kwargs)


def test_num_chunks_zero_is_automatic(tmp_path):
    path, _ = make(tmp_path, 3 * MIB)
    manager = ShardManager(path, num_chunks=0)
    assert manager.num_chunks is None
    assert manager.shard_size == 2 * MIB  # libstorj's rule


@pytest.mark.parametrize(
    ("size", "shard_size", "count"),
    [  # sdk-original.md §3.6, computed with 0.3.14's algorithm
        (1000, 8 * MIB, 1),
        (8 * MIB + 1, 8 * MIB, 2),
        (64 * MIB + 1, 8 * MIB, 9),
        (100 * MIB + 1, 8 * MIB, 13),
        (128 * MIB + 1, 16 * MIB, 9),
        (GIB, 64 * MIB, 16),
        (43 * GIB, 4 * GIB, 11),  # 0.3.14's unit test
        (0, 8 * MIB, 0),
    ],
)
def test_0_3_sizing_methods(tmp_path, size, shard_size, count):
    manager = ShardManager(__file__)
    manager._filesize = size  # as 0.3.14's test did
    assert manager.determine_shard_size() == shard_size
    assert manager.get_optimal_shard_number() == count


def test_0_3_sizing_constants_and_limits(tmp_path):
    assert (ShardManager.SHARD_SIZE, ShardManager.MAX_SHARD_SIZE) == (8 * MIB, 4 * GIB)
    assert ShardManager.SHARD_MULTIPLES_BACK == 4
    manager = ShardManager(__file__)
    manager._filesize = (8 * MIB << 41) + 1
    with pytest.raises(ValueError):
        manager.determine_shard_size()
    with pytest.raises(ValueError):
        manager.determine_shard_size(-1)


def test_0_3_count_as_num_chunks_shards_the_0_3_way(tmp_path):
    path, data = make(tmp_path, 9 * MIB + 7)
    probe = ShardManager(path)
    count = probe.get_optimal_shard_number()
    assert count == 2
    manager = ShardManager(path, num_chunks=count, nchallenges=1)
    assert sum(s.size for s in manager.shards) == len(data)


# -- Shard records --------------------------------------------------------------------------


def test_shard_records_and_debug_string(tmp_path):
    path, _ = make(tmp_path, 500)
    shard = ShardManager(path, nchallenges=3).shards[0]
    public = shard.get_public_record()
    assert "challenges" not in public
    assert public == {k: v for k, v in shard.to_json().items() if k != "challenges"}
    private = shard.get_private_record()
    assert private["challenges"] == shard.challenges and len(private["challenges"]) == 3
    assert private["tree"] == shard.leaves
    tree = MerkleTree(shard.leaves)
    assert (private["root"], private["depth"]) == (tree.get_root(), tree.depth)
    text = shard.all()
    assert text.startswith(f"Shard{{index=0, hash={shard.hash}, size=500, tree={{")
    assert text.endswith(f"challenges={{{', '.join(shard.challenges)}}}}}")


def test_private_record_verifies_a_proof():
    from storj import merkle

    data = b"shard bytes"
    challenges = [os.urandom(32) for _ in range(3)]
    leaves = [merkle.audit_leaf(c, data) for c in challenges]
    shard = Shard(hash="a" * 40, size=len(data), index=0, challenges=challenges, tree=leaves)
    record = shard.get_private_record()
    proof = MerkleTree(shard.leaves).proof(merkle.audit_response(challenges[1], data))
    assert verify_proof(proof, record["root"], record["depth"] + 1)
    assert not verify_proof(proof, "0" * 40, record["depth"] + 1)


def test_shard_all_with_a_merkle_tree_and_empty_shard():
    tree = MerkleTree(["a" * 40, "b" * 40])
    shard = Shard(hash="c" * 40, size=1, index=2, challenges=["d" * 64], tree=tree)
    assert f"tree={{{'a' * 40}, {'b' * 40}}}" in shard.all()
    assert shard.get_private_record()["root"] == tree.get_root()
    empty = Shard()
    assert empty.get_private_record()["root"] is None
    assert empty.all() == "Shard{index=None, hash=None, size=None, tree={}, challenges={}}"


# -- ids and attributes ---------------------------------------------------------------------


def test_file_bucket_and_frame_ids_work_both_ways():
    bucket, frame = "b" * 24, "f" * 24
    entry = File.from_json({"bucket": bucket, "frame": frame, "id": "1" * 24})
    assert entry.bucket == bucket and entry.bucket.id == bucket
    assert isinstance(entry.bucket, str) and isinstance(entry.bucket, ObjectId)
    assert type(entry.bucket.id) is str
    assert hash(entry.bucket) == hash(bucket) and {entry.bucket: 1}[bucket] == 1
    assert entry.frame.id == frame
    assert json.dumps(entry.to_json(), sort_keys=True) == json.dumps(
        {"bucket": bucket, "frame": frame, "id": "1" * 24}, sort_keys=True
    )
    assert entry == File.from_json(entry.to_json())
    assert f"{entry.bucket}" == bucket and entry.bucket + "x" == bucket + "x"
    entry.bucket = "c" * 24
    assert entry.bucket.id == "c" * 24


def test_token_bucket_id_and_contact_last_seen():
    token = Token.from_json({"token": "t" * 64, "bucket": "b" * 24, "operation": "PUSH"})
    assert token.bucket.id == "b" * 24
    contact = Contact.from_json({"lastSeen": "2016-12-06T10:00:00.000Z", "nodeID": "n" * 40})
    assert contact.lastSeen.isoformat() == "2016-12-06T10:00:00+00:00"
    assert Contact.from_json({"lastSeen": 1481018400000}).lastSeen == contact.lastSeen


# -- FileCrypto -----------------------------------------------------------------------------

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl not installed")


def openssl(*args: str) -> None:
    subprocess.run([OPENSSL, "enc", *args], check=True, capture_output=True, timeout=60)


def test_evp_bytes_to_key_vector():
    key, iv = FileCrypto.derive_key_and_iv("secret", b"", 10, 20)
    assert key.hex() == "5ebe2294ecd0e0f08eab"
    assert len(iv) == 20
    assert FileCrypto().derive_key_and_iv(b"secret", b"", 10, 0)[0] == key


@needs_openssl
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 16 * 1024, 100_003])
def test_openssl_decrypts_what_file_crypto_encrypts(tmp_path, size):
    source, data = make(tmp_path, size)
    encrypted = tmp_path / "enc"
    FileCrypto().encrypt_file("AES", source, encrypted, "pässword")
    raw = encrypted.read_bytes()
    assert raw[:8] == b"Salted__" and len(raw) == 16 + (size // 16 + 1) * 16
    openssl("-d", "-aes-256-cbc", "-md", "md5", "-pass", "pass:pässword",
            "-in", str(encrypted), "-out", str(tmp_path / "dec"))
    assert (tmp_path / "dec").read_bytes() == data


@needs_openssl
@pytest.mark.parametrize("size", [0, 16, 50_001])
def test_file_crypto_decrypts_what_openssl_encrypts(tmp_path, size):
    source, data = make(tmp_path, size)
    encrypted = tmp_path / "enc"
    openssl("-aes-256-cbc", "-md", "md5", "-pass", "pass:s3cret",
            "-in", str(source), "-out", str(encrypted))
    FileCrypto().decrypt_file("AES", encrypted, tmp_path / "dec", "s3cret")
    assert (tmp_path / "dec").read_bytes() == data
    out = io.BytesIO()
    with open(encrypted, "rb") as handle:
        FileCrypto().decrypt_file_aes(handle, out, b"s3cret")
    assert out.getvalue() == data


@needs_openssl
def test_wrong_password_is_bad_decrypt(tmp_path):
    source, _ = make(tmp_path, 100)
    source.write_bytes(b"x" * 100)
    encrypted = tmp_path / "enc"
    # a fixed salt makes the outcome deterministic (this password gives bad padding);
    # OpenSSL 3 leaves the header out when -S is given, so it is added here
    openssl("-aes-256-cbc", "-md", "md5", "-S", "0102030405060708", "-pass", "pass:right",
            "-in", str(source), "-out", str(encrypted))
    body = encrypted.read_bytes()
    if not body.startswith(b"Salted__"):
        encrypted.write_bytes(b"Salted__" + bytes.fromhex("0102030405060708") + body)
    FileCrypto().decrypt_file("AES", encrypted, tmp_path / "ok", "right")
    assert (tmp_path / "ok").read_bytes() == b"x" * 100
    with pytest.raises(DecryptionError, match="bad decrypt"):
        FileCrypto().decrypt_file("AES", encrypted, tmp_path / "dec", "wrong")
    with pytest.raises(ValueError):  # 0.3.x callers caught ValueError
        FileCrypto().decrypt_file("AES", encrypted, tmp_path / "dec", "wrong")


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"Salted__",
        b"NotSalt_12345678" + b"\0" * 16,
        b"Salted__12345678",
        b"Salted__12345678" + b"\0" * 15,
    ],
)
def test_not_salted_data_is_refused(blob):
    with pytest.raises(DecryptionError):
        FileCrypto().decrypt_file_aes(io.BytesIO(blob), io.BytesIO(), "pw")


def test_unknown_algorithm_and_key_length(tmp_path):
    source, _ = make(tmp_path, 10)
    with pytest.raises(ValueError, match="AES"):
        FileCrypto().encrypt_file("DES", source, tmp_path / "out", "pw")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="key_length"):
        FileCrypto().encrypt_file_aes(io.BytesIO(b"x"), io.BytesIO(), "pw", key_length=7)


def test_aes_128_round_trip():
    out = io.BytesIO()
    FileCrypto().encrypt_file_aes(io.BytesIO(b"hello world"), out, "pw", key_length=16)
    back = io.BytesIO()
    FileCrypto().decrypt_file_aes(io.BytesIO(out.getvalue()), back, "pw", key_length=16)
    assert back.getvalue() == b"hello world"


# -- web socket callbacks -------------------------------------------------------------------


class Recording(web_socket.Client):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.events: list[tuple] = []

    def opened(self):
        self.events.append(("opened",))

    def received_message(self, message):
        self.events.append(("message", message.is_binary, len(message.data)))
        super().received_message(message)

    def closed(self, code, reason=None):
        self.events.append(("closed", code, reason))


def test_web_socket_callbacks_are_called(farm, server):  # noqa: F811
    data = os.urandom(300_000)
    shard_hash = farm.put(data)
    token = farm.issue(shard_hash, "PULL")
    pointer = FilePointer(channel=server.url, hash=shard_hash, token=token, size=len(data), index=0)
    out = io.BytesIO()
    client = Recording(pointer, out)
    assert client.run() == len(data)
    assert out.getvalue() == data
    assert client.events[0] == ("opened",)
    assert client.events[-1][:2] == ("closed", 1000)
    messages = [e for e in client.events if e[0] == "message"]
    assert all(binary for _, binary, _ in messages)
    assert sum(n for _, _, n in messages) == len(data)


def test_web_socket_override_that_drops_data_still_verifies(farm, server):  # noqa: F811
    class Dropping(web_socket.Client):
        def received_message(self, message):
            pass

    data = b"some shard"
    shard_hash = farm.put(data)
    token = farm.issue(shard_hash, "PULL")
    out = io.BytesIO()
    pointer = {"channel": server.url, "hash": shard_hash, "token": token}
    assert Dropping(pointer, out).run() == len(data)
    assert out.getvalue() == b""


def test_web_socket_closed_default_and_failure_code(farm, server):  # noqa: F811
    shard_hash = farm.put(b"x")
    client = Recording({"channel": server.url, "hash": shard_hash, "token": "0" * 40},
                       io.BytesIO())
    with pytest.raises(web_socket.SuppliedTokenNotAcceptedError):
        client.run()
    assert client.events[-1][:2] == ("closed", 3101)
    plain = web_socket.Client({"channel": server.url, "hash": shard_hash, "token": "t"},
                              io.BytesIO())
    assert plain.closed(1000, "done") == "Closed web socket 1000 done"


# -- downloader / uploader / CLI (no network) -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("a\\..\\b.txt", "b.txt"),
        ("..", "ID"),
        ("dir/", "dir"),
        ("", "ID"),
        (None, "ID"),
        ("nul\x00byte", "ID"),
    ],
)
def test_safe_file_name(name, expected):
    assert safe_file_name(name, "ID") == expected


def test_uploader_rejects_bad_retry_numbers():
    with pytest.raises(ValueError, match="max_retries_contract_negotiation"):
        Uploader("a@b.c", "pw", None, 0, storj_bridge="http://127.0.0.1:9/")


def test_import_storj_stays_cheap_and_managers_are_lazy():
    code = (
        "import sys, storj\n"
        "assert 'requests' not in sys.modules and 'storj.managers' not in sys.modules\n"
        "m = storj.FileManager\n"
        "assert m.__module__ == 'storj.managers'\n"
        "assert 'requests' not in sys.modules\n"
        "assert {'BucketKeyManager', 'FileManager', 'UserKeyManager'} <= set(storj.__all__)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60,
                   cwd=Path(__file__).resolve().parents[2])


@pytest.mark.parametrize(
    ("group", "command", "modern"),
    [
        ("bucket", "create", "storj add-bucket"),
        ("bucket", "get", "storj list-buckets"),
        ("bucket", "list", "storj list-buckets"),
        ("file", "upload", "storj upload-file"),
        ("keys", "generate", "storj keys add"),
        ("keys", "export", "storj keys list"),
        ("keys", "load", "storj keys add"),
    ],
)
def test_legacy_help_names_the_modern_command(group, command, modern):
    import storj.cli

    result = CliRunner().invoke(getattr(storj.cli, group), [command, "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Modern command:" in text and modern in text


def test_legacy_scripts_are_registered():
    import tomllib

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    scripts = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts.get("storj-bucket") == "storj.cli:bucket"
    assert scripts.get("storj-file") == "storj.cli:file"
    assert scripts.get("storj-key") == "storj.cli:keys"

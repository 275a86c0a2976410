"""storj.catalog over a fake client, with the real libstorj name encryption."""

import pytest

from storj import catalog, crypto
from storj.exception import NotFoundError

MNEMONIC = "abandon " * 11 + "about"
# libstorj's mock bridge name for the bucket "test" under the test mnemonic (bridge-protocol §8.3)
LIBSTORJ_TEST_NAME = "g9qacwq2AE1+5nzL/HYyYdY9WoIr+1ueOuVEx6/IzzZKK9sULoKDDdYvhOpavHH2P3xQNw=="


class FakeClient:
    def __init__(self, *, id_routes=True):
        self.buckets = {}
        self.files = {}
        self.calls = []
        if not id_routes:
            self.bucket_id_by_name = None
            self.file_id_by_name = None

    def bucket_create(self, name):
        self.calls.append(("bucket_create", name))
        bucket_id = f"{len(self.buckets):024x}"
        self.buckets[bucket_id] = {"id": bucket_id, "name": name}
        self.files[bucket_id] = []
        return dict(self.buckets[bucket_id])

    def bucket_list(self):
        self.calls.append(("bucket_list",))
        return iter([dict(b) for b in self.buckets.values()])

    def bucket_id_by_name(self, name):
        self.calls.append(("bucket_id_by_name", name))
        for b in self.buckets.values():
            if b["name"] == name:
                return b["id"]
        raise NotFoundError("Bucket not found", status_code=404)

    def bucket_files(self, bucket_id):
        self.calls.append(("bucket_files", bucket_id))
        if bucket_id not in self.files:
            raise NotFoundError("Bucket not found", status_code=404)
        return list(self.files[bucket_id])

    def file_id_by_name(self, bucket_id, name):
        self.calls.append(("file_id_by_name", bucket_id, name))
        for f in self.files.get(bucket_id, []):
            if f["filename"] == name:
                return f["id"]
        raise NotFoundError("File not found", status_code=404)

    def bucket_delete(self, bucket_id):
        self.calls.append(("bucket_delete", bucket_id))
        del self.buckets[bucket_id]

    def add_file(self, bucket_id, stored_name, size=5):
        file_id = f"f{len(self.files[bucket_id]):023x}"
        self.files[bucket_id].append(
            {"id": file_id, "filename": stored_name, "size": size, "mimetype": "text/plain"}
        )
        return file_id


@pytest.fixture
def key():
    return crypto.EncryptionKey(MNEMONIC)


def test_create_bucket_sends_libstorj_encrypted_name(key):
    client = FakeClient()
    bucket = catalog.create_bucket(client, "test", key)
    assert client.calls == [("bucket_create", LIBSTORJ_TEST_NAME)]
    assert (bucket.name, bucket.decrypted) == ("test", True)


def test_list_buckets_decrypts_and_falls_back(key):
    client = FakeClient()
    catalog.create_bucket(client, "photos", key)
    client.bucket_create("plain-name")  # made by a tool that does not encrypt
    listed = catalog.list_buckets(client, key)
    assert [(b.name, b.decrypted) for b in listed] == [("photos", True), ("plain-name", False)]
    assert listed[0].to_json() == {
        "id": listed[0].id, "name": "photos", "decrypted": True, "created": None
    }
    # without a key every name is shown as stored
    assert [b.decrypted for b in catalog.list_buckets(client, None)] == [False, False]


def test_find_bucket_id_uses_route_then_listing(key):
    client = FakeClient()
    made = catalog.create_bucket(client, "docs", key)
    client.calls.clear()
    assert catalog.find_bucket_id(client, "docs", key) == made.id
    assert client.calls == [("bucket_id_by_name", key.encrypt_bucket_name("docs"))]
    plain = client.bucket_create("legacy")["id"]
    assert catalog.find_bucket_id(client, "legacy", key) == plain  # fallback by listing
    with pytest.raises(NotFoundError, match="no bucket named 'nope'"):
        catalog.find_bucket_id(client, "nope", key)


def test_find_bucket_id_without_route(key):
    client = FakeClient(id_routes=False)
    made = catalog.create_bucket(client, "docs", key)
    assert catalog.find_bucket_id(client, "docs", key) == made.id


def test_files_decrypt_and_lookup(key):
    client = FakeClient()
    bucket = catalog.create_bucket(client, "b", key)
    fid = client.add_file(bucket.id, key.encrypt_file_name(bucket.id, "dir/a.txt"), size=7)
    other = client.add_file(bucket.id, "raw.bin")
    files = catalog.list_files(client, bucket.id, key)
    assert [(f.name, f.decrypted, f.size) for f in files] == [
        ("dir/a.txt", True, 7), ("raw.bin", False, 5)
    ]
    assert catalog.find_file_id(client, bucket.id, "dir/a.txt", key) == fid
    assert catalog.find_file_id(client, bucket.id, "raw.bin", key) == other
    with pytest.raises(NotFoundError):
        catalog.find_file_id(client, bucket.id, "missing", key)


def test_file_name_encryption_is_per_bucket(key):
    assert key.encrypt_file_name("0" * 24, "x") != key.encrypt_file_name("1" * 24, "x")
    assert catalog.decrypt_file_name(key, "1" * 24, key.encrypt_file_name("0" * 24, "x")) == (
        key.encrypt_file_name("0" * 24, "x"), False
    )


def test_delete_bucket_refuses_non_empty_unless_forced(key):
    client = FakeClient()
    bucket = catalog.create_bucket(client, "full", key)
    client.add_file(bucket.id, "x")
    with pytest.raises(catalog.BucketNotEmptyError, match="1 file.*--force") as info:
        catalog.delete_bucket(client, bucket.id)
    assert info.value.status_code == 409
    assert (info.value.bucket_id, info.value.file_count) == (bucket.id, 1)
    assert bucket.id in client.buckets
    catalog.delete_bucket(client, bucket.id, force=True)
    assert bucket.id not in client.buckets
    empty = catalog.create_bucket(client, "empty", key)
    catalog.delete_bucket(client, empty.id)
    assert empty.id not in client.buckets


def test_create_bucket_rejects_empty_name(key):
    with pytest.raises(ValueError):
        catalog.create_bucket(FakeClient(), "", key)

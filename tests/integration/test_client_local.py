"""Every documented ``storj.http.Client`` method against the real local network on loopback.

This replaces the integration tests of storj-python-sdk 0.1.x, which needed the live
``api.storj.io``. Each test starts its own :class:`storj.local.LocalNetwork` (about 0.1 s)
and checks the documented return type *and* the values: ids are the deterministic ids
of ``storj.api``, timestamps are aware UTC datetimes of this moment, frames grow as
shards are added, pointers name the shards that were pushed and the farmers that hold
them, contacts are the network's farmers, filters narrow the listing, and errors are
the typed exceptions of ``storj.exception``.

Most tests use a network with manual activation (the dev outbox carries the e-mails)
and without automatic mirroring, so that ``bucket_set_mirrors`` is the only source of
extra copies; two tests use the ``storj_network`` / ``storj_user`` fixtures of
``storj.local.pytest_plugin`` (the package defaults).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

import storj
from storj import crypto
from storj.api import calculate_bucket_id, calculate_file_id, ecdsa_to_hex, rmd160sha256_hex
from storj.exception import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
)
from storj.http import Client
from storj.local import LocalNetwork
from storj.local.farmer import FarmerConfig, FarmerNode
from storj.local.pytest_plugin import storj_network, storj_user  # noqa: F401 (fixtures)
from storj.model import (
    Bucket,
    Contact,
    File,
    FileMirrors,
    FilePointer,
    Frame,
    Key,
    Mirror,
    Shard,
    ShardManager,
    Token,
    User,
)
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

MNEMONIC = "abandon " * 11 + "about"
HEX24 = re.compile(r"[0-9a-f]{24}")
HEX40 = re.compile(r"[0-9a-f]{40}")
HEX64 = re.compile(r"[0-9a-f]{64}")
HEX512 = re.compile(r"[0-9a-f]{512}")
SHARD = 32 * 1024  # small shards: the Bridge accepts anything >= 15360 bytes


# ----------------------------------------------------------------------------- helpers


def assert_now(value: object, *, offset: timedelta = timedelta(0)) -> None:
    """``value`` is an aware UTC datetime within a minute of ``now + offset``."""
    assert isinstance(value, datetime)
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) + offset - value) < timedelta(seconds=60)


def farmer_by_id(net: LocalNetwork, node_id: str) -> FarmerNode:
    matches = [f for f in net.farmers if f.node_id == node_id]
    assert len(matches) == 1, f"{node_id} is not a farmer of the network"
    return matches[0]


def shard_url(farmer: Contact | dict, shard_hash: str, token: str) -> str:
    address = farmer["address"]
    port = farmer["port"]
    return f"http://{address}:{port}/shards/{shard_hash}?token={token}"


def no_proxy_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNetwork]:
    """Bridge + 4 farmers; users must be activated through the outbox; no auto mirrors."""
    network = LocalNetwork(tmp_path / "net", farmers=4, auto_activate=False, mirror_redundancy=0)
    network.start()
    try:
        yield network
    finally:
        network.stop()


@pytest.fixture
def user(net: LocalNetwork) -> tuple[str, str]:
    return net.create_user()


@pytest.fixture
def client(net: LocalNetwork, user: tuple[str, str]) -> Iterator[Client]:
    email, password = user
    with Client(email, password, api_url=net.bridge_url, encryption_key=MNEMONIC) as c:
        yield c


@pytest.fixture
def anon(net: LocalNetwork) -> Iterator[Client]:
    """A client without credentials: only the Bridge's public routes."""
    with Client(None, None, api_url=net.bridge_url) as c:
        yield c


# ----------------------------------------------------------------------------- buckets


def test_bucket_methods_with_the_plugin_fixtures(storj_network, storj_user):  # noqa: F811
    email, password = storj_user
    with Client(email, password, api_url=storj_network.bridge_url) as client:
        assert list(client.bucket_list()) == []

        bucket = client.bucket_create("photos", storage=10, transfer=30)
        assert isinstance(bucket, Bucket)
        assert bucket.id == calculate_bucket_id(email, "photos")
        assert (bucket.name, bucket.user, bucket.status) == ("photos", email, "Active")
        assert (bucket.storage, bucket.transfer) == (0, 0)  # vestigial on the Bridge
        assert (bucket.pubkeys, bucket.publicPermissions, bucket.encryptionKey) == ([], [], "")
        assert_now(bucket.created)
        assert bucket["id"] == bucket.id  # the old dict-style access still works

        assert client.bucket_get(bucket.id) == bucket

        other = client.bucket_create("music")
        assert other.id == calculate_bucket_id(email, "music")
        listing = client.bucket_list()
        assert isinstance(listing, Iterator)
        buckets = list(listing)
        assert all(isinstance(b, Bucket) for b in buckets)
        assert [b.id for b in buckets] == [bucket.id, other.id]  # oldest first
        assert buckets[0] == bucket

        assert client.bucket_delete(bucket.id) is None
        with pytest.raises(NotFoundError) as missing:
            client.bucket_get(bucket.id)
        assert missing.value.status_code == 404
        assert [b.id for b in client.bucket_list()] == [other.id]
        with pytest.raises(NotFoundError):
            client.bucket_delete(bucket.id)


def test_error_paths_are_typed(net, client, user):
    email, password = user
    with pytest.raises(NotFoundError) as unknown:
        client.bucket_get(calculate_bucket_id(email, "never-created"))
    assert unknown.value.status_code == 404
    assert unknown.value.method == "GET"

    with Client(email, password + "-wrong", api_url=net.bridge_url) as wrong:
        with pytest.raises(AuthenticationError) as denied:
            wrong.bucket_list()
    assert denied.value.status_code == 401
    with Client("nobody@example.com", password, api_url=net.bridge_url) as stranger:
        with pytest.raises(AuthenticationError):
            stranger.bucket_create("x")

    client.bucket_create("dup")
    with pytest.raises(ConflictError) as dup:
        client.bucket_create("dup")
    assert dup.value.status_code == 409

    # another user's bucket does not exist for you
    other_email, other_password = net.create_user()
    with Client(other_email, other_password, api_url=net.bridge_url) as other:
        theirs = other.bucket_create("theirs")
    with pytest.raises(NotFoundError):
        client.bucket_get(theirs.id)
    with pytest.raises(NotFoundError):
        client.token_create(theirs.id, "PULL")

    with pytest.raises(NotFoundError):
        client.frame_get("0" * 24)
    with pytest.raises(BadRequestError):
        client.bucket_get("not-an-id")

    # credentials are required before anything is sent
    with Client(None, None, api_url=net.bridge_url) as nobody:
        with pytest.raises(ConfigurationError):
            nobody.bucket_list()


def test_token_create_values(client, user):
    email, _ = user
    bucket = client.bucket_create("tokens")
    push = client.token_create(bucket.id, "PUSH")
    pull = client.token_create(bucket.id, "pull")  # case-insensitive
    for token, operation in ((push, "PUSH"), (pull, "PULL")):
        assert isinstance(token, Token)
        assert HEX64.fullmatch(token.token)
        assert token.id == token.token and str(token) == token.token
        assert isinstance(token.bucket, Bucket) and token.bucket.id == bucket.id
        assert token.operation == operation
        assert token.encryptionKey == ""
        assert_now(token.expires, offset=timedelta(hours=1))  # BridgeConfig.token_ttl
        assert token["token"] == token.token and token["bucket"] == bucket.id
    assert push.token != pull.token
    with pytest.raises(ValueError):
        client.token_create(bucket.id, "DELETE")
    with pytest.raises(NotFoundError):
        client.token_create(calculate_bucket_id(email, "absent"), "PUSH")


def test_package_level_api_with_environment_configuration(net, user, tmp_path, monkeypatch):
    email, password = user
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # no INI file from the real user
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("STORJ_BRIDGE_USER", raising=False)
    monkeypatch.delenv("STORJ_BRIDGE_PASS", raising=False)
    monkeypatch.setenv("STORJ_BRIDGE", net.bridge_url)
    monkeypatch.delenv("STORJ_ENCRYPTION_KEY", raising=False)
    monkeypatch.setattr(storj, "_shared", None)  # the managers' cached client

    with pytest.raises(ConfigurationError):
        storj.get_client()

    monkeypatch.setenv("STORJ_BRIDGE_USER", email)
    monkeypatch.setenv("STORJ_BRIDGE_PASS", password)
    with storj.get_client() as configured:
        assert isinstance(configured, Client)
        assert configured.email == email
        assert configured.password == storj.api.hash_password(password)
        assert configured.api_url == net.bridge_url + "/"
        assert list(configured.bucket_list()) == []

    try:
        bucket = storj.BucketManager.create("managed", storage_limit=5, transfer_limit=6)
        assert isinstance(bucket, Bucket)
        assert bucket.id == calculate_bucket_id(email, "managed")
        assert_now(bucket.created)
        assert storj.BucketManager.get(bucket.id) == bucket
        assert storj.BucketManager.all() == [bucket]

        manager = storj.TokenManager(bucket.id)
        assert manager.bucket_id == bucket.id
        token = manager.create("push")
        assert isinstance(token, Token)
        assert (token.bucket.id, token.operation) == (bucket.id, "PUSH")
        assert HEX64.fullmatch(token.token)

        storj.BucketManager.delete(bucket.id)
        assert storj.BucketManager.all() == []
        with pytest.raises(NotFoundError):
            storj.BucketManager.get(bucket.id)
    finally:
        if storj._shared is not None:
            storj._shared[1].close()


# ----------------------------------------------------------------------------- ECDSA


def test_ecdsa_keys_and_signed_requests(net, client, user):
    email, password = user
    private, public = storj.generate_new_key_pair()
    key_hex = ecdsa_to_hex(public)
    assert client.key_list() == []

    registered = client.key_register(public)
    assert isinstance(registered, list) and len(registered) == 1
    key = registered[0]
    assert isinstance(key, Key)
    assert (key.key, key.id, key.user, key.label) == (key_hex, key_hex, email, "")
    assert str(key) == key_hex
    assert client.key_list() == [key_hex]

    client.authenticate(private)
    assert client.private_key is not None and client.public_key is not None
    assert client.public_key_hex == key_hex

    # everything below is signed with the key (x-pubkey / x-signature / __nonce)
    bucket = client.bucket_create("signed")
    assert bucket.name == "signed"  # stored encrypted: the client has a key
    assert bucket.id == calculate_bucket_id(email, bucket.stored_name)
    assert bucket.pubkeys == [key_hex]  # the creating key is added to the bucket
    assert client.bucket_get(bucket.id) == bucket
    assert [b.id for b in client.bucket_list()] == [bucket.id]
    token = client.token_create(bucket.id, "PULL")
    assert token.bucket.id == bucket.id and token.operation == "PULL"
    frame = client.frame_create()
    assert client.frame_get(frame.id) == frame

    # a client holding only the key (no password at all) is the same user
    with Client(None, None, api_url=net.bridge_url) as keyed:
        keyed.authenticate(private)
        assert [b.id for b in keyed.bucket_list()] == [bucket.id]

    _, second = storj.generate_new_key_pair()
    second_hex = ecdsa_to_hex(second)
    assert client.key_register(second_hex)[0].key == second_hex
    assert sorted(client.key_list()) == sorted([key_hex, second_hex])
    assert client.key_delete(second_hex) is None
    assert client.key_list() == [key_hex]
    with pytest.raises(NotFoundError):
        client.key_delete(second_hex)

    # an unregistered key is refused
    with Client(email, None, api_url=net.bridge_url) as unknown_key:
        unknown_key.authenticate()
        with pytest.raises(AuthenticationError) as refused:
            unknown_key.bucket_list()
        assert refused.value.status_code == 401

    # removing the key in use ends ECDSA access; Basic auth still works
    client.key_delete(public)
    with pytest.raises(AuthenticationError):
        client.bucket_list()
    client.private_key = None
    assert [b.id for b in client.bucket_list()] == [bucket.id]


def test_bucket_set_keys_grants_and_revokes_token_access(net, client):
    bucket = client.bucket_create("shared")
    guest_private, guest_public = storj.generate_new_key_pair()
    guest_hex = ecdsa_to_hex(guest_public)
    with Client(None, None, api_url=net.bridge_url) as guest:
        guest.authenticate(guest_private)  # a key no user registered
        with pytest.raises(AuthenticationError):
            guest.token_create(bucket.id, "PULL")

        updated = client.bucket_set_keys(bucket.id, bucket.name, [guest_public])
        assert isinstance(updated, Bucket)
        assert updated.pubkeys == [guest_hex]
        assert (updated.id, updated.name, updated.created) == (
            bucket.id,
            bucket.name,
            bucket.created,
        )
        assert client.bucket_get(bucket.id) == updated

        token = guest.token_create(bucket.id, "PULL")  # §2.5: a bucket-listed key
        assert (token.bucket.id, token.operation) == (bucket.id, "PULL")
        with pytest.raises(AuthenticationError):
            guest.bucket_get(bucket.id)  # only tokens, not the bucket itself

        cleared = client.bucket_set_keys(bucket.id, bucket.name, [])
        assert cleared.pubkeys == []
        with pytest.raises(AuthenticationError):
            guest.token_create(bucket.id, "PULL")


# ----------------------------------------------------------------------------- contacts


def test_contacts_are_the_farmers_and_filters_narrow(net, anon, tmp_path):
    contacts = anon.contact_list()
    assert isinstance(contacts, list) and all(isinstance(c, Contact) for c in contacts)
    assert sorted((c.nodeID, c.address, c.port) for c in contacts) == sorted(
        (f.node_id, f.address, f.port) for f in net.farmers
    )
    for contact in contacts:
        farmer = farmer_by_id(net, contact.nodeID)
        assert contact.protocol == farmer.config.protocol == "1.2.0"
        assert contact.userAgent == farmer.config.user_agent
        assert_now(contact.lastSeen)
    seen = [c.lastSeen for c in contacts]
    assert seen == sorted(seen, reverse=True)

    looked_up = anon.contact_lookup(contacts[0].nodeID)
    assert isinstance(looked_up, Contact)
    assert (looked_up.nodeID, looked_up.address, looked_up.port) == (
        contacts[0].nodeID,
        contacts[0].address,
        contacts[0].port,
    )
    with pytest.raises(NotFoundError):
        anon.contact_lookup("0" * 40)

    # a fifth farmer on another loopback address, with another protocol and agent
    secret = json.loads((net.data_dir / "network.json").read_text())["control_secret"]
    odd = FarmerNode(
        FarmerConfig(
            data_dir=tmp_path / "odd-farmer",
            bridge_url=net.bridge_url,
            control_secret=secret,
            host="127.0.0.2",
            user_agent="odd-farmer/0.1",
            protocol="1.1.0",
        )
    )
    odd.start()
    try:
        everyone = {c.nodeID for c in anon.contact_list()}
        assert everyone == {f.node_id for f in net.farmers} | {odd.node_id}
        assert [c.nodeID for c in anon.contact_list(address="127.0.0.2")] == [odd.node_id]
        assert {c.nodeID for c in anon.contact_list(address="127.0.0.1")} == {
            f.node_id for f in net.farmers
        }
        assert [c.nodeID for c in anon.contact_list(protocol="1.1.0")] == [odd.node_id]
        assert [c.nodeID for c in anon.contact_list(user_agent="odd-farmer/0.1")] == [odd.node_id]
        assert anon.contact_list(protocol="9.9.9") == []
        assert anon.contact_list(address="127.0.0.1", user_agent="odd-farmer/0.1") == []
        assert anon.contact_list(page=2) == []  # 30 per page
        assert len(anon.contact_list(page=1)) == 5
        # ``connected`` is sent, and ignored by the Bridge (as by every Storj Bridge)
        assert {c.nodeID for c in anon.contact_list(connected=True)} == everyone
        assert {c.nodeID for c in anon.contact_list(connected=False)} == everyone
        with pytest.raises(BadRequestError):
            anon.contact_list(page=0)
        odd_contact = anon.contact_lookup(odd.node_id)
        assert (odd_contact.address, odd_contact.port, odd_contact.userAgent) == (
            "127.0.0.2",
            odd.port,
            "odd-farmer/0.1",
        )
    finally:
        odd.stop()


# ----------------------------------------------------------------------------- frames and files


def push_shard(net: LocalNetwork, contract: dict, data: bytes) -> None:
    with no_proxy_session() as session:
        response = session.post(
            shard_url(contract["farmer"], contract["hash"], contract["token"]),
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=10,
        )
    assert response.status_code in (200, 201), response.text
    farmer = farmer_by_id(net, contract["farmer"]["nodeID"])
    assert farmer.shard_path(contract["hash"]).read_bytes() == data


def pull_shard(pointer: FilePointer) -> bytes:
    with no_proxy_session() as session:
        response = session.get(
            shard_url(pointer.farmer, pointer.hash, str(pointer.token)), timeout=10
        )
    assert response.status_code == 200, response.text
    return response.content


def test_frames_shards_pointers_and_mirrors(net, client, user, tmp_path):
    email, _ = user
    bucket = client.bucket_create("frames")
    data = random.Random(7).randbytes(2 * SHARD + SHARD // 2)
    path = tmp_path / "three-shards.bin"
    path.write_bytes(data)
    manager = ShardManager(path, SHARD, nchallenges=4)
    shards = manager.shards
    assert manager.index == 3 and all(isinstance(s, Shard) for s in shards)
    chunks = [data[i * SHARD : (i + 1) * SHARD] for i in range(3)]
    assert [s.hash for s in shards] == [rmd160sha256_hex(c) for c in chunks]

    frame = client.frame_create()
    assert isinstance(frame, Frame)
    assert HEX24.fullmatch(frame.id)
    assert (frame.shards, frame.size, frame.locked, frame.user) == ([], 0, False, email)
    assert_now(frame.created)
    assert client.frame_get(frame.id) == frame
    listed = client.frame_list()
    assert isinstance(listed, Iterator)
    assert [f.id for f in listed] == [frame.id]

    farmer_ids = {f.node_id for f in net.farmers}
    contracts = []
    for shard, chunk in zip(shards, chunks, strict=True):
        contract = client.frame_add_shard(shard, frame.id)
        assert contract["hash"] == shard.hash
        assert contract["operation"] == "PUSH"
        assert HEX40.fullmatch(contract["token"])
        farmer = contract["farmer"]
        assert farmer["nodeID"] in farmer_ids
        node = farmer_by_id(net, farmer["nodeID"])
        assert (farmer["address"], farmer["port"]) == (node.address, node.port)
        contracts.append(contract)

        current = client.frame_get(frame.id)
        assert len(current.shards) == shard.index + 1  # grows by one pointer per shard
        assert current.size == sum(s.size for s in shards[: shard.index + 1])
        push_shard(net, contract, chunk)
    assert len(set(client.frame_get(frame.id).shards)) == 3

    entry = client.bucket_entry_create(bucket.id, frame.id, "three-shards.bin")
    file_id = calculate_file_id(bucket.id, "three-shards.bin")
    assert entry.id == file_id
    assert client.frame_get(frame.id).locked is True
    with pytest.raises(BadRequestError):
        client.frame_delete(frame.id)  # referenced by a bucket entry

    info = client.file_metadata(bucket.id, file_id)
    assert isinstance(info, File)
    assert (info.id, info.bucket, info.filename, info.size) == (
        file_id,
        bucket.id,
        "three-shards.bin",
        len(data),
    )
    assert info.mimetype == "application/octet-stream"
    assert isinstance(info.frame, Frame) and info.frame.id == frame.id
    assert_now(info.created)
    files = client.bucket_files(bucket.id)
    assert [(f["id"], f["filename"], f["size"]) for f in files] == [
        (file_id, "three-shards.bin", len(data))
    ]

    pointers = client.file_pointers(bucket.id, file_id)
    assert isinstance(pointers, Iterator)
    pointers = list(pointers)
    assert all(isinstance(p, FilePointer) for p in pointers)
    assert [(p.index, p.hash, p.size) for p in pointers] == [
        (s.index, s.hash, s.size) for s in shards
    ]
    for pointer, contract, chunk in zip(pointers, contracts, chunks, strict=True):
        assert pointer.operation == "PULL"
        assert pointer.parity is False
        assert isinstance(pointer.farmer, Contact)
        assert pointer.farmer.nodeID == contract["farmer"]["nodeID"]
        assert pointer.farmer.port == contract["farmer"]["port"]
        assert_now(pointer.farmer.lastSeen)
        assert isinstance(pointer.token, Token) and HEX40.fullmatch(str(pointer.token))
        assert pull_shard(pointer) == chunk

    assert [p.index for p in client.file_pointers(bucket.id, file_id, skip=1, limit=1)] == [1]
    assert [p.index for p in client.file_pointers(bucket.id, file_id, skip="1")] == [1, 2]
    assert [p.index for p in client.file_pointers(bucket.id, file_id, limit=2)] == [0, 1]
    assert list(client.file_pointers(bucket.id, file_id, skip=3)) == []

    # the only holder excluded: the pointer comes back without a farmer
    holder0 = contracts[0]["farmer"]["nodeID"]
    (alone,) = client.file_pointers(bucket.id, file_id, skip=0, limit=1, exclude=[holder0])
    assert (alone.index, alone.hash) == (0, shards[0].hash)
    assert (alone.farmer, alone.token) == (None, None)

    # explicit mirrors (automatic mirroring is off in this network)
    mirrors = client.bucket_set_mirrors(bucket.id, file_id, 1)
    assert all(isinstance(m, Mirror) for m in mirrors)
    assert [(m.hash, m.mirrors, m.status) for m in mirrors] == [
        (s.hash, 1, "pending") for s in shards
    ]

    def established() -> list[FileMirrors] | None:
        listing = client.file_mirrors(bucket.id, file_id)
        return listing if all(len(m.established) == 2 for m in listing) else None

    listing = wait_until(established, message="the mirrors were established")
    for shard, contract, chunk, mirror_set in zip(shards, contracts, chunks, listing, strict=True):
        holders = [m.contact.nodeID for m in mirror_set.established]
        assert holders[0] == contract["farmer"]["nodeID"]
        assert len(set(holders)) == 2 and set(holders) <= farmer_ids
        assert all(m.shardHash == shard.hash and m.isEstablished for m in mirror_set.established)
        copy = farmer_by_id(net, holders[1]).shard_path(shard.hash)
        assert copy.read_bytes() == chunk

    (mirrored,) = client.file_pointers(bucket.id, file_id, limit=1, exclude=[holder0])
    assert mirrored.farmer.nodeID == listing[0].established[1].contact.nodeID
    assert pull_shard(mirrored) == chunks[0]

    assert client.file_remove(bucket.id, file_id) is None
    assert client.bucket_files(bucket.id) == []
    with pytest.raises(NotFoundError):
        client.file_metadata(bucket.id, file_id)
    with pytest.raises(NotFoundError):
        list(client.file_pointers(bucket.id, file_id))
    with pytest.raises(NotFoundError):
        client.file_remove(bucket.id, file_id)


def test_frame_delete_and_list(client):
    first = client.frame_create()
    second = client.frame_create()
    assert first.id != second.id
    assert [f.id for f in client.frame_list()] == [first.id, second.id]
    assert client.frame_delete(first.id) is None
    with pytest.raises(NotFoundError):
        client.frame_get(first.id)
    with pytest.raises(NotFoundError):
        client.frame_delete(first.id)
    assert [f.id for f in client.frame_list()] == [second.id]


def test_file_upload_documented_call(storj_network, storj_user, tmp_path):  # noqa: F811
    email, password = storj_user
    data = random.Random(11).randbytes(150_000)
    path = tmp_path / "report.txt"
    path.write_bytes(data)
    with Client(email, password, api_url=storj_network.bridge_url, encryption_key=MNEMONIC) as c:
        bucket = c.bucket_create("uploads")
        upload = File(filename=str(path), mimetype="text/plain")
        upload.shard_manager = ShardManager(path)
        frame = c.frame_create()

        entry = c.file_upload(bucket.id, upload, frame)

        assert isinstance(entry, File)
        key = crypto.EncryptionKey(MNEMONIC)
        assert entry.filename == "report.txt"
        assert key.decrypt_file_name(bucket.id, entry.stored_name) == "report.txt"
        assert entry.id == calculate_file_id(bucket.id, entry.stored_name)
        assert (entry.bucket, entry.mimetype, entry.size) == (bucket.id, "text/plain", len(data))
        assert entry.frame.id == frame.id
        assert_now(entry.created)
        info = c.file_metadata(bucket.id, entry.id)
        assert (info.id, info.filename, info.size, info.frame.id) == (
            entry.id,
            entry.filename,
            len(data),
            frame.id,
        )
        assert [f["id"] for f in c.bucket_files(bucket.id)] == [entry.id]

        pulled = c.token_create(bucket.id, "PULL", file_id=entry.id)
        assert (pulled.mimetype, pulled.size) == ("text/plain", len(data))

        pointers = list(c.file_pointers(bucket.id, entry.id))
        assert [p.index for p in pointers] == [0]  # 150 kB: one 2 MiB shard, no parity
        farmer_ids = {f.node_id for f in storj_network.farmers}
        for pointer in pointers:
            assert pointer.farmer.nodeID in farmer_ids
            stored = farmer_by_id(storj_network, pointer.farmer.nodeID).shard_path(pointer.hash)
            ciphertext = stored.read_bytes()
            assert (rmd160sha256_hex(ciphertext), len(ciphertext)) == (pointer.hash, pointer.size)
            assert ciphertext != data  # encrypted
            assert pull_shard(pointer) == ciphertext

        out = tmp_path / "back.txt"
        c.download_file(bucket.id, entry.id, out)
        assert out.read_bytes() == data

        # the default network keeps 1 + 2 copies of every shard on its own
        def copies() -> bool:
            return all(len(m.established) == 3 for m in c.file_mirrors(bucket.id, entry.id))

        wait_until(copies, message="automatic mirroring reached 3 copies")


# ----------------------------------------------------------------------------- users


def test_user_activation_lifecycle(net, anon):
    email, password = "alice@example.com", "correct horse"
    created = anon.user_create(email, password)
    assert isinstance(created, User)
    assert (created.email, created.id, created.activated) == (email, email, False)
    assert_now(created.created)
    with pytest.raises(BadRequestError):
        anon.user_create(email, "again")

    with Client(email, password, api_url=net.bridge_url) as alice:
        with pytest.raises(AuthenticationError) as inactive:
            alice.bucket_list()
        assert inactive.value.status_code == 403

        mails = net.outbox(email)
        assert [(m["to"], m["kind"]) for m in mails] == [(email, "activation")]
        token = mails[0]["token"]
        assert HEX64.fullmatch(token)

        resent = anon.user_activation_email(email, token)
        assert isinstance(resent, User)
        assert (resent.email, resent.activated) == (email, False)
        assert [m["token"] for m in net.outbox(email)] == [token, token]

        with pytest.raises(BadRequestError):
            anon.user_activate("0" * 64)
        activated = anon.user_activate(token)
        assert isinstance(activated, User)
        assert (activated.email, activated.activated) == (email, True)
        assert activated.created == created.created
        assert list(alice.bucket_list()) == []
        with pytest.raises(BadRequestError):
            anon.user_activation_email(email, token)  # already active
        with pytest.raises(NotFoundError):
            anon.user_activation_email("nobody@example.com")


def test_user_password_reset(net, anon, user):
    email, old = user
    new = "a brand new password"
    requested = anon.user_reset_password(email, new)
    assert isinstance(requested, User) and requested.email == email
    with Client(email, old, api_url=net.bridge_url) as before:
        assert list(before.bucket_list()) == []  # nothing changes before confirmation

    mail = net.outbox(email)[-1]
    assert (mail["to"], mail["kind"]) == (email, "reset")
    assert HEX512.fullmatch(mail["token"])
    with pytest.raises(NotFoundError):
        anon.user_reset_password_confirmation("cd" * 256)
    confirmed = anon.user_reset_password_confirmation(mail["token"])
    assert isinstance(confirmed, User)
    assert (confirmed.email, confirmed.activated) == (email, True)

    with Client(email, old, api_url=net.bridge_url) as stale:
        with pytest.raises(AuthenticationError) as refused:
            stale.bucket_list()
        assert refused.value.status_code == 401
    with Client(email, new, api_url=net.bridge_url) as fresh:
        assert list(fresh.bucket_list()) == []
    with pytest.raises(NotFoundError):
        anon.user_reset_password_confirmation(mail["token"])  # single use
    with pytest.raises(NotFoundError):
        anon.user_reset_password("nobody@example.com", new)

    # The documented one-argument call sends ``{}`` (the 2018 two-step reset): the Bridge
    # accepts it, but GET /resets/:token cannot set a password, so it is refused; the
    # password then comes with the confirmation (POST /resets/:token).
    anon.user_reset_password(email)
    token = net.outbox(email)[-1]["token"]
    with pytest.raises(BadRequestError):
        anon.user_reset_password_confirmation(token)
    with Client(email, new, api_url=net.bridge_url) as unchanged:
        assert list(unchanged.bucket_list()) == []
    newest = "the newest password"
    confirmed = anon.user_reset_password_confirmation(token, newest)
    assert (confirmed.email, confirmed.activated) == (email, True)
    with Client(email, new, api_url=net.bridge_url) as stale:
        with pytest.raises(AuthenticationError):
            stale.bucket_list()
    with Client(email, newest, api_url=net.bridge_url) as fresh:
        assert list(fresh.bucket_list()) == []


def test_user_delete_and_deactivate(net, anon, client, user):
    email, _ = user
    other_email, other_password = net.create_user()
    with Client(other_email, other_password, api_url=net.bridge_url) as other:
        with pytest.raises(AuthenticationError):
            other.user_delete(email)  # only the account itself
    assert [m["kind"] for m in net.outbox(email)] == ["activation"]

    requested = client.user_delete(email)
    assert isinstance(requested, User) and requested.email == email
    assert list(client.bucket_list()) == []  # still active until confirmed
    mail = net.outbox(email)[-1]
    assert (mail["to"], mail["kind"]) == (email, "deactivation")
    assert HEX512.fullmatch(mail["token"])

    with pytest.raises(NotFoundError):
        anon.user_deactivate("ab" * 256)
    deactivated = anon.user_deactivate(mail["token"])
    assert isinstance(deactivated, User)
    assert (deactivated.email, deactivated.activated) == (email, False)
    with pytest.raises(AuthenticationError) as inactive:
        client.bucket_list()
    assert inactive.value.status_code == 403

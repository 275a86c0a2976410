"""The storj 0.3.x ``Client`` helpers against the real local network on loopback (issue 13).

``key_generate`` / ``key_export`` / ``key_import`` / ``key_dump`` with ECDSA requests
that the Bridge then accepts, ``file_download``, ``check_file_existence_in_bucket``,
``send_exchange_report`` and ``frame_add_shard(excludes=)``.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storj.exception import AuthenticationError, BadRequestError, ConfigurationError
from storj.http import Client
from storj.local import LocalNetwork
from storj.local.pytest_plugin import storj_network, storj_user  # noqa: F401 (fixtures)
from storj.model import ExchangeReport, KeyPair, ShardManager

pytestmark = pytest.mark.integration

MNEMONIC = "abandon " * 11 + "about"
SHARD = 32 * 1024


@pytest.fixture
def client(storj_network: LocalNetwork, storj_user: tuple[str, str]) -> Iterator[Client]:  # noqa: F811
    email, password = storj_user
    url = storj_network.bridge_url
    with Client(email, password, storj_bridge=url, encryption_key=MNEMONIC) as c:
        yield c


def ecdsa_only(network: LocalNetwork, private_key: object) -> Client:
    """A client without email/password: every request must be ECDSA-signed."""
    bare = Client(None, None, network.bridge_url)
    bare.authenticate(private_key)
    return bare


# ------------------------------------------------------------------------------------ keys


def test_key_dump_without_keys(client, capsys):
    client.key_dump()
    assert capsys.readouterr().out == "No keys associated with this account.\n"


def test_key_generate_registers_and_switches_to_ecdsa(storj_network, client, capsys):  # noqa: F811
    private, public = client.key_generate()
    hex_key = client.public_key_hex
    assert client.private_key is private
    assert client.key_list() == [hex_key]  # this request is already ECDSA-signed
    assert "auth='ecdsa'" in repr(client)
    bucket = client.bucket_create("made-with-ecdsa")
    with ecdsa_only(storj_network, private) as bare:
        assert bucket.id in [b.id for b in bare.bucket_list()]
    client.key_dump()
    out = capsys.readouterr().out
    assert f"Local Public Key: {hex_key}" in out
    assert f"Public keys for this account: ['{hex_key}']" in out
    secret = format(private.privkey.secret_multiplier, "064x")
    assert secret not in out


def test_unregistered_key_is_refused(storj_network, client):  # noqa: F811
    private, _ = client.key_generate(register=False)
    with pytest.raises(AuthenticationError):
        client.key_list()
    with ecdsa_only(storj_network, private) as bare, pytest.raises(AuthenticationError):
        bare.bucket_list()


def test_key_export_then_import_in_another_client(storj_network, storj_user, tmp_path):  # noqa: F811
    email, password = storj_user
    url = storj_network.bridge_url
    with Client(email, password, url) as maker:
        private, _ = maker.key_generate(export=tmp_path, register=False)
    assert stat.S_IMODE(os.stat(tmp_path / "private.pem").st_mode) == 0o600
    with Client(email, password, url) as importer:
        importer.key_import(tmp_path / "private.pem", tmp_path / "public.pem")
        assert importer.private_key.to_string() == private.to_string()
        assert importer.key_list() == [importer.public_key_hex]  # ECDSA now
        # importing a key that is already registered works too
        importer.key_import(tmp_path / "private.pem", tmp_path / "public.pem")
        assert importer.key_list() == [importer.public_key_hex]
    with ecdsa_only(storj_network, private) as bare:
        assert list(bare.bucket_list()) == []
    with Client(email, password, url) as again:
        registered = again.key_list()
        with pytest.raises(ConfigurationError, match="exists"):
            again.key_generate(export=tmp_path)
        assert again.key_list() == registered  # checked before anything was registered
        assert again.private_key is None


def test_key_import_of_a_key_registered_elsewhere_fails(storj_network, tmp_path):  # noqa: F811
    owner = Client(*storj_network.create_user(), storj_network.bridge_url)
    owner.key_generate(export=tmp_path)
    other = Client(*storj_network.create_user(), storj_network.bridge_url)
    with pytest.raises(BadRequestError):
        other.key_import(tmp_path / "private.pem", tmp_path / "public.pem")
    assert other.private_key is None
    owner.close()
    other.close()


def test_keypair_signing_key_with_the_bridge(storj_network, client):  # noqa: F811
    pair = KeyPair(secret="my node secret")
    client.public_key = pair.public_key  # kept for registration; still Basic
    client.key_register(client.public_key)
    with ecdsa_only(storj_network, pair.signing_key) as bare:
        assert bare.key_list() == [pair.public_key]


# ------------------------------------------------------------------------------- files


@pytest.fixture
def stored(client, tmp_path):
    data = random.Random(13).randbytes(3 * SHARD + 123)
    path = tmp_path / "report.bin"
    path.write_bytes(data)
    bucket = client.bucket_create("legacy")
    entry = client.upload_file(bucket.id, path)
    return bucket.id, entry.id, path, data


def test_file_download_round_trip(client, stored):
    bucket_id, file_id, _, data = stored
    buffer = client.file_download(bucket_id, file_id)
    assert isinstance(buffer, io.BytesIO)
    assert buffer.tell() == len(data)  # at the end, as in 0.3.x
    assert buffer.getvalue() == data


def test_check_file_existence_in_bucket(client, stored, tmp_path):
    bucket_id, file_id, path, data = stored
    assert client.check_file_existence_in_bucket(bucket_id, path, file_id) == 1
    assert client.check_file_existence_in_bucket(bucket_id, str(path)) == 1  # by name
    copy = tmp_path / "copy.bin"
    copy.write_bytes(data)
    assert client.check_file_existence_in_bucket(bucket_id, copy, file_id) == 2
    assert client.check_file_existence_in_bucket(bucket_id, copy) is False  # no such name
    changed = tmp_path / "changed.bin"
    changed.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, other content
    assert client.check_file_existence_in_bucket(bucket_id, changed, file_id) is False
    shorter = tmp_path / "shorter.bin"
    shorter.write_bytes(data[:-1])
    assert client.check_file_existence_in_bucket(bucket_id, shorter, file_id) is False


def test_send_exchange_report(storj_network, client, stored):  # noqa: F811
    bucket_id, file_id, _, _ = stored
    pointer = next(client.file_pointers(bucket_id, file_id, 0, 1))
    now = int(time.time() * 1000)
    fields = {
        "dataHash": pointer["hash"],
        "reporterId": client.email,
        "farmerId": pointer["farmer"]["nodeID"],
        "clientId": client.email,
        "exchangeStart": now - 5,
        "exchangeEnd": now,
        "exchangeResultCode": ExchangeReport.SUCCESS,
        "exchangeResultMessage": ExchangeReport.STORJ_REPORT_SHARD_DOWNLOADED,
    }
    store = storj_network.bridge.services.store  # type: ignore[union-attr]
    before = len(store.reports(pointer["hash"]))
    sent = client.send_exchange_report(ExchangeReport(**fields))
    assert isinstance(sent, ExchangeReport) and sent.dataHash == pointer["hash"]
    from_mapping = client.send_exchange_report(fields)
    assert from_mapping == sent
    rows = store.reports(pointer["hash"])
    assert len(rows) == before + 2
    assert rows[-1]["result_message"] == "SHARD_DOWNLOADED"


def test_frame_add_shard_excludes(storj_network, client, tmp_path):  # noqa: F811
    path = tmp_path / "one.bin"
    path.write_bytes(random.Random(3).randbytes(SHARD))
    shard = ShardManager(path, SHARD, nchallenges=2).shards[0]
    node_ids = [farmer.node_id for farmer in storj_network.farmers]
    assert len(node_ids) >= 2
    keep = node_ids[-1]
    frame = client.frame_create()
    contract = client.frame_add_shard(shard, frame.id, excludes=node_ids[:-1])
    assert contract["farmer"]["nodeID"] == keep
    other = client.frame_create()
    contract = client.frame_add_shard(shard, other.id, excludes=[keep])
    assert contract["farmer"]["nodeID"] != keep
    with pytest.raises(ValueError):
        client.frame_add_shard(shard, frame.id, exclude=[keep], excludes=[keep])


def test_client_0_3_14_positional_construction_works(storj_network, storj_user):  # noqa: F811
    email, password = storj_user
    hashed = hashlib.sha256(password.encode()).hexdigest()
    with Client(email, hashed, storj_network.bridge_url, False, None) as legacy:
        assert legacy.do_hashing is False and legacy.timeout == 60.0
        assert list(legacy.bucket_list()) == []


def test_paths_given_as_path_objects(client, stored):
    bucket_id, file_id, path, _ = stored
    assert client.check_file_existence_in_bucket(bucket_id, Path(path), file_id) == 1

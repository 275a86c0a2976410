"""A test of your own code against a real local Storj network (pytest fixtures)."""

from storj.crypto import generate_mnemonic
from storj.http import Client


def test_round_trip(storj_network, storj_user, tmp_path):
    email, password = storj_user  # an activated account on storj_network
    key = generate_mnemonic()
    with Client(email, password, api_url=storj_network.bridge_url, encryption_key=key) as client:
        bucket = client.bucket_create("test-bucket")
        source = tmp_path / "data.bin"
        source.write_bytes(b"x" * 100_000)
        entry = client.upload_file(bucket.id, source)
        target = tmp_path / "copy.bin"
        client.download_file(bucket.id, entry.id, target)
    assert target.read_bytes() == source.read_bytes()

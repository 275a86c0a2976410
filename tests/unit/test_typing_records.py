"""The non-Optional annotations of the records hold for what the client returns.

``storj.model`` annotates a field without ``None`` when every Bridge answer carries it
(``tests/unit/test_typing.py`` lists them in ``ALWAYS_SENT``). This test calls each
client method that returns records against a real local network on loopback and checks
that none of those fields is ``None`` — including the id-only records nested in
``File.frame`` and ``Token.bucket`` — so a ``mypy --strict`` user who skips the
narrowing is right at runtime too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storj.crypto import generate_mnemonic
from storj.http import Client
from storj.local import LocalNetwork
from storj.model import Model
from tests.unit.test_typing import ALWAYS_SENT

pytestmark = pytest.mark.integration


def _check(record: Model) -> None:
    """Every always-sent field of ``record`` (and of its nested records) is set."""
    name = type(record).__name__
    for field in ALWAYS_SENT.get(name, []):
        value = getattr(record, field)
        assert value is not None, f"{name}.{field} is None in {record!r}"
        if isinstance(value, Model):
            _check(value)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, Model):
                    _check(item)
    for field in ("bucket", "frame", "token", "farmer"):
        nested = getattr(record, field, None)
        if isinstance(nested, Model):
            _check(nested)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with LocalNetwork(tmp_path / "net", farmers=4) as network:
        email, password = network.create_user()
        with Client(
            email, password, api_url=network.bridge_url, encryption_key=generate_mnemonic()
        ) as c:
            yield c


def test_records_returned_by_the_client_carry_the_always_sent_fields(
    client: Client, tmp_path: Path
) -> None:
    import storj

    seen: set[str] = set()

    def check(record: Any) -> None:
        _check(record)
        seen.add(type(record).__name__)

    source = tmp_path / "f.bin"
    source.write_bytes(bytes(range(256)) * 100)
    bucket = client.bucket_create("typed")
    check(bucket)
    check(client.bucket_get(bucket.id))
    for listed in client.bucket_list():
        check(listed)
    entry = client.upload_file(bucket.id, str(source))
    check(entry)
    check(client.file_metadata(bucket.id, entry.id))
    for pointer in client.file_pointers(bucket.id, entry.id):
        check(pointer)
    for mirrors in client.file_mirrors(bucket.id, entry.id):
        check(mirrors)
    check(client.token_create(bucket.id, "PULL"))
    frame = client.frame_create()
    check(frame)
    check(client.frame_get(frame.id))
    for listed_frame in client.frame_list():
        check(listed_frame)
    contacts = client.contact_list()
    for contact in contacts:
        check(contact)
    check(client.contact_lookup(contacts[0].nodeID))
    _, public_key = storj.generate_new_key_pair()
    for key in client.key_register(public_key):
        check(key)
    user = client.user_create(f"typed-{bucket.id}@example.com", "correct horse")
    check(user)
    assert seen >= {
        "Bucket",
        "File",
        "FilePointer",
        "FileMirrors",
        "Token",
        "Frame",
        "Contact",
        "Key",
        "User",
    }, seen

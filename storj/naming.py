"""Bucket and file names as libstorj stores them: one naming model for the SDK and the CLI.

libstorj never sends a plaintext bucket or file name to the Bridge. It encrypts the
name with AES-256-GCM under a key derived from the user's mnemonic
(``bridge-protocol.md`` §8.3), deterministically, so the same name always maps to the
same stored string and so to the same deterministic id. A
:class:`storj.http.Client` with an encryption key does the same through the pure
functions here; a client without a key sends and shows names as they are.

A stored name is read in one of three ways (:data:`NameState`):

* ``"decrypted"``: it decrypted with the key; the record's ``name`` is the plain name;
* ``"plaintext"``: the client has no key, or the name is not libstorj ciphertext (a
  bucket made by storj 0.3.x or another keyless tool); ``name`` is the stored name;
* ``"undecryptable"``: it looks like libstorj ciphertext but does not decrypt with this
  key (another mnemonic); ``name`` keeps the stored form and :func:`display_name`
  marks it, so it is never shown as if it were a name.

Every function is pure: nothing is sent, printed or logged.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from storj import crypto

__all__ = [
    "ENCRYPTED_MARK",
    "NameState",
    "display_name",
    "key_of",
    "looks_encrypted",
    "read_bucket_name",
    "read_file_name",
    "stored_bucket_name",
    "stored_file_name",
]

#: How a stored name was read (see the module docstring).
NameState = Literal["decrypted", "plaintext", "undecryptable"]

#: Prefix :func:`display_name` puts before a name that could not be decrypted.
ENCRYPTED_MARK = "[encrypted] "

# base64(tag16 ‖ iv32 ‖ ciphertext≥1): at least 49 bytes.
_MIN_SEALED_BYTES = 49


def key_of(mnemonic: str | crypto.EncryptionKey | None) -> crypto.EncryptionKey | None:
    """The :class:`~storj.crypto.EncryptionKey` of a mnemonic; ``None`` for ``None``/``""``.

    :raises EncryptionKeyError: the mnemonic is not a valid BIP39 mnemonic.
    """
    if mnemonic is None or isinstance(mnemonic, crypto.EncryptionKey):
        return mnemonic
    return crypto.EncryptionKey(mnemonic) if mnemonic else None


def looks_encrypted(stored: str) -> bool:
    """Whether ``stored`` has the shape of a libstorj encrypted name (strict base64 of
    at least 49 bytes: GCM tag, 32-byte IV and ciphertext). Plain names such as
    ``"photos"`` or ``"a/b.txt"`` do not; a plain name of 68 or more base64 characters
    (a multiple of 4, no space or ``.``) would, and is then marked undecryptable."""
    try:
        raw = base64.b64decode(stored, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) >= _MIN_SEALED_BYTES


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a {what} name must be a non-empty string, not {name!r}")
    return name


def stored_bucket_name(key: crypto.EncryptionKey | None, name: str) -> str:
    """The form of bucket name ``name`` sent to the Bridge: libstorj's encryption under
    ``key``, or ``name`` itself when ``key`` is ``None``.

    :raises ValueError: ``name`` is empty.
    """
    _check_name(name, "bucket")
    return name if key is None else key.encrypt_bucket_name(name)


def stored_file_name(key: crypto.EncryptionKey | None, bucket_id: str, name: str) -> str:
    """The form of file name ``name`` in bucket ``bucket_id`` sent to the Bridge
    (encrypted under ``key``; ``name`` itself without a key).

    :raises ValueError: ``name`` is empty.
    """
    _check_name(name, "file")
    return name if key is None else key.encrypt_file_name(bucket_id, name)


def _read(plain: str | None, stored: str) -> tuple[str, NameState]:
    if plain is not None:
        return plain, "decrypted"
    return stored, "undecryptable" if looks_encrypted(stored) else "plaintext"


def read_bucket_name(key: crypto.EncryptionKey | None, stored: str) -> tuple[str, NameState]:
    """``(name, state)`` of a stored bucket name (see :data:`NameState`)."""
    if key is None or not stored:
        return stored, "plaintext"
    return _read(key.decrypt_bucket_name(stored), stored)


def read_file_name(
    key: crypto.EncryptionKey | None, bucket_id: str, stored: str
) -> tuple[str, NameState]:
    """``(name, state)`` of a stored file name in bucket ``bucket_id``."""
    if key is None or not stored:
        return stored, "plaintext"
    return _read(key.decrypt_file_name(bucket_id, stored), stored)


def display_name(name: str | None, state: str | None) -> str:
    """The name to show a person: the name itself, or ``"[encrypted] <stored>"`` when it
    could not be decrypted (so ciphertext is never shown as if it were a name)."""
    text = name or ""
    return ENCRYPTED_MARK + text if state == "undecryptable" else text

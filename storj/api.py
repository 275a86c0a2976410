"""Storj API module: the protocol's small pure functions.

Everything here is deterministic (except :func:`new_nonce`) and free of I/O, so
the client and the local network share one definition of the wire formats:
hashes, deterministic bucket and file ids, the ECDSA signing string, the
Basic-auth header and public-key encodings. Reference values are in the
Bridge protocol notes (``bridge-protocol.md`` §1.2, §2).
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from typing import Any

__all__ = [
    "PAD_LEAF",
    "basic_auth_header",
    "calculate_bucket_id",
    "calculate_file_id",
    "ecdsa_to_hex",
    "hash_password",
    "is_node_id",
    "is_object_id",
    "is_shard_hash",
    "new_nonce",
    "ripemd160",
    "rmd160sha256",
    "rmd160sha256_hex",
    "sha256_hex",
    "signing_string",
]

_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
_HASH160 = re.compile(r"^[0-9a-f]{40}$")


def _openssl_ripemd160_works() -> bool:
    try:
        hashlib.new("ripemd160", b"")
    except ValueError:
        return False
    return True


if _openssl_ripemd160_works():

    def ripemd160(data: bytes) -> bytes:
        """Return the 20-byte RIPEMD-160 digest of ``data``."""
        return hashlib.new("ripemd160", data).digest()

else:  # pragma: no cover - depends on the OpenSSL build
    from storj._ripemd160 import ripemd160


def rmd160sha256(data: bytes) -> bytes:
    """``RIPEMD160(SHA256(data))``: the protocol's hash for shards, ids and tree nodes."""
    return ripemd160(hashlib.sha256(data).digest())


def rmd160sha256_hex(data: bytes) -> str:
    """Lowercase hex of :func:`rmd160sha256` (40 characters)."""
    return rmd160sha256(data).hex()


#: ``RIPEMD160(SHA256(b""))``: the leaf that pads audit trees to a power of two.
PAD_LEAF = rmd160sha256_hex(b"")


def sha256_hex(text: str | bytes) -> str:
    """Lowercase SHA-256 hex digest of ``text`` (UTF-8 encoded when a ``str``)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def hash_password(password: str) -> str:
    """Return the password as the Bridge wants it: the lowercase SHA-256 hex of its UTF-8 bytes.

    The Bridge never receives plaintext passwords (``bridge-protocol.md`` §2.1). The
    original SDK encoded as ASCII and crashed on non-ASCII passwords; UTF-8 gives the same
    result for ASCII and works for everything else.
    """
    return sha256_hex(password)


def calculate_bucket_id(email: str, bucket_name: str) -> str:
    """Deterministic bucket id: ``hex(RIPEMD160(SHA256(email + name)))[:24]``."""
    return rmd160sha256_hex((email + bucket_name).encode("utf-8"))[:24]


def calculate_file_id(bucket_id: str, file_name: str) -> str:
    """Deterministic file (bucket entry) id: ``hex(RIPEMD160(SHA256(bucket_id + name)))[:24]``."""
    return rmd160sha256_hex((bucket_id + file_name).encode("utf-8"))[:24]


def is_object_id(value: Any) -> bool:
    """True for a 24-hex-character id (buckets, files, frames, pointers)."""
    return isinstance(value, str) and bool(_OBJECT_ID.fullmatch(value))


def is_shard_hash(value: Any) -> bool:
    """True for a 40-lowercase-hex shard hash (``RIPEMD160(SHA256(shard))``)."""
    return isinstance(value, str) and bool(_HASH160.fullmatch(value))


#: A nodeID has the same shape as a shard hash.
is_node_id = is_shard_hash


def new_nonce() -> str:
    """A fresh request nonce: a random UUID4 string, as the Bridge documentation recommends."""
    return str(uuid.uuid4())


def signing_string(method: str, path: str, payload: str | bytes) -> bytes:
    """The bytes an ECDSA-authenticated request signs: ``METHOD\\nPATH\\nPAYLOAD``.

    ``path`` is the request path without the query string, exactly as sent;
    ``payload`` is the raw body for POST/PUT/PATCH and the raw query string
    (without ``?``) for GET/DELETE/OPTIONS.
    """
    body = payload if isinstance(payload, bytes) else payload.encode("utf-8")
    return method.upper().encode("ascii") + b"\n" + path.encode("utf-8") + b"\n" + body


def basic_auth_header(email: str, password_hash: str) -> str:
    """``Authorization`` value for Basic auth with an already hashed password."""
    token = base64.b64encode(f"{email}:{password_hash}".encode()).decode("ascii")
    return f"Basic {token}"


def ecdsa_to_hex(ecdsa_key: Any) -> str:
    """Hex encoding of a public key, as the Bridge's ``x-pubkey`` header carries it.

    Accepts an ``ecdsa.VerifyingKey`` or ``ecdsa.SigningKey`` (its public half),
    a ``cryptography`` EC key, or bytes. Key objects are encoded as the 33-byte
    compressed SEC1 point (what the reference clients send). Bytes that already
    are a SEC1 point (33 bytes starting ``02``/``03`` or 65 bytes starting ``04``)
    are hex encoded as they are; any other bytes are taken as the raw ``X‖Y``
    coordinates and get the ``04`` prefix, as in storj 0.1.x
    (``ecdsa_to_hex(b'\\xf8\\xd2...')`` → ``'04f8d2...'``). A hex string is
    returned lowercased.
    """
    if isinstance(ecdsa_key, str):
        return ecdsa_key.lower()
    if isinstance(ecdsa_key, (bytes, bytearray, memoryview)):
        raw = bytes(ecdsa_key)
        if (len(raw) == 33 and raw[0] in (2, 3)) or (len(raw) == 65 and raw[0] == 4):
            return raw.hex()
        return "04" + raw.hex()
    from storj.keys import public_key_hex

    return public_key_hex(ecdsa_key)

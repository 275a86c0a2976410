"""secp256k1 keys: generation, encodings, request signatures and node ids.

The documented API hands out and accepts ``ecdsa`` key objects
(:func:`storj.generate_new_key_pair`, :meth:`storj.http.Client.authenticate`).
Signing and verification always go through ``cryptography`` (OpenSSL), which is
constant time and much faster than pure-Python ``ecdsa``; ``ecdsa`` keys are
converted once, at the boundary.
"""

from __future__ import annotations

from typing import Any

import ecdsa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from storj.api import rmd160sha256_hex

__all__ = [
    "generate_new_key_pair",
    "load_private_key",
    "load_public_key",
    "node_id",
    "private_key_hex",
    "public_key_hex",
    "sign",
    "verify",
]

_CURVE = ec.SECP256K1()
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def generate_new_key_pair() -> tuple[ecdsa.SigningKey, ecdsa.VerifyingKey]:
    """Generate a new secp256k1 key pair as ``ecdsa`` objects ``(private, public)``.

    The private scalar comes from the operating system's CSPRNG (via ``cryptography``).
    """
    private = ec.generate_private_key(_CURVE)
    secret = private.private_numbers().private_value.to_bytes(32, "big")
    signing_key = ecdsa.SigningKey.from_string(secret, curve=ecdsa.SECP256k1)
    return signing_key, signing_key.get_verifying_key()


def load_private_key(key: Any) -> ec.EllipticCurvePrivateKey:
    """Return a ``cryptography`` private key for an ``ecdsa.SigningKey``, a ``cryptography``
    key, 32 raw bytes or 64 hex characters.

    :raises ValueError: the value is not a secp256k1 private key.
    """
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256K1):
            raise ValueError("private key must be on the secp256k1 curve")
        return key
    if isinstance(key, ecdsa.SigningKey):
        if key.curve != ecdsa.SECP256k1:
            raise ValueError("private key must be on the secp256k1 curve")
        secret = key.to_string()
    elif isinstance(key, (bytes, bytearray)):
        secret = bytes(key)
    elif isinstance(key, str):
        try:
            secret = bytes.fromhex(key)
        except ValueError:
            raise ValueError("private key hex is not valid hexadecimal") from None
    else:
        raise ValueError(f"unsupported private key type: {type(key).__name__}")
    if len(secret) != 32:
        raise ValueError("a secp256k1 private key is 32 bytes")
    return ec.derive_private_key(int.from_bytes(secret, "big"), _CURVE)


def load_public_key(key: Any) -> ec.EllipticCurvePublicKey:
    """Return a ``cryptography`` public key for an ``ecdsa.VerifyingKey``, a ``cryptography``
    key, SEC1 bytes or SEC1 hex (compressed or uncompressed).

    :raises ValueError: the value is not a point on secp256k1.
    """
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.public_key()
    if isinstance(key, ecdsa.SigningKey):
        key = key.get_verifying_key()
    if isinstance(key, ecdsa.VerifyingKey):
        raw = key.to_string("compressed")
    elif isinstance(key, (bytes, bytearray)):
        raw = bytes(key)
    elif isinstance(key, str):
        try:
            raw = bytes.fromhex(key)
        except ValueError:
            raise ValueError("public key is not valid hexadecimal") from None
    else:
        raise ValueError(f"unsupported public key type: {type(key).__name__}")
    if not ((len(raw) == 33 and raw[0] in (2, 3)) or (len(raw) == 65 and raw[0] == 4)):
        raise ValueError("public key must be a 33-byte compressed or 65-byte uncompressed point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, raw)
    except ValueError:
        raise ValueError("public key is not a point on secp256k1") from None


def public_key_hex(key: Any, *, compressed: bool = True) -> str:
    """SEC1 hex of a public key (or of a private key's public half); compressed by default."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ecdsa.SigningKey)):
        public = load_private_key(key).public_key()
    else:
        public = load_public_key(key)
    fmt = (
        serialization.PublicFormat.CompressedPoint
        if compressed
        else serialization.PublicFormat.UncompressedPoint
    )
    return public.public_bytes(serialization.Encoding.X962, fmt).hex()


def private_key_hex(key: Any) -> str:
    """64-hex encoding of a private key's scalar."""
    return format(load_private_key(key).private_numbers().private_value, "064x")


def sign(private_key: Any, message: bytes) -> str:
    """ECDSA-SHA256 signature of ``message``, DER encoded, as lowercase hex."""
    return load_private_key(private_key).sign(message, _ECDSA_SHA256).hex()


def verify(public_key: Any, signature_hex: str, message: bytes) -> bool:
    """True when ``signature_hex`` (DER hex) is a valid ECDSA-SHA256 signature of ``message``.

    High-S signatures are accepted, like the Bridge (which normalises S before verifying).
    Malformed keys or signatures give ``False``, never an exception.
    """
    try:
        public = load_public_key(public_key)
        signature = bytes.fromhex(signature_hex)
        public.verify(signature, message, _ECDSA_SHA256)
    except (ValueError, InvalidSignature, TypeError):
        return False
    return True


def node_id(public_key: Any) -> str:
    """Node id of a public key: ``hex(RIPEMD160(SHA256(compressed SEC1 point)))``."""
    return rmd160sha256_hex(bytes.fromhex(public_key_hex(public_key, compressed=True)))

"""The 0.1.7–0.3.14 key helpers of ``storj.model``: :class:`KeyPair`, :class:`IdecdsaCipher`,
:class:`Keyring`, and Base58 (:func:`b58encode`, :func:`b58decode`, :func:`b58check_encode`).

They are re-exported from :mod:`storj.model`, where 0.3.x had them, and work on the
same primitives as the rest of the package (``cryptography`` and ``ecdsa``; no
``pycoin``, ``base58`` or ``pycrypto``).

* :class:`KeyPair` — a secp256k1 key as core (the Storj node) names it: BIP32 master
  key from a secret, node id, Bitcoin address, Bitcoin "signed message" signatures
  (deterministic, RFC 6979).
* :class:`IdecdsaCipher` — core's ``simpleEncrypt`` / ``simpleDecrypt`` of an
  ``id_ecdsa`` file (OpenSSL ``EVP_BytesToKey``, AES-256-CBC, Base58).
* :class:`Keyring` — a passphrase-protected keyring file. 0.3.x's was insecure
  (``random.getrandbits``, ``eval()`` of decrypted text, prompts); this one keeps the
  names with a CSPRNG, PBKDF2 and authenticated encryption (see the class).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from typing import Any, ClassVar, overload

import ecdsa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from ecdsa.util import sigencode_der_canonize, sigencode_strings_canonize

from storj import keys as _keys
from storj.exception import ConfigurationError, DecryptionError

__all__ = [
    "IdecdsaCipher",
    "KeyPair",
    "Keyring",
    "b58check_encode",
    "b58decode",
    "b58encode",
    "recover_public_key",
    "signed_message_digest",
]

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {char: index for index, char in enumerate(_B58_ALPHABET)}
_ORDER: int = ecdsa.SECP256k1.order
_FIELD: int = ecdsa.SECP256k1.curve.p()
_G = ecdsa.SECP256k1.generator
_SIGNED_MESSAGE_MAGIC = b"Bitcoin Signed Message:\n"


# ------------------------------------------------------------------------------ Base58


def b58encode(data: bytes) -> str:
    """Bitcoin Base58 of ``data`` (each leading zero byte becomes a ``1``)."""
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, rest = divmod(number, 58)
        digits.append(_B58_ALPHABET[rest])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str | bytes) -> bytes:
    """Inverse of :func:`b58encode`.

    :raises ValueError: a character outside the Base58 alphabet.
    """
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    number = 0
    for char in text:
        if char not in _B58_INDEX:
            raise ValueError(f"{char!r} is not a Base58 character")
        number = number * 58 + _B58_INDEX[char]
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def b58check_encode(payload: bytes) -> str:
    """Base58Check: ``payload`` plus the first 4 bytes of its double SHA-256."""
    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return b58encode(payload + checksum)


# ------------------------------------------------------------------------------ KeyPair


def _varstr(data: bytes) -> bytes:
    """Bitcoin's length-prefixed string (CompactSize length; messages here are short)."""
    size = len(data)
    if size < 0xFD:
        prefix = bytes([size])
    elif size <= 0xFFFF:
        prefix = b"\xfd" + size.to_bytes(2, "little")
    elif size <= 0xFFFFFFFF:
        prefix = b"\xfe" + size.to_bytes(4, "little")
    else:
        prefix = b"\xff" + size.to_bytes(8, "little")
    return prefix + data


def signed_message_digest(message: str | bytes) -> bytes:
    """Double SHA-256 of ``varstr("Bitcoin Signed Message:\\n") + varstr(message)``."""
    raw = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    data = _varstr(_SIGNED_MESSAGE_MAGIC) + _varstr(raw)
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _point_from_x(x: int, odd: bool) -> Any:
    """The curve point with this x and y parity (secp256k1: p ≡ 3 mod 4)."""
    alpha = (pow(x, 3, _FIELD) + 7) % _FIELD
    y = pow(alpha, (_FIELD + 1) // 4, _FIELD)
    if (y * y) % _FIELD != alpha:
        raise ValueError("x is not on secp256k1")
    if (y & 1) != odd:
        y = _FIELD - y
    return ecdsa.ellipticcurve.PointJacobi(ecdsa.SECP256k1.curve, x, y, 1, _ORDER)


def recover_public_key(digest: bytes, r: int, s: int, recid: int) -> bytes:
    """The compressed SEC1 public key that made signature ``(r, s)`` of ``digest``.

    ``recid`` (0 or 1) is the parity of the y coordinate of ``R = k·G``;
    ``Q = r⁻¹ (s·R − e·G)``.
    """
    point = _point_from_x(r, bool(recid & 1))
    e = int.from_bytes(digest, "big") % _ORDER
    q = (point * s + _G * ((-e) % _ORDER)) * pow(r, -1, _ORDER)
    x, y = q.x(), q.y()
    return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")


class KeyPair:
    """A secp256k1 key pair as 0.1.7–0.3.x ``storj.model.KeyPair`` gave it.

    :param pkey: the private key (secret exponent) as 64 hex characters.
    :param secret: a master password: the key is the BIP32 master key of its UTF-8
        bytes (the left 32 bytes of ``HMAC-SHA512(key=b"Bitcoin seed", msg=secret)``).
        Takes precedence over ``pkey``, as in 0.3.x.
    :raises ValueError: ``pkey`` is not a valid secp256k1 private key, or the secret
        gives an invalid one (probability about 2⁻¹²⁸).

    With neither, a new key comes from the operating system's CSPRNG (0.3.x: the BIP32
    master of 4096 random bytes; the distribution is the same). The key is never shown
    in ``repr``. Differs from 0.3.x: there is no ``keypair`` attribute (it was a
    ``pycoin`` object); :attr:`signing_key` gives an ``ecdsa.SigningKey`` instead.
    """

    def __init__(self, pkey: str | None = None, secret: str | None = None) -> None:
        if secret is not None:
            master = hmac.new(b"Bitcoin seed", secret.encode("utf-8"), hashlib.sha512).digest()
            exponent = int.from_bytes(master[:32], "big")
        elif pkey is not None:
            try:
                exponent = int(pkey, 16)
            except (TypeError, ValueError):
                raise ValueError("pkey must be the private key as 64 hex characters") from None
        else:
            exponent = 1 + secrets.randbelow(_ORDER - 1)
        if not 0 < exponent < _ORDER:
            raise ValueError("not a valid secp256k1 private key (outside 1 … n-1)")
        self._signing_key = ecdsa.SigningKey.from_secret_exponent(exponent, ecdsa.SECP256k1)
        self._compressed = self._signing_key.get_verifying_key().to_string("compressed")

    @property
    def signing_key(self) -> ecdsa.SigningKey:
        """The key as an ``ecdsa.SigningKey`` (for ``Client.authenticate``)."""
        return self._signing_key

    @property
    def private_key(self) -> str:
        """(str) the secret exponent, 64 lowercase hex characters."""
        return format(self._signing_key.privkey.secret_multiplier, "064x")

    @property
    def public_key(self) -> str:
        """(str) the compressed SEC1 public key, 66 hex characters."""
        return self._compressed.hex()

    @property
    def node_id(self) -> str:
        """(str) ``hex(RIPEMD160(SHA256(compressed public key)))``, the Storj node id."""
        return _keys.node_id(self._compressed)

    @property
    def address(self) -> str:
        """(str) the Bitcoin P2PKH address of the key (Base58Check of ``0x00 ‖ node id``)."""
        return b58check_encode(b"\0" + bytes.fromhex(self.node_id))

    def sign(self, message: str | bytes, compact: bool = True) -> str:
        """Sign ``message`` (text is UTF-8 encoded) with the private key.

        ``compact=True``: the Bitcoin "signed message" format (what ``bitcoin-cli
        signmessage`` and core produce): ECDSA over the double SHA-256 of
        ``varstr("Bitcoin Signed Message:\\n") + varstr(message)``, returned as Base64 of
        65 bytes: header ``27 + recid + 4`` (compressed key), ``r``, ``s``.
        ``compact=False``: the ECDSA signature of ``SHA-256(message)``, DER encoded, as
        lowercase hex (the form the Bridge's ``x-signature`` uses).

        Both use RFC 6979 deterministic nonces and low-S, so the same key and message
        always give the same signature. Differs from 0.3.x, which drew the nonce from
        ``os.urandom`` (a weak source would have leaked the key) and delegated
        ``compact=False`` to ``micropayment_core``.
        """
        if not compact:
            raw = message.encode("utf-8") if isinstance(message, str) else bytes(message)
            der = self._signing_key.sign_deterministic(
                raw, hashfunc=hashlib.sha256, sigencode=sigencode_der_canonize
            )
            return bytes(der).hex()
        digest = signed_message_digest(message)
        r_bytes, s_bytes = self._signing_key.sign_digest_deterministic(
            digest, hashfunc=hashlib.sha256, sigencode=sigencode_strings_canonize
        )
        r, s = int.from_bytes(r_bytes, "big"), int.from_bytes(s_bytes, "big")
        for recid in (0, 1):
            if recover_public_key(digest, r, s, recid) == self._compressed:
                header = bytes([27 + recid + 4])
                return base64.b64encode(header + r_bytes + s_bytes).decode("ascii")
        raise ValueError("the signature's R point has x ≥ n; sign a different message")

    def __repr__(self) -> str:
        return f"KeyPair(public_key={self.public_key!r})"


# ------------------------------------------------------------------------ IdecdsaCipher


@overload
def _pkcs7(data: str, add: bool) -> str: ...
@overload
def _pkcs7(data: bytes, add: bool) -> bytes: ...
def _pkcs7(data: str | bytes, add: bool) -> str | bytes:
    """Add or remove PKCS#7 padding (block 16) on text or bytes."""
    if add:
        count = 16 - len(data) % 16
        return data + chr(count) * count if isinstance(data, str) else data + bytes([count]) * count
    if not data:
        raise DecryptionError("nothing to unpad: the data is empty")
    last = data[-1]
    count = ord(last) if isinstance(last, str) else last
    tail = data[-count:] if 0 < count <= 16 else None
    if tail is None or any((ord(c) if isinstance(c, str) else c) != count for c in tail):
        raise DecryptionError("invalid padding: wrong passphrase or damaged data")
    return data[:-count]


class IdecdsaCipher:
    """core's ``simpleEncrypt`` / ``simpleDecrypt`` for an encrypted ``id_ecdsa``.

    ``simpleEncrypt(passphrase, data)``: hex-encode ``data`` (text is UTF-8 encoded),
    PKCS#7-pad the hex text, AES-256-CBC with key and IV from
    ``EVP_BytesToKey(passphrase, 32, 16)``, Base58-encode. ``simpleDecrypt`` inverts it.
    The format has no integrity check (it is core's); a wrong passphrase is detected
    only by the padding and hex checks, which :class:`~storj.exception.DecryptionError`
    reports. Use :class:`Keyring` for new secrets.
    """

    @staticmethod
    def pad(data: Any) -> Any:
        """``data`` (str or bytes) padded to a multiple of 16 (PKCS#7)."""
        return _pkcs7(data, True)

    @staticmethod
    def unpad(data: Any) -> Any:
        """Remove PKCS#7 padding from ``data`` (str or bytes).

        :raises DecryptionError: the padding is not valid.
        """
        return _pkcs7(data, False)

    @staticmethod
    def EVP_BytesToKey(  # noqa: N802 - the 0.3.x (and OpenSSL) name
        password: str | bytes, key_len: int, iv_len: int
    ) -> tuple[bytes, bytes]:
        """OpenSSL's ``EVP_BytesToKey`` with MD5, one iteration and no salt.

        ``D_1 = MD5(password)``, ``D_i = MD5(D_{i-1} ‖ password)``; the concatenation
        gives ``key_len`` bytes of key, then ``iv_len`` bytes of IV.
        """
        secret = password.encode("utf-8") if isinstance(password, str) else bytes(password)
        stream, block = b"", b""
        while len(stream) < key_len + iv_len:
            block = hashlib.md5(block + secret, usedforsecurity=False).digest()
            stream += block
        return stream[:key_len], stream[key_len : key_len + iv_len]

    def encrypt(self, data: str | bytes, key: bytes, iv: bytes) -> bytes:
        """AES-CBC of the padded hex encoding of ``data`` (the middle step of simpleEncrypt)."""
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        padded = _pkcs7(raw.hex().encode("ascii"), True)
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return encryptor.update(padded) + encryptor.finalize()

    def decrypt(self, data: bytes, key: bytes, iv: bytes) -> bytes:
        """Inverse of :meth:`encrypt`: the original bytes.

        :raises DecryptionError: wrong key or damaged data.
        """
        if not data or len(data) % 16:
            raise DecryptionError("the encrypted data is not a whole number of AES blocks")
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        text = _pkcs7(decryptor.update(data) + decryptor.finalize(), False)
        try:
            return bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise DecryptionError("wrong passphrase or damaged data (not hex inside)") from None

    def simpleEncrypt(self, passphrase: str, data: str | bytes) -> str:  # noqa: N802
        """Encrypt ``data`` with ``passphrase``; returns Base58 text (core's format)."""
        key, iv = self.EVP_BytesToKey(passphrase, 32, 16)
        return b58encode(self.encrypt(data, key, iv))

    @overload
    def simpleDecrypt(self, passphrase: str, data: str | bytes) -> str: ...  # noqa: N802
    @overload
    def simpleDecrypt(  # noqa: N802
        self, passphrase: str, data: str | bytes, *, as_bytes: bool
    ) -> str | bytes: ...
    def simpleDecrypt(  # noqa: N802
        self, passphrase: str, data: str | bytes, *, as_bytes: bool = False
    ) -> str | bytes:
        """Decrypt Base58 ``data`` made by :meth:`simpleEncrypt` (or core).

        Returns text (UTF-8), or bytes with ``as_bytes=True``. Differs from 0.3.x
        (Python 2, where text and bytes were one type): decrypting what was bytes
        gives text unless ``as_bytes=True``.

        :raises DecryptionError: wrong passphrase, damaged data, or (text) not UTF-8.
        """
        try:
            raw = b58decode(data)
        except ValueError as exc:
            raise DecryptionError(f"not Base58 data: {exc}") from None
        key, iv = self.EVP_BytesToKey(passphrase, 32, 16)
        plain = self.decrypt(raw, key, iv)
        if as_bytes:
            return plain
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError(
                "the decrypted data is not UTF-8 text; pass as_bytes=True"
            ) from None


# ------------------------------------------------------------------------------ Keyring


def _pbkdf2(passphrase: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha512", passphrase.encode("utf-8"), salt, iterations, dklen=32)


class Keyring:
    """A passphrase-protected keyring: a random secret and salt, stored encrypted.

    The names of 0.3.x's ``storj.model.Keyring`` are kept; everything else is new,
    because 0.3.x's was unsafe:

    * :meth:`generate` makes :attr:`password` (64 random bytes, hex) and :attr:`salt`
      (32 random bytes, hex) with :mod:`secrets` (0.3.x: ``random.getrandbits``, not a
      CSPRNG). Nothing prompts: the passphrase is an argument (0.3.x used
      ``raw_input``).
    * :meth:`get_encryption_key` derives the key from the passphrase:
      ``PBKDF2-HMAC-SHA512(passphrase, salt, ITERATIONS, 32 bytes)`` as 64 hex, with the
      keyring's :attr:`salt` (generated first if there is none). The same passphrase
      and keyring give the same key. 0.3.x ignored the passphrase and returned a new
      random key on every call.
    * :meth:`export_keyring` writes ``{"pass", "salt"}`` encrypted with AES-256-GCM
      (authenticated) under ``PBKDF2-HMAC-SHA512(passphrase, file salt, ITERATIONS)``,
      as one line of Base64 JSON, file mode ``0600``; it never overwrites a file.
      :meth:`import_keyring` checks the tag and parses JSON (0.3.x ran ``eval()`` on
      the decrypted text, so a crafted file executed code).

    :cvar ITERATIONS: PBKDF2 iterations for new files and keys (600 000, OWASP's 2023
        figure for PBKDF2-HMAC-SHA256; SHA-512 costs more per iteration). A file records
        its own count.
    """

    ITERATIONS: ClassVar[int] = 600_000
    _MAX_ITERATIONS: ClassVar[int] = 10_000_000
    _FORMAT: ClassVar[str] = "storj-keyring-v1"

    def __init__(self) -> None:
        self.password: str | None = None
        self.salt: str | None = None

    def __repr__(self) -> str:
        state = "empty" if self.password is None else "loaded"
        return f"Keyring({state})"

    def generate(
        self, user_pass: str | None = None, filepath: str | os.PathLike[str] = "key.b64"
    ) -> None:
        """Make a new random :attr:`password` and :attr:`salt`; with ``user_pass``, also
        :meth:`export_keyring` them to ``filepath``.

        :raises ConfigurationError: ``filepath`` exists (nothing is changed then).
        """
        if user_pass is not None and os.path.lexists(filepath):
            raise ConfigurationError(f"{os.fspath(filepath)!r} exists; move it away first")
        password, salt = secrets.token_hex(64), secrets.token_hex(32)
        if user_pass is not None:
            self.export_keyring(password, salt, user_pass, filepath)
        self.password, self.salt = password, salt

    def get_encryption_key(self, user_pass: str) -> str:
        """The 32-byte key derived from ``user_pass`` and :attr:`salt`, as 64 hex.

        Generates the keyring first if it has no salt (export it to keep the key).
        """
        if self.salt is None:
            self.generate()
        assert self.salt is not None
        return _pbkdf2(user_pass, bytes.fromhex(self.salt), self.ITERATIONS).hex()

    def export_keyring(
        self,
        password: str,
        salt: str,
        user_pass: str,
        filepath: str | os.PathLike[str] = "key.b64",
    ) -> None:
        """Write ``password`` and ``salt`` encrypted with ``user_pass`` to ``filepath``
        (default ``key.b64`` in the current directory, as 0.3.x), mode ``0600``.

        :raises ConfigurationError: ``filepath`` exists or cannot be created.
        """
        file_salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
        key = _pbkdf2(user_pass, file_salt, self.ITERATIONS)
        plain = json.dumps({"pass": password, "salt": salt}).encode("utf-8")
        document = {
            "format": self._FORMAT,
            "kdf": "pbkdf2-hmac-sha512",
            "iterations": self.ITERATIONS,
            "salt": base64.b64encode(file_salt).decode("ascii"),
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "ciphertext": base64.b64encode(AESGCM(key).encrypt(nonce, plain, None)).decode(
                "ascii"
            ),
        }
        line = base64.b64encode(json.dumps(document).encode("utf-8")) + b"\n"
        try:
            fd = os.open(filepath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ConfigurationError(
                f"{os.fspath(filepath)!r} exists; move it away first"
            ) from None
        except OSError as exc:
            raise ConfigurationError(f"cannot create {os.fspath(filepath)!r}: {exc}") from exc
        with os.fdopen(fd, "wb") as handle:
            handle.write(line)

    def import_keyring(self, filepath: str | os.PathLike[str], user_pass: str) -> dict[str, str]:
        """Read a keyring written by :meth:`export_keyring`; sets and returns
        ``{"pass": password, "salt": salt}``.

        Differs from 0.3.x: the passphrase is an argument (0.3.x prompted for it).

        :raises ConfigurationError: the file cannot be read or is not a keyring file.
        :raises DecryptionError: wrong passphrase or a modified file.
        """
        try:
            with open(filepath, "rb") as handle:
                text = handle.read(64 * 1024)
            document = json.loads(base64.b64decode(text.strip(), validate=True))
            iterations = int(document["iterations"])
            if document.get("format") != self._FORMAT or not (
                1 <= iterations <= self._MAX_ITERATIONS
            ):
                raise ValueError("unknown format")
            file_salt = base64.b64decode(document["salt"], validate=True)
            nonce = base64.b64decode(document["nonce"], validate=True)
            sealed = base64.b64decode(document["ciphertext"], validate=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot read {os.fspath(filepath)!r}: {exc}") from exc
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise ConfigurationError(
                f"{os.fspath(filepath)!r} is not a keyring file written by Keyring.export_keyring"
            ) from None
        try:
            plain = AESGCM(_pbkdf2(user_pass, file_salt, iterations)).decrypt(nonce, sealed, None)
        except (InvalidTag, ValueError):
            raise DecryptionError(
                f"cannot open {os.fspath(filepath)!r}: wrong passphrase or modified file"
            ) from None
        creds = json.loads(plain)
        self.password, self.salt = str(creds["pass"]), str(creds["salt"])
        return {"pass": self.password, "salt": self.salt}

"""Storj crypto module: the libstorj-compatible (SIP5) keys and ciphers.

This is the only module of the package that encrypts file data or names.
Everything here is a pure function of its arguments (except the random
mnemonic and file index generators), so the upload and download engines can
encrypt or decrypt any shard or byte range independently and in parallel.

What a file upload sends to the Bridge and farmers, byte-compatible with
libstorj (``bridge-protocol.md`` §8.3):

* a BIP39 mnemonic gives a 64-byte seed (PBKDF2-HMAC-SHA512, 2048 iterations,
  salt ``"mnemonic" + passphrase``);
* ``bucket key = DK(seed, bucketId)`` and ``file key = DK(bucketKey, index)``
  where ``DK(key_hex, id_hex) = hex(SHA512(unhex(key_hex ‖ id_hex)))[:64]``;
* the file content is one AES-256-CTR stream (key = the 32 raw file-key bytes,
  initial counter block = the first 16 bytes of the random 32-byte ``index``
  sent in ``POST /buckets/:id/files``); the counter is the whole 16-byte block
  read as one 128-bit big-endian integer, exactly like OpenSSL's and nettle's
  CTR mode and libstorj's ``increment_ctr_aes_iv`` (it carries across every
  byte, including the 64-bit boundary, and wraps modulo 2**128);
* the bucket entry carries ``"hmac": {"type": "sha512", "value": file_hmac(...)}``:
  HMAC-SHA512 keyed with the AES key over the raw 20-byte shard hashes in
  shard-index order (data then parity);
* bucket and file names are AES-256-GCM encrypted with a 32-byte synthetic
  IV and sent as ``base64(tag16 ‖ iv32 ‖ ciphertext)``.

Files uploaded before libstorj added ``index`` (the 2016 JS client and
libstorj ≤ April 2017, "v0") use ``AES key = SHA256(ascii(fileKey_hex))`` with
``fileKey = DK(bucketKey, fileId)`` and counter block
``RIPEMD160(ascii(fileId))[:16]``; see :func:`file_encryption_v0`.

Secrets (mnemonics, seeds, keys) never appear in exception messages or reprs.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storj.api import ripemd160
from storj.exception import EncryptionKeyError

if TYPE_CHECKING:
    from mnemonic import Mnemonic

__all__ = [
    "AES_BLOCK_SIZE",
    "BUCKET_META_MAGIC",
    "BUCKET_NAME_MAGIC",
    "INDEX_SIZE",
    "KEY_SIZE",
    "MNEMONIC_WORD_COUNTS",
    "SEED_ITERATIONS",
    "CtrCipher",
    "EncryptionKey",
    "FileEncryption",
    "bucket_key",
    "bucket_name_key",
    "check_mnemonic",
    "ctr_cipher",
    "ctr_counter_at",
    "ctr_crypt",
    "decrypt_bucket_name",
    "decrypt_file_name",
    "decrypt_meta",
    "deterministic_key",
    "encrypt_bucket_name",
    "encrypt_file_name",
    "encrypt_meta",
    "file_encryption_v0",
    "file_encryption_v1",
    "file_hmac",
    "file_key",
    "file_key_v0",
    "generate_mnemonic",
    "mnemonic_to_seed",
    "new_file_index",
    "normalize_mnemonic",
    "validate_mnemonic",
    "verify_file_hmac",
]

#: AES block size in bytes; the CTR counter advances once per block.
AES_BLOCK_SIZE = 16
#: Size of every derived key (AES-256) in bytes.
KEY_SIZE = 32
#: Size of the random per-file ``index`` (2017+ uploads) in bytes.
INDEX_SIZE = 32
#: PBKDF2 iterations of the BIP39 seed.
SEED_ITERATIONS = 2048
#: Word counts a BIP39 mnemonic may have (128..256 bits of entropy).
MNEMONIC_WORD_COUNTS = (12, 15, 18, 21, 24)
#: The "bucket id" whose deterministic key encrypts bucket names (libstorj).
BUCKET_NAME_MAGIC = "398734aab3c4c30c9f22590e83a95f7e43556a45fc2b3060e0c39fde31f50272"
#: HMAC message that turns a bucket key into a name-encryption key (libstorj).
BUCKET_META_MAGIC = bytes(
    [
        66, 150, 71, 16, 50, 114, 88, 160, 163, 35, 154, 65, 162, 213, 226, 215,
        70, 138, 57, 61, 52, 19, 210, 170, 38, 164, 162, 200, 86, 201, 2, 81,
    ]
)  # fmt: skip

_GCM_TAG_SIZE = 16
_GCM_IV_SIZE = 32
_SEED_SIZE = 64
_HASH160_SIZE = 20
_STRENGTHS = (128, 160, 192, 224, 256)


# --------------------------------------------------------------------------- BIP39


@functools.lru_cache(maxsize=1)
def _bip39() -> Mnemonic:
    from mnemonic import Mnemonic

    return Mnemonic("english")


@functools.lru_cache(maxsize=1)
def _wordset() -> frozenset[str]:
    return frozenset(_bip39().wordlist)


def normalize_mnemonic(mnemonic: str) -> str:
    """Return ``mnemonic`` in canonical form: NFKD, lowercase, single spaces.

    A mnemonic typed with extra spaces, a trailing newline or capitals means the
    same words; libstorj would reject such input, so canonicalising it changes
    nothing for valid mnemonics and the seed stays byte-compatible.
    """
    text = unicodedata.normalize("NFKD", mnemonic)
    return " ".join(text.lower().split())


def generate_mnemonic(strength: int = 256) -> str:
    """Return a new random BIP39 English mnemonic.

    :param strength: bits of entropy: 256 gives 24 words (the default), 128
        gives 12; 160, 192 and 224 are also allowed.
    """
    if strength not in _STRENGTHS:
        raise ValueError(f"strength must be one of {_STRENGTHS} bits, not {strength!r}")
    return _bip39().to_mnemonic(secrets.token_bytes(strength // 8))


def _mnemonic_problem(mnemonic: object) -> str | None:
    """Describe what is wrong with ``mnemonic`` without quoting any of it."""
    if not isinstance(mnemonic, str):
        return f"the encryption key must be a BIP39 mnemonic string, not {type(mnemonic).__name__}"
    words = normalize_mnemonic(mnemonic).split(" ") if mnemonic.strip() else []
    if not words:
        return (
            "the encryption key is empty; give the 12 or 24 word BIP39 mnemonic "
            "(STORJ_ENCRYPTION_KEY) or create one with storj.crypto.generate_mnemonic()"
        )
    if len(words) not in MNEMONIC_WORD_COUNTS:
        return (
            f"the encryption key has {len(words)} words; a BIP39 mnemonic has "
            "12, 15, 18, 21 or 24 words"
        )
    wordset = _wordset()
    unknown = [str(i) for i, word in enumerate(words, 1) if word not in wordset]
    if unknown:
        which = "word" if len(unknown) == 1 else "words"
        return (
            f"{which} {', '.join(unknown)} of the encryption key "
            f"{'is' if len(unknown) == 1 else 'are'} not in the BIP39 English word list; "
            "check the spelling"
        )
    if not _bip39().check(" ".join(words)):
        return (
            "the encryption key's BIP39 checksum does not match: a word is wrong "
            "or the words are in the wrong order"
        )
    return None


def validate_mnemonic(mnemonic: str) -> bool:
    """Return ``True`` if ``mnemonic`` is a valid BIP39 English mnemonic.

    Words, word count (12/15/18/21/24) and checksum are checked on the
    canonical form (:func:`normalize_mnemonic`).
    """
    return _mnemonic_problem(mnemonic) is None


def check_mnemonic(mnemonic: str) -> str:
    """Validate ``mnemonic`` and return its canonical form.

    :raises storj.exception.EncryptionKeyError: with a message saying what is
        wrong (never quoting the mnemonic).
    """
    problem = _mnemonic_problem(mnemonic)
    if problem is not None:
        raise EncryptionKeyError(problem[0].upper() + problem[1:] + ".")
    return normalize_mnemonic(mnemonic)


def mnemonic_to_seed(mnemonic: str, passphrase: str = "") -> bytes:
    """Return the 64-byte BIP39 seed of ``mnemonic`` (not validated here).

    ``PBKDF2-HMAC-SHA512(password=mnemonic, salt="mnemonic" + passphrase,
    2048 iterations)``; libstorj always uses an empty passphrase.
    """
    words = normalize_mnemonic(mnemonic).encode("utf-8")
    salt = ("mnemonic" + unicodedata.normalize("NFKD", passphrase)).encode("utf-8")
    return hashlib.pbkdf2_hmac("sha512", words, salt, SEED_ITERATIONS, _SEED_SIZE)


# ----------------------------------------------------------------- key derivation


def _unhex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a hexadecimal string") from None


def deterministic_key(key_hex: str, id_hex: str) -> str:
    """libstorj's ``get_deterministic_key``: ``hex(SHA512(unhex(key_hex ‖ id_hex)))[:64]``."""
    data = _unhex(key_hex + id_hex, "key and id")
    return hashlib.sha512(data).hexdigest()[: 2 * KEY_SIZE]


def _seed_bytes(seed: bytes) -> bytes:
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != _SEED_SIZE:
        raise ValueError("seed must be the 64-byte BIP39 seed (see mnemonic_to_seed)")
    return bytes(seed)


def _key_bytes(key: bytes, what: str = "key") -> bytes:
    if not isinstance(key, (bytes, bytearray, memoryview)) or len(key) != KEY_SIZE:
        raise ValueError(f"{what} must be {KEY_SIZE} bytes")
    return bytes(key)


def _index_hex(index: bytes | str) -> str:
    if isinstance(index, str):
        raw = _unhex(index, "index")
    else:
        raw = bytes(index)
    if len(raw) != INDEX_SIZE:
        raise ValueError(f"index must be {INDEX_SIZE} bytes (64 hex characters)")
    return raw.hex()


def bucket_key(seed: bytes, bucket_id: str) -> bytes:
    """Return the 32-byte key of bucket ``bucket_id``: ``DK(seed_hex, bucket_id)``."""
    return bytes.fromhex(deterministic_key(_seed_bytes(seed).hex(), bucket_id))


def file_key(bucket_key: bytes, index: bytes | str) -> bytes:
    """Return the 32-byte file key of a 2017+ upload: ``DK(bucketKey_hex, index_hex)``.

    :param index: the file's random 32-byte ``index`` (bytes or 64 hex characters).
    """
    key_hex = _key_bytes(bucket_key, "bucket key").hex()
    return bytes.fromhex(deterministic_key(key_hex, _index_hex(index)))


def file_key_v0(bucket_key: bytes, file_id: str) -> bytes:
    """Return the 32-byte file key of a pre-2017 upload: ``DK(bucketKey_hex, fileId)``."""
    key_hex = _key_bytes(bucket_key, "bucket key").hex()
    return bytes.fromhex(deterministic_key(key_hex, file_id))


def new_file_index() -> bytes:
    """Return a new random 32-byte file ``index`` (sent hex-encoded to the Bridge)."""
    return secrets.token_bytes(INDEX_SIZE)


# ------------------------------------------------------------------------ AES-CTR


def ctr_counter_at(iv: bytes, offset: int) -> bytes:
    """Return the CTR counter block used for the AES block holding byte ``offset``.

    The 16-byte ``iv`` is one 128-bit big-endian counter; it advances by one per
    16 bytes and wraps modulo 2**128 (OpenSSL, nettle and libstorj's
    ``increment_ctr_aes_iv`` all carry across the whole block).
    """
    if len(iv) != AES_BLOCK_SIZE:
        raise ValueError(f"iv must be {AES_BLOCK_SIZE} bytes")
    if offset < 0:
        raise ValueError("offset must not be negative")
    counter = (int.from_bytes(iv, "big") + offset // AES_BLOCK_SIZE) % (1 << 128)
    return counter.to_bytes(AES_BLOCK_SIZE, "big")


class CtrCipher:
    """An AES-256-CTR keystream positioned at any byte offset of a file.

    Encryption and decryption are the same operation. Data goes through
    OpenSSL in one call per :meth:`update`, so large buffers run at OpenSSL
    speed. Not thread-safe: use one object per thread (they are cheap).
    """

    __slots__ = ("_ctx", "_offset")

    def __init__(self, key: bytes, iv: bytes, offset: int = 0) -> None:
        counter = ctr_counter_at(iv, offset)
        cipher = Cipher(algorithms.AES(_key_bytes(key)), modes.CTR(counter))
        self._ctx = cipher.encryptor()
        skip = offset % AES_BLOCK_SIZE
        if skip:
            self._ctx.update(bytes(skip))
        self._offset = offset

    @property
    def offset(self) -> int:
        """Byte offset (in the whole file stream) of the next byte :meth:`update` handles."""
        return self._offset

    def update(self, data: bytes | bytearray | memoryview) -> bytes:
        """Encrypt (or decrypt) ``data`` and advance the stream by ``len(data)`` bytes."""
        out = self._ctx.update(data)
        self._offset += len(out)
        return out

    def update_into(self, data: bytes | bytearray | memoryview, out: bytearray | memoryview) -> int:
        """Like :meth:`update`, but write the result into ``out`` (no new object).

        ``out`` must hold at least ``len(data) + 15`` bytes (OpenSSL's requirement);
        returns the number of bytes written, ``len(data)``.
        """
        written: int = self._ctx.update_into(data, out)
        self._offset += written
        return written

    def __repr__(self) -> str:
        return f"<CtrCipher AES-256-CTR offset={self._offset}>"


def ctr_cipher(key: bytes, iv: bytes, offset: int = 0) -> CtrCipher:
    """Return a :class:`CtrCipher` for ``key``/``iv`` positioned at byte ``offset``.

    ``ctr_cipher(k, iv, n).update(x)`` equals bytes ``n .. n+len(x)`` of the
    encryption of the whole stream, so each shard (offset ``i · shardSize``) or
    any byte range can be processed on its own.
    """
    return CtrCipher(key, iv, offset)


def ctr_crypt(
    key: bytes, iv: bytes, data: bytes | bytearray | memoryview, offset: int = 0
) -> bytes:
    """One-shot AES-256-CTR of ``data`` found at byte ``offset`` of the stream."""
    return CtrCipher(key, iv, offset).update(data)


# --------------------------------------------------------------------------- HMAC


def _hash_bytes(shard_hash: str | bytes) -> bytes:
    if isinstance(shard_hash, str):
        raw = _unhex(shard_hash, "shard hash")
    else:
        raw = bytes(shard_hash)
    if len(raw) != _HASH160_SIZE:
        raise ValueError("a shard hash must be 20 bytes (40 hex characters)")
    return raw


def file_hmac(key: bytes, shard_hashes: Iterable[str | bytes]) -> str:
    """Return the file HMAC the Bridge stores as ``{"type": "sha512", "value": ...}``.

    HMAC-SHA512 keyed with the 32-byte AES key of the file over the raw 20-byte
    shard hashes (data and parity) in shard-index order; 128 hex characters.
    """
    mac = hmac.new(_key_bytes(key), digestmod=hashlib.sha512)
    for shard_hash in shard_hashes:
        mac.update(_hash_bytes(shard_hash))
    return mac.hexdigest()


def verify_file_hmac(key: bytes, shard_hashes: Iterable[str | bytes], expected: str) -> bool:
    """Return ``True`` if ``expected`` (hex) is the HMAC of ``shard_hashes`` (constant time)."""
    if not isinstance(expected, str):
        return False
    actual = file_hmac(key, shard_hashes)
    return hmac.compare_digest(actual.encode("ascii"), expected.strip().lower().encode("utf-8"))


# ------------------------------------------------------------- file encryption


@dataclass(frozen=True, eq=False, repr=False, slots=True)
class FileEncryption:
    """The AES key and initial counter block of one file.

    :ivar key: the 32-byte AES-256 key (also the HMAC key).
    :ivar iv: the 16-byte initial counter block.
    :ivar version: 1 for 2017+ uploads (random ``index``), 0 for older ones.
    """

    key: bytes
    iv: bytes
    version: int = 1

    def cipher(self, offset: int = 0) -> CtrCipher:
        """Return a keystream positioned at byte ``offset`` of the file."""
        return CtrCipher(self.key, self.iv, offset)

    def crypt(self, data: bytes | bytearray | memoryview, offset: int = 0) -> bytes:
        """Encrypt or decrypt ``data`` found at byte ``offset`` of the file."""
        return CtrCipher(self.key, self.iv, offset).update(data)

    def hmac(self, shard_hashes: Iterable[str | bytes]) -> str:
        """The file HMAC over ``shard_hashes`` (see :func:`file_hmac`)."""
        return file_hmac(self.key, shard_hashes)

    def verify_hmac(self, shard_hashes: Iterable[str | bytes], expected: str) -> bool:
        """Check the file HMAC (see :func:`verify_file_hmac`)."""
        return verify_file_hmac(self.key, shard_hashes, expected)

    def __repr__(self) -> str:
        return f"FileEncryption(version={self.version})"


def file_encryption_v1(bucket_key: bytes, index: bytes | str) -> FileEncryption:
    """Key and counter of a 2017+ upload.

    ``key = file_key(bucket_key, index)`` and ``iv = index[:16]``.
    """
    index_raw = bytes.fromhex(_index_hex(index))
    return FileEncryption(file_key(bucket_key, index_raw), index_raw[:AES_BLOCK_SIZE], 1)


def file_encryption_v0(bucket_key: bytes, file_id: str) -> FileEncryption:
    """Key and counter of a pre-2017 upload (no ``index`` in the bucket entry).

    ``key = SHA256(ascii(hex(file_key_v0(bucket_key, file_id))))``,
    ``iv = RIPEMD160(ascii(file_id))[:16]`` (2016 JS ``DeterministicKeyIv``,
    libstorj ≤ April 2017).
    """
    key_hex = file_key_v0(bucket_key, file_id).hex()
    key = hashlib.sha256(key_hex.encode("ascii")).digest()
    iv = ripemd160(file_id.encode("ascii"))[:AES_BLOCK_SIZE]
    return FileEncryption(key, iv, 0)


# ------------------------------------------------------------- name encryption


def encrypt_meta(key: bytes, iv: bytes, plaintext: bytes) -> str:
    """AES-256-GCM with a 32-byte IV, returned as ``base64(tag16 ‖ iv32 ‖ ciphertext)``."""
    if len(iv) != _GCM_IV_SIZE:
        raise ValueError(f"iv must be {_GCM_IV_SIZE} bytes")
    sealed = AESGCM(_key_bytes(key)).encrypt(bytes(iv), bytes(plaintext), None)
    ciphertext, tag = sealed[:-_GCM_TAG_SIZE], sealed[-_GCM_TAG_SIZE:]
    return base64.b64encode(tag + bytes(iv) + ciphertext).decode("ascii")


def decrypt_meta(key: bytes, encrypted: str) -> bytes | None:
    """Reverse :func:`encrypt_meta`; ``None`` if ``encrypted`` is not ours (bad base64,
    too short, wrong key or tampered)."""
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return None
    if len(raw) < _GCM_TAG_SIZE + _GCM_IV_SIZE + 1:
        return None
    tag = raw[:_GCM_TAG_SIZE]
    iv = raw[_GCM_TAG_SIZE : _GCM_TAG_SIZE + _GCM_IV_SIZE]
    ciphertext = raw[_GCM_TAG_SIZE + _GCM_IV_SIZE :]
    try:
        return AESGCM(_key_bytes(key)).decrypt(iv, ciphertext + tag, None)
    except InvalidTag:
        return None


def _name_key(bucket_key_bytes: bytes) -> bytes:
    return hmac.digest(bucket_key_bytes, BUCKET_META_MAGIC, "sha512")[:KEY_SIZE]


def _name_iv(bucket_key_bytes: bytes, message: bytes) -> bytes:
    return hmac.digest(bucket_key_bytes, message, "sha512")[:_GCM_IV_SIZE]


def _seed_of(secret: EncryptionKey | bytes | str) -> bytes:
    if isinstance(secret, EncryptionKey):
        return secret.seed
    if isinstance(secret, (bytes, bytearray)):
        return _seed_bytes(secret)
    return mnemonic_to_seed(check_mnemonic(secret))


def _name_bytes(name: str) -> bytes:
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    return name.encode("utf-8")


def _decoded(plain: bytes | None) -> str | None:
    if plain is None:
        return None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        return None


def bucket_name_key(seed: bytes) -> bytes:
    """The bucket key used for bucket names: ``DK(seed_hex, BUCKET_NAME_MAGIC)``."""
    return bucket_key(seed, BUCKET_NAME_MAGIC)


def encrypt_bucket_name(seed_or_mnemonic: EncryptionKey | bytes | str, name: str) -> str:
    """Encrypt a bucket name as libstorj does (deterministic: same name, same result).

    ``nameKey = HMAC-SHA512(k, BUCKET_META_MAGIC)[:32]``, ``iv = HMAC-SHA512(k, name)[:32]``
    with ``k = DK(seed, BUCKET_NAME_MAGIC)``. The result is what is sent as
    ``name`` in ``POST /buckets``.
    """
    k = bucket_name_key(_seed_of(seed_or_mnemonic))
    plain = _name_bytes(name)
    return encrypt_meta(_name_key(k), _name_iv(k, plain), plain)


def decrypt_bucket_name(
    seed_or_mnemonic: EncryptionKey | bytes | str, encrypted: str
) -> str | None:
    """Decrypt a bucket name; ``None`` if it was not encrypted with this key
    (e.g. a plaintext name created by another client)."""
    k = bucket_name_key(_seed_of(seed_or_mnemonic))
    return _decoded(decrypt_meta(_name_key(k), encrypted))


def encrypt_file_name(
    seed_or_mnemonic: EncryptionKey | bytes | str, bucket_id: str, name: str
) -> str:
    """Encrypt a file name as libstorj does (sent as ``filename`` in ``POST /buckets/:id/files``).

    ``k = DK(seed, bucket_id)``; ``nameKey = HMAC-SHA512(k, BUCKET_META_MAGIC)[:32]``;
    ``iv = HMAC-SHA512(k, ascii(bucket_id) ‖ name)[:32]``.
    """
    k = bucket_key(_seed_of(seed_or_mnemonic), bucket_id)
    plain = _name_bytes(name)
    return encrypt_meta(_name_key(k), _name_iv(k, bucket_id.encode("ascii") + plain), plain)


def decrypt_file_name(
    seed_or_mnemonic: EncryptionKey | bytes | str, bucket_id: str, encrypted: str
) -> str | None:
    """Decrypt a file name; ``None`` if it was not encrypted with this key and bucket."""
    k = bucket_key(_seed_of(seed_or_mnemonic), bucket_id)
    return _decoded(decrypt_meta(_name_key(k), encrypted))


# ---------------------------------------------------------------- EncryptionKey


class EncryptionKey:
    """A validated BIP39 mnemonic with its seed computed once.

    ``EncryptionKey(mnemonic)`` raises :class:`storj.exception.EncryptionKeyError`
    when the mnemonic is invalid. ``repr()``/``str()`` never show the secret.
    """

    __slots__ = ("_mnemonic", "_seed")

    def __init__(self, mnemonic: str) -> None:
        self._mnemonic = check_mnemonic(mnemonic)
        self._seed = mnemonic_to_seed(self._mnemonic)

    @classmethod
    def generate(cls, strength: int = 256) -> EncryptionKey:
        """A new random key (24 words by default)."""
        return cls(generate_mnemonic(strength))

    @property
    def mnemonic(self) -> str:
        """The canonical mnemonic (a secret: show it only when the user asks)."""
        return self._mnemonic

    @property
    def seed(self) -> bytes:
        """The 64-byte BIP39 seed."""
        return self._seed

    @property
    def word_count(self) -> int:
        """Number of words of the mnemonic."""
        return self._mnemonic.count(" ") + 1

    def bucket_key(self, bucket_id: str) -> bytes:
        """32-byte key of bucket ``bucket_id``."""
        return bucket_key(self._seed, bucket_id)

    def file_key(self, bucket_id: str, index: bytes | str) -> bytes:
        """32-byte file key of a 2017+ upload with ``index``."""
        return file_key(self.bucket_key(bucket_id), index)

    def file_encryption(
        self, bucket_id: str, *, index: bytes | str | None = None, file_id: str | None = None
    ) -> FileEncryption:
        """Key and counter of a file: v1 when ``index`` is given, else v0 from ``file_id``.

        Downloaders pass the entry's ``index`` if it has one, else its id.
        """
        if index is not None:
            return file_encryption_v1(self.bucket_key(bucket_id), index)
        if file_id is None:
            raise ValueError("give the file's index (2017+ uploads) or its file id (older ones)")
        return file_encryption_v0(self.bucket_key(bucket_id), file_id)

    def encrypt_bucket_name(self, name: str) -> str:
        """See :func:`encrypt_bucket_name`."""
        return encrypt_bucket_name(self._seed, name)

    def decrypt_bucket_name(self, encrypted: str) -> str | None:
        """See :func:`decrypt_bucket_name`."""
        return decrypt_bucket_name(self._seed, encrypted)

    def encrypt_file_name(self, bucket_id: str, name: str) -> str:
        """See :func:`encrypt_file_name`."""
        return encrypt_file_name(self._seed, bucket_id, name)

    def decrypt_file_name(self, bucket_id: str, encrypted: str) -> str | None:
        """See :func:`decrypt_file_name`."""
        return decrypt_file_name(self._seed, bucket_id, encrypted)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EncryptionKey):
            return NotImplemented
        return hmac.compare_digest(self._seed, other._seed)

    def __hash__(self) -> int:
        return hash(hashlib.sha256(b"storj-encryption-key" + self._seed).digest())

    def __repr__(self) -> str:
        return f"<EncryptionKey ({self.word_count} words)>"

    __str__ = __repr__

"""Storj file_crypto module: the 0.3.x :class:`FileCrypto` (OpenSSL ``enc`` format).

Files are encrypted with AES-256-CBC and PKCS#7 padding in OpenSSL's ``enc``
container: the 8 bytes ``Salted__``, an 8-byte random salt, then the ciphertext.
Key and IV come from the password and salt with OpenSSL's ``EVP_BytesToKey``
(MD5, one iteration): ``D_i = MD5(D_(i-1) || password || salt)``, concatenated;
key = the first 32 bytes, IV = the next 16. The result is what::

    openssl enc -aes-256-cbc -md md5 -pass pass:PASSWORD

writes, and ``openssl enc -d -aes-256-cbc -md md5`` reads what this module writes.
Both directions stream in 16 KiB blocks, whatever the file size.

This is **not** the encryption of Storj files: libstorj and this package's
transfer engine (:mod:`storj.transfer`) encrypt with AES-256-CTR under keys
derived from the BIP39 mnemonic. The format has no integrity protection and
MD5-based key derivation is weak: use it only to read or write files of the
0.3.x era or to exchange files with ``openssl enc``. The 0.3.x uploader used it
with the account's password hash as the key; :class:`storj.uploader.Uploader`
does not (see there).
"""

from __future__ import annotations

import hashlib
import os
from typing import BinaryIO

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from storj.exception import DecryptionError

__all__ = ["BLOCK_SIZE", "MAGIC", "FileCrypto"]

#: The header of OpenSSL's salted format.
MAGIC = b"Salted__"
#: AES block size in bytes.
BLOCK_SIZE = 16
_SALT_SIZE = 8
#: Bytes read per step (0.3.x: ``1024 * block_size``).
_STEP = 1024 * BLOCK_SIZE


def _password_bytes(password: str | bytes) -> bytes:
    if isinstance(password, str):
        return password.encode("utf-8")
    if isinstance(password, (bytes, bytearray)):
        return bytes(password)
    raise TypeError(f"password must be str or bytes, not {type(password).__name__}")


def _check_algorithm(algorithm: str) -> None:
    if algorithm != "AES":
        raise ValueError(f"algorithm must be 'AES' (the only one 0.3.x had), not {algorithm!r}")


def _check_key_length(key_length: int) -> None:
    if key_length not in (16, 24, 32):
        raise ValueError(f"key_length must be 16, 24 or 32 bytes, not {key_length!r}")


class FileCrypto:
    """AES-CBC file encryption in OpenSSL's ``enc`` format (0.3.x's class and methods).

    ``password`` arguments are ``str`` (UTF-8 encoded, as ``openssl -pass pass:…``
    takes them) or ``bytes``. Differs from 0.3.x: an unknown ``algorithm`` raises
    :class:`ValueError` instead of silently writing nothing, and everything works on
    Python 3.
    """

    def encrypt_file(
        self,
        algorithm: str,
        file_path: str | os.PathLike[str],
        encrypted_file_save_path: str | os.PathLike[str],
        password: str | bytes,
    ) -> None:
        """Encrypt the file at ``file_path`` into ``encrypted_file_save_path`` (replaced).

        :param algorithm: ``"AES"``.
        :raises ValueError: another algorithm (nothing is written).
        :raises OSError: the input cannot be read or the output written.
        """
        _check_algorithm(algorithm)
        with open(file_path, "rb") as source, open(encrypted_file_save_path, "wb") as target:
            self.encrypt_file_aes(source, target, password)

    def decrypt_file(
        self,
        algorithm: str,
        file_path: str | os.PathLike[str],
        decrypted_file_save_path: str | os.PathLike[str],
        password: str | bytes,
    ) -> None:
        """Decrypt the file at ``file_path`` into ``decrypted_file_save_path`` (replaced).

        :param algorithm: ``"AES"``.
        :raises DecryptionError: not the salted format, or a wrong password (the output
            then holds garbage up to the failure point: discard it).
        :raises ValueError: another algorithm (nothing is written).
        """
        _check_algorithm(algorithm)
        with open(file_path, "rb") as source, open(decrypted_file_save_path, "wb") as target:
            self.decrypt_file_aes(source, target, password)

    @staticmethod
    def derive_key_and_iv(
        password: str | bytes, salt: bytes, key_length: int, iv_length: int
    ) -> tuple[bytes, bytes]:
        """OpenSSL's ``EVP_BytesToKey`` with MD5 and one iteration: ``(key, iv)``.

        ``derive_key_and_iv("secret", b"", 10, 20)`` gives the key
        ``5ebe2294ecd0e0f08eab`` (hex), as in 0.3.x's test.
        """
        secret = _password_bytes(password) + bytes(salt)
        data = block = b""
        while len(data) < key_length + iv_length:
            block = hashlib.md5(block + secret, usedforsecurity=False).digest()
            data += block
        return data[:key_length], data[key_length : key_length + iv_length]

    def encrypt_file_aes(
        self, in_file: BinaryIO, out_file: BinaryIO, password: str | bytes, key_length: int = 32
    ) -> None:
        """Encrypt ``in_file`` (read to its end) into ``out_file``, streaming.

        Writes ``Salted__``, a fresh random 8-byte salt, then AES-CBC ciphertext with
        PKCS#7 padding (a whole block of padding when the input is block aligned).
        ``key_length`` 32 is AES-256 (16: AES-128, 24: AES-192).
        """
        _check_key_length(key_length)
        salt = os.urandom(_SALT_SIZE)
        key, iv = self.derive_key_and_iv(password, salt, key_length, BLOCK_SIZE)
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        padder = padding.PKCS7(BLOCK_SIZE * 8).padder()
        out_file.write(MAGIC + salt)
        while True:
            chunk = in_file.read(_STEP)
            if not chunk:
                break
            out_file.write(encryptor.update(padder.update(chunk)))
        out_file.write(encryptor.update(padder.finalize()) + encryptor.finalize())

    def decrypt_file_aes(
        self, in_file: BinaryIO, out_file: BinaryIO, password: str | bytes, key_length: int = 32
    ) -> None:
        """Decrypt OpenSSL salted data from ``in_file`` into ``out_file``, streaming.

        :raises DecryptionError: no ``Salted__`` header, a length that is not whole
            blocks, or bad padding (``"bad decrypt"``, as OpenSSL says: usually a
            wrong password).
        """
        _check_key_length(key_length)
        header = in_file.read(len(MAGIC) + _SALT_SIZE)
        if len(header) != len(MAGIC) + _SALT_SIZE or not header.startswith(MAGIC):
            raise DecryptionError(
                "bad magic number: the data does not start with 'Salted__' followed by "
                "a salt; it was not written by openssl enc or FileCrypto"
            )
        key, iv = self.derive_key_and_iv(password, header[len(MAGIC) :], key_length, BLOCK_SIZE)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        unpadder = padding.PKCS7(BLOCK_SIZE * 8).unpadder()
        total = 0
        while True:
            chunk = in_file.read(_STEP)
            if not chunk:
                break
            total += len(chunk)
            out_file.write(unpadder.update(decryptor.update(chunk)))
        if total == 0 or total % BLOCK_SIZE:
            raise DecryptionError(
                f"bad decrypt: {total} bytes of ciphertext is not a positive multiple of "
                f"{BLOCK_SIZE}; the file is truncated"
            )
        try:
            tail = unpadder.update(decryptor.finalize()) + unpadder.finalize()
        except ValueError:
            raise DecryptionError("bad decrypt: wrong password or corrupted data") from None
        out_file.write(tail)

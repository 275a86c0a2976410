"""The storj 0.1.7–0.3.14 methods of :class:`storj.http.Client` that are not REST calls.

:class:`LegacyClientMethods` is a mixin that :class:`~storj.http.Client` inherits:
the local key helpers (``key_dump``, ``key_export``, ``key_generate``, ``key_import``),
``file_download``, ``send_exchange_report`` and ``check_file_existence_in_bucket``.
Each works on this package's engine (ECDSA keys as the Bridge expects them, the real
download pipeline) and says in its docstring where it differs from 0.3.x and why.
The methods are typed against :class:`_ClientCore`, the part of ``Client`` they use.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, cast

import ecdsa

from storj import keys as _keys
from storj.api import ripemd160
from storj.exception import BadRequestError, ConfigurationError, NotFoundError

if TYPE_CHECKING:
    from storj import model

__all__ = ["LegacyClientMethods"]

_CHUNK = 1024 * 1024
_PUBLIC_PEM = "public.pem"
_PRIVATE_PEM = "private.pem"


class _ClientCore(Protocol):
    """What the legacy methods use of :class:`storj.http.Client`."""

    encryption_key: str | None

    @property
    def private_key(self) -> ecdsa.SigningKey | None: ...

    @property
    def public_key(self) -> ecdsa.VerifyingKey | None: ...

    @property
    def public_key_hex(self) -> str | None: ...

    def authenticate(self, ecdsa_private_key: Any = None) -> None: ...

    def key_list(self) -> list[str]: ...

    def key_register(self, public_key: Any) -> list[model.Key]: ...

    def file_metadata(self, bucket_id: str, file_id: str) -> model.File: ...

    def file_id_by_name(self, bucket_id: str, name: str) -> str: ...

    def exchange_report_send(self, report: Any) -> None: ...

    def download_file(
        self, bucket_id: str, file_id: str, destination: str | os.PathLike[str] | IO[bytes]
    ) -> model.File: ...


class _HashingSink(io.RawIOBase):
    """A write-only stream that only hashes what it receives (SHA-256)."""

    def __init__(self) -> None:
        super().__init__()
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.digest.update(view)
        return view.nbytes


def _file_digests(path: str | os.PathLike[str]) -> tuple[str, str]:
    """``(RIPEMD160(SHA256(content)) hex, SHA256(content) hex)`` of a file, streamed."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
    return ripemd160(sha.digest()).hex(), sha.hexdigest()


def _read_pem(path: str | os.PathLike[str], what: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read(64 * 1024)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"cannot read the {what} key file {os.fspath(path)!r}: {exc}"
        ) from exc


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` (never replacing a file) and write ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


class LegacyClientMethods:
    """The 0.x helper methods of :class:`storj.http.Client` (see the module docstring)."""

    def key_dump(self: _ClientCore) -> None:
        """Print the local public key and the account's registered keys to stdout.

        Sends ``GET /keys``. Prints ``Local Public Key: <hex>`` when the client has a
        key (compressed SEC1 hex, the form sent in ``x-pubkey``), then
        ``Public keys for this account: [...]`` or
        ``No keys associated with this account.``.

        Differs from 0.3.x: the private key is never printed (0.3.x printed both), and
        registered keys are listed (0.3.x crashed with ``TypeError`` whenever the
        account had any).
        """
        if self.public_key is not None:
            print(f"Local Public Key: {_keys.public_key_hex(self.public_key)}")
        registered = self.key_list()
        if not registered:
            print("No keys associated with this account.")
        else:
            print(f"Public keys for this account: {registered}")

    def key_export(self: _ClientCore, directory: str | os.PathLike[str] = ".") -> tuple[Path, Path]:
        """Write the client's keys as ``public.pem`` and ``private.pem`` into ``directory``.

        Nothing is sent. ``public.pem`` is the ``ecdsa`` public key PEM (mode ``0644``),
        ``private.pem`` the unencrypted ``EC PRIVATE KEY`` PEM, created with mode
        ``0600``. :meth:`key_import` reads them back.

        :returns: the paths written, ``(public, private)``.
        :raises ConfigurationError: the client has no private key (call
            :meth:`key_generate`, :meth:`key_import` or ``authenticate()`` first), a file
            of either name exists (nothing is overwritten; move it away), or the
            directory cannot be written.

        Differs from 0.3.x: the directory is a parameter (0.3.x always wrote to the
        current directory), existing files are not replaced, nothing is printed.
        """
        private = self.private_key
        if private is None:
            raise ConfigurationError(
                "this client has no private key to export; call key_generate(), "
                "key_import() or authenticate() first"
            )
        folder = Path(directory)
        public_path, private_path = folder / _PUBLIC_PEM, folder / _PRIVATE_PEM
        for path in (public_path, private_path):
            if os.path.lexists(path):
                raise ConfigurationError(f"{str(path)!r} exists; move it away or export elsewhere")
        public_pem = private.get_verifying_key().to_pem()
        private_pem = private.to_pem()
        try:
            _write_new(private_path, private_pem, 0o600)
            _write_new(public_path, public_pem, 0o644)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot write the key files into {str(folder)!r}: {exc}"
            ) from exc
        return public_path, private_path

    def key_generate(
        self: _ClientCore,
        export: bool | str | os.PathLike[str] = False,
        register: bool = True,
    ) -> tuple[ecdsa.SigningKey, ecdsa.VerifyingKey]:
        """Make a new secp256k1 key pair, register it and sign requests with it.

        Sends ``POST /keys`` with the new public key (with ``register``), using the
        authentication the client has *before* the switch (Basic, or the previous key),
        then sets the key on the client, so the following requests are ECDSA-signed.
        With ``export`` (``True`` = the current directory, or a directory) the keys are
        written as by :meth:`key_export`.

        :returns: the new keys, ``(client.private_key, client.public_key)``.
        :raises ConfigurationError: an export file exists (checked before anything
            happens) or cannot be written.
        :raises BridgeError: registration failed; the client keeps its previous key.

        Differs from 0.3.x: no prompt (0.3.x asked with ``raw_input`` whether to export),
        no 3-second sleep, export and registration are parameters.
        """
        folder = None if export is False else ("." if export is True else export)
        if folder is not None:
            for name in (_PUBLIC_PEM, _PRIVATE_PEM):
                if os.path.lexists(Path(folder) / name):
                    raise ConfigurationError(
                        f"{str(Path(folder) / name)!r} exists; move it away or export elsewhere"
                    )
        private, public = _keys.generate_new_key_pair()
        if register:
            self.key_register(public)
        self.authenticate(private)
        if folder is not None:
            LegacyClientMethods.key_export(self, folder)
        assert self.private_key is not None and self.public_key is not None
        return self.private_key, self.public_key

    def key_import(
        self: _ClientCore,
        private_keyfile_path: str | os.PathLike[str],
        public_keyfile_path: str | os.PathLike[str],
    ) -> None:
        """Load a key pair from PEM files (as :meth:`key_export` writes them), register
        the public key and sign requests with it.

        Sends ``POST /keys`` (using the client's authentication before the switch); a
        key that the account has already registered is accepted as it is (checked with
        ``GET /keys``).

        :raises ConfigurationError: a file cannot be read, is not a secp256k1 PEM key,
            or the two keys do not belong together.
        :raises BridgeError: registration failed; the client keeps its previous key.

        Differs from 0.3.x: the files are checked to match (0.3.x set whatever it read)
        and re-importing a registered key works.
        """
        try:
            private = ecdsa.SigningKey.from_pem(_read_pem(private_keyfile_path, "private"))
            public = ecdsa.VerifyingKey.from_pem(_read_pem(public_keyfile_path, "public"))
        except (ValueError, ecdsa.der.UnexpectedDER) as exc:
            raise ConfigurationError(f"not a PEM EC key: {exc}") from exc
        if private.curve != ecdsa.SECP256k1 or public.curve != ecdsa.SECP256k1:
            raise ConfigurationError("the key files do not hold secp256k1 keys")
        if private.get_verifying_key().to_string() != public.to_string():
            raise ConfigurationError(
                f"{os.fspath(public_keyfile_path)!r} is not the public key of "
                f"{os.fspath(private_keyfile_path)!r}"
            )
        try:
            self.key_register(public)
        except BadRequestError:
            if _keys.public_key_hex(public) not in self.key_list():
                raise
        self.authenticate(private)

    def file_download(self: _ClientCore, bucket_id: str, file_id: str) -> io.BytesIO:
        """Download, verify and decrypt a file into memory.

        Sends what :meth:`~storj.http.Client.download_file` sends (file info, pointers,
        shards from the farmers). The whole file is held in memory: use
        ``download_file`` with a path or file object for large files.

        :returns: a :class:`io.BytesIO` holding the plaintext, **positioned at its end**
            as in 0.3.x (call ``seek(0)`` before reading, or use ``getvalue()``).
        :raises EncryptionKeyError: the client has no encryption key.
        :raises IntegrityError, TransferError, BridgeError: as ``download_file``.

        Differs from 0.3.x: it works (0.3.x used the pre-2017 WebSocket channel, could
        not build its pointers and never decrypted).
        """
        buffer = io.BytesIO()
        self.download_file(bucket_id, file_id, buffer)
        buffer.seek(0, io.SEEK_END)
        return buffer

    def send_exchange_report(
        self: _ClientCore, report: model.ExchangeReport | Mapping[str, Any]
    ) -> model.ExchangeReport:
        """Send an exchange report: 0.3.x's name of
        :meth:`~storj.http.Client.exchange_report_send` (``POST /reports/exchanges``).

        :param report: a :class:`~storj.model.ExchangeReport` or a mapping of its fields.
        :returns: the report sent, as an :class:`~storj.model.ExchangeReport` (0.3.x
            wrapped the Bridge's answer, which is an empty object).
        """
        from storj import model

        record = (
            model.ExchangeReport.from_json(dict(report)) if isinstance(report, Mapping) else report
        )
        self.exchange_report_send(record)
        return record

    def check_file_existence_in_bucket(
        self: _ClientCore,
        bucket_id: str,
        filepath: str | os.PathLike[str],
        file_id: str | None = None,
    ) -> int | bool:
        """Whether the local file ``filepath`` is already stored in the bucket.

        :param file_id: the entry to compare with; ``None`` (0.3.x crashed) looks the
            entry up by the file's base name (``GET /buckets/{id}/file-ids/{name}``, with
            the name as stored: plain, then encrypted with the client's encryption key),
            so only ``1`` or ``False`` can come back.
        :returns: ``1`` if the entry has the same name (its stored name, or the name
            decrypted with the client's encryption key), else ``2`` if it has the same
            content, else ``False``.

        Sends ``GET /buckets/{id}/files/{file_id}/info``. "Same content": when the
        Bridge keeps a content ``hash`` in the entry (0.3.x compared it), that hash is
        compared with ``RIPEMD160(SHA256(file))``. This package's uploads (and
        libstorj's) keep no plaintext hash — only an HMAC keyed with the file key over
        the encrypted shards — so otherwise the sizes are compared and, when they are
        equal, the stored file is downloaded and verified (as ``download_file``,
        needing the encryption key) and its SHA-256 compared with the local file's.
        The local file is read in 1 MiB pieces, never whole (0.3.x read it into memory).

        :raises NotFoundError: ``file_id`` does not exist.
        :raises EncryptionKeyError: a download was needed and the client has no
            encryption key.
        :raises IntegrityError, TransferError: that download failed.
        :raises OSError: ``filepath`` cannot be read.
        """
        name = os.path.basename(os.fspath(filepath))
        if file_id is None:
            return 1 if _find_by_name(self, bucket_id, name) else False
        entry = self.file_metadata(bucket_id, file_id)
        if name in (entry.filename, entry.stored_name):
            return 1
        legacy_hash, sha256_hex = _file_digests(filepath)
        if entry.hash:
            return 2 if entry.hash.lower() == legacy_hash else False
        if entry.size is None or entry.size != os.path.getsize(filepath):
            return False
        sink = _HashingSink()
        self.download_file(bucket_id, file_id, cast("IO[bytes]", sink))
        return 2 if sink.digest.hexdigest() == sha256_hex else False


def _find_by_name(client: _ClientCore, bucket_id: str, name: str) -> bool:
    """Whether the bucket has an entry called ``name``: :meth:`Client.file_id_by_name`
    tries the name as libstorj stores it (encrypted with the client's key), then as plain
    text (0.3.x and keyless clients)."""
    try:
        client.file_id_by_name(bucket_id, name)
    except NotFoundError:
        return False
    return True

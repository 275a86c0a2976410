"""Storj downloader module: 0.3.x's :class:`Downloader`, downloading through the engine.

``Downloader(email, password).download_begin(bucket_id, file_id)`` keeps 0.3.x's
names and its default destination (``~/<file name>``) and downloads with
:meth:`storj.http.Client.download_file`: every shard is verified against its hash,
lost shards are rebuilt from parity, the file's HMAC and size are checked and it is
decrypted with the mnemonic, so files uploaded by libstorj, the CLI or
:class:`storj.uploader.Uploader` can be read.

Differences from 0.3.x, and why:

* an existing file is **never overwritten**: :class:`~storj.exception.TransferError`
  is raised and nothing is written (0.3.x replaced it silently);
* the name used under ``~`` is the stored name's last path component (a name from
  the Bridge must not choose where a file is written), or the file id when the name
  cannot be decrypted;
* ``destination=`` chooses the path (or a directory to put the file in);
* the steps 0.3.x exposed as methods (``shard_download``, ``retrieve_shard_file``,
  ``finish_download``) are done by the engine and are not methods here;
  :meth:`Downloader.set_file_metadata` and :meth:`Downloader.get_file_pointers_count`
  are kept;
* it **returns** the path written; failures raise this package's exceptions (0.3.x
  logged them and returned ``True``);
* files that 0.3.x itself uploaded (AES-CBC under the password hash) are not
  decrypted: :class:`storj.file_crypto.FileCrypto` reads those (see its docstring).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import TYPE_CHECKING

from storj.exception import BridgeResponseError, TransferError
from storj.uploader import legacy_client

if TYPE_CHECKING:
    import storj.http
    from storj.model import File, Frame

__all__ = ["Downloader", "safe_file_name"]


def safe_file_name(name: str | None, fallback: str) -> str:
    """``name``'s last path component, or ``fallback`` if that is empty, ``.`` or ``..``.

    >>> from storj.downloader import safe_file_name
    >>> safe_file_name("../../etc/passwd", "id")
    'passwd'
    >>> safe_file_name("..", "5f4a")
    '5f4a'
    """
    base = os.path.basename((name or "").replace("\\", "/").rstrip("/"))
    if base in ("", ".", "..") or "\x00" in base:
        return fallback
    return base


class Downloader:
    """Download files from a bucket (0.3.x's class, on this package's engine).

    :param email: Bridge user.
    :param password: the account password.
    :param timeout: seconds for Bridge requests and each farmer transfer; ``None``:
        the defaults.
    :param storj_bridge: Bridge URL; default: the configured one.
    :param encryption_key: BIP39 mnemonic; default ``$STORJ_ENCRYPTION_KEY`` or the
        configuration file's.

    The downloader owns its :attr:`client`: :meth:`close` it, or use a ``with`` block.
    """

    #: 0.3.x's constants, kept for code that reads them (the engine has its own retries).
    MAX_RETRIES_DOWNLOAD_FROM_SAME_FARMER = 3
    MAX_RETRIES_GET_FILE_POINTERS = 10

    def __init__(
        self,
        email: str,
        password: str,
        timeout: float | None = None,
        *,
        storj_bridge: str | None = None,
        encryption_key: str | None = None,
    ) -> None:
        self.timeout = timeout
        #: The :class:`storj.http.Client` used for every call.
        self.client: storj.http.Client = legacy_client(
            email, password, timeout, storj_bridge, encryption_key
        )

    def __repr__(self) -> str:
        return f"Downloader(email={self.client.email!r}, bridge={self.client.api_url!r})"

    def __enter__(self) -> Downloader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def file_name(self, bucket_id: str, metadata: File) -> str:
        """The plain name of a file entry: :class:`~storj.http.Client` already decrypts it
        when it has the mnemonic; a name that does not decrypt is used as stored."""
        return metadata.filename or ""

    def set_file_metadata(self, bucket_id: str, file_id: str) -> File:
        """Read the file's entry (``GET /buckets/{id}/files/{file_id}/info``) and keep it.

        Sets :attr:`filename_from_bridge` (the plain name, see :meth:`file_name`) and
        :attr:`file_frame` (the entry's :class:`storj.model.Frame`), as 0.3.x did, and
        returns the entry. Differs from 0.3.x: errors raise instead of being logged.
        """
        metadata = self.client.file_metadata(bucket_id, file_id)
        self.filename_from_bridge: str = self.file_name(bucket_id, metadata)
        self.file_frame: Frame | None = metadata.frame
        return metadata

    def get_file_pointers_count(self, bucket_id: str, file_id: str) -> int:
        """The number of shards of the file, parity included (``GET /frames/{frame_id}``).

        :raises BridgeResponseError: the entry names no frame.
        """
        frame = self.set_file_metadata(bucket_id, file_id).frame
        if frame is None or not frame.id:
            raise BridgeResponseError(
                f"file {file_id} has no frame in its entry; the Bridge answer is incomplete"
            )
        return len(self.client.frame_get(frame.id).shards)

    def download_begin(
        self,
        bucket_id: str,
        file_id: str,
        destination: str | os.PathLike[str] | None = None,
    ) -> str:
        """Download a file; return the path written.

        Sends ``GET /buckets/{id}/files/{file_id}/info``, then what
        :meth:`storj.http.Client.download_file` sends.

        :param destination: the file to write, or an existing directory to write
            ``<file name>`` into; ``None`` (0.3.x's behaviour): ``~/<file name>``.
        :returns: the path of the downloaded file.
        :raises TransferError: the destination already exists (nothing is written), or
            the file could not be downloaded.
        :raises EncryptionKeyError: no mnemonic is configured.
        :raises NotFoundError: no such bucket or file.
        :raises IntegrityError: the data failed its HMAC or size check.
        """
        if destination is None or os.path.isdir(destination):
            metadata = self.client.file_metadata(bucket_id, file_id)
            name = safe_file_name(self.file_name(bucket_id, metadata), file_id)
            folder = os.path.expanduser("~") if destination is None else os.fspath(destination)
            path = os.path.join(folder, name)
        else:
            path = os.fspath(destination)
        if os.path.lexists(path):
            raise _exists(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, partial = tempfile.mkstemp(prefix=".storj-download-", dir=folder)
        os.close(fd)
        try:
            self.client.download_file(bucket_id, file_id, partial)
            _publish(partial, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
        return path


def _exists(path: str) -> TransferError:
    return TransferError(
        f"{path} already exists; remove it or pass another destination= "
        "(the Downloader never overwrites a file)"
    )


def _publish(partial: str, path: str) -> None:
    """Give the downloaded file its name, failing (not replacing) if the name was taken."""
    try:
        os.link(partial, path)
    except FileExistsError:
        raise _exists(path) from None
    except OSError:  # a file system without hard links: check, then rename
        if os.path.lexists(path):
            raise _exists(path) from None
        os.replace(partial, path)

"""Storj uploader module: 0.3.x's :class:`Uploader`, uploading through the transfer engine.

``Uploader(email, password).file_upload(bucket_id, file_path, tmp_file_path)`` keeps
0.3.x's names and arguments and uploads with :meth:`storj.http.Client.upload_file`,
i.e. as libstorj does: AES-256-CTR under keys derived from the BIP39 mnemonic,
Reed–Solomon parity, a real HMAC, farmers excluded and replaced when they fail,
and the entry's name encrypted.

Differences from 0.3.x, and why:

* the **encryption key** is the mnemonic (``encryption_key=``, else
  ``$STORJ_ENCRYPTION_KEY``, else the configuration file's ``encryption_key``), not
  the account password's SHA-256 hex, which 0.3.x used: that value is sent to the
  Bridge with every request, so anyone holding the Bridge credential could decrypt
  every file, and libstorj and the CLI cannot read such files;
* :meth:`Uploader.file_upload` **returns** the created :class:`storj.model.File`
  (0.3.x returned ``None`` and discarded the file id);
* failures **raise** this package's exceptions (:mod:`storj.exception`) instead of
  logging and calling ``exit(1)`` in the middle of the caller's process;
* the steps 0.3.x exposed as methods (``upload_shard``, ``require_upload``, the HMAC
  helpers) are done by the engine and are not methods here;
* ``tmp_file_path`` is only where temporary files go (the engine writes just the
  parity shards, or an encrypted copy for a source that is not a regular file,
  and removes them); 0.3.x wrote an encrypted copy and every chunk there and left
  the chunks behind.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from storj.exception import EncryptionKeyError

if TYPE_CHECKING:
    import storj.http
    from storj.model import File
    from storj.transfer import TransferConfig

__all__ = ["Uploader"]


def legacy_client(
    email: str,
    password: str,
    timeout: float | None,
    storj_bridge: str | None,
    encryption_key: str | None,
) -> storj.http.Client:
    """The client a 0.3.x Uploader/Downloader builds: given values, else the configuration.

    The Bridge URL is ``storj_bridge``, else the configured one (environment / INI file),
    else the client's default; the encryption key likewise. ``timeout=None`` keeps the
    client's default timeout.
    """
    from storj.configuration import read_settings
    from storj.http import Client

    settings = read_settings(require_credentials=False)
    bridge = storj_bridge or settings.bridge_url
    key = encryption_key or settings.encryption_key
    if timeout is None:
        return Client(email, password, bridge, encryption_key=key)
    return Client(email, password, bridge, timeout=timeout, encryption_key=key)


class Uploader:
    """Upload files to a bucket (0.3.x's class, on this package's engine).

    :param email: Bridge user.
    :param password: the account password (hashed by the client before it is sent).
    :param timeout: seconds for Bridge requests and for each farmer transfer
        (:attr:`storj.transfer.TransferConfig.timeout`); ``None``: the defaults
        (0.3.x computed one from the first shard's size at 1 Mbit/s and overwrote
        the client's timeout with it).
    :param max_retries_contract_negotiation: contract negotiations per shard
        (:attr:`~storj.transfer.TransferConfig.max_push_attempts`); each failed farmer is
        excluded from the next one (0.3.x could be offered the same farmer again).
    :param max_retries_upload_same_farmer: kept as an attribute only: the engine
        never retries the same farmer, it asks the Bridge for another one (a farmer
        that failed once is likely to fail again), so this has no effect.
    :param storj_bridge: Bridge URL (0.3.14's keyword); default: the configured one.
    :param encryption_key: BIP39 mnemonic; default ``$STORJ_ENCRYPTION_KEY`` or the
        configuration file's. Never the password (see the module docstring).

    The uploader owns its :attr:`client`: :meth:`close` it, or use a ``with`` block.
    """

    def __init__(
        self,
        email: str,
        password: str,
        timeout: float | None = None,
        max_retries_contract_negotiation: int = 10,
        max_retries_upload_same_farmer: int = 3,
        *,
        storj_bridge: str | None = None,
        encryption_key: str | None = None,
    ) -> None:
        for name, value in (
            ("max_retries_contract_negotiation", max_retries_contract_negotiation),
            ("max_retries_upload_same_farmer", max_retries_upload_same_farmer),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, not {value!r}")
        self.timeout = timeout
        self.max_retries_contract_negotiation = max_retries_contract_negotiation
        self.max_retries_upload_same_farmer = max_retries_upload_same_farmer
        #: The :class:`storj.http.Client` used for every call.
        self.client: storj.http.Client = legacy_client(
            email, password, timeout, storj_bridge, encryption_key
        )

    def __repr__(self) -> str:
        return f"Uploader(email={self.client.email!r}, bridge={self.client.api_url!r})"

    def __enter__(self) -> Uploader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def transfer_config(
        self, tmp_file_path: str | os.PathLike[str] | None = None
    ) -> TransferConfig:
        """The :class:`~storj.transfer.TransferConfig` this uploader's settings give."""
        from storj.transfer import TransferConfig

        defaults = TransferConfig()
        return TransferConfig(
            max_push_attempts=self.max_retries_contract_negotiation,
            timeout=float(self.timeout) if self.timeout is not None else defaults.timeout,
            tmp_dir=os.fspath(tmp_file_path) if tmp_file_path is not None else defaults.tmp_dir,
        )

    def file_upload(
        self,
        bucket_id: str,
        file_path: str | os.PathLike[str],
        tmp_file_path: str | os.PathLike[str] | None = None,
    ) -> File:
        """Upload ``file_path`` into the bucket under its base name; return the entry.

        Sends ``POST /frames``, ``PUT /frames/{id}`` per shard, the shards to the
        farmers, and ``POST /buckets/{id}/files`` (see
        :meth:`storj.http.Client.upload_file`). The MIME type is guessed from the
        name (0.3.x always sent ``text/plain``).

        :param tmp_file_path: directory for the engine's temporary files (must exist);
            ``None``: the system's temporary directory.
        :returns: the created :class:`storj.model.File` (0.3.x: ``None``).
        :raises EncryptionKeyError: no mnemonic is configured.
        :raises ConflictError: the bucket already has a file of that name.
        :raises TransferError: a shard could not be stored on any farmer.
        :raises BridgeError: the Bridge refused a request.
        :raises OSError: the file cannot be read.
        """
        if not self.client.encryption_key:
            raise EncryptionKeyError(
                "Uploader needs a BIP39 mnemonic to encrypt files (0.3.x's use of the "
                "password hash was insecure): pass encryption_key='<12-24 words>' or set "
                "STORJ_ENCRYPTION_KEY (make one with storj.crypto.generate_mnemonic())"
            )
        if tmp_file_path is not None and not os.path.isdir(tmp_file_path):
            where = os.fspath(tmp_file_path)
            raise FileNotFoundError(f"tmp_file_path {where!r} is not a directory; create it first")
        return self.client.upload_file(
            bucket_id,
            file_path,
            name=os.path.basename(os.fspath(file_path)),
            config=self.transfer_config(tmp_file_path),
        )

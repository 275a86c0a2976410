"""Storj managers module: the 0.1.x–0.3.x package-level managers on the real client.

:class:`BucketKeyManager`, :class:`FileManager` and :class:`UserKeyManager` are
re-exported as ``storj.BucketKeyManager`` etc. (where 0.x had them). Like
:class:`storj.BucketManager` they use the client of the configuration
(:func:`storj.get_client`'s settings: environment first, then the INI file),
shared between calls so connections are reused; 0.x built a new client per call.

In 0.x all of them but ``BucketManager.delete`` failed (wrong arguments, missing
client methods); each method below says what it sends and how it differs.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any, overload

from storj.exception import NotFoundError

if TYPE_CHECKING:
    import storj.http
    from storj.model import Bucket, File, Frame

__all__ = ["BucketKeyManager", "FileManager", "UserKeyManager"]


def _client() -> storj.http.Client:
    from storj import _shared_client

    return _shared_client()


def _key_hex(key: Any) -> str:
    """A public key as the hex string the Bridge stores (see :func:`storj.api.ecdsa_to_hex`)."""
    from storj.api import ecdsa_to_hex

    try:
        return ecdsa_to_hex(key)
    except (TypeError, AttributeError) as exc:
        raise ValueError(
            f"not a public key: {type(key).__name__}; pass a hex string, SEC1 bytes or "
            "an ecdsa/cryptography public key"
        ) from exc


class BucketKeyManager:
    """The public keys allowed to act on one bucket (``pubkeys`` of the bucket).

    :param bucket: a :class:`storj.model.Bucket` or a bucket id.
    :param authorized_public_keys: the bucket's current keys; ``None`` (default)
        reads them from the Bridge (``GET /buckets/{id}``) on first use.

    Every change sends the whole list with ``PATCH /buckets/{id}`` ``{"pubkeys": […]}``
    and keeps the list the Bridge answers. Differs from 0.x: ``clear`` and
    ``remove`` work (0.x called ``bucket_set_keys`` without its ``bucket_name``
    argument), keys are stored in the Bridge's hex form, and adding a key already
    present does not duplicate it.
    """

    def __init__(
        self, bucket: Bucket | str, authorized_public_keys: Iterable[Any] | None = None
    ) -> None:
        from storj.model import Bucket

        self.bucket: Bucket = bucket if isinstance(bucket, Bucket) else Bucket(id=bucket)
        if not self.bucket.id:
            raise ValueError("the bucket has no id; pass a Bucket from the Bridge or its id")
        self._keys: list[str] | None = (
            None
            if authorized_public_keys is None
            else [_key_hex(key) for key in authorized_public_keys]
        )

    def __repr__(self) -> str:
        return f"BucketKeyManager(bucket={self.bucket.id!r})"

    def _current(self) -> list[str]:
        if self._keys is None:
            assert self.bucket.id is not None
            self._keys = list(_client().bucket_get(self.bucket.id).pubkeys or [])
        return self._keys

    def _send(self, keys: list[str]) -> None:
        assert self.bucket.id is not None
        updated = _client().bucket_set_keys(self.bucket.id, self.bucket.name, keys)
        self._keys = list(updated.pubkeys if updated.pubkeys is not None else keys)

    def all(self) -> list[str]:
        """The bucket's public keys (hex) as last sent or read (a copy)."""
        return list(self._current())

    def add(self, key: Any) -> None:
        """Allow ``key`` (hex string or key object) on the bucket; no-op if already there."""
        value = _key_hex(key)
        keys = self._current()
        if value not in keys:
            self._send([*keys, value])

    def clear(self) -> None:
        """Remove every key from the bucket (``{"pubkeys": []}``)."""
        self._send([])

    def remove(self, key: Any) -> None:
        """Remove ``key`` from the bucket.

        :raises NotFoundError: the key is not one of the bucket's keys (0.x raised
            ``ValueError`` from ``list.remove``); nothing is sent.
        """
        value = _key_hex(key)
        keys = self._current()
        if value not in keys:
            raise NotFoundError(
                message=f"key {value[:16]}… is not authorized on bucket {self.bucket.id}; "
                "see BucketKeyManager.all()"
            )
        self._send([k for k in keys if k != value])


class FileManager:
    """The files of one bucket.

    :param bucket_id: bucket unique identifier.
    """

    def __init__(self, bucket_id: str) -> None:
        if not isinstance(bucket_id, str) or not bucket_id:
            raise ValueError("bucket_id must be a non-empty string")
        self.bucket_id = bucket_id

    def __repr__(self) -> str:
        return f"FileManager(bucket_id={self.bucket_id!r})"

    def all(self) -> list[File]:
        """Every file of the bucket (``GET /buckets/{id}/files``) as :class:`storj.model.File`.

        Differs from 0.x, which called a client method that did not exist.
        """
        from storj.model import File

        return [
            item if isinstance(item, File) else File.from_json(item)
            for item in _client().bucket_files(self.bucket_id)
        ]

    def delete(self, file_id: str) -> None:
        """Delete a file (``DELETE /buckets/{id}/files/{file_id}``).

        Differs from 0.x: takes the file id only (0.x's ``delete(bucket_id, file_id)``
        passed the manager itself as an extra argument and failed).
        """
        _client().file_remove(self.bucket_id, file_id)

    @overload
    def download(self, file_id: str, destination: None = None) -> io.BytesIO: ...

    @overload
    def download(self, file_id: str, destination: str | os.PathLike[str] | IO[bytes]) -> File: ...

    def download(
        self, file_id: str, destination: str | os.PathLike[str] | IO[bytes] | None = None
    ) -> io.BytesIO | File:
        """Download, verify and decrypt a file (:meth:`storj.http.Client.download_file`).

        :param destination: a path or a writable binary file; ``None`` (default)
            downloads into memory and returns an :class:`io.BytesIO` positioned at 0
            (as 0.1.x's ``file_download``, which left it at the end).
        :returns: the ``BytesIO``, or the :class:`storj.model.File` record when a
            destination was given.

        Differs from 0.x, whose ``download`` never worked.
        """
        if destination is None:
            buffer = io.BytesIO()
            _client().download_file(self.bucket_id, file_id, buffer)
            buffer.seek(0)
            return buffer
        return _client().download_file(self.bucket_id, file_id, destination)

    def upload(
        self,
        file: str | os.PathLike[str] | IO[bytes] | File,
        frame: Frame | str | None = None,
        *,
        name: str | None = None,
        mimetype: str | None = None,
        overwrite: bool = False,
    ) -> File:
        """Encrypt, shard and upload a file into the bucket; return the new entry.

        :param file: a path, a readable binary file, or a :class:`storj.model.File`
            naming a local file.
        :param frame: 0.x's staging frame (a :class:`storj.model.Frame` or its id);
            when given the upload uses it (:meth:`storj.http.Client.file_upload`),
            else a new one (:meth:`storj.http.Client.upload_file`, where ``name``,
            ``mimetype`` and ``overwrite`` apply).

        Differs from 0.x, which uploaded nothing and returned ``None``.
        """
        client = _client()
        if frame is not None:
            return client.file_upload(self.bucket_id, file, frame)
        from storj.model import File

        if isinstance(file, File):
            return client.file_upload(self.bucket_id, file, None)
        return client.upload_file(
            self.bucket_id, file, name=name, mimetype=mimetype, overwrite=overwrite
        )


class UserKeyManager:
    """The public keys of the configured user (static methods, ``/keys`` routes).

    0.x declared it a subclass of ``abc.ABCMeta`` by mistake; it is a plain class.
    """

    @staticmethod
    def all() -> list[str]:
        """The user's registered public keys, hex (``GET /keys``).

        Differs from 0.x, which called a client method that did not exist.
        """
        return _client().key_list()

    @staticmethod
    def add(key: Any) -> None:
        """Register a public key (``POST /keys``): hex string or key object.

        Differs from 0.x, which only registered key objects and silently ignored strings.
        """
        _client().key_register(_key_hex(key))

    @staticmethod
    def clear() -> None:
        """Delete every registered key (``DELETE /keys/{key}`` for each)."""
        client = _client()
        for key in client.key_list():
            client.key_delete(key)

    @staticmethod
    def remove(key: Any) -> None:
        """Delete one registered key (``DELETE /keys/{key}``).

        :raises NotFoundError: the Bridge has no such key.
        """
        _client().key_delete(_key_hex(key))

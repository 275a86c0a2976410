"""Bucket and file names as libstorj handles them, over a :class:`storj.http.Client`.

libstorj never sends a plaintext bucket or file name to the Bridge: the name is
encrypted with AES-256-GCM under a key derived from the user's mnemonic
(``bridge-protocol.md`` §8.3), deterministically, so the same name always maps to
the same stored string (and so to the same deterministic id). This module does the
same, so buckets and files made here show their names in libstorj and the other way
round:

* :func:`create_bucket` sends ``POST /buckets {"name": <encrypted name>}``;
* :func:`list_buckets` / :func:`list_files` call ``GET /buckets`` /
  ``GET /buckets/:id/files`` and decrypt each name, keeping the stored name when it
  does not decrypt with this key (made by another tool, or with another mnemonic);
* :func:`find_bucket_id` asks ``GET /bucket-ids/:encrypted-name`` and falls back to
  listing the buckets (older Bridges do not have the route, and buckets made by other
  tools may carry plaintext names); :func:`find_file_id` does the same with
  ``GET /buckets/:id/file-ids/:encrypted-name``;
* :func:`delete_bucket` refuses a bucket that still holds files unless ``force``.

Nothing here prints or prompts; errors are :mod:`storj.exception` classes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storj import crypto
from storj.exception import ConflictError, NotFoundError, StorjError

__all__ = [
    "BucketNotEmptyError",
    "NamedBucket",
    "NamedFile",
    "create_bucket",
    "decrypt_bucket_name",
    "decrypt_file_name",
    "delete_bucket",
    "encrypt_bucket_name",
    "encrypt_file_name",
    "find_bucket",
    "find_bucket_id",
    "find_file",
    "find_file_id",
    "list_buckets",
    "list_files",
]


class BucketNotEmptyError(ConflictError):
    """The bucket still holds files; delete them first or pass ``force``.

    :ivar bucket_id: the bucket that was not deleted.
    :ivar file_count: how many files it holds.
    """

    bucket_id: str | None = None
    file_count: int = 0


@dataclass(frozen=True)
class NamedBucket:
    """A bucket with its name as the user knows it.

    :ivar id: the bucket id (24 hex).
    :ivar name: the decrypted name, or the stored name when it did not decrypt.
    :ivar decrypted: whether ``name`` was decrypted with the encryption key.
    :ivar created: creation time (aware UTC) if the Bridge sent one.
    :ivar record: the :class:`storj.model.Bucket` the Bridge returned.
    """

    id: str
    name: str
    decrypted: bool
    created: datetime | None = None
    record: Any = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Stable JSON form: ``{"id", "name", "decrypted", "created"}``."""
        return {
            "id": self.id,
            "name": self.name,
            "decrypted": self.decrypted,
            "created": _iso(self.created),
        }


@dataclass(frozen=True)
class NamedFile:
    """A file (bucket entry) with its decrypted name.

    :ivar id: the file id (24 hex).
    :ivar bucket_id: the bucket it belongs to.
    :ivar name: the decrypted name, or the stored name when it did not decrypt.
    :ivar decrypted: whether ``name`` was decrypted with the encryption key.
    :ivar size: size in bytes (of the original file).
    :ivar mimetype: the stored MIME type.
    :ivar created: creation time (aware UTC) if the Bridge sent one.
    :ivar record: the :class:`storj.model.File` the Bridge returned.
    """

    id: str
    bucket_id: str
    name: str
    decrypted: bool
    size: int | None = None
    mimetype: str | None = None
    created: datetime | None = None
    record: Any = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Stable JSON form: ``{"id", "bucket", "name", "decrypted", "size", "mimetype",
        "created"}``."""
        return {
            "id": self.id,
            "bucket": self.bucket_id,
            "name": self.name,
            "decrypted": self.decrypted,
            "size": self.size,
            "mimetype": self.mimetype,
            "created": _iso(self.created),
        }


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def _field(record: Any, *names: str) -> Any:
    """Read the first present field of a model (attribute or mapping access)."""
    for name in names:
        value = getattr(record, name, None)
        if value is None and hasattr(record, "get"):
            try:
                value = record.get(name)
            except Exception:  # noqa: BLE001 - a model without mapping access
                value = None
        if value is not None:
            return value
    return None


# -- name encryption (delegates to storj.crypto; key None means "names are plaintext") ------


def encrypt_bucket_name(key: Any, name: str) -> str:
    """The stored form of a bucket name: encrypted with ``key``, or ``name`` itself when ``key``
    is ``None``."""
    if key is None:
        return name
    return crypto.encrypt_bucket_name(key, name)


def decrypt_bucket_name(key: Any, stored: str) -> tuple[str, bool]:
    """``(name, True)``, or ``(stored, False)`` when the stored name does not decrypt."""
    if key is None or not stored:
        return stored, False
    try:
        name = crypto.decrypt_bucket_name(key, stored)
    except (StorjError, ValueError, TypeError):
        name = None
    return (stored, False) if name is None else (name, True)


def encrypt_file_name(key: Any, bucket_id: str, name: str) -> str:
    """The stored form of a file name in ``bucket_id`` (plaintext when ``key`` is ``None``)."""
    if key is None:
        return name
    return crypto.encrypt_file_name(key, bucket_id, name)


def decrypt_file_name(key: Any, bucket_id: str, stored: str) -> tuple[str, bool]:
    """``(name, True)`` for a stored file name, or ``(stored, False)`` if it does not decrypt."""
    if key is None or not stored:
        return stored, False
    try:
        name = crypto.decrypt_file_name(key, bucket_id, stored)
    except (StorjError, ValueError, TypeError):
        name = None
    return (stored, False) if name is None else (name, True)


# -- buckets ------------------------------------------------------------------------------


def _named_bucket(key: Any, record: Any) -> NamedBucket:
    stored = _field(record, "name") or ""
    name, ok = decrypt_bucket_name(key, stored)
    return NamedBucket(
        id=_field(record, "id"),
        name=name,
        decrypted=ok,
        created=_field(record, "created"),
        record=record,
    )


def create_bucket(client: Any, name: str, key: Any) -> NamedBucket:
    """Create a bucket named ``name`` the libstorj way.

    Sends ``POST /buckets {"name": <encrypted name>}``; the Bridge derives the id from the
    stored (encrypted) name, so the same name cannot be created twice.

    :raises ConflictError: a bucket with this name exists.
    :raises ValueError: ``name`` is empty.
    """
    if not name:
        raise ValueError("a bucket name cannot be empty")
    record = client.bucket_create(encrypt_bucket_name(key, name))
    named = _named_bucket(key, record)
    if named.name != name:  # the Bridge echoes the stored name; show the user's
        named = NamedBucket(named.id, name, key is not None, named.created, record)
    return named


def list_buckets(client: Any, key: Any) -> list[NamedBucket]:
    """All of the user's buckets (``GET /buckets``) with decrypted names."""
    return [_named_bucket(key, record) for record in client.bucket_list()]


def find_bucket(client: Any, name: str, key: Any) -> NamedBucket:
    """The bucket called ``name`` (its decrypted or plaintext name), found by listing."""
    for bucket in list_buckets(client, key):
        if bucket.name == name:
            return bucket
    raise NotFoundError(
        f"no bucket named {name!r}; list them with `storj ls`", status_code=404
    )


def find_bucket_id(client: Any, name: str, key: Any) -> str:
    """The id of the bucket called ``name``.

    Asks ``GET /bucket-ids/:encrypted-name`` first (one request); when that route is missing
    or answers 404, lists the buckets and compares decrypted names (which also finds buckets
    made with plaintext names by other tools).

    :raises NotFoundError: no such bucket.
    """
    lookup = getattr(client, "bucket_id_by_name", None)
    if lookup is not None:
        try:
            found = lookup(encrypt_bucket_name(key, name))
        except NotFoundError:
            found = None
        if found:
            return found if isinstance(found, str) else _field(found, "id")
    return find_bucket(client, name, key).id


def delete_bucket(client: Any, bucket_id: str, *, force: bool = False) -> None:
    """Delete a bucket (``DELETE /buckets/:id``).

    Without ``force`` the bucket's files are listed first (``GET /buckets/:id/files``) and
    a bucket that still holds any is refused; the Bridge itself would silently drop them.

    :raises BucketNotEmptyError: the bucket holds files and ``force`` is false.
    :raises NotFoundError: no such bucket.
    """
    if not force:
        files = list(client.bucket_files(bucket_id))
        if files:
            error = BucketNotEmptyError(
                f"bucket {bucket_id} still holds {len(files)} file(s); "
                "remove them first or use --force",
                status_code=409,
            )
            error.bucket_id, error.file_count = bucket_id, len(files)
            raise error
    client.bucket_delete(bucket_id)


# -- files --------------------------------------------------------------------------------


def _named_file(key: Any, bucket_id: str, record: Any) -> NamedFile:
    stored = _field(record, "filename", "name") or ""
    name, ok = decrypt_file_name(key, bucket_id, stored)
    size = _field(record, "size")
    return NamedFile(
        id=_field(record, "id"),
        bucket_id=bucket_id,
        name=name,
        decrypted=ok,
        size=int(size) if size is not None else None,
        mimetype=_field(record, "mimetype"),
        created=_field(record, "created"),
        record=record,
    )


def iter_files(client: Any, bucket_id: str, key: Any) -> Iterator[NamedFile]:
    """The files of a bucket (``GET /buckets/:id/files``) with decrypted names, lazily."""
    for record in client.bucket_files(bucket_id):
        yield _named_file(key, bucket_id, record)


def list_files(client: Any, bucket_id: str, key: Any) -> list[NamedFile]:
    """All files of a bucket (``GET /buckets/:id/files``) with decrypted names.

    :raises NotFoundError: no such bucket.
    """
    return list(iter_files(client, bucket_id, key))


def find_file(client: Any, bucket_id: str, name: str, key: Any) -> NamedFile:
    """The file called ``name`` in a bucket, found by listing."""
    for entry in iter_files(client, bucket_id, key):
        if entry.name == name:
            return entry
    raise NotFoundError(
        f"no file named {name!r} in bucket {bucket_id}; list them with `storj ls storj://BUCKET/`",
        status_code=404,
    )


def find_file_id(client: Any, bucket_id: str, name: str, key: Any) -> str:
    """The id of the file called ``name`` in ``bucket_id``.

    Asks ``GET /buckets/:id/file-ids/:encrypted-name`` first and falls back to listing
    the bucket's files.

    :raises NotFoundError: no such file (or bucket).
    """
    lookup = getattr(client, "file_id_by_name", None)
    if lookup is not None:
        try:
            found = lookup(bucket_id, encrypt_file_name(key, bucket_id, name))
        except NotFoundError:
            found = None
        if found:
            return found if isinstance(found, str) else _field(found, "id")
    return find_file(client, bucket_id, name, key).id

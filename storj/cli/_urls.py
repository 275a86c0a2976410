"""``storj://BUCKET/NAME`` URLs: parsing and name arithmetic for ``cp``/``ls``/``rm``.

Pure functions; they raise :class:`ValueError` with a message that says what is
wrong, and the commands turn it into a usage error (exit 2).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import PurePosixPath

SCHEME = "storj://"


@dataclass(frozen=True)
class StorjUrl:
    """A parsed ``storj://`` URL.

    :ivar bucket: the bucket name (never empty).
    :ivar name: the file name inside the bucket; ``""`` for the bucket itself.
        A name ending in ``/`` is a prefix ("folder").
    """

    bucket: str
    name: str = ""

    @property
    def is_bucket(self) -> bool:
        """True when the URL names the bucket itself (``storj://b`` or ``storj://b/``)."""
        return self.name == ""

    @property
    def is_prefix(self) -> bool:
        """True when the URL names the bucket or a "folder" in it (empty or ends in ``/``)."""
        return self.name == "" or self.name.endswith("/")

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.name}"


def is_storj_url(text: str) -> bool:
    """True if ``text`` starts with ``storj://`` (case-insensitive scheme)."""
    return text[: len(SCHEME)].lower() == SCHEME


def parse_storj_url(text: str) -> StorjUrl:
    """Parse ``storj://BUCKET``, ``storj://BUCKET/`` or ``storj://BUCKET/NAME``.

    :raises ValueError: not a ``storj://`` URL, or the bucket name is missing.
    """
    if not is_storj_url(text):
        raise ValueError(f"{text!r} is not a storj:// URL (expected storj://BUCKET/NAME)")
    rest = text[len(SCHEME) :]
    bucket, _, name = rest.partition("/")
    if not bucket:
        raise ValueError(f"{text!r} has no bucket name (expected storj://BUCKET/NAME)")
    return StorjUrl(bucket=bucket, name=name)


def remote_name_for(url: StorjUrl, local_name: str, *, single: bool) -> str:
    """The file name to store a local file under when copying it to ``url``.

    ``local_name`` is the file's base name, or its relative path (with ``/``) for a
    recursive copy. A URL naming a file (no trailing ``/``) is used as is when exactly one
    file is copied; otherwise the local name is appended to the URL's prefix.

    :raises ValueError: several files were copied to a URL naming one file.
    """
    if not url.is_prefix:
        if not single:
            raise ValueError(
                f"{url} names one file; end it with / to copy several files into it"
            )
        return url.name
    return url.name + local_name


def safe_relative_path(name: str) -> PurePosixPath:
    """A stored file name as a relative path that stays inside a destination directory.

    Leading slashes and ``.`` parts are dropped.

    :raises ValueError: the name is empty or climbs out with ``..``.
    """
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts:
        raise ValueError(f"cannot make a local file name from {name!r}")
    if ".." in parts:
        raise ValueError(f"refusing the stored name {name!r}: it contains '..'")
    return PurePosixPath(*parts)


def strip_prefix(name: str, prefix: str) -> str:
    """``name`` relative to the "folder" ``prefix`` (which is ``""`` or ends in ``/``)."""
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


def base_name(name: str) -> str:
    """The last path component of a stored name (``a/b/c.txt`` → ``c.txt``)."""
    return posixpath.basename(name.rstrip("/")) or name

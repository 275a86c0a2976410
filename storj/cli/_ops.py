"""Operations shared by the unix-style and id-style commands (listing, transfers)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from storj import catalog
from storj.catalog import NamedBucket, NamedFile
from storj.cli._context import CliContext
from storj.cli._output import (
    CommandError,
    echo_json,
    format_time,
    human_size,
    json_default,
    table,
)
from storj.cli._progress import ProgressBar
from storj.cli._transfers import download, upload
from storj.exception import NotFoundError


def info(obj: CliContext, message: str) -> None:
    """An informational line on stdout (suppressed by ``-q``)."""
    if not obj.quiet:
        click.echo(message)


# -- listings -----------------------------------------------------------------------------


def print_buckets(buckets: Sequence[NamedBucket], as_json: bool) -> None:
    if as_json:
        echo_json([b.to_json() for b in buckets])
        return
    rows = [(b.id, format_time(b.created), b.name) for b in buckets]
    click.echo(table(rows, ("ID", "CREATED", "NAME")))


def print_files(files: Sequence[NamedFile], as_json: bool) -> None:
    if as_json:
        echo_json([f.to_json() for f in files])
        return
    rows = [(f.id, human_size(f.size), f.mimetype or "-", f.name) for f in files]
    click.echo(table(rows, ("ID", "SIZE", "TYPE", "NAME")))


def _get(record: Any, name: str) -> Any:
    value = getattr(record, name, None)
    if value is None and hasattr(record, "get"):
        value = record.get(name)
    return value


def mirrors_json(mirrors: Sequence[Any]) -> list[dict[str, Any]]:
    """One object per shard: ``{"index", "established": [...], "available": [...]}``."""
    result = []
    for index, shard in enumerate(mirrors):
        data = json_default(shard)
        if not isinstance(data, dict):
            data = {"value": data}
        result.append({"index": index, **data})
    return result


def _node_ids(entries: Any) -> list[str]:
    ids = []
    for entry in entries or []:
        contact = _get(entry, "contact") or {}
        contract = _get(entry, "contract") or {}
        node = _get(contact, "nodeID") or _get(contract, "farmer_id") or "?"
        ids.append(str(node))
    return ids


def _shard_hash(entries: Any) -> str:
    for entry in entries or []:
        value = _get(entry, "shardHash")
        if value:
            return str(value)
    return "-"


def print_mirrors(mirrors: Sequence[Any], as_json: bool) -> None:
    if as_json:
        echo_json(mirrors_json(mirrors))
        return
    rows = []
    for index, shard in enumerate(mirrors):
        established = _get(shard, "established") or []
        available = _get(shard, "available") or []
        rows.append((
            index,
            _shard_hash(established) if established else _shard_hash(available),
            len(established),
            len(available),
            ",".join(_node_ids(established)) or "-",
        ))
    click.echo(table(rows, ("SHARD", "HASH", "ESTABLISHED", "AVAILABLE", "NODES")))


# -- lookups ------------------------------------------------------------------------------


def bucket_id_for(obj: CliContext, bucket: str) -> str:
    """The id of the bucket named ``bucket`` (its decrypted or plaintext name)."""
    client = obj.client()
    try:
        return catalog.find_bucket_id(client, bucket, obj.encryption_key(required=False))
    except NotFoundError:
        raise CommandError(
            f"no bucket named {bucket!r}; list your buckets with `storj ls` "
            f"or create it with `storj mkbkt {bucket}`"
        ) from None


# -- transfers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Transferred:
    name: str
    size: int
    seconds: float
    file_id: str | None


def upload_one(
    obj: CliContext,
    bucket_id: str,
    path: Path,
    name: str,
    *,
    force: bool,
    label: str,
) -> Transferred:
    """Upload ``path`` as ``name``; refuses to replace an existing file unless ``force``.

    A replaced file is never deleted first: the upload stores the new version and then
    swaps the entry (``Client.upload_file(overwrite=True)``), so a failed or interrupted
    replacement leaves the old version in place. An old file found under another stored
    name (a plaintext name written by another tool, so another id) is removed only after
    the new version is stored.
    """
    client = obj.client()
    key = obj.encryption_key()
    if not path.is_file():
        if path.is_dir():
            raise IsADirectoryError(21, "is a directory", str(path))
        raise FileNotFoundError(2, "no such file", str(path))
    try:
        existing = catalog.find_file_id(client, bucket_id, name, key)
    except NotFoundError:
        existing = None
    if existing is not None and not force:
        raise CommandError(f"{label} already exists; use --force to replace it")
    size = path.stat().st_size
    started = time.monotonic()
    bar = ProgressBar(f"upload {label}", enabled=obj.bars)
    record = upload(client, bucket_id, path, name=name, bar=bar, overwrite=force)
    file_id = _get(record, "id")
    if existing is not None and file_id and existing != file_id:
        try:
            client.file_remove(bucket_id, existing)
        except NotFoundError:
            pass  # removed meanwhile
    return Transferred(name, size, time.monotonic() - started, file_id)


def download_one(
    obj: CliContext,
    bucket_id: str,
    file_id: str,
    destination: Path,
    *,
    force: bool,
    label: str,
) -> Transferred:
    """Download a file to ``destination`` (never half-written; no overwrite unless ``force``)."""
    if destination.exists() and not force:
        raise CommandError(f"{destination} already exists; use --force to overwrite it")
    started = time.monotonic()
    download(
        obj.client(),
        bucket_id,
        file_id,
        destination,
        bar=ProgressBar(f"download {label}", enabled=obj.bars),
        overwrite=force,
    )
    return Transferred(label, destination.stat().st_size, time.monotonic() - started, file_id)


def rate(size: int, seconds: float) -> str:
    """``12.3 MiB/s``."""
    if seconds <= 0:
        return "-"
    return f"{size / seconds / (1024 * 1024):.1f} MiB/s"

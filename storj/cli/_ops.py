"""Operations shared by the unix-style and id-style commands (listing, transfers)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from storj.cli._context import CliContext
from storj.cli._output import (
    CommandError,
    dumps,
    echo_json,
    format_time,
    human_size,
    json_default,
    table,
)
from storj.cli._progress import ProgressBar
from storj.cli._transfers import download, upload
from storj.exception import NotFoundError
from storj.model import Bucket, File
from storj.naming import display_name


def info(obj: CliContext, message: str) -> None:
    """An informational line on stdout (suppressed by ``-q``)."""
    if not obj.quiet:
        click.echo(message)


# -- listings -----------------------------------------------------------------------------


#: Rows formatted at once; a listing is printed page by page with these column widths
#: as minimums, so memory stays bounded however many entries a bucket holds.
_CHUNK = 500
_BUCKET_WIDTHS = (24, 19)
_FILE_WIDTHS = (24, 10, 24)


def _iso(value: Any) -> str | None:
    return None if value is None else str(json_default(value))


def plain_name(record: Bucket | File) -> str | None:
    """The record's name, or ``None`` when it could not be decrypted (never a name)."""
    name = record.name if isinstance(record, Bucket) else record.filename
    return None if record.name_state == "undecryptable" else name


def bucket_json(bucket: Bucket) -> dict[str, Any]:
    """Stable JSON of a bucket: ``{"id", "name", "decrypted", "name_state",
    "stored_name", "created"}``; ``name`` is ``null`` when it could not be decrypted."""
    return {
        "id": bucket.id,
        "name": plain_name(bucket),
        "decrypted": bucket.decrypted,
        "name_state": bucket.name_state,
        "stored_name": bucket.stored_name,
        "created": _iso(bucket.created),
    }


def file_json(entry: File) -> dict[str, Any]:
    """Stable JSON of a file: ``{"id", "bucket", "name", "decrypted", "name_state",
    "stored_name", "size", "mimetype", "created"}`` (``name`` as in :func:`bucket_json`)."""
    return {
        "id": entry.id,
        "bucket": entry.bucket,
        "name": plain_name(entry),
        "decrypted": entry.decrypted,
        "name_state": entry.name_state,
        "stored_name": entry.stored_name,
        "size": entry.size,
        "mimetype": entry.mimetype,
        "created": _iso(entry.created),
    }


def _stream_json(items: Iterable[dict[str, Any]]) -> None:
    """Print a JSON array item by item (the same text as ``echo_json(list(items))``)."""
    first = True
    for item in items:
        body = "\n".join("  " + line for line in dumps(item).splitlines())
        click.echo(("[\n" if first else ",\n") + body, nl=False)
        first = False
    click.echo("[]" if first else "\n]")


def _stream_table(rows: Iterable[Sequence[Any]], headers: Sequence[str],
                  widths: Sequence[int]) -> None:
    """Print a table chunk by chunk; every column but the last is at least ``widths``."""
    pad = [str(" " * w) for w in widths] + [""]
    click.echo(table([pad], headers).split("\n", 1)[0])
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, _CHUNK)):
        lines = table([pad, *chunk], headers).split("\n")[2:]
        if lines:
            click.echo("\n".join(lines))


def print_buckets(buckets: Iterable[Bucket], as_json: bool) -> None:
    """Print buckets as they arrive (a table, or a JSON array with ``--json``)."""
    if as_json:
        _stream_json(bucket_json(b) for b in buckets)
        return
    rows = ((b.id, format_time(b.created), display_name(b.name, b.name_state)) for b in buckets)
    _stream_table(rows, ("ID", "CREATED", "NAME"), _BUCKET_WIDTHS)


def print_files(files: Iterable[File], as_json: bool) -> None:
    """Print files as they arrive; a name that did not decrypt shows as ``[encrypted] …``."""
    if as_json:
        _stream_json(file_json(f) for f in files)
        return
    rows = (
        (f.id, human_size(f.size), f.mimetype or "-", display_name(f.filename, f.name_state))
        for f in files
    )
    _stream_table(rows, ("ID", "SIZE", "TYPE", "NAME"), _FILE_WIDTHS)


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
    try:
        return str(obj.client().bucket_id_by_name(bucket))
    except NotFoundError:
        raise CommandError(
            f"no bucket named {bucket!r}; list your buckets with `storj ls` "
            f"or create it with `storj mkbkt {bucket}`"
        ) from None


def delete_bucket(obj: CliContext, bucket_id: str, label: str, *, force: bool,
                  retry: str) -> None:
    """Delete a bucket; without ``force`` one that still holds files is refused (the
    Bridge would silently drop them). ``retry`` is the command that forces it."""
    client = obj.client()
    if not force:
        page = client.bucket_files_page(bucket_id)  # one page tells "not empty"
        if page:
            more = "+" if len(page) >= client.file_page_limit else ""
            raise CommandError(
                f"bucket {label} still holds {len(page)}{more} file(s); remove them first "
                f"or use `{retry}`"
            )
    client.bucket_delete(bucket_id)


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
    obj.encryption_key()  # uploads need the key: fail before anything is sent
    if not path.is_file():
        if path.is_dir():
            raise IsADirectoryError(21, "is a directory", str(path))
        raise FileNotFoundError(2, "no such file", str(path))
    try:
        existing = client.file_id_by_name(bucket_id, name)
    except NotFoundError:
        existing = None
    if existing is not None and not force:
        raise CommandError(f"{label} already exists; use --force to replace it")
    size = path.stat().st_size
    started = time.monotonic()
    bar = ProgressBar(f"upload {label}", enabled=obj.bars)
    record = upload(client, bucket_id, path, name=name, bar=bar, overwrite=force,
                    config=obj.transfer_config)
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
        config=obj.transfer_config,
    )
    return Transferred(label, destination.stat().st_size, time.monotonic() - started, file_id)


def rate(size: int, seconds: float) -> str:
    """``12.3 MiB/s``."""
    if seconds <= 0:
        return "-"
    return f"{size / seconds / (1024 * 1024):.1f} MiB/s"

"""Unix-style commands: ``ls``, ``cp``, ``mkbkt``, ``rm``, ``lm`` (names, ``storj://`` URLs)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from storj.cli._context import CliContext, pass_cli
from storj.cli._ops import (
    bucket_id_for,
    delete_bucket,
    download_one,
    info,
    plain_name,
    print_buckets,
    print_files,
    print_mirrors,
    upload_one,
)
from storj.cli._output import CommandError, human_size
from storj.cli._tuning import transfer_options
from storj.cli._urls import (
    StorjUrl,
    base_name,
    is_storj_url,
    parse_storj_url,
    remote_name_for,
    safe_relative_path,
    strip_prefix,
)
from storj.exception import NotFoundError


def url_argument(value: str, param_hint: str = "URL") -> StorjUrl:
    """Parse a ``storj://`` URL or fail with a usage error (exit 2)."""
    try:
        return parse_storj_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=param_hint) from None


def bucket_or_url(value: str) -> StorjUrl:
    """``BUCKET`` or ``storj://BUCKET/[NAME]``."""
    if is_storj_url(value):
        return url_argument(value)
    if "/" in value or not value:
        raise click.BadParameter(
            f"{value!r} is neither a bucket name nor a storj://BUCKET/NAME URL", param_hint="TARGET"
        )
    return StorjUrl(bucket=value)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (stable keys).")


@click.command("ls")
@click.argument("target", required=False, metavar="[storj://BUCKET/[PREFIX]]")
@json_option
@pass_cli
def ls_command(obj: CliContext, target: str | None, as_json: bool) -> None:
    """List buckets, or the files of a bucket (optionally those under PREFIX/)."""
    client = obj.client()
    if target is None:
        print_buckets(client.bucket_list(), as_json)
        return
    url = bucket_or_url(target)
    bucket_id = bucket_id_for(obj, url.bucket)
    if url.name and not url.is_prefix:
        try:
            one = client.find_file(bucket_id, url.name)
        except NotFoundError:
            raise CommandError(f"{url} does not exist; list the bucket with `storj ls "
                               f"storj://{url.bucket}/`") from None
        print_files([one], as_json)
        return
    prefix = url.name
    print_files(
        (f for f in client.iter_bucket_files(bucket_id)
         if (plain_name(f) or "\0").startswith(prefix)),
        as_json,
    )


@click.command("mkbkt")
@click.argument("name")
@pass_cli
def mkbkt_command(obj: CliContext, name: str) -> None:
    """Create a bucket called NAME (the name is stored encrypted, like libstorj)."""
    if "/" in name or is_storj_url(name):
        raise click.BadParameter("a bucket name cannot contain '/'", param_hint="NAME")
    obj.encryption_key()  # names are stored encrypted, like libstorj: the key is needed
    bucket = obj.client().bucket_create(name)
    info(obj, f"Created bucket {name} (id {bucket.id})")


def _remove_file(obj: CliContext, bucket: str, name: str) -> None:
    client = obj.client()
    bucket_id = bucket_id_for(obj, bucket)
    try:
        file_id = client.file_id_by_name(bucket_id, name)
    except NotFoundError:
        raise CommandError(
            f"storj://{bucket}/{name} does not exist; list the bucket with `storj ls "
            f"storj://{bucket}/`"
        ) from None
    client.file_remove(bucket_id, file_id)
    info(obj, f"Removed storj://{bucket}/{name}")


@click.command("rm")
@click.argument("target", metavar="storj://BUCKET/NAME | BUCKET")
@click.argument("file_name", required=False, metavar="[NAME]")
@click.option("-f", "--force", is_flag=True, help="Remove a bucket even if it holds files.")
@pass_cli
def rm_command(obj: CliContext, target: str, file_name: str | None, force: bool) -> None:
    """Remove a file (storj://BUCKET/NAME or BUCKET NAME) or a bucket (BUCKET).

    A bucket that still holds files is only removed with --force.
    """
    url = bucket_or_url(target)
    if file_name is not None:
        if url.name:
            raise click.UsageError("give either storj://BUCKET/NAME or BUCKET NAME, not both")
        _remove_file(obj, url.bucket, file_name)
        return
    if url.name:
        if url.name.endswith("/"):
            raise click.BadParameter(
                f"{url} is a folder; remove its files one by one or the whole bucket",
                param_hint="TARGET",
            )
        _remove_file(obj, url.bucket, url.name)
        return
    bucket_id = bucket_id_for(obj, url.bucket)
    delete_bucket(obj, bucket_id, url.bucket, force=force,
                  retry=f"storj rm --force {url.bucket}")
    info(obj, f"Removed bucket {url.bucket}")


@click.command("lm")
@click.argument("target", metavar="storj://BUCKET/NAME")
@json_option
@pass_cli
def lm_command(obj: CliContext, target: str, as_json: bool) -> None:
    """List the mirrors (farmers holding each shard) of a file."""
    url = url_argument(target, "storj://BUCKET/NAME")
    if url.is_prefix:
        raise click.BadParameter(f"{url} does not name a file", param_hint="storj://BUCKET/NAME")
    client = obj.client()
    bucket_id = bucket_id_for(obj, url.bucket)
    try:
        file_id = client.file_id_by_name(bucket_id, url.name)
    except NotFoundError:
        raise CommandError(f"{url} does not exist") from None
    print_mirrors(client.file_mirrors(bucket_id, file_id), as_json)


# -- cp -----------------------------------------------------------------------------------


def _local_files(paths: tuple[str, ...], recursive: bool) -> list[tuple[Path, str]]:
    """``(path, relative name)`` of every file to upload; directories need ``-r``.

    A directory ``d`` copies as ``d/…`` (its own name first, like ``cp -r``), keeping
    the relative paths below it.
    """
    result: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            if not recursive:
                raise click.UsageError(f"{raw} is a directory; use -r to copy directories")
            top = path.resolve().name or "root"
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for file_name in sorted(files):
                    full = Path(root) / file_name
                    rel = full.relative_to(path).as_posix()
                    result.append((full, f"{top}/{rel}"))
        elif path.exists():
            result.append((path, path.name))
        else:
            raise FileNotFoundError(2, "no such file or directory", raw)
    return result


def _upload(obj: CliContext, sources: tuple[str, ...], url: StorjUrl, recursive: bool,
            force: bool) -> None:
    files = _local_files(sources, recursive)
    if not files:
        info(obj, "Nothing to copy")
        return
    single = len(sources) == 1 and not Path(sources[0]).is_dir()
    try:
        names = [remote_name_for(url, name, single=single) for _, name in files]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="DESTINATION") from None
    obj.encryption_key()  # uploads need the key: fail before anything is sent
    try:
        bucket_id = obj.client().bucket_id_by_name(url.bucket)
    except NotFoundError:  # like rclone: copying into a new bucket creates it
        bucket_id = str(obj.client().bucket_create(url.bucket).id)
        info(obj, f"Created bucket {url.bucket}")
    for (path, _), name in zip(files, names, strict=True):
        label = f"storj://{url.bucket}/{name}"
        done = upload_one(obj, bucket_id, path, name, force=force, label=label)
        info(obj, f"{path} -> {label} ({human_size(done.size)})")


def _download(obj: CliContext, url: StorjUrl, destination: str, recursive: bool,
              force: bool) -> None:
    client = obj.client()
    bucket_id = bucket_id_for(obj, url.bucket)
    dest = Path(destination)
    if not url.is_prefix:
        try:
            file_id = client.file_id_by_name(bucket_id, url.name)
        except NotFoundError:
            raise CommandError(
                f"{url} does not exist; list the bucket with `storj ls storj://{url.bucket}/`"
            ) from None
        target = dest / base_name(url.name) if dest.is_dir() or destination.endswith(
            ("/", os.sep)) else dest
        done = download_one(obj, bucket_id, file_id, target, force=force, label=str(url))
        info(obj, f"{url} -> {target} ({human_size(done.size)})")
        return
    if not recursive:
        raise click.UsageError(f"{url} names a bucket or folder; use -r to copy all its files")
    if dest.exists() and not dest.is_dir():
        raise click.BadParameter(f"{destination} is not a directory", param_hint="DESTINATION")
    entries = [
        (f, name) for f in client.iter_bucket_files(bucket_id)
        if (name := plain_name(f)) is not None and name.startswith(url.name)
    ]
    plan = []
    for entry, name in entries:
        try:
            rel = safe_relative_path(strip_prefix(name, url.name))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        plan.append((entry, dest.joinpath(*rel.parts)))
    if not force:
        for _, target in plan:
            if target.exists():
                raise CommandError(f"{target} already exists; use --force to overwrite it")
    for entry, target in plan:
        label = f"storj://{url.bucket}/{entry.name}"
        done = download_one(obj, bucket_id, str(entry.id), target, force=force, label=label)
        info(obj, f"{label} -> {target} ({human_size(done.size)})")
    if not plan:
        info(obj, f"No files under {url}")


@click.command("cp")
@click.argument("paths", nargs=-1, required=True, metavar="SOURCE... DESTINATION")
@click.option("-r", "-R", "--recursive", is_flag=True, help="Copy directories / whole buckets.")
@click.option("-f", "--force", is_flag=True, help="Replace an existing destination file.")
@transfer_options()
@pass_cli
def cp_command(obj: CliContext, paths: tuple[str, ...], recursive: bool, force: bool) -> None:
    """Copy files to or from a bucket.

    \b
    Upload:    storj cp [-r] PATH... storj://BUCKET/[NAME]
    Download:  storj cp storj://BUCKET/NAME PATH
               storj cp -r storj://BUCKET/[PREFIX/] DIR

    Uploading into a bucket that does not exist creates it. Recursive copies keep
    relative paths (a directory DIR is stored as DIR/...); an existing destination is
    only replaced with --force, and a stored file only once its new version is
    completely stored (a failed upload leaves the old one). Ctrl-C cancels cleanly and
    leaves no partial file. The tuning options (or their STORJ_TRANSFER_* variables) set
    the transfer engine's concurrency, parity and farmer timeouts.
    """
    if len(paths) < 2:
        raise click.UsageError("give a SOURCE and a DESTINATION")
    *sources, destination = paths
    remote_sources = [s for s in sources if is_storj_url(s)]
    if is_storj_url(destination):
        if remote_sources:
            raise click.UsageError("copying between buckets is not supported; download first")
        _upload(obj, tuple(sources), url_argument(destination, "DESTINATION"), recursive, force)
        return
    if len(sources) != 1 or not remote_sources:
        raise click.UsageError(
            "one side must be a storj://BUCKET/ URL: upload PATH... storj://BUCKET/ or "
            "download storj://BUCKET/NAME PATH"
        )
    _download(obj, url_argument(sources[0], "SOURCE"), destination, recursive, force)


COMMANDS = [ls_command, cp_command, mkbkt_command, rm_command, lm_command]

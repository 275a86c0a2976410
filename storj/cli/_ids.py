"""Id-style commands, as libstorj names them: buckets and files addressed by their ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from storj.api import is_object_id
from storj.cli._context import CliContext, pass_cli
from storj.cli._ops import (
    bucket_id_for,
    delete_bucket,
    download_one,
    info,
    print_buckets,
    print_files,
    print_mirrors,
    upload_one,
)
from storj.cli._output import echo_json, human_size, table
from storj.cli._tuning import transfer_options


def _object_id(value: str, hint: str) -> str:
    if not is_object_id(value):
        raise click.BadParameter(f"{value!r} is not an id (24 hexadecimal characters)",
                                 param_hint=hint)
    return value.lower()


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (stable keys).")


@click.command("list-buckets")
@json_option
@pass_cli
def list_buckets_command(obj: CliContext, as_json: bool) -> None:
    """List your buckets (id, creation time, decrypted name)."""
    print_buckets(obj.client().bucket_list(), as_json)


@click.command("list-files")
@click.argument("bucket_id")
@json_option
@pass_cli
def list_files_command(obj: CliContext, bucket_id: str, as_json: bool) -> None:
    """List the files of bucket BUCKET_ID."""
    bucket_id = _object_id(bucket_id, "BUCKET_ID")
    print_files(obj.client().iter_bucket_files(bucket_id), as_json)


@click.command("add-bucket")
@click.argument("name")
@pass_cli
def add_bucket_command(obj: CliContext, name: str) -> None:
    """Create a bucket called NAME and print its id."""
    obj.encryption_key()  # names are stored encrypted, like libstorj: the key is needed
    click.echo(obj.client().bucket_create(name).id)


@click.command("remove-bucket")
@click.argument("bucket_id")
@click.option("-f", "--force", is_flag=True, help="Remove the bucket even if it holds files.")
@pass_cli
def remove_bucket_command(obj: CliContext, bucket_id: str, force: bool) -> None:
    """Remove bucket BUCKET_ID (refused while it holds files, unless --force)."""
    bucket_id = _object_id(bucket_id, "BUCKET_ID")
    delete_bucket(obj, bucket_id, bucket_id, force=force,
                  retry=f"storj remove-bucket --force {bucket_id}")
    info(obj, f"Removed bucket {bucket_id}")


@click.command("remove-file")
@click.argument("bucket_id")
@click.argument("file_id")
@pass_cli
def remove_file_command(obj: CliContext, bucket_id: str, file_id: str) -> None:
    """Remove file FILE_ID from bucket BUCKET_ID."""
    bucket_id = _object_id(bucket_id, "BUCKET_ID")
    file_id = _object_id(file_id, "FILE_ID")
    obj.client().file_remove(bucket_id, file_id)
    info(obj, f"Removed file {file_id}")


@click.command("upload-file")
@click.argument("bucket_id")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--name", help="Name to store the file under (default: its base name).")
@click.option("-f", "--force", is_flag=True, help="Replace a file with the same name.")
@transfer_options()
@pass_cli
def upload_file_command(obj: CliContext, bucket_id: str, path: str, name: str | None,
                        force: bool) -> None:
    """Upload PATH into bucket BUCKET_ID and print the new file id."""
    bucket_id = _object_id(bucket_id, "BUCKET_ID")
    source = Path(path)
    stored = name or source.name
    done = upload_one(obj, bucket_id, source, stored, force=force, label=f"{bucket_id}/{stored}")
    if done.file_id:
        click.echo(done.file_id)


@click.command("download-file")
@click.argument("bucket_id")
@click.argument("file_id")
@click.argument("path", type=click.Path())
@click.option("-f", "--force", is_flag=True, help="Overwrite PATH if it exists.")
@transfer_options(upload=False)
@pass_cli
def download_file_command(obj: CliContext, bucket_id: str, file_id: str, path: str,
                          force: bool) -> None:
    """Download file FILE_ID of bucket BUCKET_ID to PATH."""
    bucket_id = _object_id(bucket_id, "BUCKET_ID")
    file_id = _object_id(file_id, "FILE_ID")
    done = download_one(obj, bucket_id, file_id, Path(path), force=force, label=file_id)
    info(obj, f"Downloaded {file_id} -> {path} ({human_size(done.size)})")


@click.command("list-mirrors")
@click.argument("bucket_id")
@click.argument("file_id")
@json_option
@pass_cli
def list_mirrors_command(obj: CliContext, bucket_id: str, file_id: str, as_json: bool) -> None:
    """List the farmers holding each shard of file FILE_ID."""
    bucket_id = _object_id(bucket_id, "BUCKET_ID")
    file_id = _object_id(file_id, "FILE_ID")
    print_mirrors(obj.client().file_mirrors(bucket_id, file_id), as_json)


@click.command("get-bucket-id")
@click.argument("name")
@pass_cli
def get_bucket_id_command(obj: CliContext, name: str) -> None:
    """Print the id of the bucket called NAME."""
    click.echo(bucket_id_for(obj, name))


@click.command("get-info")
@json_option
@pass_cli
def get_info_command(obj: CliContext, as_json: bool) -> None:
    """Show the Bridge's name, version and URL."""
    data = obj.client().get_info()
    about: dict[str, Any] = data["info"] if isinstance(data.get("info"), dict) else {}
    summary = {
        "title": about.get("title"),
        "description": about.get("description"),
        "version": about.get("version"),
        "protocol": about.get("x-protocol-version"),
        "host": data.get("host"),
        "url": obj.settings().bridge,
    }
    if as_json:
        echo_json(summary)
        return
    labels = {"title": "Title", "description": "Description", "version": "Version",
              "protocol": "Protocol", "host": "Host", "url": "URL"}
    rows = [(labels[k] + ":", v if v is not None else "-") for k, v in summary.items()]
    click.echo(table(rows, ("", "")).split("\n", 1)[1])


COMMANDS = [
    list_buckets_command,
    list_files_command,
    add_bucket_command,
    remove_bucket_command,
    remove_file_command,
    upload_file_command,
    download_file_command,
    list_mirrors_command,
    get_bucket_id_command,
    get_info_command,
]

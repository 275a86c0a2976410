"""``storj demo``: prove the whole pipeline on this machine in one command.

Starts (or reuses) the embedded local network unless a Bridge is configured, creates
a bucket, uploads a generated random file with a progress bar, downloads it, compares
SHA-256 digests and prints a short report. Exit status 0 only if the bytes match.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
from pathlib import Path

import click

from storj.cli._context import CliContext, pass_cli
from storj.cli._ops import download_one, rate, upload_one
from storj.cli._output import human_size
from storj.cli._tuning import transfer_options
from storj.exception import IntegrityError

_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1024,
    "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gib": 1024**3,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_CHUNK = 1024 * 1024


def parse_size(text: str) -> int:
    """``"8MiB"`` → 8388608, ``"512KiB"`` → 524288, ``"1.5MB"`` → 1500000, ``"100"`` → 100.

    :raises ValueError: not a size, or not positive.
    """
    match = _SIZE.match(text)
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"{text!r} is not a size (examples: 100, 512KiB, 8MiB, 1GiB)")
    size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size <= 0:
        raise ValueError("the size must be at least 1 byte")
    return size


def write_random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes to ``path`` in 1 MiB blocks; return their SHA-256 hex."""
    digest = hashlib.sha256()
    remaining = size
    with path.open("wb") as handle:
        while remaining:
            block = os.urandom(min(_CHUNK, remaining))
            digest.update(block)
            handle.write(block)
            remaining -= len(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """SHA-256 hex of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _size_option(_ctx: click.Context, _param: click.Parameter, value: str) -> int:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("demo")
@click.option("--size", default="8MiB", show_default=True, callback=_size_option,
              help="Size of the generated file (e.g. 512KiB, 8MiB, 100MB).")
@click.option("--keep", is_flag=True, help="Keep the demo bucket and file afterwards.")
@transfer_options()
@pass_cli
def demo_command(obj: CliContext, size: int, keep: bool) -> None:
    """Upload a random file, download it and check that the bytes match."""
    client = obj.client()  # starts the embedded network when no Bridge is configured
    obj.encryption_key()  # the demo stores names and data encrypted: the key is needed
    settings = obj.settings()
    if settings.sources.get("bridge") == "embedded":
        network = f"embedded local network at {settings.bridge} (data in {obj.data_dir})"
    else:
        network = f"Bridge at {settings.bridge}"
    bucket_name = f"demo-{secrets.token_hex(4)}"
    file_name = "demo.bin"
    with tempfile.TemporaryDirectory(prefix="storj-demo-") as tmp:
        source = Path(tmp) / file_name
        target = Path(tmp) / "downloaded.bin"
        sent = write_random_file(source, size)
        bucket = client.bucket_create(bucket_name)
        bucket_id = str(bucket.id)
        try:
            up = upload_one(obj, bucket_id, source, file_name, force=False,
                            label=f"storj://{bucket_name}/{file_name}")
            file_id = up.file_id or client.file_id_by_name(bucket_id, file_name)
            down = download_one(obj, bucket_id, file_id, target, force=False,
                                label=f"storj://{bucket_name}/{file_name}")
            received = sha256_file(target)
            received_size = target.stat().st_size
        finally:
            if not keep:
                client.bucket_delete(bucket_id)
    lines = [
        f"Network:          {network}",
        f"Bucket:           {bucket_name} (id {bucket.id})"
        + ("" if keep else ", removed afterwards"),
        f"File:             {file_name}, {human_size(size)} ({size} bytes) of random data",
        f"Upload:           {up.seconds:.2f} s, {rate(size, up.seconds)}",
        f"Download:         {down.seconds:.2f} s, {rate(received_size, down.seconds)}",
        f"SHA-256 sent:     {sent}",
        f"SHA-256 received: {received}",
    ]
    click.echo("\n".join(lines))
    if received != sent or received_size != size:
        raise IntegrityError(
            f"the downloaded bytes differ from the uploaded ones ({received_size} of {size} "
            "bytes, SHA-256 mismatch)"
        )
    click.echo(f"OK: bytes match ({size} bytes)")


COMMANDS = [demo_command]

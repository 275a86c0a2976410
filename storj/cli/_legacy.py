"""The storj 0.1.x–0.3.x console scripts, on top of the ``storj`` command's machinery.

``storj-bucket`` (:data:`bucket`), ``storj-file`` (:data:`file`) and ``storj-key``
(:data:`keys`) keep 0.3.x's commands and output lines and run them with the same
settings, client and error handling as ``storj`` (:mod:`storj.cli._context`):
``$STORJ_BRIDGE``, ``$STORJ_BRIDGE_USER``/``$STORJ_BRIDGE_PASS``,
``$STORJ_ENCRYPTION_KEY``, the config file, else the embedded local network. Bucket
and file names are handled as ``storj`` handles them (encrypted with the mnemonic
when one is configured). Each command's help names the modern ``storj`` command.

Differences from 0.3.x: every command works (0.3.x's ``file upload`` and the whole
``storj-key`` script were broken); errors are one line on stderr with exit status 1
(0.3.x printed tracebacks); ``bucket create``'s ``--storage``/``--transfer`` are
accepted and not sent (the Bridge ignores them; ``storj add-bucket`` has none);
``bucket list`` prints 0 for limits the Bridge leaves out (0.3.x crashed on them).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import click

from storj import naming
from storj.cli import StorjGroup, _setup_logging
from storj.cli._context import CliContext, pass_cli
from storj.cli._ops import upload_one
from storj.cli._tuning import transfer_options

__all__ = ["bucket", "file", "key", "keys"]

_SETTINGS = {"help_option_names": ["-h", "--help"]}


def _legacy_group(name: str, summary: str) -> Any:
    """A root group with the ``storj`` options that matter here: ``--url``, ``--debug``."""

    def callback(ctx: click.Context, url: str | None, debug: bool) -> None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise click.BadParameter("must be an http:// or https:// URL", param_hint="--url")
        _setup_logging(ctx, 0, debug, False)
        obj = CliContext(url=url, debug=debug)
        ctx.obj = obj
        ctx.call_on_close(obj.close)

    callback.__doc__ = summary
    decorated = click.option("--debug", is_flag=True, help="Full tracebacks on errors.")(
        click.pass_context(callback)
    )
    decorated = click.option(
        "-u", "--url", metavar="URL", help="Bridge URL (default: as for the storj command)."
    )(decorated)
    return click.group(name, cls=StorjGroup, context_settings=_SETTINGS)(decorated)


# -- storj-bucket ----------------------------------------------------------------------------

bucket = _legacy_group(
    "storj-bucket",
    "Manage buckets (storj 0.3.x's storj-bucket; the modern command is `storj`).",
)


@bucket.command("create")
@click.option("--storage", type=click.INT, help="Storage limit in GB (ignored by the Bridge).")
@click.option("--transfer", type=click.INT, help="Transfer limit in GB (ignored by the Bridge).")
@click.argument("name")
@pass_cli
def bucket_create(obj: CliContext, storage: int | None, transfer: int | None, name: str) -> None:
    """Create bucket NAME and print `Bucket NAME created`.

    Modern command: `storj add-bucket NAME` (or `storj mkbkt NAME`).
    """
    obj.client().bucket_create(name, storage=storage, transfer=transfer)
    click.echo(f"Bucket {name} created")


@bucket.command("get")
@click.argument("bucket_id")
@pass_cli
def bucket_get(obj: CliContext, bucket_id: str) -> None:
    """Print every field of bucket BUCKET_ID as `<field> : <value>`.

    Modern command: `storj list-buckets --json` (or `storj get-bucket-id NAME`).
    """
    record = obj.client().bucket_get(bucket_id)
    values = {field: getattr(record, field) for field in record._fields}
    values["name"] = naming.display_name(record.name, record.name_state)
    for field, value in sorted(values.items()):
        click.echo(f"{field.rjust(18)} : {value}")


@bucket.command("list")
@pass_cli
def bucket_list(obj: CliContext) -> None:
    """Print one `[info]   ID: …, Name: …, Storage: …, Transfer: …` line per bucket.

    Modern command: `storj list-buckets` (or `storj ls`).
    """
    for record in obj.client().bucket_list():
        storage = int(record.storage or 0)
        transfer = int(record.transfer or 0)
        name = naming.display_name(record.name, record.name_state)
        click.echo(
            f"[info]   ID: {record.id}, Name: {name}, Storage: {storage}, Transfer: {transfer}"
        )


# -- storj-file ------------------------------------------------------------------------------

file = _legacy_group(
    "storj-file",
    "Upload files (storj 0.3.x's storj-file; the modern command is `storj`).",
)


@file.command("upload")
@click.argument("bucket_id")
@click.argument("file_path", type=click.Path(dir_okay=False))
@transfer_options()
@pass_cli
def file_upload(obj: CliContext, bucket_id: str, file_path: str) -> None:
    """Upload FILE_PATH into bucket BUCKET_ID under its base name; print the new file id.

    Needs an encryption key (mnemonic). An existing file of the same name is not
    replaced. Modern command: `storj upload-file BUCKET_ID FILE_PATH` (or `storj cp`).
    """
    source = Path(file_path)
    done = upload_one(
        obj, bucket_id, source, source.name, force=False, label=f"{bucket_id}/{source.name}"
    )
    click.echo(f"File {source.name} uploaded to bucket {bucket_id}: ID {done.file_id}")


# -- storj-key -------------------------------------------------------------------------------

keys = _legacy_group(
    "storj-key",
    "Manage ECDSA keys (storj 0.3.x's storj-key; the modern command is `storj keys`).",
)
#: 0.3.x's group name inside ``storj.cli`` (its ``storj-key`` script pointed at ``keys``).
key = keys


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode``; never replaces an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@keys.command("generate")
@click.option(
    "-d",
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory for private.pem and public.pem.",
)
@pass_cli
def keys_generate(obj: CliContext, directory: str) -> None:
    """Generate a secp256k1 key pair, save it as PEM and register the public key.

    Writes private.pem (mode 0600) and public.pem into DIR (0.3.x's file names) and
    never overwrites them. Modern command: `storj keys add`.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from storj.keys import public_key_hex

    folder = Path(directory)
    private_path, public_path = folder / "private.pem", folder / "public.pem"
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(17, "already exists; move it away or use --dir", str(path))
    folder.mkdir(parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256K1())
    public = private.public_key()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    click.echo(f"Writing private key to file {private_path}")
    _write_new(private_path, private_pem, 0o600)
    click.echo(f"Writing public key to file {public_path}")
    _write_new(public_path, public_pem, 0o644)
    try:
        obj.client().key_register(public_key_hex(public))
    except BaseException:
        for path in (private_path, public_path):
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    click.echo(f"Registered public key {public_key_hex(public)}")


@keys.command("export")
@pass_cli
def keys_export(obj: CliContext) -> None:
    """Print the public keys registered with your account (0.3.x's key_dump lines).

    Modern command: `storj keys list`.
    """
    registered = obj.client().key_list()
    if not registered:
        click.echo("No keys associated with this account.")
        return
    click.echo(f"Public keys for this account: {registered}")


@keys.command("load")
@click.argument("private_key_file", type=click.Path(exists=True, dir_okay=False))
@click.argument("public_key_file", type=click.Path(exists=True, dir_okay=False), required=False)
@pass_cli
def keys_load(obj: CliContext, private_key_file: str, public_key_file: str | None) -> None:
    """Register the public key of a PEM key pair (0.3.x's key_import).

    The public key is read from PUBLIC_KEY_FILE, or derived from PRIVATE_KEY_FILE,
    which must match it. Modern command: `storj keys add` (generates a new pair).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from storj.keys import public_key_hex

    private = serialization.load_pem_private_key(Path(private_key_file).read_bytes(), None)
    if not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(
        private.curve, ec.SECP256K1
    ):
        raise click.BadParameter("not a secp256k1 EC private key", param_hint="PRIVATE_KEY_FILE")
    derived = public_key_hex(private.public_key())
    if public_key_file is not None:
        public = serialization.load_pem_public_key(Path(public_key_file).read_bytes())
        if public_key_hex(public) != derived:
            raise click.BadParameter(
                "does not match PRIVATE_KEY_FILE", param_hint="PUBLIC_KEY_FILE"
            )
    obj.client().key_register(derived)
    click.echo(f"Registered public key {derived}")

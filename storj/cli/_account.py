"""Account and key commands: ``register``, ``import-keys``, ``export-keys``,
``generate-mnemonic``, ``keys``, ``token``, ``contacts``.

Secrets (passwords, mnemonics, private keys) are read from the environment, the config
file or a hidden prompt, never from command-line arguments, and are never printed,
except the mnemonic by ``export-keys --reveal``, on stdout only.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import click

from storj.cli._context import ENV_KEY, ENV_PASS, ENV_USER, CliContext, make_key, pass_cli
from storj.cli._embedded import CREDENTIALS_FILE, fetch_outbox, load_credentials
from storj.cli._ops import info
from storj.cli._output import echo_json, format_time, json_default, table, to_click_exception
from storj.exception import AuthenticationError, BadRequestError, ConfigurationError

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (stable keys).")


def _ask_email(obj: CliContext, explicit: str | None) -> str:
    email = explicit or obj.user or obj.environ.get(ENV_USER)
    if email:
        return email
    return str(click.prompt("Email", err=True)).strip()


def _ask_password(obj: CliContext, *, confirm: bool) -> str:
    password = obj.environ.get(ENV_PASS)
    if password:
        return password
    value = click.prompt("Password", hide_input=True, confirmation_prompt=confirm, err=True)
    if not value:
        raise click.UsageError("the password cannot be empty")
    return str(value)


def _bridge_for(obj: CliContext) -> str:
    base = obj.base_settings()
    if base.embedded:
        return obj.embedded_network().bridge_url
    assert base.bridge is not None
    return base.bridge


# -- register -----------------------------------------------------------------------------


def _activation_token(obj: CliContext, bridge: str, email: str, password: str) -> str | None:
    """The newest activation token a local Bridge would have emailed (``None`` elsewhere).

    The embedded network reads its outbox as its owner; another Bridge is asked for the
    new user's own mail with its Basic credentials (a local Bridge with dev endpoints).
    """
    if obj.base_settings().embedded:
        messages = obj.embedded_network().outbox(email)
    else:
        messages = fetch_outbox(bridge, email, password=password)
    tokens = [
        m.get("token")
        for m in messages
        if m.get("to") in (None, email) and m.get("kind", "activation") == "activation"
    ]
    valid = [t for t in tokens if isinstance(t, str) and t]
    return valid[-1] if valid else None


@click.command("register")
@click.option("--email", help="Account email (default: --user / $STORJ_BRIDGE_USER / prompt).")
@click.option("--save", is_flag=True, help="Store the email and password in the config file.")
@pass_cli
def register_command(obj: CliContext, email: str | None, save: bool) -> None:
    """Create an account on the Bridge.

    The password comes from $STORJ_BRIDGE_PASS or a hidden prompt. On the embedded
    or a local network the account is activated at once (the activation token is read
    from the local Bridge's outbox); on a real Bridge follow the emailed link.
    """
    from storj.http import Client

    address = _ask_email(obj, email)
    password = _ask_password(obj, confirm=True)
    bridge = _bridge_for(obj)
    with Client(None, None, bridge) as client:
        user = client.user_create(address, password)
        activated = bool(getattr(user, "activated", None) or
                         (hasattr(user, "get") and user.get("activated")))
        if not activated:
            token = _activation_token(obj, bridge, address, password)
            if token:
                try:
                    client.user_activate(token)
                    activated = True
                except BadRequestError:  # the network had activated it already
                    activated = True
    if activated:
        info(obj, f"Registered and activated {address}")
    else:
        info(obj, f"Registered {address}; open the activation link emailed to you")
    if save:
        from storj import configuration

        path = configuration.write_config(
            address, password, obj.config_file,
            bridge=None if obj.base_settings().embedded else bridge,
        )
        info(obj, f"Stored the credentials in {path}")


# -- keys in the config file --------------------------------------------------------------


@click.command("import-keys")
@click.option("--generate-mnemonic", "generate", is_flag=True,
              help="Create a new encryption key instead of asking for one.")
@click.option("--no-verify", is_flag=True, help="Do not check the credentials with the Bridge.")
@pass_cli
def import_keys_command(obj: CliContext, generate: bool, no_verify: bool) -> None:
    """Store your email, password and encryption key (mnemonic) in the config file.

    Values come from --user / $STORJ_BRIDGE_USER, $STORJ_BRIDGE_PASS and
    $STORJ_ENCRYPTION_KEY, or from (hidden) prompts. The file is written with mode
    0600. The Bridge URL is stored too when given with --url or $STORJ_BRIDGE.
    """
    from storj import configuration, crypto

    email = _ask_email(obj, None)
    password = _ask_password(obj, confirm=False)
    if generate:
        mnemonic = crypto.generate_mnemonic()
    else:
        mnemonic = obj.environ.get(ENV_KEY) or str(
            click.prompt("Encryption key (mnemonic)", hide_input=True, err=True)
        )
    mnemonic = make_key(mnemonic).mnemonic  # validates; canonical spacing
    base = obj.base_settings()
    stored_bridge = base.bridge if base.sources.get("bridge") in ("option", "env") else None
    if not no_verify:
        from storj.http import Client

        bridge = _bridge_for(obj)
        with Client(email, password, bridge) as client:
            try:
                client.key_list()  # any authenticated call: raises on a wrong password
            except AuthenticationError as exc:
                raise to_click_exception(exc, bridge=bridge, user=email) from None
    path = configuration.write_config(
        email, password, obj.config_file, bridge=stored_bridge, encryption_key=mnemonic
    )
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)
    info(obj, f"Stored the credentials of {email} in {path} (readable only by you)")
    if generate:
        info(obj, "A new encryption key was generated; back it up with "
                  "`storj export-keys --reveal`")


@click.command("export-keys")
@click.option("--reveal", is_flag=True,
              help="Confirm that the secret mnemonic may be printed (to stdout).")
@pass_cli
def export_keys_command(obj: CliContext, reveal: bool) -> None:
    """Print your encryption key (mnemonic), which decrypts all your files.

    Requires --reveal. Only the mnemonic is printed, on stdout.
    """
    if not reveal:
        raise click.UsageError(
            "export-keys prints your secret encryption key; add --reveal to confirm"
        )
    base = obj.base_settings()
    mnemonic = base.mnemonic
    if not mnemonic and base.embedded:
        creds = load_credentials(obj.data_dir / CREDENTIALS_FILE)
        # first use: starting the embedded network creates the local account and key
        mnemonic = creds.mnemonic if creds else obj.settings(need_password=False).mnemonic
    if not mnemonic:
        raise ConfigurationError(
            f"no encryption key configured; set {ENV_KEY} or run `storj import-keys`"
        )
    click.echo(mnemonic)


@click.command("generate-mnemonic")
@click.option("--words", type=click.Choice(["12", "24"]), default="24", show_default=True,
              help="Number of words.")
def generate_mnemonic_command(words: str) -> None:
    """Print a new random BIP39 mnemonic (an encryption key)."""
    from storj import crypto

    click.echo(crypto.generate_mnemonic(128 if words == "12" else 256))


# -- ECDSA keys ---------------------------------------------------------------------------


@click.group("keys")
def keys_group() -> None:
    """Manage the ECDSA keys registered with your account."""


@keys_group.command("list")
@json_option
@pass_cli
def keys_list(obj: CliContext, as_json: bool) -> None:
    """List your registered public keys."""
    keys = [str(json_default(k)) if not isinstance(k, str) else k
            for k in obj.client().key_list()]
    if as_json:
        echo_json(keys)
        return
    for key in keys:
        click.echo(key)


def _write_private_key(path: Path, private_hex: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(private_hex + "\n")


@keys_group.command("add")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="File for the private key (default: keys/<pubkey>.key next to the "
                   "config file). Never overwritten.")
@pass_cli
def keys_add(obj: CliContext, output: str | None) -> None:
    """Generate a key pair, save the private key (mode 0600) and register the public key."""
    from storj import configuration, keys

    private, public = keys.generate_new_key_pair()
    public_hex = keys.public_key_hex(public)
    if output is None:
        base_dir = (Path(obj.config_file).parent if obj.config_file
                    else configuration.config_path().parent)
        path = base_dir / "keys" / f"{public_hex[:16]}.key"
    else:
        path = Path(output)
    if path.exists():
        raise FileExistsError(17, "already exists", str(path))
    _write_private_key(path, keys.private_key_hex(private))
    try:
        obj.client().key_register(public_hex)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    info(obj, f"Registered public key {public_hex}")
    info(obj, f"Private key saved to {path}")


@keys_group.command("remove")
@click.argument("public_key")
@pass_cli
def keys_remove(obj: CliContext, public_key: str) -> None:
    """Unregister PUBLIC_KEY (hex) from your account."""
    obj.client().key_delete(public_key)
    info(obj, f"Removed public key {public_key}")


# -- tokens -------------------------------------------------------------------------------


@click.group("token")
def token_group() -> None:
    """Bucket operation tokens."""


@token_group.command("create")
@click.argument("bucket_id")
@click.option("--operation", type=click.Choice(["PULL", "PUSH"], case_sensitive=False),
              required=True, help="What the token allows.")
@json_option
@pass_cli
def token_create(obj: CliContext, bucket_id: str, operation: str, as_json: bool) -> None:
    """Create a PULL or PUSH token for bucket BUCKET_ID."""
    token = obj.client().token_create(bucket_id, operation.upper())
    data = json_default(token)
    if not isinstance(data, dict):
        data = {"token": str(data)}
    fields = {k: data.get(k) for k in ("token", "id", "bucket", "operation", "expires")}
    if as_json:
        echo_json(fields)
        return
    rows = [(f"{k}:", format_time(v)) for k, v in fields.items()]
    click.echo(table(rows, ("", "")).split("\n", 1)[1])


# -- contacts -----------------------------------------------------------------------------


def _contact_json(contact: Any) -> dict[str, Any]:
    data = json_default(contact)
    return data if isinstance(data, dict) else {"value": data}


@click.group("contacts")
def contacts_group() -> None:
    """Farmers known to the Bridge."""


@contacts_group.command("list")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True,
              help="Page (30 contacts a page).")
@click.option("--address", help="Only contacts with this address.")
@json_option
@pass_cli
def contacts_list(obj: CliContext, page: int, address: str | None, as_json: bool) -> None:
    """List farmers (most recently seen first)."""
    contacts = [_contact_json(c) for c in obj.public_client().contact_list(page, address)]
    if as_json:
        echo_json(contacts)
        return
    rows = [(c.get("nodeID"), f"{c.get('address')}:{c.get('port')}",
             format_time(c.get("lastSeen")), c.get("userAgent") or "-") for c in contacts]
    click.echo(table(rows, ("NODE ID", "ADDRESS", "LAST SEEN", "USER AGENT")))


@contacts_group.command("get")
@click.argument("node_id")
@json_option
@pass_cli
def contacts_get(obj: CliContext, node_id: str, as_json: bool) -> None:
    """Show farmer NODE_ID."""
    contact = _contact_json(obj.public_client().contact_lookup(node_id))
    if as_json:
        echo_json(contact)
        return
    rows = [(f"{k}:", format_time(v)) for k, v in sorted(contact.items())]
    click.echo(table(rows, ("", "")).split("\n", 1)[1])


COMMANDS = [
    register_command,
    import_keys_command,
    export_keys_command,
    generate_mnemonic_command,
    keys_group,
    token_group,
    contacts_group,
]

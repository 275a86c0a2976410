"""``storj-local`` / ``python -m storj.local``: run and inspect a local Storj network.

Commands::

    storj-local serve  [--data DIR] [--farmers N] [--port 6382] [--host 127.0.0.1]
                       [--no-auto-activate] [--dev-endpoints] [--max-connections N]
                       [--mirrors N] [--repair-interval S] [--farmer-lost-after S]
    storj-local status [--data DIR]
    storj-local audit  [--data DIR]
    storj-local reset  [--data DIR] [--yes]

The data directory defaults to ``<user data dir>/storj/local-network`` (platformdirs) and
can be set with ``STORJ_LOCAL_DATA``. It is private to its owner (0700 directories,
0600 files); its ``network.json`` holds the admin secret with which ``audit`` (and the
``storj`` CLI) reach the ``/_dev`` endpoints of a network served by another process.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

__all__ = ["cli", "default_data_dir", "main"]

_DEFAULT_FARMERS = 4


def default_data_dir() -> Path:
    """``platformdirs.user_data_dir("storj")/local-network``."""
    import platformdirs

    return Path(platformdirs.user_data_dir("storj")) / "local-network"


def _existing_farmers(data: Path) -> int:
    farmers = data / "farmers"
    if not farmers.is_dir():
        return 0
    return sum(1 for p in farmers.iterdir() if p.is_dir() and p.name.startswith("farmer-"))


def _looks_like_network(data: Path) -> bool:
    return any((data / name).exists() for name in ("network.json", "bridge", "farmers"))


_data_option = click.option(
    "--data",
    "data",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_data_dir,
    envvar="STORJ_LOCAL_DATA",
    show_default="<user data dir>/storj/local-network",
    help="Directory holding the network (also STORJ_LOCAL_DATA).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """A local Storj v2 network: a Bridge and farmers on this machine."""


@cli.command()
@_data_option
@click.option(
    "--farmers",
    type=click.IntRange(1, 64),
    default=None,
    help=f"Number of farmers [default: as many as DIR has, else {_DEFAULT_FARMERS}].",
)
@click.option("--port", type=click.IntRange(0, 65535), default=6382, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--auto-activate/--no-auto-activate",
    default=True,
    show_default=True,
    help="Activate new users at once (else each user reads its activation token from "
    "GET /_dev/outbox with Basic auth, which needs --dev-endpoints).",
)
@click.option(
    "--dev-endpoints/--no-dev-endpoints",
    default=False,
    show_default=True,
    help="Serve GET /_dev/outbox to users (each reads its own mail, with Basic auth) and "
    "POST /_dev/audit. Without it only the holder of the admin secret in DIR/network.json "
    "reaches them.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1, 100_000),
    default=256,
    show_default=True,
    help="Connections the Bridge and each farmer serve at once; more are answered 503.",
)
@click.option(
    "--mirrors",
    type=click.IntRange(0, 12),
    default=None,
    help="Extra copies the Bridge keeps of each shard by automatic mirroring [default: 2].",
)
@click.option(
    "--repair-interval",
    type=click.FloatRange(0),
    default=300.0,
    show_default=True,
    help="Seconds between maintenance passes: liveness, audits, repair of lost or corrupt "
    "copies, garbage collection (0: none).",
)
@click.option(
    "--farmer-lost-after",
    type=click.FloatRange(0),
    default=3600.0,
    show_default=True,
    help="Seconds a farmer may stay unreachable before its copies are replaced.",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not log every request.")
def serve(
    data: Path,
    farmers: int | None,
    port: int,
    host: str,
    auto_activate: bool,
    dev_endpoints: bool,
    max_connections: int,
    mirrors: int | None,
    repair_interval: float,
    farmer_lost_after: float,
    quiet: bool,
) -> None:
    """Run the network until Ctrl-C or SIGTERM."""
    from storj.exception import StorjError
    from storj.local.network import LocalNetwork

    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
    )
    count = farmers or _existing_farmers(data) or _DEFAULT_FARMERS
    network = LocalNetwork(
        data,
        farmers=count,
        host=host,
        bridge_port=port,
        auto_activate=auto_activate,
        mirror_redundancy=mirrors,
        farmer_options={"max_connections": max_connections},
        dev_endpoints=dev_endpoints,
        max_connections=max_connections,
        repair_interval=repair_interval,
        farmer_lost_after=farmer_lost_after,
    )
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            network.start()
        except StorjError as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port} ({exc}); choose another --port"
            ) from exc
        url = network.bridge_url
        click.echo(
            f"Storj local network: Bridge {url}, {count} farmers, data in {data} "
            f"(started in {network.startup_seconds or 0:.2f} s)"
        )
        click.echo("Point a client at it with:")
        click.echo(f"    export STORJ_BRIDGE={url}")
        if not auto_activate:
            if dev_endpoints:
                click.echo(f"Activation emails: {url}/_dev/outbox (Basic auth of the user)")
            else:
                click.echo("Activation emails: run with --dev-endpoints to let users read them")
        click.echo("Press Ctrl-C to stop.")
        while not stop.wait(0.2):
            pass
        click.echo("Stopping…")
    finally:
        network.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_COUNTS = {
    "users": "SELECT COUNT(*) FROM users",
    "buckets": "SELECT COUNT(*) FROM buckets",
    "entries": "SELECT COUNT(*) FROM entries",
}


def _count(db: Path, table: str) -> str:
    """Rows of ``table`` in the Bridge database, read-only; ``?`` when unreadable."""
    try:
        connection = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True, timeout=2)
    except sqlite3.Error:
        return "?"
    try:
        return str(connection.execute(_COUNTS[table]).fetchone()[0])
    except sqlite3.Error:
        return "?"
    finally:
        connection.close()


def _shard_counts(data: Path) -> tuple[int, int]:
    hashes: set[str] = set()
    copies = 0
    for shards in (data / "farmers").glob("farmer-*/shards"):
        for item in shards.iterdir():
            if item.is_file():
                hashes.add(item.name)
                copies += 1
    return len(hashes), copies


@cli.command()
@_data_option
@click.pass_context
def status(ctx: click.Context, data: Path) -> None:
    """Say whether a network serves DIR and what it holds (exit 3 when not running)."""
    from storj.local.network import read_running_info

    if not _looks_like_network(data):
        click.echo(f"No local network in {data}.")
        ctx.exit(3)
    info = read_running_info(data)
    if info:
        click.echo(f"Running (pid {info.get('pid')}): Bridge {info.get('bridge_url')}")
        for farmer in info.get("farmers", []):
            click.echo(f"  farmer {farmer.get('nodeID')} at {farmer.get('url')}")
    else:
        click.echo(f"Not running. Data in {data}.")
    db = data / "bridge" / "bridge.sqlite3"
    unique, copies = _shard_counts(data)
    for label, table in (("users", "users"), ("buckets", "buckets"), ("files", "entries")):
        click.echo(f"{label + ':':9}{_count(db, table)}")
    click.echo(f"{'shards:':9}{unique} ({copies} copies on {_existing_farmers(data)} farmers)")
    if not info:
        ctx.exit(3)


@cli.command()
@_data_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(data: Path, yes: bool) -> None:
    """Delete DIR and everything in it (users, buckets, files, shards)."""
    from storj.local.network import read_running_info

    if not data.exists():
        click.echo(f"Nothing to reset: {data} does not exist.")
        return
    if not _looks_like_network(data):
        raise click.ClickException(f"{data} does not look like a local network; not deleting it")
    info = read_running_info(data)
    if info:
        raise click.ClickException(
            f"a network (pid {info.get('pid')}) is serving {data}; stop it first"
        )
    if not yes:
        click.confirm(f"Delete {data} and everything stored in it?", abort=True)
    shutil.rmtree(data)
    click.echo(f"Deleted {data}.")


def _remote_audit(url: str, admin_secret: str | None) -> dict[str, Any]:
    """``POST /_dev/audit`` with the admin secret of the data directory."""
    import requests

    headers = {"x-storj-admin-secret": admin_secret} if admin_secret else {}
    with requests.Session() as session:
        session.trust_env = False
        response = session.post(f"{url}/_dev/audit", headers=headers, timeout=600)
    if response.status_code != 200:
        raise click.ClickException(
            f"the running Bridge at {url} does not run audits remotely "
            f"(HTTP {response.status_code}); run this command as the owner of the data "
            "directory, or stop the network and run it again"
        )
    answer = response.json()
    if not isinstance(answer, dict):
        raise click.ClickException("unexpected answer from the Bridge's audit endpoint")
    return answer


@cli.command()
@_data_option
@click.pass_context
def audit(ctx: click.Context, data: Path) -> None:
    """Audit every stored shard; print the failures (exit 1 if any).

    Uses the network serving DIR (through its POST /_dev/audit, with the admin secret
    of DIR/network.json: run it as the owner of DIR), or starts one for the duration of
    the audit.
    """
    from storj.exception import StorjError
    from storj.local.network import LocalNetwork, read_admin_secret, read_running_info

    info = read_running_info(data)
    if info:
        report = _remote_audit(str(info["bridge_url"]), read_admin_secret(data))
    else:
        if not _looks_like_network(data):
            raise click.ClickException(f"no local network in {data}")
        count = _existing_farmers(data) or _DEFAULT_FARMERS
        try:
            with LocalNetwork(data, farmers=count) as network:
                report = network.audit()
        except StorjError as exc:
            raise click.ClickException(str(exc)) from exc
    results = report.get("results", []) if isinstance(report, dict) else []
    failures = [r for r in results if r.get("status") != "ok"]
    for r in failures:
        message = f": {r['message']}" if r.get("message") else ""
        click.echo(
            f"{r.get('status', '?').upper():12} {r.get('hash')} on {r.get('nodeID')}{message}"
        )
    click.echo(
        f"audited {len(results)} shard copies: {len(results) - len(failures)} ok, "
        f"{len(failures)} failed"
    )
    if failures:
        ctx.exit(1)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``storj-local``; returns the exit status."""
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="storj-local",
            standalone_mode=False,
        )
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())

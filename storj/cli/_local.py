"""``storj local …``: the local network's commands (``storj-local``), under ``storj``.

Everything after ``local`` is handed to :func:`storj.local.__main__.main`; the embedded
network's data directory (``--data-dir`` / ``$STORJ_LOCAL_DATA`` / the default) is
passed along as ``--data DIR`` unless one is given after ``local``, so
``storj local status`` shows the network that the other commands use.
"""

from __future__ import annotations

from typing import Any

import click

from storj.cli._context import CliContext, pass_cli

LOCAL_COMMANDS = ("serve", "status", "reset", "audit")


def _has_option(args: list[str], name: str) -> bool:
    return any(a == name or a.startswith(name + "=") for a in args)


def local_argv(args: list[str], data_dir: str) -> list[str]:
    """The arguments for ``storj-local``: ``args`` plus ``--data DIR`` when not given."""
    if not args or args[0] not in LOCAL_COMMANDS or _has_option(args, "--data"):
        return list(args)
    if any(a in ("-h", "--help") for a in args):
        return list(args)
    return [args[0], "--data", data_dir, *args[1:]]


def _run_local(argv: list[str]) -> int:
    from storj.local.__main__ import main as local_main

    entry: Any = local_main
    if isinstance(entry, click.Command):
        try:
            result = entry.main(args=argv, prog_name="storj local", standalone_mode=False)
        except click.exceptions.Exit as exc:
            return int(exc.exit_code)
        return int(result) if isinstance(result, int) else 0
    result = entry(argv)
    return int(result) if isinstance(result, int) else 0


@click.command(
    "local",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                      "help_option_names": []},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_cli
def local_command(obj: CliContext, args: tuple[str, ...]) -> None:
    """Run the local network: serve | status | reset | audit (see `storj local --help`)."""
    code = _run_local(local_argv(list(args), str(obj.data_dir)))
    if code:
        click.get_current_context().exit(code)


COMMANDS = [local_command]

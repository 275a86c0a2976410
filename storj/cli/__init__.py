"""The ``storj`` command: scripted bucket and file automation (libstorj's command set).

Without any configuration every command runs against an embedded local network kept
in the user's data directory; point it at a Bridge with ``--url`` / ``STORJ_BRIDGE``.

Exit status: 0 success, 1 the operation failed, 2 usage error, 130 interrupted.
Errors are one line on stderr (``Error: … what to do``); ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

import click

from storj.cli._context import CliContext
from storj.cli._output import Cancelled, to_click_exception
from storj.exception import StorjError
from storj.metadata import __version__

__all__ = ["bucket", "cli", "file", "key", "keys", "main"]

_LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


class StorjGroup(click.Group):
    """The root group: the one place where library and OS errors become CLI errors."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            if _debug(ctx):
                raise
            raise Cancelled() from None
        except (StorjError, OSError, ValueError) as exc:
            if _debug(ctx):
                raise
            obj = ctx.obj if isinstance(ctx.obj, CliContext) else None
            raise to_click_exception(
                exc,
                bridge=obj.bridge_label if obj else None,
                user=obj.user_label if obj else None,
            ) from None


def _debug(ctx: click.Context) -> bool:
    return bool(isinstance(ctx.obj, CliContext) and ctx.obj.debug)


def _setup_logging(ctx: click.Context, verbose: int, debug: bool, quiet: bool) -> None:
    """Send ``storj.*`` log records to stderr for this invocation (removed when it ends)."""
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    if verbose == 1:
        level = logging.INFO
    if verbose >= 2 or debug:
        level = logging.DEBUG
    logger = logging.getLogger("storj")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    # the embedded network's server logs are noise for a CLI user unless asked for (-v)
    server = logging.getLogger("storj.local")
    previous_server = server.level
    if verbose == 0 and not debug:
        server.setLevel(logging.CRITICAL)

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        server.setLevel(previous_server)

    ctx.call_on_close(restore)


@click.group(cls=StorjGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-u", "--url", metavar="URL",
              help="Bridge URL (default: $STORJ_BRIDGE, the config file, else the embedded "
                   "local network).")
@click.option("--user", metavar="EMAIL",
              help="Bridge user (default: $STORJ_BRIDGE_USER or the config file). The "
                   "password comes from $STORJ_BRIDGE_PASS, the config file or a prompt.")
@click.option("--config", "config_file", metavar="PATH", type=click.Path(dir_okay=False),
              help="Config file to read instead of the default storj.ini.")
@click.option("--data-dir", metavar="DIR", type=click.Path(file_okay=False),
              help="Data directory of the embedded local network (default: "
                   "$STORJ_LOCAL_DATA or the user data dir).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or informational output.")
@click.option("-v", "--verbose", count=True, help="Log more (repeat for debug logs).")
@click.option("--debug", is_flag=True, help="Debug logs and full tracebacks on errors.")
@click.version_option(__version__, "--version", prog_name="storj")
@click.pass_context
def cli(
    ctx: click.Context,
    url: str | None,
    user: str | None,
    config_file: str | None,
    data_dir: str | None,
    quiet: bool,
    verbose: int,
    debug: bool,
) -> None:
    """Store and fetch files on a Storj v2 network.

    \b
    Unix style:  ls [storj://BUCKET/]   cp [-r] SRC... DST   mkbkt NAME
                 rm storj://BUCKET/NAME | rm BUCKET   lm storj://BUCKET/NAME
    Id style:    list-buckets  list-files  add-bucket  remove-bucket  remove-file
                 upload-file  download-file  list-mirrors  get-bucket-id  get-info
    Account:     register  import-keys  export-keys  generate-mnemonic  keys  token  contacts
    Local:       local serve|status|reset|audit   demo

    With no Bridge configured, commands use an embedded local network stored in
    your data directory, so `storj demo` and `storj cp` work out of the box.
    """
    if url is not None and not url.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http:// or https:// URL", param_hint="--url")
    _setup_logging(ctx, verbose, debug, quiet)
    obj = CliContext(
        url=url,
        user=user,
        quiet=quiet,
        verbose=verbose,
        debug=debug,
        data_dir=data_dir,
        config=config_file,
    )
    ctx.obj = obj
    ctx.call_on_close(obj.close)


def _register_commands() -> None:
    from storj.cli import _account, _demo, _files, _ids, _local

    for module in (_files, _ids, _account, _local, _demo):
        for command in module.COMMANDS:
            cli.add_command(command)


_register_commands()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``storj`` console script and ``python -m storj``."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="storj")


# storj 0.3.x's console scripts and ``storj.cli`` groups (storj-bucket, storj-file, storj-key).
from storj.cli._legacy import bucket, file, key, keys  # noqa: E402

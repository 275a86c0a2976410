"""Transfer tuning options: the engine's :class:`~storj.transfer.TransferConfig` from the CLI.

The commands that move bytes (``cp``, ``upload-file``, ``download-file``, ``demo`` and
0.3.x's ``storj-file upload``) take the same options, each with an environment variable
(``STORJ_TRANSFER_…``) for a setting that should hold for every invocation. An option
given on the command line beats its variable; a setting given by neither keeps the
engine's default. Values are checked by click, so a bad one is a usage error (exit 2)
naming the option or the variable.

Only the knobs a user tunes are offered (concurrency, Reed–Solomon parity, the farmer
timeouts, the temporary directory); retry counts and the audit/HMAC settings keep the
engine's defaults.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click

from storj.cli._context import CliContext

if TYPE_CHECKING:  # storj.transfer is imported when a transfer runs, not for --help
    from storj.transfer.config import TransferConfig

F = TypeVar("F", bound=Callable[..., Any])

#: ``--erasure`` value → :attr:`TransferConfig.erasure`.
ERASURE_CHOICES: Mapping[str, bool | None] = {"auto": None, "on": True, "off": False}

ENV_CONCURRENCY = "STORJ_TRANSFER_CONCURRENCY"
ENV_ERASURE = "STORJ_TRANSFER_ERASURE"
ENV_TIMEOUT = "STORJ_TRANSFER_TIMEOUT"
ENV_LOW_SPEED_LIMIT = "STORJ_TRANSFER_LOW_SPEED_LIMIT"
ENV_LOW_SPEED_TIME = "STORJ_TRANSFER_LOW_SPEED_TIME"
ENV_SHARD_DEADLINE = "STORJ_TRANSFER_SHARD_DEADLINE"
ENV_TMP_DIR = "STORJ_TRANSFER_TMP_DIR"

_POSITIVE_SECONDS = click.FloatRange(min=0, min_open=True)

#: Option parameter name → TransferConfig field, for the options every transfer takes.
_FIELDS = {
    "concurrency": "shard_concurrency",
    "timeout": "timeout",
    "low_speed_limit": "low_speed_limit",
    "low_speed_time": "low_speed_time",
    "shard_deadline": "shard_deadline",
    "tmp_dir": "tmp_dir",
}


def transfer_config_from(
    *,
    concurrency: int | None = None,
    erasure: str | None = None,
    timeout: float | None = None,
    low_speed_limit: int | None = None,
    low_speed_time: float | None = None,
    shard_deadline: float | None = None,
    tmp_dir: str | None = None,
) -> TransferConfig:
    """The :class:`TransferConfig` for these option values; ``None`` keeps a default.

    Pure: ``erasure`` is ``"auto"``, ``"on"`` or ``"off"`` (:data:`ERASURE_CHOICES`).

    :raises click.BadParameter: a combination the engine refuses (exit status 2).
    """
    from storj.transfer.config import TransferConfig

    given = {
        "concurrency": concurrency,
        "timeout": timeout,
        "low_speed_limit": low_speed_limit,
        "low_speed_time": low_speed_time,
        "shard_deadline": shard_deadline,
        "tmp_dir": tmp_dir,
    }
    values: dict[str, Any] = {
        _FIELDS[option]: value for option, value in given.items() if value is not None
    }
    if erasure is not None:
        try:
            values["erasure"] = ERASURE_CHOICES[erasure.lower()]
        except KeyError:
            raise click.BadParameter(
                f"{erasure!r} is not one of auto, on, off", param_hint="--erasure"
            ) from None
    try:
        return TransferConfig(**values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _options(*, upload: bool) -> list[Callable[[F], F]]:
    options: list[Callable[[F], F]] = [
        click.option(
            "--concurrency", metavar="N", type=click.IntRange(min=1), envvar=ENV_CONCURRENCY,
            show_envvar=True,
            help="Shards transferred at the same time (default: 4).",
        ),
    ]
    if upload:
        options.append(click.option(
            "--erasure", type=click.Choice(tuple(ERASURE_CHOICES), case_sensitive=False),
            envvar=ENV_ERASURE, show_envvar=True,
            help="Reed–Solomon parity shards: on, off, or auto (default: parity for "
                 "files of 2 MiB and more, like libstorj).",
        ))
    options += [
        click.option(
            "--timeout", metavar="SECONDS", type=_POSITIVE_SECONDS, envvar=ENV_TIMEOUT,
            show_envvar=True,
            help="Seconds to wait for a farmer to connect or answer (default: 60).",
        ),
        click.option(
            "--low-speed-limit", metavar="BYTES", type=click.IntRange(min=0),
            envvar=ENV_LOW_SPEED_LIMIT, show_envvar=True,
            help="Abort a farmer transfer slower than BYTES per second for "
                 "--low-speed-time seconds (default: 30720; 0 turns the rule off).",
        ),
        click.option(
            "--low-speed-time", metavar="SECONDS", type=_POSITIVE_SECONDS,
            envvar=ENV_LOW_SPEED_TIME, show_envvar=True,
            help="See --low-speed-limit (default: 20).",
        ),
        click.option(
            "--shard-deadline", metavar="SECONDS", type=_POSITIVE_SECONDS,
            envvar=ENV_SHARD_DEADLINE, show_envvar=True,
            help="Seconds one shard transfer with a farmer may take in total (default: "
                 "computed per shard from the timeout and the low-speed rule).",
        ),
    ]
    if upload:
        options.append(click.option(
            "--tmp-dir", metavar="DIR", envvar=ENV_TMP_DIR, show_envvar=True,
            type=click.Path(exists=True, file_okay=False, writable=True),
            help="Directory for the parity shards' temporary file (default: the system's "
                 "temporary directory).",
        ))
    return options


def _names(*, upload: bool) -> tuple[str, ...]:
    common = ("concurrency", "timeout", "low_speed_limit", "low_speed_time", "shard_deadline")
    return (*common, "erasure", "tmp_dir") if upload else common


def transfer_options(*, upload: bool = True) -> Callable[[F], F]:
    """Add the tuning options to a command; they set ``CliContext.transfer_config``.

    Apply below ``@click.command`` and above ``@pass_cli``; the command function does not
    see the options. ``upload=False`` (download-only commands) leaves out ``--erasure``
    and ``--tmp-dir``, which only uploads use.
    """

    def decorate(func: F) -> F:
        names = _names(upload=upload)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name, None) for name in names}
            obj = click.get_current_context().find_object(CliContext)
            if obj is not None:
                obj.transfer_config = transfer_config_from(**values)
            return func(*args, **kwargs)

        decorated: Any = wrapper
        for option in reversed(_options(upload=upload)):
            decorated = option(decorated)
        return decorated

    return decorate

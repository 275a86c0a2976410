"""A small Sphinx extension: reference pages generated from ``click`` commands.

Usage in reStructuredText::

    .. click:: storj.cli:cli
       :prog: storj
       :recursive:
       :exclude: local

The directive imports the object, asks click for the help text of the command (the
exact text ``storj --help`` prints, at a fixed width of 88 columns) and, with
``:recursive:``, for every subcommand too, each in a section of its own titled
``storj <name>`` (with a ``:ref:`` label ``cli-storj-<name>``). So the page cannot
drift from the command line: the reference *is* the CLI's own ``--help``.

Options:

``:prog:``
    program name shown in usage lines and titles (default: the command's name);
``:recursive:``
    also render every subcommand of a group, depth first;
``:exclude:``
    space-separated subcommand names to leave out;
``:width:``
    wrap width of the help text (default 88).

Nothing here needs the network; ``sphinx-click`` (not installed) is not used.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import click
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

__all__ = ["ClickDirective", "help_text", "import_command", "setup"]

DEFAULT_WIDTH = 88


def import_command(target: str) -> click.Command:
    """The click command named by ``"package.module:attribute"``."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected 'module:attribute', got {target!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, click.Command):
        raise TypeError(f"{target} is a {type(obj).__name__}, not a click command")
    return obj


def _context(
    command: click.Command, name: str, parent: click.Context | None, width: int
) -> click.Context:
    return click.Context(
        command,
        info_name=name,
        parent=parent,
        terminal_width=width,
        max_content_width=width,
        # No automatic STORJ_* option variables: the text is the same for every builder.
        auto_envvar_prefix=None,
    )


def help_text(command: click.Command, ctx: click.Context) -> str:
    """What ``<prog> … <command> --help`` prints, without trailing blanks."""
    text = command.get_help(ctx)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _commands(group: click.Group, ctx: click.Context) -> list[tuple[str, click.Command]]:
    out = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            out.append((name, command))
    return out


class ClickDirective(SphinxDirective):
    """``.. click:: module:attribute`` — see the module docstring."""

    required_arguments = 1
    has_content = False
    option_spec = {
        "prog": directives.unchanged_required,
        "recursive": directives.flag,
        "exclude": directives.unchanged,
        "width": directives.positive_int,
    }

    def run(self) -> list[nodes.Node]:
        target = self.arguments[0]
        try:
            command = import_command(target)
        except Exception as exc:  # reported as a Sphinx warning (an error under -W)
            raise self.error(f"click: cannot import {target}: {exc}") from exc
        prog = self.options.get("prog") or command.name or target
        width = self.options.get("width", DEFAULT_WIDTH)
        exclude = set((self.options.get("exclude") or "").split())
        recursive = "recursive" in self.options
        ctx = _context(command, prog, None, width)
        return self._render(command, ctx, prog, recursive, exclude, top=True)

    def _render(
        self,
        command: click.Command,
        ctx: click.Context,
        full_name: str,
        recursive: bool,
        exclude: set[str],
        *,
        top: bool,
    ) -> list[nodes.Node]:
        """The help of ``command`` (in a section unless ``top``), then its subcommands."""
        text = help_text(command, ctx)
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        if top:
            out: list[nodes.Node] = [block]
            parent: nodes.Element | None = None
        else:
            label = "cli-" + _slug(full_name)
            parent = nodes.section("", ids=[label], names=[label])
            # An explicit target: ``:ref:`cli-storj-cp``` links here, titled "storj cp".
            self.state.document.note_explicit_target(parent)
            title = nodes.title("", "")
            title += nodes.literal(full_name, full_name)
            parent += title
            summary = command.get_short_help_str(limit=200)
            if summary:
                parent += nodes.paragraph(summary, summary)
            parent += block
            out = [parent]
        if recursive and isinstance(command, click.Group):
            for name, sub in _commands(command, ctx):
                if name in exclude:
                    continue
                sub_ctx = _context(sub, name, ctx, ctx.terminal_width or DEFAULT_WIDTH)
                rendered = self._render(
                    sub, sub_ctx, f"{full_name} {name}", recursive, exclude, top=False
                )
                if parent is None:
                    out.extend(rendered)
                else:
                    parent.extend(rendered)
        return out


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("click", ClickDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

"""The documentation builds without a warning, and every example in it runs.

* The HTML build runs with ``-W`` (warnings are errors), so a broken cross-reference,
  a docstring with bad markup or a module that no longer imports fails here.
* The ``doctest`` builder runs every ``.. doctest::`` / ``.. testcode::`` block of the
  guides (ids, hashes, keys, shard sizes, Merkle trees, configuration files, and
  transfers against a real local network).
* The scripts the guides include with ``literalinclude`` (``docs/examples/``) are run
  as they are, against a fresh local network in ``tmp_path``: the Quickstart with
  its settings injected through ``STORJ_BRIDGE`` / ``STORJ_BRIDGE_USER`` /
  ``STORJ_BRIDGE_PASS`` / ``STORJ_ENCRYPTION_KEY``, as a reader would run it.

The two Sphinx builds need Sphinx (``pip install -e '.[docs]'``) and are skipped, with
that reason, where it is not installed. They run in subprocesses, started together,
so the whole file takes about as long as the slower build.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"

HAVE_SPHINX = importlib.util.find_spec("sphinx") is not None
needs_sphinx = pytest.mark.skipif(
    not HAVE_SPHINX,
    reason="Sphinx is not installed: pip install -e '.[docs]' (or -r docs/requirements.txt)",
)

#: The modules of the published API documentation (documented-api.txt), in its order.
DOCUMENTED_MODULES = [
    "storj.api",
    "storj.configuration",
    "storj.exception",
    "storj.http",
    "storj.metadata",
    "storj.model",
    "storj.web_socket",
]
#: Modules documented beyond the published API.
MORE_MODULES = [
    "storj.crypto",
    "storj.erasure",
    "storj.sharding",
    "storj.merkle",
    "storj.keys",
    "storj.naming",
    "storj.paging",
    "storj.transfer",
    "storj.local",
]

BUILD_TIMEOUT = 300


def _env(**extra: str) -> dict[str, str]:
    """The environment of a child process: this checkout first on the path, no STORJ_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORJ_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


class _Build:
    """One ``sphinx-build`` run in a subprocess, started at once, waited for on demand."""

    def __init__(self, builder: str, out: Path) -> None:
        self.out = out
        self.log = out.parent / f"{builder}.log"
        self._log_handle = self.log.open("wb")
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "sphinx",
                "-W",
                "--keep-going",
                "-q",
                "-E",
                "-b",
                builder,
                str(DOCS),
                str(out),
            ],
            cwd=ROOT,
            env=_env(),
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
        )
        self._returncode: int | None = None

    def wait(self) -> tuple[int, str]:
        if self._returncode is None:
            try:
                self._returncode = self._process.wait(timeout=BUILD_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
                self._returncode = -1
            finally:
                self._log_handle.close()
        return self._returncode, self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._log_handle.close()


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, _Build]]:
    """The html and doctest builds, running in parallel."""
    base = tmp_path_factory.mktemp("docs-build")
    started = {name: _Build(name, base / name) for name in ("html", "doctest")}
    try:
        yield started
    finally:
        for build in started.values():
            build.stop()


# ---------------------------------------------------------------------------- the builds


@needs_sphinx
@pytest.mark.slow
def test_html_builds_without_warnings(builds: dict[str, _Build]) -> None:
    code, log = builds["html"].wait()
    assert code == 0, f"sphinx-build -W -b html failed:\n{log[-6000:]}"
    html = builds["html"].out
    for page in (
        "index",
        "installation",
        "quickstart",
        "configuration",
        "transfers",
        "local-network",
        "cli",
        "errors",
        "protocol",
        "api",
        "api-more",
        "internals",
    ):
        assert (html / f"{page}.html").is_file(), f"{page}.html was not built"
    assert (html / "_static" / "upload-pipeline.svg").is_file()


@needs_sphinx
@pytest.mark.slow
def test_api_pages_document_every_module(builds: dict[str, _Build]) -> None:
    code, log = builds["html"].wait()
    assert code == 0, log[-6000:]
    api = (builds["html"].out / "api.html").read_text(encoding="utf-8")
    for module in [*DOCUMENTED_MODULES, "storj"]:
        assert f'id="module-{module}"' in api, f"{module} is missing from api.html"
    # A few documented names, generated from the docstrings.
    for name in (
        "storj.http.Client.bucket_create",
        "storj.http.Client.file_pointers",
        "storj.configuration.read_config",
        "storj.model.MerkleTree",
        "storj.BucketManager",
        "storj.TokenManager",
        "storj.get_client",
        "storj.generate_new_key_pair",
        "storj.exception.StorjBridgeApiError",
    ):
        assert f'id="{name}"' in api, f"{name} is not documented in api.html"
    more = (builds["html"].out / "api-more.html").read_text(encoding="utf-8")
    for module in MORE_MODULES:
        assert f'id="module-{module}"' in more, f"{module} is missing from api-more.html"
    # viewcode pages exist for the documented modules.
    for module in DOCUMENTED_MODULES:
        path = builds["html"].out / "_modules" / Path(*module.split("."))
        assert path.with_suffix(".html").is_file(), f"no source page for {module}"


@needs_sphinx
@pytest.mark.slow
def test_cli_reference_covers_every_command(builds: dict[str, _Build]) -> None:
    code, log = builds["html"].wait()
    assert code == 0, log[-6000:]
    cli_html = (builds["html"].out / "cli.html").read_text(encoding="utf-8")
    from storj.cli import cli as storj_cli
    from storj.local.__main__ import cli as local_cli

    for prog, group in (("storj", storj_cli), ("storj-local", local_cli)):
        for name in _all_command_paths(group):
            anchor = "cli-" + re.sub(r"[^a-z0-9]+", "-", f"{prog} {name}".lower()).strip("-")
            assert f'id="{anchor}"' in cli_html, f"`{prog} {name}` has no section in cli.html"
    # The text is click's own help.
    assert "Copy files to or from a bucket." in cli_html
    assert "Run the network until Ctrl-C or SIGTERM." in cli_html


@needs_sphinx
@pytest.mark.slow
def test_doctest_builder_runs_every_example(builds: dict[str, _Build]) -> None:
    code, log = builds["doctest"].wait()
    output = builds["doctest"].out / "output.txt"
    report = output.read_text(encoding="utf-8") if output.is_file() else ""
    assert code == 0, f"sphinx-build -b doctest failed:\n{log[-4000:]}\n{report[-6000:]}"
    summary = report[report.rfind("Doctest summary") :]
    assert re.search(r"^\s+0 failures in tests$", summary, re.M), report[-4000:]
    assert re.search(r"^\s+0 failures in setup code$", summary, re.M), report[-4000:]
    tests = int(re.search(r"^\s+(\d+) tests$", summary, re.M).group(1))  # type: ignore[union-attr]
    assert tests >= 100, f"only {tests} doctests ran:\n{report[-4000:]}"
    for document in ("configuration", "errors", "local-network", "protocol", "transfers"):
        assert f"Document: {document}" in report, f"no examples of {document} were run"


def _all_command_paths(group: click.Group, prefix: str = "") -> list[str]:
    ctx = click.Context(group)
    out = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        out.append(prefix + name)
        if isinstance(command, click.Group):
            out.extend(_all_command_paths(command, prefix + name + " "))
    return out


# ---------------------------------------------------------------------- the example scripts


def _run_example(script: Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_quickstart_runs_against_a_local_network(tmp_path: Path) -> None:
    """docs/examples/quickstart.py, configured through the environment as in the guide."""
    from storj.crypto import generate_mnemonic
    from storj.local import LocalNetwork

    work = tmp_path / "work"
    work.mkdir()
    with LocalNetwork(tmp_path / "net", farmers=4) as network:
        email, password = network.create_user()
        env = _env(
            STORJ_BRIDGE=network.bridge_url,
            STORJ_BRIDGE_USER=email,
            STORJ_BRIDGE_PASS=password,
            STORJ_ENCRYPTION_KEY=generate_mnemonic(),
            # No configuration file of the person running the tests is read.
            XDG_CONFIG_HOME=str(tmp_path / "config"),
            HOME=str(tmp_path / "home"),
        )
        result = _run_example(EXAMPLES / "quickstart.py", work, env)
    assert result.returncode == 0, result.stderr[-4000:]
    assert re.fullmatch(
        r"stored 14 bytes as file [0-9a-f]{24} in bucket [0-9a-f]{24}\n", result.stdout
    ), result.stdout
    assert (work / "hello-copy.txt").read_bytes() == b"Hello, Storj!\n"


def test_quickstart_is_ten_lines() -> None:
    """The guide promises a first upload and download in ten lines of code."""
    lines = [
        line
        for line in (EXAMPLES / "quickstart.py").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert len(lines) <= 11, lines  # ten lines after the import


def test_local_network_example_runs(tmp_path: Path) -> None:
    """docs/examples/local_network.py starts its own network in the working directory."""
    result = _run_example(EXAMPLES / "local_network.py", tmp_path, _env(HOME=str(tmp_path)))
    assert result.returncode == 0, result.stderr[-4000:]
    assert re.fullmatch(
        r"uploaded and downloaded 10240000 bytes; stored as [0-9a-f]{24}\n", result.stdout
    ), result.stdout
    assert (tmp_path / "storj-net" / "bridge" / "bridge.sqlite3").is_file()


def _plugin_is_installed() -> bool:
    return any(
        ep.value == "storj.local.pytest_plugin"
        for ep in importlib.metadata.entry_points(group="pytest11")
    )


def test_pytest_fixture_example_passes(tmp_path: Path) -> None:
    """docs/examples/test_with_local_network.py passes with the package's pytest plugin."""
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-c",
        str(ini),
        "--rootdir",
        str(tmp_path),
        "-p",
        "no:cacheprovider",
        "--basetemp",
        str(tmp_path / "basetemp"),
    ]
    if not _plugin_is_installed():  # running from a checkout: load the plugin by name
        args += ["-p", "storj.local.pytest_plugin"]
    args.append(str(EXAMPLES / "test_with_local_network.py"))
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        args,
        cwd=tmp_path,
        env=_env(HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout


# -------------------------------------------------------------- the CLI reference extension


@pytest.fixture
def clickdoc():
    if not HAVE_SPHINX:
        pytest.skip("Sphinx is not installed: pip install -e '.[docs]' (the extension imports it)")
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import clickdoc

        yield clickdoc
    finally:
        sys.path.remove(str(DOCS / "_ext"))
        sys.modules.pop("clickdoc", None)


def test_clickdoc_renders_clicks_own_help(clickdoc) -> None:
    @click.group()
    def tool() -> None:
        """A tool."""

    @tool.command()
    @click.option("--size", default=3, show_default=True, help="How many.")
    @click.argument("name")
    def make(size: int, name: str) -> None:
        """Make NAME."""

    ctx = clickdoc._context(tool, "tool", None, 60)
    assert clickdoc.help_text(tool, ctx) == (
        "Usage: tool [OPTIONS] COMMAND [ARGS]...\n\n  A tool.\n\nOptions:\n"
        "  --help  Show this message and exit.\n\nCommands:\n  make  Make NAME."
    )
    sub = clickdoc._context(make, "make", ctx, 60)
    assert clickdoc.help_text(make, sub) == (
        "Usage: tool make [OPTIONS] NAME\n\n  Make NAME.\n\nOptions:\n"
        "  --size INTEGER  How many.  [default: 3]\n"
        "  --help          Show this message and exit."
    )


def test_clickdoc_imports_commands_and_rejects_the_rest(clickdoc) -> None:
    assert clickdoc.import_command("storj.cli:cli").name == "cli"
    with pytest.raises(ValueError, match="module:attribute"):
        clickdoc.import_command("storj.cli")
    with pytest.raises(TypeError, match="not a click command"):
        clickdoc.import_command("storj.cli:main")
    with pytest.raises(AttributeError):
        clickdoc.import_command("storj.cli:no_such_command")


# ---------------------------------------------------------------- structure (no Sphinx)


def test_api_page_follows_the_published_structure() -> None:
    """Installation, then API documentation with one section per module, in the published
    order, then the package contents."""
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    modules = re.findall(r"^\.\. automodule:: (\S+)$", text, re.M)
    assert modules == [*DOCUMENTED_MODULES, "storj"]
    for module in DOCUMENTED_MODULES:
        assert f"{module} module\n" in text
    assert "Module contents" in text
    more = (DOCS / "api-more.rst").read_text(encoding="utf-8")
    for module in MORE_MODULES:
        assert f".. automodule:: {module}\n" in more, module
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    toctree = index[index.index(".. toctree::") :]
    pages = re.findall(r"^   ([a-z][\w-]*)$", toctree, re.M)
    assert pages[:2] == ["installation", "quickstart"]
    assert {"api", "api-more", "internals", "cli", "errors", "protocol"} <= set(pages)


def _readme_python_block() -> str:
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    match = re.search(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    assert match, "README.rst has no python code block"
    lines = [line[4:] if line.startswith("    ") else line for line in match.group(1).splitlines()]
    return "\n".join(lines)


def test_readme_usage_example_runs(tmp_path, monkeypatch, capsys):
    """The README's Python example uploads and downloads a file byte for byte."""
    code = _readme_python_block().replace('"/tmp/storj-net"', repr(str(tmp_path / "net")))
    assert "tmp_path" not in code and str(tmp_path) in code, "the example's data dir moved"
    monkeypatch.chdir(tmp_path)
    original = os.urandom(70_000)
    (tmp_path / "holiday.jpg").write_bytes(original)
    exec(compile(code, "README.rst", "exec"), {"__name__": "readme_example"})  # noqa: S102
    assert (tmp_path / "holiday-copy.jpg").read_bytes() == original
    assert "['holiday.jpg']" in capsys.readouterr().out  # listed by its plain name


def test_readme_is_valid_restructuredtext():
    """README.rst renders without a warning (as PyPI and GitHub render it)."""
    docutils_core = pytest.importorskip("docutils.core", reason="docutils comes with Sphinx")
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    docutils_core.publish_doctree(
        text,
        settings_overrides={"halt_level": 2, "report_level": 2, "traceback": True},
    )

"""The import contract between the client and the local network, in both directions.

* Client code (the SDK and the CLI) never loads the server: importing any module outside
  ``storj.local`` loads nothing under ``storj.local``. The one exception is the CLI's
  ``storj local`` command and its embedded network (``storj cp`` without a Bridge), which
  start a network on purpose: they import ``storj.local`` inside the functions that need
  it, and only the CLI modules named in :data:`CLI_LAZY_SERVER_IMPORTS` may do so.
* The server (``storj.local``) never loads client-only code: it imports only the modules
  both sides share (:data:`SHARED`: wire-format helpers, keys, Merkle trees, exceptions).

Checked twice: in a fresh interpreter per module (what an ``import`` really loads,
transitively), and statically over the source (so an import hidden inside a function,
which the fresh interpreter never runs, is caught too).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "storj"

#: The modules the server may import from outside ``storj.local``: what it imports
#: today, all of them pure helpers that the client uses as well.
SHARED = frozenset({
    "storj",  # the package itself (its ``__init__`` imports only the two below eagerly)
    "storj.exception",
    "storj.metadata",
    "storj.api",  # ids, hashes and password hashing of the wire protocol
    "storj.keys",  # node ids, signatures
    "storj.merkle",  # audit trees
    "storj._channel_protocol",  # the legacy channel's framing, spoken by both ends
})

#: CLI modules allowed to import ``storj.local`` (inside functions only): the ``storj
#: local`` command and the embedded network the CLI starts when no Bridge is configured.
CLI_LAZY_SERVER_IMPORTS = frozenset({"storj.cli._embedded", "storj.cli._local"})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_server(name: str) -> bool:
    return name == "storj.local" or name.startswith("storj.local.")


SOURCES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
CLIENT_MODULES = sorted(name for name in SOURCES if not _is_server(name)
                        and not name.endswith("__main__"))
SERVER_MODULES = sorted(name for name in SOURCES if _is_server(name)
                        and not name.endswith("__main__"))


def _loaded_by(module: str) -> list[str]:
    """The ``storj`` modules a fresh interpreter has loaded after ``import module``."""
    code = ("import json, sys; import " + module + "; "
            "print(json.dumps(sorted(m for m in sys.modules "
            "if m == 'storj' or m.startswith('storj.'))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _imports(module: str, tree: ast.AST) -> list[tuple[str, int, bool]]:
    """Every ``storj`` module that ``module``'s source imports: (name, line, in a function).

    ``from storj import keys`` counts as ``storj.keys``; relative imports are resolved.
    ``if TYPE_CHECKING:`` blocks are skipped: they never run.
    """
    package = module if SOURCES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for branch in node.orelse:
                visit(branch, in_function)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno, in_function) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno, in_function))
            for alias in node.names:  # ``from storj import keys`` imports a module
                if f"{target}.{alias.name}" in SOURCES:
                    found.append((f"{target}.{alias.name}", node.lineno, in_function))
        nested = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef
                                           | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, nested)

    visit(tree, False)
    return [item for item in found if item[0] == "storj" or item[0].startswith("storj.")]


def _static_imports(module: str) -> list[tuple[str, int, bool]]:
    return _imports(module, ast.parse(SOURCES[module].read_text(), str(SOURCES[module])))


def _client_violations(module: str, imports: list[tuple[str, int, bool]]) -> list[str]:
    bad = []
    for name, line, in_function in imports:
        if not _is_server(name):
            continue
        if module in CLI_LAZY_SERVER_IMPORTS and in_function:
            continue
        bad.append(f"{module}:{line} imports {name}")
    return bad


def _server_violations(module: str, imports: list[tuple[str, int, bool]]) -> list[str]:
    return [f"{module}:{line} imports {name}" for name, line, _ in imports
            if not _is_server(name) and name not in SHARED]


# --------------------------------------------------------------------------- at run time


@pytest.mark.parametrize("module", CLIENT_MODULES)
def test_importing_client_code_loads_no_server_module(module: str) -> None:
    server = [name for name in _loaded_by(module) if _is_server(name)]
    assert server == [], f"import {module} loads the local network: {server}"


@pytest.mark.parametrize("module", SERVER_MODULES)
def test_importing_the_server_loads_only_shared_modules(module: str) -> None:
    client = [name for name in _loaded_by(module)
              if not _is_server(name) and name not in SHARED]
    assert client == [], f"import {module} loads client-only modules: {client}"


# --------------------------------------------------------------------------- in the source


def test_no_client_source_imports_the_server_even_inside_a_function() -> None:
    bad = [v for module in CLIENT_MODULES
           for v in _client_violations(module, _static_imports(module))]
    assert bad == []


def test_no_server_source_imports_client_only_modules_even_inside_a_function() -> None:
    bad = [v for module in SERVER_MODULES
           for v in _server_violations(module, _static_imports(module))]
    assert bad == []


def test_the_lists_of_exceptions_name_real_modules() -> None:
    assert SHARED <= set(SOURCES)
    assert CLI_LAZY_SERVER_IMPORTS <= set(SOURCES)
    assert {"storj.http", "storj.transfer", "storj.cli", "storj.model"} <= set(CLIENT_MODULES)
    assert {"storj.local.bridge", "storj.local.farmer"} <= set(SERVER_MODULES)


# --------------------------------------------------------------------------- the checker


def _check(module: str, source: str) -> list[str]:
    imports = _imports(module, ast.parse(source))
    if _is_server(module):
        return _server_violations(module, imports)
    return _client_violations(module, imports)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("storj.http", "def f():\n    from storj.local import LocalNetwork\n"),
        ("storj.transfer.upload", "from ..local import bridge\n"),
        ("storj.cli._ops", "def f():\n    import storj.local.network\n"),
        ("storj.cli._embedded", "from storj.local.network import LocalNetwork\n"),
        ("storj.local.bridge.app", "def f():\n    from storj import transfer\n"),
        ("storj.local.farmer", "from storj.http import Client\n"),
        ("storj.local.bridge.app", "from ...cli import cli\n"),
    ],
)
def test_the_static_check_catches_a_forbidden_import(module: str, source: str) -> None:
    assert _check(module, source) != []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("storj.cli._embedded", "def f():\n    from storj.local.network import LocalNetwork\n"),
        ("storj.local.farmer", "from storj import keys\nfrom storj.api import ripemd\n"),
        ("storj.local.farmer", "from typing import TYPE_CHECKING\n"
                               "if TYPE_CHECKING:\n    from storj.http import Client\n"),
        ("storj.http", "from storj import api\nimport requests\n"),
    ],
)
def test_the_static_check_allows_what_the_contract_allows(module: str, source: str) -> None:
    assert _check(module, source) == []

"""The types users see: ``mypy --strict`` on the documented examples, ``help()`` output.

The README and Quickstart examples are extracted from the documents at test time
(``code-block:: python``, ``testcode`` and the ``literalinclude``-d scripts), so the
documents and this test cannot drift apart. They are checked as a user's own scripts
would be: in a directory of their own, with ``mypy --strict`` and no project
configuration, against the ``storj`` package this interpreter imports (the installed
one; for an editable install, the checkout the install points at). Errors inside
``storj`` itself are silenced (``--follow-imports=silent``), exactly as mypy does for
a package installed in site-packages: the test is about the types users see.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import pydoc
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

HAVE_MYPY = importlib.util.find_spec("mypy") is not None
needs_mypy = pytest.mark.skipif(
    not HAVE_MYPY and not os.environ.get("CI"),
    reason="mypy is not installed: pip install -e '.[test]'",
)

_DIRECTIVE = re.compile(r"^(\s*)\.\. (code-block|code|sourcecode|testcode)::\s*(\S*)\s*$")
_INCLUDE = re.compile(r"^\s*\.\. literalinclude::\s*(\S+)\s*$")


def _indented_body(lines: list[str], start: int, indent: str) -> str:
    """The directive body after line ``start``: options skipped, common indent removed."""
    body: list[str] = []
    i = start + 1
    while i < len(lines) and re.match(rf"^{re.escape(indent)}\s+:\w[\w-]*:", lines[i]):
        i += 1  # directive options
    for line in lines[i:]:
        if (
            line.strip()
            and not line.startswith(indent + " ")
            and not line.startswith(indent + "\t")
        ):
            break
        body.append(line)
    text = "\n".join(body).strip("\n")
    widths = [len(x) - len(x.lstrip()) for x in text.splitlines() if x.strip()]
    cut = min(widths, default=0)
    return "\n".join(x[cut:] for x in text.splitlines()) + "\n"


def python_examples(document: Path) -> list[tuple[str, str]]:
    """``(label, source)`` of every Python example in a reStructuredText document.

    ``code-block:: python`` / ``code:: python`` / ``testcode`` bodies, and the files
    of ``literalinclude`` directives whose ``:language:`` is ``python`` (or whose
    file ends in ``.py``), resolved relative to the document.
    """
    lines = document.read_text(encoding="utf-8").splitlines()
    found: list[tuple[str, str]] = []
    for n, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if match and (match[2] == "testcode" or match[3] in ("python", "python3", "py")):
            found.append((f"{document.name}:{n + 1}", _indented_body(lines, n, match[1])))
            continue
        include = _INCLUDE.match(line)
        if include:
            options = []
            for follow in lines[n + 1 :]:
                if not re.match(r"^\s+:\w[\w-]*:", follow):
                    break
                options.append(follow.strip())
            language = next((o.split(":", 2)[2].strip() for o in options if "language" in o), "")
            target = (document.parent / include[1]).resolve()
            if language in ("python", "py") or target.suffix == ".py":
                found.append((f"{document.name}:{n + 1} ({include[1]})", target.read_text()))
    return found


def _examples() -> list[tuple[str, str]]:
    return python_examples(ROOT / "README.rst") + python_examples(DOCS / "quickstart.rst")


def _run_mypy_strict(tmp_path: Path, scripts: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m mypy --strict`` on ``scripts`` written into ``tmp_path``, as a user runs it."""
    spec = importlib.util.find_spec("storj")
    assert spec is not None and spec.submodule_search_locations
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYPY", "PYTHON"))}
    if "site-packages" not in package_dir.parts and "dist-packages" not in package_dir.parts:
        # An editable install imports through a hook mypy cannot follow: show mypy the
        # directory the hook imports from (the same code the interpreter runs).
        env["MYPYPATH"] = str(package_dir.parent)
    config = tmp_path / "empty.ini"
    config.write_text("[mypy]\n")
    paths = []
    for name, source in scripts.items():
        path = tmp_path / name
        path.write_text(source, encoding="utf-8")
        paths.append(str(path))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--config-file",
            str(config),
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--python-executable",
            sys.executable,
            "--no-color-output",
            "--hide-error-context",
            *paths,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )


# --------------------------------------------------------------------------- extraction


def test_the_extractor_finds_the_readme_and_quickstart_examples() -> None:
    labels = [label for label, _ in _examples()]
    assert any(label.startswith("README.rst") for label in labels), labels
    assert any("examples/quickstart.py" in label for label in labels), labels
    assert any("examples/local_network.py" in label for label in labels), labels


def test_the_extractor_reads_blocks_options_and_includes(tmp_path: Path) -> None:
    (tmp_path / "inc.py").write_text("y = 2\n")
    doc = tmp_path / "doc.rst"
    doc.write_text(
        "Title\n=====\n\n.. code-block:: python\n   :caption: c\n\n    x = 1\n    if x:\n"
        "        print(x)\n\nText.\n\n.. code-block:: console\n\n   $ ls\n\n"
        ".. literalinclude:: inc.py\n   :language: python\n\n.. testcode::\n\n   z = 3\n"
    )
    assert [source for _, source in python_examples(doc)] == [
        "x = 1\nif x:\n    print(x)\n",
        "y = 2\n",
        "z = 3\n",
    ]


# --------------------------------------------------------------------------- mypy --strict


@pytest.mark.slow
@needs_mypy
def test_documented_examples_pass_mypy_strict(tmp_path: Path) -> None:
    """README and Quickstart code type-checks under ``--strict`` without narrowing."""
    examples = _examples()
    scripts = {f"example_{n}.py": source for n, (_, source) in enumerate(examples)}
    # What issue 13 names: an uploaded file's id goes straight into open_file().
    scripts["no_narrowing.py"] = (
        "from storj.http import Client\n"
        "from storj.model import Bucket, File\n\n"
        "def copy_head(client: Client, bucket: Bucket, path: str) -> bytes:\n"
        "    f: File = client.upload_file(bucket.id, path)\n"
        "    name: str = f.filename\n"
        "    size: int = f.size + len(name)\n"
        "    with client.open_file(bucket.id, f.id) as reader:\n"
        "        return reader.read(size)\n"
    )
    result = _run_mypy_strict(tmp_path, scripts)
    legend = "\n".join(f"example_{n}.py = {label}" for n, (label, _) in enumerate(examples))
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n{legend}"


@pytest.mark.slow
@needs_mypy
def test_mypy_strict_sees_the_real_signatures(tmp_path: Path) -> None:
    """Control: the check above is real (storj is typed, not ``Any``, to mypy)."""
    scripts = {
        "wrong.py": (
            "from storj.http import Client\n\n"
            "def f(client: Client) -> None:\n"
            "    client.upload_file(1, 'x')\n"
            "    n: int = client.bucket_create('b').id\n"
        )
    }
    result = _run_mypy_strict(tmp_path, scripts)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Argument 1 to "upload_file" of "Client"' in result.stdout, result.stdout
    assert 'expression has type "str", variable has type "int"' in result.stdout, result.stdout


# --------------------------------------------------------------------------- help()


def test_help_shows_upload_file_parameters() -> None:
    import storj

    signature = inspect.signature(storj.Client.upload_file)
    assert list(signature.parameters)[:3] == ["self", "bucket_id", "source"]
    for keyword in ("name", "mimetype", "progress", "config", "cancel", "overwrite"):
        assert signature.parameters[keyword].kind is inspect.Parameter.KEYWORD_ONLY
    text = pydoc.render_doc(storj.Client.upload_file, renderer=pydoc.plaintext)
    assert "upload_file(self, bucket_id: 'str', source:" in text, text
    assert "Upload a file" in text


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("download_file", "bucket_id"),
        ("open_file", "bucket_id"),
        ("bucket_create", "name"),
        ("file_metadata", "bucket_id"),
    ],
)
def test_help_shows_other_client_parameters(name: str, first: str) -> None:
    import storj

    method = getattr(storj.Client, name)
    assert list(inspect.signature(method).parameters)[1] == first
    assert f"{name}(self, {first}" in pydoc.render_doc(method, renderer=pydoc.plaintext)


# --------------------------------------------------------------------------- record fields

#: Fields every Bridge answer (2016 and 2018) carries, also in the id-only records
#: nested in File.frame and Token.bucket: annotated without None.
ALWAYS_SENT = {
    "User": ["email", "id", "created", "activated", "isFreeTier"],
    "Key": ["key", "id", "user", "label"],
    "Bucket": ["id"],
    "Contact": ["address", "port", "nodeID"],
    "Frame": ["id"],
    "File": ["bucket", "mimetype", "filename", "size", "id", "frame"],
    "Token": ["token", "id"],
    "FilePointer": ["hash", "size", "index"],
    "FileMirrors": ["available", "established"],
}
#: Fields some answers lack (2016 vs 2018, nested id-only records): stay Optional.
SOMETIMES_ABSENT = {
    "Bucket": ["name", "created", "pubkeys"],
    "Frame": ["created", "size", "storageSize"],
    "File": ["hash", "created", "renewal", "hmac", "index"],
    "Token": ["bucket", "operation", "expires"],
    "FilePointer": ["token", "farmer", "operation", "parity"],
    "Contact": ["lastTimeout", "responseTime"],
}


def _hints(cls_name: str) -> dict[str, object]:
    import typing

    from storj import model

    return typing.get_type_hints(getattr(model, cls_name))


@pytest.mark.parametrize("cls_name", sorted(ALWAYS_SENT))
def test_always_sent_fields_are_not_optional(cls_name: str) -> None:
    hints = _hints(cls_name)
    for field in ALWAYS_SENT[cls_name]:
        assert type(None) not in getattr(hints[field], "__args__", ()), (cls_name, field)


@pytest.mark.parametrize("cls_name", sorted(SOMETIMES_ABSENT))
def test_sometimes_absent_fields_stay_optional(cls_name: str) -> None:
    hints = _hints(cls_name)
    for field in SOMETIMES_ABSENT[cls_name]:
        assert type(None) in getattr(hints[field], "__args__", ()), (cls_name, field)


def test_partial_records_still_build_at_runtime() -> None:
    """The annotations promise nothing at runtime: partial JSON is accepted as before."""
    from storj.model import Bucket, File, Token

    entry = File.from_json({"filename": "a.txt"})
    assert (
        entry.id is None and entry.filename == "a.txt" and entry.to_json() == {"filename": "a.txt"}
    )
    assert Bucket().id is None
    nested = Token.from_json({"token": "t", "bucket": "b" * 24})
    assert nested.bucket is not None and nested.bucket.id == "b" * 24
    assert nested.bucket.name is None  # why Bucket.name stays Optional
    assert File(frame="f" * 24).frame.id == "f" * 24
    assert File(frame="f" * 24).frame.size is None  # why Frame.size stays Optional

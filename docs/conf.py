"""Sphinx configuration of the storj documentation.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest

Everything works offline: no intersphinx inventories are fetched, and the only
extension outside Sphinx itself is ``docs/_ext/clickdoc.py`` (the CLI reference,
rendered from the ``click`` commands of the installed package).
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

# Document the checkout being built (not some other installed copy), and find our
# own extension.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

from storj.metadata import __author__, __version__  # noqa: E402

project = "storj"
author = __author__
copyright = f"the {__author__}"
version = ".".join(__version__.split(".")[:2])
release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "clickdoc",
]

root_doc = "index"
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build", "examples"]
templates_path: list[str] = []
language = "en"
pygments_style = "sphinx"

# -- autodoc ----------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# ``:members:`` is written on each directive: a boolean default here would override
# an explicit member list (Sphinx 9 behaviour).
autodoc_default_options = {"show-inheritance": True}
# ``storj.get_client() -> Client`` names the class through a TYPE_CHECKING import;
# say which ``Client`` it is (storj.web_socket has one too).
autodoc_type_aliases = {"Client": "storj.http.Client"}
# Nothing is mocked: the documented modules import only the package's own runtime
# dependencies, which the docs environment installs with it (``pip install -e '.[docs]'``),
# so a module that stops importing fails the build instead of producing an empty page.
autodoc_mock_imports: list[str] = []

# -- doctest ----------------------------------------------------------------------------
# ``python -m sphinx -b doctest docs OUT`` runs every ``.. doctest::`` / ``.. testcode::``
# block of the guides, and also plain ``>>>`` paragraphs, including those of docstrings
# pulled in by autodoc: an example written in a docstring is executed too.
doctest_test_doctest_blocks = "default"

# -- HTML -------------------------------------------------------------------------------
html_theme = "alabaster"
html_static_path = ["_static"]
html_title = f"storj {release}"
html_theme_options = {
    "description": "Python SDK, CLI and local network for the Storj v2 Bridge protocol",
    "fixed_sidebar": True,
    "page_width": "1200px",
    "sidebar_width": "230px",
}
html_show_sourcelink = False

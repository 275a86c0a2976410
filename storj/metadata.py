"""Storj metadata module: version and package metadata."""

__all__ = ["__author__", "__author_email__", "__license__", "__version__", "version"]

__version__ = "1.0.0"
__author__ = "The storj developers"
__author_email__ = "maintainers@users.noreply.github.com"
__license__ = "MIT"


def version() -> str:
    """Return the installed version of the ``storj`` package."""
    return __version__

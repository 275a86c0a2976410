"""Storj package: SDK, CLI and local network for the Storj v2 Bridge protocol."""

from storj.metadata import __version__

__all__ = ["__version__"]

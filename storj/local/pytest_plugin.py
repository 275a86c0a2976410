"""pytest fixtures for a real local Storj network (entry point ``storj_local``).

Installed with the package, so any project can write::

    def test_upload(storj_network, storj_user):
        email, password = storj_user
        client = storj.http.Client(email, password, api_url=storj_network.bridge_url)

Fixtures:

``storj_network``
    a fresh :class:`storj.local.LocalNetwork` with 4 farmers in ``tmp_path`` (function scope);
``storj_network_session``
    one network shared by the whole session (faster; tests must not assume it is empty);
``storj_user``
    ``(email, password)`` of an activated user on ``storj_network``.

Importing this module only imports pytest: the network is imported inside the fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from storj.local.network import LocalNetwork

__all__ = ["storj_network", "storj_network_session", "storj_user"]

_FARMERS = 4


def _network(path: Path) -> LocalNetwork:
    from storj.local.network import LocalNetwork

    return LocalNetwork(path, farmers=_FARMERS)


@pytest.fixture
def storj_network(tmp_path: Path) -> Iterator[LocalNetwork]:
    """A running local network (Bridge + 4 farmers) in ``tmp_path``; stopped afterwards."""
    network = _network(tmp_path / "storj-network")
    network.start()
    try:
        yield network
    finally:
        network.stop()


@pytest.fixture(scope="session")
def storj_network_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    """One running local network for the whole test session."""
    network = _network(tmp_path_factory.mktemp("storj-network"))
    network.start()
    try:
        yield network
    finally:
        network.stop()


@pytest.fixture
def storj_user(storj_network: LocalNetwork) -> tuple[str, str]:
    """``(email, password)`` of a new, activated user of ``storj_network``."""
    return storj_network.create_user()

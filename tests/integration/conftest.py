"""Fixtures of the integration tier: a module's own local network, an account on it, and
an environment configured for that account, as the CLI and 0.3.x code read it.

A module that needs something else defines a fixture of the same name, which takes
precedence over these (``tests/integration/test_bridge_input.py`` does for ``network``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from storj import crypto

if TYPE_CHECKING:
    from storj.local import LocalNetwork

#: Every variable the package reads from the environment: a test starts without them.
STORJ_ENV = (
    "STORJ_BRIDGE",
    "STORJ_BRIDGE_USER",
    "STORJ_BRIDGE_PASS",
    "STORJ_ENCRYPTION_KEY",
    "STORJ_LOCAL_DATA",
)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    """A :class:`~storj.local.LocalNetwork` with four farmers, one per test module."""
    from storj.local import LocalNetwork

    with LocalNetwork(tmp_path_factory.mktemp("net"), farmers=4) as net:
        yield net


@pytest.fixture(scope="module")
def account(network: LocalNetwork) -> dict[str, str]:
    """A user of the module's network: ``email``, ``password`` and a fresh ``mnemonic``."""
    email, password = network.create_user()
    return {"email": email, "password": password, "mnemonic": crypto.generate_mnemonic()}


@pytest.fixture
def env(
    network: LocalNetwork,
    account: dict[str, str],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The environment of ``account`` on the module's network; returns the STORJ_* values.

    HOME and the XDG config and data dirs point into ``tmp_path``, and the embedded
    network's data (``STORJ_LOCAL_DATA``) too, so nothing of the user's own setup is read.
    """
    home = tmp_path / "home"
    home.mkdir()
    for name in STORJ_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    values = {
        "STORJ_BRIDGE": network.bridge_url,
        "STORJ_BRIDGE_USER": account["email"],
        "STORJ_BRIDGE_PASS": account["password"],
        "STORJ_ENCRYPTION_KEY": account["mnemonic"],
        "STORJ_LOCAL_DATA": str(tmp_path / "embedded"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values

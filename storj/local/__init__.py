"""The local Storj network: a Bridge server and farmer nodes on loopback.

``LocalNetwork`` is the entry point (see ``docs/internals.rst``)::

    from storj.local import LocalNetwork

    with LocalNetwork("/tmp/storj-net", farmers=4) as network:
        email, password = network.create_user()
        print(network.bridge_url)

Names are imported on first use, so ``import storj.local`` (and the pytest plugin)
stay cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storj.local.bridge import BridgeConfig, BridgeServer
    from storj.local.channel import ChannelServer
    from storj.local.farmer import FarmerConfig, FarmerNode
    from storj.local.network import LocalNetwork

__all__ = [
    "BridgeConfig",
    "BridgeServer",
    "ChannelServer",
    "FarmerConfig",
    "FarmerNode",
    "LocalNetwork",
]

_EXPORTS = {
    "LocalNetwork": "storj.local.network",
    "FarmerNode": "storj.local.farmer",
    "FarmerConfig": "storj.local.farmer",
    "BridgeServer": "storj.local.bridge",
    "BridgeConfig": "storj.local.bridge",
    "ChannelServer": "storj.local.channel",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'storj.local' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""What both ends of the legacy WebSocket data channel share (``bridge-protocol.md`` §6.6).

Used by the client (:mod:`storj.web_socket`) and by the local farmer's server
(:mod:`storj.local.channel`), which must not import each other.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Protocol, TypeGuard

from websockets.exceptions import ConnectionClosed

__all__ = [
    "CLOSE_COMPLETED",
    "CLOSE_FAILED_INTEGRITY",
    "CLOSE_INVALID_MESSAGE",
    "CLOSE_INVALID_OPERATION",
    "CLOSE_UNAUTHORIZED_TOKEN",
    "CLOSE_UNEXPECTED",
    "COMPLETED_REASON",
    "PULL",
    "PUSH",
    "close_draining",
    "is_shard_hash",
]

#: Close code of a completed transfer (reason :data:`COMPLETED_REASON`).
CLOSE_COMPLETED = 1000
#: The first message was not the JSON channel request.
CLOSE_INVALID_MESSAGE = 3100
#: The farmer does not accept the token (unknown, expired, other shard).
CLOSE_UNAUTHORIZED_TOKEN = 3101
#: More bytes than the contract allows, or the bytes do not hash to the shard hash.
CLOSE_FAILED_INTEGRITY = 3102
#: The operation is neither ``PUSH`` nor ``PULL``.
CLOSE_INVALID_OPERATION = 3103
#: The farmer failed unexpectedly.
CLOSE_UNEXPECTED = 1011
#: Close reason of a completed transfer.
COMPLETED_REASON = "Consignment completed"

PUSH = "PUSH"
PULL = "PULL"

_SHARD_HASH = re.compile(r"[0-9a-f]{40}")


def is_shard_hash(value: Any) -> TypeGuard[str]:
    """40 lowercase hex characters, nothing else (not even a trailing newline)."""
    return isinstance(value, str) and _SHARD_HASH.fullmatch(value) is not None


class _Connection(Protocol):
    def recv(self, timeout: float | None = None) -> str | bytes: ...

    def close(self, code: int = 1000, reason: str = "") -> None: ...


def close_draining(ws: _Connection, code: int, reason: str) -> None:
    """Close with ``code``/``reason`` while discarding whatever the peer still sends.

    ``close()`` waits for the peer's close frame, but the library stops reading the
    socket while its receive queue is full, so a peer still streaming a shard (a
    refused token, too many bytes) would stall the handshake until the close timeout
    and might never see the close code. Reading the queue empty in this thread while
    another one closes lets the close frames through at once. Bounded by the
    connection's close timeout (``close()`` drops the connection when it elapses).
    """
    closer = threading.Thread(target=ws.close, args=(code, reason), daemon=True)
    closer.start()
    while True:
        try:
            ws.recv(timeout=0.1)
        except TimeoutError:
            if not closer.is_alive():
                break
        except ConnectionClosed:
            break
    closer.join()

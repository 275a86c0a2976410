"""A scriptable WebSocket peer for data-channel tests (unit and integration)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from websockets.sync.server import ServerConnection, serve


class FakeWebSocketPeer:
    """A WebSocket server running ``behaviour(ws, request)`` for every connection,
    ``request`` being the JSON channel request the client sent first."""

    def __init__(self, behaviour: Callable[[ServerConnection, dict[str, Any]], None]) -> None:
        self.behaviour = behaviour
        self.release = threading.Event()
        self.connections = 0

        def handler(ws: ServerConnection) -> None:
            self.connections += 1
            self.behaviour(ws, json.loads(ws.recv(timeout=5)))

        self.server = serve(
            handler, "127.0.0.1", 0, compression=None, max_size=None, max_queue=1, close_timeout=0.5
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}"

    def __enter__(self) -> FakeWebSocketPeer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.thread.join(5)

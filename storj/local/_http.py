"""HTTP server plumbing shared by the local Bridge and the farmers."""

from __future__ import annotations

import socket
import threading

__all__ = ["HeadDeadlineMixin"]


class HeadDeadlineMixin:
    """Bound the time a client may take to send a request line and its headers.

    A socket timeout only bounds each read, so a client trickling its request head one
    byte at a time (slowloris) would hold a server thread for ever. With this mixin on
    a ``BaseHTTPRequestHandler`` subclass, the whole head must arrive within
    ``head_timeout`` seconds of the handler starting to wait for it; otherwise the
    connection is shut down. The body is bounded by the handler's per-read timeout.
    """

    head_timeout: float = 60.0
    connection: socket.socket

    def handle_one_request(self) -> None:
        timer = threading.Timer(self.head_timeout, self._cut_off_slow_head)
        timer.daemon = True
        self._head_timer = timer
        timer.start()
        try:
            super().handle_one_request()  # type: ignore[misc]
        finally:
            timer.cancel()

    def parse_request(self) -> bool:
        self._head_timer.cancel()
        parsed: bool = super().parse_request()  # type: ignore[misc]
        return parsed

    def _cut_off_slow_head(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

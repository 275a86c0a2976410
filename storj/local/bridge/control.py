"""The Bridge side of the Bridge → farmer control RPC (``docs/internals.rst``).

``POST /`` on the farmer's address and port with header ``x-storj-control-secret`` and
body ``{"id": uuid, "method": M, "params": {...}}``; the farmer answers
``{"id", "result": {...}}`` or ``{"id", "error": {"message"}}``. Methods used by the
Bridge: ``CONSIGN {data_hash, data_size, audit_tree}`` → ``{token}``,
``RETRIEVE {data_hash}`` → ``{token}``, ``MIRROR {data_hash, data_size, audit_tree,
token, farmer}`` → ``{}``, ``AUDIT {audits: [{data_hash, challenge}]}`` → ``{proofs}``.

Uses ``http.client`` directly (loopback calls, no proxies) and keeps a few idle
connections per farmer alive, so a pointer listing does not open a connection (and
start a server thread on the farmer) per shard. A connection is used by one thread at
a time.
"""

from __future__ import annotations

import http.client
import json
import select
import threading
import time
import uuid
from typing import Any

__all__ = ["ControlError", "FarmerControl", "FarmerRefused", "FarmerUnreachable"]

_MAX_ANSWER_BYTES = 16 * 1024 * 1024
#: Idle connections kept per farmer.
_IDLE_PER_FARMER = 4


class ControlError(Exception):
    """A control call failed."""


class FarmerUnreachable(ControlError):
    """No usable answer: refused, reset, timed out, or not the control protocol."""


class FarmerRefused(ControlError):
    """The farmer answered with ``{"error": {"message"}}`` (or an HTTP error status)."""


class FarmerControl:
    """Calls the control endpoint of farmers.

    :param secret: the shared ``x-storj-control-secret`` (``None``: calls are refused here,
        since no farmer would accept them).
    :param timeout: seconds for connecting and for each read.
    """

    def __init__(self, secret: str | None, timeout: float) -> None:
        self.secret = secret
        self.timeout = timeout
        self._idle: dict[tuple[str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the idle connections (calls after this open new ones)."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for conn in connections:
                conn.close()

    def _checkout(self, address: str, port: int) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection to the farmer that is still open, else a new one;
        ``(connection, reused)``."""
        with self._lock:
            idle = self._idle.get((address, port), [])
            while idle:
                conn = idle.pop()
                sock = conn.sock
                try:
                    # Readable while idle means the farmer closed it (or sent junk).
                    open_ = sock is not None and not select.select([sock], [], [], 0)[0]
                except (OSError, ValueError):
                    open_ = False
                if open_:
                    return conn, True
                conn.close()
        return http.client.HTTPConnection(address, port, timeout=self.timeout), False

    def _checkin(self, address: str, port: int, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault((address, port), [])
            if len(idle) < _IDLE_PER_FARMER:
                idle.append(conn)
                return
        conn.close()

    def _exchange(
        self, address: str, port: int, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """POST the call; one retry on a fresh connection when a kept-alive one turns
        out to have been closed by the farmer."""
        while True:
            conn, reused = self._checkout(address, port)
            try:
                conn.request("POST", "/", body=body, headers=headers)
                response = conn.getresponse()
                raw = response.read(_MAX_ANSWER_BYTES + 1)
            except ConnectionError:  # includes http.client.RemoteDisconnected
                conn.close()
                if reused:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if response.will_close or not response.isclosed():
                conn.close()
            else:
                self._checkin(address, port, conn)
            return response.status, raw

    def call(
        self, address: str, port: int, method: str, params: dict[str, Any]
    ) -> tuple[dict[str, Any], float]:
        """Send ``method`` with ``params``; return ``(result, seconds taken)``.

        :raises FarmerUnreachable: transport failure or an answer that is not the protocol.
        :raises FarmerRefused: the farmer answered with an error.
        """
        if not self.secret:
            raise FarmerRefused("the Bridge has no control_secret; farmers refuse control calls")
        body = json.dumps({"id": str(uuid.uuid4()), "method": method, "params": params}).encode()
        headers = {
            "Content-Type": "application/json",
            "x-storj-control-secret": self.secret,
            "Content-Length": str(len(body)),
        }
        started = time.monotonic()
        try:
            status, raw = self._exchange(address, port, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            raise FarmerUnreachable(f"{method} to {address}:{port} failed: {exc}") from None
        elapsed = time.monotonic() - started
        try:
            answer = json.loads(raw.decode("utf-8")) if len(raw) <= _MAX_ANSWER_BYTES else None
        except (UnicodeDecodeError, ValueError):
            answer = None
        if not isinstance(answer, dict):
            if status >= 400:
                raise FarmerRefused(f"{method} refused by {address}:{port} (HTTP {status})")
            raise FarmerUnreachable(f"{method} to {address}:{port}: answer is not JSON")
        error = answer.get("error")
        if error is not None or status >= 400:
            message = error.get("message") if isinstance(error, dict) else error
            raise FarmerRefused(str(message or f"HTTP {status}"))
        result = answer.get("result")
        if not isinstance(result, dict):
            raise FarmerUnreachable(f"{method} to {address}:{port}: answer has no result object")
        return result, elapsed

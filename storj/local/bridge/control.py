"""The Bridge side of the Bridge → farmer control RPC (``docs/internals.rst``).

``POST /`` on the farmer's address and port with header ``x-storj-control-secret`` and
body ``{"id": uuid, "method": M, "params": {...}}``; the farmer answers
``{"id", "result": {...}}`` or ``{"id", "error": {"message"}}``. Methods used by the
Bridge: ``CONSIGN {data_hash, data_size, audit_tree, renter}`` → ``{token}``,
``RETRIEVE {data_hash, renter}`` → ``{token}``, ``MIRROR {data_hash, data_size,
audit_tree, token, farmer, renter}`` → ``{}``, ``AUDIT {audits: [{data_hash, challenge,
renter}]}`` → ``{proofs}``, ``RELEASE {data_hash, renter, remove, stale_after}`` →
``{deleted, bytes, busy?}``, ``PING {}`` → ``{nodeID}`` (``docs/internals.rst`` has the details).

Uses ``http.client`` directly: loopback calls, no proxies, no shared connection state
between threads.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from typing import Any

__all__ = ["ControlError", "FarmerControl", "FarmerRefused", "FarmerUnreachable"]

_MAX_ANSWER_BYTES = 16 * 1024 * 1024


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
        conn = http.client.HTTPConnection(address, port, timeout=self.timeout)
        try:
            conn.request("POST", "/", body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read(_MAX_ANSWER_BYTES + 1)
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            raise FarmerUnreachable(f"{method} to {address}:{port} failed: {exc}") from None
        finally:
            conn.close()
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

"""The farmer side of the legacy WebSocket data channel (``bridge-protocol.md`` §6.6).

Farmers before December 2016 moved shards over WebSocket "data channels"; pointers
then carried ``channel: "ws://host:port"``. :class:`ChannelServer` lets a local
farmer offer that protocol on a port of its own, next to its HTTP shard server, so
that clients of that era (and :mod:`storj.web_socket`) can be tested. It knows
nothing about farmers: three callbacks connect it to one.

One connection carries one transfer:

1. the first message must be a **text** frame holding the JSON object
   ``{"token", "hash", "operation"}`` (other keys are ignored) — else close 3100;
   ``hash`` must be 40 lowercase hex before anything touches the disk (3100);
   ``operation`` must be ``PUSH`` or ``PULL`` (3103); ``authorize`` must grant the
   token (3101);
2. ``PUSH``: binary frames are written to a temporary file in ``temp_dir`` while
   they are hashed; one byte more than the grant's ``size`` → close 3102 and the
   file is removed; at exactly ``size`` bytes the hash ``RIPEMD160(SHA256(data))``
   must equal ``hash`` (else 3102), then ``store_shard`` moves the file into place,
   ``grant.consume()`` runs and the server closes with 1000
   ``"Consignment completed"``. A client that closes or vanishes earlier leaves
   nothing behind;
3. ``PULL``: the shard from ``open_shard`` is sent in binary frames of at most
   ``chunk_size`` bytes, ``grant.consume()`` runs and the server closes with 1000.

Limits: a frame larger than ``max_frame_size`` makes the library close the
connection (1009); the opening handshake must finish within ``open_timeout``; each
frame must arrive (and each frame sent must be taken) within ``idle_timeout``,
else the connection is closed with 1011. A failing callback closes with 1011 and
is logged; the server keeps serving. Tokens never appear in the logs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from storj._channel_protocol import (
    CLOSE_COMPLETED,
    CLOSE_FAILED_INTEGRITY,
    CLOSE_INVALID_MESSAGE,
    CLOSE_INVALID_OPERATION,
    CLOSE_UNAUTHORIZED_TOKEN,
    CLOSE_UNEXPECTED,
    COMPLETED_REASON,
    PULL,
    PUSH,
    close_draining,
    is_shard_hash,
)
from storj.api import ripemd160

__all__ = [
    "CLOSE_COMPLETED",
    "CLOSE_FAILED_INTEGRITY",
    "CLOSE_INVALID_MESSAGE",
    "CLOSE_INVALID_OPERATION",
    "CLOSE_UNAUTHORIZED_TOKEN",
    "CLOSE_UNEXPECTED",
    "ChannelGrant",
    "ChannelServer",
]

log = logging.getLogger(__name__)

MSG_COMPLETED = COMPLETED_REASON
MSG_INVALID_MESSAGE = "Failed to parse message"
MSG_INVALID_HASH = "Invalid shard hash: expected 40 lowercase hex characters"
MSG_TOKEN_NOT_ACCEPTED = "The supplied token is not accepted"  # noqa: S105 - a message
MSG_INVALID_OPERATION = "Failed to handle the defined operation"
MSG_TOO_LARGE = "Shard exceeds the amount defined in the contract"
MSG_HASH_MISMATCH = "Calculated hash does not match the expected result"
MSG_NOT_BINARY = "Expected binary shard data"
MSG_NOT_FOUND = "Shard data not found"
MSG_NO_CONTRACT = "No contract for this shard"
MSG_IDLE = "Timed out waiting for data"
MSG_UNEXPECTED = "Unexpected error"

#: The channel request is a small JSON object; anything longer is not one.
_MAX_REQUEST_SIZE = 4096


def _nothing() -> None:
    return None




@dataclass(frozen=True)
class ChannelGrant:
    """What ``authorize`` answers for an accepted token.

    :ivar size: for ``PUSH``, the contract's ``data_size``: the transfer completes
        at exactly this many bytes and one more is refused (3102); ``None`` (no
        contract) closes the channel with 1011. Unused for ``PULL``.
    :ivar consume: called once, after a successful transfer (the shard is stored or
        fully sent) and before the 1000 close: revoke the token, send the report.
    :ivar on_failure: optional, called with ``(close_code, reason)`` when an
        authorized transfer fails (3102, 1011, the client went away: code 1006),
        e.g. to send a ``FAILED_INTEGRITY`` or ``TRANSFER_FAILED`` exchange report.
    """

    size: int | None = None
    consume: Callable[[], None] = _nothing
    on_failure: Callable[[int, str], None] | None = None


#: ``authorize(token, shard_hash, operation)`` → a grant, or ``None`` to refuse (3101).
Authorize = Callable[[str, str, str], "ChannelGrant | None"]
#: ``open_shard(shard_hash)`` → the stored shard opened for reading, or ``None``.
OpenShard = Callable[[str], "BinaryIO | None"]
#: ``store_shard(shard_hash, temp_path)``: move the verified file into place.
StoreShard = Callable[[str, Path], None]


class _Close(Exception):  # noqa: N818 - internal signal: close with this code
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _parse_request(message: Any) -> tuple[str, str, str]:
    """Check the first message of a channel; return ``(token, hash, operation)``.

    :raises _Close: 3100 for anything but a JSON object with a string ``token``,
        a 40-lowercase-hex ``hash`` and a string ``operation``; 3103 for an
        operation other than ``PUSH``/``PULL``.
    """
    if not isinstance(message, str) or len(message) > _MAX_REQUEST_SIZE:
        raise _Close(CLOSE_INVALID_MESSAGE, MSG_INVALID_MESSAGE)
    try:
        request = json.loads(message)
    except ValueError:
        raise _Close(CLOSE_INVALID_MESSAGE, MSG_INVALID_MESSAGE) from None
    if not isinstance(request, dict):
        raise _Close(CLOSE_INVALID_MESSAGE, MSG_INVALID_MESSAGE)
    token = request.get("token")
    shard_hash = request.get("hash")
    operation = request.get("operation")
    if not isinstance(token, str) or not token or not isinstance(operation, str):
        raise _Close(CLOSE_INVALID_MESSAGE, MSG_INVALID_MESSAGE)
    if not is_shard_hash(shard_hash):
        raise _Close(CLOSE_INVALID_MESSAGE, MSG_INVALID_HASH)
    if operation not in (PUSH, PULL):
        raise _Close(CLOSE_INVALID_OPERATION, MSG_INVALID_OPERATION)
    return token, shard_hash, operation


class ChannelServer:
    """A WebSocket data-channel server on its own port (see the module doc).

    :param host: address to bind and to advertise in :attr:`url`.
    :param port: port to bind; 0 picks a free one (read it from :attr:`port`).
    :param authorize: ``(token, shard_hash, operation) -> ChannelGrant | None``.
    :param open_shard: ``shard_hash -> readable binary file | None`` (for ``PULL``);
        the server closes the file.
    :param store_shard: ``(shard_hash, temp_path) -> None``: move the verified
        temporary file into place (``os.replace``); it must be on the same file system.
    :param temp_dir: where pushed shards are written until verified (created by
        :meth:`start`). Files are named ``<hash>.*.ws``.
    :param idle_timeout: seconds a connection may wait for the next frame, or for
        the client to take a frame, before it is closed (1011).
    :param open_timeout: seconds allowed for the opening handshake.
    :param close_timeout: seconds allowed for the closing handshake.
    :param max_frame_size: largest frame accepted (larger → 1009).
    :param chunk_size: bytes per frame sent for ``PULL``.

    Nothing is bound or created until :meth:`start`. Callbacks run in the
    connection's thread (one thread per connection) and must be thread-safe.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        authorize: Authorize,
        open_shard: OpenShard,
        store_shard: StoreShard,
        temp_dir: str | os.PathLike[str],
        idle_timeout: float = 30.0,
        open_timeout: float = 10.0,
        close_timeout: float = 5.0,
        max_frame_size: int = 1024 * 1024,
        chunk_size: int = 64 * 1024,
    ) -> None:
        if chunk_size <= 0 or max_frame_size <= 0:
            raise ValueError("chunk_size and max_frame_size must be positive")
        if idle_timeout <= 0:
            raise ValueError("idle_timeout must be positive")
        self.host = host
        self._port = port
        self.authorize = authorize
        self.open_shard = open_shard
        self.store_shard = store_shard
        self.temp_dir = Path(temp_dir)
        self.idle_timeout = idle_timeout
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.max_frame_size = max_frame_size
        self.chunk_size = chunk_size
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port (the configured one before :meth:`start`)."""
        server = self._server
        if server is not None:
            return int(server.socket.getsockname()[1])
        return self._port

    @property
    def url(self) -> str:
        """``ws://host:port`` — the value a Bridge puts in a pointer's ``channel``."""
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"ws://{host}:{self.port}"

    def start(self) -> ChannelServer:
        """Create ``temp_dir``, bind the port and serve in a background thread."""
        with self._lock:
            if self._server is not None:
                return self
            self.temp_dir.mkdir(parents=True, exist_ok=True)
            server = serve(
                self._handle,
                self.host,
                self._port,
                compression=None,
                ping_interval=None,
                open_timeout=self.open_timeout,
                close_timeout=self.close_timeout,
                max_size=self.max_frame_size,
                max_queue=4,
                server_header=None,
                logger=logging.getLogger(__name__ + ".websockets"),
            )
            thread = threading.Thread(
                target=server.serve_forever,
                name=f"storj-channel-{server.socket.getsockname()[1]}",
                daemon=True,
            )
            self._server = server
            self._thread = thread
            thread.start()
        log.info("data channel listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop accepting, close open connections (1001) and wait for their handlers.

        A handler blocked sending to a client that stopped reading returns within
        ``idle_timeout``; a push it interrupts leaves nothing behind.
        """
        with self._lock:
            server, self._server = self._server, None
            thread, self._thread = self._thread, None
        if server is None:
            return
        server.shutdown()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> ChannelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        return f"ChannelServer({self.url!r}, {state})"

    # ------------------------------------------------------------------ connections

    def _handle(self, ws: ServerConnection) -> None:
        """One connection: never raises, always ends with the connection closed."""
        # Bound every sendall() (PULL frames to a client that stopped reading); reads
        # are bounded by recv(timeout=...).
        ws.socket.settimeout(self.idle_timeout)
        grant: ChannelGrant | None = None
        shard_hash = "-"
        operation = "-"
        try:
            try:
                first = ws.recv(timeout=self.idle_timeout)
            except TimeoutError:
                raise _Close(CLOSE_UNEXPECTED, MSG_IDLE) from None
            token, shard_hash, operation = _parse_request(first)
            grant = self.authorize(token, shard_hash, operation)
            if grant is None:
                raise _Close(CLOSE_UNAUTHORIZED_TOKEN, MSG_TOKEN_NOT_ACCEPTED)
            if operation == PUSH:
                self._consign(ws, shard_hash, grant)
            else:
                self._retrieve(ws, shard_hash)
            grant.consume()
            close_draining(ws, CLOSE_COMPLETED, MSG_COMPLETED)
            log.info("data channel %s of %s completed", operation, shard_hash)
        except _Close as close:
            log.info(
                "data channel %s of %s refused: %d %s",
                operation,
                shard_hash,
                close.code,
                close.reason,
            )
            self._failed(grant, close.code, close.reason)
            close_draining(ws, close.code, close.reason)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else 1006
            log.info(
                "data channel %s of %s: the client went away (%s)", operation, shard_hash, code
            )
            self._failed(grant, code, "The client closed the channel before the end")
        except Exception:
            log.exception("data channel %s of %s failed", operation, shard_hash)
            self._failed(grant, CLOSE_UNEXPECTED, MSG_UNEXPECTED)
            close_draining(ws, CLOSE_UNEXPECTED, MSG_UNEXPECTED)

    @staticmethod
    def _failed(grant: ChannelGrant | None, code: int, reason: str) -> None:
        if grant is None or grant.on_failure is None:
            return
        try:
            grant.on_failure(code, reason)
        except Exception:
            log.exception("data channel: the failure callback failed")

    def _recv_binary(self, ws: ServerConnection) -> bytes:
        try:
            message = ws.recv(timeout=self.idle_timeout)
        except TimeoutError:
            raise _Close(CLOSE_UNEXPECTED, MSG_IDLE) from None
        if not isinstance(message, bytes):
            raise _Close(CLOSE_INVALID_MESSAGE, MSG_NOT_BINARY)
        return message

    def _consign(self, ws: ServerConnection, shard_hash: str, grant: ChannelGrant) -> None:
        """Receive exactly ``grant.size`` bytes into a temp file, verify, store."""
        size = grant.size
        if size is None or size < 0:  # a token without a contract: nothing to store into
            raise _Close(CLOSE_UNEXPECTED, MSG_NO_CONTRACT)
        fd, name = tempfile.mkstemp(prefix=shard_hash + ".", suffix=".ws", dir=self.temp_dir)
        temp = Path(name)
        try:
            sha = hashlib.sha256()
            received = 0
            with os.fdopen(fd, "wb") as out:
                while received < size:
                    data = self._recv_binary(ws)
                    received += len(data)
                    if received > size:
                        raise _Close(CLOSE_FAILED_INTEGRITY, MSG_TOO_LARGE)
                    out.write(data)
                    sha.update(data)
            if ripemd160(sha.digest()).hex() != shard_hash:
                raise _Close(CLOSE_FAILED_INTEGRITY, MSG_HASH_MISMATCH)
            self.store_shard(shard_hash, temp)
        finally:
            temp.unlink(missing_ok=True)

    def _retrieve(self, ws: ServerConnection, shard_hash: str) -> None:
        """Send the stored shard in frames of at most ``chunk_size`` bytes."""
        handle = self.open_shard(shard_hash)
        if handle is None:
            raise _Close(CLOSE_UNEXPECTED, MSG_NOT_FOUND)
        with handle:
            while True:
                chunk = handle.read(self.chunk_size)
                if not chunk:
                    break
                ws.send(bytes(chunk))

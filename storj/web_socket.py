"""Storj web socket module.

A client for the legacy WebSocket "data channel" that farmers spoke before
December 2016 (``bridge-protocol.md`` §6.6). Pointers from Bridges of that era
carry ``channel: "ws://host:port"`` instead of a ``farmer`` contact; current
farmers transfer shards over plain HTTP (``POST``/``GET /shards/:hash?token=``),
which the transfer engine (:mod:`storj.transfer`) uses.

The conversation on one connection to ``channel``:

1. the client sends one **text** frame, the JSON object
   ``{"token": "<farmer token>", "hash": "<shard hash>", "operation": "PUSH" | "PULL"}``;
2. ``PUSH``: the client sends the shard as **binary** frames, exactly ``size``
   bytes in all; ``PULL``: the farmer sends the shard as binary frames;
3. the farmer closes the connection: code ``1000`` with reason
   ``"Consignment completed"`` on success, else ``3100`` (invalid message),
   ``3101`` (token not accepted), ``3102`` (failed integrity: more bytes than the
   contract, or the wrong hash), ``3103`` (invalid operation) or ``1011``
   (unexpected error).

Both transfers stream: a push reads ``chunk_size`` bytes at a time from the
source, a pull writes each frame to the destination as it arrives while hashing
it (``RIPEMD160(SHA256(shard))``), so memory does not grow with the shard.
Every wait is bounded by ``timeout``: opening the connection, each frame
received, each frame sent (the socket's send timeout) and the closing handshake.
A pull can also be given a ``cancel`` flag and libstorj's low-speed rule
(``low_speed_limit`` bytes/s over ``low_speed_time`` seconds), which the transfer
engine uses for ``channel`` pointers.

Errors are :class:`~storj.exception.FarmerError` subclasses: close code 3101 →
:class:`~storj.exception.SuppliedTokenNotAcceptedError`; 3102, or a pulled shard
of the wrong size or hash → :class:`~storj.exception.HashMismatchError`; a stall
→ :class:`~storj.exception.FarmerTimeoutError`; any other close code, a refused
connection or a peer that is not a data channel → :class:`~storj.exception.FarmerError`
(the message names the close code and the farmer's reason).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO, cast

from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)
from websockets.sync.client import ClientConnection, connect

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
from storj.exception import (
    FarmerError,
    FarmerTimeoutError,
    HashMismatchError,
    SuppliedTokenNotAcceptedError,
    TransferCancelledError,
    TransferError,
)
from storj.metadata import __version__

__all__ = [
    "CLOSE_COMPLETED",
    "CLOSE_FAILED_INTEGRITY",
    "CLOSE_INVALID_MESSAGE",
    "CLOSE_INVALID_OPERATION",
    "CLOSE_UNAUTHORIZED_TOKEN",
    "CLOSE_UNEXPECTED",
    "COMPLETED_REASON",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_SHARD_SIZE",
    "ChannelMessage",
    "Client",
    "channel_request",
    "close_error",
    "pull_shard",
    "push_shard",
]

log = logging.getLogger(__name__)

#: Bytes per binary frame sent by :func:`push_shard`.
DEFAULT_CHUNK_SIZE = 64 * 1024
#: Largest frame :func:`pull_shard` accepts from a farmer (larger → the connection is closed).
DEFAULT_MAX_FRAME_SIZE = 1024 * 1024
#: Largest shard :func:`pull_shard` accepts when the size is not known (4 GiB, libstorj's maximum).
DEFAULT_MAX_SHARD_SIZE = 4 * 1024 * 1024 * 1024

_OPERATIONS = (PUSH, PULL)
_USER_AGENT = f"storj-python/{__version__}"
#: Local close codes when this client gives up on a misbehaving farmer or on itself.
_CLOSE_POLICY = 1008
_CLOSE_GOING_AWAY = 1001
#: Longest wait for the closing handshake, whatever ``timeout`` is.
_MAX_CLOSE_TIMEOUT = 10.0
#: Seconds between two looks at ``cancel`` and at the low-speed rule while a pull waits.
_POLL = 0.1




def channel_request(token: str, shard_hash: str, operation: str) -> str:
    """The first (text) frame of a channel: ``{"token", "hash", "operation"}`` as JSON.

    :raises ValueError: empty token, a hash that is not 40 lowercase hex, or an
        operation other than ``PUSH``/``PULL``.
    """
    if not isinstance(token, str) or not token:
        raise ValueError("the farmer token must be a non-empty string")
    if not is_shard_hash(shard_hash):
        raise ValueError("a shard hash is 40 lowercase hexadecimal characters")
    if operation not in _OPERATIONS:
        raise ValueError(f"operation must be PUSH or PULL, not {operation!r}")
    return json.dumps({"token": token, "hash": shard_hash, "operation": operation})


def close_error(code: int | None, reason: str, what: str) -> FarmerError:
    """The exception for a channel the farmer closed with ``code`` (not 1000).

    ``None`` stands for a connection that ended without a close frame (1006).
    """
    reason = reason or "no reason given"
    if code == CLOSE_UNAUTHORIZED_TOKEN:
        return SuppliedTokenNotAcceptedError(
            f"{what}: the farmer did not accept the token (close {code}: {reason}); "
            "ask the Bridge for a new pointer"
        )
    if code == CLOSE_FAILED_INTEGRITY:
        return HashMismatchError(f"{what}: the farmer rejected the data (close {code}: {reason})")
    if code is None:
        return FarmerError(
            f"{what}: the connection ended without a close frame (1006); "
            "the farmer went away or is not a data channel"
        )
    meaning = {
        CLOSE_INVALID_MESSAGE: "invalid message",
        CLOSE_INVALID_OPERATION: "invalid operation",
        CLOSE_UNEXPECTED: "unexpected farmer error",
        1009: "frame too large",
        1001: "farmer going away",
    }.get(code, "unexpected close")
    return FarmerError(f"{what}: {meaning} (close {code}: {reason})")


def _closed(exc: ConnectionClosed, what: str, timeout: float) -> FarmerError:
    """Turn a :class:`ConnectionClosed` raised by send/recv into our error."""
    if exc.rcvd is not None:
        return close_error(exc.rcvd.code, exc.rcvd.reason, what)
    if isinstance(exc.__cause__, TimeoutError):
        return FarmerTimeoutError(f"{what}: the farmer did not take the data within {timeout:g} s")
    if exc.sent is not None:  # this side failed the connection, e.g. 1009 for a huge frame
        return FarmerError(
            f"{what}: the connection was closed by this client "
            f"(close {exc.sent.code}: {exc.sent.reason or 'no reason given'})"
        )
    return close_error(None, "", what)




def _validate_url(url: Any) -> str:
    if not isinstance(url, str) or not url.lower().startswith(("ws://", "wss://")):
        raise FarmerError(f"invalid data channel URL {url!r}: expected ws://host:port")
    return url


@contextlib.contextmanager
def _channel(
    url: str, timeout: float, max_frame_size: int, what: str
) -> Iterator[ClientConnection]:
    """Open the channel; on an error inside the block, close it with 1008/1001."""
    try:
        manager = connect(
            url,
            open_timeout=timeout,
            close_timeout=min(timeout, _MAX_CLOSE_TIMEOUT),
            ping_interval=None,
            compression=None,  # shards are encrypted: deflate would only cost CPU
            proxy=None,
            max_size=max_frame_size,
            max_queue=4,
            user_agent_header=_USER_AGENT,
        )
        ws = manager.__enter__()
    except TimeoutError:
        raise FarmerTimeoutError(
            f"{what}: the data channel did not open within {timeout:g} s"
        ) from None
    except InvalidStatus as exc:
        raise FarmerError(
            f"{what}: the peer answered HTTP {exc.response.status_code} instead of opening "
            "a WebSocket data channel (current farmers use HTTP transfers)"
        ) from exc
    except InvalidURI as exc:
        raise FarmerError(f"invalid data channel URL {url!r}: {exc}") from exc
    except (InvalidHandshake, WebSocketException, OSError) as exc:
        raise FarmerError(f"{what}: cannot open the data channel: {exc}") from exc
    # Bound every sendall(): the library sends under a lock without a timeout of its
    # own. Reads are unaffected (the library only reads a socket select() found ready).
    ws.socket.settimeout(timeout)
    try:
        yield ws
    except FarmerError:
        close_draining(ws, _CLOSE_POLICY, "Transfer rejected by the client")
        raise
    except BaseException:
        close_draining(ws, _CLOSE_GOING_AWAY, "Transfer abandoned by the client")
        raise
    finally:
        manager.__exit__(None, None, None)


def _send(ws: ClientConnection, data: str | bytes, what: str, timeout: float) -> None:
    try:
        ws.send(data)
    except ConnectionClosed as exc:
        raise _closed(exc, what, timeout) from exc
    except TimeoutError:  # pragma: no cover - the library reports it as ConnectionClosed
        raise FarmerTimeoutError(
            f"{what}: the farmer did not take the data within {timeout:g} s"
        ) from None


def _await_close(ws: ClientConnection, what: str, timeout: float) -> tuple[int | None, str]:
    """Wait for the farmer's close frame after a push; return ``(code, reason)``."""
    try:
        ws.recv(timeout=timeout)
    except TimeoutError:
        raise FarmerTimeoutError(
            f"{what}: the farmer did not confirm the shard within {timeout:g} s"
        ) from None
    except ConnectionClosed as exc:
        if exc.rcvd is None:
            raise _closed(exc, what, timeout) from exc
        return exc.rcvd.code, exc.rcvd.reason
    raise FarmerError(f"{what}: the farmer sent a message instead of closing the channel")


def push_shard(
    channel_url: str,
    *,
    token: str,
    shard_hash: str,
    source: BinaryIO,
    size: int,
    timeout: float = 60.0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_bytes: Callable[[int], None] | None = None,
) -> None:
    """Upload one shard over a data channel (``operation: "PUSH"``).

    Sends the channel request, then exactly ``size`` bytes read from ``source`` in
    binary frames of at most ``chunk_size`` bytes, then waits for the farmer to
    close with 1000. ``on_bytes(n)`` is called after each frame is sent.

    :param channel_url: ``ws://host:port`` from the pointer's ``channel``.
    :param token: the farmer transfer token (40 hex).
    :param shard_hash: ``hex(RIPEMD160(SHA256(shard)))``.
    :param source: readable binary file positioned at the start of the shard.
    :param size: the shard's length (the contract's ``data_size``).
    :param timeout: seconds allowed for opening, for each frame, and for the answer.
    :raises SuppliedTokenNotAcceptedError: close 3101.
    :raises HashMismatchError: close 3102 (too many bytes for the contract, or the
        bytes do not hash to ``shard_hash``).
    :raises FarmerTimeoutError: the farmer stalled.
    :raises FarmerError: any other failure of the farmer or the connection.
    :raises TransferError: ``source`` ended before ``size`` bytes.
    :raises ValueError: invalid arguments.
    """
    request = channel_request(token, shard_hash, "PUSH")
    if size < 0:
        raise ValueError("size must not be negative")
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    url = _validate_url(channel_url)
    what = f"upload of shard {shard_hash} to {url}"
    with _channel(url, timeout, DEFAULT_MAX_FRAME_SIZE, what) as ws:
        _send(ws, request, what, timeout)
        sent = 0
        while sent < size:
            chunk = source.read(min(chunk_size, size - sent))
            if not chunk:
                raise TransferError(f"{what}: the source ended after {sent} of {size} bytes")
            if len(chunk) > size - sent:
                raise TransferError(f"{what}: the source returned more bytes than asked for")
            _send(ws, bytes(chunk), what, timeout)
            sent += len(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
        code, reason = _await_close(ws, what, timeout)
    if code != CLOSE_COMPLETED:
        raise close_error(code, reason, what)
    log.debug("pushed %d bytes of shard %s over %s", size, shard_hash, url)


class _PullWatch:
    """The clocks of one pull: idle ``timeout``, low-speed rule and ``cancel``."""

    def __init__(
        self,
        what: str,
        timeout: float,
        cancel: Any,
        limit: int,
        window: float,
        deadline: float | None = None,
    ) -> None:
        if limit < 0 or window <= 0:
            raise ValueError("low_speed_limit must be >= 0 and low_speed_time positive")
        if deadline is not None and not deadline > 0:
            raise ValueError("deadline must be a positive number of seconds or None")
        self.what = what
        self.timeout = timeout
        self.cancel = cancel
        self.limit = limit
        self.window = window
        now = time.monotonic()
        self.idle_deadline = now + timeout
        self.seconds = deadline
        self.end = None if deadline is None else now + deadline
        self.mark_time = now
        self.mark_bytes = 0

    def wait(self) -> float:
        """Seconds the next ``recv`` may block (short when something must be watched)."""
        now = time.monotonic()
        left = self.idle_deadline - now
        if self.end is not None:
            left = min(left, self.end - now)
        if self.cancel is not None or self.limit:
            left = min(left, _POLL)
        return max(left, 0.001)

    def check(self, received: int) -> None:
        """Raise if cancelled, idle for ``timeout``, too slow or past the deadline."""
        if self.cancel is not None and self.cancel.is_set():
            raise TransferCancelledError(f"{self.what}: cancelled")
        now = time.monotonic()
        if self.end is not None and now >= self.end:
            raise FarmerTimeoutError(
                f"{self.what}: the transfer took longer than its deadline of "
                f"{self.seconds:g} s ({received} bytes received)"
            )
        if now >= self.idle_deadline:
            raise FarmerTimeoutError(
                f"{self.what}: no data from the farmer for {self.timeout:g} s "
                f"({received} bytes received)"
            )
        if self.limit and now - self.mark_time >= self.window:
            moved = received - self.mark_bytes
            if moved < self.limit * (now - self.mark_time):
                raise FarmerTimeoutError(
                    f"{self.what}: the farmer sent less than {self.limit} B/s for "
                    f"{self.window:g} s ({received} bytes received)"
                )
            self.mark_time, self.mark_bytes = now, received

    def received(self, received: int) -> None:
        """A frame arrived: restart the idle clock, then apply the other rules."""
        self.idle_deadline = time.monotonic() + self.timeout
        self.check(received)


def pull_shard(
    channel_url: str,
    *,
    token: str,
    shard_hash: str,
    destination: BinaryIO,
    size: int | None = None,
    timeout: float = 60.0,
    max_size: int = DEFAULT_MAX_SHARD_SIZE,
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    on_bytes: Callable[[int], None] | None = None,
    cancel: Any = None,
    low_speed_limit: int = 0,
    low_speed_time: float = 20.0,
    deadline: float | None = None,
    on_open: Callable[[], None] | None = None,
    on_close: Callable[[int, str | None], object] | None = None,
) -> int:
    """Download one shard over a data channel (``operation: "PULL"``) into ``destination``.

    Sends the channel request, writes every binary frame to ``destination`` as it
    arrives while hashing it, and succeeds only if the farmer closes with 1000,
    the byte count is ``size`` (when given) and the bytes hash to ``shard_hash``.
    ``destination`` sees the bytes before they are verified: trust its content
    only when this function returns. ``on_bytes(n)`` is called after each frame.

    :param size: the expected shard length (the pointer's ``size``); ``None`` to
        accept up to ``max_size`` bytes.
    :param timeout: seconds allowed for opening and for each frame (idle time).
    :param max_frame_size: a larger frame closes the connection (→ :class:`FarmerError`).
    :param cancel: anything with ``is_set()`` (a :class:`threading.Event`); looked at
        every 0.1 s while waiting and after each frame. When set, the channel is closed
        (1001) and :class:`~storj.exception.TransferCancelledError` is raised.
    :param low_speed_limit: bytes per second; a transfer moving less than this for
        ``low_speed_time`` seconds is abandoned (:class:`FarmerTimeoutError`), as the
        HTTP transfers do (libstorj: 30720 B/s for 20 s). ``0`` disables the rule, so
        only ``timeout`` bounds a farmer that drips tiny frames.
    :param deadline: seconds the whole pull may take, opening the channel included
        (:class:`FarmerTimeoutError` after that); ``None`` (default): no total bound.
    :param on_open: called once the channel is open and the request sent.
    :param on_close: called with the farmer's close code and reason when the channel
        ends (``1006, None`` when it ended without a close frame), before the outcome is
        checked.
    :returns: the number of bytes written.
    :raises SuppliedTokenNotAcceptedError: close 3101.
    :raises HashMismatchError: close 3102, more or fewer bytes than ``size``, or
        bytes that do not hash to ``shard_hash``.
    :raises FarmerTimeoutError: the farmer stalled for ``timeout`` seconds.
    :raises FarmerError: any other failure (close code and reason in the message).
    :raises TransferCancelledError: ``cancel`` was set.
    :raises ValueError: invalid arguments.
    """
    request = channel_request(token, shard_hash, "PULL")
    if size is not None and size < 0:
        raise ValueError("size must not be negative")
    url = _validate_url(channel_url)
    what = f"download of shard {shard_hash} from {url}"
    limit = max_size if size is None else size
    sha = hashlib.sha256()
    received = 0
    watch = _PullWatch(what, timeout, cancel, low_speed_limit, low_speed_time, deadline)
    with _channel(url, timeout, max_frame_size, what) as ws:
        _send(ws, request, what, timeout)
        if on_open is not None:
            on_open()
        while True:
            try:
                message = ws.recv(timeout=watch.wait())
            except TimeoutError:
                watch.check(received)
                continue
            except ConnectionClosed as exc:
                if exc.rcvd is None:
                    if on_close is not None and exc.sent is None:
                        on_close(1006, None)
                    raise _closed(exc, what, timeout) from exc
                code, reason = exc.rcvd.code, exc.rcvd.reason
                break
            if isinstance(message, str):
                raise FarmerError(f"{what}: the farmer sent a text frame inside the shard data")
            if received + len(message) > limit:
                if size is None:
                    raise FarmerError(f"{what}: the farmer sent more than {max_size} bytes")
                raise HashMismatchError(
                    f"{what}: the farmer sent more than the shard's {size} bytes"
                )
            destination.write(message)
            sha.update(message)
            received += len(message)
            if on_bytes is not None:
                on_bytes(len(message))
            watch.received(received)
    if on_close is not None:
        on_close(code, reason)
    if code != CLOSE_COMPLETED:
        raise close_error(code, reason, what)
    if size is not None and received != size:
        raise HashMismatchError(f"{what}: the farmer sent only {received} of {size} bytes")
    digest = ripemd160(sha.digest()).hex()
    if digest != shard_hash:
        raise HashMismatchError(f"{what}: the bytes hash to {digest}, not to the shard hash")
    log.debug("pulled %d bytes of shard %s over %s", received, shard_hash, url)
    return received


def _pointer_field(pointer: Any, name: str) -> Any:
    if isinstance(pointer, Mapping):
        return pointer.get(name)
    return getattr(pointer, name, None)


class ChannelMessage:
    """One data frame as :meth:`Client.received_message` gets it (ws4py's message shape).

    :ivar data: the frame's payload (``bytes``).
    :ivar is_binary: ``True`` (the channel carries shard data in binary frames).
    :ivar is_text: ``False``.
    """

    __slots__ = ("data",)
    is_binary = True
    is_text = False

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __bytes__(self) -> bytes:
        return self.data

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"ChannelMessage({len(self.data)} bytes)"


class _MessageSink:
    """The destination :meth:`Client.run` gives :func:`pull_shard`: frames go to the hook."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def write(self, data: bytes) -> int:
        self._client.received_message(ChannelMessage(bytes(data)))
        return len(data)


class Client:
    """Download the shard of one pointer over its data channel into ``file_contents``.

    The 0.1.x ``Client(pointer, file_contents)``, without ws4py: :meth:`run` opens
    ``pointer.channel``, pulls the shard, appends it to ``file_contents`` and checks
    its size and hash (see :func:`pull_shard`).

    ws4py-style callbacks, for subclasses as in 0.x: :meth:`opened` when the channel
    is open, :meth:`received_message` for every binary frame (the default appends it
    to ``file_contents``) and :meth:`closed` with the farmer's close code and reason.
    The size and hash are checked on the frames received, whatever the callbacks do.
    Differs from 0.x: the channel request (``{"token", "hash", "operation"}``) is sent
    by :meth:`run` before :meth:`opened` (0.x sent the whole pointer from ``opened``,
    which farmers do not accept), and :meth:`run` replaces ws4py's
    ``connect()`` + ``run_forever()``; failures raise instead of being dropped.

    :param pointer: a :class:`storj.model.FilePointer` (or a mapping with the same
        keys) carrying ``channel``, ``hash``, ``token`` (``str(token)`` is the farmer
        token) and, usually, ``size``.
    :param file_contents: a writable binary file.
    :param timeout: seconds allowed for opening and for each frame.
    :raises FarmerError: the pointer has no channel URL or no token.
    """

    def __init__(self, pointer: Any, file_contents: BinaryIO, *, timeout: float = 60.0) -> None:
        channel = _pointer_field(pointer, "channel")
        if not channel:
            raise FarmerError(
                "this pointer has no data channel URL (``channel``); pointers with a "
                "``farmer`` contact are downloaded over HTTP by storj.transfer"
            )
        token = _pointer_field(pointer, "token")
        if isinstance(token, Mapping):
            token = token.get("token")
        if token is None:
            raise FarmerError("this pointer carries no farmer token")
        shard_hash = _pointer_field(pointer, "hash")
        if not is_shard_hash(shard_hash):
            raise FarmerError(f"this pointer carries an invalid shard hash {shard_hash!r}")
        size = _pointer_field(pointer, "size")
        self.pointer = pointer
        self.file_contents = file_contents
        self.url = _validate_url(channel)
        self.token = str(token)
        self.hash = str(shard_hash)
        self.size = int(size) if size is not None else None
        self.timeout = timeout

    def run(self) -> int:
        """Pull the shard into ``file_contents``; return the number of bytes written.

        :raises FarmerError: see :func:`pull_shard`.
        """
        return pull_shard(
            self.url,
            token=self.token,
            shard_hash=self.hash,
            destination=cast(BinaryIO, _MessageSink(self)),  # only write() is used
            size=self.size,
            timeout=self.timeout,
            on_open=self.opened,
            on_close=self.closed,
        )

    def opened(self) -> None:
        """Called once the channel is open and the request sent (default: nothing)."""

    def received_message(self, message: ChannelMessage | bytes) -> None:
        """Called for each binary frame; the default appends ``message.data`` to the file.

        Raw ``bytes`` (what code calling this hook itself may pass) are appended as they
        are; a text message is ignored, as in 0.x.
        """
        if isinstance(message, (bytes, bytearray)):
            self.file_contents.write(bytes(message))
        elif message.is_binary:
            self.file_contents.write(message.data)

    def closed(self, code: int, reason: str | None = None) -> str:
        """Called when the channel ends, with the farmer's close code and reason.

        ``1000`` is success; ``1006`` means no close frame came. Returns 0.x's
        description ``"Closed web socket <code> <reason>"`` (ignored by :meth:`run`).
        """
        return f"Closed web socket {code} {reason}"

    def __repr__(self) -> str:
        return f"Client({self.url!r}, hash={self.hash!r}, size={self.size!r})"

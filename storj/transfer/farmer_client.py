"""Move one shard to or from a farmer over HTTP (``bridge-protocol.md`` §6).

* Upload: ``POST http://<address>:<port>/shards/<hash>?token=<token>`` with headers
  ``Content-Type: application/octet-stream``, ``Content-Length: <size>`` and
  ``x-storj-node-id: <farmer nodeID>``; the body is streamed from a file in
  ``io_chunk_size`` reads (never a whole-shard buffer). 200, 201 and 304 mean stored.
* Download: ``GET`` on the same URL; the body is read into one reused buffer, hashed
  (``RIPEMD160(SHA256(.))``) as it arrives and handed to a sink chunk by chunk. Its
  length and hash are checked against the pointer before the download counts as good.
* Download over a legacy WebSocket data channel (``channel: "ws://…"`` pointers,
  §6.6): :meth:`FarmerClient.pull_channel`, through :func:`storj.web_socket.pull_shard`,
  with the same sink, checks, timeouts, low-speed rule and abort.

Errors are :class:`~storj.exception.FarmerError` subclasses: 401/403 →
:class:`~storj.exception.SuppliedTokenNotAcceptedError`; wrong bytes →
:class:`~storj.exception.HashMismatchError`; no connection within ``timeout`` or a
transfer slower than ``low_speed_limit`` for ``low_speed_time`` seconds (libstorj's
curl settings), or longer in total than the shard's deadline
(:meth:`TransferConfig.deadline_for <storj.transfer.TransferConfig.deadline_for>`) →
:class:`~storj.exception.FarmerTimeoutError`. The farmer's ``{"result": message}`` body
(§6.4) becomes the message; only its first 4 KiB are read, and the message is bounded.

What a farmer sends is bounded: a download reads at most the pointer's ``size`` bytes
plus one (one more is a :class:`~storj.exception.HashMismatchError`), an upload's
answer at most :data:`_ANSWER_LIMIT` bytes (a longer one is not read: the connection
is closed instead of reused).

A watchdog thread enforces the low-speed rule, the total deadline and the
:class:`~.progress.Abort` of the transfer: it shuts down the socket of a stalled,
overdue or cancelled transfer, so a blocked read or write returns at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
import urllib3
import urllib3.connection
from requests.adapters import HTTPAdapter

from storj import web_socket
from storj._sessions import EnvironmentCachingSession
from storj.api import ripemd160
from storj.exception import (
    FarmerError,
    FarmerTimeoutError,
    HashMismatchError,
    SuppliedTokenNotAcceptedError,
    TransferCancelledError,
)
from storj.metadata import __version__
from storj.transfer._tempfiles import ReadableAt
from storj.transfer.config import TransferConfig
from storj.transfer.progress import Abort, Aborted

__all__ = ["FarmerClient", "FarmerEndpoint", "farmer_endpoint", "shard_url"]

log = logging.getLogger(__name__)

_TOKEN_IN_URL = re.compile(r"(?i)(token=)[^&\s\"']+")


class _RedactTokens(logging.Filter):
    """Blank farmer tokens out of urllib3's DEBUG request lines.

    The farmer protocol carries the transfer token in the query string
    (``/shards/<hash>?token=…``), and ``urllib3.connectionpool`` logs every request
    line; a token lets anyone holding the log fetch or replace the shard.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_URL.sub(r"\1<redacted>", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_URL.sub(r"\1<redacted>", record.msg)
        return True


_redact_tokens = _RedactTokens()
for _name in ("urllib3.connectionpool", "urllib3.connection"):
    _logger = logging.getLogger(_name)
    if _redact_tokens not in _logger.filters:
        _logger.addFilter(_redact_tokens)

_USER_AGENT = f"storj-python/{__version__}"
#: Largest piece handed to one socket call; keeps the low-speed accounting fine-grained.
_SLICE = 256 * 1024
#: Seconds between two watchdog checks.
_TICK = 0.05
#: Most bytes of a successful upload's answer read (to reuse the connection).
_ANSWER_LIMIT = 64 * 1024

_tls = threading.local()


def _get(record: Any, *names: str) -> Any:
    """First non-None field of a model or mapping (attribute or mapping access)."""
    for name in names:
        value = None
        if isinstance(record, Mapping):
            value = record.get(name)
        else:
            value = getattr(record, name, None)
            if value is None and hasattr(record, "get"):
                with contextlib.suppress(Exception):
                    value = record.get(name)
        if value is not None:
            return value
    return None


class FarmerEndpoint:
    """Where a farmer listens: ``address``, ``port`` and its ``node_id``."""

    __slots__ = ("address", "node_id", "port")

    def __init__(self, address: str, port: int, node_id: str | None) -> None:
        self.address = address
        self.port = port
        self.node_id = node_id

    def __repr__(self) -> str:
        return f"FarmerEndpoint({self.address!r}, {self.port!r}, {self.node_id!r})"


def farmer_endpoint(farmer: Any) -> FarmerEndpoint:
    """Read a farmer contact (model, dict from ``PUT /frames`` or pointer) into an endpoint.

    :raises FarmerError: the contact has no address or port.
    """
    address = _get(farmer, "address")
    port = _get(farmer, "port")
    node_id = _get(farmer, "nodeID", "node_id", "nodeId")
    if not isinstance(node_id, str):
        node_id = None
    if not address or port is None:
        raise FarmerError(
            "the Bridge gave a farmer contact without address or port", node_id=node_id
        )
    if not isinstance(address, str) or len(address) > 255:
        raise FarmerError(
            f"the Bridge gave a farmer contact whose address is not a host name "
            f"({type(address).__name__})",
            node_id=node_id,
        )
    try:
        port = int(port)
    except (TypeError, ValueError, OverflowError):
        port = -1
    if not 0 < port < 65536:
        raise FarmerError(
            f"the Bridge gave a farmer contact with port {str(_get(farmer, 'port'))[:40]!r}",
            node_id=node_id,
        )
    return FarmerEndpoint(address, port, node_id or None)


def shard_url(endpoint: FarmerEndpoint, shard_hash: str, token: str) -> str:
    """``http://address:port/shards/<hash>?token=<token>`` (IPv6 addresses bracketed)."""
    host = endpoint.address
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{endpoint.port}/shards/{shard_hash}?token={token}"


# ------------------------------------------------------------------ socket tracking


class _Watch:
    """One in-flight transfer as the watchdog sees it."""

    __slots__ = (
        "_lock",
        "body",
        "conn",
        "deadline",
        "killed",
        "mark_bytes",
        "mark_time",
        "seconds",
        "transferred",
    )

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self.conn: Any = None
        self.transferred = 0
        self.body = False  # True while bytes are expected to flow (low-speed rule applies)
        self.mark_time = time.monotonic()
        self.mark_bytes = 0
        self.seconds = seconds
        self.deadline = self.mark_time + seconds  # the whole transfer ends by then
        self.killed: str | None = None  # "slow", "deadline" or "aborted"

    def start_body(self) -> None:
        self.body = True
        self.mark_time = time.monotonic()
        self.mark_bytes = self.transferred

    def stop_body(self) -> None:
        self.body = False

    def count(self, n: int) -> None:
        self.transferred += n

    def kill(self, why: str) -> None:
        with self._lock:
            if self.killed is None:
                self.killed = why
            conn = self.conn
        # http.client drops HTTPConnection.sock as soon as a "Connection: close"
        # response arrives, while the body is still being read from that socket:
        # shut down the one the connection was made with.
        sock = getattr(conn, "watched_sock", None) or getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _WatchedConnection(urllib3.connection.HTTPConnection):
    """An HTTP connection that keeps a reference to its socket for the watchdog."""

    watched_sock: socket.socket | None = None

    def connect(self) -> None:
        super().connect()
        self.watched_sock = self.sock


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    watched_sock: socket.socket | None = None

    def connect(self) -> None:
        super().connect()
        self.watched_sock = self.sock


class _TrackingPool(urllib3.HTTPConnectionPool):
    """A connection pool that tells the current thread's :class:`_Watch` its connection."""

    ConnectionCls = _WatchedConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        watch = getattr(_tls, "watch", None)
        if watch is not None:
            watch.conn = conn
            if watch.killed:
                with contextlib.suppress(Exception):
                    conn.close()
        return conn


class _TrackingHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection
    _get_conn = _TrackingPool._get_conn


class _TrackingAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _TrackingPool,
            "https": _TrackingHTTPSPool,
        }


# ------------------------------------------------------------------------- bodies


class _ShardBody:
    """The request body of a shard upload: ``length`` bytes of ``source`` from ``offset``.

    Iterating reads ``io_chunk_size`` blocks into one reused buffer and yields slices
    of it; ``len()`` gives requests the ``Content-Length``.
    """

    def __init__(
        self,
        source: ReadableAt,
        offset: int,
        length: int,
        chunk_size: int,
        watch: _Watch,
        abort: Abort | None,
        on_bytes: Callable[[int], None] | None,
    ) -> None:
        self._source = source
        self._offset = offset
        self._length = length
        self._chunk = min(chunk_size, max(length, 1))
        self._watch = watch
        self._abort = abort
        self._on_bytes = on_bytes

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[memoryview]:
        buffer = bytearray(self._chunk)
        view = memoryview(buffer)
        watch = self._watch
        done = 0
        watch.start_body()
        while done < self._length:
            want = min(self._chunk, self._length - done)
            got = self._source.preadinto(view[:want], self._offset + done)
            if got != want:
                raise OSError(
                    f"the shard's bytes ended after {done + got} of {self._length}"
                )
            for start in range(0, want, _SLICE):
                if watch.killed or (self._abort is not None and self._abort.is_set()):
                    raise _Stop()
                piece = view[start : min(start + _SLICE, want)]
                yield piece
                watch.count(piece.nbytes)
                if self._on_bytes is not None:
                    self._on_bytes(piece.nbytes)
            done += want
        watch.stop_body()


class _Stop(Exception):  # noqa: N818 - internal signal: the watch was killed
    pass


class _SinkWriter:
    """A write-only file object that hands each data-channel frame to a shard sink."""

    def __init__(self, sink: Callable[[memoryview, int], None]) -> None:
        self._sink = sink
        self.position = 0

    def write(self, data: bytes) -> int:
        try:
            self._sink(memoryview(data), self.position)
        except BaseException as exc:  # not the farmer's fault: re-raised as is by the caller
            raise _SinkFailed(exc) from exc
        self.position += len(data)
        return len(data)


class _SinkFailed(Exception):  # noqa: N818 - carries an error of the caller's sink
    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


# ------------------------------------------------------------------------- client


def _readinto_some(response: http.client.HTTPResponse, view: memoryview) -> int:
    """Read what the socket has (at most ``len(view)`` bytes) of a response body.

    ``HTTPResponse.readinto`` fills the whole buffer before it returns; this makes one
    socket read (``readinto1``), so the bytes are counted as they arrive (the low-speed
    rule stays exact) while a fast farmer is read in buffers of ``io_chunk_size``
    rather than in small slices, which costs noticeably less CPU per byte. Chunked
    bodies, bodies without a length and odd buffers keep ``readinto``, in slices of
    :data:`_SLICE`.
    """
    length = response.length
    buffered = response.fp
    if response.chunked or length is None or buffered is None or not hasattr(buffered, "readinto1"):
        return response.readinto(view[:_SLICE])
    if not length:
        return response.readinto(view[:0])
    got: int = buffered.readinto1(view[:length])
    if got:
        response.length = length - got
        if response.length == 0:
            response.readinto(view[:0])  # the body is complete: http.client releases it
    return got


def _farmer_message(response: requests.Response) -> str:
    """The farmer's ``{"result": ...}`` message (§6.4), or a short description."""
    try:
        text = next(response.iter_content(4096), b"")
    except (requests.RequestException, OSError, urllib3.exceptions.HTTPError):
        text = b""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("result"), str):
            return data["result"]
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return data["error"]
    reason = response.reason or ""
    return f"HTTP {response.status_code} {reason}".strip()


def _drain_answer(response: requests.Response) -> None:
    """Read a successful upload's (small) answer so the connection can be reused.

    At most :data:`_ANSWER_LIMIT` bytes are read; a longer or broken answer is left
    unread and the connection is closed with the response instead of being reused.
    """
    read = 0
    try:
        for chunk in response.iter_content(16 * 1024):
            read += len(chunk)
            if read > _ANSWER_LIMIT:
                return
    except (requests.RequestException, OSError, urllib3.exceptions.HTTPError):
        return


def _status_error(response: requests.Response, endpoint: FarmerEndpoint, what: str) -> FarmerError:
    status = response.status_code
    message = f"{what}: the farmer answered {status}: {_farmer_message(response)}"
    cls: type[FarmerError] = FarmerError
    if status in (401, 403):
        cls = SuppliedTokenNotAcceptedError
    elif status == 504:
        cls = FarmerTimeoutError
    elif status == 400 and "hash" in message.lower():
        cls = HashMismatchError
    return cls(message, node_id=endpoint.node_id, status_code=status)


class FarmerClient:
    """Shard transfers to and from farmers for one upload or download.

    :param config: timeouts, low-speed rule and chunk size.
    :param abort: the transfer's abort flag; checked between chunks, and its
        callbacks close the sockets of transfers in flight.
    :param session: a :class:`requests.Session` (one with connection tracking is
        created by default; a given one loses prompt cancellation of blocked calls).

    Thread-safe: one client serves all the shard workers of a transfer.
    """

    def __init__(
        self,
        config: TransferConfig,
        abort: Abort | None = None,
        *,
        session: requests.Session | None = None,
    ) -> None:
        self.config = config
        self.abort = abort
        self._owns_session = session is None
        if session is None:
            session = EnvironmentCachingSession()
            adapter = _TrackingAdapter(
                pool_connections=8, pool_maxsize=max(8, 2 * config.shard_concurrency), max_retries=0
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session
        self._watches: set[_Watch] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._abort_key = abort.register(self._kill_all) if abort is not None else None

    # --------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Stop the watchdog and close the session (if this client made it)."""
        self._closed.set()
        if self.abort is not None and self._abort_key is not None:
            self.abort.unregister(self._abort_key)
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> FarmerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _kill_all(self) -> None:
        with self._lock:
            watches = list(self._watches)
        for watch in watches:
            watch.kill("aborted")

    def _ensure_watchdog(self) -> None:
        if self._watchdog is None:
            with self._lock:
                if self._watchdog is None:
                    thread = threading.Thread(
                        target=self._watch_loop, name="storj-farmer-watchdog", daemon=True
                    )
                    self._watchdog = thread
                    thread.start()

    def _watch_loop(self) -> None:
        limit = self.config.low_speed_limit
        window = self.config.low_speed_time
        while not self._closed.wait(_TICK):
            now = time.monotonic()
            with self._lock:
                watches = list(self._watches)
            for watch in watches:
                if watch.killed:
                    continue
                if now >= watch.deadline:
                    watch.kill("deadline")
                    continue
                if not watch.body:
                    continue
                elapsed = now - watch.mark_time
                if elapsed < window:
                    continue
                moved = watch.transferred - watch.mark_bytes
                if moved < limit * elapsed:
                    watch.kill("slow")
                else:
                    watch.mark_time = now
                    watch.mark_bytes = watch.transferred

    def _begin(self, size: int) -> _Watch:
        if self.abort is not None and self.abort.is_set():
            raise Aborted()
        watch = _Watch(self.config.deadline_for(size))
        with self._lock:
            self._watches.add(watch)
        _tls.watch = watch
        self._ensure_watchdog()
        return watch

    def _end(self, watch: _Watch) -> None:
        _tls.watch = None
        with self._lock:
            self._watches.discard(watch)

    def _failure(
        self, watch: _Watch, exc: BaseException, endpoint: FarmerEndpoint, what: str
    ) -> BaseException:
        """Turn a transport failure into the right error (or :class:`Aborted`)."""
        if watch.killed == "aborted" or (self.abort is not None and self.abort.is_set()):
            return Aborted()
        if watch.killed == "slow":
            return FarmerTimeoutError(
                f"{what}: the farmer sent less than {self.config.low_speed_limit} B/s for "
                f"{self.config.low_speed_time:g} s",
                node_id=endpoint.node_id,
            )
        if watch.killed == "deadline":
            return FarmerTimeoutError(
                f"{what}: the transfer took longer than its deadline of {watch.seconds:g} s "
                "(TransferConfig.shard_deadline)",
                node_id=endpoint.node_id,
            )
        if isinstance(exc, (requests.Timeout, socket.timeout, TimeoutError)):
            return FarmerTimeoutError(
                f"{what}: no answer from the farmer within {self.config.timeout:g} s",
                node_id=endpoint.node_id,
            )
        return FarmerError(f"{what}: {type(exc).__name__}: {exc}", node_id=endpoint.node_id)

    @property
    def _timeout(self) -> tuple[float, float]:
        return (self.config.timeout, self.config.timeout)

    # -------------------------------------------------------------------- push

    def push(
        self,
        farmer: Any,
        shard_hash: str,
        token: str,
        source: ReadableAt,
        offset: int,
        length: int,
        *,
        on_bytes: Callable[[int], None] | None = None,
    ) -> int:
        """Upload ``length`` bytes of ``source`` at ``offset`` as shard ``shard_hash``.

        Sends ``POST /shards/<hash>?token=<token>`` to the farmer (see module doc).
        ``on_bytes(n)`` is called from this thread as bytes leave.

        :returns: the farmer's status (200, 201 or 304).
        :raises FarmerError: the farmer refused or failed (subclass says why).
        :raises Aborted: the transfer was aborted.
        """
        endpoint = farmer if isinstance(farmer, FarmerEndpoint) else farmer_endpoint(farmer)
        what = f"upload of shard {shard_hash} to {endpoint.address}:{endpoint.port}"
        watch = self._begin(length)
        body = _ShardBody(
            source, offset, length, self.config.io_chunk_size, watch, self.abort, on_bytes
        )
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(length),
            "User-Agent": _USER_AGENT,
        }
        if endpoint.node_id:
            headers["x-storj-node-id"] = endpoint.node_id
        try:
            try:
                response = self.session.post(
                    shard_url(endpoint, shard_hash, token),
                    data=body,  # type: ignore[arg-type]  # an iterable of memoryviews
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                    stream=True,  # the answer is read below, bounded
                )
            except _Stop as exc:
                raise self._failure(watch, exc, endpoint, what) from None
            except (requests.RequestException, OSError, http.client.HTTPException) as exc:
                raise self._failure(watch, exc, endpoint, what) from exc
            with response:
                if watch.killed:  # cut off inside the answer's headers: not an answer
                    raise self._failure(watch, OSError("stopped"), endpoint, what)
                if response.status_code in (200, 201, 304):
                    _drain_answer(response)
                    return response.status_code
                raise _status_error(response, endpoint, what)
        finally:
            self._end(watch)

    # -------------------------------------------------------------------- pull

    def pull(
        self,
        farmer: Any,
        shard_hash: str,
        token: str,
        size: int,
        sink: Callable[[memoryview, int], None],
        *,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        """Download shard ``shard_hash`` (``size`` bytes) and verify it.

        Sends ``GET /shards/<hash>?token=<token>``. The body goes, in order, through
        ``sink(chunk, offset_in_shard)`` (up to ``io_chunk_size`` bytes each, in a
        reused buffer: copy what must be kept) while it is hashed. ``sink`` sees the
        bytes before the hash can be checked: it must write them somewhere that is
        only trusted once this method returns.

        :raises HashMismatchError: too few or too many bytes, or the wrong hash.
        :raises FarmerError: the farmer refused or failed (subclass says why).
        :raises Aborted: the transfer was aborted.
        """
        endpoint = farmer if isinstance(farmer, FarmerEndpoint) else farmer_endpoint(farmer)
        what = f"download of shard {shard_hash} from {endpoint.address}:{endpoint.port}"
        watch = self._begin(size)
        try:
            try:
                response = self.session.get(
                    shard_url(endpoint, shard_hash, token),
                    headers={"User-Agent": _USER_AGENT},
                    stream=True,
                    timeout=self._timeout,
                    allow_redirects=False,
                )
            except (requests.RequestException, OSError, http.client.HTTPException) as exc:
                raise self._failure(watch, exc, endpoint, what) from exc
            with response:
                if watch.killed:  # cut off inside the answer's headers: not an answer
                    raise self._failure(watch, OSError("stopped"), endpoint, what)
                if response.status_code != 200:
                    raise _status_error(response, endpoint, what)
                declared = response.headers.get("Content-Length")
                if declared is not None and declared.strip().isdigit() and int(declared) != size:
                    raise HashMismatchError(
                        f"{what}: the farmer announced {int(declared)} bytes, the shard has {size}",
                        node_id=endpoint.node_id,
                    )
                try:
                    digest = self._read_body(response, size, sink, watch, on_bytes, what, endpoint)
                except _SinkFailed as exc:
                    raise exc.original from None
                except (
                    requests.RequestException,
                    OSError,
                    http.client.HTTPException,
                    urllib3.exceptions.HTTPError,
                ) as exc:
                    raise self._failure(watch, exc, endpoint, what) from exc
        finally:
            self._end(watch)
        if digest != shard_hash:
            raise HashMismatchError(
                f"{what}: the bytes hash to {digest}, not to the shard hash",
                node_id=endpoint.node_id,
            )

    def pull_channel(
        self,
        channel: str,
        shard_hash: str,
        token: str,
        size: int,
        sink: Callable[[memoryview, int], None],
        *,
        node_id: str | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        """Download shard ``shard_hash`` (``size`` bytes) over a legacy data channel.

        Opens ``channel`` (``ws://address:port``), sends the text frame
        ``{"token", "hash", "operation": "PULL"}`` and hands each binary frame to
        ``sink(chunk, offset_in_shard)`` as :meth:`pull` does; succeeds only when the
        farmer closes with 1000 and the bytes have the pointer's size and hash. Bounded
        by ``timeout`` per frame and by the low-speed rule; the transfer's abort closes
        the channel within 0.1 s. ``node_id`` (when the pointer also names the farmer)
        is put on the errors.

        :raises SuppliedTokenNotAcceptedError: close 3101.
        :raises HashMismatchError: close 3102, or wrong size or hash.
        :raises FarmerTimeoutError: the farmer stalled or was too slow.
        :raises FarmerError: any other failure (close code and reason in the message).
        :raises Aborted: the transfer was aborted.
        """
        if self.abort is not None and self.abort.is_set():
            raise Aborted()
        writer = _SinkWriter(sink)
        try:
            web_socket.pull_shard(
                channel,
                token=token,
                shard_hash=shard_hash,
                destination=writer,  # type: ignore[arg-type]  # only write() is used
                size=size,
                timeout=self.config.timeout,
                on_bytes=on_bytes,
                cancel=self.abort,
                low_speed_limit=self.config.low_speed_limit,
                low_speed_time=self.config.low_speed_time,
                deadline=self.config.deadline_for(size),
            )
        except _SinkFailed as exc:
            raise exc.original from None
        except TransferCancelledError:
            raise Aborted() from None
        except FarmerError as exc:
            if exc.node_id is None:
                exc.node_id = node_id
            raise
        except ValueError as exc:  # a token or hash the channel request cannot carry
            raise FarmerError(
                f"download of shard {shard_hash} from {channel}: {exc}", node_id=node_id
            ) from None

    def _read_body(
        self,
        response: requests.Response,
        size: int,
        sink: Callable[[memoryview, int], None],
        watch: _Watch,
        on_bytes: Callable[[int], None] | None,
        what: str,
        endpoint: FarmerEndpoint,
    ) -> str:
        raw = response.raw
        fp = getattr(raw, "_fp", None)
        readinto: Callable[[memoryview], int]
        if isinstance(fp, http.client.HTTPResponse):

            def readinto(view: memoryview) -> int:
                return _readinto_some(fp, view)

        else:  # not http.client underneath: its readinto fills the buffer, so slice it

            def readinto(view: memoryview) -> int:
                got: int = raw.readinto(view[:_SLICE])
                return got

        chunk = min(self.config.io_chunk_size, max(size, 1))
        buffer = bytearray(chunk)
        view = memoryview(buffer)
        sha = hashlib.sha256()
        abort = self.abort
        position = 0
        watch.start_body()
        while position < size:
            want = min(chunk, size - position)
            filled = 0
            while filled < want:
                if watch.killed or (abort is not None and abort.is_set()):
                    raise self._failure(watch, OSError("stopped"), endpoint, what)
                got = readinto(view[filled:want])
                if not got and (watch.killed or (abort is not None and abort.is_set())):
                    raise self._failure(watch, OSError("stopped"), endpoint, what)
                if not got:
                    raise HashMismatchError(
                        f"{what}: the farmer sent only {position + filled} of {size} bytes",
                        node_id=endpoint.node_id,
                    )
                filled += got
                watch.count(got)
                if on_bytes is not None:
                    on_bytes(got)
            piece = view[:want]
            sha.update(piece)
            try:
                sink(piece, position)
            except BaseException as exc:  # not the farmer's fault: re-raised as is by pull()
                raise _SinkFailed(exc) from exc
            position += want
        watch.stop_body()
        extra = readinto(view[:1])
        if extra:
            raise HashMismatchError(
                f"{what}: the farmer sent more than the shard's {size} bytes",
                node_id=endpoint.node_id,
            )
        return ripemd160(sha.digest()).hex()

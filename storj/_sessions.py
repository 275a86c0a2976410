"""The ``requests`` sessions of the Bridge client.

:class:`EnvironmentCachingSession` reads the proxy environment once per host.
:class:`DeadlineSession` adds a total deadline per request (see its docstring).

With ``trust_env`` (the default), ``requests`` scans every environment variable
for proxy settings on every request (``get_environ_proxies``): about 0.1 ms each time,
a noticeable share of a loopback Bridge call or of a shard download's set-up. This
session asks once per scheme, host and port and remembers the answer, and reads
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` once. Proxy variables changed after the
session made its first request to a host are not seen by it.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
import urllib3.connection
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies

__all__ = ["DeadlineSession", "Expiry", "EnvironmentCachingSession", "request_deadline"]

#: Hosts remembered before the cache starts again (farmers can be many).
_MAX_HOSTS = 1024


class EnvironmentCachingSession(requests.Session):
    """:class:`requests.Session` with the proxy environment cached per host (see the
    module docstring); otherwise identical."""

    def __init__(self) -> None:
        super().__init__()
        self._proxies_by_host: dict[tuple[str, str, str | None], dict[str, str]] = {}
        self._lock = threading.Lock()
        self._ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
            "CURL_CA_BUNDLE"
        )

    def _environment_proxies(self, url: str, no_proxy: str | None) -> dict[str, str]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy)
        found = self._proxies_by_host.get(key)
        if found is None:
            found = dict(get_environ_proxies(url, no_proxy=no_proxy))
            with self._lock:
                if len(self._proxies_by_host) >= _MAX_HOSTS:
                    self._proxies_by_host.clear()
                self._proxies_by_host[key] = found
        return found

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: MutableMapping[str, str] | None,
        stream: bool | None,
        verify: bool | str | None,
        cert: Any,
    ) -> Any:
        if not self.trust_env or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        merged: dict[str, str] = dict(proxies) if isinstance(proxies, Mapping) else {}
        for scheme, proxy in self._environment_proxies(url, merged.get("no_proxy")).items():
            merged.setdefault(scheme, proxy)
        if (verify is True or verify is None) and self._ca_bundle:
            verify = self._ca_bundle
        # What the base class does after its environment look-ups.
        return {
            "proxies": merge_setting(merged, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }


# ------------------------------------------------------------------ total deadlines
#
# ``requests`` bounds each socket operation (connect, every read), not a request: a
# server sending one byte per read timeout holds a call for ever. A DeadlineSession
# remembers which connection the current thread's request uses; one watchdog thread
# shuts that socket down when the request's deadline passes, so the blocked read
# returns at once and the client reports a timeout.

#: Seconds the watchdog thread waits with nothing to watch before it exits.
_IDLE_EXIT = 30.0
#: Serialises attaching a connection to a deadline and expiring it.
_ATTACH_LOCK = threading.Lock()
_current = threading.local()


def _shutdown(conn: Any) -> None:
    sock = getattr(conn, "watched_sock", None) or getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class Expiry:
    """The deadline of one request: ``expired`` once the watchdog cut it off."""

    __slots__ = ("at", "conn", "done", "expired")

    def __init__(self, at: float) -> None:
        self.at = at
        self.conn: Any = None
        self.done = False
        self.expired = False

    def attach(self, conn: Any) -> None:
        """``conn`` now carries this request (called by the pool)."""
        with _ATTACH_LOCK:
            self.conn = conn
            conn.storj_expiry = self
            if self.expired:
                _shutdown(conn)

    def expire(self) -> None:
        """The deadline passed: cut the request's connection off."""
        with _ATTACH_LOCK:
            if self.done:
                return
            self.expired = True
            conn = self.conn
            if conn is not None and getattr(conn, "storj_expiry", None) is self:
                _shutdown(conn)

    def finish(self) -> None:
        """The request is over: its connection may serve others, leave it alone."""
        with _ATTACH_LOCK:
            self.done = True
            conn = self.conn
            if conn is not None and getattr(conn, "storj_expiry", None) is self:
                conn.storj_expiry = None
            self.conn = None


class _Watchdog:
    """One daemon thread that expires deadlines in time order (started on demand)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Expiry]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._adds = 0

    def add(self, expiry: Expiry) -> None:
        with self._cond:
            heapq.heappush(self._heap, (expiry.at, next(self._order), expiry))
            self._adds += 1
            if self._adds % 1024 == 0:  # finished requests wait for their time: drop them
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="storj-bridge-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is expiry:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            due: list[Expiry] = []
            with self._cond:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    expiry = heapq.heappop(self._heap)[2]
                    if not expiry.done:
                        due.append(expiry)
                if not due:
                    if not self._heap:
                        self._cond.wait(_IDLE_EXIT)
                        if not self._heap:
                            self._thread = None
                            return
                    else:
                        self._cond.wait(self._heap[0][0] - now)
            for expiry in due:
                expiry.expire()


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def request_deadline(seconds: float) -> Iterator[Expiry]:
    """Bound the requests this thread makes through a :class:`DeadlineSession` inside
    the block to ``seconds`` in total (connect, headers and body).

    When the time is up the request's socket is shut down: the blocked call fails
    with a connection error and the yielded :class:`Expiry` says ``expired``.
    """
    expiry = Expiry(time.monotonic() + seconds)
    previous = getattr(_current, "expiry", None)
    _current.expiry = expiry
    _WATCHDOG.add(expiry)
    try:
        yield expiry
    finally:
        _current.expiry = previous
        expiry.finish()


class _DeadlineConnectionMixin:
    """Keeps the socket for the watchdog (``http.client`` drops ``sock`` early on
    ``Connection: close``) and honours a deadline that passed while connecting."""

    watched_sock: socket.socket | None = None
    storj_expiry: Expiry | None = None
    sock: socket.socket | None

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]  # the HTTP(S)Connection it is mixed into
        with _ATTACH_LOCK:
            self.watched_sock = self.sock
            expiry = self.storj_expiry
            if expiry is not None and expiry.expired and not expiry.done:
                _shutdown(self)


class _DeadlineConnection(_DeadlineConnectionMixin, urllib3.connection.HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineConnectionMixin, urllib3.connection.HTTPSConnection):
    pass


class _DeadlinePoolMixin:
    """Tells the current thread's :class:`Expiry` which connection its request uses."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]  # the pool it is mixed into
        expiry = getattr(_current, "expiry", None)
        if expiry is not None:
            expiry.attach(conn)
        return conn


class _DeadlinePool(_DeadlinePoolMixin, urllib3.HTTPConnectionPool):
    ConnectionCls = _DeadlineConnection


class _DeadlineHTTPSPool(_DeadlinePoolMixin, urllib3.HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An adapter whose pools tell the current :func:`request_deadline` their connection."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _DeadlinePool,
            "https": _DeadlineHTTPSPool,
        }


class DeadlineSession(EnvironmentCachingSession):
    """An :class:`EnvironmentCachingSession` whose requests honour :func:`request_deadline`.

    Mounts a pooled :class:`DeadlineAdapter` for ``http://`` and ``https://``. Requests
    made outside a ``request_deadline`` block behave as usual.
    """

    def __init__(self, *, pool_maxsize: int = 32) -> None:
        super().__init__()
        adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

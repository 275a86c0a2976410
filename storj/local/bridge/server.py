"""Running the Bridge: :class:`BridgeServer`, a threaded werkzeug server in a thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer

from storj.local._files import private_dir, private_sqlite
from storj.local._http import LimitedWSGIServer, LocalRequestHandler, redact
from storj.local.bridge.app import BridgeApp, Services
from storj.local.bridge.audit import audit_all
from storj.local.bridge.config import BridgeConfig
from storj.local.bridge.maintenance import PassReport
from storj.local.bridge.routes_info import outbox_json
from storj.local.bridge.store import Store

__all__ = ["BridgeServer"]

log = logging.getLogger("storj.local.bridge")


class _QuietHandler(LocalRequestHandler):
    """Request handler without werkzeug's own access log (the app logs each request);
    the request head must arrive within ``head_timeout`` (slow clients are cut off), a
    request with ambiguous framing is refused, and the errors the HTTP layer answers
    itself (unparsable request line, bad headers, timeouts) are ``{"error": message}``
    like every other Bridge error (:class:`storj.local._http.LocalRequestHandler`)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        text = message % args if args else message
        log.debug("http server: %s", redact(text))  # the request line may carry a token


class BridgeServer:
    """A local Bridge on ``config.host:config.port`` (port 0: a free port).

    ``start()`` opens the database and serves from a background thread; ``stop()`` shuts
    the server down and closes the database. Usable as a context manager::

        with BridgeServer(BridgeConfig(data_dir=tmp, control_secret=secret)) as bridge:
            requests.get(bridge.url + "/health")
    """

    def __init__(self, config: BridgeConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._store: Store | None = None
        self._services: Services | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> BridgeServer:
        """Open ``<data_dir>/bridge.sqlite3``, bind, and serve in a daemon thread.

        The data directory is made 0700 and the database files 0600 (existing ones are
        tightened). At most ``config.max_connections`` connections are served at once.
        """
        if self._server is not None:
            return self
        self.config.validate()
        data_dir = private_dir(self.config.data_dir)
        private_sqlite(data_dir / "bridge.sqlite3")
        store = Store(data_dir / "bridge.sqlite3").open()
        services = Services(self.config, store, self._clock)
        handler = type(
            "BridgeRequestHandler",
            (_QuietHandler,),
            {"timeout": self.config.request_timeout, "head_timeout": self.config.request_timeout},
        )
        try:
            server = LimitedWSGIServer(
                self.config.host,
                int(self.config.port),
                BridgeApp(services),
                handler,
                max_connections=self.config.max_connections,
                logger=log,
            )
        except BaseException:
            services.close()
            store.close()
            raise
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"storj-bridge-{server.server_port}",
            daemon=True,
        )
        self._store, self._services, self._server, self._thread = store, services, server, thread
        thread.start()
        services.maintenance.start()
        log.info("Bridge listening on %s (data in %s)", self.url, self.config.data_dir)
        return self

    def stop(self) -> None:
        """Stop serving, stop background work and close the database."""
        server, thread, services, store = self._server, self._thread, self._services, self._store
        self._server = self._thread = self._services = self._store = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        if services is not None:
            services.close()
        if store is not None:
            store.close()

    def __enter__(self) -> BridgeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"url={self.url!r}" if self._server else "stopped"
        return f"BridgeServer({state})"

    # -- properties -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port (the configured one before ``start()``)."""
        return int(self._server.server_port) if self._server else int(self.config.port)

    @property
    def url(self) -> str:
        """``http://host:port`` (loopback when bound to all interfaces)."""
        host = self.config.host
        if host in ("0.0.0.0", ""):  # noqa: S104 - only used to build a URL
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the Bridge is not running: call start() first")
        return self._services

    # -- local tools ------------------------------------------------------------------

    def outbox(self, email: str | None = None) -> list[dict[str, Any]]:
        """E-mails the Bridge would have sent: ``[{to, kind, token, created}]``, oldest first.

        ``kind`` is ``"activation"``, ``"deactivation"`` or ``"reset"``.
        """
        return [outbox_json(row) for row in self.services.store.outbox(email)]

    def audit_all(self) -> dict[str, Any]:
        """Audit every copy a file depends on, once, and record the verdicts (see
        :func:`storj.local.bridge.audit.audit_all`)."""
        return audit_all(self.services)

    def maintain(self) -> PassReport:
        """Run one maintenance pass now — liveness, verification, repair, garbage
        collection, releases — and return what it did (see
        :mod:`storj.local.bridge.maintenance`)."""
        return self.services.maintenance.run_pass()

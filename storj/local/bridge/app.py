"""The WSGI application of the local Bridge: services, routing, errors, CORS, logging.

Every answer is JSON (``{"error": message}`` for errors) except ``GET /health`` (text
``OK``), ``DELETE`` successes (204, empty) and CORS preflights (204). Unknown routes
answer 404 ``{"error": "Not found"}``; an unexpected exception is logged with its
traceback on the ``storj.local.bridge`` logger and answered 500
``{"error": "Internal error"}`` — the client never sees a traceback. One log line per
request: method, path (no query string), status and milliseconds; headers and bodies are
never logged, and the tokens that travel in paths (``/activations/:token``,
``/deactivations/:token``, ``/resets/:token``) are logged as ``<token>``
(:func:`storj.local._http.redact`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from werkzeug.wrappers import Response

from storj.local._http import redact
from storj.local.bridge import (
    routes_buckets,
    routes_contacts,
    routes_files,
    routes_frames,
    routes_info,
    routes_keys,
    routes_reports,
    routes_users,
)
from storj.local.bridge.auth import AuthLimiter
from storj.local.bridge.config import BridgeConfig
from storj.local.bridge.context import RequestContext, json_response
from storj.local.bridge.control import FarmerControl
from storj.local.bridge.errors import BridgeHTTPError, PayloadTooLarge, TooManyRequests
from storj.local.bridge.farmers import FarmerPool
from storj.local.bridge.limits import SeenOnce
from storj.local.bridge.maintenance import Maintenance
from storj.local.bridge.mirrors import Mirrorer
from storj.local.bridge.router import Router
from storj.local.bridge.store import Store, StoreClosedError

__all__ = ["BridgeApp", "Services", "build_router", "create_app"]

log = logging.getLogger("storj.local.bridge")

_CORS_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"


class Services:
    """What every request shares: configuration, store, farmer control, worker pools.

    :param clock: returns the time in seconds (``time.time``); tests may pass another.
    """

    def __init__(
        self, config: BridgeConfig, store: Store, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.control = FarmerControl(config.control_secret, config.farmer_timeout)
        self.farmers = FarmerPool(self)
        self.mirrors = Mirrorer(self)
        #: Failed Basic authentications (and wrong admin secrets) per account and address.
        self.auth_limiter = AuthLimiter(
            config.max_auth_failures_per_account,
            config.max_auth_failures_per_address,
            config.auth_failure_window,
        )
        #: Farmer-signed messages already accepted (§2.7), until their window closes.
        self.farmer_messages = SeenOnce()
        self.retrieve_pool = ThreadPoolExecutor(16, thread_name_prefix="storj-bridge-retrieve")
        self.background = ThreadPoolExecutor(4, thread_name_prefix="storj-bridge-mirror")
        self.maintenance = Maintenance(self)
        self._copy_locks = [threading.Lock() for _ in range(64)]
        self.closing = False

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def copy_lock(self, node_id: str, data_hash: str) -> threading.Lock:
        """The lock held while a copy of ``data_hash`` on ``node_id`` is recorded
        (``PUT /frames/:id``) or released (maintenance), so that a release never
        undoes a copy recorded at the same moment. One of 64 striped locks."""
        return self._copy_locks[hash((node_id, data_hash)) % len(self._copy_locks)]

    def close(self) -> None:
        """Stop maintenance and the worker pools (queued work is dropped, running work
        finishes alone)."""
        self.closing = True
        self.maintenance.stop()
        self.background.shutdown(wait=False, cancel_futures=True)
        self.retrieve_pool.shutdown(wait=False, cancel_futures=True)


def build_router() -> Router:
    """All routes, in matching order."""
    router = Router()
    for module in (
        routes_info,
        routes_users,
        routes_keys,
        routes_buckets,
        routes_frames,
        routes_files,
        routes_contacts,
        routes_reports,
    ):
        module.register(router)
    return router


def _cors(response: Response, environ: dict[str, Any]) -> None:
    origin = environ.get("HTTP_ORIGIN")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers.add("Vary", "Origin")


def _preflight(environ: dict[str, Any]) -> Response:
    response = Response(b"", status=204)
    response.headers["Access-Control-Allow-Methods"] = _CORS_METHODS
    requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")
    if requested:
        response.headers["Access-Control-Allow-Headers"] = requested
        response.headers.add("Vary", "Access-Control-Request-Headers")
    response.headers["Content-Length"] = "0"
    return response


class BridgeApp:
    """The WSGI callable. Build it with :func:`create_app`."""

    def __init__(self, services: Services, router: Router | None = None) -> None:
        self.services = services
        self.router = router or build_router()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", "") or "/")
        try:
            response = self._handle(method, environ)
        except Exception:
            if self.services.closing:  # pools or store went away under this request
                response = json_response({"error": "The Bridge is shutting down"}, 503)
            else:
                log.exception("unexpected error in %s %s", method, redact(path[:200]))
                response = json_response({"error": "Internal error"}, 500)
        _cors(response, environ)
        elapsed = (time.perf_counter() - started) * 1000
        log.info(
            "%s %s %d %.1fms", method, redact(path[:200]), response.status_code, elapsed
        )
        return response(environ, start_response)

    def _handle(self, method: str, environ: dict[str, Any]) -> Response:
        if method == "OPTIONS":
            return _preflight(environ)
        ctx = RequestContext(self.services, environ)
        try:
            length = ctx.request.content_length
            if length is not None and length > self.services.config.max_body_bytes:
                raise PayloadTooLarge(
                    f"Request body is larger than {self.services.config.max_body_bytes} bytes"
                )
            try:
                found = self.router.match(method, ctx.raw_path)
            except UnicodeDecodeError:
                return json_response({"error": "Malformed URL: parameters must be UTF-8"}, 400)
            if found is None:
                return json_response({"error": "Not found"}, 404)
            route, params = found
            response = route.handler(ctx, **params)
        except BridgeHTTPError as exc:
            answer = json_response({"error": exc.message}, exc.status)
            if isinstance(exc, TooManyRequests):
                answer.headers["Retry-After"] = str(exc.retry_after)
            return answer
        except StoreClosedError:
            return json_response({"error": "The Bridge is shutting down"}, 503)
        assert isinstance(response, Response)
        return response


def create_app(
    config: BridgeConfig, store: Store | None = None, *, clock: Callable[[], float] = time.time
) -> BridgeApp:
    """A ready WSGI application for ``config``.

    Opens (and migrates) ``<data_dir>/bridge.sqlite3`` unless an open ``store`` is given.
    """
    config.validate()
    if store is None:
        from storj.local._files import private_dir, private_sqlite

        data_dir = private_dir(config.data_dir)
        private_sqlite(data_dir / "bridge.sqlite3")
        store = Store(data_dir / "bridge.sqlite3").open()
    return BridgeApp(Services(config, store, clock))

"""``GET /`` (API description), ``GET /health``, the dev outbox and the dev audit trigger."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from storj.local.bridge.audit import audit_all
from storj.local.bridge.context import RequestContext, json_response
from storj.local.bridge.errors import NotFound, ServiceUnavailable
from storj.local.bridge.router import Router
from storj.local.bridge.store import Row
from storj.local.bridge.util import iso_ms
from storj.metadata import __version__

__all__ = ["PROTOCOL_VERSION", "outbox_json", "register"]

#: The farmer protocol version this Bridge speaks (core 8 era: HTTP shard transfers).
PROTOCOL_VERSION = "1.2.0"

_DESCRIPTION = (
    "Local Storj v2 Bridge (storj Python package): the 2016 Bridge REST API with the "
    "2018 additions, backed by SQLite and local farmers."
)


def outbox_json(row: Row) -> dict[str, Any]:
    """An outbox e-mail: ``{to, kind, token, created}`` (+ ``redirect`` when given)."""
    out: dict[str, Any] = {
        "to": row["to_email"],
        "kind": row["kind"],
        "token": row["token"],
        "created": iso_ms(row["created"]),
    }
    if row.get("redirect"):
        out["redirect"] = row["redirect"]
    return out


def register(router: Router) -> None:
    @router.add("GET", "/", "This API description")
    def describe(ctx: RequestContext) -> Response:
        host = ctx.header("Host") or f"{ctx.services.config.host}:{ctx.services.config.port}"
        return json_response(
            {
                "swagger": "2.0",
                "info": {
                    "title": "Storj Bridge",
                    "version": __version__,
                    "description": _DESCRIPTION,
                    "x-protocol-version": PROTOCOL_VERSION,
                    "x-core-version": f"storj-python-{__version__}",
                },
                "host": host,
                "schemes": [ctx.environ.get("wsgi.url_scheme", "http")],
                "basePath": "/",
                "paths": router.describe(),
            }
        )

    @router.add("GET", "/health", "Health check")
    def health(ctx: RequestContext) -> Response:
        if not ctx.services.store.ping():
            raise ServiceUnavailable()
        return Response(b"OK", status=200, content_type="text/plain; charset=utf-8")

    @router.add("GET", "/_dev/outbox", "E-mails the Bridge would have sent (local extension)")
    def outbox(ctx: RequestContext) -> Response:
        if not ctx.services.config.dev_endpoints:
            raise NotFound("Not found")
        email = ctx.query.get("email") or None
        return json_response([outbox_json(r) for r in ctx.services.store.outbox(email)])

    @router.add("POST", "/_dev/audit", "Audit every stored shard now (local extension)")
    def audit(ctx: RequestContext) -> Response:
        """Run :func:`storj.local.bridge.audit.audit_all` and answer its report.

        Lets ``storj-local audit`` audit a network served by another process.
        """
        if not ctx.services.config.dev_endpoints:
            raise NotFound("Not found")
        return json_response(audit_all(ctx.services))

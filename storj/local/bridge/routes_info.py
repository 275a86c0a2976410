"""``GET /`` (API description), ``GET /health``, the dev outbox and the dev audit trigger.

The ``/_dev`` routes are local extensions. Who may use them:

* the operator, with ``x-storj-admin-secret: <BridgeConfig.admin_secret>``: every
  user's mail and the audit, whether ``dev_endpoints`` is on or off;
* with ``dev_endpoints`` on, a user authenticated with Basic (activated or not: the
  activation mail is what a new user looks for): its own mail only;
* nobody else: 404 ``Not found`` while ``dev_endpoints`` is off, else 401 (403 for a
  user asking for another user's mail).
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from storj.local.bridge.audit import audit_all
from storj.local.bridge.auth import ADMIN_SECRET_HEADER, admin_request, authenticate_basic
from storj.local.bridge.context import RequestContext, json_response
from storj.local.bridge.errors import Forbidden, NotAuthorized, NotFound, ServiceUnavailable
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
        """``[{to, kind, token, created}]``: all of them (``?email=`` filters) for the
        operator, the caller's own for a user (``?email=`` may only name the caller)."""
        email = ctx.query.get("email") or None
        if not _admin_or_dev(ctx):
            user = authenticate_basic(ctx, allow_inactive=True)
            if user is None:
                raise NotAuthorized(
                    "The dev outbox shows a user its own mail: authenticate with Basic "
                    f"(email and password hash), or send {ADMIN_SECRET_HEADER} as the operator"
                )
            if email is not None and email != user["email"]:
                raise Forbidden("The dev outbox shows a user its own mail only")
            email = str(user["email"])
        return json_response([outbox_json(r) for r in ctx.services.store.outbox(email)])

    @router.add("POST", "/_dev/audit", "Audit every stored shard now (local extension)")
    def audit(ctx: RequestContext) -> Response:
        """Run :func:`storj.local.bridge.audit.audit_all` and answer its report (operator
        only). Lets ``storj-local audit`` audit a network served by another process."""
        if not _admin_or_dev(ctx):
            raise NotAuthorized(
                f"Auditing is for the operator: send {ADMIN_SECRET_HEADER} with the Bridge's "
                "admin secret (network.json of a local network)"
            )
        return json_response(audit_all(ctx.services))


def _admin_or_dev(ctx: RequestContext) -> bool:
    """True for the operator (right admin secret). False when the caller may still be
    a user of an enabled dev endpoint.

    :raises NotFound: no admin secret and ``dev_endpoints`` off (the route is hidden).
    :raises NotAuthorized: a wrong admin secret.
    """
    if admin_request(ctx):
        return True
    if not ctx.services.config.dev_endpoints:
        raise NotFound("Not found")
    return False

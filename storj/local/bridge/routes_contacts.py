"""Contacts (farmers known to the Bridge) and farmer self-registration (§4.9, §2.7)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from storj.local.bridge.auth import authenticate_farmer
from storj.local.bridge.context import RequestContext, json_response
from storj.local.bridge.errors import BadRequest, NotAuthorized, NotFound
from storj.local.bridge.router import Router
from storj.local.bridge.serialize import contact_json
from storj.local.bridge.store import Row
from storj.local.bridge.util import is_int
from storj.local.bridge.validate import query_int

__all__ = ["CONTACTS_PAGE_SIZE", "register"]

#: Contacts per page of ``GET /contacts``.
CONTACTS_PAGE_SIZE = 30
_DEFAULT_PROTOCOL = "1.2.0"


def _contact_fields(body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Validated ``{address, port, protocol, userAgent, spaceAvailable}`` as columns."""
    out: dict[str, Any] = {}
    address = body.get("address")
    if address is not None or not partial:
        if not isinstance(address, str) or not address or len(address) > 255 or " " in address:
            raise BadRequest("Invalid address: expected a host name or IP address")
        out["address"] = address
    port = body.get("port")
    if port is not None or not partial:
        if not is_int(port) or not 0 < port < 65536:
            raise BadRequest("Invalid port: expected an integer between 1 and 65535")
        out["port"] = port
    protocol = body.get("protocol")
    if protocol is not None or not partial:
        protocol = _DEFAULT_PROTOCOL if protocol is None else protocol
        if not isinstance(protocol, str) or len(protocol) > 64:
            raise BadRequest("Invalid protocol: expected a version string")
        out["protocol"] = protocol
    agent = body.get("userAgent")
    if agent is not None or not partial:
        agent = "" if agent is None else agent
        if not isinstance(agent, str) or len(agent) > 255:
            raise BadRequest("Invalid userAgent: expected a string")
        out["user_agent"] = agent
    space = body.get("spaceAvailable")
    if space is not None:
        if isinstance(space, bool):
            space = int(space)
        if not is_int(space) or space < 0:
            raise BadRequest("Invalid spaceAvailable: expected a boolean or a byte count")
        out["space_available"] = space
    return out


def register(router: Router) -> None:
    @router.add("GET", "/contacts", "List known farmers (30 per page, newest first)")
    def list_contacts(ctx: RequestContext) -> Response:
        page = query_int(ctx, "page", 1, minimum=1)
        filters: dict[str, Any] = {}
        for name, column in (
            ("address", "address"),
            ("protocol", "protocol"),
            ("userAgent", "user_agent"),
        ):
            if ctx.query.get(name):
                filters[column] = ctx.query[name]
        if ctx.query.get("port"):
            filters["port"] = query_int(ctx, "port", 0)
        rows = ctx.services.store.list_contacts(
            filters, (page - 1) * CONTACTS_PAGE_SIZE, CONTACTS_PAGE_SIZE
        )
        return json_response([contact_json(c) for c in rows])

    @router.add("GET", "/contacts/:nodeID", "Get one farmer contact")
    def get_contact(ctx: RequestContext, nodeID: str) -> Response:  # noqa: N803
        contact = ctx.services.store.get_contact(nodeID)
        if contact is None:
            raise NotFound("Contact not found")
        return json_response(contact_json(contact))

    @router.add("POST", "/contacts", "Farmer self-registration (signed farmer headers)")
    def register_contact(ctx: RequestContext) -> Response:
        node_id, pubkey = authenticate_farmer(ctx)
        fields = _contact_fields(ctx.json(), partial=False)
        now = ctx.now_ms()
        row: Row = {
            "node_id": node_id,
            **fields,
            "pubkey": pubkey,
            "last_seen": now,
            "created": now,
        }
        contact = ctx.services.store.upsert_contact(row)
        return json_response(
            {"nodeID": contact["node_id"], "address": contact["address"], "port": contact["port"]}
        )

    @router.add("PATCH", "/contacts/:nodeID", "Farmer updates its contact (signed farmer headers)")
    def update_contact(ctx: RequestContext, nodeID: str) -> Response:  # noqa: N803
        node_id, _ = authenticate_farmer(ctx)
        if nodeID != node_id:
            raise NotAuthorized("A farmer may only update its own contact")
        store = ctx.services.store
        if store.get_contact(node_id) is None:
            raise NotFound("Contact not found")
        fields = _contact_fields(ctx.json(), partial=True)
        contact = store.update_contact(node_id, **fields, last_seen=ctx.now_ms(), last_timeout=None)
        assert contact is not None
        return json_response(
            {
                "nodeID": contact["node_id"],
                "address": contact["address"],
                "port": contact["port"],
                "spaceAvailable": bool(contact["space_available"]),
            },
            201,
        )

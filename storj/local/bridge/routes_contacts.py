"""Contacts (farmers known to the Bridge) and farmer self-registration (§4.9, §2.7).

A farmer may register a legacy WebSocket data channel (§6.6) with ``channel:
"ws://<address>:<port>"`` in ``POST /contacts`` or ``PATCH /contacts/:nodeID``. It is
accepted only on the contact's own ``address`` (so a farmer cannot send clients to
another host); anything else is refused with 400. A ``POST`` without ``channel`` (a
re-registration) and a ``PATCH`` moving the address elsewhere drop the stored channel;
``"channel": null`` in a ``PATCH`` drops it too. The Bridge hands channels out only when
``BridgeConfig.legacy_channels`` is set.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Response

from storj.local.bridge.auth import authenticate_farmer
from storj.local.bridge.context import RequestContext, json_response
from storj.local.bridge.errors import BadRequest, NotAuthorized, NotFound
from storj.local.bridge.router import Router
from storj.local.bridge.serialize import contact_json
from storj.local.bridge.store import Row
from storj.local.bridge.util import INT_MAX, is_int
from storj.local.bridge.validate import check_int, query_int

__all__ = ["CONTACTS_PAGE_SIZE", "channel_host", "register"]

#: Contacts per page of ``GET /contacts``.
CONTACTS_PAGE_SIZE = 30
_DEFAULT_PROTOCOL = "1.2.0"
_CHANNEL_URL = re.compile(r"ws://(\[[^\]/]+\]|[^\[\]/:@?#\s]+):([0-9]{1,5})")
_MAX_CHANNEL_URL = 300


def channel_host(url: Any) -> tuple[str, int] | None:
    """``(host, port)`` of a ``ws://host:port`` data channel URL (IPv6 unbracketed), or
    ``None`` when ``url`` is anything else (a path, a query, credentials, ``wss``…)."""
    if not isinstance(url, str) or len(url) > _MAX_CHANNEL_URL:
        return None
    match = _CHANNEL_URL.fullmatch(url)
    if match is None:
        return None
    host, port = match.group(1), int(match.group(2))
    if not 0 < port < 65536:
        return None
    return host.strip("[]"), port


def _channel_field(value: Any, address: str) -> str:
    """A registered ``channel``, checked against the contact's ``address``."""
    parsed = channel_host(value)
    if parsed is None or parsed[0].lower() != address.lower():
        raise BadRequest("Invalid channel: expected ws://<address>:<port> on the contact's address")
    return str(value)


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
        out["space_available"] = check_int(
            space,
            "spaceAvailable",
            0,
            message="Invalid spaceAvailable: expected a boolean or a byte count",
        )
    return out


def register(router: Router) -> None:
    @router.add("GET", "/contacts", "List known farmers (30 per page, newest first)")
    def list_contacts(ctx: RequestContext) -> Response:
        # the row offset (page - 1) * CONTACTS_PAGE_SIZE must fit the store too
        page = query_int(ctx, "page", 1, minimum=1, maximum=INT_MAX // CONTACTS_PAGE_SIZE + 1)
        filters: dict[str, Any] = {}
        for name, column in (
            ("address", "address"),
            ("protocol", "protocol"),
            ("userAgent", "user_agent"),
        ):
            if ctx.query.get(name):
                filters[column] = ctx.query[name]
        if ctx.query.get("port"):
            filters["port"] = query_int(ctx, "port", 0, maximum=65535)
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
        body = ctx.json()
        fields = _contact_fields(body, partial=False)
        channel = body.get("channel")
        fields["channel"] = None if channel is None else _channel_field(channel, fields["address"])
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
        existing = store.get_contact(node_id)
        if existing is None:
            raise NotFound("Contact not found")
        body = ctx.json()
        fields = _contact_fields(body, partial=True)
        address = str(fields.get("address") or existing["address"])
        if "channel" in body:
            channel = body["channel"]
            fields["channel"] = None if channel is None else _channel_field(channel, address)
        elif existing.get("channel") is not None:
            parsed = channel_host(existing["channel"])
            if parsed is None or parsed[0].lower() != address.lower():
                fields["channel"] = None  # the farmer moved: its old channel is elsewhere
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

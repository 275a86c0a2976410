"""Public keys of a user, for ECDSA authentication (§4.3)."""

from __future__ import annotations

from werkzeug.wrappers import Response

from storj.local.bridge.auth import authenticate
from storj.local.bridge.context import RequestContext, json_response, no_content
from storj.local.bridge.errors import BadRequest, NotFound
from storj.local.bridge.router import Router
from storj.local.bridge.serialize import key_json
from storj.local.bridge.store import DuplicateError
from storj.local.bridge.validate import check_public_key, optional_string

__all__ = ["register"]

_MAX_LABEL = 1024


def register(router: Router) -> None:
    @router.add("GET", "/keys", "List the user's public keys")
    def list_keys(ctx: RequestContext) -> Response:
        user = authenticate(ctx)
        return json_response([key_json(k) for k in ctx.services.store.list_keys(user["email"])])

    @router.add("POST", "/keys", "Register a public key")
    def add_key(ctx: RequestContext) -> Response:
        user = authenticate(ctx)
        body = ctx.json()
        key = check_public_key(body.get("key"))
        label = optional_string(body, "label", "") or ""
        if len(label) > _MAX_LABEL:
            raise BadRequest(f"Invalid label: at most {_MAX_LABEL} characters")
        row = {"pubkey": key, "user_email": user["email"], "label": label, "created": ctx.now_ms()}
        try:
            ctx.services.store.add_key(row)
        except DuplicateError:
            raise BadRequest("Public key is already registered") from None
        return json_response(key_json(row))

    @router.add("DELETE", "/keys/:pubkey", "Remove a public key")
    def delete_key(ctx: RequestContext, pubkey: str) -> Response:
        user = authenticate(ctx)
        if not ctx.services.store.delete_key(pubkey, user["email"]):
            raise NotFound("Public key was not found")
        return no_content()

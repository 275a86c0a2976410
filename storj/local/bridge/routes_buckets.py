"""Buckets and bucket operation tokens (§4.4, §4.5)."""

from __future__ import annotations

import os
from typing import Any

from werkzeug.wrappers import Response

from storj.api import calculate_bucket_id
from storj.local.bridge.auth import authenticate, authorize_bucket
from storj.local.bridge.context import RequestContext, json_response, no_content
from storj.local.bridge.errors import BadRequest, Conflict, NotFound
from storj.local.bridge.router import Router
from storj.local.bridge.serialize import bucket_json, token_json
from storj.local.bridge.store import DuplicateError, Row
from storj.local.bridge.util import bucket_token
from storj.local.bridge.validate import (
    check_name,
    check_object_id,
    check_public_key,
    owned_bucket,
    start_date,
)

__all__ = ["MAX_BUCKET_LIST", "register"]

#: Most buckets ``GET /buckets`` returns at once (2018; page on with ``startDate``); the
#: default of ``BridgeConfig.max_bucket_list``.
MAX_BUCKET_LIST = 5000
_MAX_NAME = 260
_PERMISSIONS = ("PUSH", "PULL")
_OPERATIONS = ("PUSH", "PULL")


def _pubkeys(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise BadRequest("Invalid public key supplied: pubkeys must be a list of hex keys")
    out: list[str] = []
    for key in value:
        check_public_key(key)
        if key not in out:
            out.append(key)
    return out


def _permissions(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(p in _PERMISSIONS for p in value):
        raise BadRequest('Invalid publicPermissions: expected a list of "PUSH" and "PULL"')
    return [p for p in _PERMISSIONS if p in value]


def register(router: Router) -> None:
    @router.add("GET", "/buckets", "List the user's buckets")
    def list_buckets(ctx: RequestContext) -> Response:
        user = authenticate(ctx)
        limit = ctx.services.config.max_bucket_list
        rows = ctx.services.store.list_buckets(user["email"], start_date(ctx), limit)
        return json_response([bucket_json(b) for b in rows])

    @router.add("POST", "/buckets", "Create a bucket")
    def create_bucket(ctx: RequestContext) -> Response:
        user = authenticate(ctx)
        body = ctx.json()
        name = body.get("name")
        if name is None or name == "":
            name = "Bucket-" + os.urandom(3).hex()
        if not isinstance(name, str):
            raise BadRequest("Invalid name: expected a string")
        if len(name) > _MAX_NAME:
            raise BadRequest("Maximum bucket name")
        check_name(name, "name")
        pubkeys = _pubkeys(body["pubkeys"]) if body.get("pubkeys") is not None else []
        if ctx.pubkey and ctx.pubkey not in pubkeys:
            pubkeys.append(ctx.pubkey)
        row: Row = {
            "id": calculate_bucket_id(user["email"], name),
            "user_email": user["email"],
            "name": name,
            "status": "Active",
            "pubkeys": pubkeys,
            "public_permissions": [],
            "encryption_key": "",
            "created": ctx.now_ms(),
        }
        try:
            ctx.services.store.create_bucket(row)
        except DuplicateError:
            raise Conflict("Name already used by another bucket") from None
        return json_response(bucket_json(row), 201)

    @router.add("GET", "/buckets/:id", "Get a bucket")
    def get_bucket(ctx: RequestContext, id: str) -> Response:
        return json_response(bucket_json(owned_bucket(ctx, id)))

    @router.add("PATCH", "/buckets/:id", "Update pubkeys, encryptionKey, publicPermissions")
    def update_bucket(ctx: RequestContext, id: str) -> Response:
        bucket = owned_bucket(ctx, id)
        body = ctx.json()
        fields: dict[str, Any] = {}
        if body.get("pubkeys") is not None:
            fields["pubkeys"] = _pubkeys(body["pubkeys"])
        if body.get("encryptionKey") is not None:
            if not isinstance(body["encryptionKey"], str):
                raise BadRequest("Invalid encryptionKey: expected a string")
            fields["encryption_key"] = body["encryptionKey"]
        if body.get("publicPermissions") is not None:
            fields["public_permissions"] = _permissions(body["publicPermissions"])
        updated = ctx.services.store.update_bucket(bucket["id"], **fields)
        if updated is None:
            raise NotFound("Bucket not found")
        return json_response(bucket_json(updated))

    @router.add("DELETE", "/buckets/:id", "Delete a bucket and its file entries")
    def delete_bucket(ctx: RequestContext, id: str) -> Response:
        bucket = owned_bucket(ctx, id)
        ctx.services.store.delete_bucket(bucket["id"])
        return no_content()

    @router.add("GET", "/bucket-ids/:name", "Find the id of the user's bucket by name")
    def bucket_id_by_name(ctx: RequestContext, name: str) -> Response:
        user = authenticate(ctx)
        bucket = ctx.services.store.bucket_by_name(user["email"], name)
        if bucket is None:
            raise NotFound("Bucket not found")
        return json_response({"id": bucket["id"]})

    @router.add("POST", "/buckets/:id/tokens", "Create a PUSH or PULL token for a bucket")
    def create_token(ctx: RequestContext, id: str) -> Response:
        check_object_id(id, "Bucket")
        body = ctx.json()
        operation = body.get("operation", "PULL")
        if operation not in _OPERATIONS:
            raise BadRequest('Invalid operation: expected "PUSH" or "PULL"')
        file_id = body.get("file")
        if file_id is not None:
            if not isinstance(file_id, str):
                raise BadRequest("File id is malformed")
            check_object_id(file_id, "File")
        bucket = authorize_bucket(ctx, id, operation)
        store = ctx.services.store
        extra: dict[str, Any] = {}
        if file_id is not None and operation == "PULL":
            entry = store.get_entry(bucket["id"], file_id)
            if entry is None:
                raise NotFound("Bucket entry not found")
            extra = {"mimetype": entry["mimetype"], "size": store.frame_totals(entry["frame"])[0]}
        now = ctx.now_ms()
        row: Row = {
            "token": bucket_token(now),
            "bucket": bucket["id"],
            "operation": operation,
            "expires": now + int(ctx.services.config.token_ttl * 1000),
            "created": now,
        }
        store.add_token(row, now)
        return json_response({**token_json(row, bucket["encryption_key"]), **extra}, 201)

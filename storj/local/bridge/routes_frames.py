"""Frames (staging areas of an upload) and shard negotiation (§4.7).

``PUT /frames/:id`` validates the shard, contracts a random live farmer outside
``exclude`` through the control RPC (``CONSIGN``; up to ``consign_attempts`` farmers,
each failure stamping the farmer's ``lastTimeout``), stores the pointer (a re-sent
``index`` replaces the old one), the contract with the audit leaves, challenges and
Merkle root, and answers ``{hash, token, operation: "PUSH", farmer}`` (plus the farmer's
``channel`` when ``BridgeConfig.legacy_channels`` is set and it registered one).
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from storj import merkle
from storj.api import is_node_id, is_shard_hash
from storj.local.bridge.accounting import over_limit, record_transfer
from storj.local.bridge.auth import authenticate
from storj.local.bridge.context import RequestContext, json_response, no_content
from storj.local.bridge.errors import BadRequest, TransferRateLimited
from storj.local.bridge.farmers import NoFarmerError
from storj.local.bridge.mirrors import new_contract
from storj.local.bridge.router import Router
from storj.local.bridge.serialize import frame_json, location_json
from storj.local.bridge.store import Row
from storj.local.bridge.util import is_hex, is_json_int, new_object_id, next_power_of_two
from storj.local.bridge.validate import check_int, owned_frame

__all__ = ["MAX_BLACKLIST", "MAX_SHARD_SIZE", "register", "validate_shard"]

#: Largest shard ``PUT /frames/:id`` accepts (2018): 4 GiB.
MAX_SHARD_SIZE = 4 * 1024**3
#: Longest ``exclude`` list (2018 ``MAX_BLACKLIST``).
MAX_BLACKLIST = 300
_MAX_CHALLENGES = 1024


def frame_view(ctx: RequestContext, frame: Row) -> dict[str, Any]:
    store = ctx.services.store
    size, storage_size = store.frame_totals(frame["id"])
    return frame_json(frame, size, storage_size, store.frame_pointer_ids(frame["id"]))


def validate_shard(body: dict[str, Any]) -> dict[str, Any]:
    """Check a ``PUT /frames/:id`` body; return the normalised shard description.

    :raises BadRequest: with the 2016 pointer messages, or the 2018 ones for the hash,
        the size limit and the blacklist.
    """
    index = check_int(body.get("index"), "index", 0, message="Invalid index supplied")
    size = body.get("size")
    if not is_json_int(size) or size <= 0:
        raise BadRequest("Invalid size supplied")
    if size > MAX_SHARD_SIZE:
        raise BadRequest(f"Maximum shard size {MAX_SHARD_SIZE} exceeded")
    challenges = body.get("challenges")
    if not isinstance(challenges, list):
        raise BadRequest("Invalid challenges supplied")
    if not challenges:
        raise BadRequest("Not enough challenges supplied")
    if len(challenges) > _MAX_CHALLENGES or not all(is_hex(c, 64) for c in challenges):
        raise BadRequest("Invalid challenges supplied")
    tree = body.get("tree")
    if not isinstance(tree, list) or not tree or not all(is_hex(leaf, 40) for leaf in tree):
        raise BadRequest("Invalid tree supplied")
    if len(tree) != next_power_of_two(len(challenges)):
        raise BadRequest("Challenges and tree do not match")
    data_hash = body.get("hash")
    if not is_shard_hash(data_hash):
        raise BadRequest("Invalid contract specification was supplied")
    exclude = body.get("exclude")
    if exclude is None:
        exclude = []
    if not isinstance(exclude, list) or not all(isinstance(x, str) for x in exclude):
        raise BadRequest("Invalid exclude: expected a list of node ids")
    if len(exclude) > MAX_BLACKLIST:
        raise BadRequest("Maximum blacklist length")
    parity = body.get("parity", False)
    if parity is None:
        parity = False
    if not isinstance(parity, bool):
        raise BadRequest("Invalid parity: expected true or false")
    return {
        "index": index,
        "size": size,
        "hash": data_hash,
        "challenges": [c.lower() for c in challenges],
        "tree": [leaf.lower() for leaf in tree],
        "exclude": {x for x in exclude if is_node_id(x)},
        "parity": parity,
    }


def register(router: Router) -> None:
    @router.add("POST", "/frames", "Create a frame (staging area for an upload)")
    def create_frame(ctx: RequestContext) -> Response:
        user = authenticate(ctx)
        now = ctx.now_ms()
        if ctx.services.config.enforce_transfer_limits and over_limit(user, "bytes_uploaded", now):
            raise TransferRateLimited("Could not create frame, transfer rate limit reached.")
        row: Row = {
            "id": new_object_id(now),
            "user_email": user["email"],
            "created": now,
            "updated": now,
            "locked": False,
        }
        ctx.services.store.create_frame(row)
        return json_response(frame_json(row, 0, 0, []))

    @router.add("GET", "/frames", "List the user's frames")
    def list_frames(ctx: RequestContext) -> Response:
        user = authenticate(ctx)
        frames = ctx.services.store.list_frames(user["email"])
        return json_response([frame_view(ctx, f) for f in frames])

    @router.add("GET", "/frames/:frame", "Get a frame")
    def get_frame(ctx: RequestContext, frame: str) -> Response:
        return json_response(frame_view(ctx, owned_frame(ctx, frame)))

    @router.add("DELETE", "/frames/:frame", "Delete a frame no file refers to")
    def delete_frame(ctx: RequestContext, frame: str) -> Response:
        row = owned_frame(ctx, frame)
        if ctx.services.store.frame_referenced(row["id"]):
            raise BadRequest("Refusing to destroy frame that is referenced by a bucket entry")
        ctx.services.store.delete_frame(row["id"])
        return no_content()

    @router.add("PUT", "/frames/:frame", "Add a shard to a frame and get a farmer contract")
    def add_shard(ctx: RequestContext, frame: str) -> Response:
        row = owned_frame(ctx, frame)
        user = ctx.user
        assert user is not None
        now = ctx.now_ms()
        if ctx.services.config.enforce_transfer_limits and over_limit(user, "bytes_uploaded", now):
            raise TransferRateLimited("Could not add shard to frame, transfer rate limit reached.")
        shard = validate_shard(ctx.json())
        holders = {
            p["node_id"]
            for p in ctx.services.store.pointers(row["id"])
            if p["idx"] != shard["index"] and p["node_id"]
        }
        try:
            contact, token = ctx.services.farmers.consign(
                shard["hash"],
                shard["size"],
                shard["tree"],
                shard["exclude"],
                owner=user["email"],
                avoid=holders,
            )
        except NoFarmerError as exc:
            raise BadRequest(str(exc)) from None
        now = ctx.now_ms()
        pointer: Row = {
            "id": new_object_id(now),
            "frame": row["id"],
            "idx": shard["index"],
            "hash": shard["hash"],
            "size": shard["size"],
            "tree": shard["tree"],
            "challenges": shard["challenges"],
            "parity": shard["parity"],
            "node_id": contact["node_id"],
            "created": now,
        }
        contract = new_contract(
            data_hash=shard["hash"],
            node_id=contact["node_id"],
            data_size=shard["size"],
            leaves=shard["tree"],
            challenges=shard["challenges"],
            root=merkle.merkle_root(shard["tree"]),
            now=now,
            origin="upload",
            owner=user["email"],
        )
        with ctx.services.copy_lock(contact["node_id"], shard["hash"]):
            ctx.services.store.add_shard(pointer, contract)
        record_transfer(ctx.services.store, user["email"], "bytes_uploaded", shard["size"], now)
        return json_response(
            {
                "hash": shard["hash"],
                "token": token,
                "operation": "PUSH",
                **location_json(contact, ctx.services.config.legacy_channels, keep_farmer=True),
            }
        )

"""JSON shapes of Bridge records (``bridge-protocol.md`` §3), built from store rows."""

from __future__ import annotations

from typing import Any

from storj.local.bridge.store import Row
from storj.local.bridge.util import iso_ms

__all__ = [
    "bucket_json",
    "contact_json",
    "contract_json",
    "entry_json",
    "farmer_json",
    "frame_json",
    "key_json",
    "location_json",
    "token_json",
    "user_json",
]


def user_json(user: Row) -> dict[str, Any]:
    return {
        "email": user["email"],
        "id": user["email"],
        "created": iso_ms(user["created"]),
        "activated": bool(user["activated"]),
        "isFreeTier": bool(user["is_free_tier"]),
    }


def key_json(key: Row) -> dict[str, Any]:
    return {
        "key": key["pubkey"],
        "id": key["pubkey"],
        "user": key["user_email"],
        "label": key["label"],
    }


def bucket_json(bucket: Row) -> dict[str, Any]:
    return {
        "id": bucket["id"],
        "user": bucket["user_email"],
        "name": bucket["name"],
        "status": bucket["status"],
        "storage": 0,
        "transfer": 0,
        "pubkeys": list(bucket["pubkeys"]),
        "publicPermissions": list(bucket["public_permissions"]),
        "encryptionKey": bucket["encryption_key"],
        "created": iso_ms(bucket["created"]),
    }


def token_json(token: Row, encryption_key: str) -> dict[str, Any]:
    return {
        "token": token["token"],
        "id": token["token"],
        "bucket": token["bucket"],
        "operation": token["operation"],
        "expires": iso_ms(token["expires"]),
        "encryptionKey": encryption_key,
    }


def frame_json(frame: Row, size: int, storage_size: int, shard_ids: list[str]) -> dict[str, Any]:
    return {
        "id": frame["id"],
        "user": frame["user_email"],
        "created": iso_ms(frame["created"]),
        "locked": bool(frame["locked"]),
        "size": size,
        "storageSize": storage_size,
        "shards": shard_ids,
    }


def entry_json(entry: Row, size: int, *, full: bool = False) -> dict[str, Any]:
    """A bucket entry: the listing/info shape, or with ``full`` the ``POST`` answer
    (adds ``renewal``). 2018 fields ``index``, ``hmac``, ``erasure`` appear when set."""
    out: dict[str, Any] = {
        "id": entry["id"],
        "bucket": entry["bucket"],
        "frame": entry["frame"],
        "mimetype": entry["mimetype"],
        "filename": entry["filename"],
        "size": size,
        "created": iso_ms(entry["created"]),
    }
    if full:
        out["renewal"] = iso_ms(entry["renewal"])
    if entry.get("idx") is not None:
        out["index"] = entry["idx"]
    if entry.get("hmac") is not None:
        out["hmac"] = entry["hmac"]
    if entry.get("erasure") is not None:
        out["erasure"] = entry["erasure"]
    return out


def contact_json(contact: Row) -> dict[str, Any]:
    """A contact as ``/contacts`` lists it (``lastSeen`` as an RFC 3339 string)."""
    out: dict[str, Any] = {
        "nodeID": contact["node_id"],
        "address": contact["address"],
        "port": contact["port"],
        "lastSeen": iso_ms(contact["last_seen"]),
        "protocol": contact["protocol"],
        "userAgent": contact["user_agent"],
    }
    if contact.get("last_timeout") is not None:
        out["lastTimeout"] = iso_ms(contact["last_timeout"])
    if contact.get("response_time") is not None:
        out["responseTime"] = contact["response_time"]
    if contact.get("space_available") is not None:
        out["spaceAvailable"] = bool(contact["space_available"])
    return out


def farmer_json(contact: Row) -> dict[str, Any]:
    """A contact inside a pointer (core ``Contact``: ``lastSeen`` in epoch ms)."""
    return {
        "userAgent": contact["user_agent"],
        "protocol": contact["protocol"],
        "address": contact["address"],
        "port": contact["port"],
        "nodeID": contact["node_id"],
        "lastSeen": contact["last_seen"],
    }


def location_json(
    contact: Row, legacy_channels: bool | str, *, keep_farmer: bool = False
) -> dict[str, Any]:
    """Where a pointer sends the client: ``{"farmer": contact}`` and/or ``{"channel": url}``.

    ``legacy_channels`` is ``BridgeConfig.legacy_channels``: ``False`` → ``farmer`` only;
    ``True`` → ``farmer`` plus the contact's ``channel`` when it registered one;
    ``"only"`` → just ``channel`` for a contact that has one (the pre-December-2016
    pointer, §6.6), unless ``keep_farmer``.
    """
    channel = contact.get("channel") if legacy_channels else None
    out: dict[str, Any] = {}
    if not channel or legacy_channels != "only" or keep_farmer:
        out["farmer"] = farmer_json(contact)
    if channel:
        out["channel"] = channel
    return out


def contract_json(contract: Row) -> dict[str, Any]:
    """The storage contract fields the Bridge keeps for a shard × farmer."""
    return {
        "version": 1,
        "data_hash": contract["hash"],
        "data_size": contract["data_size"],
        "store_begin": contract["store_begin"],
        "store_end": contract["store_end"],
        "audit_count": contract["audit_count"],
        "farmer_id": contract["node_id"],
    }

"""Files (bucket entries), download pointers and mirrors (§4.6, §4.8)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from storj.api import calculate_file_id
from storj.local.bridge.accounting import over_limit, record_transfer
from storj.local.bridge.auth import authorize_bucket, consume_bucket_token
from storj.local.bridge.context import RequestContext, json_response, no_content
from storj.local.bridge.errors import (
    BadRequest,
    Conflict,
    NotFound,
    TransferRateLimited,
)
from storj.local.bridge.mirrors import MAX_MIRRORS
from storj.local.bridge.router import Router
from storj.local.bridge.serialize import entry_json, location_json
from storj.local.bridge.store import DuplicateError, Row
from storj.local.bridge.util import days_ms, is_hex, is_json_int, valid_mimetype
from storj.local.bridge.validate import (
    check_name,
    check_object_id,
    owned_bucket,
    query_int,
    start_date,
)

__all__ = ["DEFAULT_POINTER_LIMIT", "MAX_FILE_LIST", "register"]

#: Most entries ``GET /buckets/:id/files`` returns at once (2018; page on with startDate);
#: the default of ``BridgeConfig.max_file_list``.
MAX_FILE_LIST = 2000
#: Pointers per request when ``limit`` is not given.
DEFAULT_POINTER_LIMIT = 6
_MAX_FILENAME = 32767
_HMAC_TYPES = ("sha512", "sha256", "ripemd160")
_ENTRY_TTL_MS = days_ms(90)


def _entry_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The optional 2018 entry fields ``index``, ``hmac``, ``erasure``, validated."""
    out: dict[str, Any] = {"idx": None, "hmac": None, "erasure": None}
    index = body.get("index")
    if index is not None:
        if not is_hex(index, 64):
            raise BadRequest("Invalid index, expected to be 256 hex string")
        out["idx"] = index
    hmac = body.get("hmac")
    if hmac is not None:
        if not isinstance(hmac, dict) or hmac.get("type") not in _HMAC_TYPES:
            raise BadRequest("Invalid hmac type")
        value = hmac.get("value")
        if not isinstance(value, str) or not value or len(value) > 128 or not is_hex(value):
            raise BadRequest("Invalid hmac value")
        out["hmac"] = {"type": hmac["type"], "value": value}
    erasure = body.get("erasure")
    if erasure is not None:
        if not isinstance(erasure, dict) or erasure.get("type") != "reedsolomon":
            raise BadRequest("Invalid erasure type")
        out["erasure"] = {"type": "reedsolomon"}
    return out


def _overwrite(body: dict[str, Any]) -> bool:
    """The local extension ``"overwrite": true``: replace an entry of the same name in one
    transaction. Absent (or ``false``): a duplicate name is refused as by the 2018 Bridge."""
    value = body.get("overwrite")
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest("Invalid overwrite: expected true or false")
    return value


def _entry(ctx: RequestContext, bucket_id: str, file_id: str) -> Row:
    entry = ctx.services.store.get_entry(bucket_id, file_id)
    if entry is None:
        raise NotFound("File not found")
    return entry


def _exclude(ctx: RequestContext) -> frozenset[str]:
    raw = ctx.query.get("exclude", "")
    return frozenset(x.strip() for x in raw.split(",") if x.strip())


def register(router: Router) -> None:
    @router.add("POST", "/buckets/:id/files", "Create a file entry from a completed frame")
    def create_entry(ctx: RequestContext, id: str) -> Response:
        bucket = owned_bucket(ctx, id)
        user = ctx.user
        assert user is not None
        body = ctx.json()
        store = ctx.services.store
        frame_id = body.get("frame")
        if not isinstance(frame_id, str):
            raise BadRequest("Invalid frame: expected a frame id")
        check_object_id(frame_id, "Frame")
        frame = store.get_frame(frame_id)
        if frame is None or frame["user_email"] != user["email"]:
            raise NotFound("Frame not found")
        if frame["locked"]:
            raise BadRequest("Frame is already locked")
        missing = store.frame_missing_copies(frame["id"], user["email"])
        if missing:
            raise BadRequest(
                f"Frame has shards with no stored copy (index {', '.join(map(str, missing[:10]))}"
                f"{', …' if len(missing) > 10 else ''}): upload them again with PUT /frames/:id"
            )
        mimetype = body.get("mimetype") or "application/octet-stream"
        if not valid_mimetype(mimetype):
            raise BadRequest("Invalid mimetype supplied")
        filename = body.get("filename")
        if filename is None or filename == "":
            filename = frame["id"]
        if not isinstance(filename, str):
            raise BadRequest("Invalid filename: expected a string")
        if len(filename) > _MAX_FILENAME:
            raise BadRequest("Maximum bucket entry name")
        check_name(filename, "filename")
        extra = _entry_fields(body)
        now = ctx.now_ms()
        row: Row = {
            "id": calculate_file_id(bucket["id"], filename),
            "bucket": bucket["id"],
            "frame": frame["id"],
            "mimetype": mimetype,
            "filename": filename,
            "created": now,
            "renewal": now + _ENTRY_TTL_MS,
            **extra,
        }
        replace = _overwrite(body) or ctx.services.config.duplicate_file_policy == "replace"
        try:
            store.insert_entry(row, replace=replace)
        except DuplicateError:
            raise Conflict("A file with this name already exists in the bucket") from None
        size = store.frame_totals(frame["id"])[0]
        return json_response(entry_json(row, size, full=True))

    @router.add("GET", "/buckets/:id/files", "List the files of a bucket")
    def list_entries(ctx: RequestContext, id: str) -> Response:
        bucket = owned_bucket(ctx, id)
        store = ctx.services.store
        rows = store.list_entries(bucket["id"], start_date(ctx), ctx.services.config.max_file_list)
        return json_response([entry_json(e, store.frame_totals(e["frame"])[0]) for e in rows])

    @router.add("GET", "/buckets/:id/files/:file", "Get download pointers of a file")
    def pointers(ctx: RequestContext, id: str, file: str) -> Response:
        check_object_id(id, "Bucket")
        check_object_id(file, "File")
        store = ctx.services.store
        if ctx.header("x-token") is not None:
            consume_bucket_token(ctx, id)
            bucket = store.get_bucket(id)
            if bucket is None:
                raise NotFound("Bucket not found")
        else:
            bucket = owned_bucket(ctx, id)
        owner = store.get_user(bucket["user_email"])
        if owner is None:
            raise NotFound("User not found for bucket")
        now = ctx.now_ms()
        if ctx.services.config.enforce_transfer_limits and over_limit(
            owner, "bytes_downloaded", now
        ):
            raise TransferRateLimited("Could not get file, transfer rate limit reached.")
        entry = _entry(ctx, bucket["id"], file)
        skip = query_int(ctx, "skip", 0)
        limit = query_int(ctx, "limit", DEFAULT_POINTER_LIMIT)
        exclude = _exclude(ctx)
        legacy = ctx.services.config.legacy_channels
        rows = store.pointers(entry["frame"], skip, limit)
        if rows:
            record_transfer(
                store, owner["email"], "bytes_downloaded", sum(p["size"] for p in rows), now
            )

        def resolve(pointer: Row) -> dict[str, Any]:
            out: dict[str, Any] = {
                "index": pointer["idx"],
                "hash": pointer["hash"],
                "size": pointer["size"],
                "parity": bool(pointer["parity"]),
            }
            found = ctx.services.farmers.retrieve(pointer["hash"], exclude, owner["email"])
            if found is not None:
                out["token"] = found.token
                out.update(location_json(found.contact, legacy))
                out["operation"] = "PULL"
            return out

        if len(rows) == 1:
            answer = [resolve(rows[0])]
        else:
            answer = list(ctx.services.retrieve_pool.map(resolve, rows))
        return json_response(answer)

    @router.add("DELETE", "/buckets/:id/files/:file", "Delete a file entry")
    def delete_entry(ctx: RequestContext, id: str, file: str) -> Response:
        check_object_id(id, "Bucket")
        check_object_id(file, "File")
        bucket = owned_bucket(ctx, id)
        if not ctx.services.store.delete_entry(bucket["id"], file):
            raise NotFound("File not found")
        return no_content()

    @router.add("GET", "/buckets/:id/files/:file/info", "Get the metadata of a file")
    def entry_info(ctx: RequestContext, id: str, file: str) -> Response:
        check_object_id(id, "Bucket")
        check_object_id(file, "File")
        bucket = authorize_bucket(ctx, id, "PULL")
        entry = _entry(ctx, bucket["id"], file)
        size = ctx.services.store.frame_totals(entry["frame"])[0]
        return json_response(entry_json(entry, size))

    @router.add("GET", "/buckets/:id/file-ids/:name", "Find a file id by name")
    def entry_id_by_name(ctx: RequestContext, id: str, name: str) -> Response:
        bucket = owned_bucket(ctx, id)
        entry = ctx.services.store.get_entry(bucket["id"], calculate_file_id(bucket["id"], name))
        if entry is None or entry["filename"] != name:
            raise NotFound("File not found")
        return json_response({"id": entry["id"]})

    @router.add("GET", "/buckets/:id/files/:file/mirrors", "List the mirrors of each shard")
    def list_mirrors(ctx: RequestContext, id: str, file: str) -> Response:
        check_object_id(id, "Bucket")
        check_object_id(file, "File")
        bucket = owned_bucket(ctx, id)
        entry = _entry(ctx, bucket["id"], file)
        mirrors = ctx.services.mirrors
        rows = ctx.services.store.pointers(entry["frame"])
        return json_response([mirrors.listing(p["hash"], bucket["user_email"]) for p in rows])

    @router.add("POST", "/buckets/:id/mirrors", "Create mirrors of a file's shards (2016)")
    def create_mirrors(ctx: RequestContext, id: str) -> Response:
        bucket = owned_bucket(ctx, id)
        body = ctx.json()
        file_id = body.get("file")
        if file_id is None or file_id == "":
            raise BadRequest("No file ID supplied")
        if not isinstance(file_id, str):
            raise BadRequest("File id is malformed")
        check_object_id(file_id, "File")
        redundancy = body.get("redundancy", ctx.services.config.mirror_redundancy)
        if not is_json_int(redundancy) or redundancy < 0:
            raise BadRequest("Invalid redundancy: expected a non-negative integer")
        if redundancy > MAX_MIRRORS:
            raise BadRequest(f"Refusing to create more than {MAX_MIRRORS} mirrors")
        entry = _entry(ctx, bucket["id"], file_id)
        answer = []
        for pointer in ctx.services.store.pointers(entry["frame"]):
            if redundancy:
                ctx.services.mirrors.add(pointer["hash"], bucket["user_email"], redundancy)
            answer.append({"hash": pointer["hash"], "mirrors": redundancy, "status": "pending"})
        return json_response(answer, 201)

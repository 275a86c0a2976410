"""Exchange reports (§4.10): clients and farmers report every shard transfer.

Reports are stored; ``SHARD_UPLOADED``/``SHARD_EXISTS``/``SHARD_DOWNLOADED`` successes
naming a farmer confirm that farmer's contract, and ``SHARD_UPLOADED``,
``MIRROR_SUCCESS``, ``MIRROR_FAILED`` and ``DOWNLOAD_ERROR`` drive mirroring
(:mod:`storj.local.bridge.mirrors`).
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from storj.api import is_shard_hash
from storj.local.bridge.context import RequestContext, json_response
from storj.local.bridge.errors import BadRequest, NotFound
from storj.local.bridge.router import Router
from storj.local.bridge.util import is_int
from storj.local.bridge.validate import check_int

__all__ = ["register"]

_CONFIRMING = ("SHARD_UPLOADED", "SHARD_EXISTS", "SHARD_DOWNLOADED")


def _optional_id(body: dict[str, object], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 512:
        raise BadRequest(f"Invalid {name}: expected a string")
    return value


def register(router: Router) -> None:
    @router.add("POST", "/reports/exchanges", "Report the outcome of a shard transfer")
    def create_report(ctx: RequestContext) -> Response:
        body = ctx.json()
        if not is_shard_hash(body.get("dataHash")):
            raise BadRequest("Invalid dataHash: expected 40 lowercase hex characters")
        data_hash = str(body["dataHash"])
        reporter = _optional_id(body, "reporterId")
        if reporter is None:
            raise BadRequest("Invalid reporterId: expected a string")
        farmer = _optional_id(body, "farmerId")
        client = _optional_id(body, "clientId")
        epoch_ms = "Invalid exchangeStart/exchangeEnd: expected epoch milliseconds"
        start = check_int(body.get("exchangeStart"), "exchangeStart", message=epoch_ms)
        end = check_int(body.get("exchangeEnd"), "exchangeEnd", message=epoch_ms)
        code = body.get("exchangeResultCode")
        if code not in (1000, 1100) or not is_int(code):
            raise BadRequest("Invalid exchangeResultCode: expected 1000 or 1100")
        message = body.get("exchangeResultMessage")
        if not isinstance(message, str) or not message or len(message) > 256:
            raise BadRequest("Invalid exchangeResultMessage: expected a string")
        store = ctx.services.store
        if not store.shard_known(data_hash):
            raise NotFound("Shard not found for report")
        store.add_report(
            {
                "data_hash": data_hash,
                "reporter_id": reporter,
                "client_id": client,
                "farmer_id": farmer,
                "exchange_start": start,
                "exchange_end": end,
                "result_code": code,
                "result_message": message,
                "created": ctx.now_ms(),
            }
        )
        if code == 1000 and farmer and message in _CONFIRMING:
            store.confirm_contract(data_hash, farmer)
        ctx.services.mirrors.on_report(data_hash, code, message, farmer)
        return json_response({}, 201)

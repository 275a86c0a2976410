"""Exchange reports (§4.10): clients and farmers report every shard transfer.

``POST /reports/exchanges`` needs no authentication (2016 and 2018: clients such as
libstorj send reports without credentials), and every well-formed report about a known
shard is stored. What a report may *change* depends on who provably sent it:

* **Signed by the farmer it is about** (the 2018 farmer headers of §2.7, ``x-node-id`` =
  ``farmerId``): ``SHARD_UPLOADED``/``SHARD_EXISTS``/``SHARD_DOWNLOADED`` successes
  confirm the copy of the renter named by ``renterId`` (a local extension our farmers
  send; without it nothing is confirmed) and top up its mirrors; ``MIRROR_SUCCESS`` /
  ``MIRROR_FAILED`` / ``FAILED_INTEGRITY`` settle that farmer's pending mirror for the
  renter (:mod:`storj.local.bridge.mirrors`).
* **Anything else** (clients, unsigned farmers, a farmer reporting about another
  farmer): a ``DOWNLOAD_ERROR`` or ``FAILED_INTEGRITY`` naming a farmer only makes the
  Bridge *verify* that farmer's copies (an audit, :mod:`storj.local.bridge.maintenance`)
  — an audit, not the report, decides whether a copy is bad. So an unauthenticated report
  cannot confirm, fail or drop anybody's copy or mirror.

The 2016 and 2018 Bridges acted on unauthenticated reports directly (a report could mark
mirrors failed for any known hash); this is a deliberate difference
(``docs/protocol.rst``).
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from storj.api import is_shard_hash
from storj.local.bridge.auth import authenticate_farmer
from storj.local.bridge.context import RequestContext, json_response
from storj.local.bridge.errors import BadRequest, NotFound
from storj.local.bridge.router import Router
from storj.local.bridge.util import is_int, renter_id
from storj.local.bridge.validate import check_int

__all__ = ["register"]

_CONFIRMING = ("SHARD_UPLOADED", "SHARD_EXISTS", "SHARD_DOWNLOADED")
_MIRROR_OUTCOMES = ("MIRROR_SUCCESS", "MIRROR_FAILED", "FAILED_INTEGRITY")
#: Failures a client reports about a farmer's copy: verify that copy.
_SUSPICIOUS = ("DOWNLOAD_ERROR", "FAILED_INTEGRITY")


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
        renter = _optional_id(body, "renterId")
        signer = _signing_farmer(ctx)
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
        services = ctx.services
        services.mirrors.report_seen()
        if signer is not None and signer == farmer:
            _apply_farmer_report(ctx, data_hash, signer, renter, code, message)
        elif farmer and message in _SUSPICIOUS:
            services.maintenance.verify_soon(data_hash, farmer)
        return json_response({}, 201)


def _signing_farmer(ctx: RequestContext) -> str | None:
    """The nodeID of the farmer that signed this request (§2.7), or ``None`` when it is not
    signed; a request with farmer headers that do not verify is refused (401)."""
    if ctx.header("x-node-id") is None and ctx.header("x-node-signature") is None:
        return None
    node_id, _pubkey = authenticate_farmer(ctx)
    return node_id


def _apply_farmer_report(
    ctx: RequestContext, data_hash: str, node_id: str, renter: str | None, code: int, message: str
) -> None:
    """What a farmer's own signed report about its copy changes (see the module doc)."""
    services = ctx.services
    if renter is None:
        return
    if message == "READ_FAILED":
        services.maintenance.verify_soon(data_hash, node_id)
    elif message in _MIRROR_OUTCOMES:
        services.mirrors.mirror_done(data_hash, node_id, renter, code == 1000)
    elif code == 1000 and message in _CONFIRMING:
        services.store.confirm_copy(data_hash, node_id, renter, ctx.now_ms())
        if message == "SHARD_UPLOADED":
            for contract in services.store.contracts_at(node_id, data_hash):
                if renter_id(contract["owner"]) == renter:
                    services.mirrors.uploaded(data_hash, contract["owner"])

"""Storage audits: ask farmers to prove they still hold their shards (§7.4).

For every copy audited the Bridge picks one of the challenges the uploader gave it,
sends the farmer ``AUDIT {audits: [{data_hash, challenge, renter}]}`` (one call per farmer
for all its shards) and checks each returned proof with :func:`storj.merkle.verify_proof`
against the root of the leaves it kept. Proofs are checked with the 2017+ raw-byte
hashing first, then with the 2016 hex-string hashing (for shards uploaded by old clients).

Audits judge only what files depend on (:meth:`Store.needed_contracts`): copies of
uploads that never became files are garbage collection's business, not failures. Every
verdict is recorded: a passed audit proves the copy (``checked``), a failed one marks it
``bad = "audit"`` (repair replaces it); an unreachable farmer only gets its timeout
stamped (repair decides when it counts as lost).
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from storj import merkle
from storj.local.bridge.control import ControlError, FarmerUnreachable
from storj.local.bridge.farmers import scoped
from storj.local.bridge.store import Row

if TYPE_CHECKING:
    from storj.local.bridge.app import Services

__all__ = ["audit_all", "audit_contracts", "proof_is_valid"]

log = logging.getLogger("storj.local.bridge")

OK = "ok"
FAILED = "failed"
UNREACHABLE = "unreachable"


def proof_is_valid(proof: Any, leaves: list[str], root: str | None = None) -> bool:
    """True when ``proof`` proves one of ``leaves`` up to their Merkle root (either scheme)."""
    try:
        depth = merkle.tree_levels(len(merkle.pad_leaves(leaves)))
        root_2017 = root or merkle.merkle_root(leaves)
    except ValueError:
        return False
    if merkle.verify_proof(proof, root_2017, depth):
        return True
    try:
        root_2016 = merkle.merkle_root(leaves, scheme="2016")
    except ValueError:
        return False
    return merkle.verify_proof(proof, root_2016, depth, scheme="2016")


def _result(contract: Row, status: str, message: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "hash": contract["hash"],
        "nodeID": contract["node_id"],
        "status": status,
        "contract": contract["id"],
    }
    if message:
        out["message"] = message
    return out


def _audit_farmer(services: Services, node_id: str, contracts: list[Row]) -> list[dict[str, Any]]:
    contact = services.store.get_contact(node_id)
    if contact is None:
        return [_result(c, UNREACHABLE, "farmer is not a registered contact") for c in contracts]
    chooser = random.SystemRandom()
    audits = [
        scoped(
            {"data_hash": c["hash"], "challenge": chooser.choice(c["challenges"])},
            c["owner"],
            c["legacy"],
        )
        for c in contracts
    ]
    try:
        answer = services.farmers.call(contact, "AUDIT", {"audits": audits})
    except FarmerUnreachable as exc:
        return [_result(c, UNREACHABLE, str(exc)) for c in contracts]
    except ControlError as exc:
        return [_result(c, FAILED, f"farmer refused the audit: {exc}") for c in contracts]
    proofs = answer.get("proofs")
    errors = answer.get("errors")
    if not isinstance(proofs, list) or len(proofs) != len(contracts):
        return [
            _result(c, FAILED, "farmer answered without one proof per audit") for c in contracts
        ]
    results = []
    for i, (contract, proof) in enumerate(zip(contracts, proofs, strict=True)):
        if proof is not None and proof_is_valid(proof, contract["leaves"], contract["root"]):
            results.append(_result(contract, OK))
        else:
            reason = errors[i] if isinstance(errors, list) and i < len(errors) else None
            results.append(_result(contract, FAILED, str(reason or "invalid proof")))
    return results


def audit_contracts(services: Services, contracts: list[Row]) -> list[dict[str, Any]]:
    """Audit ``contracts`` (those without challenges are skipped) and record each verdict;
    returns ``[{"hash", "nodeID", "status", "message"?, "contract"}]``."""
    by_farmer: dict[str, list[Row]] = defaultdict(list)
    for contract in contracts:
        if contract["challenges"]:
            by_farmer[contract["node_id"]].append(contract)
    results: list[dict[str, Any]] = []
    if by_farmer:
        with ThreadPoolExecutor(min(8, len(by_farmer)), thread_name_prefix="storj-audit") as pool:
            futures = [
                pool.submit(_audit_farmer, services, node, group)
                for node, group in sorted(by_farmer.items())
            ]
            for future in futures:
                results.extend(future.result())
    now = services.now_ms()
    services.store.mark_checked([r["contract"] for r in results if r["status"] == OK], now)
    services.store.mark_bad([r["contract"] for r in results if r["status"] == FAILED], "audit", now)
    for r in results:
        if r["status"] != OK:
            log.warning("audit of %s on %s: %s", r["hash"], r["nodeID"], r["status"])
    return results


def audit_all(services: Services) -> dict[str, Any]:
    """Audit every copy a file depends on, once, and record the verdicts.

    Returns ``{"audited": n, "ok": n, "failed": n, "unreachable": n, "results":
    [{"hash", "nodeID", "status": "ok"|"failed"|"unreachable", "message"?}]}``.
    """
    results = audit_contracts(services, services.store.needed_contracts())
    counts = {
        status: sum(1 for r in results if r["status"] == status)
        for status in (OK, FAILED, UNREACHABLE)
    }
    shown = [{k: v for k, v in r.items() if k != "contract"} for r in results]
    return {"audited": len(results), **counts, "results": shown}

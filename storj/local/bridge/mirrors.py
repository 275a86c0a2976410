"""Mirrors: extra copies of shards on other farmers.

The Bridge never copies data itself. For each new mirror it picks a live farmer that
does not hold the shard, gets a PULL token from a current holder (RETRIEVE) and tells
the new farmer to copy the shard from that holder (MIRROR). The farmer answers at once,
pulls the shard, verifies it and reports ``MIRROR_SUCCESS`` (or ``MIRROR_FAILED``) to
``POST /reports/exchanges``; only then does the Bridge record the mirror as established
and add the farmer's contract, so downloads may use it.

Triggers: ``POST /buckets/:id/mirrors`` (the 2016 route: ``redundancy`` new mirrors per
shard) and, automatically, exchange reports ``SHARD_UPLOADED``, ``MIRROR_SUCCESS`` and
``DOWNLOAD_ERROR`` until a shard has ``1 + mirror_redundancy`` copies (2016 used
M_REPLICATE = 5; the local default is 2 extra copies). A ``DOWNLOAD_ERROR`` does not
count the reported farmer. A mirror that neither succeeds nor fails within ten minutes
no longer counts as pending.

Automatic mirrors start once no exchange report has arrived for
:data:`MIRROR_QUIET_S` seconds (a transfer in progress reports every shard), so copying
shards does not take the farmers' CPU from an upload or download still running; a shard
never waits more than :data:`MIRROR_MAX_WAIT_S` seconds for that.

Mirror records: ``pending`` → ``established`` | ``failed``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from storj.local.bridge.control import ControlError
from storj.local.bridge.serialize import contact_json, contract_json, farmer_json
from storj.local.bridge.store import Row, StoreClosedError
from storj.local.bridge.util import days_ms, new_object_id

if TYPE_CHECKING:
    from storj.local.bridge.app import Services

__all__ = [
    "MAX_MIRRORS",
    "MIRROR_MAX_WAIT_S",
    "MIRROR_QUIET_S",
    "PENDING_TTL_MS",
    "Mirrorer",
    "new_contract",
]

log = logging.getLogger("storj.local.bridge")

#: A pending mirror older than this no longer counts (10 minutes).
PENDING_TTL_MS = 10 * 60 * 1000
#: Most mirrors one request may create per shard (2016: ``Refusing to create more than 12``).
MAX_MIRRORS = 12
#: Lifetime of a storage contract (90 days).
CONTRACT_TTL_MS = days_ms(90)

_AUTO_TRIGGERS = ("SHARD_UPLOADED", "MIRROR_SUCCESS", "DOWNLOAD_ERROR")

#: Seconds without any exchange report before automatic mirrors start.
MIRROR_QUIET_S = 0.3
#: Longest an automatic mirror waits for such a quiet moment, in seconds.
MIRROR_MAX_WAIT_S = 5.0


def new_contract(
    *,
    data_hash: str,
    node_id: str,
    data_size: int,
    leaves: list[str],
    challenges: list[str],
    root: str | None,
    now: int,
    origin: str,
) -> Row:
    """A contract row for ``data_hash`` stored by ``node_id`` for 90 days from ``now``."""
    return {
        "id": new_object_id(now),
        "hash": data_hash,
        "node_id": node_id,
        "data_size": data_size,
        "store_begin": now,
        "store_end": now + CONTRACT_TTL_MS,
        "audit_count": len(challenges),
        "leaves": leaves,
        "challenges": challenges,
        "root": root,
        "origin": origin,
        "confirmed": origin == "mirror",
        "created": now,
    }


class Mirrorer:
    """Plans and starts mirrors; runs its work on the Bridge's background pool."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._plan_lock = threading.Lock()
        self._random = random.SystemRandom()
        # Automatic mirrors waiting for a quiet moment: (hash, failed node) -> since when.
        self._deferred: dict[tuple[str, str | None], float] = {}
        self._last_report = 0.0
        self._cond = threading.Condition()
        self._releaser: threading.Thread | None = None

    # -- triggers ---------------------------------------------------------------------

    def on_report(self, data_hash: str, code: int, message: str, farmer_id: str | None) -> None:
        """React to a stored exchange report (called by the reports route)."""
        with self._cond:
            self._last_report = time.monotonic()
        store = self.services.store
        if message == "MIRROR_SUCCESS" and code == 1000 and farmer_id:
            self.establish(data_hash, farmer_id)
        elif message in ("MIRROR_FAILED", "FAILED_INTEGRITY") and farmer_id:
            for mirror in store.mirrors_for(data_hash):
                if mirror["node_id"] == farmer_id and mirror["status"] == "pending":
                    store.set_mirror_status(data_hash, farmer_id, "failed", self.services.now_ms())
        if message not in _AUTO_TRIGGERS or self.services.config.mirror_redundancy <= 0:
            return
        if message != "DOWNLOAD_ERROR" and code != 1000:
            return
        failed = farmer_id if message == "DOWNLOAD_ERROR" else None
        self._defer(data_hash, failed)

    def _defer(self, data_hash: str, failed: str | None) -> None:
        """Queue an automatic :meth:`ensure` for the next quiet moment (see module doc)."""
        with self._cond:
            self._deferred.setdefault((data_hash, failed), time.monotonic())
            if self._releaser is None:
                self._releaser = threading.Thread(
                    target=self._release_loop, name="storj-bridge-mirror-release", daemon=True
                )
                self._releaser.start()
            self._cond.notify()

    def _release_loop(self) -> None:
        """Submit the deferred mirrors when reports stop (or they waited too long); the
        thread ends when none are left."""
        while True:
            with self._cond:
                if not self._deferred or getattr(self.services, "closing", False):
                    self._deferred.clear()
                    self._releaser = None
                    return
                now = time.monotonic()
                oldest = next(iter(self._deferred.values()))
                delay = min(
                    self._last_report + MIRROR_QUIET_S - now, oldest + MIRROR_MAX_WAIT_S - now
                )
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                due, self._deferred = list(self._deferred), {}
            for data_hash, failed in due:
                self._submit(self.ensure, data_hash, failed)

    def _submit(self, fn: Callable[..., Any], *args: Any) -> None:
        def run() -> None:
            try:
                fn(*args)
            except StoreClosedError:
                pass
            except Exception:  # a background job must never die silently
                log.exception("mirroring job failed")

        try:
            self.services.background.submit(run)
        except RuntimeError:  # pool shut down: the server is stopping
            pass

    def establish(self, data_hash: str, node_id: str) -> bool:
        """Record ``node_id``'s copy as established (it must be one of our mirrors)."""
        store = self.services.store
        if not any(m["node_id"] == node_id for m in store.mirrors_for(data_hash)):
            return False
        templates = store.contracts_for(data_hash)
        if not templates:
            return False
        template = templates[0]
        now = self.services.now_ms()
        contract = new_contract(
            data_hash=data_hash,
            node_id=node_id,
            data_size=template["data_size"],
            leaves=template["leaves"],
            challenges=template["challenges"],
            root=template["root"],
            now=now,
            origin="mirror",
        )
        store.establish_mirror(data_hash, node_id, contract, now)
        return True

    def ensure(self, data_hash: str, failed_node: str | None = None) -> int:
        """Start mirrors until ``1 + mirror_redundancy`` copies exist or are pending."""
        target = 1 + self.services.config.mirror_redundancy
        plan = self._plan(data_hash, target=target, extra=None, failed_node=failed_node)
        for contact, template in plan:
            self._mirror_one(data_hash, contact, template, failed_node)
        return len(plan)

    def add(self, data_hash: str, extra: int) -> None:
        """Start ``extra`` new mirrors of the shard in the background (as many as there
        are free farmers)."""
        self._submit(self._add_now, data_hash, extra)

    def _add_now(self, data_hash: str, extra: int) -> None:
        for contact, template in self._plan(data_hash, target=None, extra=extra, failed_node=None):
            self._mirror_one(data_hash, contact, template, None)

    # -- work -------------------------------------------------------------------------

    def _plan(
        self, data_hash: str, *, target: int | None, extra: int | None, failed_node: str | None
    ) -> list[tuple[Row, Row]]:
        store = self.services.store
        with self._plan_lock:
            now = self.services.now_ms()
            contracts = store.contracts_for(data_hash)
            if not contracts:
                return []
            mirrors = store.mirrors_for(data_hash)
            holders = {c["node_id"] for c in contracts}
            confirmed = {c["node_id"] for c in contracts if c["confirmed"]}
            fresh = [m for m in mirrors if now - m["updated"] < PENDING_TTL_MS]
            pending = {m["node_id"] for m in fresh if m["status"] == "pending"} - holders
            failed = {m["node_id"] for m in fresh if m["status"] == "failed"}
            if extra is None:
                assert target is not None
                copies = len(confirmed - {failed_node}) + len(pending)
                need = target - copies
            else:
                need = extra
            need = min(need, MAX_MIRRORS)
            if need <= 0:
                return []
            busy = holders | pending | failed
            if failed_node:
                busy.add(failed_node)
            candidates = self.services.farmers.live_contacts(busy)
            self._random.shuffle(candidates)
            chosen = candidates[:need]
            store.reserve_mirrors(
                [
                    {
                        "id": new_object_id(now),
                        "hash": data_hash,
                        "node_id": c["node_id"],
                        "source_node_id": None,
                        "status": "pending",
                        "created": now,
                        "updated": now,
                    }
                    for c in chosen
                ]
            )
            return [(c, contracts[0]) for c in chosen]

    def _mirror_one(
        self, data_hash: str, target: Row, template: Row, failed_node: str | None
    ) -> None:
        store = self.services.store
        exclude = {target["node_id"]}
        if failed_node:
            exclude.add(failed_node)
        retrieval = self.services.farmers.retrieve(data_hash, exclude)
        if retrieval is None:
            log.info("mirror of %s: no reachable holder", data_hash)
            store.set_mirror_status(data_hash, target["node_id"], "failed", self.services.now_ms())
            return
        params = {
            "data_hash": data_hash,
            "data_size": template["data_size"],
            "audit_tree": template["leaves"],
            "token": retrieval.token,
            "farmer": farmer_json(retrieval.contact),
        }
        try:
            self.services.farmers.call(target, "MIRROR", params)
        except ControlError as exc:
            log.info("mirror of %s to %s failed: %s", data_hash, target["node_id"], exc)
            store.set_mirror_status(data_hash, target["node_id"], "failed", self.services.now_ms())

    # -- listing ----------------------------------------------------------------------

    def listing(self, data_hash: str) -> dict[str, list[dict[str, Any]]]:
        """``{"established": [Mirror…], "available": [Mirror…]}`` for one shard.

        Established = every farmer holding a contract (the first upload included);
        available = mirrors started but not yet confirmed. Mirror =
        ``{id, shardHash, contact, contract, isEstablished}``.
        """
        store = self.services.store
        contracts = store.contracts_for(data_hash)
        established: list[dict[str, Any]] = []
        for contract in contracts:
            contact = store.get_contact(contract["node_id"])
            established.append(
                {
                    "id": contract["id"],
                    "shardHash": data_hash,
                    "contact": contact_json(contact)
                    if contact
                    else {"nodeID": contract["node_id"]},
                    "contract": contract_json(contract),
                    "isEstablished": True,
                }
            )
        holders = {c["node_id"] for c in contracts}
        available: list[dict[str, Any]] = []
        now = self.services.now_ms()
        for mirror in store.mirrors_for(data_hash):
            if mirror["status"] != "pending" or mirror["node_id"] in holders:
                continue
            if now - mirror["updated"] >= PENDING_TTL_MS or not contracts:
                continue
            contact = store.get_contact(mirror["node_id"])
            contract = dict(contracts[0], node_id=mirror["node_id"])
            available.append(
                {
                    "id": mirror["id"],
                    "shardHash": data_hash,
                    "contact": contact_json(contact) if contact else {"nodeID": mirror["node_id"]},
                    "contract": contract_json(contract),
                    "isEstablished": False,
                }
            )
        return {"established": established, "available": available}

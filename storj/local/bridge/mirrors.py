"""Mirrors: extra copies of shards on other farmers.

The Bridge never copies data itself. For each new mirror it picks a live farmer that
does not hold the shard, gets a PULL token from a current holder (RETRIEVE) and tells
the new farmer to copy the shard from that holder (MIRROR). The farmer answers at once,
pulls the shard, verifies it and reports ``MIRROR_SUCCESS`` (or ``MIRROR_FAILED``) to
``POST /reports/exchanges``; only then does the Bridge record the mirror as established
and add the farmer's contract, so downloads may use it.

Everything is per owner: a mirror copies one user's shard for that user (the target
farmer keeps it for the user's renter id once it has verified the bytes), from a good
copy of that user, and counts only that user's copies.

Triggers: ``POST /buckets/:id/mirrors`` (the 2016 route: ``redundancy`` new mirrors per
shard), the farmers' signed ``SHARD_UPLOADED`` and ``MIRROR_SUCCESS`` reports (until a
shard has ``1 + mirror_redundancy`` good copies; 2016 used M_REPLICATE = 5, the local
default is 2 extra copies), and repair (:mod:`storj.local.bridge.maintenance`), which
replaces copies known bad. A mirror that neither succeeds nor fails within ten minutes no
longer counts as pending. When a mirror is established and the shard has its good copies
again, the bad copies it replaced are dropped (their farmers are told to release them).

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
from storj.local.bridge.util import days_ms, new_object_id, renter_id

if TYPE_CHECKING:
    from storj.local.bridge.app import Services

__all__ = [
    "MAX_MIRRORS",
    "MIRROR_MAX_WAIT_S",
    "MIRROR_QUIET_S",
    "PENDING_TTL_MS",
    "Mirrorer",
    "good_copies",
    "new_contract",
]

log = logging.getLogger("storj.local.bridge")

#: A pending mirror older than this no longer counts (10 minutes).
PENDING_TTL_MS = 10 * 60 * 1000
#: Most mirrors one request may create per shard (2016: ``Refusing to create more than 12``).
MAX_MIRRORS = 12
#: Lifetime of a storage contract (90 days).
CONTRACT_TTL_MS = days_ms(90)

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
    owner: str,
) -> Row:
    """``owner``'s contract for ``data_hash`` stored by ``node_id`` for 90 days from ``now``
    (a mirror's copy was verified by its farmer: it is confirmed and checked now)."""
    mirror = origin == "mirror"
    return {
        "id": new_object_id(now),
        "hash": data_hash,
        "node_id": node_id,
        "owner": owner,
        "data_size": data_size,
        "store_begin": now,
        "store_end": now + CONTRACT_TTL_MS,
        "audit_count": len(challenges),
        "leaves": leaves,
        "challenges": challenges,
        "root": root,
        "origin": origin,
        "confirmed": mirror,
        "created": now,
        "bad": None,
        "bad_since": None,
        "suspect": 0,
        "checked": now if mirror else None,
        "legacy": 0,
    }


def good_copies(contracts: list[Row]) -> list[Row]:
    """The confirmed copies not known bad."""
    return [c for c in contracts if c["confirmed"] and c["bad"] is None]


class Mirrorer:
    """Plans and starts mirrors; runs its work on the Bridge's background pool."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._plan_lock = threading.Lock()
        self._random = random.SystemRandom()
        # Automatic mirrors waiting for a quiet moment: (hash, owner) -> since when.
        self._deferred: dict[tuple[str, str], float] = {}
        self._last_report = 0.0
        self._cond = threading.Condition()
        self._releaser: threading.Thread | None = None

    # -- triggers ---------------------------------------------------------------------

    def report_seen(self) -> None:
        """An exchange report arrived (transfers are running: automatic mirrors wait)."""
        with self._cond:
            self._last_report = time.monotonic()

    def uploaded(self, data_hash: str, owner: str) -> None:
        """A farmer verified an upload of ``owner``'s shard: top up its copies later."""
        if self.services.config.mirror_redundancy > 0:
            self._defer(data_hash, owner)

    def mirror_done(self, data_hash: str, node_id: str, renter: str, ok: bool) -> None:
        """``node_id`` reported (signed) the outcome of a mirror for ``renter``."""
        store = self.services.store
        for owner in store.mirror_owners(data_hash, node_id, renter):
            if ok:
                if self.establish(data_hash, node_id, owner):
                    self.drop_replaced(data_hash, owner)
                    self.uploaded(data_hash, owner)
            else:
                store.set_mirror_status(data_hash, node_id, owner, "failed", self.services.now_ms())

    def _defer(self, data_hash: str, owner: str) -> None:
        """Queue an automatic :meth:`ensure` for the next quiet moment (see module doc)."""
        with self._cond:
            self._deferred.setdefault((data_hash, owner), time.monotonic())
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
            for data_hash, owner in due:
                self._submit(self.ensure, data_hash, owner)

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

    def establish(self, data_hash: str, node_id: str, owner: str) -> bool:
        """Record ``node_id``'s verified copy of ``owner``'s shard (it must be one of our
        mirrors of it, and the owner must still hold a copy to take the terms from)."""
        store = self.services.store
        if not any(m["node_id"] == node_id for m in store.mirrors_for(data_hash, owner)):
            return False
        templates = store.contracts_for(data_hash, owner)
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
            owner=owner,
        )
        store.establish_mirror(contract, now)
        return True

    def drop_replaced(self, data_hash: str, owner: str) -> int:
        """Drop ``owner``'s bad copies once the shard has its full number of good copies
        again (their farmers are told to release them). Returns how many were dropped."""
        contracts = self.services.store.contracts_for(data_hash, owner)
        bad = [c for c in contracts if c["bad"] is not None]
        if not bad or len(good_copies(contracts)) < self.target():
            return 0
        self.services.store.drop_contracts([c["id"] for c in bad], self.services.now_ms())
        return len(bad)

    def target(self) -> int:
        """Good copies every shard should have: ``1 + mirror_redundancy``."""
        return 1 + self.services.config.mirror_redundancy

    def ensure(self, data_hash: str, owner: str) -> int:
        """Start mirrors until ``owner``'s shard has :meth:`target` good or pending copies;
        returns how many were started."""
        plan = self._plan(data_hash, owner, target=self.target(), extra=None)
        for contact, template, source_exclude in plan:
            self._mirror_one(data_hash, owner, contact, template, source_exclude)
        return len(plan)

    def add(self, data_hash: str, owner: str, extra: int) -> None:
        """Start ``extra`` new mirrors of ``owner``'s shard in the background (as many as
        there are free farmers)."""
        self._submit(self._add_now, data_hash, owner, extra)

    def _add_now(self, data_hash: str, owner: str, extra: int) -> None:
        for contact, template, source_exclude in self._plan(
            data_hash, owner, target=None, extra=extra
        ):
            self._mirror_one(data_hash, owner, contact, template, source_exclude)

    # -- work -------------------------------------------------------------------------

    def _plan(
        self, data_hash: str, owner: str, *, target: int | None, extra: int | None
    ) -> list[tuple[Row, Row, frozenset[str]]]:
        """Reserve mirror targets; each entry is ``(target contact, contract template,
        farmers not to copy from)``."""
        store = self.services.store
        with self._plan_lock:
            now = self.services.now_ms()
            contracts = store.contracts_for(data_hash, owner)
            # sources: copies not known bad (a farmer only hands out a copy it holds for
            # the owner, so a copy whose confirmation is still on its way is fine)
            usable = [c for c in contracts if c["bad"] is None]
            if not usable:
                return []
            good = good_copies(contracts)
            arriving = [
                c for c in usable if not c["confirmed"] and now - c["created"] < PENDING_TTL_MS
            ]
            mirrors = store.mirrors_for(data_hash, owner)
            holders = {c["node_id"] for c in contracts}
            fresh = [m for m in mirrors if now - m["updated"] < PENDING_TTL_MS]
            pending = {m["node_id"] for m in fresh if m["status"] == "pending"} - holders
            failed = {m["node_id"] for m in fresh if m["status"] == "failed"}
            if extra is None:
                assert target is not None
                need = target - len(good) - len(arriving) - len(pending)
            else:
                need = extra
            need = min(need, MAX_MIRRORS)
            if need <= 0:
                return []
            candidates = self.services.farmers.live_contacts(holders | pending | failed)
            self._random.shuffle(candidates)
            chosen = candidates[:need]
            store.reserve_mirrors(
                [
                    {
                        "id": new_object_id(now),
                        "hash": data_hash,
                        "node_id": c["node_id"],
                        "owner": owner,
                        "source_node_id": None,
                        "status": "pending",
                        "created": now,
                        "updated": now,
                    }
                    for c in chosen
                ]
            )
            not_sources = frozenset(c["node_id"] for c in contracts if c["bad"] is not None)
            return [(c, (good or usable)[0], not_sources) for c in chosen]

    def _mirror_one(
        self, data_hash: str, owner: str, target: Row, template: Row, not_sources: frozenset[str]
    ) -> None:
        store = self.services.store
        retrieval = self.services.farmers.retrieve(
            data_hash, not_sources | {target["node_id"]}, owner
        )
        if retrieval is None:
            log.info("mirror of %s: no reachable good copy", data_hash)
            store.set_mirror_status(
                data_hash, target["node_id"], owner, "failed", self.services.now_ms()
            )
            return
        params = {
            "data_hash": data_hash,
            "data_size": template["data_size"],
            "audit_tree": template["leaves"],
            "token": retrieval.token,
            "farmer": farmer_json(retrieval.contact),
            "renter": renter_id(owner),
        }
        try:
            self.services.farmers.call(target, "MIRROR", params)
        except ControlError as exc:
            log.info("mirror of %s to %s failed: %s", data_hash, target["node_id"], exc)
            store.set_mirror_status(
                data_hash, target["node_id"], owner, "failed", self.services.now_ms()
            )

    # -- listing ----------------------------------------------------------------------

    def listing(self, data_hash: str, owner: str) -> dict[str, list[dict[str, Any]]]:
        """``{"established": [Mirror…], "available": [Mirror…]}`` for ``owner``'s shard.

        Established = every farmer holding a copy not known bad (the first upload
        included); available = mirrors started but not yet confirmed. Mirror =
        ``{id, shardHash, contact, contract, isEstablished}``.
        """
        store = self.services.store
        contracts = [c for c in store.contracts_for(data_hash, owner) if c["bad"] is None]
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
        for mirror in store.mirrors_for(data_hash, owner):
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

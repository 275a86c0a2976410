"""Keeping stored data safe: verification, repair and garbage collection.

A network whose redundancy silently decays loses files. The Bridge runs a **maintenance
pass** every ``BridgeConfig.repair_interval`` seconds (and on demand:
:meth:`BridgeServer.maintain <storj.local.bridge.BridgeServer.maintain>`); decisions use
the Bridge's clock (``Services.clock``), so tests can move time instead of waiting. One
pass, in order:

1. **Liveness.** Every farmer holding a copy some file depends on is pinged (``PING``);
   a failure stamps its ``lastTimeout``. A farmer that has failed since it was last seen,
   and was last seen more than ``farmer_lost_after`` ago, is *lost*: its copies are marked
   ``bad = "lost"``.
2. **Verification.** Copies files depend on that are suspect (a client reported a failed
   download or a hash mismatch from them), never proved, lost but reachable again, or last
   proved more than ``audit_interval`` ago are audited (:mod:`storj.local.bridge.audit`):
   a valid proof marks the copy good, a failed one ``bad = "audit"``.
3. **Repair.** Every shard a file depends on should have ``1 + mirror_redundancy`` good
   copies. When it has fewer but at least one, mirrors copy a good copy to farmers that
   hold none (:class:`~storj.local.bridge.mirrors.Mirrorer`); once a mirror is established
   and the shard is back at its redundancy, the bad copies are dropped and their farmers
   told to delete them. A bad copy is never dropped before its replacement is stored and
   verified; pointers never hand out a copy that failed an audit, and a lost one only when
   no good copy answers.
4. **Garbage collection.** Frames no file refers to and unchanged for ``frame_ttl``
   (uploads that never became files, frames of deleted or replaced files) are removed
   with their pointers; copies no frame of their owner points at, and copies never
   confirmed within ``unconfirmed_ttl`` that no file depends on, are dropped.
5. **Releases.** Farmers are told to delete what was dropped (``RELEASE``; a farmer
   deletes a shard only when no other user keeps it and no upload of it is pending).
   Releases wait in the database until the farmer has carried them out.

A client's failure report (``DOWNLOAD_ERROR``/``FAILED_INTEGRITY``) also triggers an
immediate verification of the reported copies (:meth:`Maintenance.verify_soon`, at most
once per copy every :data:`VERIFY_COOLDOWN_S` seconds), and a failed verification starts
its repair at once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from storj.local.bridge.audit import FAILED, OK, audit_contracts
from storj.local.bridge.control import ControlError
from storj.local.bridge.mirrors import PENDING_TTL_MS, good_copies
from storj.local.bridge.store import Row, StoreClosedError

if TYPE_CHECKING:
    from storj.local.bridge.app import Services

__all__ = ["VERIFY_COOLDOWN_S", "Maintenance", "PassReport"]

log = logging.getLogger("storj.local.bridge")

#: Seconds before the same copy is verified again because of a client's report.
VERIFY_COOLDOWN_S = 60.0


@dataclass
class PassReport:
    """What one maintenance pass did (figures for logs and the reliability report)."""

    farmers_lost: int = 0
    copies_lost: int = 0
    audited: int = 0
    audits_failed: int = 0
    repairs_started: int = 0
    bad_dropped: int = 0
    unrepairable: int = 0
    frames_removed: int = 0
    contracts_dropped: int = 0
    releases_done: int = 0
    bytes_reclaimed: int = 0

    def to_json(self) -> dict[str, int]:
        return asdict(self)


class Maintenance:
    """Runs maintenance passes on a background thread and verifications on demand."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._pass_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._verify_lock = threading.Lock()
        self._verified_at: dict[tuple[str, str], float] = {}

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Run a pass every ``repair_interval`` seconds (0: never by itself)."""
        interval = self.services.config.repair_interval
        if interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="storj-bridge-maintenance", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                report = self.run_pass()
            except StoreClosedError:
                return
            except Exception:  # the loop must survive a bad pass
                log.exception("maintenance pass failed")
                continue
            log.info("maintenance pass: %s", report.to_json())

    # -- the pass ---------------------------------------------------------------------

    def run_pass(self) -> PassReport:
        """One maintenance pass (see the module docstring); passes never overlap."""
        with self._pass_lock:
            report = PassReport()
            self._detect_lost(report)
            self._verify_due(report)
            self._repair(report)
            self._collect(report)
            self._release(report)
            return report

    def _detect_lost(self, report: PassReport) -> None:
        services = self.services
        store = services.store
        farmers = services.farmers
        needed = store.needed_contracts()
        now = services.now_ms()
        lost_after = int(services.config.farmer_lost_after * 1000)
        by_node: dict[str, list[Row]] = {}
        for contract in needed:
            by_node.setdefault(contract["node_id"], []).append(contract)
        for node_id, contracts in sorted(by_node.items()):
            contact = store.get_contact(node_id)
            if contact is not None and farmers.is_live(contact, now):
                if farmers.ping(contact):
                    continue
                contact = store.get_contact(node_id)
            lost = contact is None or (
                contact["last_timeout"] is not None
                and contact["last_timeout"] > contact["last_seen"]
                and now - contact["last_seen"] >= lost_after
            )
            if not lost:
                continue
            fresh = [c["id"] for c in contracts if c["bad"] is None]
            if fresh:
                report.farmers_lost += 1
                report.copies_lost += len(fresh)
                log.warning(
                    "farmer %s unreachable since %s: %d copies count as lost",
                    node_id,
                    contact["last_seen"] if contact else "never",
                    len(fresh),
                )
                store.mark_bad(fresh, "lost", now)

    def _verify_due(self, report: PassReport) -> None:
        services = self.services
        now = services.now_ms()
        due_before = now - int(services.config.audit_interval * 1000)
        contacts = {c["node_id"]: c for c in services.store.all_contacts()}
        due = [
            c
            for c in services.store.due_for_check(due_before)
            if c["node_id"] in contacts and services.farmers.is_live(contacts[c["node_id"]], now)
        ]
        results = audit_contracts(services, due)
        report.audited += sum(1 for r in results if r["status"] in (OK, FAILED))
        report.audits_failed += sum(1 for r in results if r["status"] == FAILED)

    def _repair(self, report: PassReport) -> None:
        mirrors = self.services.mirrors
        target = mirrors.target()
        for (data_hash, owner), contracts in self.services.store.needed_groups().items():
            if len(good_copies(contracts)) >= target:
                report.bad_dropped += mirrors.drop_replaced(data_hash, owner)
            elif all(c["bad"] is not None for c in contracts):
                report.unrepairable += 1
                log.error("shard %s of %s has no good copy left to repair from", data_hash, owner)
            else:
                report.repairs_started += mirrors.ensure(data_hash, owner)

    def _collect(self, report: PassReport) -> None:
        services = self.services
        config = services.config
        store = services.store
        now = services.now_ms()
        frames = store.drop_stale_frames(now - int(config.frame_ttl * 1000))
        report.frames_removed += len(frames)
        report.contracts_dropped += len(store.drop_unreferenced(now))
        unconfirmed = store.drop_unconfirmed(now - int(config.unconfirmed_ttl * 1000), now)
        report.contracts_dropped += len(unconfirmed)

    def _release(self, report: PassReport) -> None:
        services = self.services
        store = services.store
        now = services.now_ms()
        pending_since = now - PENDING_TTL_MS
        for release in store.pending_releases():
            node_id, data_hash, renter = release["node_id"], release["hash"], release["renter"]
            contact = store.get_contact(node_id)
            if contact is None:  # never registered: nothing to tell
                store.release_done(node_id, data_hash, renter)
                continue
            if not services.farmers.is_live(contact, now):
                continue
            # no copy of this shard may be recorded on that farmer while its release runs
            with services.copy_lock(node_id, data_hash):
                status, still_used = store.release_status(
                    node_id, data_hash, renter, pending_since
                )
                if status == "obsolete":  # the renter stored it there again since
                    store.release_done(node_id, data_hash, renter)
                    continue
                if status == "wait":  # a mirror to that farmer is on its way
                    continue
                try:
                    freed, busy = services.farmers.release(
                        contact,
                        data_hash,
                        renter,
                        legacy=bool(release["legacy"]),
                        remove=not still_used,
                        stale_after=max(0, now - release["created"]) / 1000,
                    )
                except ControlError as exc:
                    log.info("release of %s on %s failed: %s", data_hash, node_id, exc)
                    store.release_failed(node_id, data_hash, renter)
                    continue
            if busy:  # an upload of it is pending there: the next pass asks again
                store.release_failed(node_id, data_hash, renter)
                continue
            store.release_done(node_id, data_hash, renter)
            report.releases_done += 1
            report.bytes_reclaimed += freed

    # -- reported failures ------------------------------------------------------------

    def verify_soon(self, data_hash: str, node_id: str) -> None:
        """A client reported a failed transfer of ``data_hash`` from ``node_id``: audit the
        copies there in the background, and repair the ones that fail."""
        if self.services.store.mark_suspect(data_hash, node_id) == 0:
            return
        key = (data_hash, node_id)
        now = time.monotonic()
        with self._verify_lock:
            last = self._verified_at.get(key)
            if last is not None and now - last < VERIFY_COOLDOWN_S:
                return
            self._verified_at[key] = now
            if len(self._verified_at) > 10_000:
                horizon = now - VERIFY_COOLDOWN_S
                self._verified_at = {k: v for k, v in self._verified_at.items() if v >= horizon}
        try:
            self.services.background.submit(self._verify_now, data_hash, node_id)
        except RuntimeError:  # the Bridge is stopping
            pass

    def _verify_now(self, data_hash: str, node_id: str) -> None:
        try:
            contracts = [
                c for c in self.services.store.contracts_at(node_id, data_hash) if c["suspect"]
            ]
            results = audit_contracts(self.services, contracts)
            owners = {c["owner"] for c in contracts}
            failed = {r["contract"] for r in results if r["status"] == FAILED}
            for owner in sorted(owners):
                if any(c["id"] in failed and c["owner"] == owner for c in contracts):
                    self.services.mirrors.ensure(data_hash, owner)
        except StoreClosedError:
            pass
        except Exception:  # a background job must never die silently
            log.exception("verification of %s on %s failed", data_hash, node_id)

"""Choosing farmers and talking to them: contracts (CONSIGN) and retrieval tokens (RETRIEVE).

A farmer is *live* unless it timed out after it was last seen and that timeout is younger
than ``farmer_timeout_ignore`` (the 2016 ``farmerTimeoutIgnore`` rule). Every successful
control call refreshes the farmer's ``lastSeen`` and ``responseTime``; every transport
failure stamps ``lastTimeout``. A farmer answering with an error (e.g. ``Shard data not
found``) is reachable and is not marked.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storj.local.bridge.control import ControlError, FarmerRefused, FarmerUnreachable
from storj.local.bridge.store import Row
from storj.local.bridge.util import renter_id

if TYPE_CHECKING:
    from storj.local.bridge.app import Services

__all__ = ["FarmerPool", "NoFarmerError", "Retrieval", "scoped"]

log = logging.getLogger("storj.local.bridge")


class NoFarmerError(Exception):
    """No farmer could be contracted for a shard."""


@dataclass(frozen=True)
class Retrieval:
    """A PULL token from a farmer holding a shard."""

    token: str
    contact: Row


class FarmerPool:
    """Farmer selection and the control calls made on behalf of routes."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._random = random.SystemRandom()

    def is_live(self, contact: Row, now: int) -> bool:
        last_timeout = contact.get("last_timeout")
        if last_timeout is None or last_timeout <= contact["last_seen"]:
            return True
        return now - last_timeout >= self.services.config.farmer_timeout_ignore * 1000

    def live_contacts(self, exclude: set[str] | frozenset[str] = frozenset()) -> list[Row]:
        now = self.services.now_ms()
        return [
            c
            for c in self.services.store.all_contacts()
            if c["node_id"] not in exclude and self.is_live(c, now)
        ]

    def call(self, contact: Row, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One control call; bookkeeping of ``lastSeen``/``lastTimeout``.

        :raises ControlError: :class:`FarmerUnreachable` or :class:`FarmerRefused`.
        """
        store = self.services.store
        try:
            result, elapsed = self.services.control.call(
                contact["address"], contact["port"], method, params
            )
        except FarmerUnreachable as exc:
            log.info("farmer %s unreachable: %s", contact["node_id"], exc)
            store.mark_timeout(contact["node_id"], self.services.now_ms())
            raise
        store.mark_seen(contact["node_id"], self.services.now_ms(), round(elapsed * 1000, 3))
        return result

    def consign(
        self,
        data_hash: str,
        data_size: int,
        leaves: list[str],
        exclude: set[str],
        *,
        owner: str,
        avoid: set[str] | frozenset[str] = frozenset(),
    ) -> tuple[Row, str]:
        """Contract a random live farmer outside ``exclude`` for ``owner``'s shard (the
        farmer keeps the shard for the owner's :func:`~storj.local.bridge.util.renter_id`
        once the upload is verified).

        Farmers in ``avoid`` (those already holding another shard of the same frame) are
        tried last, so that losing one farmer costs a file as few shards as possible —
        what Reed–Solomon parity needs to be useful.

        Returns ``(contact as refreshed by the call, PUSH token)``.

        :raises NoFarmerError: nobody accepted after ``consign_attempts`` tries.
        """
        candidates = self.live_contacts(exclude)
        if not candidates:
            raise NoFarmerError(
                "Could not get contract: no storage node is available"
                + (f" ({len(exclude)} excluded)" if exclude else "")
            )
        self._random.shuffle(candidates)
        candidates.sort(key=lambda contact: contact["node_id"] in avoid)  # stable
        last_error = ""
        params = {
            "data_hash": data_hash,
            "data_size": data_size,
            "audit_tree": leaves,
            "renter": renter_id(owner),
        }
        for contact in candidates[: self.services.config.consign_attempts]:
            try:
                result = self.call(contact, "CONSIGN", params)
            except ControlError as exc:
                last_error = str(exc)
                continue
            token = result.get("token")
            if isinstance(token, str) and token:
                return self.services.store.get_contact(contact["node_id"]) or contact, token
            last_error = "farmer answered CONSIGN without a token"
        raise NoFarmerError(f"Could not get contract: {last_error}")

    def retrieve(
        self, data_hash: str, exclude: set[str] | frozenset[str], owner: str
    ) -> Retrieval | None:
        """A PULL token for ``owner``'s copy of ``data_hash`` from the first reachable
        holder: good copies first, then lost ones (never copies that failed an audit), most
        recently seen first, skipping ``exclude`` and farmers that recently timed out."""
        now = self.services.now_ms()
        for holder in self.services.store.holders(data_hash, owner):
            if holder["node_id"] in exclude or not self.is_live(holder, now):
                continue
            try:
                result = self.call(
                    holder, "RETRIEVE", scoped({"data_hash": data_hash}, owner, holder["legacy"])
                )
            except FarmerRefused as exc:
                log.debug("farmer %s refused RETRIEVE: %s", holder["node_id"], exc)
                continue
            except ControlError:
                continue
            token = result.get("token")
            if isinstance(token, str) and token:
                fresh = self.services.store.get_contact(holder["node_id"]) or holder
                return Retrieval(token, fresh)
        return None

    def release(
        self,
        contact: Row,
        data_hash: str,
        renter: str,
        *,
        legacy: bool,
        remove: bool,
        stale_after: float,
    ) -> tuple[int, bool]:
        """Tell ``contact`` that ``renter`` no longer needs ``data_hash`` (``remove``: no
        contract names it there any more, delete it; upload tokens issued more than
        ``stale_after`` seconds ago are void). Returns ``(bytes the farmer freed, busy)``;
        ``busy``: a transfer of the shard is pending there, ask again later.

        :raises ControlError: the farmer could not be reached or refused.
        """
        params: dict[str, Any] = {
            "data_hash": data_hash,
            "renter": renter,
            "remove": remove,
            "stale_after": round(stale_after, 3),
        }
        if legacy:
            params["adopt"] = True
        result = self.call(contact, "RELEASE", params)
        freed = result.get("bytes")
        if not isinstance(freed, int) or isinstance(freed, bool):
            freed = 0
        return freed, result.get("busy") is True

    def ping(self, contact: Row) -> bool:
        """True when the farmer answers a ``PING``."""
        try:
            self.call(contact, "PING", {})
        except ControlError:
            return False
        return True


def scoped(params: dict[str, Any], owner: str, legacy: Any) -> dict[str, Any]:
    """``params`` for a control call about ``owner``'s copy: the owner's ``renter`` id, and
    ``adopt`` for copies stored before farmers recorded renters (schema version 3)."""
    out = dict(params, renter=renter_id(owner))
    if legacy:
        out["adopt"] = True
    return out


"""The Bridge's records of stored copies: contracts, mirrors and farmer releases.

A **contract** is one copy of one shard on one farmer *for one user* — the row is keyed by
``(hash, node_id, owner)``. Two users whose frames name the same shard hash have separate
contracts, so nothing one user does with their own frames (re-sending an index, excluding
farmers, deleting a frame) can replace, confirm or delete a contract of another user;
pointers, mirror listings and repairs only ever look at the requesting user's contracts.

State of a copy:

* ``confirmed`` — the farmer reported (signed, §2.7) that it received and verified the
  shard for this owner, or an audit proved it holds it;
* ``bad`` — why the copy is known to be unusable: ``"audit"`` (it failed a proof),
  ``"lost"`` (its farmer has been unreachable for ``farmer_lost_after``), with
  ``bad_since``; pointers never hand out an ``"audit"`` copy, and a ``"lost"`` one only
  when no good copy answers;
* ``suspect`` — a client reported a failed transfer from it; it is verified (audited)
  before anything else happens;
* ``checked`` — when it was last proved (verified upload, mirror or audit).

A **release** is a deletion a farmer still has to carry out (``RELEASE`` control call):
queued in the same transaction that drops a contract, so a crash never forgets one.

Mixed into :class:`storj.local.bridge.store.Store` (one connection, one lock).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from storj.local.bridge.util import renter_id

__all__ = ["ShardRecords"]

Row = dict[str, Any]

#: The copies of a user's shard that the user's files depend on (a file entry's frame
#: points at the hash). SQL condition on a ``contracts`` row named ``c``.
_NEEDED_BY_FILE = (
    "EXISTS (SELECT 1 FROM pointers p JOIN frames f ON f.id = p.frame "
    "JOIN entries e ON e.frame = f.id WHERE p.hash = c.hash AND f.user_email = c.owner)"
)
#: Any frame of the owner (a file or an upload in progress) points at the hash.
_REFERENCED = (
    "EXISTS (SELECT 1 FROM pointers p JOIN frames f ON f.id = p.frame "
    "WHERE p.hash = c.hash AND f.user_email = c.owner)"
)


class ShardRecords:
    """Contracts, mirrors and releases; see the module docstring."""

    if TYPE_CHECKING:

        def tx(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def _one(self, sql: str, args: Iterable[Any] = ()) -> Row | None: ...

        def _all(self, sql: str, args: Iterable[Any] = ()) -> list[Row]: ...

        def _insert(self, conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None: ...

        @staticmethod
        def _decode_rows(rows: Iterable[sqlite3.Row]) -> list[Row]: ...

    # -- negotiation ------------------------------------------------------------------

    def add_shard(self, pointer: Row, contract: Row) -> None:
        """Store a negotiated shard: the pointer (replacing the same index of the frame)
        and the owner's contract with the chosen farmer; the frame counts as changed.

        When the replaced pointer named another copy that the owner never confirmed and no
        other pointer of the owner uses (a client retrying the index elsewhere), that
        contract is dropped and the farmer told to release it. Only ``contract["owner"]``'s
        rows are ever touched.
        """
        owner = contract["owner"]
        with self.tx() as conn:
            old = conn.execute(
                "SELECT id, hash, node_id FROM pointers WHERE frame = ? AND idx = ?",
                (pointer["frame"], pointer["idx"]),
            ).fetchone()
            if old is not None:
                conn.execute("DELETE FROM pointers WHERE id = ?", (old["id"],))
            self._insert(conn, "pointers", pointer)
            self._upsert_contract(conn, contract)
            if old is not None and old["node_id"]:
                if (old["hash"], old["node_id"]) != (contract["hash"], contract["node_id"]):
                    stale = self._select_contracts(
                        conn,
                        "c.hash = ? AND c.node_id = ? AND c.owner = ? AND c.confirmed = 0 "
                        "AND c.origin = 'upload' AND NOT EXISTS (SELECT 1 FROM pointers p "
                        "JOIN frames f ON f.id = p.frame WHERE p.hash = c.hash "
                        "AND p.node_id = c.node_id AND f.user_email = c.owner)",
                        (old["hash"], old["node_id"], owner),
                    )
                    self._drop(conn, stale, contract["created"])
            conn.execute(
                "UPDATE frames SET updated = ? WHERE id = ?",
                (contract["created"], pointer["frame"]),
            )

    def _upsert_contract(self, conn: sqlite3.Connection, row: Row) -> None:
        """Insert ``row``; an existing good copy of the same owner on the same farmer is kept
        (its term extended), an existing bad one is replaced by the new negotiation."""
        existing = conn.execute(
            "SELECT id, bad FROM contracts WHERE hash = ? AND node_id = ? AND owner = ?",
            (row["hash"], row["node_id"], row["owner"]),
        ).fetchone()
        if existing is not None and existing["bad"] is None:
            conn.execute(
                "UPDATE contracts SET store_end = MAX(store_end, ?) WHERE id = ?",
                (row["store_end"], existing["id"]),
            )
            return
        if existing is not None:
            conn.execute("DELETE FROM contracts WHERE id = ?", (existing["id"],))
        self._insert(conn, "contracts", row)

    # -- queries ----------------------------------------------------------------------

    def _select_contracts(
        self, conn: sqlite3.Connection, where: str, args: Iterable[Any] = ()
    ) -> list[Row]:
        rows = conn.execute(f"SELECT c.* FROM contracts c WHERE {where}", tuple(args))  # noqa: S608
        return self._decode_rows(rows.fetchall())

    def contracts_for(self, data_hash: str, owner: str) -> list[Row]:
        """The owner's copies of ``data_hash``, oldest first."""
        return self._all(
            "SELECT * FROM contracts WHERE hash = ? AND owner = ? ORDER BY created, id",
            (data_hash, owner),
        )

    def get_contract(self, contract_id: str) -> Row | None:
        return self._one("SELECT * FROM contracts WHERE id = ?", (contract_id,))

    def holders(self, data_hash: str, owner: str) -> list[Row]:
        """Contacts holding a copy of the owner's ``data_hash``: good copies first, then
        lost ones, never copies that failed an audit; most recently seen first. Each row is
        the contact plus ``contract_id``, ``bad`` and ``legacy`` of the copy."""
        return self._all(
            "SELECT contacts.*, c.id AS contract_id, c.bad AS bad, c.legacy AS legacy "
            "FROM contracts c JOIN contacts ON contacts.node_id = c.node_id "
            "WHERE c.hash = ? AND c.owner = ? AND (c.bad IS NULL OR c.bad = 'lost') "
            "ORDER BY c.bad IS NOT NULL, contacts.last_seen DESC, contacts.node_id",
            (data_hash, owner),
        )

    def needed_contracts(self) -> list[Row]:
        """Every copy some file depends on (its entry's frame points at the hash)."""
        return self._all(
            f"SELECT c.* FROM contracts c WHERE {_NEEDED_BY_FILE} "  # noqa: S608
            "ORDER BY c.node_id, c.hash, c.owner"
        )

    def contracts_at(self, node_id: str, data_hash: str) -> list[Row]:
        """Every owner's copy of ``data_hash`` on ``node_id``."""
        return self._all(
            "SELECT * FROM contracts WHERE node_id = ? AND hash = ? ORDER BY owner",
            (node_id, data_hash),
        )

    def shard_known(self, data_hash: str) -> bool:
        """True when a pointer or a contract mentions ``data_hash``."""
        return (
            self._one(
                "SELECT 1 AS x FROM contracts WHERE hash = ? UNION ALL "
                "SELECT 1 FROM pointers WHERE hash = ? LIMIT 1",
                (data_hash, data_hash),
            )
            is not None
        )

    def frame_missing_copies(self, frame_id: str, owner: str) -> list[int]:
        """Indexes of the frame's pointers for which the owner holds no contract at all."""
        rows = self._all(
            "SELECT p.idx AS idx FROM pointers p WHERE p.frame = ? AND NOT EXISTS "
            "(SELECT 1 FROM contracts c WHERE c.hash = p.hash AND c.owner = ?) ORDER BY p.idx",
            (frame_id, owner),
        )
        return [int(r["idx"]) for r in rows]

    # -- state of copies --------------------------------------------------------------

    def confirm_copy(self, data_hash: str, node_id: str, renter: str, now: int) -> int:
        """The farmer verified the shard for ``renter``: those copies are good and proved
        now. Returns how many contracts that confirmed."""
        with self.tx() as conn:
            ids = [
                c["id"]
                for c in self._select_contracts(
                    conn, "c.hash = ? AND c.node_id = ?", (data_hash, node_id)
                )
                if renter_id(c["owner"]) == renter
            ]
            for contract_id in ids:
                conn.execute(
                    "UPDATE contracts SET confirmed = 1, bad = NULL, bad_since = NULL, "
                    "suspect = 0, checked = ? WHERE id = ?",
                    (now, contract_id),
                )
            return len(ids)

    def mark_checked(self, contract_ids: Iterable[str], now: int) -> None:
        """These copies just proved they hold the shard (an audit passed)."""
        with self.tx() as conn:
            conn.executemany(
                "UPDATE contracts SET confirmed = 1, bad = NULL, bad_since = NULL, "
                "suspect = 0, checked = ? WHERE id = ?",
                [(now, i) for i in contract_ids],
            )

    def mark_bad(self, contract_ids: Iterable[str], reason: str, now: int) -> None:
        """These copies are unusable (``reason``: ``"audit"`` or ``"lost"``); an earlier
        ``bad_since`` is kept, an ``"audit"`` verdict is not softened to ``"lost"``."""
        with self.tx() as conn:
            conn.executemany(
                "UPDATE contracts SET bad = CASE WHEN bad = 'audit' THEN bad ELSE ? END, "
                "bad_since = COALESCE(bad_since, ?), suspect = 0 WHERE id = ?",
                [(reason, now, i) for i in contract_ids],
            )

    def mark_suspect(self, data_hash: str, node_id: str) -> int:
        """A client reported a failed transfer of ``data_hash`` from ``node_id``: verify
        every owner's copy there. Returns how many copies are now suspect."""
        with self.tx() as conn:
            cur = conn.execute(
                "UPDATE contracts SET suspect = 1 WHERE hash = ? AND node_id = ?",
                (data_hash, node_id),
            )
            return cur.rowcount

    def due_for_check(self, checked_before: int) -> list[Row]:
        """Copies files depend on that are suspect, never proved, or last proved before
        ``checked_before`` (epoch ms)."""
        return self._all(
            f"SELECT c.* FROM contracts c WHERE {_NEEDED_BY_FILE} AND "  # noqa: S608
            "(c.suspect = 1 OR c.checked IS NULL OR c.checked <= ? OR c.bad = 'lost') "
            "ORDER BY c.node_id, c.hash, c.owner",
            (checked_before,),
        )

    def suspect_contracts(self) -> list[Row]:
        return self._all("SELECT * FROM contracts WHERE suspect = 1 ORDER BY node_id, hash")

    # -- dropping copies --------------------------------------------------------------

    def _drop(self, conn: sqlite3.Connection, contracts: list[Row], now: int) -> None:
        """Delete ``contracts`` and queue the farmers' releases (same transaction)."""
        for c in contracts:
            conn.execute("DELETE FROM contracts WHERE id = ?", (c["id"],))
            conn.execute(
                "INSERT OR REPLACE INTO releases (node_id, hash, renter, legacy, created, "
                "attempts) VALUES (?, ?, ?, ?, ?, 0)",
                (c["node_id"], c["hash"], renter_id(c["owner"]), int(bool(c["legacy"])), now),
            )

    def drop_contracts(self, contract_ids: Iterable[str], now: int) -> list[Row]:
        """Delete these copies and queue their releases; returns the deleted rows."""
        ids = list(contract_ids)
        with self.tx() as conn:
            rows = [
                r
                for i in ids
                for r in self._select_contracts(conn, "c.id = ?", (i,))
            ]
            self._drop(conn, rows, now)
        return rows

    def drop_unreferenced(self, now: int) -> list[Row]:
        """Delete every copy no frame of its owner points at (deleted files, replaced
        indexes, removed frames) and queue their releases."""
        with self.tx() as conn:
            rows = self._select_contracts(conn, f"NOT {_REFERENCED}")
            self._drop(conn, rows, now)
        return rows

    def drop_unconfirmed(self, created_before: int, now: int) -> list[Row]:
        """Delete copies never confirmed and created before ``created_before`` that no file
        depends on (abandoned uploads), and queue their releases."""
        with self.tx() as conn:
            rows = self._select_contracts(
                conn, f"c.confirmed = 0 AND c.created <= ? AND NOT {_NEEDED_BY_FILE}",
                (created_before,),
            )
            self._drop(conn, rows, now)
        return rows

    def drop_stale_frames(self, updated_before: int) -> list[Row]:
        """Delete frames no file entry refers to: at once when a file was made from them
        (``locked``: the file was deleted or replaced since), else when they have not
        changed since ``updated_before`` (uploads that never became files); with their
        pointers. Returns the deleted frames."""
        with self.tx() as conn:
            frames = self._decode_rows(
                conn.execute(
                    "SELECT * FROM frames WHERE (locked = 1 OR COALESCE(updated, created) <= ?) "
                    "AND NOT EXISTS (SELECT 1 FROM entries WHERE entries.frame = frames.id)",
                    (updated_before,),
                ).fetchall()
            )
            for frame in frames:
                conn.execute("DELETE FROM pointers WHERE frame = ?", (frame["id"],))
                conn.execute("DELETE FROM frames WHERE id = ?", (frame["id"],))
        return frames

    # -- releases ---------------------------------------------------------------------

    def pending_releases(self) -> list[Row]:
        """Deletions farmers still have to carry out, oldest first."""
        return self._all("SELECT * FROM releases ORDER BY created, node_id, hash")

    def release_status(
        self, node_id: str, data_hash: str, renter: str, pending_since: int
    ) -> tuple[str, bool]:
        """Whether a queued release can be carried out now: ``("obsolete", _)`` when the
        renter holds a copy there again (re-uploaded or mirrored since), ``("wait", _)``
        while a mirror for the renter to that farmer started after ``pending_since`` is
        pending, else ``("go", still_used)`` with ``still_used`` true when any contract
        still names the shard on that farmer."""
        contracts = self.contracts_at(node_id, data_hash)
        if any(renter_id(c["owner"]) == renter for c in contracts):
            return "obsolete", True
        mirrors = self._all(
            "SELECT owner FROM mirrors WHERE hash = ? AND node_id = ? AND status = 'pending' "
            "AND updated > ?",
            (data_hash, node_id, pending_since),
        )
        if any(renter_id(m["owner"]) == renter for m in mirrors):
            return "wait", True
        return "go", bool(contracts)

    def release_done(self, node_id: str, data_hash: str, renter: str) -> None:
        with self.tx() as conn:
            conn.execute(
                "DELETE FROM releases WHERE node_id = ? AND hash = ? AND renter = ?",
                (node_id, data_hash, renter),
            )

    def release_failed(self, node_id: str, data_hash: str, renter: str) -> None:
        with self.tx() as conn:
            conn.execute(
                "UPDATE releases SET attempts = attempts + 1 "
                "WHERE node_id = ? AND hash = ? AND renter = ?",
                (node_id, data_hash, renter),
            )

    # -- mirrors ----------------------------------------------------------------------

    def mirrors_for(self, data_hash: str, owner: str) -> list[Row]:
        return self._all(
            "SELECT * FROM mirrors WHERE hash = ? AND owner = ? ORDER BY created, id",
            (data_hash, owner),
        )

    def mirror_owners(self, data_hash: str, node_id: str, renter: str) -> list[str]:
        """Owners (matching ``renter``) with a mirror of ``data_hash`` to ``node_id``."""
        rows = self._all(
            "SELECT owner FROM mirrors WHERE hash = ? AND node_id = ? ORDER BY owner",
            (data_hash, node_id),
        )
        return [r["owner"] for r in rows if renter_id(r["owner"]) == renter]

    def reserve_mirrors(self, rows: list[Row]) -> None:
        with self.tx() as conn:
            for row in rows:
                conn.execute(
                    "DELETE FROM mirrors WHERE hash = ? AND node_id = ? AND owner = ?",
                    (row["hash"], row["node_id"], row["owner"]),
                )
                self._insert(conn, "mirrors", row)

    def set_mirror_status(
        self, data_hash: str, node_id: str, owner: str, status: str, now: int
    ) -> bool:
        with self.tx() as conn:
            cur = conn.execute(
                "UPDATE mirrors SET status = ?, updated = ? "
                "WHERE hash = ? AND node_id = ? AND owner = ?",
                (status, now, data_hash, node_id, owner),
            )
            return cur.rowcount > 0

    def establish_mirror(self, contract: Row, now: int) -> None:
        """Mark the owner's mirror established and add its (proved) contract, atomically."""
        with self.tx() as conn:
            conn.execute(
                "UPDATE mirrors SET status = 'established', updated = ? "
                "WHERE hash = ? AND node_id = ? AND owner = ?",
                (now, contract["hash"], contract["node_id"], contract["owner"]),
            )
            conn.execute(
                "DELETE FROM contracts WHERE hash = ? AND node_id = ? AND owner = ?",
                (contract["hash"], contract["node_id"], contract["owner"]),
            )
            self._insert(conn, "contracts", contract)

    def needed_groups(self) -> dict[tuple[str, str], list[Row]]:
        """The copies files depend on, grouped by ``(hash, owner)``."""
        groups: dict[tuple[str, str], list[Row]] = {}
        for row in self._all(
            f"SELECT c.* FROM contracts c WHERE {_NEEDED_BY_FILE} "  # noqa: S608
            "ORDER BY c.hash, c.owner, c.created"
        ):
            groups.setdefault((row["hash"], row["owner"]), []).append(row)
        return groups

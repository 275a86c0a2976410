"""SQLite persistence of the local Bridge (``<data_dir>/bridge.sqlite3``).

One connection in WAL mode, guarded by a lock: every read and every write runs under
the lock, every write in one ``BEGIN IMMEDIATE`` transaction, so concurrent requests
cannot interleave half-done updates (nonces and single-use tokens are consumed
atomically). Nothing network-bound ever runs while the lock is held. The file is
created with mode 0600 (it holds password hashes).

Tables: ``users``, ``keys``, ``nonces``, ``buckets``, ``tokens``, ``frames``,
``pointers``, ``entries``, ``contacts`` (version 2 added ``channel``), ``contracts`` (one
per shard hash × farmer × owner since version 3, with the audit leaves, challenges, root
and the state of the copy), ``mirrors`` (per owner), ``releases`` (deletions farmers still
have to carry out), ``reports``, ``outbox`` and ``schema_version``. Schema changes are appended to
:data:`MIGRATIONS`; :meth:`Store.open` applies the missing ones in order, so an existing
data directory is upgraded in place.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from storj.local.bridge.shard_records import ShardRecords

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "DuplicateError", "Store", "StoreClosedError"]

Row = dict[str, Any]

_JSON_COLUMNS = frozenset(
    {
        "pubkeys",
        "public_permissions",
        "tree",
        "challenges",
        "leaves",
        "hmac",
        "erasure",
        "bytes_uploaded",
        "bytes_downloaded",
    }
)

_SCHEMA_V1 = """
CREATE TABLE users (
    email TEXT PRIMARY KEY,
    hashpass TEXT NOT NULL,
    created INTEGER NOT NULL,
    activated INTEGER NOT NULL DEFAULT 0,
    is_free_tier INTEGER NOT NULL DEFAULT 1,
    activator TEXT,
    deactivator TEXT,
    resetter TEXT,
    pending_hashpass TEXT,
    bytes_uploaded TEXT,
    bytes_downloaded TEXT
);
CREATE INDEX users_activator ON users(activator);
CREATE INDEX users_deactivator ON users(deactivator);
CREATE INDEX users_resetter ON users(resetter);

CREATE TABLE keys (
    pubkey TEXT PRIMARY KEY,
    user_email TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created INTEGER NOT NULL
);
CREATE INDEX keys_user ON keys(user_email);

CREATE TABLE nonces (
    user_email TEXT NOT NULL,
    nonce TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (user_email, nonce)
);
CREATE INDEX nonces_created ON nonces(created);

CREATE TABLE buckets (
    id TEXT PRIMARY KEY,
    user_email TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'Active',
    pubkeys TEXT NOT NULL DEFAULT '[]',
    public_permissions TEXT NOT NULL DEFAULT '[]',
    encryption_key TEXT NOT NULL DEFAULT '',
    created INTEGER NOT NULL
);
CREATE INDEX buckets_user ON buckets(user_email, created);

CREATE TABLE tokens (
    token TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    operation TEXT NOT NULL,
    expires INTEGER NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX tokens_expires ON tokens(expires);

CREATE TABLE frames (
    id TEXT PRIMARY KEY,
    user_email TEXT NOT NULL,
    created INTEGER NOT NULL,
    locked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX frames_user ON frames(user_email, created);

CREATE TABLE pointers (
    id TEXT PRIMARY KEY,
    frame TEXT NOT NULL,
    idx INTEGER NOT NULL,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    tree TEXT NOT NULL,
    challenges TEXT NOT NULL,
    parity INTEGER NOT NULL DEFAULT 0,
    node_id TEXT,
    created INTEGER NOT NULL,
    UNIQUE (frame, idx)
);
CREATE INDEX pointers_hash ON pointers(hash);

CREATE TABLE entries (
    id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    frame TEXT NOT NULL,
    mimetype TEXT NOT NULL,
    filename TEXT NOT NULL,
    created INTEGER NOT NULL,
    renewal INTEGER NOT NULL,
    idx TEXT,
    hmac TEXT,
    erasure TEXT
);
CREATE INDEX entries_bucket ON entries(bucket, created);
CREATE INDEX entries_frame ON entries(frame);

CREATE TABLE contacts (
    node_id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    port INTEGER NOT NULL,
    protocol TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    pubkey TEXT,
    space_available INTEGER,
    last_seen INTEGER NOT NULL,
    last_timeout INTEGER,
    response_time REAL,
    created INTEGER NOT NULL
);
CREATE INDEX contacts_last_seen ON contacts(last_seen);

CREATE TABLE contracts (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    node_id TEXT NOT NULL,
    data_size INTEGER NOT NULL,
    store_begin INTEGER NOT NULL,
    store_end INTEGER NOT NULL,
    audit_count INTEGER NOT NULL,
    leaves TEXT NOT NULL,
    challenges TEXT NOT NULL,
    root TEXT,
    origin TEXT NOT NULL DEFAULT 'upload',
    confirmed INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    UNIQUE (hash, node_id)
);
CREATE INDEX contracts_node ON contracts(node_id);

CREATE TABLE mirrors (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    node_id TEXT NOT NULL,
    source_node_id TEXT,
    status TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    UNIQUE (hash, node_id)
);

CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    data_hash TEXT NOT NULL,
    reporter_id TEXT NOT NULL,
    client_id TEXT,
    farmer_id TEXT,
    exchange_start INTEGER,
    exchange_end INTEGER,
    result_code INTEGER NOT NULL,
    result_message TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX reports_hash ON reports(data_hash);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    to_email TEXT NOT NULL,
    kind TEXT NOT NULL,
    token TEXT NOT NULL,
    redirect TEXT,
    created INTEGER NOT NULL
);
"""


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V1.split(";"):
        if statement.strip():
            conn.execute(statement)


def _migrate_to_2(conn: sqlite3.Connection) -> None:
    """Version 2: ``contacts.channel``, a farmer's legacy data channel URL (§6.6)."""
    conn.execute("ALTER TABLE contacts ADD COLUMN channel TEXT")


_CONTRACTS_V3 = """
CREATE TABLE contracts_v3 (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    node_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    data_size INTEGER NOT NULL,
    store_begin INTEGER NOT NULL,
    store_end INTEGER NOT NULL,
    audit_count INTEGER NOT NULL,
    leaves TEXT NOT NULL,
    challenges TEXT NOT NULL,
    root TEXT,
    origin TEXT NOT NULL DEFAULT 'upload',
    confirmed INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    bad TEXT,
    bad_since INTEGER,
    suspect INTEGER NOT NULL DEFAULT 0,
    checked INTEGER,
    legacy INTEGER NOT NULL DEFAULT 0,
    UNIQUE (hash, node_id, owner)
)"""

_MIRRORS_V3 = """
CREATE TABLE mirrors_v3 (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    node_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    source_node_id TEXT,
    status TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    UNIQUE (hash, node_id, owner)
)"""

_RELEASES_V3 = """
CREATE TABLE releases (
    node_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    renter TEXT NOT NULL,
    legacy INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (node_id, hash, renter)
)"""


def _owners_by_hash(conn: sqlite3.Connection) -> dict[str, list[str]]:
    owners: dict[str, list[str]] = {}
    for data_hash, email in conn.execute(
        "SELECT DISTINCT pointers.hash, frames.user_email FROM pointers "
        "JOIN frames ON frames.id = pointers.frame ORDER BY pointers.hash, frames.user_email"
    ):
        owners.setdefault(data_hash, []).append(email)
    return owners


def _migrate_to_3(conn: sqlite3.Connection) -> None:
    """Version 3: every contract and mirror belongs to one user (``owner``), so nothing a
    user does with their own frames can touch another user's copies; a copy can be known
    ``bad`` (why, and since when), ``suspect`` (to verify) and was last ``checked`` (proved)
    at some time; frames record when they last changed (``updated``); deletions the
    farmers still have to carry out wait in ``releases``.

    Existing contracts get the owners of the frames that point at their hash (one row per
    owner, marked ``legacy``: their farmers recorded no renter yet); a contract no frame
    points at keeps the owner ``''`` and is reclaimed by garbage collection.
    """
    from storj.local.bridge.util import new_object_id

    conn.execute("ALTER TABLE frames ADD COLUMN updated INTEGER")
    conn.execute("UPDATE frames SET updated = created")
    owners = _owners_by_hash(conn)
    conn.execute(_CONTRACTS_V3)
    columns = (
        "id, hash, node_id, data_size, store_begin, store_end, audit_count, leaves, "
        "challenges, root, origin, confirmed, created"
    )
    for row in conn.execute(f"SELECT {columns} FROM contracts").fetchall():  # noqa: S608
        for n, owner in enumerate(owners.get(row[1], [""])):
            values = list(row)
            if n:
                values[0] = new_object_id(int(row[12]))
            conn.execute(
                f"INSERT INTO contracts_v3 ({columns}, owner, legacy) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                [*values, owner],
            )
    conn.execute("DROP TABLE contracts")
    conn.execute("ALTER TABLE contracts_v3 RENAME TO contracts")
    conn.execute("CREATE INDEX contracts_node ON contracts(node_id)")
    conn.execute("CREATE INDEX contracts_hash_owner ON contracts(hash, owner)")
    conn.execute(_MIRRORS_V3)
    for row in conn.execute(
        "SELECT id, hash, node_id, source_node_id, status, created, updated FROM mirrors"
    ).fetchall():
        for n, owner in enumerate(owners.get(row[1], [])):
            values = list(row)
            if n:
                values[0] = new_object_id(int(row[5]))
            conn.execute(
                "INSERT INTO mirrors_v3 (id, hash, node_id, source_node_id, status, created, "
                "updated, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [*values, owner],
            )
    conn.execute("DROP TABLE mirrors")
    conn.execute("ALTER TABLE mirrors_v3 RENAME TO mirrors")
    conn.execute("CREATE INDEX mirrors_hash_owner ON mirrors(hash, owner)")
    conn.execute(_RELEASES_V3)
    conn.execute("CREATE INDEX frames_updated ON frames(updated)")


#: ``MIGRATIONS[n]`` upgrades a database at version ``n`` to version ``n + 1``.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _migrate_to_1,
    _migrate_to_2,
    _migrate_to_3,
]

#: The schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)


class StoreClosedError(RuntimeError):
    """The store was used after :meth:`Store.close` (the server is stopping)."""


class DuplicateError(Exception):
    """An insert hit a unique constraint (same bucket name, key, file name, …)."""


def _decode(row: sqlite3.Row | None) -> Row | None:
    if row is None:
        return None
    out: Row = {}
    for key in row.keys():  # noqa: SIM118 - sqlite3.Row is not a mapping
        value = row[key]
        if key in _JSON_COLUMNS and value is not None:
            value = json.loads(value)
        out[key] = value
    return out


def _decode_all(rows: Iterable[sqlite3.Row]) -> list[Row]:
    return [r for r in (_decode(row) for row in rows) if r is not None]


def _encode(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return int(value)
    return value


def _assignments(fields: dict[str, Any]) -> tuple[str, list[Any]]:
    for name in fields:
        if not name.isidentifier():  # column names come from our code only
            raise ValueError(f"bad column name {name!r}")
    return ", ".join(f"{name} = ?" for name in fields), [_encode(v) for v in fields.values()]


class Store(ShardRecords):
    """The Bridge's tables behind one locked SQLite connection (the records of stored
    copies are in :class:`~storj.local.bridge.shard_records.ShardRecords`)."""

    _decode_rows = staticmethod(_decode_all)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    # -- life cycle -------------------------------------------------------------------

    def open(self) -> Store:
        """Create or open the database file (mode 0600) and bring its schema up to date."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        conn = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=10.0
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        with self._lock:
            self._conn = conn
            self._migrate()
        return self

    def close(self) -> None:
        """Close the connection; later calls raise :class:`StoreClosedError`."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def closed(self) -> bool:
        return self._conn is None

    def _migrate(self) -> None:
        with self.tx() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            current = row[0] if row else 0
            if current > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has schema version {current}; this storj only knows "
                    f"{SCHEMA_VERSION}: upgrade storj or use another data directory"
                )
            for version in range(current, SCHEMA_VERSION):
                MIGRATIONS[version](conn)
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            else:
                conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run the block in one immediate transaction."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreClosedError("the Bridge store is closed")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _one(self, sql: str, args: Iterable[Any] = ()) -> Row | None:
        with self._lock:
            if self._conn is None:
                raise StoreClosedError("the Bridge store is closed")
            return _decode(self._conn.execute(sql, tuple(args)).fetchone())

    def _all(self, sql: str, args: Iterable[Any] = ()) -> list[Row]:
        with self._lock:
            if self._conn is None:
                raise StoreClosedError("the Bridge store is closed")
            return _decode_all(self._conn.execute(sql, tuple(args)).fetchall())

    def _insert(self, conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        try:
            conn.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608 - fixed names
                [_encode(v) for v in row.values()],
            )
        except sqlite3.IntegrityError as exc:
            raise DuplicateError(str(exc)) from None

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            return self._one("SELECT 1 AS ok") is not None
        except (sqlite3.Error, StoreClosedError):
            return False

    # -- users ------------------------------------------------------------------------

    def create_user(self, row: Row, pubkey: Row | None = None) -> None:
        """Insert a user (and optionally its first public key) atomically."""
        with self.tx() as conn:
            self._insert(conn, "users", row)
            if pubkey is not None:
                self._insert(conn, "keys", pubkey)

    def get_user(self, email: str) -> Row | None:
        return self._one("SELECT * FROM users WHERE email = ?", (email,))

    def user_by(self, column: str, token: str) -> Row | None:
        """The user whose ``activator``/``deactivator``/``resetter`` equals ``token``."""
        if column not in ("activator", "deactivator", "resetter"):
            raise ValueError(column)
        return self._one(f"SELECT * FROM users WHERE {column} = ?", (token,))  # noqa: S608

    def update_user(self, email: str, **fields: Any) -> Row | None:
        sets, args = _assignments(fields)
        with self.tx() as conn:
            conn.execute(f"UPDATE users SET {sets} WHERE email = ?", [*args, email])  # noqa: S608
            return _decode(conn.execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone())

    def add_transfer(
        self, email: str, column: str, nbytes: int, update: Callable[[Any, int], Any]
    ) -> Any:
        """Apply ``update(counters, nbytes)`` to ``bytes_uploaded``/``bytes_downloaded``."""
        if column not in ("bytes_uploaded", "bytes_downloaded"):
            raise ValueError(column)
        with self.tx() as conn:
            row = conn.execute(
                f"SELECT {column} FROM users WHERE email = ?",  # noqa: S608
                (email,),
            ).fetchone()
            if row is None:
                return None
            current = json.loads(row[0]) if row[0] else None
            new = update(current, nbytes)
            conn.execute(
                f"UPDATE users SET {column} = ? WHERE email = ?",  # noqa: S608
                (json.dumps(new), email),
            )
            return new

    # -- outbox -----------------------------------------------------------------------

    def add_outbox(self, row: Row) -> None:
        with self.tx() as conn:
            self._insert(conn, "outbox", row)

    def outbox(self, email: str | None = None) -> list[Row]:
        if email is None:
            return self._all("SELECT * FROM outbox ORDER BY id")
        return self._all("SELECT * FROM outbox WHERE to_email = ? ORDER BY id", (email,))

    # -- keys -------------------------------------------------------------------------

    def add_key(self, row: Row) -> None:
        with self.tx() as conn:
            self._insert(conn, "keys", row)

    def get_key(self, pubkey: str) -> Row | None:
        return self._one("SELECT * FROM keys WHERE pubkey = ?", (pubkey,))

    def list_keys(self, email: str) -> list[Row]:
        return self._all("SELECT * FROM keys WHERE user_email = ? ORDER BY created", (email,))

    def delete_key(self, pubkey: str, email: str) -> bool:
        with self.tx() as conn:
            cur = conn.execute(
                "DELETE FROM keys WHERE pubkey = ? AND user_email = ?", (pubkey, email)
            )
            return cur.rowcount > 0

    # -- nonces -----------------------------------------------------------------------

    def use_nonce(self, email: str, nonce: str, now: int, ttl_ms: int) -> bool:
        """Remember ``nonce`` for ``email``; False when it was used within ``ttl_ms``."""
        with self.tx() as conn:
            conn.execute("DELETE FROM nonces WHERE created <= ?", (now - ttl_ms,))
            try:
                conn.execute(
                    "INSERT INTO nonces (user_email, nonce, created) VALUES (?, ?, ?)",
                    (email, nonce, now),
                )
            except sqlite3.IntegrityError:
                return False
            return True

    # -- buckets ----------------------------------------------------------------------

    def create_bucket(self, row: Row) -> None:
        with self.tx() as conn:
            self._insert(conn, "buckets", row)

    def get_bucket(self, bucket_id: str) -> Row | None:
        return self._one("SELECT * FROM buckets WHERE id = ?", (bucket_id,))

    def bucket_by_name(self, email: str, name: str) -> Row | None:
        return self._one("SELECT * FROM buckets WHERE user_email = ? AND name = ?", (email, name))

    def list_buckets(self, email: str, after: int | None, limit: int) -> list[Row]:
        return self._all(
            "SELECT * FROM buckets WHERE user_email = ? AND created > ? "
            "ORDER BY created, rowid LIMIT ?",
            (email, -1 if after is None else after, limit),
        )

    def update_bucket(self, bucket_id: str, **fields: Any) -> Row | None:
        sets, args = _assignments(fields)
        with self.tx() as conn:
            if fields:
                conn.execute(
                    f"UPDATE buckets SET {sets} WHERE id = ?",  # noqa: S608
                    [*args, bucket_id],
                )
            return _decode(
                conn.execute("SELECT * FROM buckets WHERE id = ?", (bucket_id,)).fetchone()
            )

    def delete_bucket(self, bucket_id: str) -> None:
        """Remove the bucket, its entries and its tokens (frames and contracts stay)."""
        with self.tx() as conn:
            conn.execute("DELETE FROM entries WHERE bucket = ?", (bucket_id,))
            conn.execute("DELETE FROM tokens WHERE bucket = ?", (bucket_id,))
            conn.execute("DELETE FROM buckets WHERE id = ?", (bucket_id,))

    # -- bucket tokens ----------------------------------------------------------------

    def add_token(self, row: Row, now: int) -> None:
        with self.tx() as conn:
            conn.execute("DELETE FROM tokens WHERE expires <= ?", (now - 86_400_000,))
            self._insert(conn, "tokens", row)

    def consume_token(self, token: str, now: int) -> Row | None:
        """Return the token if it is unexpired, expiring it in the same transaction."""
        with self.tx() as conn:
            row = _decode(
                conn.execute(
                    "SELECT * FROM tokens WHERE token = ? AND expires > ?", (token, now)
                ).fetchone()
            )
            if row is not None:
                conn.execute("UPDATE tokens SET expires = ? WHERE token = ?", (now, token))
            return row

    # -- frames and pointers ----------------------------------------------------------

    def create_frame(self, row: Row) -> None:
        with self.tx() as conn:
            self._insert(conn, "frames", row)

    def get_frame(self, frame_id: str) -> Row | None:
        return self._one("SELECT * FROM frames WHERE id = ?", (frame_id,))

    def list_frames(self, email: str) -> list[Row]:
        return self._all(
            "SELECT * FROM frames WHERE user_email = ? ORDER BY created, rowid", (email,)
        )

    def frame_referenced(self, frame_id: str) -> bool:
        return (
            self._one("SELECT 1 AS x FROM entries WHERE frame = ? LIMIT 1", (frame_id,)) is not None
        )

    def delete_frame(self, frame_id: str) -> None:
        with self.tx() as conn:
            conn.execute("DELETE FROM pointers WHERE frame = ?", (frame_id,))
            conn.execute("DELETE FROM frames WHERE id = ?", (frame_id,))

    def frame_totals(self, frame_id: str) -> tuple[int, int]:
        """``(size, storageSize)``: bytes of data shards, bytes of all shards (2018)."""
        row = self._one(
            "SELECT COALESCE(SUM(CASE WHEN parity THEN 0 ELSE size END), 0) AS size, "
            "COALESCE(SUM(size), 0) AS storage FROM pointers WHERE frame = ?",
            (frame_id,),
        )
        assert row is not None
        return int(row["size"]), int(row["storage"])

    def frame_pointer_ids(self, frame_id: str) -> list[str]:
        rows = self._all("SELECT id FROM pointers WHERE frame = ? ORDER BY idx", (frame_id,))
        return [r["id"] for r in rows]

    def pointers(self, frame_id: str, skip: int = 0, limit: int | None = None) -> list[Row]:
        """Pointers with ``skip <= index < skip + limit``, sorted by index."""
        upper = 2**62 if limit is None else skip + limit
        return self._all(
            "SELECT * FROM pointers WHERE frame = ? AND idx >= ? AND idx < ? ORDER BY idx",
            (frame_id, skip, upper),
        )

    # -- entries ----------------------------------------------------------------------

    def insert_entry(self, row: Row, *, replace: bool) -> Row:
        """Insert a bucket entry and lock its frame; with ``replace`` an entry with the same
        id in the same bucket (same name) is overwritten, else :class:`DuplicateError`.

        The replacement is one transaction: readers see the old entry or the new one,
        never neither. The old entry's frame, pointers and contracts stay (a frame no
        entry refers to is left for garbage collection).
        """
        with self.tx() as conn:
            if replace:
                conn.execute(
                    "DELETE FROM entries WHERE id = ? AND bucket = ?", (row["id"], row["bucket"])
                )
            self._insert(conn, "entries", row)
            conn.execute("UPDATE frames SET locked = 1 WHERE id = ?", (row["frame"],))
        return row

    def get_entry(self, bucket_id: str, entry_id: str) -> Row | None:
        return self._one("SELECT * FROM entries WHERE id = ? AND bucket = ?", (entry_id, bucket_id))

    def list_entries(self, bucket_id: str, after: int | None, limit: int) -> list[Row]:
        return self._all(
            "SELECT * FROM entries WHERE bucket = ? AND created > ? "
            "ORDER BY created, rowid LIMIT ?",
            (bucket_id, -1 if after is None else after, limit),
        )

    def delete_entry(self, bucket_id: str, entry_id: str) -> bool:
        with self.tx() as conn:
            cur = conn.execute(
                "DELETE FROM entries WHERE id = ? AND bucket = ?", (entry_id, bucket_id)
            )
            return cur.rowcount > 0

    # -- contacts ---------------------------------------------------------------------

    def upsert_contact(self, row: Row) -> Row:
        """Insert or refresh a farmer contact; a re-registration clears ``lastTimeout``."""
        with self.tx() as conn:
            existing = conn.execute(
                "SELECT created FROM contacts WHERE node_id = ?", (row["node_id"],)
            ).fetchone()
            if existing is None:
                self._insert(conn, "contacts", row)
            else:
                fields = {k: v for k, v in row.items() if k not in ("node_id", "created")}
                fields["last_timeout"] = None
                sets, args = _assignments(fields)
                conn.execute(
                    f"UPDATE contacts SET {sets} WHERE node_id = ?",  # noqa: S608
                    [*args, row["node_id"]],
                )
            out = _decode(
                conn.execute(
                    "SELECT * FROM contacts WHERE node_id = ?", (row["node_id"],)
                ).fetchone()
            )
        assert out is not None
        return out

    def update_contact(self, node_id: str, **fields: Any) -> Row | None:
        sets, args = _assignments(fields)
        with self.tx() as conn:
            conn.execute(f"UPDATE contacts SET {sets} WHERE node_id = ?", [*args, node_id])  # noqa: S608
            return _decode(
                conn.execute("SELECT * FROM contacts WHERE node_id = ?", (node_id,)).fetchone()
            )

    def get_contact(self, node_id: str) -> Row | None:
        return self._one("SELECT * FROM contacts WHERE node_id = ?", (node_id,))

    def list_contacts(self, filters: dict[str, Any], offset: int, limit: int) -> list[Row]:
        where = " AND ".join(f"{column} = ?" for column in filters) or "1 = 1"
        for column in filters:
            if column not in ("address", "port", "protocol", "user_agent"):
                raise ValueError(column)
        return self._all(
            f"SELECT * FROM contacts WHERE {where} "  # noqa: S608 - fixed column names
            "ORDER BY last_seen DESC, node_id LIMIT ? OFFSET ?",
            [*filters.values(), limit, offset],
        )

    def all_contacts(self) -> list[Row]:
        return self._all("SELECT * FROM contacts ORDER BY last_seen DESC, node_id")

    def _touch_contact(self, conn: sqlite3.Connection, update: Row) -> None:
        conn.execute(
            "UPDATE contacts SET last_seen = ?, response_time = COALESCE(?, response_time) "
            "WHERE node_id = ?",
            (update["last_seen"], update.get("response_time"), update["node_id"]),
        )

    def mark_seen(self, node_id: str, now: int, response_time: float | None = None) -> None:
        with self.tx() as conn:
            self._touch_contact(
                conn, {"node_id": node_id, "last_seen": now, "response_time": response_time}
            )

    def mark_timeout(self, node_id: str, now: int) -> None:
        with self.tx() as conn:
            conn.execute("UPDATE contacts SET last_timeout = ? WHERE node_id = ?", (now, node_id))

    # -- reports ----------------------------------------------------------------------

    def add_report(self, row: Row) -> None:
        with self.tx() as conn:
            self._insert(conn, "reports", row)

    def reports(self, data_hash: str) -> list[Row]:
        return self._all("SELECT * FROM reports WHERE data_hash = ? ORDER BY id", (data_hash,))

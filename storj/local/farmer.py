"""A farmer (storage node) of the local Storj network.

Each :class:`FarmerNode` is one HTTP server on loopback that speaks the farmer side of
the v2 protocol (``bridge-protocol.md`` §6) and the local Bridge → farmer control
channel (§5.4, ``docs/internals.rst`` "The local network"):

``POST /shards/<hash>?token=<token>``
    Upload a shard. The body (``Content-Length`` or chunked) is streamed to a temporary
    file in the farmer's directory while it is hashed with ``RIPEMD160(SHA256(.))``;
    nothing is kept in memory. Answers are exactly those of §6.1 with ``{"result": ...}``
    bodies (§6.4).
``GET /shards/<hash>?token=<token>``
    Download a shard, streamed from disk (§6.2).
``POST /``
    Control calls from the Bridge (``CONSIGN``, ``RETRIEVE``, ``MIRROR``, ``AUDIT``),
    accepted only with the header ``x-storj-control-secret``.
``ws://<address>:<channel_port>`` (only with ``FarmerConfig.legacy_channel``)
    The legacy WebSocket data channel (§6.6, :mod:`storj.local.channel`): the same
    tokens, contracts, shard files, size and hash checks and exchange reports as the
    HTTP routes; registered with the Bridge as the contact's ``channel``.

Local choices (allowed by §6.3 and §5.4, documented here because clients can see them):

* transfer tokens are bound to the shard hash **and** to the operation: a ``CONSIGN``
  token (PUSH) only works for ``POST``, a ``RETRIEVE`` token (PULL) only for ``GET``;
  the wrong one is refused with 401 ``Token not valid for operation``;
* tokens live in memory (like core 6) and are lost when the farmer restarts;
* a ``:hash`` that is not 40 lowercase hex characters is refused with 400 before any
  token check or file-system access; any other path is 404;
* ``x-storj-node-id`` must be absent or this farmer's nodeID (no tunnels): other values
  get 400;
* a well-formed control call always answers 200 with ``{"id", "result"}`` or
  ``{"id", "error": {"message"}}`` (JSON-RPC style); an unreadable one answers 400 with
  an ``error`` object (``{"id": null, "error": {"message": "Expected {id, method,
  params} as JSON…"}}``, also for ``NaN``/``Infinity`` and for strings that are not
  Unicode text, such as a lone surrogate escape ``"\\ud800"``); one whose
  ``Content-Length`` is over 4 MiB answers 413 before it is read; a missing or wrong
  secret answers 401 ``{"result": "Not authorized"}``;
* an upload whose ``Content-Length`` is larger than the contract is refused with 400
  ``Shard exceeds the amount defined in the contract`` before any byte is read;
* the HTTP layer (shared with the Bridge, :mod:`storj.local._http`) refuses requests
  whose framing is ambiguous or malformed before they reach the routes: both
  ``Content-Length`` and ``Transfer-Encoding``, a coding other than ``chunked``, two or
  a non-decimal ``Content-Length``, malformed or folded header lines, NUL in a header,
  a request target that is not printable ASCII → 400; a ``Content-Length`` over 2^63-1
  → 413; too many or too long header lines → 431, a request line over 64 KiB → 414.
  These answers are ``{"result": message}`` like the routes' and close the connection;
* exchange reports are sent once the farmer's transfers have been quiet for
  ``report_quiet`` seconds (at most ``report_max_delay`` late), mirror reports at once,
  so that reporting does not compete with a transfer for the machine's CPU; they are
  signed with the farmer headers of §2.7 and carry ``renterId`` (below);
* an upload of a shard the farmer already stores is received and verified like any
  other (no ``304``/``SHARD_EXISTS`` shortcut): knowing a hash is not proof of having
  the bytes, and the verified copy replaces one that may have rotted;
* a stored shard is kept *for renters* (the Bridge's id of the user whose data it is,
  sent with ``CONSIGN``/``MIRROR``/``RETRIEVE``/``AUDIT``/``RELEASE``): a renter is
  recorded when a verified upload or mirror for it completes, and a ``RETRIEVE``,
  ``AUDIT`` or ``RELEASE`` for a renter that never stored the bytes answers ``Shard data
  not found``. ``RELEASE {data_hash, renter, remove}`` forgets the renter and, with
  ``remove``, deletes the shard once no renter keeps it and no upload of it is pending;
  ``PING`` answers the ``nodeID``;
* at most ``max_connections`` connections are served at once (one thread each); one
  more is answered 503 ``{"error": ...}`` with ``Retry-After`` and closed;
* the data directory is private: directories 0700, ``farmer.sqlite3`` (with its
  ``-wal``/``-shm``), ``identity.key`` and the shard files 0600, tightened at each start;
* logs never show a transfer token: request lines are logged without their query
  string, and the HTTP layer's own error lines and mirror failures with ``token=<token>``.

At :meth:`FarmerNode.start` the farmer registers with the Bridge through ``POST /contacts``
signed with its secp256k1 identity (the 2018 farmer authentication, §2.7, without the
proof of work). The signature is ``storj.keys.sign(identity, message)`` — ECDSA over
``SHA256(message)``, DER hex — where ``message`` is the bytes of
``METHOD + fullURL + timestamp + rawBody`` (``"POST"``, the exact URL requested, the
decimal millisecond timestamp also sent as ``x-node-timestamp``, the raw JSON body).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import re
import secrets
import shutil
import socket
import sqlite3
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs

import requests
from werkzeug.exceptions import ClientDisconnected
from werkzeug.serving import BaseWSGIServer
from werkzeug.wsgi import get_content_length, get_input_stream

from storj import keys
from storj.api import is_node_id, is_shard_hash, ripemd160, rmd160sha256_hex
from storj.exception import (
    BridgeError,
    BridgeTransportError,
    ConfigurationError,
    bridge_error_for_status,
)
from storj.local._files import FILE_MODE, private_dir, private_file, private_sqlite
from storj.local._http import (
    InvalidJSON,
    LimitedWSGIServer,
    LocalRequestHandler,
    parse_json_body,
    redact,
)
from storj.metadata import __version__

__all__ = [
    "CONTROL_SECRET_HEADER",
    "FarmerConfig",
    "FarmerNode",
    "TokenError",
    "TokenStore",
    "TransferToken",
    "load_or_create_identity",
    "registration_message",
]

log = logging.getLogger("storj.local.farmer")

#: Header carrying the shared secret of the control channel (``POST /``).
CONTROL_SECRET_HEADER = "x-storj-control-secret"  # noqa: S105 - a header name

PUSH = "PUSH"
PULL = "PULL"

#: Exchange report result codes (§4.10).
SUCCESS = 1000
FAILURE = 1100

#: §6.1 / §6.2 messages, sent verbatim as ``{"result": ...}``.
# ruff: noqa: S105 (messages about tokens are not passwords)
MSG_NO_TOKEN = "You did not supply a token"
MSG_TOKEN_NOT_ACCEPTED = "The supplied token is not accepted"
MSG_NO_HASH = "You did not supply the data hash"
MSG_TOKEN_EXPIRED = "Token has expired"
MSG_TOKEN_WRONG_HASH = "Token not valid for hash"
MSG_TOKEN_WRONG_OPERATION = "Token not valid for operation"  # local choice, see module doc
MSG_TOO_LARGE = "Shard exceeds the amount defined in the contract"
MSG_HASH_MISMATCH = "Calculated hash does not match the expected result"
MSG_COMPLETED = "Consignment completed"
MSG_NOT_AUTHORIZED = "Not authorized"
MSG_INTERNAL = "Internal error"

_CHUNK = 1024 * 1024
_MAX_CONTROL_BODY = 4 * 1024 * 1024
_SHARD_ROUTE = re.compile(r"^/shards/([^/]*)/?$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_IDENTITY_FILE = "identity.key"
_DB_FILE = "farmer.sqlite3"


def _now_ms() -> int:
    return int(time.time() * 1000)


# --------------------------------------------------------------------------------------
# Configuration and identity
# --------------------------------------------------------------------------------------


@dataclass
class FarmerConfig:
    """Settings of one farmer node.

    :param data_dir: the farmer's directory (identity, contracts database, shards).
    :param bridge_url: the Bridge to register with and to send exchange reports to;
        ``None`` runs the farmer alone (no registration, no reports).
    :param control_secret: the secret the Bridge must send in ``x-storj-control-secret``.
    :param host: address to bind.
    :param public_address: address advertised in the contact; ``None`` advertises
        ``host`` (loopback when ``host`` is a wildcard such as ``0.0.0.0``).
    :param port: port to bind; 0 picks a free one.
    :param token_ttl: lifetime of transfer tokens in seconds (core 6: 30 min).
    :param max_shard_bytes: the largest shard a ``CONSIGN``/``MIRROR`` may announce.
    :param space_available: bytes advertised to the Bridge as ``spaceAvailable``;
        ``None`` advertises the free space of the file system holding ``data_dir``.
    :param user_agent: the contact's ``userAgent``.
    :param protocol: the contact's ``protocol`` (core 8 uses ``"1.2.0"``).
    :param request_timeout: seconds to wait for the Bridge or a mirror source.
    :param client_timeout: seconds a client connection may stay silent, and the time it
        has to send a whole request line and headers (slow clients are cut off).
    :param legacy_channel: also serve the legacy WebSocket data channel (§6.6,
        :class:`storj.local.channel.ChannelServer`) with the same tokens, storage and
        checks, and register it with the Bridge as ``channel: "ws://address:port"``.
    :param channel_port: the data channel's port; 0 picks a free one.
    :param report_quiet: exchange reports wait until no transfer has ended for this many
        seconds (so they do not compete with transfers for the CPU of the machine) ...
    :param report_max_delay: ... but at most this many seconds.
    :param max_connections: connections served at once; one more is answered 503
        ``{"error": ...}`` with ``Retry-After`` and closed (no thread is started for it).
    """

    data_dir: str | os.PathLike[str]
    bridge_url: str | None = None
    control_secret: str = ""
    host: str = "127.0.0.1"
    public_address: str | None = None
    port: int = 0
    token_ttl: float = 1800.0
    max_shard_bytes: int = 4 * 1024**3
    space_available: int | None = None
    user_agent: str = f"storj-python-local/{__version__}"
    protocol: str = "1.2.0"
    request_timeout: float = 30.0
    client_timeout: float = 300.0
    legacy_channel: bool = False
    channel_port: int = 0
    report_quiet: float = 0.25
    report_max_delay: float = 2.0
    max_connections: int = 256


def load_or_create_identity(path: str | os.PathLike[str]) -> str:
    """Return the 64-hex secp256k1 private key stored in ``path``, creating it if absent.

    A new file is created exclusively with mode 0600 and holds the key as hex plus a
    newline. An existing file readable by others is tightened to 0600.

    :raises ConfigurationError: the file exists but does not hold a key.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if p.stat().st_mode & 0o077:
            log.warning("identity key %s was readable by others; setting mode 0600", p)
            os.chmod(p, 0o600)
        try:
            text = p.read_text(encoding="ascii").strip()
            keys.load_private_key(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"{p} does not hold a secp256k1 private key ({exc}); restore it, or delete it "
                "to give this farmer a new identity (its stored shards become unreachable)"
            ) from None
        return text.lower()
    private_hex = keys.private_key_hex(keys.generate_new_key_pair()[0])
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (private_hex + "\n").encode("ascii"))
    finally:
        os.close(fd)
    return private_hex


def registration_message(method: str, full_url: str, timestamp_ms: int | str, body: bytes) -> bytes:
    """The bytes a farmer signs for the Bridge: ``METHOD ‖ fullURL ‖ timestamp ‖ rawBody``.

    ``storj.keys.sign`` signs them with ECDSA-SHA256, i.e. over their SHA-256 digest.
    """
    return (
        method.upper().encode("ascii")
        + full_url.encode("utf-8")
        + str(timestamp_ms).encode("ascii")
        + body
    )


# --------------------------------------------------------------------------------------
# Transfer tokens
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferToken:
    """A farmer transfer token (§6.3): 40 hex, bound to one hash and one operation."""

    token: str
    data_hash: str
    operation: str
    expires: float
    #: The Bridge's id of the user whose data this transfer carries (``None``: unscoped).
    renter: str | None = None
    #: The most bytes a PUSH may send (the contract's ``data_size``), ``None`` for a PULL.
    size: int | None = None


class TokenError(Exception):
    """A token check failed; ``str(error)`` is the §6.1 message."""


class TokenStore:
    """In-memory, thread-safe farmer tokens with expiry and single use.

    Expired tokens answer ``Token has expired`` for a while and are reaped later (when
    new tokens are issued), after which they answer ``The supplied token is not accepted``.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self._clock = clock
        self._tokens: dict[str, TransferToken] = {}
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def issue(
        self,
        data_hash: str,
        operation: str,
        *,
        renter: str | None = None,
        size: int | None = None,
    ) -> TransferToken:
        """Create a token ``hex(RMD160(SHA256(512 random bytes)))`` for ``data_hash``,
        carrying the ``renter`` it is for and (PUSH) the contracted ``size``."""
        now = self._clock()
        token = TransferToken(
            token=rmd160sha256_hex(secrets.token_bytes(512)),
            data_hash=data_hash,
            operation=operation,
            expires=now + self.ttl,
            renter=renter,
            size=size,
        )
        grace = max(self.ttl, 60.0)
        with self._lock:
            stale = [t for t, v in self._tokens.items() if v.expires + grace < now]
            for t in stale:
                del self._tokens[t]
            self._tokens[token.token] = token
        return token

    def check(self, token: str | None, data_hash: str | None, operation: str) -> TransferToken:
        """Return the token record, or raise :class:`TokenError` with the first §6.1 failure.

        Order: no token · unknown token · no hash · expired · other hash · other operation.
        """
        if not token:
            raise TokenError(MSG_NO_TOKEN)
        with self._lock:
            record = self._tokens.get(token)
        if record is None:
            raise TokenError(MSG_TOKEN_NOT_ACCEPTED)
        if not data_hash:
            raise TokenError(MSG_NO_HASH)
        if record.expires <= self._clock():
            raise TokenError(MSG_TOKEN_EXPIRED)
        if record.data_hash != data_hash:
            raise TokenError(MSG_TOKEN_WRONG_HASH)
        if record.operation != operation:
            raise TokenError(MSG_TOKEN_WRONG_OPERATION)
        return record

    def claim(self, token: str | None, data_hash: str | None, operation: str) -> TransferToken:
        """:meth:`check` and mark the token busy until :meth:`release` or :meth:`revoke`.

        A token is single use: while one transfer holds it, a second request with the
        same token is refused (``The supplied token is not accepted``), even in the
        moment between the last byte of a download and the revocation that follows it.
        """
        record = self.check(token, data_hash, operation)
        with self._lock:
            if record.token in self._busy or record.token not in self._tokens:
                raise TokenError(MSG_TOKEN_NOT_ACCEPTED)
            self._busy.add(record.token)
        return record

    def release(self, token: str) -> None:
        """End a claim without using the token up (the transfer failed; it may be retried)."""
        with self._lock:
            self._busy.discard(token)

    def revoke(self, token: str) -> None:
        """Forget ``token`` (single use)."""
        with self._lock:
            self._tokens.pop(token, None)
            self._busy.discard(token)

    def revoke_older(self, data_hash: str, operation: str, age: float) -> int:
        """Forget the ``operation`` tokens for ``data_hash`` issued more than ``age``
        seconds ago; returns how many."""
        issued_before = self._clock() - age
        with self._lock:
            old = [
                t.token
                for t in self._tokens.values()
                if t.data_hash == data_hash
                and t.operation == operation
                and t.expires - self.ttl < issued_before
                and t.token not in self._busy
            ]
            for token in old:
                del self._tokens[token]
        return len(old)

    def pending(self, data_hash: str, operation: str) -> bool:
        """True while an unexpired ``operation`` token for ``data_hash`` exists."""
        now = self._clock()
        with self._lock:
            return any(
                t.data_hash == data_hash and t.operation == operation and t.expires > now
                for t in self._tokens.values()
            )

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


# --------------------------------------------------------------------------------------
# Contracts (SQLite)
# --------------------------------------------------------------------------------------


#: A renter recorded for shards stored before renters were recorded (data directories
#: of storj < 1.1): the Bridge may hand such a shard to the first renter it names with
#: ``adopt`` (its own records say who owns the copy).
LEGACY_RENTER = "*"


class ContractStore:
    """Contracts (shard hash → size), the audit leaves received with them, and the
    renters a stored shard is kept for.

    One hash can be consigned several times with different challenges (the same bytes
    uploaded twice), so every distinct leaf list is kept. A shard file is shared by every
    renter that proved it has the bytes (a verified upload or mirror for that renter); a
    renter that never did cannot retrieve, audit or release it. A single connection
    guarded by a lock serves all server threads.
    """

    _VERSION = 2

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def open(self, has_shard: Callable[[str], bool] = lambda data_hash: False) -> None:
        """Open (creating) the database; shards stored before renters were recorded
        (``has_shard``) get the :data:`LEGACY_RENTER`."""
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS contracts ("
            " data_hash TEXT PRIMARY KEY, data_size INTEGER NOT NULL,"
            " created INTEGER NOT NULL, renter TEXT)"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS audit_trees ("
            " data_hash TEXT NOT NULL, leaves TEXT NOT NULL,"
            " PRIMARY KEY (data_hash, leaves))"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS renters ("
            " data_hash TEXT NOT NULL, renter TEXT NOT NULL, PRIMARY KEY (data_hash, renter))"
        )
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version < self._VERSION:
            db.execute("BEGIN")
            for (data_hash,) in db.execute("SELECT data_hash FROM contracts").fetchall():
                if has_shard(data_hash):
                    db.execute(
                        "INSERT OR IGNORE INTO renters (data_hash, renter) VALUES (?, ?)",
                        (data_hash, LEGACY_RENTER),
                    )
            db.execute(f"PRAGMA user_version = {self._VERSION}")
            db.execute("COMMIT")
        self._db = db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the farmer's contract database is closed")
        return self._db

    def put(self, data_hash: str, data_size: int, leaves: list[str], renter: str | None) -> None:
        """Record the contract for ``data_hash`` (the first size stays: the bytes of a hash
        never change) and remember its leaves."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN")
            try:
                db.execute(
                    "INSERT INTO contracts (data_hash, data_size, created, renter)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(data_hash) DO NOTHING",
                    (data_hash, data_size, _now_ms(), renter),
                )
                if leaves:
                    db.execute(
                        "INSERT OR IGNORE INTO audit_trees (data_hash, leaves) VALUES (?, ?)",
                        (data_hash, json.dumps(leaves, separators=(",", ":"))),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def size(self, data_hash: str) -> int | None:
        """The contracted size of ``data_hash``, or ``None`` without a contract."""
        with self._lock:
            row = (
                self._conn()
                .execute("SELECT data_size FROM contracts WHERE data_hash = ?", (data_hash,))
                .fetchone()
            )
        return None if row is None else int(row[0])

    def trees(self, data_hash: str) -> list[list[str]]:
        """Every leaf list received for ``data_hash``."""
        with self._lock:
            rows = (
                self._conn()
                .execute("SELECT leaves FROM audit_trees WHERE data_hash = ?", (data_hash,))
                .fetchall()
            )
        return [json.loads(r[0]) for r in rows]

    def renters(self, data_hash: str) -> set[str]:
        """The renters ``data_hash`` is stored for."""
        with self._lock:
            rows = (
                self._conn()
                .execute("SELECT renter FROM renters WHERE data_hash = ?", (data_hash,))
                .fetchall()
            )
        return {str(r[0]) for r in rows}

    def add_renter(self, data_hash: str, renter: str) -> None:
        """``renter`` proved it has the bytes of ``data_hash`` (or was adopted)."""
        with self._lock:
            self._conn().execute(
                "INSERT OR IGNORE INTO renters (data_hash, renter) VALUES (?, ?)",
                (data_hash, renter),
            )

    def remove_renter(self, data_hash: str, renter: str) -> set[str]:
        """Forget ``renter`` for ``data_hash``; returns the renters that remain."""
        with self._lock:
            db = self._conn()
            db.execute(
                "DELETE FROM renters WHERE data_hash = ? AND renter = ?", (data_hash, renter)
            )
            rows = db.execute(
                "SELECT renter FROM renters WHERE data_hash = ?", (data_hash,)
            ).fetchall()
        return {str(r[0]) for r in rows}

    def forget(self, data_hash: str) -> None:
        """Drop the contract, leaves and renters of ``data_hash``."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN")
            try:
                for table in ("contracts", "audit_trees", "renters"):
                    db.execute(
                        f"DELETE FROM {table} WHERE data_hash = ?",  # noqa: S608 - fixed names
                        (data_hash,),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def count(self) -> int:
        with self._lock:
            return int(self._conn().execute("SELECT COUNT(*) FROM contracts").fetchone()[0])


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


class _Hasher:
    """``RIPEMD160(SHA256(.))`` over a stream."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self._sha.update(chunk)
        self.size += len(chunk)

    def hexdigest(self) -> str:
        return ripemd160(self._sha.digest()).hex()


def _copy_limited(chunks: Iterable[bytes | memoryview], out: BinaryIO, limit: int) -> _Hasher:
    """Write ``chunks`` to ``out`` while hashing; raise :class:`_TooLarge` past ``limit``."""
    hasher = _Hasher()
    for chunk in chunks:
        if not chunk:
            continue
        if hasher.size + len(chunk) > limit:
            raise _TooLarge
        hasher.update(chunk)
        out.write(chunk)
    return hasher


def _read_chunks(stream: Any) -> Iterator[bytes | memoryview]:
    """``stream``'s bytes in chunks of up to ``_CHUNK``; with ``readinto``, views of one
    reused buffer (each is valid until the next one is asked for)."""
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        while chunk := stream.read(_CHUNK):
            yield chunk
        return
    view = memoryview(bytearray(_CHUNK))
    while got := readinto(view):
        yield view[:got]


def _local_session() -> requests.Session:
    """A session that ignores proxy variables: every peer of a farmer is local."""
    session = requests.Session()
    session.trust_env = False
    return session


_Body = Iterable[bytes]
_Reply = tuple[int, list[tuple[str, str]], _Body]

_STATUS_TEXT = {
    200: "OK",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    500: "Internal Server Error",
}

_CORS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
    (
        "Access-Control-Allow-Headers",
        "Content-Type, x-storj-node-id, x-storj-client-id, " + CONTROL_SECRET_HEADER,
    ),
]


def _json_reply(status: int, payload: Any) -> _Reply:
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    headers = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ]
    return status, headers, [body]


def _result(status: int, message: str) -> _Reply:
    return _json_reply(status, {"result": message})


class _ShardStream:
    """WSGI body streaming a shard file; runs ``on_complete`` after the last byte and
    ``on_close`` when the body is closed (complete or not).

    The body closes itself (file and claim) as soon as its iteration ends, also when the
    server abandons it half way: werkzeug skips ``close()`` when the client drops the
    connection while the server drains the request, and the file would stay open (and
    the token claimed) until garbage collection. :meth:`close` may be called again.

    When :attr:`sendfile_to` is set (by :meth:`FarmerNode._serve`, only when the body
    goes straight to werkzeug's server, never through fault-injection middleware), the
    first item is ``b""`` (werkzeug sends the headers) and the file then goes to that
    socket with ``socket.sendfile`` (``os.sendfile``: no copies through Python).
    """

    def __init__(
        self,
        handle: BinaryIO,
        size: int,
        on_complete: Callable[[], None],
        on_error: Callable[[Exception], None],
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        self._handle = handle
        self._left = size
        self._on_complete = on_complete
        self._on_error = on_error
        self._on_close = on_close
        self.sendfile_to: socket.socket | None = None
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks()
        finally:  # ended, failed, or abandoned by the server (GeneratorExit)
            self.close()

    def _chunks(self) -> Iterator[bytes]:
        if self.sendfile_to is not None and self._left > 0:
            yield b""  # werkzeug writes the status line and headers
            sent = self.sendfile_to.sendfile(self._handle, 0, self._left)
            if sent != self._left:  # the file shrank under us; socket errors propagate
                self._on_error(OSError("shard file is shorter than its recorded size"))
                return
            self._left = 0
            self._on_complete()
            return
        try:
            while self._left > 0:
                chunk = self._handle.read(min(_CHUNK, self._left))
                if not chunk:
                    raise OSError("shard file is shorter than its recorded size")
                self._left -= len(chunk)
                yield chunk
        except OSError as exc:
            self._on_error(exc)
            return
        self._on_complete()

    def close(self) -> None:
        """Close the file and run ``on_close``, once."""
        if self._closed:
            return
        self._closed = True
        try:
            self._handle.close()
        finally:
            self._on_close()


class _QuietRequestHandler(LocalRequestHandler):
    """Werkzeug's handler without its own access log (the farmer logs each request);
    the request head must arrive within ``head_timeout``, a request with ambiguous
    framing is refused, and the errors the HTTP layer answers itself are
    ``{"result": message}`` like the farmer's other errors
    (:class:`storj.local._http.LocalRequestHandler`)."""

    protocol_version = "HTTP/1.1"
    #: Seconds a connection may stay silent before it is dropped (a stalled client must
    #: not hold a server thread forever).
    timeout = 300

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def error_payload(self, message: str) -> dict[str, Any]:
        return {"result": message}

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        text = (message % args if args else message).rstrip()
        # an unparsable request line is quoted in the message: never its token
        log.debug("%s: %s", self.address_string(), redact(text))


class _DeferredReports:
    """A farmer's exchange reports, sent from one thread once its transfers are quiet.

    A report is sent when no transfer has ended for ``quiet`` seconds, or at the latest
    ``max_delay`` seconds after it was made. The protocol does not say when a farmer
    reports; a local network shares its CPU with the client it serves, and a report
    per shard sent in the middle of a transfer would slow that transfer down (the same
    reasoning defers the Bridge's automatic mirroring). :meth:`close` sends what is
    still queued (best effort) and stops the thread.

    ``clock`` (``time.monotonic``) decides when reports are due; tests may pass a fake
    clock. The thread looks at it again at least every ``min(quiet, max_delay)`` seconds.
    """

    def __init__(
        self,
        send: Callable[[dict[str, Any]], None],
        *,
        quiet: float,
        max_delay: float,
        on_close: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._on_close = on_close
        self._clock = clock
        self._quiet = quiet
        self._max_delay = max_delay
        self._queue: list[tuple[float, dict[str, Any]]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._urgent = False
        self._thread = threading.Thread(target=self._run, name="storj-farmer-report", daemon=True)
        self._thread.start()

    def submit(self, report: dict[str, Any], *, urgent: bool = False) -> None:
        """Queue ``report``; it also marks the end of a transfer. ``urgent`` sends the
        queue now (the Bridge waits for it, e.g. to count a mirror)."""
        with self._cond:
            if self._closed:
                return
            self._queue.append((self._clock(), report))
            self._urgent = self._urgent or urgent
            self._cond.notify()

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def _due(self) -> list[dict[str, Any]]:
        """Wait for the next batch (empty: closed and nothing left)."""
        with self._cond:
            while True:
                if self._queue:
                    now = self._clock()
                    wait = min(
                        self._queue[-1][0] + self._quiet - now,
                        self._queue[0][0] + self._max_delay - now,
                    )
                    if wait <= 0 or self._closed or self._urgent:
                        batch = [report for _made, report in self._queue]
                        self._queue.clear()
                        self._urgent = False
                        return batch
                    self._cond.wait(wait)
                elif self._closed:
                    return []
                else:
                    self._cond.wait()

    def _run(self) -> None:
        try:
            while batch := self._due():
                for report in batch:
                    try:
                        self._send(report)
                    except Exception:  # a bug must not silence the reports that follow
                        log.exception("exchange report %s not sent", report.get("dataHash"))
        finally:
            self._on_close()


# --------------------------------------------------------------------------------------
# The node
# --------------------------------------------------------------------------------------


@dataclass
class _State:
    server: BaseWSGIServer
    thread: threading.Thread
    contracts: ContractStore
    reports: _DeferredReports
    mirrors: ThreadPoolExecutor
    stopping: threading.Event = field(default_factory=threading.Event)
    #: Hashes a MIRROR is copying right now (not released meanwhile).
    mirroring: set[str] = field(default_factory=set)
    #: The legacy data channel (a :class:`storj.local.channel.ChannelServer`), if served.
    channel: Any = None


class FarmerNode:
    """One local farmer: shard server, control endpoint and Bridge registration.

    Nothing touches the disk or the network until :meth:`start` (except reading or
    creating the identity key when :attr:`node_id` is first asked for). A node can be
    started again after :meth:`stop`; it keeps its identity and shards, gets a new port
    when ``config.port`` is 0, and registers again.

    :param clock: the time source of transfer-token expiry (``time.time``); tests may
        pass a fake clock instead of waiting for tokens to expire.
    """

    def __init__(self, config: FarmerConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.data_dir = Path(config.data_dir)
        self.tokens = TokenStore(config.token_ttl, clock)
        self._private_hex: str | None = None
        self._public_hex = ""
        self._node_id = ""
        self._identity_lock = threading.Lock()
        #: Serialises putting a verified shard in place with releasing shards.
        self._store_lock = threading.Lock()
        self._state: _State | None = None
        self._last_seen = 0
        self._faults: Any = None
        self._faulty_app: Callable[..., Iterable[bytes]] | None = None

    # ----------------------------------------------------------------- identity

    def _private_key(self) -> str:
        with self._identity_lock:
            if self._private_hex is None:
                private_dir(self.data_dir)
                private_hex = load_or_create_identity(self.data_dir / _IDENTITY_FILE)
                private = keys.load_private_key(private_hex)
                self._public_hex = keys.public_key_hex(private)
                self._node_id = keys.node_id(private)
                self._private_hex = private_hex
            return self._private_hex

    @property
    def public_key(self) -> str:
        """Compressed SEC1 hex of the identity's public key (``x-node-pubkey``)."""
        self._private_key()
        return self._public_hex

    @property
    def node_id(self) -> str:
        """``hex(RIPEMD160(SHA256(compressed public key)))`` of the persistent identity."""
        self._private_key()
        return self._node_id

    # ----------------------------------------------------------------- addresses

    @property
    def running(self) -> bool:
        return self._state is not None

    @property
    def address(self) -> str:
        """The address advertised in the contact (``public_address``, else ``host``)."""
        if self.config.public_address:
            return self.config.public_address
        return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(  # noqa: S104
            self.config.host, self.config.host
        )

    @property
    def port(self) -> int:
        """The bound port (``config.port`` before :meth:`start`)."""
        if self._state is not None:
            return int(self._state.server.server_port)
        return self.config.port

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"

    @property
    def channel_url(self) -> str | None:
        """``ws://address:port`` of the running legacy data channel, else ``None``."""
        state = self._state
        if state is None or state.channel is None:
            return None
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"ws://{host}:{state.channel.port}"

    @property
    def contact(self) -> dict[str, Any]:
        """The contact as pointers carry it (``lastSeen`` in epoch milliseconds), plus
        ``channel`` while a legacy data channel is served."""
        contact = {
            "address": self.address,
            "port": self.port,
            "nodeID": self.node_id,
            "protocol": self.config.protocol,
            "userAgent": self.config.user_agent,
            "lastSeen": self._last_seen or _now_ms(),
        }
        channel = self.channel_url
        if channel is not None:
            contact["channel"] = channel
        return contact

    @property
    def shards_dir(self) -> Path:
        return self.data_dir / "shards"

    def shard_path(self, data_hash: str) -> Path:
        """``<data_dir>/shards/<hash>``; ``data_hash`` must be 40 lowercase hex."""
        if not is_shard_hash(data_hash):
            raise ValueError("a shard hash is 40 lowercase hexadecimal characters")
        return self.shards_dir / data_hash

    def has_shard(self, data_hash: str) -> bool:
        return self.shard_path(data_hash).is_file()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FarmerNode:
        """Bind the HTTP server, then register with the Bridge (when ``bridge_url`` is set).

        Everything under ``data_dir`` is made private first (directories 0700, files
        0600). At most ``config.max_connections`` connections are served at once.

        :raises BridgeError: the Bridge refused or could not be reached; the server is
            stopped again.
        """
        if self._state is not None:
            return self
        self._private_key()
        self._make_private()
        for leftover in (self.data_dir / "tmp").iterdir():
            leftover.unlink(missing_ok=True)
        contracts = ContractStore(self.data_dir / _DB_FILE)
        contracts.open(self.has_shard)
        try:
            server = LimitedWSGIServer(
                self.config.host,
                self.config.port,
                self._serve,
                type(
                    "FarmerRequestHandler",
                    (_QuietRequestHandler,),
                    {
                        "timeout": self.config.client_timeout,
                        "head_timeout": self.config.client_timeout,
                    },
                ),
                max_connections=self.config.max_connections,
                logger=log,
            )
        except BaseException:
            contracts.close()
            raise
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"storj-farmer-{server.server_port}",
            daemon=True,
        )
        self._state = _State(
            server=server,
            thread=thread,
            contracts=contracts,
            reports=self._report_sender(),
            mirrors=ThreadPoolExecutor(2, thread_name_prefix="storj-farmer-mirror"),
        )
        thread.start()
        if self.config.legacy_channel:
            try:
                self._state.channel = self._channel_server().start()
            except BaseException:
                self.stop()
                raise
        if self.config.bridge_url:
            try:
                self.register()
            except BaseException:
                self.stop()
                raise
        log.info("farmer %s listening on %s", self.node_id, self.url)
        return self

    def _make_private(self) -> None:
        """Directories 0700 and files 0600 under ``data_dir``: created so, and tightened
        when an older version left them open to others (shards are written 0600)."""
        private_dir(self.data_dir)
        private_dir(self.data_dir / "tmp")
        private_dir(self.shards_dir)
        private_sqlite(self.data_dir / _DB_FILE)
        for shard in self.shards_dir.iterdir():
            if shard.is_file() and stat.S_IMODE(shard.stat().st_mode) != FILE_MODE:
                private_file(shard)

    def stop(self) -> None:
        """Stop serving, drop pending reports and mirrors, close the database."""
        state, self._state = self._state, None
        if state is None:
            return
        state.stopping.set()
        state.server.shutdown()
        state.server.server_close()
        state.thread.join(timeout=5)
        if state.channel is not None:
            state.channel.stop()
        state.reports.close()
        state.mirrors.shutdown(wait=False, cancel_futures=True)
        state.contracts.close()

    def __enter__(self) -> FarmerNode:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._state else "stopped"
        return f"FarmerNode({str(self.data_dir)!r}, port={self.port}, {state})"

    # ----------------------------------------------------------------- legacy data channel

    def _channel_server(self) -> Any:
        """A :class:`~storj.local.channel.ChannelServer` on ``config.channel_port`` wired
        to this farmer's tokens, contracts and shard directory (not started)."""
        from storj.local.channel import ChannelServer

        return ChannelServer(
            self.config.host,
            self.config.channel_port,
            authorize=self._channel_authorize,
            open_shard=self._channel_open_shard,
            store_shard=self._channel_store_shard,
            temp_dir=self.data_dir / "tmp",
        )

    def _channel_authorize(self, token: str, data_hash: str, operation: str) -> Any:
        """The channel's ``authorize``: the same token check as HTTP (§6.3: bound to the
        hash and the operation), a PUSH limited to the contract's size; success revokes
        the token and reports ``SHARD_UPLOADED``/``SHARD_DOWNLOADED``, failure reports
        ``FAILED_INTEGRITY``/``TRANSFER_FAILED`` (PUSH) or ``READ_FAILED``/
        ``TRANSFER_FAILED`` (PULL)."""
        from storj.local.channel import CLOSE_FAILED_INTEGRITY, CLOSE_UNEXPECTED, ChannelGrant

        try:
            record = self.tokens.check(token, data_hash, operation)
        except TokenError:
            return None
        start_ms = _now_ms()
        if operation == PUSH:
            size = self._push_limit(record)
            done, integrity = "SHARD_UPLOADED", (CLOSE_FAILED_INTEGRITY, "FAILED_INTEGRITY")
        else:
            size = None
            done, integrity = "SHARD_DOWNLOADED", (CLOSE_UNEXPECTED, "READ_FAILED")

        def consume() -> None:
            self.tokens.revoke(record.token)
            if operation == PUSH and record.renter is not None:
                self._require_state().contracts.add_renter(data_hash, record.renter)
            self._report(data_hash, SUCCESS, done, start_ms, renter=record.renter)

        def on_failure(code: int, reason: str) -> None:
            message = integrity[1] if code == integrity[0] else "TRANSFER_FAILED"
            self._report(data_hash, FAILURE, message, start_ms, renter=record.renter)

        return ChannelGrant(size=size, consume=consume, on_failure=on_failure)

    def _channel_open_shard(self, data_hash: str) -> BinaryIO | None:
        try:
            return open(self.shard_path(data_hash), "rb")  # closed by the channel server
        except FileNotFoundError:
            return None

    def _channel_store_shard(self, data_hash: str, temp: Path) -> None:
        with self._store_lock:
            os.replace(temp, self.shard_path(data_hash))

    def _push_limit(self, record: TransferToken) -> int | None:
        """The most bytes a PUSH with ``record`` may send: the size its contract named."""
        if record.size is not None:
            return record.size
        return self._require_state().contracts.size(record.data_hash)

    def _keep(
        self, state: _State, data_hash: str, verified: Path, size: int, renter: str | None
    ) -> None:
        """Move a verified copy of ``data_hash`` into place and keep it for ``renter``
        (atomically with respect to :meth:`_release`)."""
        with self._store_lock:
            os.replace(verified, self.shard_path(data_hash))
            state.contracts.put(data_hash, size, [], renter)
            if renter is not None:
                state.contracts.add_renter(data_hash, renter)

    # ----------------------------------------------------------------- Bridge calls

    def register(self) -> dict[str, Any]:
        """``POST {bridge_url}/contacts`` with the signed farmer headers (§2.7).

        Body ``{address, port, protocol, userAgent, spaceAvailable}``, plus ``channel``
        (``ws://address:port``) while a legacy data channel is served; the Bridge answers
        ``{nodeID, address, port}``.
        """
        if not self.config.bridge_url:
            raise BridgeError("this farmer has no bridge_url to register with")
        url = self.config.bridge_url.rstrip("/") + "/contacts"
        fields: dict[str, Any] = {
            "address": self.address,
            "port": self.port,
            "protocol": self.config.protocol,
            "userAgent": self.config.user_agent,
            "spaceAvailable": self._space_available(),
        }
        channel = self.channel_url
        if channel is not None:
            fields["channel"] = channel
        body = json.dumps(fields, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", **self.signed_headers("POST", url, body)}
        try:
            with _local_session() as session:
                response = session.post(
                    url, data=body, headers=headers, timeout=self.config.request_timeout
                )
        except requests.RequestException as exc:
            raise BridgeTransportError(
                f"cannot reach the Bridge to register farmer {self.node_id}: {exc}; "
                "check that the Bridge is running at bridge_url",
                method="POST",
                url=url,
            ) from exc
        if response.status_code not in (200, 201):
            try:
                message = str(response.json().get("error", response.text))
            except ValueError:
                message = response.text
            raise bridge_error_for_status(response.status_code)(
                f"the Bridge refused to register farmer {self.node_id}: {message}",
                status_code=response.status_code,
                method="POST",
                url=url,
                body=response.text,
            )
        self._last_seen = _now_ms()
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        return answer if isinstance(answer, dict) else {}

    def _space_available(self) -> int:
        if self.config.space_available is not None:
            return self.config.space_available
        try:
            return int(shutil.disk_usage(self.data_dir).free)
        except OSError:
            return 0

    def _report(
        self,
        data_hash: str,
        code: int,
        message: str,
        start_ms: int,
        client_id: str | None = None,
        *,
        renter: str | None = None,
        urgent: bool = False,
    ) -> None:
        """Queue an exchange report (§4.10, §6.5) for the background sender
        (:class:`_DeferredReports`; ``urgent`` for the mirror reports the Bridge waits for).

        ``renterId`` (a local extension) names the renter the transfer was for, so the
        Bridge knows whose copy a success confirms."""
        state = self._state
        if state is None or not self.config.bridge_url:
            return
        report: dict[str, Any] = {
            "dataHash": data_hash,
            "reporterId": self.node_id,
            "farmerId": self.node_id,
            "exchangeStart": start_ms,
            "exchangeEnd": _now_ms(),
            "exchangeResultCode": code,
            "exchangeResultMessage": message,
        }
        if client_id:
            report["clientId"] = client_id
        if renter:
            report["renterId"] = renter
        state.reports.submit(report, urgent=urgent)

    def _report_sender(self) -> _DeferredReports:
        """The background sender of this node's reports (one session for all of them)."""
        session = _local_session()

        def send(report: dict[str, Any]) -> None:
            self._send_report(report, session)

        return _DeferredReports(
            send,
            quiet=self.config.report_quiet,
            max_delay=self.config.report_max_delay,
            on_close=session.close,
        )

    def signed_headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        """The farmer authentication headers of §2.7 for a request to the Bridge:
        ``x-node-id``, ``x-node-pubkey``, ``x-node-timestamp`` and ``x-node-signature`` over
        ``METHOD ‖ url ‖ timestamp ‖ body``."""
        timestamp = _now_ms()
        private = self._private_key()
        return {
            "x-node-id": self.node_id,
            "x-node-pubkey": self.public_key,
            "x-node-timestamp": str(timestamp),
            "x-node-signature": keys.sign(
                private, registration_message(method, url, timestamp, body)
            ),
        }

    def _send_report(self, report: dict[str, Any], session: requests.Session) -> None:
        """``POST /reports/exchanges``, signed as this farmer (§2.7) so that the Bridge can
        trust what the report says about this farmer's copies."""
        url = str(self.config.bridge_url).rstrip("/") + "/reports/exchanges"
        body = json.dumps(report, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", **self.signed_headers("POST", url, body)}
        try:
            response = session.post(
                url, data=body, headers=headers, timeout=self.config.request_timeout
            )
            if response.status_code not in (200, 201):
                log.warning(
                    "exchange report %s for %s refused: %s %s",
                    report["exchangeResultMessage"],
                    report["dataHash"],
                    response.status_code,
                    response.text[:200],
                )
        except requests.RequestException as exc:
            log.warning("exchange report for %s not sent: %s", report["dataHash"], exc)

    # ----------------------------------------------------------------- WSGI

    @property
    def faults(self) -> Any:
        """The fault injector requests go through (``None``: none); see :meth:`set_faults`."""
        return self._faults

    def set_faults(self, faults: Any) -> None:
        """Run every request through ``faults`` (a :class:`storj.local.faults.FaultInjector`,
        or anything with ``wrap(app) -> app``); ``None`` removes it.

        For tests of misbehaving farmers. Takes effect at once, running or not.
        """
        self._faulty_app = None if faults is None else faults.wrap(self._wsgi)
        self._faults = faults

    def _serve(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        app = self._faulty_app
        if app is not None:
            return app(environ, start_response)
        body = self._wsgi(environ, start_response)
        if isinstance(body, _ShardStream):  # straight to the server: os.sendfile is safe
            body.sendfile_to = environ.get("werkzeug.socket")
        return body

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "") or "/"
        shown = ascii(path)[1:-1]  # no control characters in the log
        try:
            status, headers, body = self._dispatch(method, path, environ)
        except Exception:
            log.exception("farmer %s: %s %s failed", self.port, method, shown)
            status, headers, body = _result(500, MSG_INTERNAL)
        start_response(f"{status} {_STATUS_TEXT.get(status, 'Unknown')}", headers + _CORS)
        log.info(
            "farmer :%s %s %s %s %s %.1fms",
            environ.get("SERVER_PORT", "-"),
            environ.get("REMOTE_ADDR", "-"),
            method,
            shown,  # never the query string: it carries the token
            status,
            (time.perf_counter() - started) * 1000,
        )
        return body

    def _dispatch(self, method: str, path: str, environ: dict[str, Any]) -> _Reply:
        if method == "OPTIONS":
            return 204, [("Content-Length", "0")], []
        if path == "/":
            if method != "POST":
                return _result(405, "Method not allowed")
            return self._control(environ)
        match = _SHARD_ROUTE.match(path)
        if match is None:
            return _result(404, "Not found")
        if method not in ("GET", "POST"):
            return _result(405, "Method not allowed")
        data_hash = match.group(1)
        if data_hash and not is_shard_hash(data_hash):
            return _result(400, "Invalid shard hash: expected 40 lowercase hex characters")
        target = environ.get("HTTP_X_STORJ_NODE_ID")
        if target and target != self.node_id:
            return _result(400, f"This farmer is {self.node_id}; tunnelling is not supported")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        token = (query.get("token") or [""])[0]
        operation = PUSH if method == "POST" else PULL
        try:
            record = self.tokens.claim(token, data_hash, operation)
        except TokenError as exc:
            return _result(401, str(exc))
        client_id = environ.get("HTTP_X_STORJ_CLIENT_ID") or None
        reply: _Reply | None = None
        try:
            if method == "POST":
                reply = self._upload(record, environ, client_id)
            else:
                reply = self._download(record, client_id)
            return reply
        finally:
            # a download keeps its claim until its body is closed (see _ShardStream)
            if reply is None or not isinstance(reply[2], _ShardStream):
                self.tokens.release(record.token)

    # ----------------------------------------------------------------- shards

    def _upload(
        self, record: TransferToken, environ: dict[str, Any], client_id: str | None
    ) -> _Reply:
        start_ms = _now_ms()
        data_hash = record.data_hash
        limit = self._push_limit(record)
        if limit is None:
            return _result(404, f"No contract for shard {data_hash}")
        renter = record.renter
        declared = get_content_length(environ)
        if declared is not None and declared > limit:  # refused before reading a byte
            self._report(data_hash, FAILURE, "FAILED_INTEGRITY", start_ms, client_id, renter=renter)
            return _result(400, MSG_TOO_LARGE)
        # An existing copy is not taken as proof: whoever pushes must send the bytes (a
        # client that only knows the hash must not gain another renter's data), and a
        # verified push replaces a copy that may have rotted.
        stream = get_input_stream(environ, safe_fallback=True)
        fd, tmp_name = tempfile.mkstemp(prefix=data_hash + ".", dir=self.data_dir / "tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                hasher = _copy_limited(_read_chunks(stream), out, limit)
        except _TooLarge:
            tmp.unlink(missing_ok=True)
            self._report(data_hash, FAILURE, "FAILED_INTEGRITY", start_ms, client_id, renter=renter)
            return _result(400, MSG_TOO_LARGE)
        except (OSError, ClientDisconnected, ValueError) as exc:
            tmp.unlink(missing_ok=True)
            log.info("upload of %s interrupted: %s", data_hash, exc)
            self._report(data_hash, FAILURE, "TRANSFER_FAILED", start_ms, client_id, renter=renter)
            return _result(400, "The upload was interrupted before the end of the shard")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if hasher.hexdigest() != data_hash:
            tmp.unlink(missing_ok=True)
            self._report(data_hash, FAILURE, "FAILED_INTEGRITY", start_ms, client_id, renter=renter)
            return _result(400, MSG_HASH_MISMATCH)
        self._keep(self._require_state(), data_hash, tmp, limit, renter)
        self.tokens.revoke(record.token)
        self._report(data_hash, SUCCESS, "SHARD_UPLOADED", start_ms, client_id, renter=renter)
        return _result(200, MSG_COMPLETED)

    def _download(self, record: TransferToken, client_id: str | None) -> _Reply:
        start_ms = _now_ms()
        data_hash = record.data_hash
        try:
            handle = open(self.shard_path(data_hash), "rb")  # closed by _ShardStream.close
        except FileNotFoundError:
            return _result(404, "Shard data not found")
        try:
            size = os.fstat(handle.fileno()).st_size
        except OSError:
            handle.close()
            raise

        def complete() -> None:
            self.tokens.revoke(record.token)
            self._report(
                data_hash, SUCCESS, "SHARD_DOWNLOADED", start_ms, client_id, renter=record.renter
            )

        def failed(exc: Exception) -> None:
            log.error("reading shard %s failed: %s", data_hash, exc)
            self._report(
                data_hash, FAILURE, "READ_FAILED", start_ms, client_id, renter=record.renter
            )

        headers = [
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", str(size)),
        ]
        return 200, headers, _ShardStream(
            handle, size, complete, failed, lambda: self.tokens.release(record.token)
        )

    def _require_state(self) -> _State:
        state = self._state
        if state is None:
            raise RuntimeError("the farmer is stopped")
        return state

    # ----------------------------------------------------------------- control

    def _control(self, environ: dict[str, Any]) -> _Reply:
        secret = environ.get("HTTP_" + CONTROL_SECRET_HEADER.upper().replace("-", "_"), "")
        expected = self.config.control_secret
        if not expected or not hmac.compare_digest(
            secret.encode("utf-8", "surrogateescape"), expected.encode("utf-8")
        ):
            return _result(401, MSG_NOT_AUTHORIZED)
        too_large = _json_reply(413, {"id": None, "error": {"message": "Message too large"}})
        declared = get_content_length(environ)
        if declared is not None and declared > _MAX_CONTROL_BODY:  # refused before reading
            return too_large
        stream = get_input_stream(environ, safe_fallback=True)
        raw = stream.read(_MAX_CONTROL_BODY + 1)
        if len(raw) > _MAX_CONTROL_BODY:
            return too_large
        expected = "Expected {id, method, params} as JSON"
        try:
            message = parse_json_body(raw)
        except InvalidJSON as exc:
            message = None
            if exc.detail:
                expected += f": {exc.detail}"
        if not isinstance(message, dict) or not isinstance(message.get("method"), str):
            return _json_reply(400, {"id": None, "error": {"message": expected}})
        call_id = message.get("id")
        params = message.get("params") or {}
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CONSIGN": self._consign,
            "RETRIEVE": self._retrieve,
            "MIRROR": self._mirror,
            "AUDIT": self._audit,
            "RELEASE": self._release,
            "PING": self._ping,
        }
        handler = handlers.get(message["method"].upper())
        if handler is None:
            error = f"Unknown method {message['method']!r}"
            return _json_reply(200, {"id": call_id, "error": {"message": error}})
        if not isinstance(params, dict):
            return _json_reply(200, {"id": call_id, "error": {"message": "Invalid params"}})
        try:
            result = handler(params)
        except _ControlError as exc:
            return _json_reply(200, {"id": call_id, "error": {"message": str(exc)}})
        return _json_reply(200, {"id": call_id, "result": result})

    def _contract_params(self, params: dict[str, Any]) -> tuple[str, int, list[str]]:
        data_hash = _hash_param(params)
        size = params.get("data_size")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise _ControlError("Invalid data_size: expected a positive integer")
        if size > self.config.max_shard_bytes:
            raise _ControlError(
                f"Shard of {size} bytes exceeds this farmer's limit of "
                f"{self.config.max_shard_bytes} bytes"
            )
        tree = params.get("audit_tree", [])
        if not isinstance(tree, list) or not all(is_shard_hash(leaf) for leaf in tree):
            raise _ControlError("Invalid audit_tree: expected a list of 40-hex leaves")
        return data_hash, size, [str(leaf) for leaf in tree]

    @staticmethod
    def _renter(params: dict[str, Any]) -> str | None:
        """``params["renter"]``: the Bridge's id of the user the call is for (40 hex), or
        ``None`` when the call is not scoped to a renter."""
        renter = params.get("renter")
        if renter is None:
            return None
        if not is_node_id(renter):
            raise _ControlError("Invalid renter: expected 40 hex characters")
        return str(renter)

    def _check_renter(
        self, state: _State, data_hash: str, renter: str | None, adopt: bool
    ) -> None:
        """The shard must be stored for ``renter`` (any renter when unscoped); with
        ``adopt`` a shard kept for the :data:`LEGACY_RENTER` is taken over by ``renter``."""
        if renter is None:
            return
        renters = state.contracts.renters(data_hash)
        if renter in renters:
            return
        if adopt and LEGACY_RENTER in renters:
            state.contracts.add_renter(data_hash, renter)
            return
        raise _ControlError("Shard data not found")

    def _consign(self, params: dict[str, Any]) -> dict[str, Any]:
        """CONSIGN: store the contract and leaves, issue a PUSH token for the renter."""
        data_hash, size, tree = self._contract_params(params)
        renter = self._renter(params)
        self._require_state().contracts.put(data_hash, size, tree, renter)
        return {"token": self.tokens.issue(data_hash, PUSH, renter=renter, size=size).token}

    def _retrieve(self, params: dict[str, Any]) -> dict[str, Any]:
        """RETRIEVE: issue a PULL token for a shard this farmer holds for the renter."""
        data_hash = _hash_param(params)
        renter = self._renter(params)
        state = self._require_state()
        if state.contracts.size(data_hash) is None or not self.has_shard(data_hash):
            raise _ControlError("Shard data not found")
        self._check_renter(state, data_hash, renter, params.get("adopt") is True)
        return {"token": self.tokens.issue(data_hash, PULL, renter=renter).token}

    def _mirror(self, params: dict[str, Any]) -> dict[str, Any]:
        """MIRROR: accept the contract, then copy the shard from ``farmer`` in the background
        (the copy is kept for ``renter`` once its size and hash are verified)."""
        data_hash, size, tree = self._contract_params(params)
        renter = self._renter(params)
        token = params.get("token")
        source = params.get("farmer")
        if not isinstance(token, str) or not token:
            raise _ControlError("Invalid token")
        port = source.get("port") if isinstance(source, dict) else None
        if not (
            isinstance(source, dict)
            and isinstance(source.get("address"), str)
            and isinstance(port, int)
            and not isinstance(port, bool)
            and 0 < port < 65536
        ):
            raise _ControlError(
                "Invalid farmer: expected a contact with address and port (1 to 65535)"
            )
        state = self._require_state()
        state.contracts.put(data_hash, size, tree, renter)
        try:
            state.mirrors.submit(
                self._pull_mirror, state, data_hash, size, token, dict(source), renter
            )
        except RuntimeError as exc:
            raise _ControlError("The farmer is stopping") from exc
        return {}

    def _release(self, params: dict[str, Any]) -> dict[str, Any]:
        """RELEASE: the renter no longer needs the shard. With ``remove`` (the Bridge holds
        no contract for it on this farmer any more) the shard file, its contract and leaves
        are deleted once no other renter keeps it and no upload of it is pending; PUSH
        tokens for it issued more than ``stale_after`` seconds ago (before the Bridge
        dropped the contracts) are revoked first.

        Answers ``{"deleted": bool, "bytes": n}`` (bytes freed on disk), plus ``"busy":
        true`` when an upload or mirror of the shard is pending (ask again later).
        """
        data_hash = _hash_param(params)
        renter = self._renter(params)
        state = self._require_state()
        stale_after = params.get("stale_after")
        with self._store_lock:
            if params.get("remove") is True and isinstance(stale_after, (int, float)):
                # PUSH tokens of contracts the Bridge dropped will never be used for them
                self.tokens.revoke_older(data_hash, PUSH, max(0.0, float(stale_after)))
            if self.tokens.pending(data_hash, PUSH) or data_hash in state.mirroring:
                # a transfer may still store it (for this renter too): ask again later
                return {"deleted": False, "bytes": 0, "busy": True}
            remaining = (
                state.contracts.remove_renter(data_hash, renter)
                if renter is not None
                else state.contracts.renters(data_hash)
            )
            if params.get("remove") is not True or remaining - {LEGACY_RENTER}:
                return {"deleted": False, "bytes": 0}
            path = self.shard_path(data_hash)
            try:
                freed = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                freed = 0
            state.contracts.forget(data_hash)
        return {"deleted": True, "bytes": freed}

    def _ping(self, params: dict[str, Any]) -> dict[str, Any]:
        """PING: the farmer is up; answers its ``nodeID``."""
        return {"nodeID": self.node_id}

    def _pull_mirror(
        self,
        state: _State,
        data_hash: str,
        size: int,
        token: str,
        source: dict[str, Any],
        renter: str | None,
    ) -> None:
        """Copy the shard from ``source``; a verified copy is kept for ``renter`` (even when
        a copy is already here: it may have rotted, and a verified one replaces it)."""
        start_ms = _now_ms()
        source_id = source.get("nodeID") if is_node_id(source.get("nodeID")) else None
        with self._store_lock:
            state.mirroring.add(data_hash)
        address = str(source["address"])
        host = f"[{address}]" if ":" in address else address
        url = f"http://{host}:{source['port']}/shards/{data_hash}"
        headers = {"x-storj-client-id": self.node_id}
        if source_id:
            headers["x-storj-node-id"] = source_id
        fd, tmp_name = tempfile.mkstemp(prefix=data_hash + ".", dir=self.data_dir / "tmp")
        tmp = Path(tmp_name)
        ok = False
        try:
            with (
                _local_session() as session,
                session.get(
                    url,
                    params={"token": token},
                    headers=headers,
                    stream=True,
                    timeout=self.config.request_timeout,
                ) as response,
            ):
                if response.status_code != 200:
                    raise OSError(f"source answered {response.status_code}: {response.text[:200]}")
                with os.fdopen(fd, "wb") as out:
                    fd = -1
                    # http.client's readinto straight into one buffer (urllib3's read copies)
                    fp = getattr(response.raw, "_fp", None)
                    reader = fp if isinstance(fp, http.client.HTTPResponse) else response.raw
                    chunks = self._until_stopped(state, _read_chunks(reader))
                    hasher = _copy_limited(chunks, out, size)
            if hasher.size != size or hasher.hexdigest() != data_hash:
                raise OSError("mirrored data does not match the shard's size and hash")
            self._keep(state, data_hash, tmp, size, renter)
            ok = True
        except (OSError, requests.RequestException, _TooLarge) as exc:
            reason = redact(str(exc)) if str(exc) else "too large"  # no token from the URL
            log.warning("mirror of %s from %s failed: %s", data_hash, url, reason)
        except Exception:  # never let a background job die silently
            log.exception("mirror of %s from %s failed", data_hash, url)
        finally:
            if fd >= 0:
                os.close(fd)
            if not ok:
                tmp.unlink(missing_ok=True)
            with self._store_lock:
                state.mirroring.discard(data_hash)
        message = "MIRROR_SUCCESS" if ok else "MIRROR_FAILED"
        self._report(
            data_hash,
            SUCCESS if ok else FAILURE,
            message,
            start_ms,
            source_id,
            renter=renter,
            urgent=True,
        )

    @staticmethod
    def _until_stopped(
        state: _State, chunks: Iterable[bytes | memoryview]
    ) -> Iterator[bytes | memoryview]:
        for chunk in chunks:
            if state.stopping.is_set():
                raise OSError("the farmer is stopping")
            yield chunk

    def _audit(self, params: dict[str, Any]) -> dict[str, Any]:
        """AUDIT: one proof per ``{data_hash, challenge, renter?, adopt?}``, in order (§7.4).

        A shard this farmer cannot prove (missing, not stored for the renter, or no stored
        leaf matches) gets ``null`` in ``proofs`` and its reason at the same index of
        ``errors``.
        """
        from storj import merkle

        audits = params.get("audits")
        if not isinstance(audits, list):
            raise _ControlError("Invalid audits: expected a list of {data_hash, challenge}")
        state = self._require_state()
        proofs: list[Any] = []
        errors: list[str | None] = []
        for audit in audits:
            if not isinstance(audit, dict):
                raise _ControlError("Invalid audit: expected {data_hash, challenge}")
            data_hash = _hash_param(audit)
            renter = self._renter(audit)
            challenge = audit.get("challenge")
            if not isinstance(challenge, str) or not _HEX64.match(challenge):
                raise _ControlError("Invalid challenge: expected 64 hex characters")
            try:
                self._check_renter(state, data_hash, renter, audit.get("adopt") is True)
                proofs.append(self._prove(merkle, state, data_hash, bytes.fromhex(challenge)))
                errors.append(None)
            except _ControlError as exc:
                proofs.append(None)
                errors.append(str(exc))
        return {"proofs": proofs, "errors": errors}

    def _prove(self, merkle: Any, state: _State, data_hash: str, challenge: bytes) -> Any:
        auditor = merkle.StreamingAuditResponse(challenge)
        try:
            with open(self.shard_path(data_hash), "rb") as handle:
                for chunk in _read_chunks(handle):
                    auditor.update(chunk)
        except FileNotFoundError:
            raise _ControlError("Shard data not found") from None
        response = auditor.digest()
        leaf = merkle.leaf_from_response(response)
        for leaves in state.contracts.trees(data_hash):
            if leaf in leaves:
                return merkle.make_proof(leaves, response)
        raise _ControlError("Failed to generate proof")


class _ControlError(Exception):
    """A control call failed; the message goes back as ``{"error": {"message"}}``."""


def _hash_param(params: dict[str, Any]) -> str:
    """``params["data_hash"]`` if it is 40 lowercase hex, else a :class:`_ControlError`."""
    data_hash = params.get("data_hash")
    if not isinstance(data_hash, str) or not is_shard_hash(data_hash):
        raise _ControlError("Invalid data_hash: expected 40 lowercase hex characters")
    return data_hash

"""The local Storj Bridge: the v2 Bridge REST API on loopback, backed by SQLite.

Any v2 client (libstorj with ``STORJ_BRIDGE=http://127.0.0.1:<port>``, this package's
SDK and CLI) can use it as it would use ``api.storj.io``. Shards live on local farmers
(``storj.local.farmer``), which the Bridge drives through a small control RPC.

Usage::

    from storj.local.bridge import BridgeConfig, BridgeServer

    with BridgeServer(BridgeConfig(data_dir="/tmp/bridge", control_secret=secret)) as bridge:
        print(bridge.url)           # http://127.0.0.1:<port>
        bridge.outbox()             # e-mails it would have sent
        bridge.audit_all()          # ask every farmer to prove its shards

Faithful to the 2016 Bridge (``bridge-protocol.md`` §1–§5)
----------------------------------------------------------
* The route set of §4 with its JSON shapes (``id`` for ``_id``; ``storage``/``transfer``
  always 0; frames list shard ids; RFC 3339 millisecond ``Z`` dates; contacts inside
  pointers carry ``lastSeen`` in epoch ms) and Express routing (case-insensitive paths,
  trailing slash tolerated). CORS reflects ``Origin`` with credentials; ``OPTIONS`` → 204.
* Authentication (§2): Basic with the client's SHA-256 hex password, stored as
  ``SHA256(ascii(password_hex))``; ECDSA over ``METHOD\\nPATH\\nPAYLOAD`` (raw path, raw
  body / raw query string, DER hex, high-S accepted, compressed and uncompressed keys
  looked up as exact strings); ``__nonce`` unique per user for ``nonce_ttl`` (5 min);
  public buckets and bucket-listed keys for ``POST /buckets/:id/tokens`` and
  ``GET …/info`` (§2.5); the ECDSA key that creates a bucket is added to its ``pubkeys``.
* Deterministic bucket and file ids; ObjectId-like ids (4-byte time + 8 random bytes) for
  frames, pointers, mirrors and contracts; 64-hex bucket tokens, 64-hex activation tokens,
  512-hex deactivation/reset tokens.
* Password reset with 2016 semantics: ``PATCH /users/:id {password}`` then
  ``GET /resets/:token``. ``POST /activations`` re-sends the activation e-mail.
* ``POST /buckets/:id/mirrors`` (the Sep–Oct 2016 variant): 201
  ``[{hash, mirrors, status: "pending"}]``, mirrors created in the background;
  ``GET …/files/:file/mirrors`` lists ``{established, available}`` Mirror objects per
  shard; ``GET /contacts`` filters by ``address``, ``port``, ``protocol``, ``userAgent``
  (30 per page, ``lastSeen`` descending); ``PUT /frames/:id`` re-sending an index
  replaces the shard; ``DELETE /frames/:id`` has the intended guard (400 ``Refusing to
  destroy frame that is referenced by a bucket entry``).
* Automatic mirroring on ``SHARD_UPLOADED``, ``MIRROR_SUCCESS``, ``DOWNLOAD_ERROR``
  reports (the Dec 2016 behaviour), up to ``1 + mirror_redundancy`` copies.

Following the 2018 Bridge
-------------------------
* JSON errors everywhere (the intended handler; 2016 rendered HTML until Jan 2017).
* ``x-token`` **or** Basic/ECDSA for ``GET /buckets/:id/files/:file``; x-tokens live
  ``token_ttl`` (default 1 h). Pointers that no reachable farmer holds come back
  without ``token``/``farmer``/``operation`` (instead of failing the whole request);
  every pointer has ``parity``.
* Entries accept and validate ``index``, ``hmac``, ``erasure``; frames count ``size``
  (data shards) and ``storageSize`` (all shards); shards over 4 GiB and ``exclude``
  lists over 300 are refused; listings sorted by ``created`` with ``?startDate=``
  (buckets ≤ 5000, files ≤ 2000).
* Routes ``/health``, ``/bucket-ids/:name``, ``/buckets/:id/file-ids/:name``,
  ``POST /resets/:token {password}`` and ``PATCH /users/:id`` without a password;
  farmer-signed ``POST /contacts`` and ``PATCH /contacts/:nodeID`` (§2.7, no proof of work).
* The audit scheme is the 2017+ raw-byte one (2016 hex-string proofs are accepted too).

Status codes chosen where 2016 answered 500 (or crashed) for a client mistake
----------------------------------------------------------------------------
* malformed bucket/file/frame id → 400 ``Bucket id is malformed`` (``File``/``Frame``);
* duplicate bucket name → 409 ``Name already used by another bucket``;
* duplicate file name → 409 (``duplicate_file_policy="error"``, default) or the 2016
  silent replacement (``"replace"``); the client may ask for the replacement per request
  (``"overwrite": true``, a local extension, below);
* account not activated → 403 ``User account has not been activated``;
* replayed nonce → 401 ``Invalid nonce supplied``; missing nonce → 401;
* invalid or used ``x-token`` → 401 ``Invalid or expired token``;
* invalid e-mail → 400 ``Invalid email``; invalid mimetype → 400; invalid
  ``publicPermissions`` / ``operation`` → 400; invalid ``index``/``hmac``/``erasure`` → 400;
  bad shard hash → 400 ``Invalid contract specification was supplied``;
* ``GET /resets/:token`` with a malformed token → 400;
* no farmer could be contracted → 400 ``Could not get contract: …`` (2018 raised 503,
  which its error handler turned into 400; clients retry ``PUT /frames`` on it);
* malformed JSON, a body that is not an object, wrong field types → 400; body larger
  than ``max_body_bytes`` → 413; unknown route → 404 ``Not found``; anything unexpected
  → 500 ``Internal error`` (logged; never a traceback);
* JSON that is not strict JSON text → 400 ``Request body is not valid JSON: …``:
  ``NaN``/``Infinity``, numbers beyond a float, and any string (key or value, on every
  route) that is not Unicode text, i.e. holds a lone surrogate escape such as
  ``"\\ud800"``; a query string or path parameter that is not UTF-8 once
  percent-decoded → 400 ``Malformed URL: …``;
* an integer the store cannot hold (outside -2^63..2^63-1) or outside a field's range
  → 400 ``Invalid <field>: expected an integer from <min> to <max>`` (``index``,
  ``exchangeStart``/``exchangeEnd``, ``spaceAvailable``, ``?page=`` (up to the last
  page whose offset fits), ``?port=`` (0..65535), ``?skip=``, ``?limit=``); the 2016
  messages stay for wrong types and negative values (``Invalid index supplied``);
* a bucket ``name`` or file ``filename`` that is blank (whitespace only) or holds a
  control character (NUL, newline, DEL…) → 400 ``Invalid name: …``/``Invalid
  filename: …`` (an empty or missing one still gets the 2016 default);
* request framing (the HTTP layer shared with the farmers, :mod:`storj.local._http`):
  ``Content-Length`` together with ``Transfer-Encoding``, a transfer coding other than
  ``chunked``, ``Transfer-Encoding`` in HTTP/1.0, a repeated or non-decimal
  ``Content-Length``, malformed or folded header lines, NUL in a header value, a
  request target that is not printable ASCII → 400; ``Content-Length`` over 2^63-1 →
  413; more than 100 header lines or one over 64 KiB → 431; a request line over
  64 KiB → 414. All ``{"error": …}`` with ``Connection: close``, before any route runs.

Local extensions (not Storj)
----------------------------
* ``POST /buckets/:id/files`` takes ``"overwrite": true``: an entry of the same name
  (same deterministic id) is replaced by the new one in one store transaction, so the
  name always refers to a complete version, the old or the new. The old entry's frame,
  pointers and contracts are left alone (for garbage collection of unreferenced
  frames). Without the field (or with ``false``) a duplicate name is 409 as before;
  a value that is not a boolean → 400 ``Invalid overwrite: expected true or false``.
  Bridges without the extension ignore the field (2016 upserts anyway; 2018 refuses
  the duplicate), which is how the SDK's ``upload_file(..., overwrite=True)``
  recognises them and falls back to delete + create.
* ``auto_activate`` (default on) and the outbox: ``BridgeServer.outbox()`` (in-process)
  and ``GET /_dev/outbox[?email=]`` → ``[{to, kind, token, created}]``;
  ``POST /_dev/audit`` → the report of ``BridgeServer.audit_all()``. Since a reset token
  is the account (``PATCH /users/:id`` needs no authentication), the ``/_dev`` routes
  never give one user another user's mail: a request with the operator's
  ``x-storj-admin-secret`` (``admin_secret``, compared in constant time; ``LocalNetwork``
  keeps it in ``network.json``, mode 0600) may read all mail and audit, whether
  ``dev_endpoints`` is on or off; with ``dev_endpoints`` (default **off**;
  ``storj-local serve --dev-endpoints``) a user authenticated with Basic, activated or
  not, reads its own mail only (``?email=`` of another → 403); anyone else gets 404
  ``Not found`` (``dev_endpoints`` off) or 401.
* Farmers register themselves with ``POST /contacts``; the Bridge contracts them with
  the control RPC (``storj.local.bridge.control``) secured by ``control_secret``.
* Farmer choice: ``PUT /frames/:id`` contracts a random live farmer outside ``exclude``
  (live = no ``lastTimeout`` newer than its ``lastSeen`` within ``farmer_timeout_ignore``),
  trying up to ``consign_attempts`` farmers; transport failures stamp ``lastTimeout``,
  an error answer only moves on. Pointers ask the holders of a shard for a RETRIEVE
  token, most recently seen first (copies that failed an audit never; lost ones last).
* Contracts belong to a user (hash × farmer × owner, :mod:`~storj.local.bridge.shard_records`):
  another user naming the same hash in their frames never touches them, and farmers
  hand a shard only to users that sent them its bytes (control calls carry a renter id).
  A contract counts as a good copy once its farmer's signed (§2.7) ``SHARD_UPLOADED``/
  ``SHARD_EXISTS``/``SHARD_DOWNLOADED`` or ``MIRROR_SUCCESS`` report naming the renter
  (``renterId``) confirms it, or an audit proves it; unsigned reports only trigger a
  verification (:mod:`~storj.local.bridge.routes_reports`). A contract left behind by a
  client retrying the same index with another farmer is dropped when it was never
  confirmed. ``POST /buckets/:id/files`` refuses a frame with a shard the user holds no
  copy of (400).
* ``BridgeServer.audit_all()`` runs one audit round over every copy a file depends on.
* Maintenance (:mod:`~storj.local.bridge.maintenance`, every ``repair_interval``):
  liveness pings, audits, repair of lost/corrupt copies back to ``1 +
  mirror_redundancy`` good copies, garbage collection of abandoned uploads and deleted
  files, and farmer releases (control ``RELEASE``) — ``BridgeServer.maintain()`` runs one
  pass now.
* Transfer quotas (§1.3) are counted but enforced only with ``enforce_transfer_limits``.
  There is no general request-rate limiter; instead (answers as the 2018 limiter's,
  429 ``{"error": "Too Many Requests"}``, plus ``Retry-After``): failed Basic
  authentications per account (``max_auth_failures_per_account``) and per client
  address (``max_auth_failures_per_address``, a wrong admin secret counts too) within
  ``auth_failure_window`` — past a limit the right password is refused too until the
  window moves on, successes never count — and mails queued per account within
  ``mail_window`` (``max_mails_per_account``) for the unauthenticated
  ``PATCH /users/:id`` and ``POST /activations``.
* At most ``max_connections`` connections are served at once (one thread each); one
  more is answered 503 ``{"error": …}`` with ``Retry-After`` and closed.
* Replays (deviations, see ``docs/protocol.rst``): a request allowed by a bucket-listed
  key needs a fresh ``__nonce`` (2016 checked none on that path), remembered for the
  key's user or, for a key of no user, for the key; an accepted farmer-signed message
  (§2.7) is remembered until its timestamp leaves the five-minute window and refused
  when it comes again (401).
* The access log writes the tokens of ``/activations/:token``,
  ``/deactivations/:token`` and ``/resets/:token`` as ``<token>``, also in the HTTP
  layer's error lines and in logged exceptions.
* The data directory is 0700 and ``bridge.sqlite3`` (with ``-wal``/``-shm``) 0600,
  tightened at every start.
* Legacy data channels (§6.6): a farmer may register ``channel: "ws://<address>:<port>"``
  on its own address; with ``legacy_channels=True`` pointers and ``PUT /frames/:id``
  answers carry it next to ``farmer``, with ``legacy_channels="only"`` download pointers
  carry ``channel`` instead of ``farmer`` (the pre-December-2016 shape).
"""

from __future__ import annotations

from storj.local.bridge.app import BridgeApp, create_app
from storj.local.bridge.config import DEFAULT_PORT, BridgeConfig
from storj.local.bridge.server import BridgeServer

__all__ = ["DEFAULT_PORT", "BridgeApp", "BridgeConfig", "BridgeServer", "create_app"]

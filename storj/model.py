"""Storj model module: the records the Bridge sends and receives.

Every record derives from :class:`Model`:

* the constructor takes the documented keyword arguments (camelCase, exactly
  as the Bridge names the JSON fields) and ``**extra``: fields this version
  does not know are kept in :attr:`Model.extra` and sent back by
  :meth:`Model.to_json`; they never raise (the 0.1.x SDK crashed on every new
  Bridge field);
* :meth:`Model.from_json` builds a record from a Bridge JSON object and
  :meth:`Model.to_json` gives the wire form back (fields that are ``None`` are
  left out; datetimes as RFC 3339 UTC with milliseconds and ``Z``);
* records compare by value (same class, same field values, same extras) and
  have a readable ``repr``; they are mutable and therefore **unhashable**
  (``__hash__ = None``), so they cannot be set members or dict keys;
* read-only mapping access gives the *wire* value of a field —
  ``record["created"]`` is the RFC 3339 string, ``record.created`` the
  ``datetime`` — so code written when these methods returned ``dict`` keeps
  working (``token["token"]``, ``pointer.get("size")``, ``keys()``, ``in``);
* timestamps become timezone-aware UTC :class:`~datetime.datetime` objects,
  parsed with the standard library from RFC 3339 strings or from epoch
  milliseconds (contacts inside pointers carry ``lastSeen`` as a number).
  Assigning to a declared field converts the value the same way.
* the known fields are type-checked (ids and names are ``str``, sizes and
  indexes ``int >= 0``, flags ``bool``, ports ``int`` 0–65535, lists of keys
  lists of ``str``, …; ``None`` is always accepted): a wrong value raises
  :class:`~storj.exception.InvalidFieldError` (a ``ValueError`` and a
  ``TypeError`` too) naming the field, whether it comes from the constructor,
  an assignment or :meth:`Model.from_json`. Unknown fields are never checked.
* the annotations say what Bridge answers hold: a field annotated without
  ``None`` (``File.id: str``, ``Bucket.id: str``, ``Contact.port: int``, …) is
  present in every record this package builds from a Bridge answer — both the
  2016 and the 2018 Bridge always send it, and it is also set in the id-only
  records nested in ``File.frame`` and ``Token.bucket`` — so type checkers
  need no narrowing (``client.open_file(b, client.upload_file(b, p).id)``).
  Fields annotated ``… | None`` are missing from some answers. Construction
  stays tolerant: a record built by hand, or by :meth:`Model.from_json` from
  partial data, holds ``None`` in an absent field whatever its annotation
  (the constructors' parameters all default to ``None``); check such records
  before relying on the annotation.

Besides the records this module holds :class:`MerkleTree` (the audit tree of
a shard, built with :mod:`storj.merkle`) and :class:`ShardManager` (splits a
file into shards and computes their hashes, challenges and audit leaves with
:mod:`storj.sharding`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, ClassVar, TypeVar

from storj import merkle, sharding
from storj.api import rmd160sha256_hex
from storj.exception import InvalidFieldError
from storj.merkle import Scheme

# isort: split
# 0.1.7–0.3.x names that live in other modules (see storj.keypair, storj.exception).
from storj.exception import ShardingException
from storj.keypair import IdecdsaCipher, KeyPair, Keyring

__all__ = [
    "Bucket",
    "Contact",
    "ExchangeReport",
    "File",
    "FileMirrors",
    "FilePointer",
    "Frame",
    "IdecdsaCipher",
    "Key",
    "KeyPair",
    "Keyring",
    "MerkleTree",
    "Mirror",
    "Model",
    "ObjectId",
    "Shard",
    "ShardManager",
    "ShardingException",
    "Token",
    "User",
    "format_timestamp",
    "parse_timestamp",
]

_M = TypeVar("_M", bound="Model")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


# --------------------------------------------------------------------------- timestamps


def _parse_timestamp(value: Any) -> tuple[datetime | None, str | None]:
    """Return the aware UTC datetime and the wire form it came in (``"iso"``/``"ms"``)."""
    if value is None:
        return None, None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC), None
        return value.astimezone(UTC), None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return _EPOCH + timedelta(milliseconds=value), "ms"
        except (OverflowError, ValueError):
            raise ValueError(f"{value!r} is out of range for epoch milliseconds") from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value[:80]!r} is not an RFC 3339 timestamp "
                "(expected e.g. '2016-11-16T19:39:11.605Z')"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC), "iso"
    raise ValueError(
        f"a timestamp must be an RFC 3339 string, epoch milliseconds or a datetime, "
        f"not {type(value).__name__}"
    )


def parse_timestamp(value: Any) -> datetime | None:
    """An aware UTC datetime from an RFC 3339 string, epoch milliseconds or a datetime.

    ``None`` stays ``None``; a naive datetime is taken as UTC. Anything else
    raises :class:`ValueError`.
    """
    return _parse_timestamp(value)[0]


def format_timestamp(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds and ``Z``, as the Bridge writes dates.

    ``datetime(2016, 11, 16, 19, 39, 11, 605000, tzinfo=UTC)`` →
    ``"2016-11-16T19:39:11.605Z"``. Naive datetimes are taken as UTC.
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _epoch_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MS


def _jsonify(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (records, trees and datetimes converted)."""
    if isinstance(value, Model):
        return value.to_json()
    if isinstance(value, MerkleTree):
        return value.to_json()
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, (list, tuple)):
        return [_jsonify(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonify(v) for k, v in value.items()}
    return value


def _field_error(owner: str, expected: str, value: Any) -> InvalidFieldError:
    """``owner must be <expected>, not <what value is>``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        got = repr(value)[:40]
    else:
        got = type(value).__name__
    return InvalidFieldError(f"{owner} must be {expected}, not {got}", field=owner)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list_of(value: Any, owner: str, item: Callable[[Any], bool], what: str) -> list[Any]:
    """``value`` as a new list, every item accepted by ``item`` (a list, tuple, generator…)."""
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise _field_error(owner, f"a list of {what}", value)
    items = list(value)
    for position, entry in enumerate(items):
        if not item(entry):
            raise _field_error(f"{owner}[{position}]", what, entry)
    return items


def _check_kind(kind: str, value: Any, owner: str) -> Any:
    """Check (and for lists copy) one non-None value of a declared field."""
    if kind == "str":
        if not isinstance(value, str):
            raise _field_error(owner, "a str", value)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise _field_error(owner, "a bool", value)
    elif kind == "int":
        if not _is_int(value):
            raise _field_error(owner, "an int", value)
    elif kind == "count":
        if not _is_int(value) or value < 0:
            raise _field_error(owner, "an int >= 0", value)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _field_error(owner, "a number", value)
    elif kind == "port":
        if not _is_int(value) or not 0 <= value <= 65535:
            raise _field_error(owner, "an int from 0 to 65535", value)
    elif kind == "object":
        if not isinstance(value, Mapping):
            raise _field_error(owner, "a JSON object (dict)", value)
    elif kind == "strings":
        return _list_of(value, owner, lambda v: isinstance(v, str), "str")
    elif kind == "list":
        return _list_of(value, owner, lambda v: True, "values")
    return value


def _as_record(cls: type[_M], value: Any, owner: str) -> _M | None:
    if value is None or isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        return cls.from_json(value)
    raise _field_error(owner, f"a {cls.__name__}, a JSON object or None", value)


def _as_record_list(cls: type[_M], value: Any, owner: str) -> list[Any] | None:
    if value is None:
        return None
    items = _list_of(
        value, owner, lambda v: isinstance(v, (cls, Mapping)), f"{cls.__name__} or JSON object"
    )
    return [_as_record(cls, item, owner) for item in items]


# --------------------------------------------------------------------------- base class


class Model:
    """Base class of the records: keyword construction, JSON, value semantics.

    Subclasses list their wire fields in ``_fields`` (in the order ``to_json``
    and ``repr`` use), their timestamp fields in ``_timestamps`` (field →
    wire form used when the value was not parsed from JSON: ``"iso"`` or
    ``"ms"``) and the type of the other plain fields in ``_kinds`` (field →
    ``"str"``, ``"bool"``, ``"int"``, ``"count"`` (int >= 0), ``"number"``,
    ``"port"``, ``"object"``, ``"strings"`` (list of str) or ``"list"``).
    A timestamp parsed from JSON is written back in the form it came
    in, so ``from_json(x).to_json() == x`` for the Bridge's own output.
    """

    _fields: ClassVar[tuple[str, ...]] = ()
    _timestamps: ClassVar[Mapping[str, str]] = {}
    _kinds: ClassVar[Mapping[str, str]] = {}

    #: Fields the Bridge sent that this class does not declare, kept verbatim.
    extra: dict[str, Any]
    _forms: dict[str, str]

    # Mutable value objects must not hash by value (their hash would change).
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, extra: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
        object.__setattr__(self, "extra", dict(extra) if extra else {})
        object.__setattr__(self, "_forms", {})
        for name in self._fields:
            setattr(self, name, fields.pop(name, None))
        if fields:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(fields)}")

    # -- construction -------------------------------------------------------

    @classmethod
    def from_json(cls: type[_M], data: Mapping[str, Any]) -> _M:
        """Build a record from a JSON object (a mapping) as the Bridge sends it.

        Unknown keys go to :attr:`extra`. Raises
        :class:`~storj.exception.InvalidFieldError` (a :class:`ValueError`) when
        ``data`` is not a mapping or a known field has the wrong type or an
        impossible value (e.g. a timestamp that is not RFC 3339).
        """
        if not isinstance(data, Mapping):
            raise InvalidFieldError(
                f"{cls.__name__}.from_json expects a JSON object, got {type(data).__name__}"
            )
        return cls(**{str(k): v for k, v in data.items()})

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._fields:
            value = self._convert(name, value)
        object.__setattr__(self, name, value)

    def _convert(self, name: str, value: Any) -> Any:
        """Turn a field value into its Python form (subclasses add nested records)."""
        if name in self._timestamps:
            try:
                parsed, form = _parse_timestamp(value)
            except ValueError as exc:
                owner = f"{type(self).__name__}.{name}"
                raise InvalidFieldError(f"{owner}: {exc}", field=owner) from None
            if form is None:
                self._forms.pop(name, None)
            else:
                self._forms[name] = form
            return parsed
        kind = self._kinds.get(name)
        if kind is not None and value is not None:
            return _check_kind(kind, value, f"{type(self).__name__}.{name}")
        return value

    # -- wire form ----------------------------------------------------------

    def _wire_value(self, name: str, value: Any) -> Any:
        """The JSON form of one (non-None) field value."""
        if name in self._timestamps:
            form = self._forms.get(name, self._timestamps[name])
            return _epoch_ms(value) if form == "ms" else format_timestamp(value)
        return _jsonify(value)

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object (``None`` fields omitted, extras included)."""
        out: dict[str, Any] = {}
        for name in self._fields:
            value = getattr(self, name)
            if value is None:
                continue
            wire = self._wire_value(name, value)
            if wire is not None:
                out[name] = wire
        for key, value in self.extra.items():
            out.setdefault(key, _jsonify(value))
        return out

    # -- read-only mapping access over the wire form ----------------------------

    def __getitem__(self, key: str) -> Any:
        return self.to_json()[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The wire value of ``key``, or ``default`` when absent."""
        return self.to_json().get(key, default)

    def keys(self) -> list[str]:
        """Names of the fields present in the wire form."""
        return list(self.to_json())

    def values(self) -> list[Any]:
        """Wire values, in :meth:`keys` order."""
        return list(self.to_json().values())

    def items(self) -> list[tuple[str, Any]]:
        """``(name, wire value)`` pairs, in :meth:`keys` order."""
        return list(self.to_json().items())

    def __contains__(self, key: object) -> bool:
        return key in self.to_json()

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    # -- value semantics ------------------------------------------------------

    def _eq_key(self) -> tuple[Any, ...]:
        return (tuple(getattr(self, name) for name in self._fields), self.extra)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Model)
        return self._eq_key() == other._eq_key()

    def __repr__(self) -> str:
        parts = [
            f"{name}={getattr(self, name)!r}"
            for name in self._fields
            if getattr(self, name) is not None
        ]
        if self.extra:
            parts.append(f"extra={self.extra!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class ObjectId(str):
    """An id string that also answers ``.id`` (itself, as a plain ``str``).

    storj 0.3.x wrapped the ids inside a file entry in records (``file.bucket`` was a
    ``Bucket(id=…)``), so its users wrote ``file.bucket.id``; the Bridge sends a
    plain id and this package keeps it a ``str``. An ``ObjectId`` is that ``str``
    (equality, hashing, JSON and formatting are the plain string's) and also
    supports the 0.3.x spelling.
    """

    __slots__ = ()

    @property
    def id(self) -> str:
        """The id as a plain ``str`` (0.3.x: ``file.bucket.id``)."""
        return str.__str__(self)


# --------------------------------------------------------------------------- records


class User(Model):
    """A Bridge user account (``POST /users``, activations).

    :ivar email: the account's email address.
    :ivar id: same as ``email``.
    :ivar created: when the account was created (aware UTC).
    :ivar activated: whether the account has been activated.
    :ivar isFreeTier: whether free-tier transfer quotas apply.
    """

    _fields = ("email", "id", "created", "activated", "isFreeTier")
    _timestamps = {"created": "iso"}
    _kinds = {"email": "str", "id": "str", "activated": "bool", "isFreeTier": "bool"}

    email: str
    id: str
    created: datetime
    activated: bool
    isFreeTier: bool

    def __init__(
        self,
        /,
        email: str | None = None,
        id: str | None = None,
        created: datetime | str | None = None,
        activated: bool | None = None,
        isFreeTier: bool | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(
            extra, email=email, id=id, created=created, activated=activated, isFreeTier=isFreeTier
        )


class Key(Model):
    """A registered ECDSA public key (``GET /keys``, ``POST /keys``).

    :ivar key: the public key as hex (SEC1, compressed or not), exactly as registered.
    :ivar id: same as ``key``.
    :ivar user: the owner's email.
    :ivar label: free text (``""`` by default on the Bridge).

    ``str(key)`` is the key hex.
    """

    _fields = ("key", "id", "user", "label")
    _kinds = {"key": "str", "id": "str", "user": "str", "label": "str"}

    key: str
    id: str
    user: str
    label: str

    def __init__(
        self,
        /,
        key: str | None = None,
        id: str | None = None,
        user: str | None = None,
        label: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(extra, key=key, id=id, user=user, label=label)

    def __str__(self) -> str:
        if self.key is not None:
            return self.key
        return self.id if self.id is not None else ""


#: The Bridge's name for :class:`Key`.
PublicKey = Key


class Bucket(Model):
    """Storage bucket: a logical grouping of files with permissions.

    :ivar id: unique identifier (24 hex; ``calculate_bucket_id(email, name)``).
    :ivar name: name (libstorj encrypts it).
    :ivar status: bucket status (``"Active"``).
    :ivar user: owner's email address.
    :ivar created: creation time (aware UTC).
    :ivar storage: vestigial limit (always 0 on the Bridge).
    :ivar transfer: vestigial limit (always 0 on the Bridge).
    :ivar pubkeys: public keys (hex) allowed to act on the bucket.
    :ivar publicPermissions: subset of ``["PUSH", "PULL"]`` open to anyone.
    :ivar encryptionKey: key published for public buckets (``""`` by default).
    """

    _fields = (
        "id",
        "name",
        "status",
        "user",
        "created",
        "storage",
        "transfer",
        "pubkeys",
        "publicPermissions",
        "encryptionKey",
    )
    _timestamps = {"created": "iso"}
    _kinds = {
        "id": "str",
        "name": "str",
        "status": "str",
        "user": "str",
        "storage": "number",
        "transfer": "number",
        "pubkeys": "strings",
        "publicPermissions": "strings",
        "encryptionKey": "str",
    }

    id: str
    name: str | None
    status: str | None
    user: str | None
    created: datetime | None
    storage: int | None
    transfer: int | None
    pubkeys: list[str] | None
    publicPermissions: list[str] | None
    encryptionKey: str | None
    #: The name as stored on the Bridge (libstorj: encrypted); set by :class:`storj.http.Client`.
    stored_name: str | None = None
    #: How the name was read: ``"decrypted"``, ``"plaintext"`` or ``"undecryptable"``
    #: (:data:`storj.naming.NameState`); ``None`` for a record not read by a client.
    name_state: str | None = None

    @property
    def decrypted(self) -> bool:
        """Whether the name was decrypted with the client's encryption key."""
        return self.name_state == "decrypted"

    def __init__(
        self,
        /,
        id: str | None = None,
        name: str | None = None,
        status: str | None = None,
        user: str | None = None,
        created: datetime | str | None = None,
        storage: int | None = None,
        transfer: int | None = None,
        pubkeys: list[str] | None = None,
        publicPermissions: list[str] | None = None,
        encryptionKey: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(
            extra,
            id=id,
            name=name,
            status=status,
            user=user,
            created=created,
            storage=storage,
            transfer=transfer,
            pubkeys=pubkeys,
            publicPermissions=publicPermissions,
            encryptionKey=encryptionKey,
        )


class Contact(Model):
    """A farmer (storage node) as the Bridge describes it.

    :ivar address: hostname or IP address.
    :ivar port: TCP port of the farmer's HTTP shard server.
    :ivar nodeID: node identifier (40 hex).
    :ivar lastSeen: last time the Bridge heard from it (aware UTC). Contacts
        inside file pointers carry it as epoch milliseconds, ``/contacts`` as
        RFC 3339; both are accepted and written back in the same form.
    :ivar protocol: SemVer protocol tag (e.g. ``"1.0.0"``).
    :ivar userAgent: farmer software version.
    :ivar lastTimeout: last time the node timed out (aware UTC), if any.
    :ivar responseTime: mean response time in milliseconds, if known.
    :ivar timeoutRate: fraction of timed-out requests, if known.
    """

    _fields = (
        "address",
        "port",
        "nodeID",
        "lastSeen",
        "protocol",
        "userAgent",
        "lastTimeout",
        "responseTime",
        "timeoutRate",
    )
    _timestamps = {"lastSeen": "iso", "lastTimeout": "iso"}
    _kinds = {
        "address": "str",
        "port": "port",
        "nodeID": "str",
        "protocol": "str",
        "userAgent": "str",
        "responseTime": "number",
        "timeoutRate": "number",
    }

    address: str
    port: int
    nodeID: str
    lastSeen: datetime | None
    protocol: str | None
    userAgent: str | None
    lastTimeout: datetime | None
    responseTime: float | None
    timeoutRate: float | None

    def __init__(
        self,
        /,
        address: str | None = None,
        port: int | None = None,
        nodeID: str | None = None,
        lastSeen: datetime | str | int | None = None,
        protocol: str | None = None,
        userAgent: str | None = None,
        lastTimeout: datetime | str | int | None = None,
        responseTime: float | None = None,
        timeoutRate: float | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(
            extra,
            address=address,
            port=port,
            nodeID=nodeID,
            lastSeen=lastSeen,
            protocol=protocol,
            userAgent=userAgent,
            lastTimeout=lastTimeout,
            responseTime=responseTime,
            timeoutRate=timeoutRate,
        )


class Frame(Model):
    """File staging frame: the shards of a file before it becomes a bucket entry.

    :ivar id: unique identifier (24 hex).
    :ivar created: creation time (aware UTC).
    :ivar shards: ids of the frame's shard pointers (the Bridge sends ids, not
        objects); ``[]`` when not given, so ``to_json()`` always has ``shards``.
    :ivar user: owner's email.
    :ivar locked: whether a bucket entry already uses the frame.
    :ivar size: bytes of the (data) shards added so far.
    :ivar storageSize: bytes of all shards including parity (2018 Bridge).
    """

    _fields = ("id", "created", "shards", "user", "locked", "size", "storageSize")
    _timestamps = {"created": "iso"}
    _kinds = {
        "id": "str",
        "shards": "list",
        "user": "str",
        "locked": "bool",
        "size": "count",
        "storageSize": "count",
    }

    id: str
    created: datetime | None
    shards: list[Any]
    user: str | None
    locked: bool | None
    size: int | None
    storageSize: int | None

    def __init__(
        self,
        /,
        id: str | None = None,
        created: datetime | str | None = None,
        shards: list[Any] | None = None,
        user: str | None = None,
        locked: bool | None = None,
        size: int | None = None,
        storageSize: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(
            extra,
            id=id,
            created=created,
            shards=shards,
            user=user,
            locked=locked,
            size=size,
            storageSize=storageSize,
        )

    def _convert(self, name: str, value: Any) -> Any:
        if name == "shards" and value is None:
            return []
        return super()._convert(name, value)


class File(Model):
    """A file (bucket entry) as ``/buckets/:id/files`` and ``…/info`` describe it.

    :ivar bucket: the bucket's id (a :class:`Bucket` given here is reduced to its id), an
        :class:`ObjectId`: a ``str`` on which ``file.bucket.id`` also works, as in 0.3.x.
    :ivar hash: content hash, when a Bridge reports one.
    :ivar mimetype: MIME type.
    :ivar filename: file name (libstorj encrypts it).
    :ivar size: file size in bytes (the frame's size).
    :ivar id: unique identifier (24 hex; ``calculate_file_id(bucket, filename)``).
    :ivar frame: the staging :class:`Frame` (built from the frame id the Bridge sends), so
        ``file.frame.id`` is the frame id, as in 0.3.x.
    :ivar created: creation time (aware UTC).
    :ivar renewal: contract renewal time (aware UTC; created + 90 days).
    :ivar hmac: ``{"type": "sha512", "value": <128 hex>}`` (2017+ uploads).
    :ivar erasure: ``{"type": "reedsolomon"}`` when parity shards exist.
    :ivar index: 64 hex; the random file index the file key derives from.
    :ivar shard_manager: a :class:`ShardManager` for a local source file, or
        ``None`` (not part of the wire form or of equality).
    """

    _fields = (
        "bucket",
        "hash",
        "mimetype",
        "filename",
        "size",
        "id",
        "frame",
        "created",
        "renewal",
        "hmac",
        "erasure",
        "index",
    )
    _timestamps = {"created": "iso", "renewal": "iso"}
    _kinds = {
        "bucket": "str",
        "hash": "str",
        "mimetype": "str",
        "filename": "str",
        "size": "count",
        "id": "str",
        "hmac": "object",
        "erasure": "object",
        "index": "str",
    }

    bucket: ObjectId
    hash: str | None
    mimetype: str
    filename: str
    size: int
    id: str
    frame: Frame
    created: datetime | None
    renewal: datetime | None
    hmac: dict[str, Any] | None
    erasure: dict[str, Any] | None
    index: str | None
    shard_manager: ShardManager | None
    #: The name as stored on the Bridge (libstorj: encrypted); set by :class:`storj.http.Client`.
    stored_name: str | None = None
    #: How the name was read: ``"decrypted"``, ``"plaintext"`` or ``"undecryptable"``
    #: (:data:`storj.naming.NameState`); ``None`` for a record not read by a client.
    name_state: str | None = None

    @property
    def decrypted(self) -> bool:
        """Whether the name was decrypted with the client's encryption key."""
        return self.name_state == "decrypted"

    def __init__(
        self,
        /,
        bucket: str | Bucket | None = None,
        hash: str | None = None,
        mimetype: str | None = None,
        filename: str | None = None,
        size: int | None = None,
        id: str | None = None,
        frame: Frame | str | Mapping[str, Any] | None = None,
        created: datetime | str | None = None,
        renewal: datetime | str | None = None,
        hmac: dict[str, Any] | None = None,
        erasure: dict[str, Any] | None = None,
        index: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(
            extra,
            bucket=bucket,
            hash=hash,
            mimetype=mimetype,
            filename=filename,
            size=size,
            id=id,
            frame=frame,
            created=created,
            renewal=renewal,
            hmac=hmac,
            erasure=erasure,
            index=index,
        )
        self.shard_manager = None

    def _convert(self, name: str, value: Any) -> Any:
        if name == "bucket" and isinstance(value, Bucket):
            value = value.id
        if name == "bucket" and isinstance(value, str):
            # ``file.bucket`` is the id and, as in 0.3.x, ``file.bucket.id`` too.
            return ObjectId(super()._convert(name, value))
        if name == "frame":
            if isinstance(value, str):
                return Frame(id=value)
            return _as_record(Frame, value, "File.frame")
        return super()._convert(name, value)

    def _wire_value(self, name: str, value: Any) -> Any:
        if name == "frame":
            return value.id
        return super()._wire_value(name, value)

    @property
    def content_type(self) -> str:
        """Alias of :attr:`mimetype`."""
        return self.mimetype

    @content_type.setter
    def content_type(self, value: str) -> None:
        self.mimetype = value

    @property
    def name(self) -> str:
        """Alias of :attr:`filename`."""
        return self.filename

    @name.setter
    def name(self, value: str) -> None:
        self.filename = value


class Token(Model):
    """A token: a Bridge bucket-operation token or a farmer transfer token.

    Bucket tokens come from ``POST /buckets/:id/tokens`` (64 hex, sent as
    ``x-token``). Inside a :class:`FilePointer` the token is the **farmer**
    transfer token (40 hex) for ``/shards/<hash>?token=``; there only
    :attr:`token` (and :attr:`id`) are set. ``str(token)`` is the token string.

    :ivar token: the token string.
    :ivar id: same value as ``token`` (defaults to it when not given).
    :ivar bucket: the :class:`Bucket` (built from the bucket id the Bridge sends), so
        ``token.bucket.id`` is the bucket id, as in 0.3.x.
    :ivar operation: ``"PUSH"`` or ``"PULL"``.
    :ivar expires: expiry time (aware UTC).
    :ivar encryptionKey: the bucket's published key (``""`` by default).
    :ivar mimetype: the file's MIME type (``PULL`` tokens for a file).
    :ivar size: the file's size (``PULL`` tokens for a file).
    """

    _fields = (
        "token",
        "bucket",
        "operation",
        "expires",
        "encryptionKey",
        "id",
        "mimetype",
        "size",
    )
    _timestamps = {"expires": "iso"}
    _kinds = {
        "token": "str",
        "operation": "str",
        "encryptionKey": "str",
        "id": "str",
        "mimetype": "str",
        "size": "count",
    }

    token: str
    bucket: Bucket | None
    operation: str | None
    expires: datetime | None
    encryptionKey: str | None
    id: str
    mimetype: str | None
    size: int | None
    _implicit_id: bool

    def __init__(
        self,
        /,
        token: str | None = None,
        bucket: Bucket | str | Mapping[str, Any] | None = None,
        operation: str | None = None,
        expires: datetime | str | None = None,
        encryptionKey: str | None = None,
        id: str | None = None,
        mimetype: str | None = None,
        size: int | None = None,
        **extra: Any,
    ) -> None:
        implicit_id = id is None and token is not None
        super().__init__(
            extra,
            token=token,
            bucket=bucket,
            operation=operation,
            expires=expires,
            encryptionKey=encryptionKey,
            id=token if implicit_id else id,
            mimetype=mimetype,
            size=size,
        )
        # An id copied from ``token`` is not written back by to_json().
        object.__setattr__(self, "_implicit_id", implicit_id)

    def _convert(self, name: str, value: Any) -> Any:
        if name == "bucket":
            if isinstance(value, str):
                return Bucket(id=value)
            return _as_record(Bucket, value, "Token.bucket")
        if name == "id":
            object.__setattr__(self, "_implicit_id", False)
        return super()._convert(name, value)

    def _wire_value(self, name: str, value: Any) -> Any:
        if name == "bucket":
            return value.id
        if name == "id" and self._implicit_id and value == self.token:
            return None
        return super()._wire_value(name, value)

    def __str__(self) -> str:
        if self.token is not None:
            return self.token
        return self.id if self.id is not None else ""


class FilePointer(Model):
    """Where to fetch one shard (``GET /buckets/:id/files/:file``).

    :ivar hash: the shard hash (40 hex).
    :ivar token: the **farmer** transfer :class:`Token` (40 hex) for
        ``GET http://farmer/shards/<hash>?token=<token>``; ``str(pointer.token)``
        is the token string (built from the string the Bridge sends).
    :ivar operation: ``"PULL"``.
    :ivar channel: legacy WebSocket URL (pre-December-2016 Bridges only).
    :ivar farmer: the :class:`Contact` holding the shard.
    :ivar size: shard size in bytes.
    :ivar index: shard index in the file.
    :ivar parity: whether this is a Reed–Solomon parity shard (2018 Bridge).

    A 2018 Bridge returns pointers without ``token``/``farmer``/``operation``
    when no farmer answered; those attributes are then ``None``.
    """

    _fields = ("hash", "token", "operation", "channel", "farmer", "size", "index", "parity")
    _kinds = {
        "hash": "str",
        "operation": "str",
        "channel": "str",
        "size": "count",
        "index": "count",
        "parity": "bool",
    }

    hash: str
    token: Token | None
    operation: str | None
    channel: str | None
    farmer: Contact | None
    size: int
    index: int
    parity: bool | None

    def __init__(
        self,
        /,
        hash: str | None = None,
        token: Token | str | Mapping[str, Any] | None = None,
        operation: str | None = None,
        channel: str | None = None,
        farmer: Contact | Mapping[str, Any] | None = None,
        size: int | None = None,
        index: int | None = None,
        parity: bool | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(
            extra,
            hash=hash,
            token=token,
            operation=operation,
            channel=channel,
            farmer=farmer,
            size=size,
            index=index,
            parity=parity,
        )

    def _convert(self, name: str, value: Any) -> Any:
        if name == "token":
            if isinstance(value, str):
                return Token(token=value)
            return _as_record(Token, value, "FilePointer.token")
        if name == "farmer":
            return _as_record(Contact, value, "FilePointer.farmer")
        return super()._convert(name, value)

    def _wire_value(self, name: str, value: Any) -> Any:
        if name == "token":
            return value.token if value.token is not None else value.id
        return super()._wire_value(name, value)


class Mirror(Model):
    """A shard replica.

    The 2016 ``POST /buckets/:id/mirrors`` answers ``{hash, mirrors, status}``
    per shard; ``GET /buckets/:id/files/:file/mirrors`` lists Mirror documents
    ``{id, shardHash, contact, contract, isEstablished}``. Both shapes fit.

    :ivar hash: shard hash (POST answer).
    :ivar mirrors: number of replicas requested (POST answer).
    :ivar status: replica status, e.g. ``"pending"`` (POST answer).
    :ivar id: Mirror document id.
    :ivar shardHash: the mirrored shard's hash.
    :ivar contact: the farmer: a :class:`Contact`, or a nodeID string when the
        Bridge did not populate it.
    :ivar contract: the storage contract (a dict, kept verbatim).
    :ivar isEstablished: whether the farmer holds the copy.
    :ivar created: creation time (aware UTC; 2018 Bridge).
    """

    _fields = (
        "hash",
        "mirrors",
        "status",
        "id",
        "shardHash",
        "contact",
        "contract",
        "isEstablished",
        "created",
    )
    _timestamps = {"created": "iso"}
    _kinds = {
        "hash": "str",
        "mirrors": "count",
        "status": "str",
        "id": "str",
        "shardHash": "str",
        "contract": "object",
        "isEstablished": "bool",
    }

    hash: str | None
    mirrors: int | None
    status: str | None
    id: str | None
    shardHash: str | None
    contact: Contact | str | None
    contract: dict[str, Any] | None
    isEstablished: bool | None
    created: datetime | None

    def __init__(
        self,
        /,
        hash: str | None = None,
        mirrors: int | None = None,
        status: str | None = None,
        id: str | None = None,
        shardHash: str | None = None,
        contact: Contact | Mapping[str, Any] | str | None = None,
        contract: dict[str, Any] | None = None,
        isEstablished: bool | None = None,
        created: datetime | str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(
            extra,
            hash=hash,
            mirrors=mirrors,
            status=status,
            id=id,
            shardHash=shardHash,
            contact=contact,
            contract=contract,
            isEstablished=isEstablished,
            created=created,
        )

    def _convert(self, name: str, value: Any) -> Any:
        if name == "contact" and not isinstance(value, str):
            return _as_record(Contact, value, "Mirror.contact")
        return super()._convert(name, value)


class FileMirrors(Model):
    """The mirrors of one shard (an element of ``GET …/files/:file/mirrors``).

    :ivar available: candidate :class:`Mirror` records not yet established.
    :ivar established: :class:`Mirror` records holding the shard.
    """

    _fields = ("available", "established")

    available: list[Mirror]
    established: list[Mirror]

    def __init__(
        self,
        /,
        available: list[Mirror | Mapping[str, Any]] | None = None,
        established: list[Mirror | Mapping[str, Any]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(extra, available=available, established=established)

    def _convert(self, name: str, value: Any) -> Any:
        return _as_record_list(Mirror, value, f"FileMirrors.{name}")


class ExchangeReport(Model):
    """A transfer report for ``POST /reports/exchanges``.

    :ivar dataHash: the shard hash.
    :ivar reporterId: who reports (user email, or the farmer's nodeID).
    :ivar farmerId: the farmer's nodeID.
    :ivar clientId: the client (user email or nodeID).
    :ivar exchangeStart: transfer start (aware UTC; epoch milliseconds on the wire).
    :ivar exchangeEnd: transfer end (aware UTC; epoch milliseconds on the wire).
    :ivar exchangeResultCode: :attr:`SUCCESS` (1000) or :attr:`FAILURE` (1100).
    :ivar exchangeResultMessage: e.g. ``"SHARD_UPLOADED"``.
    :ivar created: when the Bridge recorded it (aware UTC), in Bridge answers.
    """

    SUCCESS: ClassVar[int] = 1000
    FAILURE: ClassVar[int] = 1100
    STORJ_REPORT_UPLOAD_ERROR: ClassVar[str] = "TRANSFER_FAILED"
    STORJ_REPORT_SHARD_UPLOADED: ClassVar[str] = "SHARD_UPLOADED"
    STORJ_REPORT_DOWNLOAD_ERROR: ClassVar[str] = "DOWNLOAD_ERROR"
    STORJ_REPORT_SHARD_DOWNLOADED: ClassVar[str] = "SHARD_DOWNLOADED"
    STORJ_REPORT_FAILED_INTEGRITY: ClassVar[str] = "FAILED_INTEGRITY"
    STORJ_REPORT_SHARD_EXISTS: ClassVar[str] = "SHARD_EXISTS"
    STORJ_REPORT_READ_FAILED: ClassVar[str] = "READ_FAILED"
    STORJ_REPORT_MIRROR_SUCCESS: ClassVar[str] = "MIRROR_SUCCESS"
    STORJ_REPORT_MIRROR_FAILED: ClassVar[str] = "MIRROR_FAILED"

    _fields = (
        "dataHash",
        "reporterId",
        "farmerId",
        "clientId",
        "exchangeStart",
        "exchangeEnd",
        "exchangeResultCode",
        "exchangeResultMessage",
        "created",
    )
    _timestamps = {"exchangeStart": "ms", "exchangeEnd": "ms", "created": "iso"}
    _kinds = {
        "dataHash": "str",
        "reporterId": "str",
        "farmerId": "str",
        "clientId": "str",
        "exchangeResultCode": "int",
        "exchangeResultMessage": "str",
    }

    dataHash: str | None
    reporterId: str | None
    farmerId: str | None
    clientId: str | None
    exchangeStart: datetime | None
    exchangeEnd: datetime | None
    exchangeResultCode: int | None
    exchangeResultMessage: str | None
    created: datetime | None

    def __init__(
        self,
        /,
        dataHash: str | None = None,
        reporterId: str | None = None,
        farmerId: str | None = None,
        clientId: str | None = None,
        exchangeStart: datetime | int | None = None,
        exchangeEnd: datetime | int | None = None,
        exchangeResultCode: int | None = None,
        exchangeResultMessage: str | None = None,
        created: datetime | str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(
            extra,
            dataHash=dataHash,
            reporterId=reporterId,
            farmerId=farmerId,
            clientId=clientId,
            exchangeStart=exchangeStart,
            exchangeEnd=exchangeEnd,
            exchangeResultCode=exchangeResultCode,
            exchangeResultMessage=exchangeResultMessage,
            created=created,
        )


# --------------------------------------------------------------------------- audit tree


class MerkleTree:
    """Merkle hash tree over audit leaves; row 0 is the root, the last row the leaves.

    :param leaves: the leaves (a list, tuple or generator of strings). With
        ``prehashed=True`` (default) they are used as given (40 hex under the
        2017 scheme); with ``prehashed=False`` each item (``str`` as UTF-8, or
        ``bytes``) is first replaced by ``hex(RIPEMD160(SHA256(item)))``.
    :param scheme: node hashing: ``"2017"`` (default) hashes the raw 20-byte
        children, ``"2016"`` hashes the concatenated hex text (the 0.1.x SDK and
        storj-lib 6 behaviour).

    The leaves are padded with :data:`storj.merkle.PAD_LEAF` to a power of two
    (:attr:`leaves` includes the padding). :attr:`depth` is ``ceil(log2(n))``
    (0 for one leaf); :attr:`count` is the number of internal nodes
    (``2**depth - 1``), plus the (padded) leaves when ``prehashed=False`` — the
    0.1.x semantics. Invalid input raises :class:`ValueError`.
    """

    __slots__ = ("_count", "_prehashed", "_rows", "_scheme")
    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self,
        leaves: Iterable[str | bytes],
        prehashed: bool = True,
        *,
        scheme: Scheme = "2017",
    ) -> None:
        if leaves is None:
            raise ValueError("Leaves should be a list.")
        if isinstance(leaves, (str, bytes, bytearray, Mapping)) or not isinstance(leaves, Iterable):
            raise ValueError(f"Leaves should be a list of strings, not {type(leaves).__name__}.")
        items = list(leaves)
        if not items:
            raise ValueError("Leaves should not be empty: a tree needs at least one leaf.")
        if prehashed:
            for leaf in items:
                if not isinstance(leaf, str):
                    raise ValueError(
                        f"Leaves should only contain strings, got {type(leaf).__name__}."
                    )
            hashed = [str(leaf) for leaf in items]
        else:
            hashed = []
            for leaf in items:
                if isinstance(leaf, str):
                    hashed.append(rmd160sha256_hex(leaf.encode("utf-8")))
                elif isinstance(leaf, (bytes, bytearray, memoryview)):
                    hashed.append(rmd160sha256_hex(bytes(leaf)))
                else:
                    raise ValueError(
                        f"Leaves should only contain strings or bytes, got {type(leaf).__name__}."
                    )
        self._scheme = scheme
        self._prehashed = bool(prehashed)
        self._rows = merkle.tree_rows(hashed, scheme=scheme)
        internal = (1 << self.depth) - 1
        self._count = internal if self._prehashed else internal + len(self._rows[-1])

    @property
    def leaves(self) -> list[str]:
        """The leaves as hex strings, padded to a power of two (a copy)."""
        return list(self._rows[-1])

    @property
    def depth(self) -> int:
        """``ceil(log2(len(leaves)))``: levels above the leaves (0 for a single leaf)."""
        return len(self._rows) - 1

    @property
    def levels(self) -> int:
        """``depth + 1``: what :func:`storj.merkle.verify_proof` takes as ``depth``."""
        return len(self._rows)

    @property
    def count(self) -> int:
        """Number of nodes (see the class docstring for the 0.1.x semantics)."""
        return self._count

    @property
    def rows(self) -> list[list[str]]:
        """All levels, row 0 = ``[root]`` (a copy)."""
        return [list(row) for row in self._rows]

    @property
    def prehashed(self) -> bool:
        """Whether the leaves were used as given."""
        return self._prehashed

    @property
    def scheme(self) -> str:
        """The node hashing generation (``"2017"`` or ``"2016"``)."""
        return self._scheme

    def get_root(self) -> str:
        """The root hash (hex)."""
        return self._rows[0][0]

    def get_level(self, depth: int) -> list[str]:
        """The row at ``depth`` (0 = root, :attr:`depth` = leaves)."""
        valid = isinstance(depth, int) and not isinstance(depth, bool)
        if not valid or not 0 <= depth < len(self._rows):
            raise ValueError(f"depth must be an int from 0 to {self.depth}, got {depth!r}")
        return list(self._rows[depth])

    def proof(self, response: bytes | str) -> list[Any]:
        """The audit proof for a challenge response (:func:`storj.merkle.make_proof`)."""
        return merkle.make_proof(self._rows[-1], response, scheme=self._scheme)

    def verify(self, proof: Any) -> bool:
        """Whether ``proof`` verifies against this tree's root (never raises)."""
        return merkle.verify_proof(proof, self.get_root(), self.levels, scheme=self._scheme)

    def to_json(self) -> list[str]:
        """The leaves, as sent in ``tree`` of ``PUT /frames/:id``."""
        return self.leaves

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MerkleTree):
            return NotImplemented
        return (self._scheme, self._rows, self._count) == (other._scheme, other._rows, other._count)

    def __repr__(self) -> str:
        return (
            f"MerkleTree(root={self.get_root()!r}, leaves={len(self._rows[-1])}, "
            f"depth={self.depth}, scheme={self._scheme!r})"
        )


# --------------------------------------------------------------------------- shards


def _hex_challenge(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return value


class Shard(Model):
    """One shard of a file, as declared in ``PUT /frames/:id``.

    :ivar id: unique identifier (not part of the ``PUT`` body).
    :ivar hash: ``hex(RIPEMD160(SHA256(shard)))`` (40 hex).
    :ivar size: the shard's real size in bytes.
    :ivar index: position of the shard in the file (parity shards follow data shards).
    :ivar challenges: audit challenges as 64-hex strings (bytes are hex encoded).
    :ivar tree: the audit leaves (40 hex, padded) — a list, or a
        :class:`MerkleTree` whose leaves are used.
    :ivar exclude: nodeIDs of farmers the Bridge must not pick.
    :ivar parity: ``True`` for a Reed–Solomon parity shard (2018 Bridge).

    :meth:`to_json` is exactly the ``PUT /frames/:id`` body: ``hash``,
    ``size``, ``index``, ``challenges``, ``tree`` (leaf list), ``exclude``, and
    ``parity`` only when set; ``id`` and extras are not sent.
    """

    _fields = ("id", "hash", "size", "index", "challenges", "tree", "exclude", "parity")
    _kinds = {"id": "str", "hash": "str", "size": "count", "index": "count", "parity": "bool"}

    id: str | None
    hash: str | None
    size: int | None
    index: int | None
    challenges: list[str]
    tree: list[str] | MerkleTree
    exclude: list[str]
    parity: bool | None

    def __init__(
        self,
        /,
        id: str | None = None,
        hash: str | None = None,
        size: int | None = None,
        index: int | None = None,
        challenges: list[str | bytes] | None = None,
        tree: list[str] | MerkleTree | None = None,
        exclude: list[str] | None = None,
        parity: bool | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(
            extra,
            id=id,
            hash=hash,
            size=size,
            index=index,
            challenges=challenges,
            tree=tree,
            exclude=exclude,
            parity=parity,
        )

    @classmethod
    def from_digest(
        cls,
        digest: sharding.ShardDigest,
        index: int,
        *,
        parity: bool | None = None,
        exclude: list[str] | None = None,
    ) -> Shard:
        """A shard record from a :class:`storj.sharding.ShardDigest`."""
        return cls(
            hash=digest.hash,
            size=digest.size,
            index=index,
            challenges=list(digest.challenges),
            tree=list(digest.tree),
            exclude=exclude,
            parity=parity,
        )

    def _convert(self, name: str, value: Any) -> Any:
        if name in ("challenges", "tree", "exclude"):
            if value is None:
                return []
            if name == "tree" and isinstance(value, MerkleTree):
                return value
            owner = f"Shard.{name}"
            if name == "challenges":
                items = _list_of(
                    value, owner, lambda v: isinstance(v, (str, bytes, bytearray)), "str or bytes"
                )
                return [_hex_challenge(c) for c in items]
            return _list_of(value, owner, lambda v: isinstance(v, str), "str")
        return super()._convert(name, value)

    def add_challenge(self, challenge: str | bytes) -> None:
        """Append a challenge (bytes are hex encoded)."""
        self.challenges.append(_hex_challenge(challenge))

    def add_tree(self, leaf: str) -> None:
        """Append an audit leaf (only when :attr:`tree` is a list)."""
        if isinstance(self.tree, MerkleTree):
            raise ValueError("Shard.tree is a MerkleTree; build a new tree instead of appending")
        self.tree.append(leaf)

    @property
    def leaves(self) -> list[str]:
        """The audit leaves, whether :attr:`tree` is a list or a :class:`MerkleTree`."""
        return self.tree.leaves if isinstance(self.tree, MerkleTree) else list(self.tree)

    def to_json(self) -> dict[str, Any]:
        """The ``PUT /frames/:id`` body for this shard."""
        out: dict[str, Any] = {
            "hash": self.hash,
            "size": self.size,
            "index": self.index,
            "challenges": list(self.challenges),
            "tree": self.leaves,
            "exclude": list(self.exclude),
        }
        if self.parity is not None:
            out["parity"] = self.parity
        return out

    def get_public_record(self) -> dict[str, Any]:
        """What may be shown to anyone: the :meth:`to_json` body without the challenges.

        ``hash``, ``size``, ``index``, ``tree`` (the audit leaves: hashes that reveal
        nothing about the challenges), ``exclude`` and ``parity`` when set. This is
        what the Bridge and the farmers learn about the shard.

        Differs from 0.3.x: 0.3.x declared this method and returned ``None``.
        """
        record = self.to_json()
        del record["challenges"]
        return record

    def get_private_record(self) -> dict[str, Any]:
        """What the uploader keeps to audit the shard later; keep it secret.

        ``{"hash", "size", "index", "challenges", "tree", "root", "depth"}``: the
        challenges (a farmer that knew them could answer audits without the data),
        the leaves and the Merkle ``root`` and ``depth`` (:class:`MerkleTree`,
        the tree's :attr:`~MerkleTree.scheme` when :attr:`tree` is one, else the
        2017 scheme) against which :func:`storj.merkle.verify_proof` checks a
        farmer's proof. ``root`` and ``depth`` are ``None`` for a shard without
        leaves.

        Differs from 0.3.x: 0.3.x declared this method and returned ``None``.
        """
        leaves = self.leaves
        tree = self.tree if isinstance(self.tree, MerkleTree) else None
        if tree is None and leaves:
            tree = MerkleTree(leaves)
        return {
            "hash": self.hash,
            "size": self.size,
            "index": self.index,
            "challenges": list(self.challenges),
            "tree": leaves,
            "root": tree.get_root() if tree is not None else None,
            "depth": tree.depth if tree is not None else None,
        }

    def all(self) -> str:
        """A one-line debug description (0.3.x's format).

        ``Shard{index=0, hash=…, size=…, tree={leaf, leaf, …}, challenges={c, …}}``;
        works whether :attr:`tree` is a list or a :class:`MerkleTree` (0.3.x failed
        on a tree object). The challenges are secret: do not log this string where
        farmers could read it.
        """
        return (
            f"Shard{{index={self.index}, hash={self.hash}, size={self.size}, "
            f"tree={{{', '.join(self.leaves)}}}, challenges={{{', '.join(self.challenges)}}}}}"
        )

    def _eq_key(self) -> tuple[Any, ...]:
        values = tuple(
            self.leaves if name == "tree" else getattr(self, name) for name in self._fields
        )
        return (values, self.extra)


class ShardManager:
    """Split a local file into shards and compute their hashes and audit data.

    :param filepath: path of the file (``str`` or path-like).
    :param shard_size: bytes per shard; ``None`` (default) uses libstorj's
        sizing (:func:`storj.sharding.determine_shard_size`) for the file's size.
    :param nchallenges: audit challenges per shard (12, as in 0.1.x; libstorj uses 4).
    :param num_chunks: (0.3.x keyword) the number of shards wanted instead of a
        ``shard_size``; ``0`` or ``None`` means automatic (libstorj's sizing). The
        shard size becomes ``ceil(filesize / num_chunks)`` and the last shard holds
        the rest, so every byte is kept. Differs from 0.3.x, which floored the chunk
        size and silently dropped up to ``num_chunks - 1`` bytes at the end of the
        file; in return a tiny file may get fewer shards than asked for
        (:attr:`index` says how many: 5 bytes in 4 chunks gives 2 + 2 + 1).
    :param tmp_path: (0.3.x keyword) a directory: while the shards are computed each
        one is also written, streaming, to ``tmp_path/<basename>-<n><suffix>``
        (``n`` from 1, see :meth:`chunk_path`), created private (mode 0600) and
        replaced if it exists. ``None`` (default) writes no chunk files. Differs
        from 0.3.x, where ``None`` meant ``/tmp``: this class writes nothing unasked.
    :param suffix: (0.3.x keyword) suffix of the chunk file names.
    :param chunk_size: read size while hashing (memory bound).
    :param scheme: audit hashing generation of the leaves (``"2017"`` default).

    The constructor only validates its arguments; it does no I/O. The file is
    examined on first access: :attr:`filesize`, :attr:`shard_size` (when
    ``None`` was given) and :attr:`index` need an ``os.stat``; :attr:`shards`
    streams the file once through :class:`storj.sharding.ShardHasher` (memory:
    one ``chunk_size`` buffer, whatever the shard size). A missing file raises
    :class:`FileNotFoundError`, a path that is not a regular file
    :class:`ValueError`, at that first access.

    Every byte ends up in exactly one shard; the last shard keeps its real
    (short) size. An empty file has no shards (``index == 0``). The shards
    are the file's bytes as they are: this class neither encrypts nor adds
    parity (the transfer engine does both).

    :meth:`determine_shard_size` and :meth:`get_optimal_shard_number` are 0.3.x's
    sizing rule (see there); the shards themselves use :attr:`shard_size`.
    """

    #: 0.3.x's largest shard (4 GiB), used by :meth:`determine_shard_size`.
    MAX_SHARD_SIZE: ClassVar[int] = sharding.MAX_SHARD_SIZE
    #: 0.3.x: how many doublings the shard size lags behind the file size.
    SHARD_MULTIPLES_BACK: ClassVar[int] = sharding.SHARD_MULTIPLES_BACK
    #: 0.3.x's base shard size (8 MiB), used by :meth:`determine_shard_size`.
    SHARD_SIZE: ClassVar[int] = sharding.LEGACY_BASE_SHARD_SIZE

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        shard_size: int | None = None,
        nchallenges: int = 12,
        *,
        num_chunks: int | None = None,
        tmp_path: str | os.PathLike[str] | None = None,
        suffix: str = "",
        chunk_size: int = sharding.DEFAULT_CHUNK_SIZE,
        scheme: Scheme = "2017",
    ) -> None:
        if shard_size is not None and (
            isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1
        ):
            raise ValueError(f"shard_size must be a positive int or None, got {shard_size!r}")
        if num_chunks is not None and (
            isinstance(num_chunks, bool) or not isinstance(num_chunks, int) or num_chunks < 0
        ):
            raise ValueError(f"num_chunks must be an int >= 0 or None, got {num_chunks!r}")
        if shard_size is not None and num_chunks:
            raise ValueError("give shard_size or num_chunks, not both")
        if isinstance(nchallenges, bool) or not isinstance(nchallenges, int) or nchallenges < 1:
            raise ValueError(f"nchallenges must be an int >= 1, got {nchallenges!r}")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
        if not isinstance(suffix, str) or os.sep in suffix or (os.altsep and os.altsep in suffix):
            raise ValueError(f"suffix must be a str without path separators, got {suffix!r}")
        merkle._check_scheme(scheme)
        self._shard_size = shard_size
        self._num_chunks = num_chunks or None
        self.nchallenges = nchallenges
        self.chunk_size = chunk_size
        self.scheme: Scheme = scheme
        #: Suffix of the chunk file names (0.3.x).
        self.suffix: str = suffix
        self.tmp_path = tmp_path
        self.filepath = filepath

    @property
    def tmp_path(self) -> str | None:
        """Directory the chunk files are written to, or ``None`` for no chunk files."""
        return self._tmp_path

    @tmp_path.setter
    def tmp_path(self, value: str | os.PathLike[str] | None) -> None:
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise ValueError(f"tmp_path must be a path or None, not {type(value).__name__}")
        self._tmp_path = os.fspath(value) if value is not None else None

    @property
    def num_chunks(self) -> int | None:
        """The number of shards asked for with ``num_chunks``, or ``None`` (automatic)."""
        return self._num_chunks

    @property
    def filepath(self) -> str:
        """Path of the file (setting it forgets any computed shards; no I/O)."""
        return self._filepath

    @filepath.setter
    def filepath(self, value: str | os.PathLike[str]) -> None:
        if not isinstance(value, (str, os.PathLike)):
            raise ValueError(f"filepath must be a str or path-like, not {type(value).__name__}")
        path = os.fspath(value)
        if not isinstance(path, str) or not path:
            raise ValueError("filepath must be a non-empty text path")
        self._filepath = path
        self._filesize: int | None = None
        self._shards: list[Shard] | None = None

    @property
    def filesize(self) -> int:
        """Size of the file in bytes (``os.stat`` on first access)."""
        if self._filesize is None:
            info = os.stat(self._filepath)
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"{self._filepath!r} is not a regular file")
            self._filesize = info.st_size
        return self._filesize

    @property
    def shard_size(self) -> int:
        """Bytes per shard: as given, from ``num_chunks``, or libstorj's size for the file."""
        if self._shard_size is not None:
            return self._shard_size
        if self._num_chunks:
            return max(1, -(-self.filesize // self._num_chunks))
        return sharding.determine_shard_size(self.filesize)

    @shard_size.setter
    def shard_size(self, value: int | None) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValueError(f"shard_size must be a positive int or None, got {value!r}")
        self._shard_size = value
        self._num_chunks = None
        self._shards = None

    @property
    def index(self) -> int:
        """Number of shards of the file."""
        if self._shards is not None:
            return len(self._shards)
        return sharding.data_shard_count(self.filesize, self.shard_size)

    @property
    def shards(self) -> list[Shard]:
        """The :class:`Shard` records (computed by streaming the file on first access)."""
        if self._shards is None:
            self._shards = list(self.iter_shards())
        return self._shards

    def determine_shard_size(self, accumulator: int = 0) -> int:
        """0.3.x's shard size for :attr:`filesize` ("in sync with shard-size-calculator").

        The smallest ``a >= accumulator`` with ``filesize <= 8 MiB * 2**a`` gives
        ``8 MiB * 2**max(0, a - 4)``, capped at 4 GiB: files up to 128 MiB get
        8 MiB, 43 GiB gets 4 GiB. An empty file gets 8 MiB (0.3.x answered 0 and
        then divided by it). This is the 0.3.x rule, kept for code that compares
        against 0.3.x numbers; the shards of this manager use :attr:`shard_size`
        (libstorj's rule, base 2 MiB, unless a size or ``num_chunks`` was given),
        which is what libstorj and this package's uploads use.

        :raises ValueError: a file beyond ``8 MiB * 2**41`` bytes, or a negative
            ``accumulator``.
        """
        return sharding.legacy_shard_size(self.filesize, accumulator)

    def get_optimal_shard_number(self) -> int:
        """0.3.x's shard count: ``ceil(filesize / determine_shard_size())`` (0 when empty).

        43 GiB → 11 (0.3.14's test vector). Pass it as ``num_chunks`` to shard a file
        the 0.3.x way.
        """
        return sharding.data_shard_count(self.filesize, self.determine_shard_size())

    def chunk_path(self, number: int) -> str:
        """Path of chunk file ``number`` (from 1, as 0.3.x): ``tmp_path/<basename>-<n><suffix>``.

        :raises ValueError: no :attr:`tmp_path` is set.
        """
        if self._tmp_path is None:
            raise ValueError("this ShardManager has no tmp_path: it writes no chunk files")
        name = f"{os.path.basename(self._filepath)}-{number}{self.suffix}"
        return os.path.join(self._tmp_path, name)

    def iter_shards(self) -> Iterator[Shard]:
        """Stream the file and yield each shard's record as soon as it is hashed.

        Fresh random challenges are drawn for every call. With :attr:`tmp_path`
        each shard is also written to its :meth:`chunk_path` (mode 0600).
        """
        shard_size = self.shard_size  # also checks the path
        with open(self._filepath, "rb") as stream:
            yield from self._hash_stream(stream, shard_size)

    def _hash_stream(self, stream: BinaryIO, shard_size: int) -> Iterator[Shard]:
        index = 0
        while True:
            sink = None if self._tmp_path is None else _private_file(self.chunk_path(index + 1))
            try:
                source: Any = stream if sink is None else _Tee(stream, sink)
                digest = sharding.digest_stream(
                    source,
                    sharding.new_challenges(self.nchallenges),
                    length=shard_size,
                    chunk_size=self.chunk_size,
                    scheme=self.scheme,
                )
            finally:
                if sink is not None:
                    sink.close()
            if digest.size == 0:
                if sink is not None:
                    os.unlink(self.chunk_path(index + 1))
                return
            yield Shard.from_digest(digest, index)
            index += 1
            if digest.size < shard_size:
                return

    @staticmethod
    def hash(data: bytes | str) -> str:
        """``hex(RIPEMD160(SHA256(data)))``; text is UTF-8 encoded (the 0.1.x helper)."""
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        return rmd160sha256_hex(raw)

    def __repr__(self) -> str:
        size = self._shard_size if self._shard_size is not None else "auto"
        extra = f", num_chunks={self._num_chunks}" if self._num_chunks else ""
        if self._tmp_path is not None:
            extra += f", tmp_path={self._tmp_path!r}, suffix={self.suffix!r}"
        return (
            f"ShardManager(filepath={self._filepath!r}, shard_size={size}, "
            f"nchallenges={self.nchallenges}{extra})"
        )


class _Tee:
    """A read-only stream that copies what it returns into ``sink``."""

    def __init__(self, source: BinaryIO, sink: BinaryIO) -> None:
        self._source = source
        self._sink = sink

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        if data:
            self._sink.write(data)
        return data


def _private_file(path: str) -> BinaryIO:
    """Open ``path`` for writing, created 0600 (truncated if it exists; never via a symlink)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except (AttributeError, OSError):  # pragma: no cover - platforms without fchmod
        pass
    return os.fdopen(fd, "wb")

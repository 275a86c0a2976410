"""Storj package: SDK, CLI and local network for the Storj v2 Bridge protocol.

The documented package-level API: :class:`BucketManager`, :class:`TokenManager`,
:func:`generate_new_key_pair` and :func:`get_client`, plus :class:`storj.http.Client`
and the exception classes of :mod:`storj.exception`, re-exported here.

``import storj`` stays cheap: the HTTP client (``requests``) and the key code
(``ecdsa``, ``cryptography``) are imported on first use of ``storj.Client`` /
``storj.generate_new_key_pair``.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from storj.exception import (
    AuthenticationError,
    BadRequestError,
    BridgeError,
    BridgeResponseError,
    BridgeServerError,
    BridgeTimeoutError,
    BridgeTransportError,
    ClientError,
    ConfigurationError,
    ConflictError,
    EncryptionKeyError,
    FarmerError,
    FarmerTimeoutError,
    HashMismatchError,
    IntegrityError,
    InvalidFieldError,
    NotFoundError,
    OverwriteError,
    RateLimitError,
    ResponseTooLargeError,
    StorjBridgeApiError,
    StorjError,
    StorjFarmerError,
    SuppliedTokenNotAcceptedError,
    TransferCancelledError,
    TransferError,
)
from storj.metadata import __version__, version

if TYPE_CHECKING:
    from storj.api import ecdsa_to_hex
    from storj.configuration import read_config
    from storj.http import Client
    from storj.keys import generate_new_key_pair
    from storj.managers import BucketKeyManager, FileManager, UserKeyManager
    from storj.model import Bucket, File, Token

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BridgeError",
    "BridgeResponseError",
    "BridgeServerError",
    "BridgeTimeoutError",
    "BridgeTransportError",
    "Bucket",
    "BucketKeyManager",
    "BucketManager",
    "Client",
    "ClientError",
    "ConfigurationError",
    "ConflictError",
    "EncryptionKeyError",
    "FarmerError",
    "FarmerTimeoutError",
    "File",
    "FileManager",
    "HashMismatchError",
    "IntegrityError",
    "InvalidFieldError",
    "NotFoundError",
    "OverwriteError",
    "RateLimitError",
    "ResponseTooLargeError",
    "StorjBridgeApiError",
    "StorjError",
    "StorjFarmerError",
    "SuppliedTokenNotAcceptedError",
    "Token",
    "TokenManager",
    "TransferCancelledError",
    "TransferError",
    "UserKeyManager",
    "__version__",
    "ecdsa_to_hex",
    "generate_new_key_pair",
    "get_client",
    "read_config",
    "version",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    """Import ``Client``, ``generate_new_key_pair``, ``read_config``, the managers and the
    0.x re-exports (``Bucket``, ``File``, ``Token``, ``ecdsa_to_hex``) on first use (PEP 562)."""
    if name == "Client":
        from storj.http import Client

        return Client
    if name == "generate_new_key_pair":
        from storj.keys import generate_new_key_pair

        return generate_new_key_pair
    if name == "read_config":
        from storj.configuration import read_config

        return read_config
    if name in ("Bucket", "File", "Token"):  # re-exported by 0.1.x-0.3.x
        from storj import model

        return getattr(model, name)
    if name == "ecdsa_to_hex":
        from storj.api import ecdsa_to_hex

        return ecdsa_to_hex
    if name in ("BucketKeyManager", "FileManager", "UserKeyManager"):
        from storj import managers

        return getattr(managers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def get_client() -> Client:
    """Returns a pre-configured Storj HTTP client.

    Credentials, Bridge URL and encryption key come from
    :func:`storj.configuration.read_settings` (environment variables first, then the
    INI file). Each call returns a new client that the caller owns (close it, or use it
    in a ``with`` block).

    :returns: Storj HTTP client.
    :rtype: (:class:`storj.http.Client`)
    :raises ConfigurationError: no credentials are configured.
    """
    from storj.configuration import read_settings
    from storj.http import Client

    settings = read_settings()
    return Client(
        settings.email,
        settings.password,
        settings.bridge_url,
        encryption_key=settings.encryption_key,
    )


_shared_lock = threading.Lock()
_shared: tuple[tuple[Any, ...], Client] | None = None


def _shared_client() -> Client:
    """The client the managers use: one per configuration, so calls reuse connections.

    storj 0.1.x built a new client (new session, new TCP/TLS connection) per manager
    call. The configuration is still read on every call, so a change of environment
    or config file takes effect at once.
    """
    global _shared
    from storj.api import hash_password
    from storj.configuration import read_settings

    settings = read_settings()
    assert settings.email is not None and settings.password is not None
    key = (
        settings.email,
        hash_password(settings.password),
        settings.bridge_url,
        settings.encryption_key,
    )
    with _shared_lock:
        if _shared is None or _shared[0] != key:
            from storj.http import Client

            client = Client(
                settings.email,
                settings.password,
                settings.bridge_url,
                encryption_key=settings.encryption_key,
            )
            if _shared is not None:
                _shared[1].close()
            _shared = (key, client)
        return _shared[1]


class BucketManager:
    """Class to manage buckets (static methods over the configured client).

    The documentation lists ``abc.ABCMeta`` as its base (storj 0.1.x declared it a
    metaclass by mistake); it is a plain class with static methods. Each method uses
    the client of :func:`get_client`'s configuration (shared between calls).
    """

    @staticmethod
    def all() -> list[Bucket]:
        """All buckets of the configured user (``GET /buckets``)."""
        return list(_shared_client().bucket_list())

    #: Alias of :meth:`all`.
    list = all

    @staticmethod
    def create(
        name: str, storage_limit: int | None = None, transfer_limit: int | None = None
    ) -> Bucket:
        """Create bucket (``POST /buckets``).

        :param name: bucket name.
        :param storage_limit: storage limit in GB (the Bridge ignores it).
        :param transfer_limit: transfer limit in GB (the Bridge ignores it).
        """
        return _shared_client().bucket_create(name, storage=storage_limit, transfer=transfer_limit)

    @staticmethod
    def delete(bucket_id: str) -> None:
        """Delete a bucket (``DELETE /buckets/{id}``)."""
        _shared_client().bucket_delete(bucket_id)

    @staticmethod
    def get(bucket_id: str) -> Bucket:
        """The bucket with this id (``GET /buckets/{id}``)."""
        return _shared_client().bucket_get(bucket_id)


class TokenManager:
    """Bucket token manager.

    :ivar bucket_id: bucket unique identifier.
    """

    def __init__(self, bucket_id: str) -> None:
        self.bucket_id = bucket_id

    def __repr__(self) -> str:
        return f"TokenManager(bucket_id={self.bucket_id!r})"

    def create(self, operation: str) -> Token:
        """Create a ``PUSH`` or ``PULL`` token (case-insensitive) for the bucket.

        :raises ValueError: another operation.
        """
        return _shared_client().token_create(self.bucket_id, operation)

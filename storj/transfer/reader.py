"""A seekable, read-only file object over a stored file: :func:`open_file`.

``open_file`` reads the entry (``…/info``), lists its pointers and checks the file
HMAC; the returned :class:`StorjFileReader` then fetches a data shard only when a
read touches it. Each shard is downloaded whole into a temporary file (decrypted
chunk by chunk as it arrives), and its bytes are returned only after its length and
hash have been verified; memory stays at a few ``io_chunk_size`` buffers and disk at
two shards. A shard's farmer token is single use, so a shard read again after it
left the cache is asked for anew (``limit=1&skip=i``). Pointers carrying only a legacy
``channel`` are read over their WebSocket data channel, as :func:`download_file` does.

If a shard cannot be had from any farmer, the reader falls back to
:func:`~storj.transfer.download_file` of the whole file into a temporary file
(rebuilding missing shards from parity) and serves every later read from it.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import logging
import os
import threading
from collections import OrderedDict
from typing import Any

from storj import crypto
from storj.exception import FarmerError, HashMismatchError, IntegrityError, TransferError
from storj.transfer._common import (
    bridge_client,
    encryption_key_of,
    make_report,
    now_ms,
    send_report,
)
from storj.transfer._tempfiles import PositionalFile, TempFiles
from storj.transfer.config import DEFAULT_CONFIG, TransferConfig
from storj.transfer.download import (
    ShardSource,
    _blame,
    _pointer_ok,
    check_hmac,
    expected_shards,
    file_encryption_for,
    list_pointers,
    request_pointer,
)
from storj.transfer.farmer_client import FarmerClient
from storj.transfer.progress import Abort

__all__ = ["StorjFileReader", "open_file"]

log = logging.getLogger(__name__)

#: Shards kept (decrypted, verified) in temporary files.
CACHED_SHARDS = 2


class StorjFileReader(io.RawIOBase):
    """Readable, seekable bytes of a stored file (see the module docstring).

    Build it with :func:`open_file` (the constructor does no I/O). Use it as a context
    manager or call :meth:`close` to remove its temporary files. Not meant to be shared
    between threads without your own locking (calls are serialised internally).

    :ivar entry: the file's :class:`~storj.model.File` metadata.
    :ivar size: the file size in bytes.
    """

    def __init__(
        self,
        client: Any,
        bucket_id: str,
        file_id: str,
        entry: Any,
        encryption: crypto.FileEncryption,
        pointers: list[Any],
        config: TransferConfig,
    ) -> None:
        super().__init__()
        self.client = client
        self.bucket_id = bucket_id
        self.file_id = file_id
        self.entry = entry
        self.config = config
        self._encryption = encryption
        self._data = [p for p in pointers if not p.parity]
        self._fresh = {int(p.index) for p in self._data if _pointer_ok(p)}
        self._offsets: list[int] = []
        position = 0
        for pointer in self._data:
            self._offsets.append(position)
            position += int(pointer.size)
        self.size = position
        self._pos = 0
        self._lock = threading.RLock()
        self._temp = TempFiles(config.tmp_dir)
        self._cache: OrderedDict[int, PositionalFile] = OrderedDict()
        self._whole: PositionalFile | None = None
        self._abort = Abort()
        self._farmers: FarmerClient | None = None

    # -- io.RawIOBase ---------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence ({whence!r})")
        if target < 0:
            raise OSError(22, f"negative seek position {target}")
        self._pos = target
        return target

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the current position (short only at the end of the file)."""
        self._check_open()
        view = memoryview(buffer).cast("B")
        total = 0
        with self._lock:
            while total < view.nbytes and self._pos < self.size:
                total += self._read_some(view[total:])
        return total

    def _read_some(self, view: memoryview) -> int:
        """Read from the shard holding the current position, up to its end."""
        index = bisect.bisect_right(self._offsets, self._pos) - 1
        start = self._offsets[index]
        end = start + int(self._data[index].size)
        want = min(view.nbytes, end - self._pos)
        if self._whole is not None:
            got = self._whole.preadinto(view[:want], self._pos)
        else:
            shard = self._shard(index)
            if shard is None:
                got = self._whole_file().preadinto(view[:want], self._pos)
            else:
                got = shard.preadinto(view[:want], self._pos - start)
        if got != want:
            raise TransferError("a cached shard is shorter than expected")
        self._pos += got
        return got

    def readall(self) -> bytes:
        """The rest of the file (this loads it into memory: prefer reading in pieces)."""
        out = bytearray()
        chunk = bytearray(self.config.io_chunk_size)
        while True:
            got = self.readinto(chunk)
            if not got:
                return bytes(out)
            out += memoryview(chunk)[:got]

    def close(self) -> None:
        """Remove the cached shards and stop the farmer client."""
        if not self.closed:
            self._abort.set(ValueError("reader closed"))
            if self._farmers is not None:
                self._farmers.close()
            self._temp.cleanup()
            self._cache.clear()
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")

    def __repr__(self) -> str:
        return f"<StorjFileReader {self.bucket_id}/{self.file_id} size={self.size} pos={self._pos}>"

    # -- shards ---------------------------------------------------------------------

    def _shard(self, index: int) -> PositionalFile | None:
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        handle = self._temp.create(".shard")
        try:
            ok = self._fetch(index, handle)
        except BaseException:
            self._drop(handle)
            raise
        if not ok:
            self._drop(handle)
            return None
        self._cache[index] = handle
        while len(self._cache) > CACHED_SHARDS:
            _old, evicted = self._cache.popitem(last=False)
            self._drop(evicted)
        return handle

    def _drop(self, handle: PositionalFile) -> None:
        self._temp.release(handle)
        handle.close()
        if handle.path:
            with contextlib.suppress(OSError):
                os.unlink(handle.path)

    def _fetch(self, index: int, handle: PositionalFile) -> bool:
        """Download data shard ``index`` decrypted into ``handle``; False if no farmer had it."""
        if self._farmers is None:
            self._farmers = FarmerClient(self.config, self._abort)
        original = self._data[index]
        offset = self._offsets[index]
        pointer = original if index in self._fresh else None
        self._fresh.discard(index)
        exclude: list[str] = []
        token_refused: set[str] = set()
        for attempt in range(self.config.pointer_replacements + 1):
            if pointer is None or attempt:
                pointer = request_pointer(
                    self.client,
                    self.bucket_id,
                    self.file_id,
                    index,
                    exclude,
                )
                if pointer is None:
                    return False
                if pointer.hash != original.hash:
                    raise IntegrityError(f"the Bridge gave shard {index} a different hash")
            if not _pointer_ok(pointer):
                return False
            source = ShardSource(pointer, self.config)
            cipher = self._encryption.cipher(offset)

            def sink(view: memoryview, position: int, cipher: Any = cipher) -> None:
                handle.pwrite(cipher.update(view), position)

            started = now_ms()
            try:
                source.pull(
                    self._farmers, original.hash, str(pointer.token), int(original.size), sink
                )
            except FarmerError as exc:
                message = (
                    "FAILED_INTEGRITY" if isinstance(exc, HashMismatchError) else "DOWNLOAD_ERROR"
                )
                log.info("shard %d: %s", index, exc)
                self._report(original.hash, source.node_id, started, False, message)
                _blame(exc, source.node_id, exclude, token_refused)
                continue
            self._report(original.hash, source.node_id, started, True, "SHARD_DOWNLOADED")
            return True
        return False

    def _report(self, shard_hash: str, node_id: str | None, start: int, ok: bool, msg: str) -> None:
        send_report(
            self.client,
            make_report(self.client, shard_hash, node_id, start, ok, msg),
            self.config.report_exchanges,
        )

    def _whole_file(self) -> PositionalFile:
        """Fallback: download (and, with parity, rebuild) the whole file once."""
        from storj.transfer.download import download_file

        log.info("a shard of %s is unavailable; downloading the whole file", self.file_id)
        handle = self._temp.create(".whole")
        with open(handle.fd, "r+b", closefd=False) as target:
            download_file(self.client, self.bucket_id, self.file_id, target, config=self.config)
        self._whole = handle
        for cached in list(self._cache.values()):
            self._drop(cached)
        self._cache.clear()
        return handle


def open_file(
    client: Any, bucket_id: str, file_id: str, *, config: TransferConfig | None = None
) -> StorjFileReader:
    """Open a stored file for reading (see the module docstring).

    Sends ``GET /buckets/:id/files/:file/info`` and lists the pointers; shards are
    fetched later, by the reads that need them.

    :raises IntegrityError: the file HMAC does not match (wrong encryption key?).
    :raises BridgeError: e.g. :class:`~storj.exception.NotFoundError`.
    """
    config = config or DEFAULT_CONFIG
    client = bridge_client(client, config)
    entry = client.file_metadata(bucket_id, file_id)  # repeated by the client's policy
    key = encryption_key_of(client)
    encryption = file_encryption_for(key, bucket_id, file_id, entry)
    pointers = list_pointers(client, bucket_id, file_id, config, expected=expected_shards(entry))
    check_hmac(entry, encryption, pointers, config)
    return StorjFileReader(client, bucket_id, file_id, entry, encryption, pointers, config)

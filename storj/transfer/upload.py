"""The upload engine: one file in, one bucket entry out (libstorj's pipeline, §8).

What happens, in order:

1. The file name is encrypted as libstorj does (:func:`storj.crypto.encrypt_file_name`)
   and ``GET /buckets/:id/file-ids/:name`` makes sure no file has it yet (skipped when
   replacing, ``overwrite=True``).
2. ``POST /frames`` opens a staging frame (unless one is given).
3. The source is encrypted with AES-256-CTR (file key ``DK(bucketKey, index)`` for a
   random 32-byte ``index``, counter ``index[:16]``, continuing across shards). A
   regular file is not copied: it is read with ``pread`` and encrypted again every
   time shard bytes are needed (:class:`_EncryptedSource`; CTR starts at any offset),
   and its size and modification time are checked before each push and at the end,
   so a file changed under the upload fails it instead of the farmers. Any other
   source is encrypted once into a temporary file, the only copy. Each data shard's
   :class:`~storj.sharding.ShardHasher` (shard hash and audit leaves) is fed from the
   encrypted bytes, one shard per thread; a non-seekable stream is first encrypted
   sequentially into the temporary file, then hashed from there.
4. With Reed–Solomon (files ≥ 2 MiB by default) parity is computed stripe by stripe
   over aligned ranges of the encrypted data shards (the last data shard zero-padded
   for the arithmetic only) into a second temporary file, hashing the parity as it
   is produced.
5. Each shard (parity shards with ``"parity": true``) is offered to the Bridge with
   ``PUT /frames/:id`` and the bytes are ``POST``-ed to the farmer it names,
   streamed from the temporary file (see :mod:`storj.transfer.farmer_client`). A
   farmer that fails is reported (``TRANSFER_FAILED``), added to ``exclude`` and
   another contract is negotiated, up to ``max_push_attempts`` times; success is
   reported as ``SHARD_UPLOADED``. Shards are pushed concurrently.
6. ``POST /buckets/:id/files`` with ``frame``, the encrypted ``filename``,
   ``mimetype``, ``index`` (hex), ``hmac`` ``{type: sha512, value}`` over the shard
   hashes in index order and, with parity, ``erasure`` ``{type: reedsolomon}``; when
   replacing, also ``"overwrite": true`` (see below).

On any failure or cancel the workers stop, the frame is deleted (if this upload
created it), every temporary file is removed and a typed error is raised.

Replacing a file (``overwrite=True``)
-------------------------------------
Nothing of the old version is touched before step 6: the new version goes into its
own frame exactly as a new file does, so a failure or cancel up to then (farmers,
Bridge, source, Ctrl-C) leaves the old version as it was. The swap is metadata only:

* the local Bridge knows ``"overwrite": true`` and replaces the entry of the same name
  in one transaction (the old entry's frame is left for garbage collection);
* a Bridge without the extension ignores the field and refuses the duplicate name
  (409, or the 2018 Bridge's 500 ``E11000 duplicate key``). The engine then deletes
  the old entry (``DELETE /buckets/:id/files/:id``, the deterministic id of the name)
  and at once creates the new one, retrying the create on 5xx and connection errors.
  From the delete on, cancel is no longer honoured (finishing is what restores a
  version) and the frame is never deleted. The window that remains: if the process
  dies between the two calls, or the create fails for good, the name is empty while
  the new frame with all its shards still exists; the latter raises
  :class:`~storj.exception.OverwriteError` naming the frame and carrying what
  recreates the entry. No Bridge without the extension allows better.
"""

from __future__ import annotations

import contextlib
import io
import logging
import mimetypes
import os
import stat
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from storj import crypto, model, sharding
from storj.api import calculate_file_id
from storj.erasure import ReedSolomon
from storj.exception import (
    BadRequestError,
    BridgeError,
    ConflictError,
    FarmerError,
    NotFoundError,
    OverwriteError,
    RateLimitError,
    StorjError,
    TransferCancelledError,
    TransferError,
)
from storj.transfer._common import (
    ReportQueue,
    bridge_client,
    bridge_retry,
    encryption_key_of,
    field,
    make_report,
    now_ms,
    result_of,
    wait_all,
)
from storj.transfer._tempfiles import PositionalFile, ReadableAt, TempFiles
from storj.transfer.config import DEFAULT_CONFIG, TransferConfig
from storj.transfer.farmer_client import FarmerClient, farmer_endpoint
from storj.transfer.progress import Abort, Aborted, CancelToken, ProgressMeter

__all__ = ["ShardLayout", "file_upload", "upload_file"]

log = logging.getLogger(__name__)

DEFAULT_MIMETYPE = "application/octet-stream"


def _prep_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class ShardLayout:
    """How a file of ``file_size`` bytes is cut (libstorj's sizing, §8.1–8.2).

    Data shard ``i`` covers bytes ``i·shard_size …`` of the encrypted file (the last
    one is short); the ``parity_shards`` parity shards (indexes after the data
    shards) are :attr:`parity_size` bytes long: the length of data shard 0, i.e. the
    full shard size whenever the file has more than one shard.
    """

    file_size: int
    shard_size: int
    data_shards: int
    parity_shards: int

    @classmethod
    def plan(cls, file_size: int, erasure: bool | None = None) -> ShardLayout:
        """The layout of a file; ``erasure`` None = parity for files ≥ 2 MiB (libstorj)."""
        shard_size = sharding.determine_shard_size(file_size)
        data = sharding.data_shard_count(file_size, shard_size)
        use_rs = sharding.erasure_enabled(file_size) if erasure is None else erasure
        parity = sharding.parity_shard_count(data) if use_rs and data else 0
        return cls(file_size, shard_size, data, parity)

    @property
    def total_shards(self) -> int:
        """Data plus parity shards."""
        return self.data_shards + self.parity_shards

    @property
    def parity_size(self) -> int:
        """Length of every parity shard (the Reed–Solomon stripe length)."""
        return min(self.shard_size, self.file_size)

    def offset(self, index: int) -> int:
        """Offset of data shard ``index`` in the encrypted file (or of a parity shard in
        the parity file)."""
        if index < self.data_shards:
            return index * self.shard_size
        return (index - self.data_shards) * self.parity_size

    def length(self, index: int) -> int:
        """Real length of shard ``index`` (the last data shard may be short)."""
        if index < self.data_shards:
            return min(self.shard_size, self.file_size - index * self.shard_size)
        return self.parity_size

    @property
    def upload_bytes(self) -> int:
        """Bytes sent to farmers: the file plus its parity shards."""
        return self.file_size + self.parity_shards * self.parity_size


# --------------------------------------------------------------------------- sources


class _Source:
    """The bytes to upload: ``size`` (None until known for a stream) and how to read them.

    ``read_at`` may be called from several threads at once (``positional``);
    ``read_into`` reads sequentially.
    """

    def __init__(self) -> None:
        self.size: int | None = None
        self.name: str | None = None
        self.positional = False
        self._lock = threading.Lock()
        self._close: Callable[[], None] | None = None
        self._fd: int | None = None
        self._positional_file: PositionalFile | None = None
        self._obj: Any = None
        self._start = 0
        self._identity: tuple[int, int] | None = None  # (size, mtime_ns) of a regular file

    # -- construction ------------------------------------------------------

    @classmethod
    def open(cls, source: Any) -> _Source:
        self = cls()
        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            self._close = lambda: os.close(fd)
            self.name = os.path.basename(path)
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                os.close(fd)
                raise IsADirectoryError(f"{path} is a directory; upload its files one by one")
            self._fd = fd
            if stat.S_ISREG(info.st_mode):
                self.size = info.st_size
                self.positional = True
                self._identity = (info.st_size, info.st_mtime_ns)
            return self
        if isinstance(source, io.TextIOBase):
            raise TypeError("the source is a text stream; open the file in binary mode ('rb')")
        if not (hasattr(source, "readinto") or hasattr(source, "read")):
            raise TypeError(
                f"cannot upload a {type(source).__name__}: give a path or a readable binary "
                "file object"
            )
        self._obj = source
        raw_name = getattr(source, "name", None)
        if isinstance(raw_name, (str, os.PathLike)):
            self.name = os.path.basename(os.fspath(raw_name)) or None
        seekable = False
        with contextlib.suppress(Exception):
            seekable = bool(source.seekable())
        if seekable:
            self._start = source.tell()
            number: int | None = None
            with contextlib.suppress(Exception):
                number = source.fileno()
            status = os.fstat(number) if number is not None else None
            if status is not None and stat.S_ISREG(status.st_mode):
                self._fd = number
                self.size = max(0, status.st_size - self._start)
                self._identity = (status.st_size, status.st_mtime_ns)
            else:
                end = source.seek(0, io.SEEK_END)
                source.seek(self._start)
                self.size = max(0, end - self._start)
            self.positional = True
        return self

    @property
    def direct(self) -> bool:
        """A regular file read with ``pread``: it can be read (and encrypted) again at any
        offset, from any thread, so no encrypted copy is needed."""
        return self._fd is not None and self._identity is not None

    def check_unchanged(self) -> None:
        """Raise :class:`TransferError` if the regular file's size or modification time
        changed since it was opened (its shards are read again when they are sent)."""
        if self._fd is None or self._identity is None:
            return
        info = os.fstat(self._fd)
        if (info.st_size, info.st_mtime_ns) != self._identity:
            raise TransferError(
                f"the source file{' ' + repr(self.name) if self.name else ''} changed while it "
                "was being uploaded; nothing was stored. Upload it again once it is complete"
            )

    # -- reading --------------------------------------------------------------

    def read_at(self, view: memoryview, offset: int) -> int:
        """Fill ``view`` with the bytes at ``offset`` of the source (short only at its end)."""
        if self._fd is not None:
            if self._positional_file is None:
                self._positional_file = PositionalFile(self._fd)
            return self._positional_file.preadinto(view, self._start + offset)
        with self._lock:
            self._obj.seek(self._start + offset)
            return self._read_full(view)

    def read_into(self, view: memoryview) -> int:
        """Fill ``view`` sequentially (short only at the end of the stream)."""
        if self._fd is not None and self._obj is None:
            total = 0
            while total < view.nbytes:
                if hasattr(os, "readv"):
                    got = os.readv(self._fd, [view[total:]])
                else:  # pragma: no cover - Windows
                    data = os.read(self._fd, view.nbytes - total)
                    got = len(data)
                    view[total : total + got] = data
                if not got:
                    break
                total += got
            return total
        return self._read_full(view)

    def _read_full(self, view: memoryview) -> int:
        obj = self._obj
        total = 0
        readinto = getattr(obj, "readinto", None)
        while total < view.nbytes:
            if readinto is not None:
                got = readinto(view[total:])
            else:
                data = obj.read(view.nbytes - total)
                if data and not isinstance(data, (bytes, bytearray, memoryview)):
                    raise TypeError("the source returned text; open it in binary mode ('rb')")
                got = len(data) if data else 0
                view[total : total + got] = data
            if not got:
                break
            total += got
        return total

    def finish(self) -> None:
        """Leave a file object positioned after the uploaded bytes."""
        if self._obj is not None and self.positional and self.size is not None:
            with contextlib.suppress(Exception):
                self._obj.seek(self._start + self.size)

    def close(self) -> None:
        if self._close is not None:
            close, self._close = self._close, None
            with contextlib.suppress(OSError):
                close()


class _EncryptedSource:
    """The encrypted bytes of a :attr:`_Source.direct` file, made as they are read.

    AES-256-CTR can start at any offset, so the shard hashing, the Reed–Solomon pass
    and every push read the plaintext file and encrypt it again instead of keeping an
    encrypted copy on disk: an upload of a regular file needs no temporary space for
    its data (only for parity), and re-encrypting (~6 GB/s) costs less than writing
    and re-reading a copy.
    """

    def __init__(self, source: _Source, encryption: crypto.FileEncryption, chunk: int) -> None:
        self._source = source
        self._encryption = encryption
        self._chunk = chunk
        self._scratch = threading.local()

    def preadinto(self, buffer: memoryview, offset: int) -> int:
        """Fill ``buffer`` with the encrypted bytes at ``offset``; short only at the end."""
        got = self._source.read_at(buffer, offset)
        if not got:
            return 0
        scratch = getattr(self._scratch, "buffer", None)  # one per reading thread
        if scratch is None:
            scratch = self._scratch.buffer = bytearray(self._chunk + crypto.AES_BLOCK_SIZE)
        step = self._chunk
        cipher = self._encryption.cipher(offset)
        done = 0
        while done < got:
            piece = buffer[done : min(got, done + step)]
            written = cipher.update_into(piece, scratch)
            piece[:] = memoryview(scratch)[:written]
            done += written
        return got


# --------------------------------------------------------------------------- engine


@dataclass
class _Prepared:
    index: int
    digest: sharding.ShardDigest
    parity: bool


class _Upload:
    """One upload in progress (see the module docstring)."""

    def __init__(
        self,
        client: Any,
        bucket_id: str,
        config: TransferConfig,
        progress: Callable[[int, int], None] | None,
        cancel: CancelToken | None,
        *,
        overwrite: bool = False,
        name: str | None = None,
    ) -> None:
        self.client = client
        self.bucket_id = bucket_id
        self.config = config
        #: Replace an entry of the same name (see the module docstring).
        self.overwrite = overwrite
        #: The plain file name, for messages.
        self.name = name
        #: Set once the old entry may have been deleted (the fallback swap): from then on
        #: the frame holds the only copy of a version and is never deleted.
        self.keep_frame = False
        self.abort = Abort(cancel)
        self.temp = TempFiles(config.tmp_dir)
        self.farmers = FarmerClient(config, self.abort)
        self.reports = ReportQueue(client, config.report_exchanges)
        self.push_pool = ThreadPoolExecutor(config.shard_concurrency, "storj-push")
        self.prep_pool = ThreadPoolExecutor(_prep_workers(), "storj-prep")
        self.meter = ProgressMeter(0, progress)
        self._new_pushes: list[Future[None]] = []
        self._lock = threading.Lock()
        self.digests: dict[int, sharding.ShardDigest] = {}
        self.layout: ShardLayout | None = None
        self.source: _Source | None = None
        #: Where the encrypted data shards are read from: the source file itself,
        #: encrypted on read (:class:`_EncryptedSource`), or :attr:`cipher_copy`.
        self.cipher_file: ReadableAt | None = None
        #: The encrypted temporary copy of a source that cannot be read again at will.
        self.cipher_copy: PositionalFile | None = None
        self.parity_file: PositionalFile | None = None

    # -- the caller's thread ----------------------------------------------------

    def tick(self) -> None:
        """Report progress and check cancel/failures (caller's thread only)."""
        self.meter.poll()
        if self.abort.poll_cancel():
            raise Aborted()

    def run(
        self,
        source: _Source,
        key: crypto.EncryptionKey,
        stored_name: str,
        mimetype: str,
        frame_id: str | None,
    ) -> model.File:
        index = crypto.new_file_index()
        encryption = crypto.file_encryption_v1(key.bucket_key(self.bucket_id), index)
        created_frame: str | None = None
        self.source = source
        try:
            if source.size is not None:
                self.layout = ShardLayout.plan(source.size, self.config.erasure)
                self.meter.total = self.layout.upload_bytes
            if frame_id is None:
                self.abort.check()
                frame = self.client.frame_create()  # repeated by the client's policy
                frame_id = created_frame = str(field(frame, "id"))
            self.frame_id = frame_id
            if source.direct:
                self.cipher_file = _EncryptedSource(source, encryption, self.config.io_chunk_size)
            else:
                self.cipher_file = self.cipher_copy = self.temp.create(".encrypted")
            if source.size is None:
                self._spool(source, encryption)
            self._prepare_data(source, encryption)
            layout = self.layout
            assert layout is not None
            if layout.parity_shards:
                wait_all(self._prep_futures, self.abort, self.meter)
                self._prepare_parity()
            wait_all(self._prep_futures, self.abort, self.meter, more=self._take_new_pushes)
            source.check_unchanged()
            hashes = [self.digests[i].hash for i in range(layout.total_shards)]
            entry = self._create_entry(
                stored_name,
                mimetype,
                index=index.hex(),
                hmac={"type": "sha512", "value": encryption.hmac(hashes)},
                erasure={"type": "reedsolomon"} if layout.parity_shards else None,
            )
            source.finish()
            self.meter.finish()
            return entry
        except BaseException as exc:
            error = self._error(exc)
            self._stop(error)
            if self.keep_frame:
                if not isinstance(error, OverwriteError):  # that one names the frame itself
                    log.warning(
                        "upload of %r stopped during the replacement (%s); its data is kept "
                        "in frame %s",
                        self.name,
                        type(error).__name__,
                        self.frame_id,
                    )
            elif created_frame is not None:
                with contextlib.suppress(StorjError):
                    self.client.frame_delete(created_frame)
            if error is exc:
                raise
            raise error from error.__cause__
        finally:
            self._shutdown()

    def _error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, Aborted):
            reason = self.abort.reason
            return reason if reason is not None else TransferCancelledError("upload cancelled")
        if isinstance(exc, (StorjError, KeyboardInterrupt, SystemExit, TypeError, ValueError)):
            return exc
        if isinstance(exc, OSError):
            error = TransferError(f"upload failed: {exc}")
            error.__cause__ = exc
            return error
        return exc

    def _stop(self, reason: BaseException) -> None:
        self.abort.set(reason)
        self.prep_pool.shutdown(wait=True, cancel_futures=True)
        self.push_pool.shutdown(wait=True, cancel_futures=True)

    def _shutdown(self) -> None:
        self.prep_pool.shutdown(wait=True, cancel_futures=True)
        self.push_pool.shutdown(wait=True, cancel_futures=True)
        self.reports.close()
        self.farmers.close()
        self.temp.cleanup()

    # -- encryption -------------------------------------------------------------

    def _spool(self, source: _Source, encryption: crypto.FileEncryption) -> None:
        """Encrypt a stream of unknown size into the temporary file (caller's thread)."""
        assert self.cipher_copy is not None
        cipher = encryption.cipher(0)
        buffer = bytearray(self.config.io_chunk_size)
        view = memoryview(buffer)
        position = 0
        while True:
            self.tick()
            got = source.read_into(view)
            if not got:
                break
            self.cipher_copy.pwrite(cipher.update(view[:got]), position)
            position += got
        source.size = position
        self.layout = ShardLayout.plan(position, self.config.erasure)
        self.meter.total = self.layout.upload_bytes

    def _prepare_data(self, source: _Source, encryption: crypto.FileEncryption) -> None:
        """Encrypt (into the copy, if there is one and it is not filled yet) and hash
        every data shard, one task per shard."""
        layout = self.layout
        assert layout is not None
        encrypted = not source.positional or source.direct
        futures = [
            self.prep_pool.submit(self._prepare_data_shard, source, encryption, i, encrypted)
            for i in range(layout.data_shards)
        ]
        self._prep_futures = futures

    def _prepare_data_shard(
        self, source: _Source, encryption: crypto.FileEncryption, index: int, encrypted: bool
    ) -> None:
        """Worker: hash data shard ``index`` (``encrypted``: as :attr:`cipher_file` gives
        it; else read, encrypt and store it in :attr:`cipher_copy` on the way); then queue
        its push."""
        try:
            layout = self.layout
            cipher_file = self.cipher_file
            assert layout is not None and cipher_file is not None
            start = layout.offset(index)
            length = layout.length(index)
            hasher = sharding.ShardHasher(sharding.new_challenges(self.config.challenges))
            chunk = min(self.config.io_chunk_size, length)
            buffer = bytearray(chunk)
            view = memoryview(buffer)
            cipher = None if encrypted else encryption.cipher(start)
            done = 0
            while done < length:
                self.abort.check()
                want = min(chunk, length - done)
                piece = view[:want]
                if encrypted:
                    got = cipher_file.preadinto(piece, start + done)
                else:
                    got = source.read_at(piece, start + done)
                if got != want:
                    raise TransferError(
                        f"the source ended after {start + done + got} of {layout.file_size} "
                        "bytes; it changed while it was being uploaded"
                    )
                if cipher is not None:
                    assert self.cipher_copy is not None
                    data = cipher.update(piece)
                    self.cipher_copy.pwrite(data, start + done)
                    hasher.update(data)
                else:
                    hasher.update(piece)
                done += want
            self._prepared(_Prepared(index, hasher.finish(), parity=False))
        except Aborted:
            raise
        except BaseException as exc:
            self.abort.set(self._error(exc))
            raise

    def _prepared(self, shard: _Prepared) -> None:
        with self._lock:
            self.digests[shard.index] = shard.digest
            future = self.push_pool.submit(self._push_shard, shard)
            self._new_pushes.append(future)

    def _take_new_pushes(self) -> list[Future[None]]:
        with self._lock:
            new, self._new_pushes = self._new_pushes, []
        return new

    # -- Reed–Solomon -------------------------------------------------------------

    def _prepare_parity(self) -> None:
        """Compute, store and hash the parity shards stripe by stripe (caller's thread).

        Reed–Solomon of stripe ``n`` overlaps with the hashing of stripe ``n - 1``.
        """
        layout = self.layout
        cipher_file = self.cipher_file
        assert layout is not None and cipher_file is not None
        d, p = layout.data_shards, layout.parity_shards
        size = layout.parity_size
        self.parity_file = parity_file = self.temp.create(".parity")
        stripe = self.config.rs_stripe(d + 2 * p, size)
        rs = ReedSolomon(d, p)
        data_views = [memoryview(bytearray(stripe)) for _ in range(d)]
        out_sets = [[memoryview(bytearray(stripe)) for _ in range(p)] for _ in range(2)]
        hashers = [
            sharding.ShardHasher(sharding.new_challenges(self.config.challenges)) for _ in range(p)
        ]
        groups = [list(range(p))[g :: _prep_workers()] for g in range(_prep_workers())]
        groups = [g for g in groups if g]
        hashing: list[Future[None]] = []
        for n, x in enumerate(range(0, size, stripe)):
            self.tick()
            width = min(stripe, size - x)
            for k in range(d):
                view = data_views[k][:width]
                available = max(0, min(width, layout.length(k) - x))
                got = (
                    cipher_file.preadinto(view[:available], layout.offset(k) + x)
                    if available
                    else 0
                )
                if got != available:
                    raise TransferError(
                        "the encrypted data shards ended early (did the source change while "
                        "it was being uploaded?)"
                    )
                if available < width:
                    view[available:width] = bytes(width - available)
            outs = [o[:width] for o in out_sets[n % 2]]
            # The hashing of stripe n-1 uses the other buffer set: RS runs alongside it.
            rs.encode_into([v[:width] for v in data_views], outs)
            self._finish_hashing(hashing)
            for j, out in enumerate(outs):
                parity_file.pwrite(out, layout.offset(d + j) + x)
            hashing = [self.prep_pool.submit(_hash_group, hashers, group, outs) for group in groups]
        self._finish_hashing(hashing)
        for j, hasher in enumerate(hashers):
            self._prepared(_Prepared(d + j, hasher.finish(), parity=True))

    def _finish_hashing(self, futures: list[Future[None]]) -> None:
        for future in futures:
            result_of(future, self.tick)

    # -- pushing shards -------------------------------------------------------------

    def _push_shard(self, shard: _Prepared) -> None:
        """Worker: negotiate a contract and send one shard, trying other farmers on failure."""
        try:
            self._push_shard_inner(shard)
        except Aborted:
            raise
        except BaseException as exc:
            self.abort.set(self._error(exc))
            raise

    def _push_shard_inner(self, shard: _Prepared) -> None:
        layout = self.layout
        assert layout is not None
        source = self.parity_file if shard.parity else self.cipher_file
        assert source is not None
        offset = layout.offset(shard.index)
        exclude: list[str] = []
        last_error: FarmerError | None = None
        attempts = self.config.max_push_attempts
        for _attempt in range(attempts):
            self.abort.check()
            if self.source is not None:
                self.source.check_unchanged()  # its bytes are read again for this push
            record = model.Shard.from_digest(
                shard.digest, shard.index, parity=True if shard.parity else None, exclude=exclude
            )

            def negotiate(record: model.Shard = record) -> dict[str, Any]:
                answer: dict[str, Any] = self.client.frame_add_shard(
                    record, self.frame_id, exclude=list(exclude)
                )
                return answer

            try:
                pointer = bridge_retry(
                    f"PUT /frames/{self.frame_id} (shard {shard.index})",
                    negotiate,
                    client=self.client,
                    abort=self.abort,
                )
            except RateLimitError:
                raise
            except BridgeError as exc:
                if last_error is not None and isinstance(exc, BadRequestError):
                    # No other farmer could be contracted after a failure.
                    raise TransferError(
                        f"shard {shard.index} could not be stored: {last_error}; then the Bridge "
                        f"found no other farmer ({exc.message})"
                    ) from exc
                raise
            endpoint = farmer_endpoint(pointer.get("farmer"))
            token = str(pointer.get("token"))
            started = now_ms()
            sent = 0

            def counted(n: int) -> None:
                nonlocal sent
                sent += n
                self.meter.add(n)

            try:
                self.farmers.push(
                    endpoint,
                    shard.digest.hash,
                    token,
                    source,
                    offset,
                    shard.digest.size,
                    on_bytes=counted,
                )
            except FarmerError as exc:
                self.meter.add(-sent)
                if self.source is not None:
                    self.source.check_unchanged()  # the farmer is not to blame for that
                last_error = exc
                log.info("shard %d: %s; trying another farmer", shard.index, exc)
                self._report(shard.digest.hash, endpoint.node_id, started, False, "TRANSFER_FAILED")
                if endpoint.node_id and endpoint.node_id not in exclude:
                    exclude.append(endpoint.node_id)
                continue
            self.meter.add(shard.digest.size - sent)
            self._report(shard.digest.hash, endpoint.node_id, started, True, "SHARD_UPLOADED")
            return
        raise TransferError(
            f"shard {shard.index} could not be stored after {attempts} farmers failed; last "
            f"error: {last_error}. Try again later."
        ) from last_error

    def _report(
        self, shard_hash: str, node_id: str | None, start: int, ok: bool, message: str
    ) -> None:
        self.reports.submit(make_report(self.client, shard_hash, node_id, start, ok, message))

    # -- the bucket entry -------------------------------------------------------------

    def _create_entry(self, stored_name: str, mimetype: str, **extra: Any) -> model.File:
        """``POST /buckets/:id/files``; when replacing on a Bridge without the
        ``overwrite`` extension, delete the old entry and create the new one at once."""
        try:
            return self._post_entry(stored_name, mimetype, extra, abortable=True)
        except BridgeError as exc:
            if not (self.overwrite and name_taken(exc)):
                raise
            log.info(
                "the Bridge refused to replace %r in one step (%s); deleting the old entry, "
                "then creating the new one",
                self.name,
                exc,
            )
        return self._replace_by_delete(stored_name, mimetype, extra)

    def _post_entry(
        self, stored_name: str, mimetype: str, extra: dict[str, Any], *, abortable: bool
    ) -> model.File:
        """``POST /buckets/:id/files``; repeated on 5xx under the client's retry policy,
        recovering an entry that an attempt whose answer was lost made.

        A refused duplicate name is not repeated. Not ``abortable``: cancel is ignored
        (the old entry is gone, only finishing restores a version).
        """
        failed_once = False

        def create() -> model.File:
            nonlocal failed_once
            if abortable:
                self.tick()
            try:
                entry: model.File = self.client.bucket_entry_create(
                    self.bucket_id,
                    self.frame_id,
                    stored_name,
                    mimetype,
                    overwrite=self.overwrite,
                    **extra,
                )
                return entry
            except BridgeError as exc:
                taken = name_taken(exc)
                if taken or (failed_once and isinstance(exc, BadRequestError)):
                    found = self._existing_entry(stored_name)
                    if found is not None:
                        return found
                failed_once = True
                raise

        return bridge_retry(
            f"POST /buckets/{self.bucket_id}/files",
            create,
            client=self.client,
            abort=self.abort if abortable else None,
            repeat=lambda exc: not name_taken(exc),
        )

    def _replace_by_delete(
        self, stored_name: str, mimetype: str, extra: dict[str, Any]
    ) -> model.File:
        """The swap on a Bridge without the ``overwrite`` extension: ``DELETE`` the old
        entry, then create the new one at once (see the module docstring)."""
        self.tick()  # the last point where cancel is honoured: nothing has changed yet
        self.keep_frame = True  # from the delete on, the frame may be the only version
        file_id = calculate_file_id(self.bucket_id, stored_name)
        delete_error: StorjError | None = None
        try:
            self.client.file_remove(self.bucket_id, file_id)  # repeated by the client
        except NotFoundError:
            pass  # already gone (an earlier attempt whose answer was lost, or removed)
        except StorjError as exc:
            delete_error = exc  # it may still have happened: the create tells
        try:
            return self._post_entry(stored_name, mimetype, extra, abortable=False)
        except StorjError as exc:
            if delete_error is not None and name_taken(exc):
                self.keep_frame = False  # the old entry is still there, untouched
                raise delete_error from None
            raise OverwriteError(
                f"replacing {self.name!r}: this Bridge cannot replace a file in one step, "
                f"so the old version was deleted, but the new version's entry could not "
                f"be created ({exc}). The new version is stored in frame {self.frame_id}: "
                f"recreate its entry with client.bucket_entry_create(error.bucket_id, "
                f"error.frame_id, error.filename, **error.entry_fields), or upload the "
                f"file again",
                bucket_id=self.bucket_id,
                frame_id=self.frame_id,
                filename=stored_name,
                entry_fields={"mimetype": mimetype, **extra},
            ) from exc

    def _existing_entry(self, stored_name: str) -> model.File | None:
        """The entry made by an attempt whose answer was lost, if it uses our frame."""
        try:
            file_id = self.client.file_id_by_stored_name(self.bucket_id, stored_name)
            entry = self.client.file_metadata(self.bucket_id, file_id)
        except StorjError:
            return None
        frame = field(entry, "frame")
        frame_id = field(frame, "id") if frame is not None and not isinstance(frame, str) else frame
        return entry if frame_id == self.frame_id else None


def name_taken(exc: BaseException) -> bool:
    """Whether the Bridge refused an entry because its name is taken: 409 (the local
    Bridge; a 2018 ``ConflictError``) or MongoDB's duplicate-key error ``E11000``, which
    the 2018 Bridge answers as 500 (or 400)."""
    if isinstance(exc, ConflictError):
        return True
    return (
        isinstance(exc, BridgeError)
        and exc.status_code is not None
        and "E11000" in (exc.message or "")
    )


def _hash_group(
    hashers: list[sharding.ShardHasher], group: list[int], outs: list[memoryview]
) -> None:
    for j in group:
        hashers[j].update(outs[j])


# --------------------------------------------------------------------------- public API


def _check_name_free(client: Any, bucket_id: str, stored_name: str, name: str) -> None:
    """Refuse to upload over an existing file (libstorj ``STORJ_BRIDGE_BUCKET_FILE_EXISTS``)."""
    try:
        existing = client.file_id_by_stored_name(bucket_id, stored_name)
    except NotFoundError:
        return
    raise ConflictError(
        f"a file named {name!r} already exists in bucket {bucket_id} (id {existing}); delete "
        "it first or upload under another name",
        status_code=409,
    )


def _upload(
    client: Any,
    bucket_id: str,
    source: Any,
    *,
    name: str | None,
    mimetype: str | None,
    progress: Callable[[int, int], None] | None,
    config: TransferConfig | None,
    cancel: CancelToken | None,
    frame_id: str | None,
    overwrite: bool = False,
) -> model.File:
    config = config or DEFAULT_CONFIG
    client = bridge_client(client, config)
    key = encryption_key_of(client)
    opened = _Source.open(source)
    try:
        name = name or opened.name
        if not name:
            raise ValueError("the source has no file name: pass name='...'")
        mimetype = mimetype or mimetypes.guess_type(name)[0] or DEFAULT_MIMETYPE
        stored_name = key.encrypt_file_name(bucket_id, name)
        if not overwrite:
            _check_name_free(client, bucket_id, stored_name, name)
        upload = _Upload(
            client, bucket_id, config, progress, cancel, overwrite=overwrite, name=name
        )
        entry = upload.run(opened, key, stored_name, mimetype, frame_id)
    finally:
        opened.close()
    entry.plaintext_name = name
    return entry


def upload_file(
    client: Any,
    bucket_id: str,
    source: str | os.PathLike[str] | IO[bytes],
    *,
    name: str | None = None,
    mimetype: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    config: TransferConfig | None = None,
    cancel: CancelToken | None = None,
    overwrite: bool = False,
) -> model.File:
    """Upload a file into a bucket the way libstorj does (see the module docstring).

    :param client: a :class:`storj.http.Client` with credentials and an encryption key.
    :param bucket_id: the bucket.
    :param source: a path, a seekable binary file object (read from its current
        position to its end, and left positioned after what was read), or a
        non-seekable binary stream (read to its end; spooled, encrypted, to a
        temporary file first).
    :param name: the file name to store (encrypted); default: the path's base name or
        the file object's ``name``.
    :param mimetype: default: guessed from ``name``, else ``application/octet-stream``.
    :param progress: ``progress(bytes_done, bytes_total)``, called from this thread;
        ``bytes_total`` is the data plus parity bytes sent to farmers, and the last
        call is ``(bytes_total, bytes_total)``.
    :param config: a :class:`TransferConfig` (default: libstorj's settings).
    :param cancel: anything with ``is_set()``; when it becomes true the upload stops,
        is cleaned up and :class:`~storj.exception.TransferCancelledError` is raised.
    :param overwrite: replace a file of the same name. The old version is kept until
        the new version's shards are all stored by the farmers; only then is the entry
        swapped, by metadata calls alone. A failure or cancel before the swap leaves the
        old version untouched (the new frame is deleted as for any failed upload). On
        the local Bridge the swap is one request (``"overwrite": true``), so the name
        always holds the old or the new version. On a Bridge without that extension the
        old entry is deleted and the new one created at once (retried on 5xx/connection
        errors; cancel is ignored from the delete on): a crash between those two
        requests leaves the name empty while the new frame with its stored shards still
        exists, and a create that fails for good raises
        :class:`~storj.exception.OverwriteError`, which names that frame. Default: an
        existing name raises :class:`~storj.exception.ConflictError`.
    :returns: the bucket entry: ``filename`` is the plain name, ``stored_name`` the
        encrypted one the Bridge keeps (the id derives from it); the plain name is also
        set as the attribute ``plaintext_name`` (as earlier versions of this package did).
    :raises ConflictError: a file with this name already exists in the bucket (and
        ``overwrite`` is false).
    :raises OverwriteError: ``overwrite`` on a Bridge without the extension: the old
        entry was deleted and the new one could not be created (see above).
    :raises EncryptionKeyError: the client has no (valid) encryption key.
    :raises TransferError: a shard could not be stored (after ``max_push_attempts``
        farmers), the source changed while it was read, or a temporary file failed.
    :raises BridgeError: the Bridge refused a request (``RateLimitError`` for 420/429).
    """
    return _upload(
        client,
        bucket_id,
        source,
        name=name,
        mimetype=mimetype,
        progress=progress,
        config=config,
        cancel=cancel,
        frame_id=None,
        overwrite=overwrite,
    )


def file_upload(client: Any, bucket_id: str, file: Any, frame: Any = None) -> model.File:
    """The documented ``Client.file_upload(bucket_id, file, frame)``.

    Uploads the local file that ``file`` names — ``file.shard_manager.filepath`` when a
    :class:`~storj.model.ShardManager` is attached, else ``file.filename`` (``file.name``)
    — into ``frame`` (a :class:`~storj.model.Frame` or frame id; a new frame when
    ``None``), storing it under the path's base name with ``file.mimetype``. ``file``
    may also be a path or a binary file object. A given frame is not deleted when the
    upload fails. Returns the bucket entry (see :func:`upload_file`).
    """
    mimetype = None
    if isinstance(file, model.File):
        manager = getattr(file, "shard_manager", None)
        path = getattr(manager, "filepath", None) if manager is not None else None
        source: Any = path or file.filename
        if not source:
            raise ValueError("the File names no local file: set its filename to a path")
        mimetype = file.mimetype
    else:
        source = file
    frame_id = None
    if frame is not None:
        frame_id = frame if isinstance(frame, str) else field(frame, "id")
        if not frame_id:
            raise ValueError("the frame has no id; create it with client.frame_create()")
    return _upload(
        client,
        bucket_id,
        source,
        name=None,
        mimetype=mimetype,
        progress=None,
        config=None,
        cancel=None,
        frame_id=str(frame_id) if frame_id else None,
    )

"""The download engine: a bucket entry in, the original bytes out (libstorj's pipeline).

1. ``GET /buckets/:id/files/:file/info`` gives the entry's ``index`` (file key and
   counter; without it the pre-2017 "v0" key and counter are used), ``hmac`` and
   ``erasure``.
2. Pointers are listed page by page (``GET /buckets/:id/files/:file?skip=&limit=``,
   each page with a fresh PULL token); the fetch of each data shard starts as soon as
   its pointer is known.
3. Shards are fetched concurrently (:mod:`storj.transfer.farmer_client`). Each chunk is
   hashed as it arrives, decrypted (AES-256-CTR at the shard's offset) and written at
   its final place in a temporary file; the shard counts only when its length and
   ``RIPEMD160(SHA256(.))`` match the pointer. A farmer that fails, is too slow or
   sends wrong bytes is reported (``DOWNLOAD_ERROR`` / ``FAILED_INTEGRITY``) and the
   Bridge is asked for another one (``limit=1&skip=i&exclude=…``), up to
   ``pointer_replacements`` times; success is reported as ``SHARD_DOWNLOADED``.
   A pointer with a legacy ``channel`` (``ws://…``, §6.6) and no ``farmer`` is pulled
   over that WebSocket data channel with the same checks; it names no nodeID to
   exclude, so it is replaced by asking for the shard's pointer again (a fresh token,
   another holder if the Bridge finds the first one unreachable), within the same
   ``pointer_replacements`` budget.
4. Data shards still missing are rebuilt from parity shards when the entry has
   ``erasure`` (parity is fetched only then), checked against their pointer hashes,
   and written in place; without parity the download fails.
5. The file HMAC (HMAC-SHA512 under the file key over all shard hashes) is checked
   against the entry before the file is declared good.

A path destination is written through a temporary file next to it, renamed onto it
only on success; a failed or cancelled download leaves no file and no temporary file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import stat
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

from storj import crypto, model
from storj.api import ripemd160
from storj.erasure import ReedSolomon
from storj.exception import (
    BridgeResponseError,
    FarmerError,
    HashMismatchError,
    IntegrityError,
    SuppliedTokenNotAcceptedError,
    TransferCancelledError,
    TransferError,
)
from storj.transfer._common import (
    ReportQueue,
    bridge_client,
    encryption_key_of,
    field,
    make_report,
    now_ms,
    result_of,
    wait_all,
)
from storj.transfer._tempfiles import PositionalFile, TempFiles, sibling_temp_path
from storj.transfer.config import DEFAULT_CONFIG, TransferConfig
from storj.transfer.farmer_client import FarmerClient, FarmerEndpoint, farmer_endpoint
from storj.transfer.progress import Abort, Aborted, CancelToken, ProgressMeter
from storj.transfer.upload import ShardLayout

__all__ = [
    "ShardSource",
    "download_file",
    "expected_shards",
    "file_encryption_for",
    "list_pointers",
]

log = logging.getLogger(__name__)


def file_encryption_for(
    key: crypto.EncryptionKey, bucket_id: str, file_id: str, entry: Any
) -> crypto.FileEncryption:
    """The AES key and counter of a stored file: v1 when the entry has an ``index``,
    else v0 (key and counter derived from the file id, §8.3)."""
    index = field(entry, "index")
    if not index:
        return key.file_encryption(bucket_id, file_id=file_id)
    try:
        return key.file_encryption(bucket_id, index=str(index))
    except ValueError:
        raise BridgeResponseError(
            f"the Bridge's entry for file {file_id} has a malformed index (expected 64 hex "
            "characters); the file cannot be decrypted"
        ) from None


def _blame(
    exc: FarmerError, node_id: str | None, exclude: list[str], token_refused: set[str]
) -> None:
    """Add a failed farmer to ``exclude``; a first refused token only asks for a new token
    (it may have expired while waiting), the farmer itself may be the only holder."""
    if not node_id or node_id in exclude:
        return
    if isinstance(exc, SuppliedTokenNotAcceptedError) and node_id not in token_refused:
        token_refused.add(node_id)
        return
    exclude.append(node_id)


def _pointer_ok(pointer: Any) -> bool:
    """A pointer can be fetched: it has a token and a farmer contact or a data channel."""
    located = pointer.farmer is not None or bool(getattr(pointer, "channel", None))
    return located and pointer.token is not None and bool(str(pointer.token))


class ShardSource:
    """Where one pointer's shard comes from: the farmer's HTTP shard server, or the
    legacy data channel when the pointer has no ``farmer`` (or has both and
    ``config.prefer_channels``).

    :ivar node_id: the farmer's nodeID, ``None`` for a channel-only pointer.
    """

    def __init__(self, pointer: Any, config: TransferConfig) -> None:
        channel = getattr(pointer, "channel", None)
        self.endpoint: FarmerEndpoint | None = None
        self.channel: str | None = None
        if channel and (pointer.farmer is None or config.prefer_channels):
            self.channel = str(channel)
            if pointer.farmer is not None:
                with contextlib.suppress(FarmerError):
                    self.endpoint = farmer_endpoint(pointer.farmer)
        else:
            self.endpoint = farmer_endpoint(pointer.farmer)
        self.node_id = self.endpoint.node_id if self.endpoint is not None else None

    def pull(
        self,
        farmers: FarmerClient,
        shard_hash: str,
        token: str,
        size: int,
        sink: Callable[[memoryview, int], None],
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        """Fetch and verify the shard (see :meth:`FarmerClient.pull` / ``pull_channel``)."""
        if self.channel is not None:
            farmers.pull_channel(
                self.channel, shard_hash, token, size, sink, node_id=self.node_id, on_bytes=on_bytes
            )
        else:
            assert self.endpoint is not None
            farmers.pull(self.endpoint, shard_hash, token, size, sink, on_bytes=on_bytes)


#: Pointer pages asked for at the same time when the shard count is known in advance.
PAGE_REQUESTS_IN_FLIGHT = 3


def expected_shards(entry: Any, *, parity: bool = True) -> int | None:
    """How many shards a file of the entry's ``size`` has when it was cut as libstorj
    cuts files: data and (when the entry has ``erasure``) parity shards, or only the
    data shards with ``parity=False``; None if the size is unknown."""
    size = field(entry, "size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        return None
    layout = ShardLayout.plan(size, bool(field(entry, "erasure")))
    return layout.total_shards if parity else layout.data_shards


def list_pointers(
    client: Any,
    bucket_id: str,
    file_id: str,
    config: TransferConfig,
    abort: Abort | None = None,
    on_page: Callable[[list[Any]], None] | None = None,
    *,
    expected: int | None = None,
) -> list[Any]:
    """All pointers of a file, in index order, asked for ``pointer_page_size`` at a time.

    ``on_page(pointers)`` is called after each page, in index order (e.g. to start
    fetching). ``expected`` is how many shards the file probably has (see
    :func:`expected_shards`): after the first page, the pages up to there are asked for
    :data:`PAGE_REQUESTS_IN_FLIGHT` at a time instead of one after the other (each page
    costs the Bridge a ``RETRIEVE`` round trip per farmer, so small shards were
    waiting for their pointers), and the listing goes on page by page past it if the
    hint was short. A wrong hint costs at most a few empty pages.
    """
    limit = config.pointer_page_size

    def fetch(skip: int) -> list[Any]:
        if abort is not None:
            abort.check()
        # Repeated by the client's retry policy (a GET); the engine adds no layer.
        page = list(client.file_pointers(bucket_id, file_id, skip=skip, limit=limit))
        return sorted(
            (p for p in page if p.index is not None and p.index >= skip), key=lambda p: p.index
        )

    pointers: list[Any] = []

    def take(page: list[Any]) -> int | None:
        """Record a page; the next index to ask for, or None when the listing is done."""
        if not page:
            return None
        pointers.extend(page)
        if on_page is not None:
            on_page(page)
        return int(page[-1].index) + 1 if len(page) >= limit else None

    def check_cancel() -> None:
        if abort is not None and abort.poll_cancel():
            raise Aborted()

    # The first page alone (its shards can start at once), then the rest of the expected
    # pages concurrently, then page by page for as long as pages come back full.
    skip = take(fetch(0))
    if skip is not None and expected is not None and skip < expected:
        planned = list(range(skip, expected, limit))
        pages = ThreadPoolExecutor(PAGE_REQUESTS_IN_FLIGHT, "storj-pointers")
        try:
            futures = [pages.submit(fetch, start) for start in planned]
            for start, future in zip(planned, futures, strict=True):
                if skip != start:
                    break  # the last page did not end where this one starts: a gap, see below
                skip = take(result_of(future, check_cancel))
                if skip is None:
                    break
        finally:
            pages.shutdown(wait=False, cancel_futures=True)
    while skip is not None:
        skip = take(fetch(skip))
    for expected_index, pointer in enumerate(pointers):
        if pointer.index != expected_index:
            raise IntegrityError(
                f"the Bridge listed shard {pointer.index} where shard {expected_index} was "
                "expected; the file's pointers are incomplete"
            )
    return pointers


def request_pointer(
    client: Any,
    bucket_id: str,
    file_id: str,
    index: int,
    exclude: list[str],
    *,
    abort: Abort | None = None,
) -> Any:
    """Ask the Bridge for (another) farmer for shard ``index``: ``GET
    /buckets/:id/files/:file?skip=index&limit=1&exclude=…``; ``None`` if it has none."""
    if abort is not None:
        abort.check()
    page = list(
        client.file_pointers(bucket_id, file_id, skip=index, limit=1, exclude=list(exclude))
    )  # repeated by the client's retry policy (a GET); the engine adds no layer
    for pointer in page:
        if pointer.index == index:
            return pointer
    return None


def check_hmac(
    entry: Any, encryption: crypto.FileEncryption, pointers: list[Any], config: TransferConfig
) -> None:
    """Compare the entry's HMAC with the one of the pointers' shard hashes (§8.3).

    :raises IntegrityError: they differ (wrong encryption key, or altered pointers).
    """
    if not config.verify_hmac:
        return
    mac = field(entry, "hmac")
    if not mac:
        log.info("the entry has no HMAC (made before 2017?); shard hashes are still checked")
        return
    kind = field(mac, "type")
    value = field(mac, "value")
    if kind != "sha512" or not isinstance(value, str):
        log.warning("the entry's HMAC type %r is not supported; not checked", kind)
        return
    if not encryption.verify_hmac([p.hash for p in pointers], value):
        raise IntegrityError(
            "the file's HMAC does not match its shard hashes: the encryption key (mnemonic) "
            "is not the one the file was uploaded with, or the Bridge's pointers were altered"
        )


class _Destination:
    """Where plaintext goes: a positional file plus what to do on success and failure."""

    def __init__(self, handle: PositionalFile, base: int = 0) -> None:
        self.handle = handle
        self.base = base
        self.commit: Callable[[int], None] = lambda size: None
        self.rollback: Callable[[], None] = lambda: None

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> None:
        self.handle.pwrite(data, self.base + offset)

    def preadinto(self, view: memoryview, offset: int) -> int:
        return self.handle.preadinto(view, self.base + offset)

    @classmethod
    def open(cls, destination: Any, temp: TempFiles, chunk: int) -> _Destination:
        if isinstance(destination, (str, os.PathLike)):
            handle, path = sibling_temp_path(destination)
            temp.adopt(handle)
            final = os.fspath(destination)
            dest = cls(handle)

            def commit(size: int) -> None:
                handle.truncate(size)
                handle.close()
                os.replace(path, final)
                temp.release(handle)

            dest.commit = commit
            return dest
        if isinstance(destination, io.TextIOBase):
            raise TypeError("the destination is a text stream; open it in binary mode ('wb')")
        if not hasattr(destination, "write"):
            raise TypeError(
                f"cannot download into a {type(destination).__name__}: give a path or a "
                "writable binary file object"
            )
        fd = None
        with contextlib.suppress(Exception):
            if destination.seekable():
                candidate = destination.fileno()
                if stat.S_ISREG(os.fstat(candidate).st_mode):
                    fd = candidate
        if fd is not None:
            # A regular file: write in place at its position, through its descriptor.
            destination.flush()
            start = destination.tell()
            original = os.fstat(fd).st_size
            dest = cls(PositionalFile(fd), base=start)

            def commit_fd(size: int) -> None:
                if original <= start:
                    os.ftruncate(fd, start + size)
                destination.seek(start + size)

            def rollback_fd() -> None:
                if original <= start:
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, start)

            dest.commit = commit_fd
            dest.rollback = rollback_fd
            return dest
        # Anything else (BytesIO, pipe, socket): stage in a temporary file, copy at the end.
        handle = temp.create(".download")
        dest = cls(handle)

        def commit_copy(size: int) -> None:
            buffer = bytearray(chunk)
            view = memoryview(buffer)
            position = 0
            while position < size:
                got = handle.preadinto(view[: min(chunk, size - position)], position)
                if not got:
                    raise TransferError("the temporary download file is shorter than the file")
                destination.write(view[:got])
                position += got

        dest.commit = commit_copy
        return dest


class _Download:
    """One download in progress (see the module docstring)."""

    def __init__(
        self,
        client: Any,
        bucket_id: str,
        file_id: str,
        config: TransferConfig,
        progress: Callable[[int, int], None] | None,
        cancel: CancelToken | None,
    ) -> None:
        self.client = client
        self.bucket_id = bucket_id
        self.file_id = file_id
        self.config = config
        self.abort = Abort(cancel)
        self.temp = TempFiles(config.tmp_dir)
        self.farmers = FarmerClient(config, self.abort)
        self.reports = ReportQueue(client, config.report_exchanges)
        self.pool = ThreadPoolExecutor(config.shard_concurrency, "storj-pull")
        self.meter = ProgressMeter(0, progress)
        self.pointers: dict[int, Any] = {}
        self.offsets: dict[int, int] = {}
        self._next_offset = 0
        self.futures: dict[int, Future[bool]] = {}
        self._lock = threading.Lock()
        self.dest: _Destination | None = None
        self.encryption: crypto.FileEncryption | None = None

    def tick(self) -> None:
        self.meter.poll()
        if self.abort.poll_cancel():
            raise Aborted()

    # -- the caller's thread ----------------------------------------------------------

    def run(self, destination: Any) -> model.File:
        try:
            self.dest = _Destination.open(destination, self.temp, self.config.io_chunk_size)
        except BaseException:  # a bad destination: raised as is (FileNotFoundError, TypeError…)
            self._close()
            raise
        try:
            self.abort.check()
            entry = self.client.file_metadata(self.bucket_id, self.file_id)  # client retries
            key = encryption_key_of(self.client)
            self.encryption = file_encryption_for(key, self.bucket_id, self.file_id, entry)
            size = field(entry, "size")
            self.meter.total = int(size) if isinstance(size, int) and size >= 0 else 0
            pointers = list_pointers(
                self.client,
                self.bucket_id,
                self.file_id,
                self.config,
                self.abort,
                on_page=self._start_page,
                # Data pointers first and fast; the parity ones (only needed for the
                # HMAC, or to rebuild) page by page while the data shards arrive.
                expected=expected_shards(entry, parity=False),
            )
            self.tick()
            check_hmac(entry, self.encryption, pointers, self.config)
            data = [p for p in pointers if not p.parity]
            parity = [p for p in pointers if p.parity]
            file_size = sum(int(p.size) for p in data)
            if file_size != self.meter.total:
                if self.meter.total:
                    log.info(
                        "entry size %d differs from the data shards' %d bytes",
                        self.meter.total,
                        file_size,
                    )
                self.meter.total = file_size
            self._check_layout(data, parity)
            wait_all(list(self.futures.values()), self.abort, self.meter)
            missing = [i for i, f in sorted(self.futures.items()) if not f.result()]
            if missing:
                self._recover(missing, data, parity, field(entry, "erasure"))
            self.dest.commit(file_size)
            self.meter.finish()
            stored = getattr(entry, "stored_name", None) or field(entry, "filename") or ""
            name = key.decrypt_file_name(self.bucket_id, str(stored))
            entry.plaintext_name = name
            result: model.File = entry
            return result
        except BaseException as exc:
            error = self._error(exc)
            self.abort.set(error)
            self.pool.shutdown(wait=True, cancel_futures=True)
            if self.dest is not None:
                self.dest.rollback()
            if error is exc:
                raise
            raise error from error.__cause__
        finally:
            self._close()

    def _close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.reports.close()
        self.farmers.close()
        self.temp.cleanup()

    def _error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, Aborted):
            reason = self.abort.reason
            return reason if reason is not None else TransferCancelledError("download cancelled")
        if isinstance(exc, OSError):
            error = TransferError(f"download failed: {exc}")
            error.__cause__ = exc
            return error
        return exc

    def _start_page(self, page: list[Any]) -> None:
        """Record a page of pointers and start fetching its data shards."""
        self.tick()
        for pointer in page:
            index = int(pointer.index)
            self.pointers[index] = pointer
            if pointer.parity:
                continue
            self.offsets[index] = self._next_offset
            self._next_offset += int(pointer.size)
            self.futures[index] = self.pool.submit(self._fetch_data, index)

    def _check_layout(self, data: list[Any], parity: list[Any]) -> None:
        if any(int(p.index) != i for i, p in enumerate(data)):
            raise IntegrityError("the file's parity shards are not after its data shards")

    # -- workers -------------------------------------------------------------------

    def _fetch_data(self, index: int) -> bool:
        """Worker: fetch, verify, decrypt and place data shard ``index``; False if it could
        not be had from any farmer."""
        offset = self.offsets[index]
        encryption = self.encryption
        dest = self.dest
        assert encryption is not None and dest is not None

        def make_sink() -> Callable[[memoryview, int], None]:
            cipher = encryption.cipher(offset)
            plain = memoryview(bytearray(self.config.io_chunk_size + crypto.AES_BLOCK_SIZE))

            def sink(view: memoryview, position: int) -> None:
                if view.nbytes > plain.nbytes - crypto.AES_BLOCK_SIZE:  # a big WebSocket frame
                    dest.pwrite(cipher.update(view), offset + position)
                    return
                dest.pwrite(plain[: cipher.update_into(view, plain)], offset + position)

            return sink

        return self._fetch(index, make_sink, count=True)

    def _fetch(
        self,
        index: int,
        make_sink: Callable[[], Callable[[memoryview, int], None]],
        *,
        count: bool,
    ) -> bool:
        try:
            return self._fetch_inner(index, make_sink, count)
        except Aborted:
            raise
        except BaseException as exc:
            self.abort.set(self._error(exc))
            raise

    def _fetch_inner(
        self,
        index: int,
        make_sink: Callable[[], Callable[[memoryview, int], None]],
        count: bool,
    ) -> bool:
        original = self.pointers[index]
        pointer = original
        exclude: list[str] = []
        token_refused: set[str] = set()
        replacements = 0
        while True:
            self.abort.check()
            if _pointer_ok(pointer):
                source = ShardSource(pointer, self.config)
                received = 0

                def counted(n: int) -> None:
                    nonlocal received
                    received += n
                    if count:
                        self.meter.add(n)

                started = now_ms()
                try:
                    source.pull(
                        self.farmers,
                        original.hash,
                        str(pointer.token),
                        int(original.size),
                        make_sink(),
                        on_bytes=counted,
                    )
                except FarmerError as exc:
                    if count:
                        self.meter.add(-received)
                    message = (
                        "FAILED_INTEGRITY"
                        if isinstance(exc, HashMismatchError)
                        else "DOWNLOAD_ERROR"
                    )
                    log.info("shard %d: %s", index, exc)
                    self._report(original.hash, source.node_id, started, False, message)
                    # A channel-only pointer names no farmer to exclude: the replacement
                    # asks for the pointer again (a new token; another holder if the
                    # Bridge finds this one unreachable).
                    _blame(exc, source.node_id, exclude, token_refused)
                else:
                    self._report(original.hash, source.node_id, started, True, "SHARD_DOWNLOADED")
                    return True
            if replacements >= self.config.pointer_replacements:
                return False
            replacements += 1
            pointer = request_pointer(
                self.client,
                self.bucket_id,
                self.file_id,
                index,
                exclude,
                abort=self.abort,
            )
            if pointer is None:
                return False
            if pointer.hash != original.hash or int(pointer.size) != int(original.size):
                raise IntegrityError(
                    f"the Bridge gave shard {index} a different hash or size on a second request"
                )
            if not _pointer_ok(pointer):
                return False

    def _report(self, shard_hash: str, node_id: str | None, start: int, ok: bool, msg: str) -> None:
        self.reports.submit(make_report(self.client, shard_hash, node_id, start, ok, msg))

    # -- Reed–Solomon recovery ---------------------------------------------------------

    def _recover(
        self, missing: list[int], data: list[Any], parity: list[Any], erasure: Any
    ) -> None:
        """Rebuild the ``missing`` data shards from the others and the parity shards."""
        d, p = len(data), len(parity)
        kind = field(erasure, "type") if erasure else None
        if not erasure or not parity:
            raise TransferError(
                f"shard(s) {missing} of {d} could not be downloaded from any farmer and the "
                "file has no parity shards to rebuild them; try again later"
            )
        if kind != "reedsolomon":
            raise TransferError(
                f"unsupported erasure type {kind!r}; cannot rebuild shards {missing}"
            )
        if len(missing) > p:
            raise TransferError(
                f"{len(missing)} of {d} data shards could not be downloaded; the {p} parity "
                "shards can rebuild at most that many. Try again later"
            )
        size = int(parity[0].size)
        if (
            any(int(q.size) != size for q in parity)
            or any(int(q.size) != size for q in data[:-1])
            or int(data[-1].size) > size
        ):
            raise IntegrityError("the shard sizes do not allow Reed–Solomon recovery")
        parity_file = self.temp.create(".parity")
        have: list[int] = []
        candidates = [int(q.index) for q in parity]
        while len(have) < len(missing) and candidates:
            batch = candidates[: len(missing) - len(have)]
            candidates = candidates[len(batch) :]
            futures = {
                i: self.pool.submit(self._fetch_parity, i, parity_file, (i - d) * size)
                for i in batch
            }
            wait_all(list(futures.values()), self.abort, self.meter)
            have.extend(i for i, f in futures.items() if f.result())
        if len(have) < len(missing):
            raise TransferError(
                f"{len(missing)} data shards and {p - len(have)} parity shards could not be "
                "downloaded: too few shards remain to rebuild the file. Try again later"
            )
        self._rebuild(missing, have, data, d, p, size, parity_file)

    def _fetch_parity(self, index: int, parity_file: PositionalFile, base: int) -> bool:
        def make_sink() -> Callable[[memoryview, int], None]:
            def sink(view: memoryview, position: int) -> None:
                parity_file.pwrite(view, base + position)

            return sink

        return self._fetch(index, make_sink, count=False)

    def _rebuild(
        self,
        missing: list[int],
        have_parity: list[int],
        data: list[Any],
        d: int,
        p: int,
        size: int,
        parity_file: PositionalFile,
    ) -> None:
        encryption = self.encryption
        dest = self.dest
        assert encryption is not None and dest is not None
        present = [i for i in range(d) if i not in missing]
        used = present + have_parity[: len(missing)]
        stripe = self.config.rs_stripe(d + len(missing), size)
        buffers = {i: memoryview(bytearray(stripe)) for i in used}
        outputs = {i: memoryview(bytearray(stripe)) for i in missing}
        hashers = {i: hashlib.sha256() for i in missing}
        rs = ReedSolomon(d, p)
        for x in range(0, size, stripe):
            self.tick()
            width = min(stripe, size - x)
            for i in used:
                view = buffers[i][:width]
                if i < d:
                    length = int(data[i].size)
                    available = max(0, min(width, length - x))
                    if available:
                        got = dest.preadinto(view[:available], self.offsets[i] + x)
                        if got != available:
                            raise TransferError("the downloaded data is shorter than expected")
                        # Back to ciphertext: the parity was computed over encrypted data.
                        view[:available] = encryption.crypt(view[:available], self.offsets[i] + x)
                    if available < width:
                        view[available:width] = bytes(width - available)
                else:
                    base = (i - d) * size
                    if parity_file.preadinto(view, base + x) != width:
                        raise TransferError("a parity shard is shorter than expected")
            rs.reconstruct_into(
                {i: buffers[i][:width] for i in used},
                {i: outputs[i][:width] for i in missing},
            )
            for i in missing:
                length = int(data[i].size)
                keep = max(0, min(width, length - x))
                if not keep:
                    continue
                piece = outputs[i][:keep]
                hashers[i].update(piece)
                dest.pwrite(encryption.crypt(piece, self.offsets[i] + x), self.offsets[i] + x)
                self.meter.add(keep)
        for i in missing:
            if ripemd160(hashers[i].digest()).hex() != data[i].hash:
                raise IntegrityError(
                    f"shard {i} rebuilt from parity does not match its hash; the parity shards "
                    "do not belong to this file"
                )


def download_file(
    client: Any,
    bucket_id: str,
    file_id: str,
    destination: str | os.PathLike[str] | IO[bytes],
    *,
    progress: Callable[[int, int], None] | None = None,
    config: TransferConfig | None = None,
    cancel: CancelToken | None = None,
) -> model.File:
    """Download a file (see the module docstring).

    :param client: a :class:`storj.http.Client` with credentials and the encryption key
        the file was uploaded with.
    :param destination: a path (written through a temporary file beside it and renamed
        into place only when the file is complete and verified), or a writable binary
        file object (written from its current position; a regular file is written in
        place and, if the download fails, cut back to where it was when it ended
        there; other objects receive the bytes only once the download is verified).
    :param progress: ``progress(bytes_done, bytes_total)`` from this thread;
        ``bytes_total`` is the size of the data shards (the file size): bytes
        downloaded, plus bytes rebuilt from parity when shards are missing (parity
        bytes fetched for that are not counted). Ends with ``(total, total)``.
    :param config: a :class:`TransferConfig`.
    :param cancel: anything with ``is_set()``; see :func:`storj.transfer.upload_file`.
    :returns: the entry's metadata (:class:`~storj.model.File`); the decrypted name
        is set as the attribute ``plaintext_name`` (``None`` if it does not decrypt).
    :raises IntegrityError: the HMAC or a rebuilt shard does not verify (wrong key?).
    :raises TransferError: shards could not be downloaded or rebuilt.
    :raises TransferCancelledError: ``cancel`` was set.
    :raises BridgeError: the Bridge refused a request (e.g. ``NotFoundError``).
    """
    config = config or DEFAULT_CONFIG
    client = bridge_client(client, config)
    download = _Download(client, bucket_id, file_id, config, progress, cancel)
    return download.run(destination)

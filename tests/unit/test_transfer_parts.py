"""Pure parts of the transfer engine: config, shard layout, progress, abort, temp files,
upload sources."""

from __future__ import annotations

import io
import os
import pickle
import stat
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storj.exception import (
    BadRequestError,
    BridgeServerError,
    BridgeTransportError,
    ConflictError,
    OverwriteError,
    TransferCancelledError,
    TransferError,
)
from storj.transfer import ShardLayout, TransferConfig
from storj.transfer._tempfiles import TempFiles, sibling_temp_path
from storj.transfer.config import DEFAULT_CONFIG
from storj.transfer.progress import Abort, Aborted, ProgressMeter
from storj.transfer.upload import _Source, name_taken
from tests.helpers import WAIT_TIMEOUT

MIB = 1024 * 1024


# ---------------------------------------------------------------------- config


def test_default_config_is_libstorj():
    c = DEFAULT_CONFIG
    assert (c.shard_concurrency, c.max_push_attempts, c.bridge_attempts) == (4, 6, None)
    assert (c.pointer_replacements, c.timeout) == (5, 60.0)
    assert (c.low_speed_limit, c.low_speed_time) == (30720, 20.0)
    assert (c.erasure, c.challenges, c.io_chunk_size, c.verify_hmac) == (None, 4, MIB, True)
    assert "io_chunk_size" in TransferConfig.__doc__


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shard_concurrency": 0},
        {"max_push_attempts": 0},
        {"timeout": 0},
        {"low_speed_time": -1},
        {"erasure": "yes"},
        {"challenges": 0},
        {"io_chunk_size": 1000},
        {"io_chunk_size": 4097 * 16 + 1},
        {"shard_concurrency": True},
    ],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError, match="TransferConfig"):
        TransferConfig(**kwargs)


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        DEFAULT_CONFIG.timeout = 1  # type: ignore[misc]


@given(shards=st.integers(1, 255), shard_size=st.integers(1, 4 * 1024 * MIB))
def test_rs_stripe_is_bounded_aligned_and_fits_the_shard(shards, shard_size):
    stripe = DEFAULT_CONFIG.rs_stripe(shards, shard_size)
    assert 1 <= stripe <= shard_size
    if stripe < shard_size:
        assert stripe % 16 == 0 and stripe >= 64 * 1024
    assert stripe <= DEFAULT_CONFIG.io_chunk_size
    assert stripe * shards <= max(16 * MIB, 64 * 1024 * shards)


# ---------------------------------------------------------------------- layout


@pytest.mark.parametrize(
    ("size", "erasure", "expected"),
    [
        (0, None, (2 * MIB, 0, 0)),
        (1, None, (2 * MIB, 1, 0)),
        (1000, None, (2 * MIB, 1, 0)),
        (15359, None, (2 * MIB, 1, 0)),
        (2 * MIB - 1, None, (2 * MIB, 1, 0)),
        (2 * MIB, None, (2 * MIB, 1, 1)),
        (2 * MIB + 1, None, (2 * MIB, 2, 2)),
        (10 * MIB, None, (2 * MIB, 5, 4)),
        (33 * MIB, None, (4 * MIB, 9, 6)),
        (256 * MIB, None, (16 * MIB, 16, 11)),
        (256 * MIB, False, (16 * MIB, 16, 0)),
        (1000, True, (2 * MIB, 1, 1)),
        (134217729, None, (16 * MIB, 9, 6)),
    ],
)
def test_layout_matches_libstorj(size, erasure, expected):
    layout = ShardLayout.plan(size, erasure)
    assert (layout.shard_size, layout.data_shards, layout.parity_shards) == expected


def test_layout_of_a_short_last_shard():
    layout = ShardLayout.plan(2 * MIB + 1)
    assert [layout.length(i) for i in range(4)] == [2 * MIB, 1, 2 * MIB, 2 * MIB]
    assert [layout.offset(i) for i in range(4)] == [0, 2 * MIB, 0, 2 * MIB]
    assert layout.upload_bytes == 2 * MIB + 1 + 4 * MIB


def test_forced_parity_of_a_small_file_is_as_long_as_the_file():
    layout = ShardLayout.plan(1000, True)
    assert layout.parity_size == 1000
    assert layout.upload_bytes == 2000


@given(size=st.integers(0, 1 << 40), erasure=st.sampled_from([None, True, False]))
def test_layout_covers_the_file_exactly(size, erasure):
    layout = ShardLayout.plan(size, erasure)
    lengths = [layout.length(i) for i in range(layout.data_shards)]
    assert sum(lengths) == size
    assert all(length >= 1 for length in lengths)
    assert all(length == layout.shard_size for length in lengths[:-1])
    for i in range(1, layout.data_shards):
        assert layout.offset(i) == layout.offset(i - 1) + lengths[i - 1]
    if layout.parity_shards:
        assert layout.parity_shards == -(-2 * layout.data_shards // 3)
        assert layout.parity_size == lengths[0]
    if erasure is None:
        assert (layout.parity_shards > 0) == (size >= 2 * MIB)
    assert layout.total_shards <= 255 or size > 1 << 38
    assert layout.upload_bytes == size + layout.parity_shards * layout.parity_size


# -------------------------------------------------------------------- progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


@settings(max_examples=200)
@given(
    total=st.integers(0, 10_000),
    steps=st.lists(st.tuples(st.integers(-500, 2000), st.booleans()), max_size=40),
)
def test_progress_is_monotonic_bounded_and_ends_at_total(total, steps):
    calls = []
    meter = ProgressMeter(total, lambda done, tot: calls.append((done, tot)), clock=Clock())
    for delta, poll in steps:
        meter.add(delta)
        if poll:
            meter.poll()
    meter.finish()
    meter.finish()
    assert calls[-1] == (total, total)
    assert [c for c in calls if c[0] == total] == [(total, total)]
    dones = [done for done, _ in calls]
    assert dones == sorted(dones)
    assert all(0 <= done <= total and tot == total for done, tot in calls)


def test_progress_is_throttled_but_final_call_is_not():
    calls = []
    times = iter([0.0, 0.01, 0.02, 1.0])
    meter = ProgressMeter(100, lambda d, t: calls.append(d), clock=lambda: next(times))
    for _ in range(3):
        meter.add(10)
        meter.poll()
    meter.add(10)
    meter.poll()
    meter.finish()
    assert calls == [10, 40, 100]


def test_progress_without_callback_does_nothing():
    meter = ProgressMeter(10, None)
    meter.add(5)
    meter.poll()
    meter.finish()
    assert meter.value == 5


# ----------------------------------------------------------------------- abort


def test_abort_keeps_the_first_reason_and_runs_callbacks():
    abort = Abort()
    seen = []
    key = abort.register(lambda: seen.append("a"))
    abort.register(lambda: seen.append("b"))
    abort.unregister(key)
    first = RuntimeError("first")
    abort.set(first)
    abort.set(RuntimeError("second"))
    assert abort.reason is first and seen == ["b"]
    with pytest.raises(Aborted):
        abort.check()
    late = []
    assert abort.register(lambda: late.append(1)) == -1
    assert late == [1]


def test_abort_polls_the_callers_cancel_token():
    event = threading.Event()
    abort = Abort(event)
    assert not abort.poll_cancel()
    event.set()
    assert abort.poll_cancel()
    assert isinstance(abort.reason, TransferCancelledError)


# ------------------------------------------------------------------ temp files


def test_temp_files_are_private_and_removed(tmp_path):
    temp = TempFiles(tmp_path)
    a = temp.create(".a")
    a.pwrite(b"hello", 3)
    view = memoryview(bytearray(8))
    assert a.preadinto(view, 0) == 8 and bytes(view) == b"\0\0\0hello"
    assert stat.S_IMODE(os.stat(a.path).st_mode) == 0o600
    temp.create(".b")
    assert len(list(tmp_path.iterdir())) == 2
    temp.cleanup()
    assert list(tmp_path.iterdir()) == []


def test_sibling_temp_file_gets_normal_permissions(tmp_path):
    handle, path = sibling_temp_path(tmp_path / "target.bin")
    try:
        mask = os.umask(0o022)
        os.umask(mask)
        assert os.path.dirname(path) == str(tmp_path)
        assert os.path.basename(path).startswith(".target.bin.")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~mask
    finally:
        handle.close()
        os.unlink(path)


# --------------------------------------------------------------------- sources


def test_source_from_a_path(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"0123456789")
    src = _Source.open(path)
    try:
        assert (src.size, src.name, src.positional) == (10, "x.txt", True)
        view = memoryview(bytearray(4))
        assert src.read_at(view, 3) == 4 and bytes(view) == b"3456"
    finally:
        src.close()


def test_source_from_a_seekable_object_starts_at_its_position():
    obj = io.BytesIO(b"0123456789")
    obj.seek(4)
    src = _Source.open(obj)
    assert (src.size, src.positional) == (6, True)
    view = memoryview(bytearray(3))
    assert src.read_at(view, 1) == 3 and bytes(view) == b"567"
    src.finish()
    assert obj.tell() == 10


def test_source_from_a_pipe_is_a_stream():
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"abc")
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as reader:
        src = _Source.open(reader)
        assert (src.size, src.positional) == (None, False)
        view = memoryview(bytearray(10))
        assert src.read_into(view) == 3 and bytes(view[:3]) == b"abc"


def test_source_rejects_text_and_directories(tmp_path):
    with pytest.raises(TypeError, match="binary"):
        _Source.open(io.StringIO("x"))
    with pytest.raises(IsADirectoryError):
        _Source.open(tmp_path)
    with pytest.raises(TypeError):
        _Source.open(42)


# ------------------------------------------------------------------ pointer listing


class _Pointer:
    def __init__(self, index: int) -> None:
        self.index = index
        self.parity = False


class _PagingClient:
    """file_pointers over ``count`` shards, recording every request (and how many ran at
    once); ``missing`` indexes are never listed.

    With ``meet``, requests after the first wait (up to 30 s) until ``meet`` of them have
    run at once, so a concurrent listing shows its concurrency however the threads are
    scheduled on a busy machine (a listing that never runs that many at once waits the
    30 s, then fails its check)."""

    def __init__(
        self, count: int, missing: frozenset[int] = frozenset(), meet: int | None = None
    ) -> None:
        self.count = count
        self.missing = missing
        self.meet = meet
        self.requests: list[tuple[int, int]] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Condition()

    def file_pointers(self, bucket_id, file_id, skip=0, limit=6, exclude=None):
        with self._lock:
            self.requests.append((skip, limit))
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self._lock.notify_all()
            if self.meet is not None and skip > 0:
                self._lock.wait_for(lambda: self.most_at_once >= self.meet, WAIT_TIMEOUT)
        try:
            threading.Event().wait(0.02)
            end = min(self.count, skip + limit)
            return [_Pointer(i) for i in range(skip, end) if i not in self.missing]
        finally:
            with self._lock:
                self.running -= 1


@pytest.mark.parametrize("count", [0, 1, 6, 7, 27, 40])
@pytest.mark.parametrize("hint", ["exact", "short", "long", "none"])
def test_pointer_listing_is_complete_and_in_order_whatever_the_hint(count, hint):
    from storj.transfer.download import list_pointers

    expected = {"exact": count, "short": count // 3, "long": count + 20, "none": None}[hint]
    client = _PagingClient(count)
    pages: list[list[int]] = []
    pointers = list_pointers(
        client,
        "b" * 24,
        "f" * 24,
        TransferConfig(pointer_page_size=6),
        on_page=lambda page: pages.append([p.index for p in page]),
        expected=expected,
    )
    assert [p.index for p in pointers] == list(range(count))
    assert [i for page in pages for i in page] == list(range(count))  # pages in order
    # Every shard was asked for once; extra requests only past the end (a long hint,
    # or the empty page that ends a listing of full pages).
    asked = sorted(skip for skip, _ in client.requests)
    assert len(asked) == len(set(asked))
    assert [s for s in asked if s < count] == list(range(0, count, 6))


def test_pointer_pages_after_the_first_are_asked_for_concurrently():
    from storj.transfer.download import PAGE_REQUESTS_IN_FLIGHT, list_pointers

    client = _PagingClient(60, meet=PAGE_REQUESTS_IN_FLIGHT)
    list_pointers(client, "b" * 24, "f" * 24, TransferConfig(pointer_page_size=6), expected=60)
    assert client.requests[0] == (0, 6)  # alone first: its shards can start at once
    assert client.most_at_once == PAGE_REQUESTS_IN_FLIGHT
    sequential = _PagingClient(60)
    list_pointers(sequential, "b" * 24, "f" * 24, TransferConfig(pointer_page_size=6))
    assert sequential.most_at_once == 1


def test_a_gap_in_the_pointers_is_an_integrity_error():
    from storj.exception import IntegrityError
    from storj.transfer.download import list_pointers

    client = _PagingClient(20, missing=frozenset({8}))
    with pytest.raises(IntegrityError, match="shard 9 where shard 8"):
        list_pointers(
            client, "b" * 24, "f" * 24, TransferConfig(pointer_page_size=6), expected=20
        )


def test_expected_shards_follows_libstorj_sizing():
    from storj.transfer.download import expected_shards

    mib = 1024 * 1024
    assert expected_shards({"size": 256 * mib}) == 16
    assert expected_shards({"size": 256 * mib, "erasure": {"type": "reedsolomon"}}) == 27
    rs = {"size": 256 * mib, "erasure": {"type": "reedsolomon"}}
    assert expected_shards(rs, parity=False) == 16
    assert expected_shards({"size": 0}) == 0
    assert expected_shards({"size": "12"}) is None
    assert expected_shards({}) is None


# ---------------------------------------------------------------------- replacing a file


@pytest.mark.parametrize(
    ("error", "taken"),
    [
        (ConflictError("A file with this name already exists", status_code=409), True),
        (BridgeServerError("E11000 duplicate key error collection: x", status_code=500), True),
        (BadRequestError("E11000 duplicate key error", status_code=400), True),
        (BridgeServerError("Internal error", status_code=500), False),
        (BadRequestError("Frame is already locked", status_code=400), False),
        (BridgeTransportError("Connection reset"), False),
    ],
)
def test_name_taken_recognises_the_duplicate_answers(error, taken):
    assert name_taken(error) is taken


def test_overwrite_error_carries_the_frame_and_pickles():
    error = OverwriteError(
        "replacing 'a': ... frame 0123456789abcdef01234567 ...",
        bucket_id="b" * 24,
        frame_id="0123456789abcdef01234567",
        filename="enc",
        entry_fields={"mimetype": "text/plain", "index": "00" * 32},
    )
    assert isinstance(error, TransferError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is OverwriteError and str(copy) == str(error)
    assert (copy.bucket_id, copy.frame_id, copy.filename, copy.entry_fields) == (
        "b" * 24,
        "0123456789abcdef01234567",
        "enc",
        {"mimetype": "text/plain", "index": "00" * 32},
    )

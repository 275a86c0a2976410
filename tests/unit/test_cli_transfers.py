"""Transfers: Ctrl-C sets the cancel event and waits; downloads never leave partial files."""

import _thread
import os
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storj.cli._demo import parse_size, sha256_file, write_random_file
from storj.cli._progress import ProgressBar, bars_enabled
from storj.cli._transfers import download, run_cancellable
from storj.exception import IntegrityError, TransferCancelledError
from tests.helpers import WAIT_TIMEOUT


def test_run_cancellable_returns_and_raises():
    assert run_cancellable(lambda cancel: 42) == 42
    with pytest.raises(IntegrityError):
        run_cancellable(lambda cancel: (_ for _ in ()).throw(IntegrityError("bad")))


def test_ctrl_c_sets_cancel_and_waits_for_worker():
    finished = threading.Event()

    def work(cancel):
        _thread.interrupt_main()
        assert cancel.wait(WAIT_TIMEOUT), "the cancel event was never set"
        finished.set()
        raise TransferCancelledError("cancelled")

    with pytest.raises(KeyboardInterrupt):
        run_cancellable(work)
    assert finished.is_set()  # the worker had stopped before control came back


class FakeDownloader:
    def __init__(self, data=b"hello world", fail=None, interrupt=False):
        self.data, self.fail, self.interrupt = data, fail, interrupt
        self.partial_paths = []

    def download_file(self, bucket_id, file_id, destination, *, progress, cancel, config=None):
        destination.write(self.data[:3])
        destination.flush()
        self.partial_paths.append(destination.name)
        if self.interrupt:
            _thread.interrupt_main()
            cancel.wait(WAIT_TIMEOUT)
            raise TransferCancelledError("cancelled")
        if self.fail:
            raise self.fail
        destination.write(self.data[3:])
        progress(len(self.data), len(self.data))
        return {"id": file_id}


def bar():
    return ProgressBar("x", enabled=False)


def test_download_writes_atomically(tmp_path):
    client = FakeDownloader()
    dest = tmp_path / "out.txt"
    download(client, "b" * 24, "f" * 24, dest, bar=bar())
    assert dest.read_bytes() == b"hello world"
    assert os.listdir(tmp_path) == ["out.txt"]
    assert client.partial_paths[0] != str(dest)


def test_download_failure_leaves_nothing(tmp_path):
    dest = tmp_path / "out.txt"
    with pytest.raises(IntegrityError):
        download(FakeDownloader(fail=IntegrityError("hmac")), "b", "f", dest, bar=bar())
    assert os.listdir(tmp_path) == []


def test_download_ctrl_c_leaves_nothing(tmp_path):
    dest = tmp_path / "out.txt"
    with pytest.raises(KeyboardInterrupt):
        download(FakeDownloader(interrupt=True), "b", "f", dest, bar=bar())
    assert os.listdir(tmp_path) == []


def test_download_refuses_to_overwrite_unless_asked(tmp_path):
    dest = tmp_path / "out.txt"
    dest.write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        download(FakeDownloader(), "b", "f", dest, bar=bar())
    assert dest.read_bytes() == b"keep me"
    with pytest.raises(IntegrityError):
        download(FakeDownloader(fail=IntegrityError("x")), "b", "f", dest, bar=bar(),
                 overwrite=True)
    assert dest.read_bytes() == b"keep me"  # a failed overwrite keeps the old file
    download(FakeDownloader(), "b", "f", dest, bar=bar(), overwrite=True)
    assert dest.read_bytes() == b"hello world"


def test_progress_bar_disabled_records_and_draws_nothing(capsys):
    pb = ProgressBar("x", enabled=False)
    pb(5, 10)
    pb.close()
    assert (pb.done, pb.total) == (5, 10)
    assert capsys.readouterr() == ("", "")


def test_progress_bar_draws_bytes(tmp_path):
    out = (tmp_path / "bar.txt").open("w")
    with ProgressBar("file.bin", enabled=True, stream=out) as pb:
        pb(512, 2048)
        pb(2048, 2048)
    out.close()
    text = (tmp_path / "bar.txt").read_text()
    assert "file.bin" in text and "2.00k" in text.lower() and "100%" in text


def test_bars_enabled():
    class Tty:
        def isatty(self):
            return True

    assert bars_enabled(False, Tty()) is True
    assert bars_enabled(True, Tty()) is False
    with open(os.devnull, "w") as devnull:
        assert bars_enabled(False, devnull) is False


@pytest.mark.parametrize(
    ("text", "size"),
    [("100", 100), ("8MiB", 8 * 1024**2), ("512KiB", 524288), ("1.5MB", 1_500_000),
     ("2 k", 2000), ("1GiB", 1024**3), ("7b", 7)],
)
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "-1", "abc", "5XB", "1.2.3MiB"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        parse_size(text)


@given(st.integers(min_value=1, max_value=10**12))
def test_parse_size_plain_integers(n):
    assert parse_size(str(n)) == n


def test_random_file_digest(tmp_path):
    path = tmp_path / "r.bin"
    digest = write_random_file(path, 3 * 1024 * 1024 + 5)
    assert path.stat().st_size == 3 * 1024 * 1024 + 5
    assert sha256_file(path) == digest

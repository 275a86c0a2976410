"""Uploads and downloads for the commands: progress bars, Ctrl-C, no partial files.

A transfer runs in a worker thread while the main thread waits, so Ctrl-C reaches
the main thread at once; it then sets the transfer's cancel event, waits for the
engine to stop, removes whatever was written, and re-raises ``KeyboardInterrupt``
(the root group turns that into exit status 130).

Downloads are written to a hidden temporary file next to the destination and renamed
over it only when complete and verified, so a destination is never left half written
and an existing file is only replaced when the whole download succeeded.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from storj.cli._progress import ProgressBar

if TYPE_CHECKING:
    from storj.transfer.config import TransferConfig

T = TypeVar("T")

#: How long to wait for a cancelled transfer to wind down before giving up on it.
CANCEL_GRACE_SECONDS = 30.0


def run_cancellable(work: Callable[[threading.Event], T]) -> T:
    """Run ``work(cancel_event)`` in a worker thread; Ctrl-C sets the event and waits.

    :raises KeyboardInterrupt: the user interrupted (after the worker stopped).
    :raises BaseException: whatever ``work`` raised.
    """
    cancel = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work(cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="storj-cli-transfer", daemon=True)
    try:
        worker.start()  # inside the try: Ctrl-C may arrive before the first join
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        cancel.set()
        if worker.ident is not None:
            with contextlib.suppress(KeyboardInterrupt):
                worker.join(CANCEL_GRACE_SECONDS)
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _until(cancel: threading.Event, bar: ProgressBar) -> Callable[[int, int], None]:
    """The bar's callback, frozen once the transfer is cancelled (no rewinding to 0)."""

    def progress(done: int, total: int) -> None:
        if not cancel.is_set():
            bar(done, total)

    return progress


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def upload(
    client: Any,
    bucket_id: str,
    path: Path,
    *,
    name: str,
    bar: ProgressBar,
    overwrite: bool = False,
    config: TransferConfig | None = None,
) -> Any:
    """Upload the file at ``path`` as ``name`` (``Client.upload_file``) with a bar and Ctrl-C.

    With ``overwrite`` a file of the same name is replaced only once the new version is
    stored (``Client.upload_file(overwrite=True)``); it is never deleted first. ``config``
    is handed to the engine as is (``None``: its defaults).
    """

    def work(cancel: threading.Event) -> Any:
        return client.upload_file(
            bucket_id,
            str(path),
            name=name,
            progress=_until(cancel, bar),
            cancel=cancel,
            overwrite=overwrite,
            config=config,
        )

    with bar:
        return run_cancellable(work)


def download(
    client: Any,
    bucket_id: str,
    file_id: str,
    destination: Path,
    *,
    bar: ProgressBar,
    overwrite: bool = False,
    config: TransferConfig | None = None,
) -> Any:
    """Download a file to ``destination`` through a temporary file in the same directory.

    ``config`` is handed to ``Client.download_file`` as is (``None``: the defaults).

    :raises FileExistsError: ``destination`` exists and ``overwrite`` is false.
    """
    if destination.exists() and not overwrite:
        raise FileExistsError(errno.EEXIST, "already exists", str(destination))
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part",
                                    dir=destination.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:

            def work(cancel: threading.Event) -> Any:
                return client.download_file(
                    bucket_id, file_id, handle, progress=_until(cancel, bar), cancel=cancel,
                    config=config,
                )

            with bar:
                result = run_cancellable(work)
        if destination.exists() and not overwrite:  # appeared while downloading
            raise FileExistsError(errno.EEXIST, "already exists", str(destination))
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp made it 0600; use the usual mode
        os.replace(tmp, destination)
        return result
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()

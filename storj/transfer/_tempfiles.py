"""Temporary files of a transfer, and positional I/O on them.

Every temporary file a transfer creates is registered in one :class:`TempFiles`
set and removed by :meth:`TempFiles.cleanup`, whatever happened. Files are used
through :class:`PositionalFile`, which reads and writes at explicit offsets
(``os.pread``/``os.pwrite``), so many threads can share one file descriptor.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Protocol

__all__ = ["PositionalFile", "ReadableAt", "TempFiles", "sibling_temp_path"]

_PREFIX = "storj-"


class ReadableAt(Protocol):
    """Anything shard bytes can be read from at an offset, from several threads at once."""

    def preadinto(self, buffer: memoryview, offset: int) -> int:
        """Fill ``buffer`` from ``offset``; returns the bytes read (short only at the end)."""
        ...  # pragma: no cover


class PositionalFile:
    """A file descriptor read and written at explicit offsets (thread-safe).

    Uses ``os.pread``/``os.pwrite`` where available; elsewhere (Windows) falls back to
    ``lseek`` + ``read``/``write`` under a lock.
    """

    __slots__ = ("_closed", "_lock", "fd", "path")

    def __init__(self, fd: int, path: str | None = None) -> None:
        self.fd = fd
        self.path = path
        self._lock = threading.Lock()
        self._closed = False

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> None:
        """Write all of ``data`` at ``offset``."""
        view = memoryview(data)
        while view.nbytes:
            if hasattr(os, "pwrite"):
                written = os.pwrite(self.fd, view, offset)
            else:  # pragma: no cover - Windows
                with self._lock:
                    os.lseek(self.fd, offset, os.SEEK_SET)
                    written = os.write(self.fd, view)
            view = view[written:]
            offset += written

    def preadinto(self, buffer: memoryview, offset: int) -> int:
        """Fill ``buffer`` from ``offset``; returns the bytes read (short only at end of file)."""
        total = 0
        size = buffer.nbytes
        while total < size:
            if hasattr(os, "preadv"):
                got = os.preadv(self.fd, [buffer[total:]], offset + total)
            else:  # pragma: no cover - platforms without preadv
                with self._lock:
                    os.lseek(self.fd, offset + total, os.SEEK_SET)
                    data = os.read(self.fd, size - total)
                got = len(data)
                buffer[total : total + got] = data
            if got == 0:
                break
            total += got
        return total

    def truncate(self, size: int) -> None:
        """Set the file's length (sparse where the file system allows)."""
        os.ftruncate(self.fd, size)

    def size(self) -> int:
        """Current length of the file."""
        return os.fstat(self.fd).st_size

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                os.close(self.fd)


class TempFiles:
    """The temporary files of one transfer; :meth:`cleanup` closes and removes them all.

    Files are created with :func:`tempfile.mkstemp` (mode 0600) in ``tmp_dir`` (the
    system default when ``None``), named ``storj-*``.
    """

    def __init__(self, tmp_dir: str | os.PathLike[str] | None = None) -> None:
        self.tmp_dir = os.fspath(tmp_dir) if tmp_dir is not None else None
        self._files: list[PositionalFile] = []
        self._lock = threading.Lock()

    def create(self, suffix: str = ".tmp") -> PositionalFile:
        """A new, empty temporary file opened for reading and writing."""
        fd, path = tempfile.mkstemp(prefix=_PREFIX, suffix=suffix, dir=self.tmp_dir)
        handle = PositionalFile(fd, path)
        with self._lock:
            self._files.append(handle)
        return handle

    def adopt(self, handle: PositionalFile) -> PositionalFile:
        """Register a file created elsewhere so :meth:`cleanup` removes it too."""
        with self._lock:
            self._files.append(handle)
        return handle

    def release(self, handle: PositionalFile) -> None:
        """Forget ``handle`` (it was renamed into place and must not be removed)."""
        with self._lock:
            if handle in self._files:
                self._files.remove(handle)

    def cleanup(self) -> None:
        """Close and delete every registered file (errors are ignored)."""
        with self._lock:
            files, self._files = self._files, []
        for handle in files:
            handle.close()
            if handle.path:
                with contextlib.suppress(OSError):
                    os.unlink(handle.path)

    def __enter__(self) -> TempFiles:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


def sibling_temp_path(destination: str | os.PathLike[str]) -> tuple[PositionalFile, str]:
    """Create a new file next to ``destination`` to be renamed onto it when complete.

    The name is ``.<name>.<random>.storj-part`` in the same directory (so
    ``os.replace`` is atomic); it is created exclusively with mode ``0666`` minus the
    umask, i.e. the permissions a normally created file would get.
    """
    target = Path(destination)
    directory = target.parent
    for _ in range(100):
        name = f".{target.name}.{secrets.token_hex(4)}.storj-part"
        path = directory / name
        try:
            fd = os.open(
                path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
            )
        except FileExistsError:  # pragma: no cover - 32 random bits
            continue
        return PositionalFile(fd, str(path)), str(path)
    raise FileExistsError(
        f"could not create a temporary file next to {destination}"
    )  # pragma: no cover

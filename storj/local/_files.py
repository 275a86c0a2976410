"""Private files and directories: everything under a local data directory belongs to
its owner alone (directories 0700, files 0600).

Modes are given explicitly when a file or directory is created and existing ones are
tightened when a server starts, so neither the process umask (never changed here) nor a
data directory left by an older version opens them to other users.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "private_file", "private_sqlite"]

log = logging.getLogger("storj.local")

DIR_MODE = 0o700
FILE_MODE = 0o600

#: Files SQLite keeps next to a database (created with the database file's mode).
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current != mode:
        os.chmod(path, mode)


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and missing parents) as 0700, or set an existing one to 0700."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _tighten(p, DIR_MODE)
    return p


def private_file(path: str | os.PathLike[str], *, create: bool = False) -> None:
    """Set ``path`` to 0600; create it empty first with ``create`` (a missing file is
    otherwise left alone)."""
    p = Path(path)
    if create:
        fd = os.open(p, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
                os.fchmod(fd, FILE_MODE)
        finally:
            os.close(fd)
        return
    try:
        _tighten(p, FILE_MODE)
    except FileNotFoundError:
        pass


def private_sqlite(path: str | os.PathLike[str]) -> None:
    """Create or tighten a SQLite database file and its ``-wal``/``-shm``/``-journal``
    files to 0600 before it is opened (SQLite gives the files it creates the mode of the
    database file)."""
    p = Path(path)
    private_file(p, create=True)
    for suffix in _SQLITE_SIDE_FILES:
        private_file(p.with_name(p.name + suffix))

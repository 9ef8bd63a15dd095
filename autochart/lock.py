"""One run at a time per output folder: an exclusive ``flock`` on ``<output_dir>/run.lock``.

The kernel releases an flock when the process holding it ends, however it ends (a crash, ``kill
-9``, a reboot), so a stale lock file never blocks the next run: only a live run does. The file
itself stays (deleting a lock file while others wait on it is a race); it only says who holds it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .exceptions import AlreadyRunningError, SetupError

log = logging.getLogger(__name__)


@contextmanager
def hold(path: Path) -> Iterator[Path]:
    """Hold the lock at ``path`` during the ``with`` block; ``AlreadyRunningError`` if taken."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise SetupError(
            f"cannot open the run lock {path}: {exc}; make output_dir a folder this user can write"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunningError(
                f"another run is still going ({holder(path) or 'holder unknown'}): this run stops "
                f"without doing anything. The lock {path} is released when that run ends, "
                f"even if it is killed."
            ) from None
        _write_holder(fd)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _write_holder(fd: int) -> None:
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} since {started}\n".encode(), 0)


def holder(path: Path) -> str:
    """Who holds (or last held) the lock, as written by the holder: ``pid N since T``."""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def is_held(path: Path) -> bool:
    """True if a live process holds the lock at ``path`` (for ``doctor``)."""
    if not Path(path).is_file():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False

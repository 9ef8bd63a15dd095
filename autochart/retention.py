"""Housekeeping after a run: delete old run folders, and keep the schedule's log file small.

Which run folders stay (``keep_runs`` and ``keep_days`` in ``params.yaml``):

- a folder is deleted when it is beyond the newest ``keep_runs`` folders, or when it started more
  than ``keep_days`` days ago; either limit may be ``null`` (no limit of that kind);
- never deleted: the run just made, and the run whose chart is published now (the newest run with
  ``status: success`` and a ``published`` entry in its ``run.json``: each successful publish
  replaces the stable chart, so the newest such run is the one the web page shows);
- only folders named like a run (``YYYYmmddTHHMMSSZ``, maybe ``-N``) are ever touched; the age of
  a run is read from that name (UTC), not from the file times.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

RUN_NAME = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)(?:-\d+)?$")
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3


def run_folders(runs: Path) -> list[Path]:
    """Run folders under ``runs``, newest first."""
    if not Path(runs).is_dir():
        return []
    found = [p for p in Path(runs).iterdir() if p.is_dir() and RUN_NAME.match(p.name)]
    return sorted(found, key=_sort_key, reverse=True)


def _sort_key(path: Path) -> tuple[str, int]:
    stamp, _, n = path.name.partition("-")
    return stamp, int(n or 1)


def started_at(path: Path) -> dt.datetime:
    stamp = RUN_NAME.match(path.name)["stamp"]
    return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)


def published_run(runs: Path) -> Path | None:
    """The run whose chart is published now: the newest successful run that was published."""
    for folder in run_folders(runs):
        record = _record(folder)
        if record.get("status") == "success" and record.get("published"):
            return folder
    return None


def _record(folder: Path) -> dict:
    try:
        return json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def to_delete(
    runs: Path,
    keep_runs: int | None,
    keep_days: int | None,
    protect: tuple[Path, ...] = (),
    now: dt.datetime | None = None,
) -> list[Path]:
    """The run folders that retention removes (oldest last), given the limits."""
    now = now or dt.datetime.now(dt.timezone.utc)
    keep = {Path(p).name for p in protect}
    published = published_run(runs)
    if published is not None:
        keep.add(published.name)
    doomed = []
    for position, folder in enumerate(run_folders(runs)):
        too_many = keep_runs is not None and position >= keep_runs
        too_old = keep_days is not None and now - started_at(folder) > dt.timedelta(keep_days)
        if (too_many or too_old) and folder.name not in keep:
            doomed.append(folder)
    return doomed


def prune(
    runs: Path,
    keep_runs: int | None,
    keep_days: int | None,
    protect: tuple[Path, ...] = (),
    now: dt.datetime | None = None,
) -> list[Path]:
    """Delete what ``to_delete`` names; return what was deleted. A folder that cannot be
    deleted is logged and skipped (housekeeping never fails a run)."""
    deleted = []
    for folder in to_delete(runs, keep_runs, keep_days, protect, now):
        try:
            shutil.rmtree(folder)
            deleted.append(folder)
        except OSError as exc:
            log.warning("retention: could not delete %s: %s", folder, exc)
    if deleted:
        log.info(
            "retention: deleted %d run folder(s) (keep_runs %s, keep_days %s): %s",
            len(deleted),
            keep_runs,
            keep_days,
            ", ".join(p.name for p in deleted),
        )
    return deleted


def rotate_log(path: Path, max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS) -> bool:
    """Rename ``path`` to ``path.1`` (``.1`` to ``.2``, ...) once it is over ``max_bytes``.

    Called at the start of a run: the shell that started this run keeps appending to the renamed
    file, and the next run's output starts a new one, so the log stays near ``max_bytes`` times
    ``backups + 1``.
    """
    path = Path(path)
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except FileNotFoundError:
        return False
    for n in range(backups, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            if n == backups:
                older.unlink()
            else:
                os.replace(older, path.with_name(f"{path.name}.{n + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))
    log.info("rotated %s (over %d bytes)", path, max_bytes)
    return True

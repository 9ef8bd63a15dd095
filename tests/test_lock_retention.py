"""The run lock (one run at a time, exit 7, never stale) and retention of run folders."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autochart import config, lock, retention, runner
from autochart.exceptions import AlreadyRunningError

from .schedule_helpers import run_records, runner_argv, write_params

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone.utc)


# --- the lock ------------------------------------------------------------------------------------


def test_second_holder_is_refused_at_once_and_told_who_holds_it(tmp_path):
    path = tmp_path / "run.lock"
    with lock.hold(path):
        started = time.monotonic()
        with pytest.raises(AlreadyRunningError, match=f"pid {os.getpid()} since"), lock.hold(path):
            pass
        assert time.monotonic() - started < 1
        assert lock.is_held(path)
    assert not lock.is_held(path)
    with lock.hold(path):  # free again after release
        pass


def test_lock_of_a_killed_process_does_not_block(tmp_path):
    path = tmp_path / "run.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from autochart import lock\n"
            f"with lock.hold({str(path)!r}):\n    print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert lock.is_held(path)
        with pytest.raises(AlreadyRunningError):
            lock.hold(path).__enter__()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    assert path.exists()  # the file stays, the lock does not
    with lock.hold(path):
        pass


@pytest.mark.notebook
def test_two_runs_at_once_one_succeeds_the_other_exits_7(tmp_path):
    params = write_params(tmp_path)
    argv = runner_argv(params)
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock_path = tmp_path / "out" / "run.lock"
    deadline = time.monotonic() + 60
    while not lock.is_held(lock_path) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    second = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert second.returncode == 7, second.stderr
    assert time.monotonic() - started < 20  # at once: no waiting for the first run
    assert "ERROR another run is still going" in second.stderr
    _, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    records = run_records(tmp_path / "out")
    assert [r["status"] for r in records] == ["success"]  # the refused run made no folder


# --- retention -----------------------------------------------------------------------------------


def make_run(runs: Path, stamp: str, status: str = "success", published: bool = True) -> Path:
    folder = runs / stamp
    folder.mkdir(parents=True)
    record = {
        "run_id": stamp,
        "status": status,
        "published": {"latest": "x/dashboard.png"} if published else None,
    }
    (folder / "run.json").write_text(json.dumps(record))
    return folder


def names(paths) -> list[str]:
    return [p.name for p in paths]


def test_keep_runs_keeps_the_newest_and_the_published_one(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "20261125T070000Z")
    published = make_run(runs, "20261126T070000Z")
    for stamp in ("20261127T070000Z", "20261128T070000Z"):
        make_run(runs, stamp, status="failed", published=False)
    make_run(runs, "20261129T070000Z", published=False)  # a --no-publish run
    newest = make_run(runs, "20261130T070000Z", status="failed", published=False)
    (runs / "notes").mkdir()  # not a run folder: never touched
    assert retention.published_run(runs) == published
    deleted = retention.prune(runs, keep_runs=2, keep_days=None, protect=(newest,), now=NOW)
    assert names(deleted) == ["20261128T070000Z", "20261127T070000Z", "20261125T070000Z"]
    assert sorted(p.name for p in runs.iterdir()) == [
        "20261126T070000Z",
        "20261129T070000Z",
        "20261130T070000Z",
        "notes",
    ]


def test_keep_days_counts_from_the_folder_name(tmp_path):
    runs = tmp_path / "runs"
    for stamp in (
        "20261120T110000Z",
        "20261126T110000Z",
        "20261126T130000Z",
        "20261202T070000Z",
        "20261202T070000Z-2",
    ):
        make_run(runs, stamp, published=False)
    os.utime(runs / "20261120T110000Z", (NOW.timestamp(), NOW.timestamp()))  # mtime is ignored
    doomed = retention.to_delete(runs, keep_runs=None, keep_days=7, now=NOW)
    assert names(doomed) == ["20261126T110000Z", "20261120T110000Z"]


def test_both_limits_apply_and_the_run_just_made_stays(tmp_path):
    runs = tmp_path / "runs"
    just_made = make_run(runs, "20261101T070000Z", status="failed", published=False)  # clock skew
    for day in range(25, 31):
        make_run(runs, f"202611{day}T070000Z", published=False)
    doomed = retention.to_delete(runs, keep_runs=4, keep_days=6, protect=(just_made,), now=NOW)
    # keep_runs alone would keep the 27th; keep_days (6 days before Dec 3 12:00) does not
    assert names(doomed) == ["20261127T070000Z", "20261126T070000Z", "20261125T070000Z"]
    doomed = retention.to_delete(runs, keep_runs=2, keep_days=30, protect=(just_made,), now=NOW)
    assert names(doomed) == ["20261128T070000Z", "20261127T070000Z", "20261126T070000Z", "20261125T070000Z"]
    assert retention.to_delete(runs, keep_runs=None, keep_days=None, now=NOW) == []


def test_run_folder_order_handles_same_second_suffixes(tmp_path):
    runs = tmp_path / "runs"
    for stamp in ("20261202T070000Z", "20261202T070000Z-2", "20261202T070000Z-10"):
        make_run(runs, stamp, published=False)
    assert names(retention.run_folders(runs)) == [
        "20261202T070000Z-10",
        "20261202T070000Z-2",
        "20261202T070000Z",
    ]


@pytest.mark.notebook
def test_a_real_run_prunes_after_itself(tmp_path):
    runs = tmp_path / "out" / "runs"
    published = make_run(runs, "20200101T070000Z")
    for day in range(2, 6):
        make_run(runs, f"202001{day:02d}T070000Z", status="failed", published=False)
    params = config.load(write_params(tmp_path, keep_runs=2))
    result = runner.run(params, publish=False)  # so the 2020-01-01 chart is still the one shown
    assert result.ok, result.message
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        [published.name, "20200105T070000Z", result.run_dir.name]
    )


def test_log_rotation_caps_the_schedule_log(tmp_path):
    log_file = tmp_path / "autochart.log"
    assert not retention.rotate_log(log_file, max_bytes=10)  # no file yet
    for n in range(5):
        log_file.write_text(f"run {n}\n" * 5)
        assert retention.rotate_log(log_file, max_bytes=10, backups=2)
    assert not log_file.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["autochart.log.1", "autochart.log.2"]
    assert (tmp_path / "autochart.log.1").read_text().startswith("run 4")
    assert (tmp_path / "autochart.log.2").read_text().startswith("run 3")
    log_file.write_text("small\n")
    assert not retention.rotate_log(log_file, max_bytes=10)

"""A real cron daemon runs the installed entry (``.ci/run`` installs and starts Debian's cron).

The test installs an entry for the next minute next to another team's job (BR-21), waits for cron
to fire it (at most about two and a half minutes), checks the run folder and the log line, then
removes the entry and checks the other job's lines are back byte for byte.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from autochart import cli, cron, schedule

from .schedule_helpers import (  # noqa: F401
    CASES,
    IN_CI,
    need,
    run_records,
    saved_crontab_fixture,
    write_params,
)

RUN_GRACE_S = 100  # cron fires within seconds of the minute; the sample run takes ~15 s


def cron_running() -> None:
    need("crontab")
    if not schedule.cron_daemon_running():
        if IN_CI:
            pytest.fail("no cron daemon is running: .ci/run must start it")
        pytest.skip("no cron daemon running here (.ci/run starts one)")


@pytest.mark.notebook
@pytest.mark.cron
def test_cron_fires_the_installed_entry_and_remove_keeps_other_lines(tmp_path, saved_crontab):
    cron_running()
    existing = (CASES / "BR-21" / "existing_crontab.txt").read_text()
    schedule.write_crontab(existing)
    now = dt.datetime.now(cron.machine_timezone())
    fire_at = (now + dt.timedelta(minutes=2 if now.second > 45 else 1)).replace(second=0, microsecond=0)
    params = write_params(tmp_path, schedule=f"{fire_at.minute} {fire_at.hour} * * *")
    assert cli.main(["schedule", "install", "--params", str(params)]) == 0
    assert schedule.read_crontab().startswith(existing)

    deadline = fire_at.timestamp() + RUN_GRACE_S
    records = []
    while time.time() < deadline:
        records = run_records(tmp_path / "out")
        if records and records[-1]["status"] != "running":
            break
        time.sleep(2)
    log_file = tmp_path / "out" / "logs" / "autochart.log"
    log_text = log_file.read_text() if log_file.exists() else "(no log file)"
    assert records, f"cron did not start the run by {fire_at:%H:%M} + {RUN_GRACE_S}s: {log_text}"
    assert [r["status"] for r in records] == ["success"], log_text
    started = dt.datetime.fromisoformat(records[0]["started_at"])
    assert started >= fire_at
    assert f"run {records[0]['run_id']} success" in log_text

    assert cli.main(["schedule", "remove", "--params", str(params)]) == 0
    assert schedule.read_crontab() == existing

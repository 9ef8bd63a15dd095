"""The schedule: cron expressions, the crontab merge (BR-21), the installed command under cron's
environment, systemd units. Crontab tests use the real ``crontab`` and restore it afterwards."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from autochart import cli, config, cron, schedule
from autochart.exceptions import ParameterError, SetupError

from .schedule_helpers import CASES, run_records, saved_crontab_fixture, write_params  # noqa: F401

BR21 = CASES / "BR-21"


# --- cron expressions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression", ["0 7 * * *", "00 7 * * 7", "*/15 9-17 * * mon-fri", "30 6 1,15 jan-mar *", "0 22 * * 0-4"]
)
def test_valid_cron_expressions_pass(expression):
    assert cron.check(expression) == " ".join(expression.split())


@pytest.mark.parametrize(
    ("expression", "named"),
    [
        ("61 7 * * *", "minute '61' is out of range 0-59"),
        ("0 24 * * *", "hour '24' is out of range 0-23"),
        ("0 7 * *", "has 4 field(s)"),
        ("0 0 7 * * *", "has 6 field(s)"),
        ("0 7 L * *", "day of month 'L'"),
        ("0 7 * * 5#2", "day of week '5#2' is not understood"),
        ("0 7 * * fri-mon", "runs backwards"),
        ("*/0 * * * *", "step of 0"),
        ("0 7 * foo *", "month 'foo'"),
    ],
)
def test_bad_cron_expression_is_named_with_an_example(expression, named):
    with pytest.raises(ValueError) as info:
        cron.check(expression)
    assert named in str(info.value)
    assert "e.g. '0 7 * * 1-5'" in str(info.value)


@pytest.mark.parametrize("expression", ["0 7 31 2 *", "0 7 30 2 *", "0 7 31 4,6,9,11 *"])
def test_a_schedule_no_date_matches_is_refused(expression):
    with pytest.raises(ValueError, match="never runs: no date matches it"):
        cron.check(expression)
    assert cron.check("0 7 29 2 *") == "0 7 29 2 *"  # leap days do come


def test_an_impossible_schedule_writes_no_units(tmp_path, capsys):
    params = write_params(tmp_path, schedule="0 7 31 2 *")
    units = tmp_path / "units"
    argv = ["schedule", "install", "--systemd", "--unit-dir", str(units), "--params", str(params)]
    assert cli.main(argv) == 2
    assert "never runs" in capsys.readouterr().err
    assert not units.exists() or not any(units.iterdir())


def test_bad_schedule_in_params_exits_2_before_touching_the_crontab(tmp_path, saved_crontab, capsys):
    params = write_params(tmp_path, schedule="0 25 * * *")
    assert cli.main(["schedule", "install", "--params", str(params)]) == 2
    assert "hour '25' is out of range 0-23" in capsys.readouterr().err
    assert schedule.read_crontab() == saved_crontab


def test_unknown_timezone_is_refused():
    with pytest.raises(ParameterError, match="schedule_timezone 'Mars/Olympus'"):
        config.validate({"schedule_timezone": "Mars/Olympus"})


def test_next_runs_follow_the_timezone_across_dst():
    after = dt.datetime(2026, 3, 27, 12, 0, tzinfo=dt.timezone.utc)  # Berlin: DST from 29 March
    runs = cron.next_runs("0 7 * * *", 3, "Europe/Berlin", after=after)
    assert [r.astimezone(dt.timezone.utc).hour for r in runs] == [6, 5, 5]  # 28th, 29th, 30th
    assert all(r.hour == 7 for r in runs)


def test_next_runs_use_cron_day_rules():
    after = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone.utc)  # a Thursday
    # both day fields restricted: either matches (the 5th, or a Monday)
    either = cron.next_runs("0 7 5 * 1", 3, "UTC", after=after)
    assert [r.day for r in either] == [5, 7, 14]
    # a day field starting with * : both must match (odd days that are Mondays)
    both = cron.next_runs("0 7 */2 * 1", 2, "UTC", after=after)
    assert [(r.day, r.weekday()) for r in both] == [(7, 0), (21, 0)]


# --- BR-21: merging into the crontab -----------------------------------------------------------


def br21_job(tmp_path) -> schedule.Job:
    """The tutorial's schedule from BR-21's job.cron, as an autochart job."""
    expression = " ".join((BR21 / "job.cron").read_text().split()[:5])
    params = config.validate({"schedule": expression, "output_dir": str(tmp_path / "out")})
    return schedule.Job.from_params(tmp_path / "params.yaml", params)


def test_br21_merge_keeps_the_other_job_and_installs_once(tmp_path):
    existing = (BR21 / "existing_crontab.txt").read_text()
    expected = json.loads((BR21 / "expected.json").read_text())
    job = br21_job(tmp_path)
    once = schedule.merged(existing, job)
    twice = schedule.merged(once, job)
    for needle in expected["after_install_lines_present"]:
        assert needle in twice
    ours = [line for line in twice.splitlines() if "run_notebook.py" in line]
    assert len(ours) == expected["after_second_install_run_notebook_lines"]
    assert twice.startswith(existing)  # the other lines, byte for byte, in place
    rest, removed = schedule.split_crontab(twice, job.params_file)
    assert rest == existing and len(removed) == 4


def test_br21_with_the_real_crontab(tmp_path, saved_crontab, capsys):
    existing = (BR21 / "existing_crontab.txt").read_text()
    expected = json.loads((BR21 / "expected.json").read_text())
    expression = " ".join((BR21 / "job.cron").read_text().split()[:5])
    params = write_params(tmp_path, schedule=expression)
    schedule.write_crontab(existing)
    for _ in range(2):
        assert cli.main(["schedule", "install", "--params", str(params)]) == 0
    installed = schedule.read_crontab()
    for needle in expected["after_install_lines_present"]:
        assert needle in installed
    assert (
        sum("run_notebook.py" in line for line in installed.splitlines())
        == expected["after_second_install_run_notebook_lines"]
    )
    assert installed.startswith(existing)

    capsys.readouterr()
    assert cli.main(["schedule", "show", "--params", str(params)]) == 0
    shown = capsys.readouterr().out
    line = next(x for x in installed.splitlines() if "run_notebook.py" in x)
    assert line in shown
    assert len(re.findall(r"^  (Sun) \d{4}-\d\d-\d\d 07:00 ", shown, re.MULTILINE)) == 3

    assert cli.main(["schedule", "remove", "--params", str(params)]) == 0
    assert schedule.read_crontab() == existing
    assert cli.main(["schedule", "show", "--params", str(params)]) == 8


def test_install_points_at_an_older_unmarked_copy_of_the_job(tmp_path, saved_crontab, capsys):
    tutorial = (BR21 / "job.cron").read_text()
    schedule.write_crontab(tutorial)
    assert cli.main(["schedule", "install", "--params", str(write_params(tmp_path))]) == 0
    assert f"delete it with `crontab -e`: {tutorial.strip()}" in capsys.readouterr().out
    assert schedule.read_crontab().startswith(tutorial)  # reported, never removed


def test_unwritable_output_dir_is_a_setup_error_not_a_crash(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    params = write_params(tmp_path, output_dir=str(blocker / "out"))
    assert cli.main(["run", "--params", str(params)]) == 8
    assert "cannot open the run lock" in capsys.readouterr().err


def test_other_params_files_keep_their_own_entries(tmp_path):
    a = br21_job(tmp_path / "a")
    b = br21_job(tmp_path / "b")
    both = schedule.merged(schedule.merged("", a), b)
    assert schedule.installed_entry(both, a.params_file)[0] == schedule.cron_line(a)
    rest, _ = schedule.split_crontab(both, a.params_file)
    assert schedule.installed_entry(rest, b.params_file)[0] == schedule.cron_line(b)
    assert schedule.installed_entry(rest, a.params_file) == (None, None)


def test_crontab_without_final_newline_is_not_joined(tmp_path):
    job = br21_job(tmp_path)
    text = schedule.merged("15 2 * * * /bin/true", job)
    assert text.splitlines()[0] == "15 2 * * * /bin/true"
    assert schedule.split_crontab(text, job.params_file)[0] == "15 2 * * * /bin/true\n"


def test_a_begin_marker_without_end_is_refused_not_guessed(tmp_path):
    job = br21_job(tmp_path)
    broken = schedule.merged("15 2 * * * /bin/true\n", job).replace(
        schedule.end_marker(job.params_file) + "\n", ""
    )
    with pytest.raises(SetupError, match="no '# autochart end"):
        schedule.merged(broken, job)


def test_percent_in_a_path_is_escaped_for_cron(tmp_path):
    folder = tmp_path / "100%"
    job = br21_job(folder)
    assert "100\\%" in schedule.cron_line(job)
    assert "100%" in job.command() and "\\%" not in job.command()


def test_timezone_with_a_cron_without_cron_tz_exits_2(tmp_path, saved_crontab, capsys):
    if schedule.supports_cron_tz():
        pytest.skip("this cron (cronie) supports CRON_TZ")
    params = write_params(tmp_path, schedule_timezone="America/New_York")
    assert cli.main(["schedule", "install", "--params", str(params)]) == 2
    assert "use `schedule install --systemd`" in capsys.readouterr().err
    assert schedule.read_crontab() == saved_crontab


def test_cron_tz_line_goes_inside_our_block(tmp_path):
    params = config.validate({"schedule_timezone": "America/New_York"})
    job = schedule.Job.from_params(tmp_path / "params.yaml", params)
    block = schedule.cron_block(job, cron_tz=True)
    assert block.splitlines()[2] == "CRON_TZ=America/New_York"
    assert schedule.installed_entry(block, job.params_file) == (schedule.cron_line(job), "America/New_York")


# --- the installed command under cron's environment ---------------------------------------------


def installed_command(params_file: Path) -> str:
    """The command part of the installed line, as cron hands it to /bin/sh."""
    line, _ = schedule.installed_entry(schedule.read_crontab(), params_file.resolve())
    assert line is not None
    return line.split(None, 5)[5].replace("\\%", "%")


@pytest.mark.notebook
def test_installed_line_runs_under_crons_environment(tmp_path, saved_crontab):
    params = write_params(tmp_path)
    assert cli.main(["schedule", "install", "--params", str(params)]) == 0
    command = installed_command(params)
    for absolute in ("/.venv/bin/python ", "/run_notebook.py ", f"--params {params}", "cd /"):
        assert absolute in command
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    done = subprocess.run(
        ["env", "-i", "PATH=/usr/bin:/bin", f"HOME={home}", "SHELL=/bin/sh", "sh", "-c", command],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == done.stderr == ""  # everything went to the log
    records = run_records(tmp_path / "out")
    assert [r["status"] for r in records] == ["success"]
    log_text = (tmp_path / "out" / "logs" / "autochart.log").read_text()
    assert f"run {records[0]['run_id']} success" in log_text
    assert not list(elsewhere.iterdir())  # nothing written where cron happened to start


# --- systemd -------------------------------------------------------------------------------------


def test_systemd_units_install_verify_and_remove(tmp_path, capsys):
    params = write_params(tmp_path, schedule="*/15 9-17 * * 1-5")
    units = tmp_path / "units"
    args = ["--systemd", "--unit-dir", str(units), "--params", str(params)]
    assert cli.main(["schedule", "install", *args]) == 0
    service, timer = units / "autochart.service", units / "autochart.timer"
    timer_text = timer.read_text()
    assert "Persistent=true" in timer_text.splitlines()
    assert "OnCalendar=Mon,Tue,Wed,Thu,Fri *-*-* 09,10,11,12,13,14,15,16,17:00,15,30,45:00" in timer_text
    exec_start = next(x for x in service.read_text().splitlines() if x.startswith("ExecStart="))
    assert exec_start.endswith(f"/run_notebook.py run --params {params}")
    verify_or_parse(service, timer)
    assert cli.main(["schedule", "show", *args]) == 0
    assert "OnCalendar=" in capsys.readouterr().out
    assert cli.main(["schedule", "remove", *args]) == 0
    assert not service.exists() and not timer.exists()
    assert cli.main(["schedule", "show", *args]) == 8


def verify_or_parse(service: Path, timer: Path) -> None:
    if shutil.which("systemd-analyze"):
        done = subprocess.run(
            ["systemd-analyze", "verify", str(service), str(timer)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0 and not done.stderr.strip(), done.stderr
        return
    import configparser

    for path, section, key in ((service, "Service", "ExecStart"), (timer, "Timer", "OnCalendar")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read(path)
        assert parser.get(section, key)


@pytest.mark.parametrize(
    "expression", ["0 7 * * *", "00 7 * * 7", "*/20 9-17 * * mon-fri", "0 7 5 * 1", "30 6 * jan-mar sun"]
)
@pytest.mark.parametrize("timezone", [None, "America/New_York"])
def test_oncalendar_fires_when_cron_would(expression, timezone):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    specs = cron.to_oncalendar(expression, timezone)
    expected = [t.astimezone(dt.timezone.utc) for t in cron.next_runs(expression, 3, timezone)]
    found = set()
    for spec in specs:
        done = subprocess.run(
            ["systemd-analyze", "calendar", "--iterations=3", spec],
            capture_output=True,
            text=True,
            check=True,
            env={"TZ": "UTC"},
        )
        for stamp in re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", done.stdout):
            found.add(dt.datetime.fromisoformat(stamp).replace(tzinfo=dt.timezone.utc))
    assert sorted(found)[:3] == expected


def test_autochart_console_script_has_the_same_verbs(tmp_path, saved_crontab):
    import sys

    script = Path(sys.executable).parent / "autochart"
    if not script.exists():
        pytest.skip("the package is not installed with its console script")
    params = write_params(tmp_path)
    shown = subprocess.run(
        [str(script), "schedule", "show", "--params", str(params)], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 8
    assert f"for {params}" in shown.stdout and "no autochart entry in the crontab of" in shown.stdout
    bad = subprocess.run(
        [str(script), "schedule", "install", "--systemd", "--name", "a/b", "--params", str(params)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--name 'a/b'" in bad.stderr

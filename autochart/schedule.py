"""Run autochart unattended: install, show and remove a crontab entry or a systemd timer.

The crontab entry is one marked block, merged into the user's crontab through ``crontab -``:
every other line is kept byte for byte, installing again replaces the block (so there is exactly
one), and ``remove`` takes out only the block for this params file::

    # autochart begin /srv/autochart/params.yaml
    # managed by autochart: edit params.yaml, then run `schedule install` again
    0 7 * * * cd /srv/autochart && mkdir -p /srv/autochart/outputs/logs && \
/srv/autochart/.venv/bin/python /srv/autochart/run_notebook.py run --params \
/srv/autochart/params.yaml >> /srv/autochart/outputs/logs/autochart.log 2>&1
    # autochart end /srv/autochart/params.yaml

Everything in the command is absolute: cron starts jobs with ``PATH=/usr/bin:/bin`` in the home
folder, where a bare ``python3`` is the wrong interpreter and relative paths point elsewhere.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import cron
from .exceptions import ParameterError, SetupError
from .paths import PROJECT_ROOT, PROJECT_VENV, RUNNER_SCRIPT, schedule_log

log = logging.getLogger(__name__)

CRONTAB = "crontab"
SYSTEMCTL = "systemctl"
DEFAULT_UNIT = "autochart"
MANAGED_NOTE = "# managed by autochart: edit params.yaml, then run `schedule install` again"


# --- the job: what runs, from where, logging where --------------------------------------------


@dataclass(frozen=True)
class Job:
    params_file: Path
    schedule: str
    timezone: str | None
    output_dir: Path
    python: Path

    @classmethod
    def from_params(cls, params_file: Path, params, python: Path | None = None) -> Job:
        return cls(
            Path(params_file).resolve(),
            params.schedule,
            params.schedule_timezone,
            Path(params.output_dir),
            Path(python or project_python()),
        )

    @property
    def log_file(self) -> Path:
        return schedule_log(self.output_dir)

    def argv(self) -> list[str]:
        return [str(self.python), str(RUNNER_SCRIPT), "run", "--params", str(self.params_file)]

    def command(self) -> str:
        """The shell command, as ``/bin/sh`` gets it: cd, make the log folder, run, append."""
        q = shlex.quote
        return (
            f"cd {q(str(PROJECT_ROOT))} && mkdir -p {q(str(self.log_file.parent))} && "
            f"{shlex.join(self.argv())} >> {q(str(self.log_file))} 2>&1"
        )


def project_python() -> Path:
    """The interpreter scheduled runs use: this one when it is a venv's, else the project's
    ``.venv``, else this one anyway (``doctor`` then warns that it is not a venv)."""
    if sys.prefix != sys.base_prefix:
        return Path(sys.executable).absolute()
    venv_python = PROJECT_VENV / "bin" / "python"
    return venv_python if venv_python.exists() else Path(sys.executable).absolute()


# --- crontab text: pure functions ----------------------------------------------------------------


def begin_marker(params_file: Path) -> str:
    return f"# autochart begin {params_file}"


def end_marker(params_file: Path) -> str:
    return f"# autochart end {params_file}"


def cron_line(job: Job) -> str:
    """The crontab line (cron reads an unescaped ``%`` as a newline, so it is escaped)."""
    return f"{job.schedule} {job.command().replace('%', chr(92) + '%')}"


def cron_block(job: Job, cron_tz: bool = False) -> str:
    lines = [begin_marker(job.params_file), MANAGED_NOTE]
    if cron_tz and job.timezone:
        lines.append(f"CRON_TZ={job.timezone}")
    lines += [cron_line(job), end_marker(job.params_file)]
    return "\n".join(lines) + "\n"


def split_crontab(text: str, params_file: Path) -> tuple[str, list[str]]:
    """(the crontab without our blocks, byte for byte; the lines of our blocks)."""
    begin, end = begin_marker(params_file), end_marker(params_file)
    kept, ours, inside, begun_at = [], [], False, 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        bare = line.rstrip("\r\n")
        if not inside and bare == begin:
            inside, begun_at = True, number
        if inside:
            ours.append(bare)
            inside = bare != end
        else:
            kept.append(line)
    if inside:
        raise SetupError(
            f"the crontab has '{begin}' on line {begun_at} but no '{end}' after it, "
            f"so autochart cannot tell its lines from yours: fix it with `crontab -e` "
            f"(delete the autochart lines), then install again"
        )
    return "".join(kept), ours


def merged(text: str, job: Job, cron_tz: bool = False) -> str:
    """The crontab with our block (re)placed at the end; other lines untouched."""
    rest, _ = split_crontab(text, job.params_file)
    if rest and not rest.endswith("\n"):
        rest += "\n"  # cron ignores a last line without a newline; ours must not join it
    return rest + cron_block(job, cron_tz)


def installed_entry(text: str, params_file: Path) -> tuple[str | None, str | None]:
    """(the installed job line, its CRON_TZ) from our block, or (None, None)."""
    _, ours = split_crontab(text, params_file)
    body = [line for line in ours if line.strip() and not line.lstrip().startswith("#")]
    zone = next((line.split("=", 1)[1].strip() for line in body if line.startswith("CRON_TZ=")), None)
    job_lines = [line for line in body if not line.startswith("CRON_TZ=")]
    return (job_lines[0] if job_lines else None), zone


# --- the crontab command ------------------------------------------------------------------------


def read_crontab(crontab: str = CRONTAB) -> str:
    """The current user's crontab text ("" when there is none)."""
    result = _crontab([crontab, "-l"])
    if result.returncode == 0:
        return result.stdout
    if "no crontab" in result.stderr.lower():
        return ""
    raise SetupError(f"`{crontab} -l` failed: {result.stderr.strip()}")


def write_crontab(text: str, crontab: str = CRONTAB) -> None:
    result = _crontab([crontab, "-"], text)
    if result.returncode != 0:
        raise SetupError(
            f"`{crontab} -` refused the new crontab (the old one is unchanged): {result.stderr.strip()}"
        )


def _crontab(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    if shutil.which(argv[0]) is None:
        raise SetupError(
            f"`{argv[0]}` is not installed: install a cron daemon (Debian/Ubuntu: "
            f"sudo apt-get install cron; Amazon Linux/RHEL: sudo dnf install cronie "
            f"&& sudo systemctl enable --now crond), or use `schedule install "
            f"--systemd`"
        )
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)


def supports_cron_tz(crontab: str = CRONTAB) -> bool:
    """cronie reads ``CRON_TZ``; Debian's (Vixie) cron does not."""
    try:
        result = subprocess.run([crontab, "-V"], capture_output=True, text=True, check=False)
    except OSError:
        return False
    return "cronie" in (result.stdout + result.stderr).lower()


def cron_daemon_running(proc: Path = Path("/proc")) -> bool:
    """True if a process named ``cron`` or ``crond`` runs on this machine."""
    for comm in proc.glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in ("cron", "crond"):
                return True
        except OSError:
            continue
    return False


def same_zone(name: str, other: dt.tzinfo, now: dt.datetime | None = None) -> bool:
    """True if zone ``name`` keeps the same clock as ``other`` (checked across a year)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    zone = cron.zone(name)
    return all(
        (now + dt.timedelta(days=d)).astimezone(zone).utcoffset()
        == (now + dt.timedelta(days=d)).astimezone(other).utcoffset()
        for d in range(0, 366, 30)
    )


# --- crontab target ----------------------------------------------------------------------------


class CrontabTarget:
    """The current user's crontab (the default target)."""

    def __init__(self, crontab: str = CRONTAB):
        self.crontab = crontab

    def install(self, job: Job) -> list[str]:
        cron_tz = self._needs_cron_tz(job)
        text = read_crontab(self.crontab)
        job.log_file.parent.mkdir(parents=True, exist_ok=True)
        write_crontab(merged(text, job, cron_tz), self.crontab)
        log.info("installed the crontab entry for %s", job.params_file)
        report = [f"installed in the crontab of {_user()}:", f"  {cron_line(job)}", f"log: {job.log_file}"]
        report += next_runs_report(job.schedule, job.timezone)
        report += [
            f"note: this line of your crontab also runs the runner; if it is an older "
            f"copy of this job, delete it with `crontab -e`: {line}"
            for line in other_runner_lines(text, job.params_file)
        ]
        if not cron_daemon_running():
            report.append(
                "warning: no cron daemon is running, so nothing will run: start it "
                "(Debian/Ubuntu: sudo systemctl enable --now cron)"
            )
        return report

    def _needs_cron_tz(self, job: Job) -> bool:
        if not job.timezone or same_zone(job.timezone, cron.machine_timezone()):
            return False
        if supports_cron_tz(self.crontab):
            return True
        raise ParameterError(
            [
                f"schedule_timezone {job.timezone!r}: this machine's cron cannot run a job in another "
                f"time zone than its clock ({cron.machine_timezone()}); write the schedule in the "
                f"machine's time and set schedule_timezone: null, or use `schedule install --systemd`"
            ],
            source=str(job.params_file),
        )

    def show(self, job: Job) -> tuple[bool, list[str]]:
        line, zone = installed_entry(read_crontab(self.crontab), job.params_file)
        if line is None:
            return False, [
                f"no autochart entry in the crontab of {_user()} for {job.params_file}",
                "install it with: python run_notebook.py schedule install",
            ]
        report = [f"installed in the crontab of {_user()}:", f"  {line}"]
        if line != cron_line(job):
            report.append(
                "note: this differs from what `schedule install` writes now (params or "
                "paths changed): run `schedule install` again to update it"
            )
        return True, report + next_runs_report(" ".join(line.split()[:5]), zone or job.timezone)

    def remove(self, params_file: Path) -> list[str]:
        text = read_crontab(self.crontab)
        rest, ours = split_crontab(text, params_file)
        if not ours:
            return [f"no autochart entry in the crontab of {_user()} for {params_file}: nothing to remove"]
        write_crontab(rest, self.crontab)
        log.info("removed the crontab entry for %s", params_file)
        return [f"removed from the crontab of {_user()}:"] + [f"  {line}" for line in ours]


def other_runner_lines(text: str, params_file: Path) -> list[str]:
    """Active lines outside our block that run a ``run_notebook.py`` (say, the tutorial's)."""
    rest, _ = split_crontab(text, params_file)
    return [
        line for line in rest.splitlines() if "run_notebook.py" in line and not line.lstrip().startswith("#")
    ]


def next_runs_report(expression: str, timezone: str | None) -> list[str]:
    zone = timezone or str(cron.machine_timezone())
    lines = [f"next runs ({expression!r}, {zone}):"]
    for when in cron.next_runs(expression, 3, timezone):
        utc = when.astimezone(dt.timezone.utc)
        also = "" if when.utcoffset() == dt.timedelta(0) else f"  ({utc:%Y-%m-%d %H:%M} UTC)"
        lines.append(f"  {when:%a %Y-%m-%d %H:%M %Z}{also}")
    return lines


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


# --- systemd target -----------------------------------------------------------------------------


def default_unit_dir() -> Path:
    """System units for root, user units (``systemctl --user``) for everyone else."""
    if os.getuid() == 0:
        return Path("/etc/systemd/system")
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user"


def systemd_quote(word: str) -> str:
    """One word of a systemd command line: ``%`` and ``$`` escaped, quoted if needed."""
    word = word.replace("%", "%%").replace("$", "$$")
    if word and not any(c.isspace() or c in "\"'\\;" for c in word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_files(job: Job, name: str = DEFAULT_UNIT) -> dict[str, str]:
    """``{file name: text}`` for the service and its timer."""
    logfile = str(job.log_file).replace("%", "%%")
    params_file = str(job.params_file).replace("%", "%%")
    service = f"""[Unit]
Description=autochart: run the stock dashboard notebook once ({params_file})
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
WorkingDirectory={str(PROJECT_ROOT).replace("%", "%%")}
ExecStart={" ".join(systemd_quote(word) for word in job.argv())}
StandardOutput=append:{logfile}
StandardError=append:{logfile}
"""
    calendar = "\n".join(f"OnCalendar={spec}" for spec in cron.to_oncalendar(job.schedule, job.timezone))
    timer = f"""[Unit]
Description=autochart schedule {job.schedule!r} ({job.timezone or "machine clock"})

[Timer]
{calendar}
Persistent=true
Unit={name}.service

[Install]
WantedBy=timers.target
"""
    return {f"{name}.service": service, f"{name}.timer": timer}


class SystemdTarget:
    """A service + timer. With ``unit_dir`` given, only the files are written (no systemctl)."""

    def __init__(self, unit_dir: Path | None = None, name: str = DEFAULT_UNIT, systemctl: str = SYSTEMCTL):
        if not re.fullmatch(r"[A-Za-z0-9_.@-]+", name):
            raise ParameterError(
                [f"--name {name!r}: a unit name is letters, digits and _ . @ -"], source="command line"
            )
        self.manage = unit_dir is None
        self.unit_dir = Path(unit_dir) if unit_dir else default_unit_dir()
        self.name = name
        self.systemctl = systemctl

    def install(self, job: Job) -> list[str]:
        job.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.unit_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for file_name, text in unit_files(job, self.name).items():
            path = self.unit_dir / file_name
            tmp = path.with_name(f".{file_name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
            written.append(path)
        report = ["wrote " + ", ".join(map(str, written)), f"log: {job.log_file}"]
        enable = [["daemon-reload"], ["enable", "--now", f"{self.name}.timer"]]
        try:
            report += self._systemctl(enable, written)
        except SetupError as exc:
            for path in written:  # leave nothing half-installed
                path.unlink(missing_ok=True)
            raise SetupError(f"{exc} (the unit files were removed again)") from None
        return report + next_runs_report(job.schedule, job.timezone)

    def show(self, job: Job) -> tuple[bool, list[str]]:
        timer = self.unit_dir / f"{self.name}.timer"
        if not timer.is_file():
            return False, [f"no {timer}: install it with `python run_notebook.py schedule install --systemd`"]
        report = [f"{timer}:"] + [
            f"  {line}"
            for line in timer.read_text().splitlines()
            if line.startswith(("OnCalendar=", "Persistent="))
        ]
        service = self.unit_dir / f"{self.name}.service"
        if service.is_file():
            report += [f"{service}:"] + [
                f"  {line}" for line in service.read_text().splitlines() if line.startswith("ExecStart=")
            ]
        if unit_files(job, self.name)[timer.name] != timer.read_text():
            report.append("note: this differs from what `schedule install --systemd` writes now")
        return True, report + next_runs_report(job.schedule, job.timezone)

    def remove(self, params_file: Path) -> list[str]:
        units = [self.unit_dir / f"{self.name}.timer", self.unit_dir / f"{self.name}.service"]
        present = [path for path in units if path.exists()]
        if not present:
            return [f"no {self.name} units in {self.unit_dir}: nothing to remove"]
        report = self._systemctl([["disable", "--now", f"{self.name}.timer"]], present, strict=False)
        for path in present:
            path.unlink()
        report.append("removed " + ", ".join(map(str, present)))
        return report + self._systemctl([["daemon-reload"]], present, strict=False)

    def _systemctl(self, commands: list[list[str]], files: list[Path], strict: bool = True) -> list[str]:
        scope = [] if os.getuid() == 0 else ["--user"]
        argvs = [[self.systemctl, *scope, *command] for command in commands]
        if not self.manage:
            return ["not calling systemctl (--unit-dir given); to apply:"] + [
                "  " + shlex.join(argv) for argv in argvs
            ]
        for argv in argvs:
            try:
                result = subprocess.run(argv, capture_output=True, text=True, check=False)
            except OSError as exc:
                result = subprocess.CompletedProcess(argv, 127, "", str(exc))
            if result.returncode != 0 and not strict:
                return [f"warning: `{shlex.join(argv)}` failed: {result.stderr.strip()}"]
            if result.returncode != 0:
                raise SetupError(
                    f"`{shlex.join(argv)}` failed ({result.stderr.strip()}); files: "
                    f"{', '.join(map(str, files))}. Without a running systemd, use "
                    f"the crontab: `schedule install`"
                )
        return ["ran " + "; ".join(shlex.join(argv) for argv in argvs)]


TARGETS = {"cron": CrontabTarget, "systemd": SystemdTarget}

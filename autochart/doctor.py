"""``run_notebook.py doctor``: check that an unattended run can work on this machine.

Each check reports ok, warn or FAIL with what it saw and, when not ok, the command or edit that
fixes it. Any FAIL makes ``doctor`` exit non-zero. Secret values are never shown: only whether
the variable is set.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from . import config, cron, lock, schedule
from .exceptions import AutochartError
from .paths import ENV_FILE, NOTEBOOK, PROJECT_ROOT, lock_file

MIN_PYTHON = (3, 10)
DISK_FAIL_BYTES = 200 * 1024**2
DISK_WARN_BYTES = 1024**3
INSTALL_FIX = f"cd {PROJECT_ROOT} && make run   (creates .venv and installs the package)"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


@dataclass
class Context:
    params_file: Path
    params: config.Params | None = None
    params_problem: str = ""


def ok(name, detail):
    return Check(name, "ok", detail)


def warn(name, detail, fix):
    return Check(name, "warn", detail, fix)


def fail(name, detail, fix):
    return Check(name, "fail", detail, fix)


# --- the checks ------------------------------------------------------------------------------


def check_python(ctx: Context) -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < MIN_PYTHON:
        return fail("python", f"{sys.executable} is Python {version}; autochart needs 3.10+", INSTALL_FIX)
    if sys.prefix == sys.base_prefix:
        return warn(
            "python",
            f"{sys.executable} ({version}) is not a virtual environment",
            f"{INSTALL_FIX}, then use .venv/bin/python run_notebook.py",
        )
    return ok("python", f"{sys.executable} ({version}), venv {sys.prefix}")


def check_packages(ctx: Context) -> Check:
    from packaging.requirements import Requirement

    try:
        wanted = [Requirement(r) for r in metadata.requires("autochart") or []]
    except metadata.PackageNotFoundError:
        return fail("packages", "autochart is not installed in this interpreter", INSTALL_FIX)
    wanted = [r for r in wanted if r.marker is None or r.marker.evaluate({"extra": ""})]
    problems = []  # (extras such as test and lab were left out just above)
    for req in wanted:
        try:
            found = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{req.name} missing")
            continue
        if req.specifier and not req.specifier.contains(found, prereleases=True):
            problems.append(f"{req.name} {found} (needs {req.specifier})")
    if problems:
        return fail("packages", "; ".join(problems), f"{sys.executable} -m pip install -e {PROJECT_ROOT}")
    return ok("packages", f"all {len(wanted)} requirements of autochart installed")


def check_kernel(ctx: Context) -> Check:
    missing = [m for m in ("ipykernel", "jupyter_client", "papermill") if importlib.util.find_spec(m) is None]
    if missing:
        return fail(
            "kernel",
            f"{', '.join(missing)} not importable by {sys.executable}",
            f"{sys.executable} -m pip install -e {PROJECT_ROOT}",
        )
    return ok(
        "kernel",
        f"ipykernel {metadata.version('ipykernel')} importable; each run writes "
        f"its own kernelspec for {sys.executable}",
    )


def check_notebook(ctx: Context) -> Check:
    try:
        config.check_notebook(NOTEBOOK)
    except (AutochartError, OSError, ValueError) as exc:
        return fail("notebook", f"{NOTEBOOK}: {exc}", "git checkout notebooks/ (or make notebook)")
    return ok("notebook", f"{NOTEBOOK.name} declares every parameter")


def check_params(ctx: Context) -> Check:
    if ctx.params is None:
        return fail("params", ctx.params_problem, f"edit {ctx.params_file}")
    return ok(
        "params", f"{ctx.params_file} is valid (source {ctx.params.source}, schedule {ctx.params.schedule!r})"
    )


def check_credentials(ctx: Context) -> Check | None:
    if ctx.params is None:
        return None  # reported by check_params
    from .sources import key_variable

    names = [name for name in [key_variable(ctx.params.source)] if name]
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        return fail(
            "credentials",
            f"source {ctx.params.source} needs {', '.join(missing)}, which is not set",
            f"add the line {missing[0]}=... to {ENV_FILE} (chmod 600; git-ignored; "
            f"scheduled runs read it), or export it",
        )
    if ENV_FILE.is_file() and ENV_FILE.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return warn("credentials", f"{ENV_FILE} is readable by other users", f"chmod 600 {ENV_FILE}")
    if not names:
        return ok("credentials", f"source {ctx.params.source} needs none")
    return ok("credentials", f"{', '.join(names)} set (value not shown)")


def check_publish(ctx: Context) -> Check | None:
    if ctx.params is None:
        return None  # reported by check_params
    from . import publish

    target = publish.target_of(ctx.params)
    scheme = target.split("://", 1)[0] if "://" in target else "file"
    if scheme not in publish.PUBLISHERS:
        return fail(
            "publish",
            f"{target}: this version cannot publish to {scheme}:// (known: {', '.join(publish.PUBLISHERS)})",
            f"set publish in {ctx.params_file} to a folder or a supported target",
        )
    if scheme == "s3":
        return check_s3(ctx.params)
    folder = Path(target[len("file://") :] if target.startswith("file://") else target)
    problem = _not_writable(folder)
    if problem:
        return fail("publish", problem, f"create {folder} and make it writable by {_user()}")
    return ok("publish", f"{folder} is writable")


def check_s3(params, s3_client=None) -> Check:
    """The very check a run makes before its notebook (``s3.preflight``): same client settings
    (endpoint, region, timeouts), same credentials chain, same HeadBucket."""
    from . import s3
    from .exceptions import PublishError

    try:
        s3.preflight(params, s3_client)
    except PublishError as exc:
        return fail(
            "publish",
            str(exc),
            "fix what the message names; deploy/ec2/iam-policy.json lists the permissions a run needs",
        )
    return ok("publish", f"{params.publish}: the bucket answers to the credentials found")


def check_disk(ctx: Context) -> Check:
    output_dir = Path(ctx.params.output_dir if ctx.params else PROJECT_ROOT / "outputs")
    problem = _not_writable(output_dir)
    if problem:
        return fail("disk", problem, f"create {output_dir} and make it writable by {_user()}")
    free = shutil.disk_usage(output_dir).free
    detail = f"{free / 1024**3:.1f} GiB free at {output_dir}"
    if free < DISK_FAIL_BYTES:
        return fail("disk", detail, "free space (lower keep_runs / keep_days in params.yaml)")
    if free < DISK_WARN_BYTES:
        return warn("disk", detail, "free space (lower keep_runs / keep_days in params.yaml)")
    return ok("disk", detail)


def check_schedule(ctx: Context) -> Check | None:
    if ctx.params is None:
        return None  # reported by check_params
    job = schedule.Job.from_params(ctx.params_file, ctx.params)
    timer = schedule.default_unit_dir() / f"{schedule.DEFAULT_UNIT}.timer"
    try:
        installed, report = schedule.CrontabTarget().show(job)
    except AutochartError as exc:
        installed, report = False, [str(exc)]
    if not installed:
        if timer.is_file():
            return ok("schedule", f"systemd timer {timer}")
        return warn("schedule", report[0], "python run_notebook.py schedule install")
    if not schedule.cron_daemon_running():
        return fail(
            "schedule",
            "crontab entry installed, but no cron daemon is running",
            "sudo systemctl enable --now cron   (Amazon Linux: crond)",
        )
    if any(line.startswith("note:") for line in report):
        return warn(
            "schedule",
            "crontab entry differs from what install writes now",
            "python run_notebook.py schedule install",
        )
    first = cron.next_runs(job.schedule, 1, job.timezone)[0]
    return ok("schedule", f"crontab entry {job.schedule!r}, next run {first:%Y-%m-%d %H:%M %Z}")


def check_lock(ctx: Context) -> Check | None:
    if ctx.params is None:
        return None  # reported by check_params
    path = lock_file(Path(ctx.params.output_dir))
    if lock.is_held(path):
        return ok("lock", f"a run is going now ({lock.holder(path)})")
    return ok("lock", "no run going now")


CHECKS: list[Callable[[Context], Check | None]] = [
    check_python,
    check_packages,
    check_kernel,
    check_notebook,
    check_params,
    check_credentials,
    check_publish,
    check_disk,
    check_schedule,
    check_lock,
]


# --- running and reporting ---------------------------------------------------------------------


def context(params_file: Path) -> Context:
    ctx = Context(Path(params_file).resolve())
    try:
        ctx.params = config.load(ctx.params_file)
    except AutochartError as exc:
        ctx.params_problem = str(exc)
    return ctx


def run_checks(params_file: Path, checks=None) -> list[Check]:
    ctx = context(params_file)
    results = []
    for check in checks or CHECKS:
        try:
            result = check(ctx)
        except Exception as exc:  # a crashing check is a failed check, not a crashed doctor
            name = check.__name__.removeprefix("check_")
            results.append(fail(name, f"the check itself failed: {type(exc).__name__}: {exc}", "report this"))
            continue
        if result is not None:
            results.append(result)
    return results


def failed(results: list[Check]) -> bool:
    return any(r.status == "fail" for r in results)


def render(results: list[Check]) -> str:
    lines = []
    for r in results:
        label = {"ok": "ok", "warn": "warn", "fail": "FAIL"}[r.status]
        detail = r.detail.replace("\n", "\n" + " " * 19)
        lines.append(f"{label:<5} {r.name:<12} {detail}")
        if r.fix:
            lines.append(f"{'':<5} {'':<12} fix: {r.fix}")
    verdict = "some checks FAILED" if failed(results) else "all checks passed"
    return "\n".join(lines + [verdict])


def _not_writable(folder: Path) -> str:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as exc:
        return f"{folder} is not writable: {exc}"
    return ""


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name

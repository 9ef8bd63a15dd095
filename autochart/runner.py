"""One run: a run folder, the notebook executed by papermill, ``run.json``, then publishing.

The notebook runs in a child process (``autochart.execute``) on a kernel bound to *this* Python:
the kernel name stored in the notebook may not exist under cron or in another venv, so each run
writes a throwaway kernelspec pointing at ``sys.executable`` and passes its name explicitly.
Publishing happens only after the notebook succeeded, so a failed run never replaces a good chart.
A run holds ``<output_dir>/run.lock`` from start to end (``lock``), so two runs never overlap, and
prunes old run folders when it is done (``retention``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from . import __version__, config, facts, lock, retention
from .exceptions import (
    EXIT_OK,
    AutochartError,
    NotebookError,
    RunTimeoutError,
    exit_code_for_ename,
)
from .paths import NOTEBOOK, PROJECT_ROOT, lock_file, runs_dir, schedule_log

log = logging.getLogger(__name__)

EXECUTED_NOTEBOOK = "stock_dashboard.ipynb"
EXECUTED_HTML = "stock_dashboard.html"
RUN_RECORD = "run.json"
RUN_LOG = "run.log"
KERNEL_NAME = "autochart-runner"
STOP_GRACE_SECONDS = 15
EXIT_INTERRUPTED = 130  # the shell's code for a run ended by a signal
VERSIONED_PACKAGES = (
    "papermill",
    "nbclient",
    "ipykernel",
    "pandas",
    "numpy",
    "matplotlib",
    "requests",
    "boto3",
)


@dataclass
class RunResult:
    run_dir: Path
    status: str  # success | failed | timeout
    exit_code: int
    message: str = ""
    record: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_run_dir(output_dir: Path, now: dt.datetime | None = None) -> Path:
    """``<output_dir>/runs/<YYYYmmddTHHMMSSZ>``, suffixed if two runs start in the same second."""
    stamp = (now or utc_now()).strftime("%Y%m%dT%H%M%SZ")
    parent = runs_dir(output_dir)
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        candidate = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise AutochartError(f"cannot make a run folder under {parent}")


def run(
    params: config.Params, *, publish: bool = True, notebook: Path = NOTEBOOK, publisher=None
) -> RunResult:
    """Execute the notebook for ``params`` into a new run folder and publish on success.

    The whole run holds the output folder's lock: a second run started meanwhile raises
    ``AlreadyRunningError`` before it makes a run folder. Old run folders are pruned afterwards.
    When publishing, the target is checked first (credentials, bucket); if that fails the
    notebook is not run, and the run folder holds only ``run.json`` and ``run.log`` saying why.
    """
    output_dir = Path(params.output_dir)
    with lock.hold(lock_file(output_dir)):
        retention.rotate_log(schedule_log(output_dir))
        result = _run_locked(params, publish, notebook, publisher)
        retention.prune(runs_dir(output_dir), params.keep_runs, params.keep_days, protect=(result.run_dir,))
    return result


def _run_locked(params, publish, notebook, publisher) -> RunResult:
    config.check_notebook(notebook)
    run_dir = new_run_dir(Path(params.output_dir))
    record = _initial_record(run_dir, params, notebook)
    _write_record(run_dir, record)
    with _run_log(run_dir):
        log.info("run %s started: %s from %s", run_dir.name, ", ".join(params.tickers), params.source)
        result = (_preflight(run_dir, params, record) if publish else None) or _execute_and_publish(
            run_dir, params, notebook, record, publish, publisher
        )
        log.info(
            "run %s %s in %.1fs (exit code %d)%s",
            run_dir.name,
            result.status,
            record["duration_s"],
            result.exit_code,
            f": {result.message}" if result.message else "",
        )
    return result


def _execute_and_publish(run_dir, params, notebook, record, publish, publisher) -> RunResult:
    started = time.monotonic()
    try:
        outcome = execute_notebook(notebook, run_dir, params)
    except KeyboardInterrupt:
        outcome = {"status": "interrupted"}
    record["timings"] = {"notebook_s": round(time.monotonic() - started, 3)}
    export_html(run_dir)
    record["data"] = facts.read(run_dir)
    for warning in record["data"].get("fetch", {}).get("warnings", []):
        log.warning("data: %s", warning)  # stale prices, jumps, left-out tickers: into run.log
    record["outputs"] = sorted(p.name for p in run_dir.iterdir() if not p.name.startswith("."))
    status, exit_code, message, error = _judge(outcome, run_dir)
    if exit_code == EXIT_OK and publish:
        status, exit_code, message, error = _publish(run_dir, params, record, publisher)
    elif exit_code == EXIT_OK:
        log.info("not published (--no-publish)")
    record.update(status=status, exit_code=exit_code, error=error)
    _finish(record, started)
    _write_record(run_dir, record)
    return RunResult(run_dir, status, exit_code, message, record)


def _preflight(run_dir, params, record) -> RunResult | None:
    """Check the publish target before the notebook runs; a failed check ends the run here."""
    from . import publish as publishing

    started = time.monotonic()
    try:
        publishing.preflight(params)
    except AutochartError as exc:
        log.error("the publish target check failed, so the notebook was not run")
        error = {"kind": "publish", "stage": "preflight", "message": str(exc)}
        record.update(status="failed", exit_code=exc.exit_code, error=error, published=None, timings={})
        _finish(record, started)
        _write_record(run_dir, record)
        return RunResult(run_dir, "failed", exc.exit_code, str(exc), record)
    return None


def _publish(run_dir, params, record, publisher):
    from . import publish as publishing

    started = time.monotonic()
    try:
        record["published"] = (publisher or publishing.publish)(run_dir, params, record)
    except AutochartError as exc:
        log.error("publish failed: %s", exc)
        return "failed", exc.exit_code, str(exc), {"kind": "publish", "message": str(exc)}
    record["timings"]["publish_s"] = round(time.monotonic() - started, 3)
    return "success", EXIT_OK, "", None


def _judge(outcome: dict, run_dir: Path):
    """(status, exit code, message, error record) from the child's outcome."""
    notebook = run_dir / EXECUTED_NOTEBOOK
    kind = outcome["status"]
    if kind == "ok":
        return "success", EXIT_OK, "", None
    if kind == "interrupted":
        message = f"stopped by Ctrl-C or SIGTERM; the cells run so far are in {notebook}"
        return "interrupted", EXIT_INTERRUPTED, message, {"kind": "interrupted", "message": message}
    if kind == "timeout":
        scope = outcome.get("scope", "run")
        message = (
            f"{'a cell' if scope == 'cell' else 'the run'} took longer than "
            f"{'cell_timeout' if scope == 'cell' else 'run_timeout'}; the cells run so far "
            f"are in {notebook}"
        )
        return (
            "timeout",
            RunTimeoutError.exit_code,
            message,
            {"kind": "timeout", "scope": scope, "message": message},
        )
    ename, evalue = outcome.get("ename", ""), outcome.get("evalue", "")
    cell = outcome.get("cell_index")
    where = f" (cell {cell}; see {notebook})" if cell is not None else ""
    message = f"{ename}: {evalue}{where}"
    code = exit_code_for_ename(ename) if kind == "error" else NotebookError.exit_code
    return (
        "failed",
        code,
        message,
        {
            "kind": "notebook" if code == NotebookError.exit_code else "data",
            "ename": ename,
            "message": evalue,
            "cell_index": cell,
        },
    )


# --- executing --------------------------------------------------------------------------------


def execute_notebook(notebook: Path, run_dir: Path, params: config.Params) -> dict:
    """Run papermill in a child process bounded by ``run_timeout``; return its outcome."""
    with tempfile.TemporaryDirectory(prefix="autochart-kernel-") as jupyter_path:
        _write_kernelspec(Path(jupyter_path))
        result_path = run_dir / ".execution.json"
        job = {
            "input": str(notebook),
            "output": str(run_dir / EXECUTED_NOTEBOOK),
            "parameters": params.to_notebook(),
            "kernel_name": KERNEL_NAME,
            "cwd": str(run_dir),
            "cell_timeout": params.cell_timeout,
            "result_path": str(result_path),
            "progress_bar": sys.stderr.isatty(),
        }
        env = {**os.environ, "JUPYTER_PATH": jupyter_path, "PYTHONPATH": _pythonpath()}
        log.info(
            "executing %s on %s (cell_timeout %ds, run_timeout %ds)",
            notebook.name,
            sys.executable,
            params.cell_timeout,
            params.run_timeout,
        )
        finished = _run_child(job, env, params.run_timeout, run_dir)
        if not finished:
            return {"status": "timeout", "scope": "run"}
        try:
            outcome = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            outcome = {
                "status": "crash",
                "ename": "ExecutorCrashed",
                "evalue": "the papermill process ended without a result; see run.log",
            }
        result_path.unlink(missing_ok=True)
        return outcome


def _run_child(job: dict, env: dict, run_timeout: int, run_dir: Path) -> bool:
    """Start the executor and wait; on timeout stop it (TERM, then KILL). True if it finished."""
    with open(run_dir / RUN_LOG, "ab") as log_file:
        stderr = None if job["progress_bar"] else log_file
        child = subprocess.Popen(
            [sys.executable, "-m", "autochart.execute"],
            stdin=subprocess.PIPE,
            stdout=stderr,
            stderr=stderr,
            env=env,
            cwd=str(run_dir),
            start_new_session=True,
        )
        child.stdin.write(json.dumps(job).encode())
        child.stdin.close()
        try:
            child.wait(timeout=run_timeout)
            return True
        except subprocess.TimeoutExpired:
            log.error("run_timeout of %ds reached: stopping the notebook", run_timeout)
            _stop(child)
            return False
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (cli turns it into KeyboardInterrupt)
            log.error("interrupted: stopping the notebook")
            _stop(child)
            raise


def _stop(child: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, 5)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _write_kernelspec(jupyter_path: Path) -> None:
    spec_dir = jupyter_path / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "autochart runner",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")


def _pythonpath() -> str:
    """Make the package importable in the kernel even when it is not installed (a plain clone)."""
    existing = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(PROJECT_ROOT)] + ([existing] if existing else []))


def export_html(run_dir: Path) -> Path | None:
    """An HTML copy of the executed notebook (also of a failed one), for reading in a browser."""
    notebook = run_dir / EXECUTED_NOTEBOOK
    if not notebook.is_file():
        return None
    import nbformat
    from nbconvert import HTMLExporter

    quiet = logging.getLogger("autochart.html_export")
    quiet.setLevel(logging.ERROR)  # nbconvert warns about every chart's missing alt text
    try:
        exporter = HTMLExporter(log=quiet)
        body, _ = exporter.from_notebook_node(nbformat.read(str(notebook), as_version=4))
    except Exception as exc:  # an export problem must not hide the run's own outcome
        log.warning("could not export %s to HTML: %s", notebook.name, exc)
        return None
    target = run_dir / EXECUTED_HTML
    target.write_text(body, encoding="utf-8")
    return target


# --- run.json -------------------------------------------------------------------------------


def _initial_record(run_dir: Path, params: config.Params, notebook: Path) -> dict:
    return {
        "run_id": run_dir.name,
        "status": "running",
        "exit_code": None,
        "started_at": utc_now().isoformat(timespec="seconds"),
        "finished_at": None,
        "duration_s": None,
        "source": params.source,
        "tickers": params.tickers,
        "parameters": params.to_notebook(),
        "notebook": str(notebook),
        "executed_notebook": EXECUTED_NOTEBOOK,
        "published": None,
        "versions": _versions(),
        "host": platform.node(),
    }


def _finish(record: dict, started: float) -> None:
    record["finished_at"] = utc_now().isoformat(timespec="seconds")
    record["duration_s"] = round(
        (
            dt.datetime.fromisoformat(record["finished_at"]) - dt.datetime.fromisoformat(record["started_at"])
        ).total_seconds(),
        3,
    )
    record["timings"]["total_s"] = round(time.monotonic() - started, 3)


def _write_record(run_dir: Path, record: dict) -> None:
    tmp = run_dir / f".{RUN_RECORD}.tmp"
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / RUN_RECORD)


def _versions() -> dict:
    versions = {"python": platform.python_version(), "autochart": __version__}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


class _run_log:
    """Copy this module's log lines (and the package's) into the run folder's ``run.log``."""

    def __init__(self, run_dir: Path):
        self.handler = logging.FileHandler(run_dir / RUN_LOG, encoding="utf-8")
        self.handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")
        )
        self.logger = logging.getLogger("autochart")

    def __enter__(self):
        self.saved_level = self.logger.level
        self.logger.addHandler(self.handler)
        if self.logger.getEffectiveLevel() > logging.INFO:
            self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.saved_level)
        self.handler.close()

"""Execute one notebook with papermill in a child process: ``python -m autochart.execute``.

The runner starts this as a separate process so that ``run_timeout`` can stop a whole run for sure
(papermill itself only knows a per-cell timeout). The job arrives as JSON on stdin; the outcome is
written as JSON to ``result_path``. SIGTERM becomes an orderly stop, so the kernel is shut down and
the cells run so far stay saved in the output notebook.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def execute(job: dict) -> dict:
    """Run papermill as ``job`` says; return what happened (never raises for notebook errors)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            job["input"],
            job["output"],
            parameters=job["parameters"],
            kernel_name=job["kernel_name"],
            cwd=job["cwd"],
            execution_timeout=job["cell_timeout"],
            progress_bar=job.get("progress_bar", False),
            log_output=False,
            request_save_on_cell_execute=True,
        )
    except PapermillExecutionError as exc:
        return {
            "status": "error",
            "ename": exc.ename,
            "evalue": exc.evalue,
            "cell_index": exc.cell_index,
            "exec_count": exc.exec_count,
        }
    except TimeoutError as exc:  # nbclient's CellTimeoutError: a cell ran past cell_timeout
        return {"status": "timeout", "scope": "cell", "evalue": str(exc).splitlines()[0]}
    except KeyboardInterrupt:
        return {"status": "timeout", "scope": "run", "evalue": "stopped by the runner"}
    return {"status": "ok"}


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def _stop_when_the_runner_dies() -> None:
    """Ask Linux to send us SIGTERM if the runner dies (even by SIGKILL), so no orphan run goes on
    writing into a run folder after the lock is gone. Elsewhere this is skipped."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the runner died before the request took effect
        raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    _stop_when_the_runner_dies()
    job = json.load(sys.stdin)
    try:
        outcome = execute(job)
    except Exception as exc:  # kernel would not start, notebook unreadable, ...
        outcome = {"status": "crash", "ename": type(exc).__name__, "evalue": str(exc)}
    Path(job["result_path"]).write_text(json.dumps(outcome), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

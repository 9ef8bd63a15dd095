"""Command line: ``python run_notebook.py [run] [--params FILE] [-p KEY VALUE]... [--no-publish]``,
``... schedule install|show|remove [--systemd]`` and ``... doctor``.

Parses arguments, loads parameters, sets up logging, calls one package function and maps every
known error to its documented exit code (see ``exceptions.EXIT_CODES``). Tests call ``main([...])``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from . import config, envfile
from .exceptions import EXIT_INTERNAL, AutochartError, SetupError
from .paths import DEFAULT_PARAMS

log = logging.getLogger("autochart.cli")

COMMANDS = ("run", "schedule", "doctor", "store")
LOG_HANDLER_NAME = "autochart-cli"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_notebook.py",
        description="Fetch prices, execute the dashboard notebook with papermill, publish the "
        "chart; install its schedule; check the machine (doctor).",
        epilog="Exit codes: 0 ok, 1 internal error, 2 bad parameters, 3 data error, "
        "4 notebook error, 5 timeout, 6 publish failed, 7 already running, "
        "8 setup problem. The options of each command: run_notebook.py COMMAND --help "
        "(run is the default: run_notebook.py -p KEY VALUE ... means run -p KEY VALUE ...).",
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the notebook once (the default command)")
    add_run_arguments(run)
    add_schedule_arguments(
        sub.add_parser("schedule", help="install, show or remove the crontab entry (or systemd timer)")
    )
    doctor = sub.add_parser("doctor", help="check that unattended runs can work here")
    add_common_arguments(doctor)
    add_store_arguments(
        sub.add_parser(
            "store",
            help="show or clear the local price store",
            description="Show what the local price store holds (rows, first and last day, source "
            "per ticker) or clear it.",
        )
    )
    return parser


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("info", "clear"))
    parser.add_argument("tickers", nargs="*", metavar="TICKER", help="only these tickers (default: all)")
    add_common_arguments(parser)
    add_overrides_argument(parser, "e.g. -p store /data/prices.sqlite")


def add_overrides_argument(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
        dest="overrides",
        help=f"override one parameter; {example}",
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--params",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"parameters file (default: {DEFAULT_PARAMS.name} in the project)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")


def add_schedule_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("install", "show", "remove"),
        help="install (or update) the entry for the params file, show it with "
        "its next run times, or remove it (other crontab lines are kept)",
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--systemd", action="store_true", help="a systemd service + timer instead of a crontab entry"
    )
    parser.add_argument(
        "--unit-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="with --systemd: write the unit files here and do not call "
        "systemctl (default: /etc/systemd/system for root, else "
        "~/.config/systemd/user, enabled with systemctl)",
    )
    parser.add_argument("--name", default="autochart", help="with --systemd: unit name (default: autochart)")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    add_overrides_argument(parser, "VALUE is read as YAML, e.g. -p tickers '[JPM, BAC]'")
    parser.add_argument("--no-publish", action="store_true", help="run everything but publishing the chart")


def parse_args(argv: list[str]) -> argparse.Namespace:
    # "run" is the default command: `run_notebook.py -p bins 30` means `run_notebook.py run ...`
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
        argv = ["run", *argv]
    return build_parser().parse_args(argv)


def setup_logging(quiet: bool = False) -> None:
    """Log lines for a terminal or a cron log: one line per step, UTC timestamps."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ"))
    handler.formatter.converter = time.gmtime
    handler.set_name(LOG_HANDLER_NAME)
    handler.setLevel(logging.WARNING if quiet else logging.INFO)  # run.log still gets INFO
    root = logging.getLogger()
    # Replace only our own handler, so calling main() twice in one process logs each line once.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != LOG_HANDLER_NAME] + [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    for noisy in ("papermill", "traitlets", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # lets the runner stop the notebook and record the run as interrupted


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    setup_logging(args.quiet)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        return COMMAND_HANDLERS[args.command](args)
    except AutochartError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except Exception:  # an unexpected bug: say so plainly, with the traceback
        log.exception("internal error (please report it)")
        return EXIT_INTERNAL


def run_command(args: argparse.Namespace) -> int:
    from . import runner

    envfile.load()
    params_file = args.params or (DEFAULT_PARAMS if DEFAULT_PARAMS.is_file() else None)
    params = config.load(params_file, args.overrides)
    result = runner.run(params, publish=not args.no_publish)
    if result.ok:
        _print_outputs(result)
    else:
        log.error("run failed (exit code %d): %s", result.exit_code, result.message)
        print(f"run folder (see run.json and run.log): {result.run_dir}")
    return result.exit_code


def _print_outputs(result) -> None:
    print(f"run folder:  {result.run_dir}")
    print(f"dashboard:   {result.run_dir / 'dashboard.png'}")
    print(f"notebook:    {result.run_dir / 'stock_dashboard.ipynb'}")
    published = result.record.get("published")
    if published:
        print(f"published:   {published.get('url') or published.get('page')}")


def schedule_command(args: argparse.Namespace) -> int:
    from . import schedule

    params_file = (args.params or DEFAULT_PARAMS).resolve()
    target = schedule.SystemdTarget(args.unit_dir, args.name) if args.systemd else schedule.CrontabTarget()
    if args.action == "remove":  # needs only the file's path: works even if params are broken
        lines, code = target.remove(params_file), 0
    else:
        job = schedule.Job.from_params(params_file, config.load(params_file))
        if args.action == "install":
            lines, code = target.install(job), 0
        else:
            installed, lines = target.show(job)
            code = 0 if installed else SetupError.exit_code
    print("\n".join(lines))
    return code


def doctor_command(args: argparse.Namespace) -> int:
    from . import doctor

    envfile.load()
    results = doctor.run_checks(args.params or DEFAULT_PARAMS)
    print(doctor.render(results))
    return SetupError.exit_code if doctor.failed(results) else 0


def store_command(args: argparse.Namespace) -> int:
    from . import store

    params_file = args.params or (DEFAULT_PARAMS if DEFAULT_PARAMS.is_file() else None)
    params = config.load(params_file, args.overrides)
    tickers = [t.upper() for t in args.tickers]
    print(store.command(params, args.action, tickers))
    return 0


COMMAND_HANDLERS = {
    "run": run_command,
    "schedule": schedule_command,
    "doctor": doctor_command,
    "store": store_command,
}

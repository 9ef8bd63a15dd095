"""Command line: ``python run_notebook.py [run] [--params FILE] [-p KEY VALUE]... [--no-publish]``.

Parses arguments, loads parameters, sets up logging, calls the runner and maps every known error
to its documented exit code (see ``exceptions.EXIT_CODES``). Tests call ``main([...])``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from . import config
from .exceptions import EXIT_INTERNAL, AutochartError
from .paths import DEFAULT_PARAMS

log = logging.getLogger("autochart.cli")

COMMANDS = ("run", "store")
LOG_HANDLER_NAME = "autochart-cli"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_notebook.py",
        description="Fetch prices, execute the dashboard notebook with papermill, publish the chart.",
        epilog="Exit codes: 0 ok, 1 internal error, 2 bad parameters, 3 data error, "
               "4 notebook error, 5 timeout, 6 publish failed, 7 already running.",
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the notebook once (the default command)")
    add_run_arguments(run)
    add_store_parser(sub)
    return parser


def add_store_parser(sub) -> None:
    store = sub.add_parser("store", help="show or clear the local price store",
                           description="Show what the local price store holds (rows, first and "
                                       "last day, source per ticker) or clear it.")
    store.add_argument("action", choices=("info", "clear"))
    store.add_argument("tickers", nargs="*", metavar="TICKER",
                       help="only these tickers (default: all)")
    store.add_argument("--params", type=Path, default=None, metavar="FILE",
                       help="parameters file that names the store (default: params.yaml)")
    store.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                       metavar=("KEY", "VALUE"), dest="overrides",
                       help="override one parameter, e.g. -p store /data/prices.sqlite")
    store.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", type=Path, default=None, metavar="FILE",
                        help=f"parameters file (default: {DEFAULT_PARAMS.name} in the project)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("KEY", "VALUE"), dest="overrides",
                        help="override one parameter; VALUE is read as YAML, e.g. "
                             "-p tickers '[JPM, BAC]'")
    parser.add_argument("--no-publish", action="store_true",
                        help="run everything but publishing the chart")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")


def parse_args(argv: list[str]) -> argparse.Namespace:
    # "run" is the default command: `run_notebook.py -p bins 30` means `run_notebook.py run ...`
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
        argv = ["run", *argv]
    return build_parser().parse_args(argv)


def setup_logging(quiet: bool = False) -> None:
    """Log lines for a terminal or a cron log: one line per step, UTC timestamps."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s",
                                           "%Y-%m-%dT%H:%M:%SZ"))
    handler.formatter.converter = time.gmtime
    handler.set_name(LOG_HANDLER_NAME)
    handler.setLevel(logging.WARNING if quiet else logging.INFO)  # run.log still gets INFO
    root = logging.getLogger()
    # Replace only our own handler, so calling main() twice in one process logs each line once.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != LOG_HANDLER_NAME] + [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    for noisy in ("papermill", "traitlets", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    setup_logging(args.quiet)
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

    params_file = args.params or (DEFAULT_PARAMS if DEFAULT_PARAMS.is_file() else None)
    params = config.load(params_file, args.overrides)
    result = runner.run(params, publish=not args.no_publish)
    if result.ok:
        _print_outputs(result)
    else:
        log.error("run failed (exit code %d): %s", result.exit_code, result.message)
        print(f"run folder (executed notebook, run.json): {result.run_dir}")
    return result.exit_code


def _print_outputs(result) -> None:
    print(f"run folder:  {result.run_dir}")
    print(f"dashboard:   {result.run_dir / 'dashboard.png'}")
    print(f"notebook:    {result.run_dir / 'stock_dashboard.ipynb'}")
    published = result.record.get("published")
    if published:
        print(f"published:   {published.get('url') or published.get('page')}")


def store_command(args: argparse.Namespace) -> int:
    from . import store

    params_file = args.params or (DEFAULT_PARAMS if DEFAULT_PARAMS.is_file() else None)
    params = config.load(params_file, args.overrides)
    tickers = [t.upper() for t in args.tickers]
    print(store.command(params, args.action, tickers))
    return 0


COMMAND_HANDLERS = {"run": run_command, "store": store_command}

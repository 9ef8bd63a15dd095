"""What does autochart cost over the tutorial's plain script, on the same real data?

Times, alternating, N rounds of (a) the full autochart run: ``run_notebook.py`` with the csv source
on ../shared/data/prices for the five banks (papermill on a fresh kernel, run folder, HTML export,
run.json, local publish) and (b) ``tutorial_script.py``: read the same files, draw the 2x2 figure,
savefig. Both are measured as whole processes started from this script. Prints each median and
the ratio of medians (these machines are shared and noisy: read the ratio, not the seconds).
Usage: python benchmarks/overhead.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRICES = ROOT.parent / "shared" / "data" / "prices"


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


def main(rounds: int = 5) -> None:
    if not PRICES.is_dir():
        sys.exit(f"needs the real price files in {PRICES}")
    full, plain = [], []
    with tempfile.TemporaryDirectory() as tmp:
        autochart = [
            sys.executable,
            str(ROOT / "run_notebook.py"),
            "-q",
            "-p",
            "output_dir",
            tmp,
            "-p",
            "source",
            "csv",
            "-p",
            "csv_dir",
            str(PRICES),
            "-p",
            "tickers",
            "[JPM, BAC, C, WFC, GS]",
            "-p",
            "price",
            "close",
        ]
        script = [
            sys.executable,
            str(ROOT / "benchmarks" / "tutorial_script.py"),
            str(PRICES),
            str(Path(tmp) / "plain.png"),
        ]
        timed(script)  # warm the file cache and the font cache for both
        for _ in range(rounds):
            full.append(timed(autochart))
            plain.append(timed(script))
    full_median, plain_median = statistics.median(full), statistics.median(plain)
    print(f"rounds: {rounds}")
    print(f"autochart full run   median {full_median:6.2f} s  (min {min(full):.2f}, max {max(full):.2f})")
    print(f"tutorial plain script median {plain_median:6.2f} s  (min {min(plain):.2f}, max {max(plain):.2f})")
    print(f"ratio full / plain: {full_median / plain_median:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)

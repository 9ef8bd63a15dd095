"""The tutorial's plain script, as the baseline for benchmarks/overhead.py.

Read five banks' closes, draw the 2x2 figure (boxplot, two scatters, histogram), save the PNG:
what the tutorial does, minus the download, on the same real files autochart reads.
Usage: python benchmarks/tutorial_script.py PRICES_DIR OUT_PNG
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

TICKERS = ["JPM", "BAC", "C", "WFC", "GS"]


def main(prices_dir: Path, out_png: Path) -> None:
    closes = pd.concat(
        {
            t: pd.read_csv(prices_dir / f"{t}.csv", index_col="Date", parse_dates=True)["Close"]
            for t in TICKERS
        },
        axis=1,
    )
    closes = closes.loc[closes.index.max() - pd.DateOffset(years=5) :]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    axes[0, 0].boxplot([closes[t].dropna() for t in TICKERS], tick_labels=TICKERS)
    axes[0, 1].scatter(closes.index, closes["JPM"], s=2)
    axes[1, 0].scatter(closes.index, closes["BAC"], s=2)
    axes[1, 1].hist([closes[t].dropna() for t in TICKERS], bins=50, label=TICKERS)
    axes[1, 1].legend()
    fig.savefig(out_png, dpi=100)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

"""What the notebook learned about the data, written beside its outputs for ``run.json``.

The runner cannot see inside the kernel, so the notebook's last step writes these facts to
``facts.json`` in the run folder; the runner merges them into ``run.json`` and the publisher uses
them for the chart's alt text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .frames import gaps

FACTS_FILE = "facts.json"


def collect(params, prices: pd.DataFrame, closes: pd.DataFrame, price: str, fetched=None) -> dict:
    """Rows fetched (and reused from the store), the charted range, the close used, gaps,
    per-ticker medians, and each ticker's fetch status (``fetched``: a ``FetchResult``)."""
    rows = prices.groupby("ticker").size().reindex(params.tickers, fill_value=0)
    if fetched is not None:
        rows = pd.Series({s.ticker: s.rows_fetched for s in fetched.statuses})
    return {
        "source": params.source,
        "tickers": list(closes.columns),
        "price_requested": params.price,
        "price_used": price,
        "rows_fetched": {t: int(n) for t, n in rows.items()},
        "rows_charted": {t: int(closes[t].notna().sum()) for t in closes.columns},
        "first_date": f"{closes.index.min():%Y-%m-%d}",
        "last_date": f"{closes.index.max():%Y-%m-%d}",
        "medians": {t: round(float(closes[t].median()), 4) for t in closes.columns},
        "gaps": gaps(closes),
        **({"fetch": fetched.report()} if fetched is not None else {}),
    }


def write(path: str | Path, facts: dict) -> Path:
    path = Path(path)
    path.write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    return path


def read(run_dir: Path) -> dict:
    """The facts of a run, or {} when the notebook stopped before writing them."""
    path = Path(run_dir) / FACTS_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}

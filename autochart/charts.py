"""The tutorial's charts as pure functions of the wide closes frame.

Each single chart takes ``(closes, ax, ...)`` and returns ``ax``; ``dashboard`` builds the 2x2
figure. Data goes in per ticker with its NaNs dropped, as a list of arrays: handing matplotlib the
frame (or its transpose) makes it draw one box or one histogram series per *day*, and a single NaN
would empty a whole box. Figures are made without pyplot, so nothing is left registered in a
long-lived process; ``save`` still closes a pyplot figure if it is given one.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.dates as mdates
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .frames import require_data

PRICE_LABEL = {"adjusted": "adjusted close", "close": "close"}
MEDIAN_GID = "median"  # lets tests and callers find the median lines of a boxplot


def date_range_text(closes: pd.DataFrame) -> str:
    """The real span of the data, e.g. '1 Mar 2008 - 1 Mar 2013'."""
    first, last = closes.index.min(), closes.index.max()
    return f"{first:%-d %b %Y} – {last:%-d %b %Y}"


def _series(closes: pd.DataFrame) -> list:
    require_data(closes)
    return [closes[t].dropna().to_numpy() for t in closes.columns]


def boxplot(closes: pd.DataFrame, ax: Axes, *, price: str = "adjusted") -> Axes:
    """One box per ticker, labelled with the ticker."""
    ax.boxplot(
        _series(closes),
        tick_labels=list(closes.columns),
        medianprops={"gid": MEDIAN_GID, "color": "tab:orange"},
        flierprops={"markersize": 2, "alpha": 0.5},
    )
    ax.set_title(f"Spread of daily {PRICE_LABEL[price]}")
    ax.set_ylabel("price")
    ax.grid(axis="y", alpha=0.3)
    return ax


def scatter(closes: pd.DataFrame, ax: Axes, tickers: list[str] | str, *, price: str = "adjusted") -> Axes:
    """Price over time for one or more tickers, on a real date axis."""
    tickers = [tickers] if isinstance(tickers, str) else list(tickers)
    require_data(closes[tickers])
    for ticker in tickers:
        series = closes[ticker].dropna()
        ax.scatter(series.index.to_numpy(), series.to_numpy(), s=2, label=ticker)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_title(f"{', '.join(tickers)}: daily {PRICE_LABEL[price]}")
    ax.set_ylabel("price")
    if len(tickers) > 1:
        ax.legend(markerscale=4, fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def histogram(closes: pd.DataFrame, ax: Axes, *, bins: int = 50, price: str = "adjusted") -> Axes:
    """One histogram dataset per ticker over shared bins, legend in ticker order."""
    ax.hist(_series(closes), bins=bins, label=list(closes.columns))
    ax.legend(fontsize="small")
    ax.set_title(f"Distribution of daily {PRICE_LABEL[price]} ({bins} bins)")
    ax.set_xlabel("price")
    ax.set_ylabel("days")
    return ax


def new_figure(figsize: tuple[float, float] = (8, 4.5)) -> tuple[Figure, Axes]:
    """A single-chart figure (not registered with pyplot)."""
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def dashboard(
    closes: pd.DataFrame,
    *,
    scatter_tickers: list[str] | None = None,
    bins: int = 50,
    price: str = "adjusted",
    figsize=(12, 8),
    title: str = "",
) -> Figure:
    """The tutorial's 2x2: boxplot, two price-over-time scatters, histogram."""
    require_data(closes)
    scatter_tickers = list(scatter_tickers or closes.columns[:2])
    fig = Figure(figsize=tuple(figsize), layout="constrained")
    (box_ax, first_ax), (second_ax, hist_ax) = fig.subplots(2, 2)
    boxplot(closes, box_ax, price=price)
    scatter(closes, first_ax, scatter_tickers[0], price=price)
    # With one scatter ticker the second panel shows every ticker over time instead.
    second = scatter_tickers[1] if len(scatter_tickers) > 1 else list(closes.columns)
    scatter(closes, second_ax, second, price=price)
    histogram(closes, hist_ax, bins=bins, price=price)
    fig.suptitle(
        title or f"{', '.join(closes.columns)}: daily {PRICE_LABEL[price]}, {date_range_text(closes)}",
        fontsize="x-large",
    )
    return fig


def save(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as PNG and close it (a pyplot figure would otherwise stay in memory)."""
    path = Path(path)
    fig.savefig(path, dpi=dpi, format="png")
    _close_if_pyplot(fig)
    return path


def _close_if_pyplot(fig: Figure) -> None:
    import matplotlib.pyplot as plt

    if plt.fignum_exists(getattr(fig, "number", -1)):
        plt.close(fig)

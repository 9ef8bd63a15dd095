# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python (autochart)
#     language: python
#     name: autochart
# ---

# %% [markdown]
# # Stock dashboard
#
# The auto-updating chart tutorial, one step per cell: fetch daily prices for a few tickers, shape
# them into one column of closes per ticker, draw a boxplot, price-over-time scatters and a
# histogram, put them together in a 2x2 dashboard, and save the PNG and the data behind it.
#
# `run_notebook.py` runs this notebook headless with papermill, replacing the parameters below with
# `params.yaml`. Opened in JupyterLab it runs as is, on the offline sample prices. API keys are
# read from the environment (for example `IEX_TOKEN`), never set here.

# %% tags=["parameters"]
tickers: list = ["AAPL", "GOOG", "IBM", "MSFT"]  # symbols to chart, in legend order
source: str = "sample"  # where prices come from: sample, csv, iex, tiingo, alphavantage, yahoo, stooq
csv_dir: str = None  # folder of <TICKER>.csv files (Yahoo or Stooq format) for source csv
base_url: str = None  # API root for HTTP sources; None for the source default
lookback_years: int = 5  # years charted, counted back from the last date in the data
start: str = None  # first date charted, YYYY-MM-DD; overrides lookback_years
end: str = None  # last date charted, YYYY-MM-DD; None for the last date in the data
price: str = "adjusted"  # adjusted (splits and dividends) or close (as the source gives it)
bins: int = 50  # histogram bins
scatter_tickers: list = None  # tickers that get a price-over-time scatter; None for the first two
figsize: list = [12.0, 8.0]  # dashboard size in inches, [width, height]
dpi: int = 100  # PNG resolution
title: str = ""  # dashboard title; empty for tickers, close used and date range
output_dir: str = "outputs"  # runs/ and site/ go here (used by the runner)
publish: str = None  # where the chart is published: a folder or s3://bucket/prefix (runner)
s3_region: str = None  # S3 region of the publish bucket; None for the AWS default (runner)
s3_endpoint_url: str = None  # S3-compatible store such as MinIO or R2; None for AWS (runner)
s3_acl: str = None  # canned ACL sent with public uploads; None sends no ACL (runner)
cell_timeout: int = 300  # seconds one cell may take (runner)
run_timeout: int = 900  # seconds the whole run may take (runner)
http_timeout: float = 30.0  # seconds to wait for one HTTP answer
http_retries: int = 3  # retries after a 429, 5xx or timeout, with growing pauses
schedule: str = "0 7 * * *"  # cron expression for schedule install (runner)
schedule_timezone: str = None  # time zone of the schedule; None for the machine clock (runner)
keep_runs: int = 60  # run folders kept, newest first; None for no limit (runner)
keep_days: int = None  # days run folders are kept; None for no limit (runner)
store: str = "prices.sqlite"  # SQLite price store for HTTP sources, relative to output_dir; None for off
on_missing: str = "fail"  # a ticker without prices stops the run (fail) or is left out (warn)
stale_after_days: int = 3  # warn when the last price is older than this many trading days; None for off
stale_is_error: bool = False  # make stale data an error instead of a warning
split_threshold: float = 0.4  # flag a one-day move in raw closes beyond this fraction; None for off

# %% [markdown]
# ## Check the parameters
# The same validation the runner does, so a value edited here by hand gets the same clear message.

# %%
from IPython.display import Image

from autochart import charts, config, facts, fetching, frames

params = config.from_notebook(globals())
params

# %% [markdown]
# ## 1. Fetch daily prices
# One tidy row per ticker and day. HTTP sources keep what they fetched in a local store, so only
# the days missing since the last run are asked for. Each ticker gets a status: fetched, from store
# or failed (and why). A failed ticker stops the run here (on_missing fail) or is left out (warn);
# stale data and one-day jumps in raw closes (a split?) are flagged in the run log.

# %%
fetched = fetching.fetch(params)
prices = fetched.prices
fetched.table()

# %% [markdown]
# ## 2. Shape: one column of closes per ticker
# Joined on the date, so a ticker missing a day gets a gap (NaN) on that day, not its neighbour's
# price. Days a ticker has no price are listed below.

# %%
charted_price = frames.price_used(prices, params.price)
closes = frames.closes(prices, fetched.tickers, charted_price, start=params.start, end=params.end,
                       lookback_years=params.lookback_years)
scattered = fetched.scatter_tickers(params.scatter_tickers)
for line in frames.describe_gaps(frames.gaps(closes)):
    print("gap:", line)
closes.tail()

# %% [markdown]
# ## 3. Boxplot: the spread of each ticker's closes

# %%
fig, ax = charts.new_figure()
charts.boxplot(closes, ax, price=charted_price)
Image(charts.save(fig, "boxplot.png", dpi=params.dpi))  # show the PNG exactly as saved

# %% [markdown]
# ## 4. Price over time

# %%
for ticker in scattered:
    fig, ax = charts.new_figure()
    charts.scatter(closes, ax, ticker, price=charted_price)
    display(Image(charts.save(fig, f"scatter_{ticker}.png", dpi=params.dpi)))  # noqa: F821

# %% [markdown]
# ## 5. Histogram of closes

# %%
fig, ax = charts.new_figure()
charts.histogram(closes, ax, bins=params.bins, price=charted_price)
Image(charts.save(fig, "histogram.png", dpi=params.dpi))

# %% [markdown]
# ## 6. The 2x2 dashboard

# %%
fig = charts.dashboard(closes, scatter_tickers=scattered, bins=params.bins,
                       price=charted_price, figsize=params.figsize, title=params.title)
Image(charts.save(fig, "dashboard.png", dpi=params.dpi))

# %% [markdown]
# ## 7. Save the data behind the charts
# `closes.csv` is exactly what was charted; `facts.json` tells the runner what this run saw.

# %%
facts.write(facts.FACTS_FILE, facts.collect(params, prices, closes, charted_price, fetched))
closes.to_csv("closes.csv")

"""Publish a successful run's chart where a web page can embed it, at a stable address.

Targets are looked up by URL scheme: a plain path (or ``file://``) is a local folder. Each publish
writes the dated archive copy first, then replaces the stable ``dashboard.png``, then the embed page
``index.html``; every file is written beside its final name and moved into place in one step, so a
reader (or a crash) never sees half a PNG and a failure leaves the previous chart in place.
"""

from __future__ import annotations

import html
import logging
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from .charts import PRICE_LABEL
from .exceptions import PublishError
from .paths import site_dir

log = logging.getLogger(__name__)

CHART = "dashboard.png"
PAGE = "index.html"


def target_of(params) -> str:
    """Where to publish: ``params.publish``, else ``<output_dir>/site``."""
    return params.publish or str(site_dir(Path(params.output_dir)))


def publish(run_dir: Path, params, record: dict) -> dict:
    """Publish ``run_dir``'s dashboard to the target named by ``params``; return what was written."""
    target = target_of(params)
    scheme = urlsplit(target).scheme if "://" in target else "file"
    try:
        publisher = PUBLISHERS[scheme]
    except KeyError:
        raise PublishError(f"publish target {target!r}: unknown scheme {scheme!r}; known: "
                           f"{', '.join(PUBLISHERS)}") from None
    return publisher(run_dir, target, params, record)


def publish_local(run_dir: Path, target: str, params, record: dict) -> dict:
    folder = Path(urlsplit(target).path if target.startswith("file://") else target)
    chart = Path(run_dir) / CHART
    if not chart.is_file():
        raise PublishError(f"{chart} is missing: nothing to publish")
    try:
        archive = folder / "archive" / record["run_id"] / CHART
        _copy_atomically(chart, archive)
        _copy_atomically(chart, folder / CHART)
        page = render_page(record.get("data", {}), image_src=CHART, title=params.title)
        _write_atomically(folder / PAGE, page)
    except OSError as exc:
        raise PublishError(f"cannot write to the publish folder {folder}: {exc}") from None
    log.info("published %s and %s", folder / CHART, folder / PAGE)
    return {"target": str(folder), "latest": str(folder / CHART), "archive": str(archive),
            "page": str(folder / PAGE)}


PUBLISHERS = {"file": publish_local}


def _copy_atomically(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, destination)


def _write_atomically(destination: Path, text: str) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, destination)


# --- the embed page ---------------------------------------------------------------------------


def alt_text(data: dict) -> str:
    """What the chart shows, in words, from the data actually charted."""
    if not data:
        return "Stock price dashboard"
    tickers = ", ".join(data["tickers"])
    close = PRICE_LABEL.get(data.get("price_used", ""), "close")
    text = (f"Dashboard of daily {close} prices for {tickers} from {data['first_date']} to "
            f"{data['last_date']}: boxplot, price over time and histogram.")
    medians = data.get("medians") or {}
    if len(medians) > 1:
        high = max(medians, key=medians.get)
        low = min(medians, key=medians.get)
        text += (f" Highest median {close}: {high} ({medians[high]:.2f});"
                 f" lowest: {low} ({medians[low]:.2f}).")
    return text


def render_page(data: dict, *, image_src: str, title: str = "", image_url: str | None = None) -> str:
    """A small self-contained page with the chart, its "as of" date and an embed snippet.

    Everything that comes from parameters or data is HTML-escaped.
    """
    heading = title or "Stock dashboard: " + ", ".join(data.get("tickers", []))
    as_of = data.get("last_date", "unknown")
    alt = alt_text(data)
    snippet = f'<img src="{image_url or image_src}" alt="{alt}" width="1200">'
    e = html.escape
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(heading)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1240px;margin:2rem auto;padding:0 1rem}}
img{{max-width:100%;height:auto}}pre{{background:#f4f4f4;padding:1rem;overflow-x:auto}}</style>
</head>
<body>
<h1>{e(heading)}</h1>
<p>Prices as of <time datetime="{e(as_of)}">{e(as_of)}</time> (the last day in the data).</p>
<img src="{e(image_src)}" alt="{e(alt)}">
<h2>Embed this chart</h2>
<pre><code>{e(snippet)}</code></pre>
</body>
</html>
"""

"""Publish a successful run's chart where a web page can embed it, at a stable address.

Targets are looked up by URL scheme: a plain path (or ``file://``) is a local folder, ``s3://`` a
bucket and prefix (``autochart.s3``). Each publish writes the dated archive copy first, then
replaces the stable chart, then the embed page ``index.html``. Locally every file is written beside
its final name and moved into place in one step; on S3 each object is verified before the next is
written. Either way a reader never sees half a PNG and a failure leaves the previous chart in place.
``preflight`` checks a target before the notebook runs, so a missing bucket or missing credentials
fail in seconds, not after the whole run.
"""

from __future__ import annotations

import html
import logging
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from . import s3
from .charts import PRICE_LABEL
from .exceptions import PublishError
from .paths import site_dir
from .runner import EXECUTED_HTML, EXECUTED_NOTEBOOK

log = logging.getLogger(__name__)

CHART = "dashboard.png"
PAGE = "index.html"


def target_of(params) -> str:
    """Where to publish: ``params.publish``, else ``<output_dir>/site``."""
    return params.publish or str(site_dir(Path(params.output_dir)))


def scheme_of(target: str) -> str:
    return urlsplit(target).scheme if "://" in target else "file"


def _lookup(registry: dict, target: str):
    scheme = scheme_of(target)
    try:
        return registry[scheme]
    except KeyError:
        raise PublishError(
            f"publish target {target!r}: unknown scheme {scheme!r}; known: {', '.join(PUBLISHERS)}"
        ) from None


def publish(run_dir: Path, params, record: dict) -> dict:
    """Publish ``run_dir``'s dashboard to the target ``params`` names; return what was written."""
    target = target_of(params)
    return _lookup(PUBLISHERS, target)(run_dir, target, params, record)


def preflight(params) -> None:
    """Check the target before the notebook runs; raise ``PublishError`` if it cannot work."""
    target = target_of(params)
    _lookup(PREFLIGHTS, target)(params)


def publish_local(run_dir: Path, target: str, params, record: dict, *, image_url: str | None = None) -> dict:
    """Archive copy, then ``dashboard.png``, then ``index.html`` in a local folder."""
    folder = _local_folder(target)
    chart = _chart(run_dir)
    try:
        archive = folder / "archive" / record["run_id"] / CHART
        _copy_atomically(chart, archive)
        _copy_atomically(chart, folder / CHART)
        page = render_page(record.get("data", {}), image_src=CHART, title=params.title, image_url=image_url)
        _write_atomically(folder / PAGE, page)
    except OSError as exc:
        raise PublishError(f"cannot write to the publish folder {folder}: {exc}") from None
    log.info("published %s and %s", folder / CHART, folder / PAGE)
    return {
        "target": str(folder),
        "latest": str(folder / CHART),
        "archive": str(archive),
        "page": str(folder / PAGE),
    }


def preflight_local(params) -> None:
    """The folder, or the nearest folder above it that exists, must be writable (nothing made)."""
    folder = _local_folder(target_of(params)).absolute()
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise PublishError(
            f"cannot publish to {folder}: {existing} is not a folder this user "
            f"may write; set publish to another folder"
        )


def publish_s3(run_dir: Path, target: str, params, record: dict, *, s3_client=None) -> dict:
    """Run log (private), archive chart, latest chart, page; then the same page in the local site.

    The latest key is written only after the private log and the archive copy are in place and
    verified, so a failure on the way leaves the previous latest chart as it was.
    """
    chart = _chart(run_dir).read_bytes()
    bucket = s3.open_bucket(params, s3_client)
    run_id = record["run_id"]
    keys = {
        "latest": bucket.key("latest", CHART),
        "archive": bucket.key("archive", run_id, CHART),
        "page": bucket.key(PAGE),
    }
    try:
        region = bucket.region()
        urls = {name: s3.public_url(bucket, key, region) for name, key in keys.items()}
        page = render_page(
            record.get("data", {}), image_src=f"latest/{CHART}", title=params.title, image_url=urls["latest"]
        )
        private = _upload_run_log(bucket, run_dir, run_id, region)
        for name, body, cache in (
            ("archive", chart, s3.ARCHIVE_CACHE),
            ("latest", chart, s3.LATEST_CACHE),
            ("page", page.encode("utf-8"), s3.LATEST_CACHE),
        ):
            s3.put(bucket, keys[name], body, cache, params.s3_acl)
    except s3.S3_ERRORS as exc:
        raise s3.explain(exc, bucket.name, "uploading", params) from None
    local = publish_local(
        run_dir, str(site_dir(Path(params.output_dir))), params, record, image_url=urls["latest"]
    )
    log.info("published %s (page %s)", urls["latest"], urls["page"])
    return {
        "target": params.publish,
        "url": urls["latest"],
        "page_url": urls["page"],
        "archive_url": urls["archive"],
        "private": private,
        "acl": params.s3_acl,
        "local": local,
        **{name: bucket.s3_url(key) for name, key in keys.items()},
    }


def _upload_run_log(bucket, run_dir: Path, run_id: str, region: str) -> list[str]:
    """The executed notebook and its HTML, under ``<prefix>/private/<run id>/``, never public."""
    keys = []
    for name in (EXECUTED_NOTEBOOK, EXECUTED_HTML):
        path = Path(run_dir) / name
        if not path.is_file():
            log.warning("%s is missing from %s: not uploaded", name, run_dir)
            continue
        key = bucket.key("private", run_id, name)
        s3.put(bucket, key, path.read_bytes(), s3.PRIVATE_CACHE)
        keys.append(key)
    s3.ensure_private(bucket, keys, region)
    return [bucket.s3_url(key) for key in keys]


def _local_folder(target: str) -> Path:
    return Path(urlsplit(target).path if target.startswith("file://") else target)


def _chart(run_dir: Path) -> Path:
    chart = Path(run_dir) / CHART
    if not chart.is_file():
        raise PublishError(f"{chart} is missing: nothing to publish")
    return chart


PUBLISHERS = {"file": publish_local, "s3": publish_s3}
PREFLIGHTS = {"file": preflight_local, "s3": s3.preflight}


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
    text = (
        f"Dashboard of daily {close} prices for {tickers} from {data['first_date']} to "
        f"{data['last_date']}: boxplot, price over time and histogram."
    )
    medians = data.get("medians") or {}
    if len(medians) > 1:
        high = max(medians, key=medians.get)
        low = min(medians, key=medians.get)
        text += f" Highest median {close}: {high} ({medians[high]:.2f}); lowest: {low} ({medians[low]:.2f})."
    return text


def render_page(data: dict, *, image_src: str, title: str = "", image_url: str | None = None) -> str:
    """A small self-contained page with the chart, its "as of" date and an embed snippet.

    Everything that comes from parameters or data is HTML-escaped.
    """
    heading = title or "Stock dashboard: " + ", ".join(data.get("tickers", []))
    as_of = data.get("last_date", "unknown")
    alt = alt_text(data)
    e = html.escape
    snippet = f'<img src="{e(image_url or image_src)}" alt="{e(alt)}" width="1200">'
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

"""What every data source shares: the tidy frame contract and a careful HTTP client.

A source turns (tickers, start, end) into one *tidy* frame: one row per ticker and day with the
columns in ``TIDY_COLUMNS``. HTTP sources read the status before the body, retry 429/5xx/timeouts a
bounded number of times with growing pauses (honouring ``Retry-After``), and raise one typed error
that names the cause. URLs in errors have secrets redacted: a requests exception message contains
the full URL, query string and all, so none of them is ever re-raised as is.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import requests

from ..exceptions import (
    AuthError,
    MalformedResponseError,
    ProviderError,
    QuotaError,
    RateLimitError,
    UnreachableError,
)

log = logging.getLogger(__name__)

TIDY_COLUMNS = ["ticker", "date", "open", "high", "low", "close", "adj_close", "volume"]
PRICE_COLUMNS = ["open", "high", "low", "close", "adj_close", "volume"]
_SECRET_PARAM = re.compile(r"(?i)([?&](?:token|apikey|api_key|access_key|key)=)[^&#]*")


def redact(url: str) -> str:
    """The URL with any secret query value replaced by REDACTED."""
    return _SECRET_PARAM.sub(r"\1REDACTED", url)


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce a source's rows to the tidy contract: typed columns, sorted, nothing extra."""
    out = frame.reindex(columns=TIDY_COLUMNS).copy()
    out["ticker"] = out["ticker"].astype(str)
    out["date"] = pd.to_datetime(out["date"]).dt.tz_localize(None).dt.normalize()
    for column in PRICE_COLUMNS:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    return out.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)


def empty_tidy() -> pd.DataFrame:
    return tidy(pd.DataFrame(columns=TIDY_COLUMNS))


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``retries`` extra attempts, pauses doubling from ``base_delay``."""

    retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_total: float = 120.0  # never wait longer than this in all, whatever Retry-After says

    def pause(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:  # the server knows best; max_total still bounds the wait
            return retry_after
        backoff = self.base_delay * (2 ** attempt)
        return min(backoff * (0.5 + random.random() / 2), self.max_delay)  # jitter: spread retries


RETRYABLE = {429, 500, 502, 503, 504}


class HttpSource:
    """Base for HTTP sources: one session, a timeout, bounded retries, typed errors."""

    name = "http"
    default_base_url = ""

    def __init__(self, base_url: str | None = None, *, session: requests.Session | None = None,
                 timeout: float = 30.0, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "autochart (+https://github.com/autochart)")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.sleep = sleep

    def get(self, path: str, params: dict[str, str]) -> requests.Response:
        """GET with retries; returns a 2xx response or raises a typed ``ProviderError``."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        shown = redact(requests.Request("GET", url, params=params).prepare().url or url)
        waited = 0.0
        for attempt in range(self.retry.retries + 1):
            response, failure = self._attempt(url, params, shown)
            if response is not None and response.status_code not in RETRYABLE:
                return self._check_status(response, shown)
            pause = self.retry.pause(attempt, _retry_after(response))
            if attempt == self.retry.retries or waited + pause > self.retry.max_total:
                break
            log.warning("%s: %s, retrying in %.1fs (attempt %d of %d)", self.name,
                        failure or f"HTTP {response.status_code}", pause, attempt + 2,
                        self.retry.retries + 1)
            self.sleep(pause)
            waited += pause
        if response is None:
            raise UnreachableError(f"cannot reach the server: {failure}; check base_url and "
                                   f"the network", provider=self.name, url=shown)
        return self._check_status(response, shown)

    def _attempt(self, url: str, params: dict[str, str], shown: str):
        try:
            return self.session.get(url, params=params, timeout=self.timeout), None
        except requests.Timeout:
            return None, f"connection timed out after {self.timeout:g}s"
        except requests.ConnectionError as exc:
            return None, f"connection failed ({_root_cause(exc)})"
        except requests.RequestException as exc:
            return None, f"request failed ({type(exc).__name__})"

    def _check_status(self, response: requests.Response, shown: str) -> requests.Response:
        status = response.status_code
        if 200 <= status < 300:
            return response
        body = _short_body(response)
        kwargs = dict(provider=self.name, url=shown, status=status)
        if status in (401, 403):
            raise AuthError(f"the API key was refused ({status}: {body}). {self.auth_hint()}",
                            **kwargs)
        if status == 402:
            raise QuotaError(f"the plan's message quota is used up (402: {body}); wait for the "
                             f"next billing period or raise the plan", **kwargs)
        if status == 429:
            raise RateLimitError(f"rate limited (429: {body}) after {self.retry.retries} retries; "
                                 f"run less often or ask for fewer tickers", **kwargs)
        if status >= 500:
            raise ProviderError(f"server error ({status}: {body}) after {self.retry.retries} "
                                f"retries; try again later", **kwargs)
        return self.on_client_error(response, shown, body)

    def on_client_error(self, response: requests.Response, shown: str, body: str):
        """Other 4xx: sources override to give 404 its meaning (unknown symbol)."""
        raise ProviderError(f"request refused ({response.status_code}: {body})",
                            provider=self.name, url=shown, status=response.status_code)

    def auth_hint(self) -> str:
        return "Check the API key in the environment."

    def json(self, response: requests.Response, shown: str):
        """The body as JSON, or a clear error saying what came instead."""
        try:
            return response.json()
        except ValueError:
            raise MalformedResponseError(
                f"expected JSON, got {response.headers.get('Content-Type', 'no content type')}: "
                f"{_short_body(response)!r}", provider=self.name, url=shown,
                status=response.status_code) from None


def _retry_after(response: requests.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _short_body(response: requests.Response, limit: int = 200) -> str:
    text = (response.text or "").strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "") if text else "empty body"


def _root_cause(exc: BaseException) -> str:
    """The innermost reason without the URL (requests' messages embed the query string)."""
    while exc.__context__ is not None or exc.__cause__ is not None:
        exc = exc.__cause__ or exc.__context__
    text = str(exc)
    text = re.sub(r"https?://\S+", "<url>", text)
    text = re.sub(r"url: \S+", "url: <redacted>", text)
    return f"{type(exc).__name__}: {text}"[:300]

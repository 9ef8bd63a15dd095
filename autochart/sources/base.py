"""What every data source shares: the tidy frame contract and a careful HTTP client.

A source turns (tickers, start, end) into one *tidy* frame: one row per ticker and day with the
columns in ``TIDY_COLUMNS``. HTTP sources read the status before the body, retry 429/5xx/timeouts a
bounded number of times with growing pauses (honouring ``Retry-After``), and raise one typed error
that names the cause. URLs in errors have secrets redacted: a requests exception message contains
the full URL, query string and all, so none of them is ever re-raised as is.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import requests

from .. import redaction
from ..exceptions import (
    AuthError,
    MalformedResponseError,
    ProviderError,
    QuotaError,
    RateLimitError,
    UnreachableError,
)
from ..redaction import scrub

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
    """How hard to try: ``retries`` extra attempts, pauses doubling from ``base_delay`` with jitter,
    a server's ``Retry-After`` honoured, and never more than ``max_total`` seconds in all."""

    retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_total: float = 120.0  # never spend longer than this on one request, pauses included

    def pause(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: the server's word if it gave one, else
        backoff with jitter; ``max_total`` still bounds the whole wait, whatever Retry-After says."""
        if retry_after is not None:
            return retry_after
        backoff = self.base_delay * (2**attempt)
        return min(backoff * (0.5 + random.random() / 2), self.max_delay)  # jitter: spread retries


RETRYABLE = {429, 500, 502, 503, 504}


# The options every HTTP source accepts (``get_source`` passes all options to every source).
class HttpSource:
    """Base for HTTP sources: one session, a timeout, bounded retries, typed errors."""

    name = "http"
    default_base_url = ""
    remote = True  # worth keeping in the local store
    batch_size = 1  # tickers one request can carry
    key_variable: str | None = None  # the environment variable holding the API key, if any
    key_help = ""  # where to get a key, said when it is missing

    def __init__(
        self,
        base_url: str | None = None,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        today: dt.date | None = None,
        **_other_options,  # every source is built with all options (csv_dir, ...): take ours
    ):
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "autochart (+https://github.com/autochart)")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self._today = today  # fixed "today" for tests and benchmarks; None = the real date
        # Days of splits/dividends seen in the last answers, per ticker, for sources that say so:
        # one newer than the stored history means the stored adjusted closes are out of date.
        self.actions: dict[str, list[str]] = {}
        self.key = redaction.from_environment(self.key_variable) if self.key_variable else ""

    def today(self) -> dt.date:
        return self._today or dt.date.today()

    def get(
        self, path: str, params: dict[str, str], headers: dict[str, str] | None = None
    ) -> requests.Response:
        """GET with retries; returns a 2xx response or raises a typed ``ProviderError``.

        429, 5xx, timeouts and answers that ``soft_error`` calls a rate limit are retried; the
        whole call, pauses and requests included, ends within ``retry.max_total`` seconds."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        shown = redact(requests.Request("GET", url, params=params).prepare().url or url)
        deadline = time.monotonic() + self.retry.max_total
        for attempt in range(self.retry.retries + 1):
            response, failure = self._attempt(url, params, headers)
            failure = failure or self._retry_reason(response)
            if failure is None:
                return self._check_status(response, shown)
            pause = self.retry.pause(attempt, _retry_after(response))
            if attempt == self.retry.retries or time.monotonic() + pause > deadline:
                break
            log.warning(
                "%s: %s, retrying in %.1fs (attempt %d of %d)",
                self.name,
                failure,
                pause,
                attempt + 2,
                self.retry.retries + 1,
            )
            self.sleep(pause)
        return self._give_up(response, failure, shown, attempt, pause)

    def _retry_reason(self, response: requests.Response) -> str | None:
        if response.status_code in RETRYABLE:
            return f"HTTP {response.status_code}"
        if 200 <= response.status_code < 300:
            soft = self.soft_error(response)
            return f"rate limited ({soft})" if soft else None
        return None

    def _give_up(self, response, failure: str, shown: str, attempt: int, pause: float):
        tries = f"{attempt + 1} attempt(s)"
        if response is None:
            raise UnreachableError(
                f"cannot reach the server: {failure} ({tries}); check base_url and the network",
                provider=self.name,
                url=shown,
            )
        if response.status_code in RETRYABLE and response.status_code != 429:
            return self._check_status(response, shown, tries)
        wait = _retry_after(response)
        asked = f"; the server asked to wait {wait:g}s more" if wait is not None else ""
        raise RateLimitError(
            f"still rate limited after {tries} within the {self.retry.max_total:g}s bound "
            f"({_short_body(response)}){asked}; run less often, ask for fewer tickers or "
            f"check the plan's limits",
            provider=self.name,
            url=shown,
            status=response.status_code,
        )

    def soft_error(self, response: requests.Response) -> str | None:
        """Sources whose rate-limit answers come as 200 override this to say so (else None)."""
        return None

    def _attempt(self, url: str, params: dict[str, str], headers: dict[str, str] | None):
        try:
            return self.session.get(url, params=params, headers=headers, timeout=self.timeout), None
        except requests.Timeout:
            return None, f"connection timed out after {self.timeout:g}s"
        except requests.ConnectionError as exc:
            return None, f"connection failed ({_root_cause(exc)})"
        except requests.RequestException as exc:
            return None, f"request failed ({type(exc).__name__})"

    def _check_status(self, response: requests.Response, shown: str, tries: str = "") -> requests.Response:
        status = response.status_code
        if 200 <= status < 300:
            return response
        body = _short_body(response)
        kwargs = dict(provider=self.name, url=shown, status=status)
        if status in (401, 403):
            raise AuthError(f"the API key was refused ({status}: {body}). {self.auth_hint()}", **kwargs)
        if status == 402:
            raise QuotaError(
                f"the plan's message quota is used up (402: {body}); wait for the "
                f"next billing period or raise the plan",
                **kwargs,
            )
        if status == 429:
            raise RateLimitError(
                f"rate limited (429: {body}); run less often or ask for fewer tickers", **kwargs
            )
        if status >= 500:
            after = f" after {tries}" if tries else ""
            raise ProviderError(f"server error ({status}: {body}){after}; try again later", **kwargs)
        return self.on_client_error(response, shown, body)

    def on_client_error(self, response: requests.Response, shown: str, body: str):
        """Other 4xx: sources override to give 404 its meaning (unknown symbol)."""
        raise ProviderError(
            f"request refused ({response.status_code}: {body})",
            provider=self.name,
            url=shown,
            status=response.status_code,
        )

    def auth_hint(self) -> str:
        variable = self.key_variable
        if not variable:
            return "Check the API key in the environment."
        if not self.key:
            return f"{variable} is not set: {self.key_help}export {variable}=<your key>."
        return f"Check {variable} (it is set but the server refused it)."

    def fetch(self, tickers: list[str], start: str | None = None, end: str | None = None) -> pd.DataFrame:
        """One request per ticker (a source whose API batches overrides this)."""
        frames = [self.fetch_one(t, start, end) for t in tickers]
        return tidy(pd.concat(frames, ignore_index=True)) if frames else empty_tidy()

    def fetch_one(self, ticker: str, start: str | None, end: str | None) -> pd.DataFrame:
        raise NotImplementedError(f"{type(self).__name__} must implement fetch_one or fetch")

    def json(self, response: requests.Response, shown: str):
        """The body as JSON, or a clear error saying what came instead."""
        try:
            return response.json()
        except ValueError:
            raise MalformedResponseError(
                f"the answer is not valid JSON (Content-Type "
                f"{response.headers.get('Content-Type', 'not given')}): {_short_body(response)!r}",
                provider=self.name,
                url=shown,
                status=response.status_code,
            ) from None


def _retry_after(response: requests.Response | None) -> float | None:
    """``Retry-After`` in seconds, given as seconds or as an HTTP date; None when absent."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def _short_body(response: requests.Response, limit: int = 200) -> str:
    text = scrub((response.text or "").strip().replace("\n", " "))
    return text[:limit] + ("..." if len(text) > limit else "") if text else "empty body"


def _root_cause(exc: BaseException) -> str:
    """The innermost reason without the URL (requests' messages embed the query string)."""
    while exc.__context__ is not None or exc.__cause__ is not None:
        exc = exc.__cause__ or exc.__context__
    text = str(exc)
    text = re.sub(r"https?://\S+", "<url>", text)
    text = re.sub(r"url: \S+", "url: <redacted>", text)
    return f"{type(exc).__name__}: {text}"[:300]

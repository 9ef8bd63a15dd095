"""Parameters: load ``params.yaml`` safely, apply ``-p`` overrides, validate into typed ``Params``.

Everything is checked before a kernel starts, and every bad key is reported at once, by name.
YAML is read with a loader that keeps ``ON``/``NO``/``Y`` and ``2024-01-02`` as strings (plain
YAML 1.1 turns them into booleans and dates, which would silently change a ticker or break
papermill's JSON).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .exceptions import NotebookContractError, ParameterError
from .paths import NOTEBOOK

# Keys that look like credentials. Secrets live in the environment, never in params.yaml: papermill
# writes every parameter into the executed notebook (twice: the injected cell and its metadata).
SECRET_KEY_PATTERN = re.compile(
    r"(token|secret|passw|api_?key|apikey|access_?key|credential|auth)", re.IGNORECASE
)
SECRET_QUERY_PATTERN = re.compile(r"[?&](token|apikey|api_key|access_key)=", re.IGNORECASE)
TICKER_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.\-=^]{0,19}$")
PRICE_CHOICES = ("adjusted", "close")
ON_MISSING_CHOICES = ("fail", "warn")
# Canned ACLs an upload may carry. public-read-write is left out on purpose: anyone could write.
S3_ACL_CHOICES = (
    "private",
    "public-read",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
)
PUBLISH_SCHEMES = ("file", "s3")
S3_BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
S3_REGION_PATTERN = re.compile(r"^[a-z0-9][a-z0-9\-]*$")


@dataclass(frozen=True)
class Params:
    """Validated parameters. Field defaults are the embedded defaults (offline sample data)."""

    tickers: list[str] = field(default_factory=lambda: ["AAPL", "GOOG", "IBM", "MSFT"])
    source: str = "sample"
    csv_dir: str | None = None
    base_url: str | None = None
    lookback_years: int = 5
    start: str | None = None
    end: str | None = None
    price: str = "adjusted"
    bins: int = 50
    scatter_tickers: list[str] | None = None
    figsize: list[float] = field(default_factory=lambda: [12.0, 8.0])
    dpi: int = 100
    title: str = ""
    output_dir: str = "outputs"
    publish: str | None = None
    s3_region: str | None = None
    s3_endpoint_url: str | None = None
    s3_acl: str | None = None
    cell_timeout: int = 300
    run_timeout: int = 900
    http_timeout: float = 30.0
    http_retries: int = 3
    schedule: str = "0 7 * * *"
    schedule_timezone: str | None = None
    keep_runs: int | None = 60
    keep_days: int | None = None
    store: str | None = "prices.sqlite"
    on_missing: str = "fail"
    stale_after_days: int | None = 3
    stale_is_error: bool = False
    split_threshold: float | None = 0.4

    @property
    def charted_scatter_tickers(self) -> list[str]:
        """The tickers that get a price-over-time scatter: as set, else the first two."""
        return list(self.scatter_tickers or self.tickers[:2])

    def to_notebook(self) -> dict[str, Any]:
        """JSON-safe values to inject into the notebook's ``parameters`` cell."""
        return dataclasses.asdict(self)


PARAMETER_NAMES = tuple(f.name for f in dataclasses.fields(Params))
PATH_KEYS = ("csv_dir", "output_dir", "publish")


# --- YAML ----------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (only true/false) and no date conversion."""


_StrictLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _mapping_without_repeats(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    """A mapping whose keys are unique: plain YAML silently keeps the last of a repeated key."""
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice; keep one", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_repeats)


def parse_yaml(text: str, source: str = "YAML") -> Any:
    """Parse YAML text with the strict loader; a syntax error names the source."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ParameterError([f"not valid YAML: {exc}"], source=source) from None


def load_yaml_file(path: Path) -> dict[str, Any]:
    """Read a params file into a plain mapping (not yet validated)."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError([f"file not found: {path} (pass --params FILE)"], source=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ParameterError(
            ["is not a text file (not UTF-8): pass a YAML params file"], source=str(path)
        ) from None
    data = parse_yaml(text, source=str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(
            [f"must be a mapping of key: value, got {type(data).__name__}"], source=str(path)
        )
    return data


def parse_overrides(pairs: list[tuple[str, str]] | None) -> dict[str, Any]:
    """``-p KEY VALUE`` pairs, VALUE read as YAML (so ``-p tickers '[JPM, BAC]'`` is a list)."""
    return {key: parse_yaml(value, source=f"-p {key}") for key, value in pairs or []}


# --- validators: each returns the clean value or raises ValueError with what is expected ----


def _tickers(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ValueError(f"{key} must be a non-empty list of ticker strings, e.g. [JPM, BAC]")
    clean = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ValueError(
                f"{key}[{i}] is {item!r} ({type(item).__name__}), not a ticker string: "
                f"quote it in YAML, e.g. '{item}'"
            )
        ticker = item.strip().upper()
        if not TICKER_PATTERN.match(ticker):
            raise ValueError(f"{key}[{i}] {item!r} is not a ticker symbol (letters, digits, . - ^ =)")
        if ticker in clean:
            raise ValueError(f"{key}[{i}] {ticker} is listed twice")
        clean.append(ticker)
    return clean


def _optional_tickers(value: Any, key: str) -> list[str] | None:
    return None if value is None else _tickers(value, key)


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{key} must be a positive integer, got {value!r} ({type(value).__name__})")
    return value


def _int_between(low: int, high: int) -> Callable[[Any, str], int]:
    """A validator for an integer in [low, high] (a huge value would hang or exhaust memory)."""

    def check(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(
                f"{key} must be an integer from {low} to {high}, got {value!r} ({type(value).__name__})"
            )
        return value

    return check


def _non_negative_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be an integer >= 0, got {value!r} ({type(value).__name__})")
    return value


def _positive_number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{key} must be a positive number, got {value!r} ({type(value).__name__})")
    return float(value)


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {value!r} ({type(value).__name__})")
    return value


def _optional_string(value: Any, key: str) -> str | None:
    return None if value is None else _string(value, key)


def _iso_date(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):  # from a caller that built the mapping in Python
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ValueError(f"{key} must be an ISO date YYYY-MM-DD (or null), got {value!r}") from None


def _price(value: Any, key: str) -> str:
    if value not in PRICE_CHOICES:
        raise ValueError(f"{key} must be one of {', '.join(PRICE_CHOICES)}, got {value!r}")
    return value


def _on_missing(value: Any, key: str) -> str:
    if value not in ON_MISSING_CHOICES:
        raise ValueError(f"{key} must be one of {', '.join(ON_MISSING_CHOICES)}, got {value!r}")
    return value


def _optional_non_negative_int(value: Any, key: str) -> int | None:
    return None if value is None else _non_negative_int(value, key)


def _optional_positive_number(value: Any, key: str) -> float | None:
    return None if value is None else _positive_number(value, key)


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, got {value!r} ({type(value).__name__})")
    return value


def _store(value: Any, key: str) -> str | None:
    if value is None:
        return None
    path = _string(value, key).strip()
    if not path or "://" in path:
        raise ValueError(f"{key} must be a file path (relative to output_dir) or null, got {value!r}")
    return path


def _source(value: Any, key: str) -> str:
    from .sources import SOURCE_NAMES  # late import: sources import config's helpers

    if value not in SOURCE_NAMES:
        raise ValueError(f"{key} {value!r} is not a known source; known: {', '.join(SOURCE_NAMES)}")
    return value


def _figsize(value: Any, key: str) -> list[float]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= 100 for v in value)
    ):
        raise ValueError(f"{key} must be [width, height] in inches, e.g. [12, 8], got {value!r}")
    return [float(v) for v in value]


def _optional_positive_int(value: Any, key: str) -> int | None:
    return None if value is None else _positive_int(value, key)


def _cron_expression(value: Any, key: str) -> str:
    from . import cron  # late import, like sources

    return cron.check(_string(value, key), key)


def _timezone(value: Any, key: str) -> str | None:
    from . import cron

    return None if value is None else cron.check_timezone(_string(value, key), key)


def _base_url(value: Any, key: str) -> str | None:
    if value is None:
        return None
    url = _string(value, key).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValueError(f"{key} must be an http(s) URL, got {value!r}")
    if SECRET_QUERY_PATTERN.search(url):
        raise ValueError(f"{key} contains a token: remove it and set the environment variable instead")
    if urlsplit(url).username or urlsplit(url).password:
        raise ValueError(
            f"{key} contains a user name or password (user:pass@host): remove them; "
            f"credentials come from the environment"
        )
    return url


def _publish(value: Any, key: str) -> str | None:
    """A local folder, ``file://`` path or ``s3://bucket/prefix``; the S3 form is normalised."""
    if value is None:
        return None
    target = _string(value, key).strip()
    if not target:
        raise ValueError(f"{key} must be a folder or s3://bucket/prefix, or null; got ''")
    if "://" not in target:
        return target
    scheme = target.split("://", 1)[0].lower()
    if scheme not in PUBLISH_SCHEMES:
        raise ValueError(
            f"{key} {target!r}: unknown scheme {scheme!r}; known: "
            f"{', '.join(PUBLISH_SCHEMES)} (or a plain folder)"
        )
    if scheme == "s3":
        bucket, prefix = split_s3_url(target, key)
        return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    return target


def split_s3_url(url: str, key: str = "publish") -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` -> ``("bucket", "some/prefix")``; ValueError if malformed."""
    rest = url.split("://", 1)[1]
    bucket, _, prefix = rest.partition("/")
    if not S3_BUCKET_PATTERN.match(bucket) or ".." in bucket:
        raise ValueError(
            f"{key} {url!r}: {bucket!r} is not an S3 bucket name (3-63 characters: lowercase "
            f"letters, digits, dots and hyphens), e.g. s3://my-charts-bucket/charts"
        )
    prefix = prefix.strip("/")
    if "//" in prefix or any(part in (".", "..") for part in prefix.split("/")):
        raise ValueError(f"{key} {url!r}: the prefix must be plain path segments, e.g. charts/daily")
    return bucket, prefix


def _s3_region(value: Any, key: str) -> str | None:
    if value is None:
        return None
    region = _string(value, key).strip()
    if not S3_REGION_PATTERN.match(region):
        raise ValueError(f"{key} must be a region name such as eu-west-1 (or null), got {value!r}")
    return region


def _s3_acl(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if value == "public-read-write":
        raise ValueError(
            f"{key} public-read-write would let anyone overwrite the chart; use "
            f"public-read, or better null with a bucket policy (see the README, "
            f"'Put the chart on your website')"
        )
    if value not in S3_ACL_CHOICES:
        raise ValueError(
            f"{key} must be null (no ACL, the default) or one of {', '.join(S3_ACL_CHOICES)}; got {value!r}"
        )
    return value


VALIDATORS: dict[str, Callable[[Any, str], Any]] = {
    "tickers": _tickers,
    "source": _source,
    "csv_dir": _optional_string,
    "base_url": _base_url,
    "lookback_years": _positive_int,
    "start": _iso_date,
    "end": _iso_date,
    "price": _price,
    "bins": _int_between(1, 1000),
    "scatter_tickers": _optional_tickers,
    "figsize": _figsize,
    "dpi": _int_between(10, 600),
    "title": _string,
    "output_dir": _string,
    "publish": _publish,
    "s3_region": _s3_region,
    "s3_endpoint_url": _base_url,  # an http(s) URL without a token or user:pass@
    "s3_acl": _s3_acl,
    "cell_timeout": _positive_int,
    "run_timeout": _positive_int,
    "http_timeout": _positive_number,
    "http_retries": _non_negative_int,
    "schedule": _cron_expression,
    "schedule_timezone": _timezone,
    "keep_runs": _optional_positive_int,
    "keep_days": _optional_positive_int,
    "store": _store,
    "on_missing": _on_missing,
    "stale_after_days": _optional_non_negative_int,
    "stale_is_error": _bool,
    "split_threshold": _optional_positive_number,
}
assert set(VALIDATORS) == set(PARAMETER_NAMES), "every parameter needs a validator"


# --- validation ------------------------------------------------------------------------------


def validate(
    raw: Mapping[str, Any], *, base_dirs: Mapping[str, Path] | None = None, source: str = "parameters"
) -> Params:
    """Check every key of ``raw`` and return ``Params``; raise one ``ParameterError`` listing all.

    ``base_dirs`` maps a path key to the folder a relative value is relative to (the params
    file's folder for file values, the current directory for ``-p`` overrides).
    """
    problems = _key_problems(raw)
    clean: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in VALIDATORS:
            continue
        try:
            clean[key] = VALIDATORS[key](value, key)
        except ValueError as exc:
            problems.append(str(exc))
    if not problems:
        problems.extend(_cross_field_problems({**_defaults(), **clean}))
    if problems:
        raise ParameterError(problems, source=source)
    _resolve_paths(clean, base_dirs or {})
    params = Params(**clean)
    if params.source == "csv" and not Path(params.csv_dir).is_dir():
        raise ParameterError(
            [
                f"csv_dir {params.csv_dir} is not a folder: point it at the folder "
                f"that holds the <TICKER>.csv files"
            ],
            source=source,
        )
    return params


def _key_problems(raw: Mapping[str, Any]) -> list[str]:
    problems = []
    for key in raw:
        if not isinstance(key, str):
            problems.append(f"key {key!r} is not a string")
        elif SECRET_KEY_PATTERN.search(key):
            problems.append(
                f"{key}: secrets are not read from parameters (they would be written into the "
                f"executed notebook); remove '{key}' and set it in the environment instead, "
                f"e.g. export IEX_TOKEN=... (see README, 'Secrets')"
            )
        elif key not in VALIDATORS:
            close = difflib.get_close_matches(key, PARAMETER_NAMES, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(f"{key}: unknown parameter{hint} (known: {', '.join(PARAMETER_NAMES)})")
    return problems


def _cross_field_problems(p: dict[str, Any]) -> list[str]:
    problems = []
    extra = [t for t in p["scatter_tickers"] or [] if t not in p["tickers"]]
    if extra:
        problems.append(f"scatter_tickers {', '.join(extra)} not in tickers {p['tickers']}")
    if p["start"] and p["end"] and p["start"] > p["end"]:
        problems.append(f"start {p['start']} is after end {p['end']}")
    if p["source"] == "csv" and not p["csv_dir"]:
        problems.append("csv_dir must be set when source is csv (a folder of <TICKER>.csv files)")
    return problems


def _defaults() -> dict[str, Any]:
    return dataclasses.asdict(Params())


def _resolve_paths(clean: dict[str, Any], base_dirs: Mapping[str, Path]) -> None:
    """Make relative local paths absolute, so the kernel's working directory does not matter."""
    for key in PATH_KEYS:
        value = clean.get(key)
        if value and "://" not in value and key in base_dirs:
            clean[key] = str((Path(base_dirs[key]) / Path(value).expanduser()).resolve())


def load(
    params_file: Path | None, overrides: list[tuple[str, str]] | None = None, cwd: Path | None = None
) -> Params:
    """Params from a file plus ``-p`` overrides, relative paths anchored where each came from."""
    cwd = Path(cwd or Path.cwd())
    raw: dict[str, Any] = {}
    base_dirs: dict[str, Path] = {key: cwd for key in PATH_KEYS}
    label = "parameters"
    if params_file is not None:
        params_file = Path(params_file).resolve()
        raw = load_yaml_file(params_file)
        base_dirs = {key: params_file.parent for key in PATH_KEYS}
        label = str(params_file)
    override_values = parse_overrides(overrides)
    for key in override_values:
        base_dirs[key] = cwd
    raw.update(override_values)
    if override_values:  # a bad -p value must not look like a mistake in the file
        label += " with -p " + ", ".join(override_values)
    if "output_dir" not in raw:  # the default folder is the project's, wherever we run from
        base_dirs["output_dir"] = NOTEBOOK.parent.parent
        raw["output_dir"] = Params().output_dir
    return validate(raw, base_dirs=base_dirs, source=label)


def from_notebook(namespace: Mapping[str, Any]) -> Params:
    """Validate the parameters as the notebook sees them (after papermill or a manual edit)."""
    return validate(
        {key: namespace[key] for key in PARAMETER_NAMES if key in namespace},
        base_dirs={key: Path.cwd() for key in PATH_KEYS},
        source="notebook parameters",
    )


# --- the notebook's side of the contract ------------------------------------------------------


def check_notebook(notebook: Path = NOTEBOOK) -> dict[str, Any]:
    """Refuse a notebook without exactly one ``parameters`` cell declaring every parameter."""
    import nbformat
    import papermill

    nb = nbformat.read(str(notebook), as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise NotebookContractError(
            [f"needs exactly one cell tagged 'parameters', found {len(tagged)}"],
            source=str(notebook),
        )
    declared = papermill.inspect_notebook(str(notebook))
    missing = [name for name in PARAMETER_NAMES if name not in declared]
    if missing:
        raise NotebookContractError(
            [f"parameter {name} is not declared in the parameters cell" for name in missing],
            source=str(notebook),
        )
    return declared

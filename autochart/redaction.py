"""Keep secret values out of every message autochart writes.

A source registers the key it reads from the environment; every ``AutochartError`` message and
every quoted server answer is then scrubbed of it. URLs are redacted by parameter name elsewhere
(``sources.base.redact``), but a server may echo the key back in its answer (an HTML error page
showing the request, say), and such a body is quoted in errors that end up in the executed
notebook, ``run.json`` and the logs.
"""

from __future__ import annotations

import os

_SECRETS: set[str] = set()
MIN_SECRET_LENGTH = 4  # shorter values would blank out ordinary words


def register(value: str | None) -> None:
    if value and len(value) >= MIN_SECRET_LENGTH:
        _SECRETS.add(value)


def from_environment(name: str) -> str:
    """The value of environment variable ``name`` ("" if unset), registered as a secret."""
    value = os.environ.get(name, "")
    register(value)
    return value


def scrub(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, "REDACTED")
    return text

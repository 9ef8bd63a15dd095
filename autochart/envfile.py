"""Secrets for unattended runs: the project's git-ignored ``.env`` file, read into the environment.

Cron and systemd start the runner with an almost empty environment, so a token exported in a
login shell is not there. ``.env`` beside ``params.yaml``'s default holds ``NAME=value`` lines
(``export NAME=value`` and quotes are accepted, ``#`` starts a comment line). A variable already
set in the environment wins over the file. Values are never logged: only names.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from .paths import ENV_FILE

log = logging.getLogger(__name__)

_LINE = re.compile(r"^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*?)\s*$")


def parse(text: str) -> dict[str, str]:
    """``NAME=value`` pairs from the text of an env file (blank and ``#`` lines skipped)."""
    values = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match:
            value = match["value"]
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[match["name"]] = value
    return values


def load(path: Path = ENV_FILE, environ=None) -> list[str]:
    """Set the file's variables that are not set yet; return their names (never the values)."""
    environ = os.environ if environ is None else environ
    path = Path(path)
    if not path.is_file():
        return []
    added = []
    for name, value in parse(path.read_text(encoding="utf-8")).items():
        if name not in environ:
            environ[name] = value
            added.append(name)
    if added:
        log.info("read %s from %s", ", ".join(added), path)
    return added

"""Every error autochart raises on purpose, so callers can map each kind to an exit code.

The class names matter beyond Python: inside the notebook an exception reaches the runner only as
papermill's ``ename`` string, and ``runner`` maps that name back to an exit code.
"""

from __future__ import annotations

from .redaction import scrub


class AutochartError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""

    exit_code = 1

    def __str__(self) -> str:  # a server may echo a key back: never show it
        return scrub(super().__str__())


# --- parameters -----------------------------------------------------------------------------


class ParameterError(AutochartError):
    """One or more bad parameters; ``problems`` holds one message per bad key."""

    exit_code = 2

    def __init__(self, problems: list[str], source: str = "parameters"):
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source} has {len(self.problems)} problem(s):\n{lines}")


class NotebookContractError(ParameterError):
    """The notebook does not declare the parameters the runner would inject."""


# --- data -----------------------------------------------------------------------------------


class DataError(AutochartError):
    """The prices could not be fetched or do not make sense."""

    exit_code = 3


class ProviderError(DataError):
    """A data source answered with an error (or did not answer). ``url`` has secrets redacted."""

    def __init__(self, message: str, *, provider: str, url: str | None = None, status: int | None = None):
        self.provider = provider
        self.detail = message
        self.url = url
        self.status = status
        where = f" [{status or 'no answer'} from {url}]" if url else ""
        super().__init__(f"{provider}: {message}{where}")


class AuthError(ProviderError):
    """The API key is missing, wrong or not allowed to do this (401/403)."""


class QuotaError(ProviderError):
    """The plan's message allowance is used up (402)."""


class RateLimitError(ProviderError):
    """Still rate limited (429) after the bounded retries."""


class UnreachableError(ProviderError):
    """No answer at all: DNS failure, refused connection, timeout."""


class MalformedResponseError(ProviderError):
    """The answer came back but is not in the format the source promises."""


class UnknownTickerError(DataError):
    """The source does not know one or more of the requested tickers."""

    def __init__(self, tickers: list[str], provider: str, hint: str = ""):
        self.tickers = list(tickers)
        self.provider = provider
        names = ", ".join(self.tickers)
        super().__init__(
            f"{provider}: unknown ticker(s) {names}: the source returned no such symbol. "
            f"Check the spelling in 'tickers' or remove it.{' ' + hint if hint else ''}"
        )


class NoPriceDataError(DataError):
    """A ticker (or every ticker) has no price in the window: charting it would mislead."""

    def __init__(self, tickers: list[str], detail: str = ""):
        self.tickers = list(tickers)
        what = "no price data for " + ", ".join(self.tickers) if self.tickers else "no price data"
        super().__init__(f"{what}{': ' + detail if detail else ''}")


class ConflictingDataError(DataError):
    """The same ticker and date arrived twice with different prices."""


class StaleDataError(DataError):
    """The newest price is older than ``stale_after_days`` trading days (``stale_is_error``)."""


# --- running --------------------------------------------------------------------------------


class NotebookError(AutochartError):
    """A cell of the notebook raised; the executed notebook shows where."""

    exit_code = 4

    def __init__(self, message: str, *, cell_index: int | None = None, ename: str = "", evalue: str = ""):
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue
        super().__init__(message)


class RunTimeoutError(AutochartError):
    """A cell or the whole run took longer than ``cell_timeout`` / ``run_timeout``."""

    exit_code = 5


class PublishError(AutochartError):
    """The charts were made but could not be published; the previous ones stay."""

    exit_code = 6


class AlreadyRunningError(AutochartError):
    """Another run holds the lock."""

    exit_code = 7


class SetupError(AutochartError):
    """The machine is not ready: no ``crontab``, a crontab we cannot safely edit, a failed
    ``doctor`` check. The message says what to install or change."""

    exit_code = 8


# Exit codes, documented in the README; the CLI returns these.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_CODES = {
    "ok": EXIT_OK,
    "internal error": EXIT_INTERNAL,
    "bad parameters": ParameterError.exit_code,
    "data error": DataError.exit_code,
    "notebook error": NotebookError.exit_code,
    "timeout": RunTimeoutError.exit_code,
    "publish failed": PublishError.exit_code,
    "already running": AlreadyRunningError.exit_code,
    "setup problem": SetupError.exit_code,
}


def exit_code_for_ename(ename: str) -> int:
    """Exit code for an exception known only by its class name (as papermill reports it)."""
    for cls in _all_subclasses(AutochartError):
        if cls.__name__ == ename:
            return cls.exit_code
    return NotebookError.exit_code


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found

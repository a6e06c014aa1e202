"""When the database or Redis cannot be reached: 503 for what needs it, and one log line.

Both are checked on every request that needs them, and neither is ever skipped because it is
down: a request that cannot read the shared store is not authenticated from what this process
remembers and does not pass a rate limit it cannot count. It gets 503 with `Retry-After`, the
status a client (and the proxy in front, which may try another instance) knows to retry.

An outage is logged when this process first meets it and again when the dependency answers
once more, not for every request that fails in between: a minute without Redis at a thousand
requests a second would otherwise be sixty thousand tracebacks that hide everything else. Each
worker process keeps its own state, so a worker that meets the outage logs it once.
"""

import logging
from typing import Final

logger = logging.getLogger(__name__)

# What a refused client is told to wait: long enough for a restart or a failover to finish.
RETRY_AFTER_SECONDS: Final = 5


class DependencyUnavailableError(Exception):
    """`dependency` (the database, Redis) could not be reached; the request gets 503."""

    def __init__(self, dependency: str) -> None:
        super().__init__(f"{dependency} unavailable")
        self.dependency = dependency


class Outage:
    """Whether one dependency is down, as this process last saw it."""

    def __init__(self, dependency: str) -> None:
        self.dependency = dependency
        self.down = False

    def failed(self, exc: BaseException) -> DependencyUnavailableError:
        """The error to raise for a failed call; the first one of an outage is logged."""
        if not self.down:
            self.down = True
            logger.error(
                "%s unavailable: %s; requests that need it get 503 until it answers again",
                self.dependency,
                _reason(exc),
            )
        return DependencyUnavailableError(self.dependency)

    def succeeded(self) -> None:
        """A call got through: if it ends an outage, say so."""
        if self.down:
            self.down = False
            logger.warning("%s available again", self.dependency)


def _reason(exc: BaseException) -> str:
    # One line, without the driver's own wrapping: a connection refused, a timeout, a shutdown.
    cause = exc.__cause__ or exc
    text = str(getattr(cause, "orig", None) or cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0].rstrip('.')}" if text else type(cause).__name__

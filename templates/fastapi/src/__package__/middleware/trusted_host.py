"""Starlette's Host check, with the Host headers it accepted remembered.

Clients of a service send one of a handful of Host headers (its name, perhaps with a port), yet
`TrustedHostMiddleware` parses and matches the header again on every request: a few percent of a
short request's time. Here a header the full check let through is remembered, byte for byte, and
the next request with exactly those bytes passes at once. Only accepted headers are kept, and at
most `MEMORY` of them (a wildcard pattern accepts unboundedly many names): anything else, and
anything once the memory is full, takes Starlette's check every time.
"""

from collections.abc import Sequence
from typing import Final

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

MEMORY: Final = 64
_HOST: Final = b"host"


class TrustedHost(TrustedHostMiddleware):
    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        super().__init__(self._accepted, allowed_hosts=allowed_hosts)
        self._next = app
        self.known: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _host(scope) in self.known:
            await self._next(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _accepted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What Starlette's check calls for a request it lets through (and for a lifespan)."""
        if scope["type"] == "http" and len(self.known) < MEMORY:
            host = _host(scope)
            if host is not None:
                self.known.add(host)
        await self._next(scope, receive, send)


def _host(scope: Scope) -> bytes | None:
    """The first Host header, as Starlette's check reads it (`Headers.get`)."""
    for name, value in scope["headers"]:
        if name == _HOST:
            return bytes(value)
    return None

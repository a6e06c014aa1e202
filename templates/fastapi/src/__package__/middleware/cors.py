"""Starlette's CORS, only for requests that carry an `Origin` header.

Without one there is nothing for CORS to decide: Starlette's middleware would only add
`Vary: Origin`, which the security headers add to every response anyway (a cache must not
serve a response made for one origin to another). Skipping it saves a layer's wrapped `send`
and a parse of the request headers on every request that is not cross-origin.
"""

from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

_ORIGIN = b"origin"


class CrossOriginOnly(CORSMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and all(name != _ORIGIN for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

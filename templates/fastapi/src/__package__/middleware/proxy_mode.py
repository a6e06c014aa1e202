"""Proxy mode (APP_PROXY_MODE): only what a trusted proxy forwarded as HTTPS reaches the API.

In proxy mode `serve` speaks plain HTTP and a TLS-terminating reverse proxy stands in front of
it. uvicorn's ProxyHeadersMiddleware, the outermost layer, has already taken the scheme and the
client address from `X-Forwarded-Proto` and `X-Forwarded-For`, but only when the peer is one of
APP_TRUSTED_PROXIES. So a request whose scheme is still `http` came either from another peer,
around the proxy and around TLS, or from a proxy that did not say it received HTTPS. Both are
refused with 403: served, such a request would carry credentials in the clear and name any
client address it liked.

The health route alone is answered whatever the peer: probes (a kubelet, a load balancer's health
check) call it directly, and it tells nothing.
"""

import json
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

_BODY: Final = json.dumps({"detail": "Requests must arrive through the TLS proxy"}).encode()
_PROBE_METHODS: Final = frozenset({"GET", "HEAD"})


class ProxyModeMiddleware:
    def __init__(self, app: ASGIApp, *, health_path: str) -> None:
        self.app = app
        self.health_path = health_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("scheme") == "https"
            or (scope.get("path") == self.health_path and scope.get("method") in _PROBE_METHODS)
        ):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_BODY)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _BODY})

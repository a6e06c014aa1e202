"""Security headers on every response, errors included (this layer sits outside them)."""

from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# An API returns data, never a page: nothing may load, frame or run from its responses.
API_CSP: Final = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc load their scripts and styles from jsDelivr and start with an inline
# script; this is only sent on the docs pages, which production never serves.
DOCS_CSP: Final = (
    "default-src 'none'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "connect-src 'self'; worker-src blob:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Two years, as hstspreload.org asks; browsers then refuse plain HTTP to this host.
HSTS: Final = "max-age=63072000; includeSubDomains"
DOCS_PATHS: Final = ("/docs", "/redoc")
# Token and login responses must never be stored by a browser or proxy (RFC 6749 §5.1).
NO_STORE_PREFIXES: Final = ("/api/v1/auth/",)

_ALWAYS: Final = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Strict-Transport-Security", HSTS),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, docs_enabled: bool) -> None:
        self.app = app
        self.docs_enabled = docs_enabled

    def _is_docs(self, path: str) -> bool:
        return self.docs_enabled and any(
            path == prefix or path.startswith(prefix + "/") for prefix in DOCS_PATHS
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CSP if self._is_docs(path) else API_CSP
        no_store = path.startswith(NO_STORE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS:
                    headers[name] = value
                headers["Content-Security-Policy"] = csp
                if no_store:
                    headers["Cache-Control"] = "no-store"
                else:
                    # Responses carry per-principal data; a route may opt in to caching.
                    headers.setdefault("Cache-Control", "no-store")
                # No banner: the server software and version are nobody's business.
                del headers["server"]
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""The security headers of every response, errors included (see middleware/edge.py)."""

from typing import Final

# An API returns data, never a page: nothing may load, frame or run from its responses.
API_CSP: Final = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc load their scripts and styles from jsDelivr and start with an inline
# script; this is only sent on the docs pages, which production never serves. `{connect}`: the
# identity provider's origin, when /docs logs in through it (discovery and the code exchange).
DOCS_CSP: Final = (
    "default-src 'none'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "connect-src 'self'{connect}; worker-src blob:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Two years, as hstspreload.org asks; browsers then refuse plain HTTP to this host.
HSTS: Final = "max-age=63072000; includeSubDomains"
DOCS_PATHS: Final = ("/docs", "/redoc")
# Token and login responses must never be stored by a browser or proxy (RFC 6749 §5.1).
NO_STORE_PREFIXES: Final = ("/api/v1/auth/",)

RawHeaders = list[tuple[bytes, bytes]]

_ALWAYS: Final = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Strict-Transport-Security", HSTS),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
_CSP: Final = b"content-security-policy"
_CACHE_CONTROL: Final = b"cache-control"
_NO_STORE: Final = (_CACHE_CONTROL, b"no-store")
_VARY: Final = b"vary"
# CORS answers differ by the request's Origin (middleware/cors.py), so every response says so.
_VARY_ORIGIN: Final = (_VARY, b"Origin")


def _raw(name: str, value: str) -> tuple[bytes, bytes]:
    return name.lower().encode("latin-1"), value.encode("latin-1")


class SecurityHeaders:
    """Adds the headers to a response's raw header list, in one pass; built once per app."""

    def __init__(self, *, docs_enabled: bool, docs_connect: tuple[str, ...] = ()) -> None:
        self.docs_enabled = docs_enabled
        always = [_raw(name, value) for name, value in _ALWAYS]
        self._api = [*always, (_CSP, API_CSP.encode())]
        docs_csp = DOCS_CSP.format(connect="".join(f" {origin}" for origin in docs_connect))
        self._docs = [*always, (_CSP, docs_csp.encode())]
        # Ours replace any the application set; `server`: the software is nobody's business.
        self._replaced = frozenset(name for name, _ in self._api) | {b"server"}

    def _is_docs(self, path: str) -> bool:
        return self.docs_enabled and any(
            path == prefix or path.startswith(prefix + "/") for prefix in DOCS_PATHS
        )

    def apply(self, headers: RawHeaders, path: str, extra: tuple[bytes, bytes]) -> RawHeaders:
        """`headers` with ours and `extra` added (replacing any of the same name), and
        `Cache-Control: no-store` unless a route opted in to caching."""
        no_store = path.startswith(NO_STORE_PREFIXES)
        kept: RawHeaders = []
        has_cache_control = False
        varies_by_origin = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == _CACHE_CONTROL:
                if no_store:
                    continue
                has_cache_control = True
            elif lowered == _VARY:
                varies_by_origin = varies_by_origin or b"origin" in value.lower()
            elif lowered in self._replaced or lowered == extra[0]:
                continue
            kept.append((name, value))
        if not varies_by_origin:
            kept.append(_VARY_ORIGIN)
        kept += self._docs if self._is_docs(path) else self._api
        kept.append(extra)
        if not has_cache_control:
            # Responses carry per-principal data; a route may opt in to caching.
            kept.append(_NO_STORE)
        return kept

"""The outermost layer of every request: its id, its security headers, its audit record, and a
generic 500 for anything unhandled.

One pure-ASGI layer instead of four: these always run together, and every layer costs a call and
a wrapped `send` on every request. The order inside is the one the layers had: the request id
first (everything after it can name the request), the 500 inside the audit record (so the
record says 500), the security headers on every response, errors included.

With metrics on (`APP_METRICS_BIND`), the same place counts the request and its latency, by
route template: the route is worked out once for both.

An unhandled exception gives the client the request id and nothing else (no traceback, SQL, path
or exception text); the exception goes to the server log under the same id, so the two can be
matched. The database or Redis out of reach is not a bug but an outage: 503 with `Retry-After`,
and the log has it once per outage (core/outage.py), not a traceback per request.
"""

import json
import logging
import time
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..audit import AuditEvent, AuditLog, route_template
from ..core.outage import RETRY_AFTER_SECONDS, DependencyUnavailableError
from .request_id import HEADER, request_id_for
from .security_headers import SecurityHeaders

if TYPE_CHECKING:
    # Only for the annotation: importing metrics.py imports prometheus_client (see there).
    from ..metrics import ServiceMetrics

logger = logging.getLogger(__name__)

_REQUEST_ID_HEADER = HEADER.lower().encode("latin-1")


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        audit: AuditLog,
        docs_enabled: bool,
        docs_connect: tuple[str, ...] = (),
        metrics: "ServiceMetrics | None" = None,
    ) -> None:
        self.app = app
        self.audit = audit
        self.metrics = metrics
        self.headers = SecurityHeaders(docs_enabled=docs_enabled, docs_connect=docs_connect)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        request_id = request_id_for(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        raw_id = request_id.encode("latin-1")
        path: str = scope["path"]
        status = 500  # what the client gets if the app fails before answering
        started = False

        async def send_wrapped(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                message["headers"] = self.headers.apply(
                    list(message.get("headers", ())), path, (_REQUEST_ID_HEADER, raw_id)
                )
            await send(message)

        try:
            await self.app(scope, receive, send_wrapped)
        except DependencyUnavailableError:
            if not started:
                await _unavailable(send_wrapped, request_id)
        except Exception:
            logger.exception(
                "unhandled error in %s %s (request id %s)", scope.get("method"), path, request_id
            )
            if not started:
                await _internal_error(send_wrapped, request_id)
            # Else it is too late for a clean 500: the server closes the connection mid-response.
        finally:
            self._record(scope, status, started_at)

    def _record(self, scope: Scope, status: int, started_at: float) -> None:
        principal = scope["state"].get("principal")
        subject = getattr(principal, "actor", None)
        auth_method = getattr(principal, "auth_method", None)
        client = scope.get("client")
        elapsed = time.perf_counter() - started_at
        # The template (`/items/{item_id}`), never the raw path a client typed.
        route = route_template(scope)
        method = scope.get("method")
        if self.metrics is not None:
            self.metrics.request(method or "", route, status, elapsed)
        self.audit.emit(
            AuditEvent.HTTP_REQUEST,
            outcome="success" if status < 400 else "failure",
            actor=subject if isinstance(subject, str) else "anonymous",
            auth_method=auth_method if isinstance(auth_method, str) else None,
            ip=client[0] if client else None,
            request_id=scope["state"]["request_id"],
            method=method,
            route=route,
            status=status,
            detail=f"duration_ms={round(elapsed * 1000)}",
        )


async def _internal_error(send: Send, request_id: str) -> None:
    body = {"detail": "Internal Server Error", "request_id": request_id}
    await _reply(send, 500, body, [])


async def _unavailable(send: Send, request_id: str) -> None:
    body = {"detail": "Service temporarily unavailable", "request_id": request_id}
    await _reply(send, 503, body, [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())])


async def _reply(
    send: Send, status: int, body: dict[str, str], headers: list[tuple[bytes, bytes]]
) -> None:
    encoded = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(encoded)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": encoded})

"""One `http_request` audit record per request: who called which route, and how it ended."""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..audit import AuditEvent, AuditLog, route_template


class HttpAuditMiddleware:
    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            state = scope.get("state") or {}
            principal = state.get("principal")
            subject = getattr(principal, "subject", None)
            auth_method = getattr(principal, "auth_method", None)
            request_id = state.get("request_id")
            client = scope.get("client")
            elapsed_ms = round((time.perf_counter() - started) * 1000)
            self.audit.emit(
                AuditEvent.HTTP_REQUEST,
                outcome="success" if status < 400 else "failure",
                actor=subject if isinstance(subject, str) else "anonymous",
                auth_method=auth_method if isinstance(auth_method, str) else None,
                ip=client[0] if client else None,
                request_id=request_id if isinstance(request_id, str) else None,
                method=scope.get("method"),
                # The template (`/items/{item_id}`), never the raw path a client typed.
                route=route_template(scope),
                status=status,
                detail=f"duration_ms={elapsed_ms}",
            )

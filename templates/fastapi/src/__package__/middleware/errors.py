"""The last line of defence: an unhandled exception becomes a generic 500.

The client gets the request id and nothing else (no traceback, SQL, path or exception text);
the exception goes to the server log under the same id, so the two can be matched.
"""

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


class ErrorBoundaryMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            request_id = str((scope.get("state") or {}).get("request_id", ""))
            logger.exception(
                "unhandled error in %s %s (request id %s)",
                scope.get("method"),
                scope.get("path"),
                request_id,
            )
            if started:
                # Too late for a clean 500; the server closes the connection mid-response.
                return
            body = json.dumps({"detail": "Internal Server Error", "request_id": request_id})
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body.encode()})

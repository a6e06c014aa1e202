"""Refuse request bodies over the limit with 413, before they are read into memory.

A declared `Content-Length` over the limit is refused at once. A body without one (chunked)
is counted as it streams in, and refused as soon as it passes the limit, whatever the route
does with the error raised from `receive()`.
"""

import json
from typing import Final

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_DETAIL: Final = "Request body too large"


class BodyTooLargeError(HTTPException):
    """Raised from `receive()`; an HTTPException so that routes pass it through unchanged."""

    def __init__(self) -> None:
        super().__init__(413, _DETAIL)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is None and "transfer-encoding" not in headers:
            # No body at all (HTTP/1.1 §6.3): nothing to count.
            await self.app(scope, receive, send)
            return
        if declared is not None:
            if not declared.isdigit():
                await _reply(send, 400, "Invalid Content-Length")
                return
            if int(declared) > self.max_bytes:
                await _reply(send, 413, _DETAIL)
                return

        received = 0
        exceeded = False
        started = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLargeError
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return
            if exceeded and not started:
                # The route turned our error into some other answer (e.g. 400): keep the 413.
                started = replaced = True
                await _reply(send, 413, _DETAIL)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLargeError:
            if not started:
                await _reply(send, 413, _DETAIL)


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is not read, so the connection cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

"""Give every request an id, used in logs, audit records, error bodies and `X-Request-ID`."""

import re
import uuid
from typing import Final

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER: Final = "X-Request-ID"
# An id from a client or proxy is kept only if it is short and plain (UUID-like): anything else
# could smuggle text into logs or response headers, so it is replaced by a fresh one.
_ACCEPTED_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{7,63}$")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(HEADER)
        request_id = incoming if incoming and _ACCEPTED_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)

"""Every secret the test suite sends or receives, and every log the server writes.

The test client records each credential that crosses it (request headers and bodies, token and
key responses, session cookies); a logging handler keeps every server-side log line; each
test's audit log is remembered. `test_secrets_in_logs`, which runs last, checks that no secret
the whole suite used reached any of them.
"""

import json
import logging
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx

# Shorter values are too common to search for without false alarms.
MIN_SECRET_LENGTH = 16
SECRET_HEADERS = ("authorization", "x-api-key", "x-csrf-token")
SECRET_FIELDS = frozenset(
    {"password", "current_password", "new_password", "access_token", "refresh_token", "key"}
    | {"csrf_token"}
)
API_KEY_PUBLIC_PART = len("pck_") + 16 + 1  # the key's id is public and logged by design
# The test client's own loggers: what the attacker's side writes is not the server's log.
CLIENT_LOGGERS = ("httpx", "httpcore")


@dataclass
class Ledger:
    secrets: set[str] = field(default_factory=set)
    audit_logs: list[Path] = field(default_factory=list)
    server_log: list[str] = field(default_factory=list)

    def add(self, value: object) -> None:
        if not isinstance(value, str):
            return
        if value.startswith("pck_"):
            value = value[API_KEY_PUBLIC_PART:]
        if len(value) >= MIN_SECRET_LENGTH:
            self.secrets.add(value)

    def add_fields(self, body: object) -> None:
        if isinstance(body, dict):
            for name, value in body.items():
                if name in SECRET_FIELDS:
                    self.add(value)
                self.add_fields(value)
        elif isinstance(body, list):
            for value in body:
                self.add_fields(value)

    def add_cookies(self, header: str) -> None:
        try:
            cookies = SimpleCookie(header)
        except CookieError:
            return
        for morsel in cookies.values():
            self.add(morsel.value)

    def on_request(self, request: httpx.Request) -> None:
        for name in SECRET_HEADERS:
            for value in request.headers.get_list(name):
                self.add(value.split(" ", 1)[-1])
        for value in request.headers.get_list("cookie"):
            self.add_cookies(value)
        try:
            content = request.content
        except httpx.RequestNotRead:
            return  # a streamed body (the chunked-upload tests) carries no credential
        self.add_fields(_parse_body(request.headers.get("content-type", ""), content))

    def on_response(self, response: httpx.Response) -> None:
        for value in response.headers.get_list("set-cookie"):
            self.add_cookies(value)
        response.read()
        if response.headers.get("content-type", "").startswith("application/json"):
            self.add_fields(_parse_body("application/json", response.content))


def _parse_body(content_type: str, content: bytes) -> Any:
    try:
        if content_type.startswith("application/json"):
            return json.loads(content)
        if content_type.startswith("application/x-www-form-urlencoded"):
            return dict(parse_qsl(content.decode()))
    except (ValueError, UnicodeDecodeError):
        return None
    return None


class ServerLogHandler(logging.Handler):
    """Keeps the text of every record (exceptions included) of the server's loggers."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(logging.DEBUG)
        self.ledger = ledger

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(CLIENT_LOGGERS):
            return
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.ledger.server_log.append(text)


LEDGER = Ledger()

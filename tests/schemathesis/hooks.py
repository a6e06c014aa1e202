"""Schemathesis hooks for the live runs of tests/e2e.rs (`SCHEMATHESIS_HOOKS`).

One server rule cannot be written in the OpenAPI document: a password must not be one of the
~24,000 commonly used passwords the project bundles (compared case-insensitively; the document
says so in words). A generated password that happens to be on that list would be refused with
a 422 the document cannot predict, so such a password is replaced by one of the same length
derived from it (deterministic, so a seed still replays a run). No check is disabled: every
other generated value reaches the server as generated.
"""

import hashlib
import importlib
import os
from functools import cache
from typing import Any

import schemathesis

PASSWORD_FIELDS = ("password", "new_password")


@cache
def _common() -> frozenset[str]:
    package = os.environ["PORTCULLIS_PACKAGE"]
    passwords = importlib.import_module(f"{package}.core.passwords")
    common: frozenset[str] = passwords.common_passwords()
    return common


def _replacement(password: str) -> str:
    digest = hashlib.sha256(password.encode("utf-8", "surrogatepass")).hexdigest()
    return (digest * (len(password) // len(digest) + 1))[: len(password)]


@schemathesis.hook
def before_call(
    _context: schemathesis.HookContext, case: "schemathesis.Case[Any]", _kwargs: dict[str, Any]
) -> None:
    # Before every request of every phase (the coverage phase applies no `map_*` hook).
    body = case.body
    if isinstance(body, dict):
        for name in PASSWORD_FIELDS:
            value = body.get(name)
            if isinstance(value, str) and value.casefold() in _common():
                body[name] = _replacement(value)

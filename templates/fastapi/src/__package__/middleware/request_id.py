"""Every request's id, used in logs, audit records, error bodies and `X-Request-ID`."""

import re
import secrets
from typing import Final

from starlette.types import Scope

HEADER: Final = "X-Request-ID"
_HEADER_KEY: Final = HEADER.lower().encode("latin-1")
# An id from a client or proxy is kept only if it is short and plain (UUID-like): anything else
# could smuggle text into logs or response headers, so it is replaced by a fresh one.
_ACCEPTED_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{7,63}$")


def request_id_for(scope: Scope) -> str:
    """The client's or proxy's `X-Request-ID` if it is plain enough, else a fresh one."""
    for name, value in scope["headers"]:
        if name == _HEADER_KEY:
            incoming = value.decode("latin-1")
            return incoming if _ACCEPTED_ID.fullmatch(incoming) else _fresh_id()
    return _fresh_id()


def _fresh_id() -> str:
    # 128 random bits in hex, like a UUID4's 122 but without building a UUID object per request.
    return secrets.token_hex(16)

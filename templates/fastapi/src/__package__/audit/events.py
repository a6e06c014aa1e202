"""The audit vocabulary: event names, outcomes and the fields of one record.

Event names follow the OWASP logging vocabulary (CONTRACT §4), so the log reads the same as any
other OWASP-style security log and can be fed to the same alerting rules.
"""

# ruff: noqa: S105 - "token" and "password" in event names are words, not secrets.

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, Literal

Outcome = Literal["success", "failure"]


class AuditEvent(StrEnum):
    AUTHN_LOGIN_SUCCESS = "authn_login_success"
    AUTHN_LOGIN_FAIL = "authn_login_fail"
    AUTHN_LOGIN_LOCK = "authn_login_lock"
    AUTHN_TOKEN_CREATED = "authn_token_created"
    AUTHN_TOKEN_REVOKED = "authn_token_revoked"
    AUTHN_TOKEN_REUSE = "authn_token_reuse"
    AUTHN_PASSWORD_CHANGE = "authn_password_change"
    AUTHN_APIKEY_CREATED = "authn_apikey_created"
    AUTHN_APIKEY_REVOKED = "authn_apikey_revoked"
    AUTHN_APIKEY_FAIL = "authn_apikey_fail"
    SESSION_CREATED = "session_created"
    SESSION_EXPIRED = "session_expired"
    SESSION_REVOKED = "session_revoked"
    AUTHZ_FAIL = "authz_fail"
    AUTHZ_CHANGE = "authz_change"
    USER_CREATED = "user_created"
    USER_UPDATED = "user_updated"
    EXCESS_RATE_LIMIT_EXCEEDED = "excess_rate_limit_exceeded"
    MALICIOUS_CSRF = "malicious_csrf"
    SYS_STARTUP = "sys_startup"
    SYS_SHUTDOWN = "sys_shutdown"
    HTTP_REQUEST = "http_request"


# Every record has exactly these fields, in this order (a missing value is null), so that
# readers and `audit verify` never have to guess at the shape of a line.
RECORD_FIELDS: Final[tuple[str, ...]] = (
    "ts",
    "seq",
    "event",
    "outcome",
    "actor",
    "auth_method",
    "ip",
    "request_id",
    "method",
    "route",
    "status",
    "detail",
    # The audit key that made `hash` (core/keys.py), so the key can rotate mid-log.
    "kid",
    "prev_hash",
    "hash",
)

# A route that matched nothing (404, or refused before routing) is logged as this, never as the
# raw path: raw paths would let any client write arbitrary text into the log.
UNMATCHED_ROUTE: Final = "<unmatched>"


def route_template(scope: Mapping[str, Any]) -> str:
    """The path template of the route that handled `scope`, e.g. `/api/v1/items/{item_id}`."""
    route = scope.get("route")
    for attribute in ("path_format", "path"):
        template = getattr(route, attribute, None)
        if isinstance(template, str) and template:
            return template
    return UNMATCHED_ROUTE

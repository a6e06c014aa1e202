"""The tamper-evident audit log (CONTRACT §4): events, hash chain, background writer, verify."""

from .chain import GENESIS_HASH
from .events import UNMATCHED_ROUTE, AuditEvent, Outcome, route_template
from .verify import VerifyResult, read_recent, verify_chain
from .writer import AuditLog, AuditObserver

__all__ = [
    "GENESIS_HASH",
    "UNMATCHED_ROUTE",
    "AuditEvent",
    "AuditLog",
    "AuditObserver",
    "Outcome",
    "VerifyResult",
    "read_recent",
    "route_template",
    "verify_chain",
]

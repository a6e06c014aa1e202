"""Reading the audit log: the newest records first, for holders of `audit:read`.

Each read is itself on the record: the request audit middleware writes an `http_request`
record naming who read the log. With Redis (several instances) the records come from the view
all instances share (audit/feed.py), so every instance answers the same; without, from this
instance's own log.
"""

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from ...audit import AuditEvent, AuditLog, read_recent
from ...audit.feed import AuditFeed
from ...auth.principal import Principal
from ...core.permissions import Permission
from ..deps import AuditDep, PageLimit, require_permission

# Larger pages are cut to this size, as for every other list.
MAX_EVENTS = 1000

router = APIRouter(prefix="/audit", tags=["audit"])

AuditReader = Annotated[Principal, Depends(require_permission(Permission.AUDIT_READ))]


class AuditRecordOut(BaseModel):
    ts: str
    seq: int
    event: str
    outcome: str
    actor: str
    auth_method: str | None
    ip: str | None
    request_id: str | None
    method: str | None
    route: str | None
    status: int | None
    detail: str | None
    prev_hash: str
    hash: str


def _read(audit: AuditLog, limit: int, event: AuditEvent | None) -> list[dict[str, Any]]:
    # Records emitted before this request (e.g. its own authz checks) are written first,
    # so a reader sees them; the wait is bounded and happens off the event loop.
    audit.flush(timeout=1.0)
    return read_recent(audit.path, limit=limit, event=None if event is None else event.value)


@router.get("/events")
async def list_audit_events(
    request: Request,
    _reader: AuditReader,
    audit: AuditDep,
    limit: PageLimit = 100,
    event: AuditEvent | None = None,
) -> list[AuditRecordOut]:
    feed: AuditFeed | None = request.app.state.audit_feed
    if feed is None:
        records = await anyio.to_thread.run_sync(_read, audit, min(limit, MAX_EVENTS), event)
    else:
        # This request's own records so far (its authorization check) are in the view too.
        await anyio.to_thread.run_sync(audit.flush, 1.0)
        await feed.drain(within=1.0)
        records = await feed.recent(min(limit, MAX_EVENTS), None if event is None else event.value)
    return [AuditRecordOut.model_validate(record) for record in records]

"""The newest audit records of every instance, in one place, for `GET /audit/events`.

Each instance writes its own log (its own file and hash chain, audit/writer.py): that file is the
record, and `audit verify` checks it. Behind a load balancer `/audit/events` must not answer from
whichever instance a request happens to reach, so with APP_REDIS_URL set every instance also
appends each record it writes, byte for byte as written, to one Redis stream capped at the newest
`FEED_MAX_RECORDS`, and `/audit/events` reads that stream: every instance gives the same answer.

The stream is a view, not the record. It holds the newest records only and is lost with Redis's
data; a record written while Redis was out of reach is in its instance's file alone (the outage
is logged once, core/outage.py). Each record keeps its `seq`, `prev_hash` and `hash`, so any of
them can be matched with the file it came from.

The writer hands over each batch it wrote (`AuditFeed.written`, safe from any thread and
non-blocking); a task on the event loop appends batches in one pipelined round trip each.
"""

import asyncio
import contextlib
import json
from typing import Any, Final, cast

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..core.outage import Outage

STREAM: Final = "audit:recent"
FEED_MAX_RECORDS: Final = 10_000
# Records waiting for Redis beyond this are left out of the view (they are in the file).
_MAX_PENDING: Final = 50_000
# Entries read per round trip while looking for records of one event.
_PAGE: Final = 500


class AuditFeed:
    """The shared view of every instance's newest records, in Redis."""

    def __init__(self, client: "Redis", outage: Outage) -> None:
        self._redis = client
        self._outage = outage
        self._pending: list[bytes] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None
        self.left_out = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump(), name="audit-feed")

    async def stop(self, within: float = 2.0) -> None:
        """Append what is still waiting (for at most `within` seconds), then stop."""
        await self.drain(within)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def written(self, data: bytes) -> None:
        """Called by the audit writer (from any thread) with the lines it has just written."""
        with contextlib.suppress(RuntimeError):  # the loop is closing: the file has them
            self._loop.call_soon_threadsafe(self._accept, data)

    def _accept(self, data: bytes) -> None:
        self._pending.extend(line for line in data.split(b"\n") if line)
        if len(self._pending) > _MAX_PENDING:
            cut = len(self._pending) - _MAX_PENDING
            del self._pending[:cut]
            self.left_out += cut
        self._idle.clear()
        self._wake.set()

    async def drain(self, within: float) -> None:
        """Wait until everything handed over so far is in Redis (or given up on)."""
        await asyncio.sleep(0)  # let a hand-over scheduled by the writer run first
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._idle.wait()

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for line in batch:
                            pipe.xadd(
                                STREAM, {"r": line}, maxlen=FEED_MAX_RECORDS, approximate=True
                            )
                        await pipe.execute()
                except (RedisConnectionError, RedisTimeoutError) as exc:
                    self.left_out += len(batch)
                    self._outage.failed(exc)
                else:
                    self._outage.succeeded()
            self._idle.set()

    async def recent(self, limit: int, event: str | None) -> list[dict[str, Any]]:
        """The newest `limit` records (of `event` only, if given), newest first."""
        found: list[dict[str, Any]] = []
        upper = "+"
        try:
            while len(found) < limit:
                entries = cast(
                    "list[tuple[str, dict[str, str]]]",
                    await self._redis.xrevrange(STREAM, max=upper, count=_PAGE),
                )
                for _entry_id, fields in entries:
                    record = json.loads(fields["r"])
                    if event is None or record.get("event") == event:
                        found.append(record)
                if len(entries) < _PAGE:
                    break
                upper = f"({entries[-1][0]}"
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise self._outage.failed(exc) from exc
        self._outage.succeeded()
        return found[:limit]

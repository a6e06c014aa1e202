"""`AuditLog`: records are built on the request path and written in batches, off that path.

`emit` only appends a small object to a bounded queue, so logging never waits for the disk.
When the queue is full (the disk is stuck or far slower than the traffic) the record is
dropped rather than blocking the request: the number dropped is printed on stderr when it
starts, and written into the `detail` of the next record that reaches the file, so a gap is
itself on the record. Write errors are handled the same way. The file, its lock and its chain
across processes and rotations are audit/logfile.py's.

Who writes. Started inside the service's event loop, the writer is a task on that loop: every
few milliseconds it hashes and appends what has queued up, with one `write()` to the page cache,
and hands the `fsync` to a worker thread. It never blocks the loop: when another process holds
the log's lock it tries again a moment later. Profiles showed why it is not a thread: a second
thread waking a few hundred times a second to take the GIL cost the event loop a fifth of its
throughput, more than the writing itself. Started outside a loop (a command, a test), it is a
thread, and `flush` waits for it.

Durability: a crash of the process loses only what was still queued (normally the last few
milliseconds of records). The file is fsynced at most once per `FSYNC_INTERVAL_SECONDS` while
records arrive, a second after they stop, and at shutdown, so a crash of the machine loses at
most about a second of records. A graceful shutdown loses nothing.

`on_written`, when set, is called by the writer with the bytes of each batch it wrote (the
shared view of audit/feed.py).

An `AuditObserver` (the service's metrics, metrics.py) hears of every record as it is emitted,
except the per-request `http_request` ones (the edge middleware measures requests itself), and of
every record lost: that is how security events become counters without a second call site.
"""

import asyncio
import collections
import contextlib
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from starlette.requests import HTTPConnection

from ..core.keys import Key
from .chain import GENESIS_HASH, all_clean, clean_text, utc_timestamp
from .events import AuditEvent, Outcome, route_template
from .logfile import FSYNC_INTERVAL_SECONDS, LogFile

# Longest value kept per field; longer values are cut (a client controls some of them).
_MAX_DETAIL: Final = 1000
_MAX_FIELD: Final = 256
# Records written under one lock and one write().
_BATCH: Final = 512
# After each batch the writer waits this long for more (unless someone flushes), so under load
# it writes a few hundred times a second rather than once per record.
_LINGER_SECONDS: Final = 0.005


class AuditObserver(Protocol):
    """Told of records as they are emitted; must be cheap, and must not block or raise."""

    def recorded(
        self, event: str, outcome: str, auth_method: str | None, status: int | None
    ) -> None:
        """One record was emitted (`http_request` records excepted)."""

    def dropped(self, count: int) -> None:
        """`count` records were lost (queue full or write error)."""


# Not frozen: a frozen dataclass sets each field through object.__setattr__, and this one is
# made for every request.
@dataclass(slots=True)
class _Pending:
    ts: str
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


class AuditLog:
    """The tamper-evident audit log of one application (or command)."""

    def __init__(
        self,
        path: Path,
        *,
        key: Key,
        queue_size: int,
        max_bytes: int,
        observer: AuditObserver | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if max_bytes < 1024:
            raise ValueError("max_bytes must be at least 1024")
        self.path = Path(path)
        self._key = key
        self._file = LogFile(self.path, key=key, max_bytes=max_bytes)
        self.lock_path = self._file.lock_path
        self.max_bytes = max_bytes
        self._queue_size = queue_size
        # Appending and popping from either end are atomic: emit needs no lock.
        self._queue: collections.deque[_Pending] = collections.deque()
        self._counts = threading.Condition()
        self._accepted = 0  # records emit() took responsibility for
        self._settled = 0  # of those, written or given up on
        self._unreported = 0  # lost records not yet noted in the log
        self.dropped_total = 0
        self._observer = observer
        # One writer at a time: the task or thread below, or a flush with no writer running.
        self._write_lock = threading.Lock()
        # The writer: a task on `_loop`, or `_thread`. `_idle` says it waits for a record, and
        # is the only time it needs waking (`_kick`).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._idle = False
        self._stopping = False
        self.on_written: Callable[[bytes], None] | None = None

    @property
    def queue_depth(self) -> int:
        """Records waiting for the writer."""
        return len(self._queue)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is not None or self._thread is not None:
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._stopping = False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()
            return
        self._loop, self._loop_thread = loop, threading.get_ident()
        self._ready = asyncio.Event()
        self._task = loop.create_task(self._pump(self._ready), name="audit-writer")

    async def stop(self) -> None:
        """Write everything emitted so far, sync and close; the writer ends."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = self._loop = self._ready = None
        thread = self._thread
        if thread is not None:
            self._wake.set()
            await asyncio.to_thread(thread.join)
            self._thread = None
        # Whatever the writer left (or everything, if none ran) is written here, then synced.
        await asyncio.to_thread(self._write_all_and_close)

    def flush(self, timeout: float = 5.0) -> None:
        """Block until every record emitted so far is on disk (or given up on)."""
        with self._counts:
            target = self._accepted
        writer_running = self._task is not None or (
            self._thread is not None and self._thread.is_alive()
        )
        if not writer_running or threading.get_ident() == self._loop_thread:
            # No writer to wait for (a command, or before start), or this is the writer's own
            # thread, which cannot wait for itself: write here.
            self._write_pending(blocking=True)
            if not writer_running:
                self._write_all_and_close()
            return
        self._kick(always=True)
        with self._counts:
            self._counts.wait_for(lambda: self._settled >= target, timeout)

    def emit(
        self,
        event: AuditEvent,
        *,
        outcome: Outcome,
        actor: str = "anonymous",
        auth_method: str | None = None,
        ip: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        route: str | None = None,
        status: int | None = None,
        detail: str | None = None,
    ) -> None:
        """Queue one record. Never blocks and never raises: auditing must not break a request."""
        try:
            name = str(event)
            pending = _Pending(
                utc_timestamp(),
                name,
                outcome,
                actor,
                auth_method,
                ip,
                request_id,
                method,
                route,
                status,
                detail,
            )
            with self._counts:
                self._accepted += 1
            if len(self._queue) >= self._queue_size:
                self._lost(1, "audit queue full", settle=True)
            else:
                self._queue.append(pending)
                self._kick()
            # An identity test keeps the per-request record's cost at one comparison.
            if self._observer is not None and event is not AuditEvent.HTTP_REQUEST:
                self._observer.recorded(name, outcome, auth_method, status)
        except Exception as exc:  # a bug here must not become a failed request
            print(f"audit: record not queued: {type(exc).__name__}", file=sys.stderr)

    def emit_for_request(
        self,
        request: HTTPConnection,
        event: AuditEvent,
        *,
        outcome: Outcome,
        actor: str | None = None,
        auth_method: str | None = None,
        status: int | None = None,
        detail: str | None = None,
    ) -> None:
        """`emit`, with the client address, request id, method and route taken from `request`."""
        state: dict[str, Any] = request.scope.get("state") or {}
        principal = state.get("principal")
        if actor is None:
            subject = getattr(principal, "actor", None)
            actor = subject if isinstance(subject, str) else "anonymous"
        if auth_method is None:
            method_name = getattr(principal, "auth_method", None)
            auth_method = method_name if isinstance(method_name, str) else None
        request_id = state.get("request_id")
        self.emit(
            event,
            outcome=outcome,
            actor=actor,
            auth_method=auth_method,
            ip=request.client.host if request.client else None,
            request_id=request_id if isinstance(request_id, str) else None,
            method=request.scope.get("method"),
            route=route_template(request.scope),
            status=status,
            detail=detail,
        )

    def _lost(self, count: int, reason: str, *, settle: bool) -> None:
        with self._counts:
            first = self._unreported == 0
            self._unreported += count
            self.dropped_total += count
            if settle:
                self._settled += count
                self._counts.notify_all()
        if self._observer is not None:
            try:
                self._observer.dropped(count)
            except Exception as exc:  # also called by the writer, which must survive
                print(f"audit: loss not counted: {type(exc).__name__}", file=sys.stderr)
        if first:
            # Once per gap, not once per record: stderr must not become the next bottleneck.
            print(
                f"audit: dropping records ({reason}); the gap will be noted",
                file=sys.stderr,
            )

    # -- writing ---------------------------------------------------------------------------

    def _kick(self, *, always: bool = False) -> None:
        """Wake the writer if it is waiting for records."""
        if not (self._idle or always):
            return
        self._idle = False
        loop, ready = self._loop, self._ready
        if loop is None or ready is None:
            self._wake.set()
        elif threading.get_ident() == self._loop_thread:
            ready.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closing: stop() writes them
                loop.call_soon_threadsafe(ready.set)

    async def _pump(self, ready: asyncio.Event) -> None:
        """The writer as a task of the event loop (see the module's docstring)."""
        while True:
            self._idle = True
            ready.clear()
            if not self._queue:
                # With writes not yet synced, wait only until they are due.
                wait = FSYNC_INTERVAL_SECONDS if self._file.unsynced else None
                try:
                    async with asyncio.timeout(wait):
                        await ready.wait()
                except TimeoutError:
                    await self._sync_in_thread()
                continue
            self._idle = False
            self._write_pending(blocking=False)
            if self._file.sync_due():
                await self._sync_in_thread()
            await asyncio.sleep(_LINGER_SECONDS)

    async def _sync_in_thread(self) -> None:
        with self._write_lock:
            fd = self._file.take_unsynced()
        if fd >= 0:
            await asyncio.to_thread(self._file.fsync_and_close, fd)

    def _run(self) -> None:
        """The writer as a thread: the same steps, blocking."""
        while True:
            self._idle = True
            if not self._queue:
                if self._stopping:
                    return
                # With writes not yet synced, wait only until they are due.
                woke = self._wake.wait(FSYNC_INTERVAL_SECONDS if self._file.unsynced else None)
                self._wake.clear()
                if not woke:
                    self._sync()
                continue
            self._idle = False
            self._write_pending(blocking=True)
            if self._file.sync_due():
                self._sync()
            self._wake.wait(_LINGER_SECONDS)
            self._wake.clear()

    def _sync(self) -> None:
        with self._write_lock:
            self._file.sync()

    def _write_all_and_close(self) -> None:
        self._write_pending(blocking=True)
        with self._write_lock:
            self._file.close()

    def _write_pending(self, *, blocking: bool) -> None:
        """Write what is queued, in batches. Without `blocking`, leave it queued if another
        process holds the log's lock (or another thread is writing): the writer comes back."""
        if not self._write_lock.acquire(blocking=blocking):
            return
        try:
            while self._queue:
                if not self._file.lock(blocking=blocking):
                    return
                try:
                    self._write_batch()
                finally:
                    self._file.unlock()
        except OSError as exc:  # the lock file itself cannot be opened: nothing can be written
            self._give_up_on_queue(exc)
        finally:
            self._write_lock.release()

    def _write_batch(self) -> None:
        batch: list[_Pending] = []
        with contextlib.suppress(IndexError):  # emptied by now: fewer than _BATCH
            while len(batch) < _BATCH:
                batch.append(self._queue.popleft())
        with self._counts:
            unreported, self._unreported = self._unreported, 0
        try:
            records = [_fields(pending, self._key.id) for pending in batch]
            if unreported:
                note = f"[audit: {unreported} record(s) lost: queue full or write error]"
                detail = records[0]["detail"]
                records[0]["detail"] = note if detail is None else f"{note} {detail}"
            written = self._file.append(records)
            if self.on_written is not None:
                self.on_written(written)
            if unreported:
                print(
                    f"audit: {unreported} record(s) were lost; noted in the log",
                    file=sys.stderr,
                )
        except Exception as exc:  # the writer must survive anything, and say what it lost
            with self._counts:
                self._unreported += unreported
            self._lost(len(batch), _cannot_write(self.path, exc), settle=False)
        finally:
            with self._counts:
                self._settled += len(batch)
                self._counts.notify_all()

    def _give_up_on_queue(self, exc: OSError) -> None:
        count = 0
        with contextlib.suppress(IndexError):
            while True:
                self._queue.popleft()
                count += 1
        self._lost(count, _cannot_write(self.path, exc), settle=True)


def _cannot_write(path: Path, exc: Exception) -> str:
    reason = exc.strerror if isinstance(exc, OSError) else None
    return f"cannot write {path}: {reason or type(exc).__name__}"


def _fields(pending: _Pending, key_id: str) -> dict[str, Any]:
    texts: tuple[str | None, ...] = (
        pending.event,
        pending.outcome,
        pending.actor,
        pending.auth_method,
        pending.ip,
        pending.request_id,
        pending.method,
        pending.route,
    )
    if not all_clean(texts, _MAX_FIELD):  # one test for the usual case: nothing to change
        texts = tuple(
            None if value is None else clean_text(str(value), _MAX_FIELD) for value in texts
        )
    event, outcome, actor, auth_method, ip, request_id, method, route = texts
    return {
        "ts": pending.ts,
        "seq": 0,
        "event": event,
        "outcome": outcome,
        "actor": actor or "anonymous",
        "auth_method": auth_method,
        "ip": ip,
        "request_id": request_id,
        "method": method,
        "route": route,
        "status": pending.status if isinstance(pending.status, int) else None,
        "detail": None if pending.detail is None else clean_text(str(pending.detail), _MAX_DETAIL),
        "kid": key_id,
        "prev_hash": GENESIS_HASH,
    }

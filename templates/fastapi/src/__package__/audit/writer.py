"""`AuditLog`: records are built on the request path and written by a background thread.

`emit` only puts a small object on a bounded queue, so logging never waits for the disk.
When the queue is full (the disk is stuck or far slower than the traffic) the record is
dropped rather than blocking the request: the number dropped is printed on stderr when it
starts, and written into the `detail` of the next record that reaches the file, so a gap is
itself on the record. Write errors are handled the same way.

Several worker processes may append to one file: each batch is written while holding an
exclusive `flock` on `<log>.lock`, so every process continues the same chain. The writer keeps
the log open and the chain's tail in memory; it reads the tail from the file again only when
the file is not where it left it (another process appended or rotated it). When the file would
grow past `max_bytes` it is renamed to `<log>.000001` (then `.000002`, ...) and the chain
continues in a new file; `verify_chain` follows it across files.

Durability: each batch is written with one `write()` as soon as the writer gets to it, so a
crash of the process loses only what was still queued (normally the last few milliseconds of
records). The file is fsynced at most once per `FSYNC_INTERVAL_SECONDS` while records arrive,
whenever the queue runs dry, and at shutdown, so a crash of the machine loses at most about a
second of records. A graceful shutdown loses nothing.

`on_written`, when set, is called by the writer thread with the bytes of each batch it wrote
(the shared view of audit/feed.py).

An `AuditObserver` (the service's metrics, metrics.py) hears of every record as it is emitted,
except the per-request `http_request` ones (the edge middleware measures requests itself), and of
every record lost: that is how security events become counters without a second call site.
"""

import asyncio
import fcntl
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from starlette.requests import HTTPConnection

from ..core.keys import Key
from .chain import (
    GENESIS_HASH,
    archive_path,
    archives,
    clean_text,
    encode_line,
    log_files,
    parse_record,
    record_hash,
    reverse_lines,
    reverse_lines_fd,
    utc_timestamp,
)
from .events import AuditEvent, Outcome, route_template

# Longest value kept per field; longer values are cut (a client controls some of them).
_MAX_DETAIL: Final = 1000
_MAX_FIELD: Final = 256
# Records written under one lock and one write().
_BATCH: Final = 512
FSYNC_INTERVAL_SECONDS: Final = 1.0
# After each batch the writer waits this long for more (unless someone flushes), so under load
# it wakes a few hundred times a second rather than once per record, and takes the GIL from
# the request path that much less often.
_LINGER_SECONDS: Final = 0.005


class AuditObserver(Protocol):
    """Told of records as they are emitted; must be cheap, and must not block or raise."""

    def recorded(
        self, event: str, outcome: str, auth_method: str | None, status: int | None
    ) -> None:
        """One record was emitted (`http_request` records excepted)."""

    def dropped(self, count: int) -> None:
        """`count` records were lost (queue full or write error)."""


@dataclass(frozen=True, slots=True)
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
        # The audit key (not the application key) that chains the records.
        self._key = key
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.max_bytes = max_bytes
        self._queue: queue.Queue[_Pending | None] = queue.Queue(maxsize=queue_size)
        self._counts = threading.Condition()
        self._accepted = 0  # records emit() took responsibility for
        self._settled = 0  # of those, written or given up on
        self._unreported = 0  # lost records not yet noted in the log
        self.dropped_total = 0
        self._observer = observer
        self._thread: threading.Thread | None = None
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        # The open log and lock files, and where this process left the chain: (seq, hash,
        # file size after our last write), valid while nobody else has written since.
        self._fd = -1
        self._lock_fd = -1
        self._tail: tuple[int, str, int] | None = None
        self._synced_at = 0.0
        self._unsynced = False
        self.on_written: Callable[[bytes], None] | None = None

    @property
    def queue_depth(self) -> int:
        """Records waiting for the writer (approximate, as any queue size read is)."""
        return self._queue.qsize()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        thread = self._thread
        if thread is None:
            await asyncio.to_thread(self.flush)
            return
        # The sentinel waits for room in the queue, so everything emitted before it is written.
        await asyncio.to_thread(self._queue.put, None)
        self._wake.set()
        await asyncio.to_thread(thread.join)
        self._thread = None
        self._close()

    def flush(self, timeout: float = 5.0) -> None:
        """Block until every record emitted so far is on disk (or given up on)."""
        with self._counts:
            target = self._accepted
        if self._thread is None or not self._thread.is_alive():
            # No writer running (a command, or before start): write in this thread.
            self._drain()
            self._close()
            return
        self._wake.set()
        with self._counts:
            self._counts.wait_for(lambda: self._settled >= target, timeout)

    # -- producing records -----------------------------------------------------------------

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
            try:
                self._queue.put_nowait(pending)
            except queue.Full:
                self._lost(1, "audit queue full", settle=True)
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
            subject = getattr(principal, "subject", None)
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
            except Exception as exc:  # also called by the writer thread, which must survive
                print(f"audit: loss not counted: {type(exc).__name__}", file=sys.stderr)
        if first:
            # Once per gap, not once per record: stderr must not become the next bottleneck.
            print(
                f"audit: dropping records ({reason}); the gap will be noted",
                file=sys.stderr,
            )

    # -- writing ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                # With writes not yet synced, wait only until they are due.
                item = self._queue.get(timeout=FSYNC_INTERVAL_SECONDS if self._unsynced else None)
            except queue.Empty:
                self._sync()
                continue
            if item is None:
                self._sync()
                return
            batch = [item]
            stop = False
            while len(batch) < _BATCH:
                try:
                    following = self._queue.get_nowait()
                except queue.Empty:
                    break
                if following is None:
                    stop = True
                    break
                batch.append(following)
            self._write(batch)
            if stop:
                self._sync()
                return
            self._wake.wait(_LINGER_SECONDS)
            self._wake.clear()

    def _drain(self) -> None:
        while True:
            batch: list[_Pending] = []
            while len(batch) < _BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    batch.append(item)
            if not batch:
                return
            self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        with self._counts:
            unreported, self._unreported = self._unreported, 0
        try:
            records = [_fields(pending, self._key.id) for pending in batch]
            if unreported:
                note = f"[audit: {unreported} record(s) lost: queue full or write error]"
                detail = records[0]["detail"]
                records[0]["detail"] = note if detail is None else f"{note} {detail}"
            with self._write_lock:
                written = self._append(records)
            if self.on_written is not None:
                self.on_written(written)
            if unreported:
                print(f"audit: {unreported} record(s) were lost; noted in the log", file=sys.stderr)
        except Exception as exc:  # the writer thread must survive anything, and say what it lost
            reason = exc.strerror if isinstance(exc, OSError) else None
            with self._counts:
                self._unreported += unreported
            self._lost(
                len(batch),
                f"cannot write {self.path}: {reason or type(exc).__name__}",
                settle=False,
            )
        finally:
            with self._counts:
                self._settled += len(batch)
                self._counts.notify_all()

    def _append(self, records: list[dict[str, Any]]) -> bytes:
        if self._lock_fd < 0:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock_fd = _open_private(self.lock_path, os.O_RDWR)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            fd = self._current_log()
            size = os.fstat(fd).st_size
            if self._tail is not None and self._tail[2] == size:
                seq, prev_hash, torn = self._tail[0], self._tail[1], False
            else:
                try:
                    seq, prev_hash, torn = _chain_tail(self.path, fd, size)
                except UnkeyedLogError:
                    self._close_log()
                    for moved in retire_unkeyed_log(self.path):
                        print(f"audit: unkeyed log moved to {moved}", file=sys.stderr)
                    fd, size = self._current_log(), 0
                    seq, prev_hash, torn = 0, GENESIS_HASH, False
            data = bytearray()
            for record in records:
                seq += 1
                record["seq"] = seq
                record["prev_hash"] = prev_hash
                record["hash"] = prev_hash = record_hash(record, self._key)
                data += encode_line(record)
            if size > 0 and size + len(data) > self.max_bytes:
                self._rotate()
                fd, size = self._current_log(), 0
            elif torn:
                # The last line was cut short (a crash mid-write): keep ours on its own line.
                data[:0] = b"\n"
            payload = bytes(data)
            _write_all(fd, payload)
            self._tail = (seq, prev_hash, size + len(data))
            self._unsynced = True
            if time.monotonic() - self._synced_at >= FSYNC_INTERVAL_SECONDS:
                self._sync_held()
            return payload
        except BaseException:
            # Whatever happened to the file, the next batch reads it afresh.
            self._tail = None
            raise
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _current_log(self) -> int:
        """The open log file, reopened if another process rotated it away from `path`."""
        if self._fd >= 0:
            try:
                moved = os.stat(self.path).st_ino != os.fstat(self._fd).st_ino
            except FileNotFoundError:
                moved = True
            if not moved:
                return self._fd
            self._close_log()
        self._fd = _open_log(self.path)
        return self._fd

    def _sync(self) -> None:
        with self._write_lock:
            self._sync_held()

    def _sync_held(self) -> None:
        # Called with `_write_lock` held.
        if self._unsynced and self._fd >= 0:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                print(f"audit: cannot fsync {self.path}: {exc.strerror}", file=sys.stderr)
        self._unsynced = False
        self._synced_at = time.monotonic()

    def _close_log(self) -> None:
        if self._fd >= 0:
            if self._unsynced:
                os.fsync(self._fd)
                self._unsynced = False
            os.close(self._fd)
            self._fd = -1
            self._tail = None

    def _close(self) -> None:
        with self._write_lock:
            self._close_log()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1

    def _rotate(self) -> None:
        self._close_log()
        existing = archives(self.path)
        index = 1
        if existing:
            index = int(existing[-1].name.rsplit(".", 1)[1]) + 1
        os.rename(self.path, archive_path(self.path, index))


def _fields(pending: _Pending, key_id: str) -> dict[str, Any]:
    def text(value: str | None, limit: int = _MAX_FIELD) -> str | None:
        return None if value is None else clean_text(str(value), limit)

    return {
        "ts": pending.ts,
        "seq": 0,
        "event": text(pending.event),
        "outcome": text(pending.outcome),
        "actor": text(pending.actor) or "anonymous",
        "auth_method": text(pending.auth_method),
        "ip": text(pending.ip),
        "request_id": text(pending.request_id),
        "method": text(pending.method),
        "route": text(pending.route),
        "status": pending.status if isinstance(pending.status, int) else None,
        "detail": text(pending.detail, _MAX_DETAIL),
        "kid": key_id,
        "prev_hash": GENESIS_HASH,
        "hash": "",
    }


def _open_log(path: Path) -> int:
    return _open_private(path, os.O_RDWR | os.O_APPEND)


def _open_private(path: Path, flags: int) -> int:
    # 0o600 from the first byte; O_NOFOLLOW so a planted symlink cannot redirect the log.
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    if os.fstat(fd).st_mode & 0o077:
        os.fchmod(fd, 0o600)
    return fd


def _chain_tail(path: Path, fd: int, size: int) -> tuple[int, str, bool]:
    """(last seq, last hash, whether the file ends mid-line) of the chain to continue."""
    if size == 0:
        older = archives(path)
        last = next(reverse_lines(older[-1]), None) if older else None
        torn = False
    else:
        last = next(reverse_lines_fd(fd, size), None)
        torn = os.pread(fd, 1, size - 1) != b"\n"
    if last is None:
        return 0, GENESIS_HASH, torn
    record = parse_record(last)
    if record is None or not isinstance(record.get("seq"), int) or torn:
        # Unreadable end of chain: start over from genesis; `audit verify` reports the break.
        return 0, GENESIS_HASH, torn
    if "kid" not in record:
        raise UnkeyedLogError
    return int(record["seq"]), str(record.get("hash")), False


class UnkeyedLogError(Exception):
    """The log was written before audit hashes were keyed: it cannot be continued."""


def retire_unkeyed_log(path: Path) -> list[Path]:
    """Rename an unkeyed log and its archives to `<name>.unkeyed`, out of the new chain's way.

    Its records keep their own (unkeyed) chain for the release that wrote it to verify; the
    keyed chain starts afresh from genesis in a new file.
    """
    moved = []
    for file in log_files(path):
        target = file.with_name(file.name + ".unkeyed")
        os.rename(file, target)
        moved.append(target)
    return moved


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]

"""The file side of the audit log: one chain continued by every process that appends to it.

Several worker processes may append to one file: each batch is hashed and written while holding
an exclusive `flock` on `<log>.lock`, so every process continues the same chain. The file stays
open and the chain's tail is kept in memory; it is read from the file again only when the file
is not where this process left it (another process appended or rotated it). When the file would
grow past `max_bytes` it is renamed to `<log>.000001` (then `.000002`, ...) and the chain
continues in a new file; `verify_chain` follows it across files.

Not thread-safe on its own: `AuditLog` lets one writer at a time in.
"""

import fcntl
import os
import sys
import time
from pathlib import Path
from typing import Any, Final

from ..core.keys import Key
from .chain import (
    GENESIS_HASH,
    archive_path,
    archives,
    log_files,
    parse_record,
    reverse_lines,
    reverse_lines_fd,
    sealed_line,
)

FSYNC_INTERVAL_SECONDS: Final = 1.0


class LogFile:
    def __init__(self, path: Path, *, key: Key, max_bytes: int) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self.max_bytes = max_bytes
        # The audit key (not the application key) that chains the records.
        self._key = key
        self._fd = -1
        self._lock_fd = -1
        # Where this process left the chain: (seq, hash, file size after our last write), valid
        # while nobody else has written since.
        self._tail: tuple[int, str, int] | None = None
        self._synced_at = 0.0
        self.unsynced = False

    def lock(self, *, blocking: bool) -> bool:
        """Take the log's lock; without `blocking`, False at once if another process holds it."""
        if self._lock_fd < 0:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock_fd = _open_private(self.lock_path, os.O_RDWR)
        try:
            fcntl.flock(
                self._lock_fd,
                fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB,
            )
        except BlockingIOError:
            return False
        return True

    def unlock(self) -> None:
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def append(self, records: list[dict[str, Any]]) -> bytes:
        """Chain `records` (without `seq`, `prev_hash`, `hash`) onto the log; needs the lock."""
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
                line, prev_hash = sealed_line(record, self._key)
                data += line
            if size > 0 and size + len(data) > self.max_bytes:
                self._rotate()
                fd, size = self._current_log(), 0
            elif torn:
                # The last line was cut short (a crash mid-write): keep ours on its own line.
                data[:0] = b"\n"
            payload = bytes(data)
            _write_all(fd, payload)
            self._tail = (seq, prev_hash, size + len(data))
            self.unsynced = True
            return payload
        except BaseException:
            # Whatever happened to the file, the next batch reads it afresh.
            self._tail = None
            raise

    def sync_due(self) -> bool:
        return self.unsynced and time.monotonic() - self._synced_at >= FSYNC_INTERVAL_SECONDS

    def take_unsynced(self) -> int:
        """A duplicate of the log's descriptor for `fsync_and_close`, or -1 if all is synced.

        A duplicate, so the fsync can run in another thread while this one goes on writing (or
        rotates the file: the fsync then still covers the records written to the old one).
        """
        fd = os.dup(self._fd) if self.unsynced and self._fd >= 0 else -1
        self.unsynced = False
        self._synced_at = time.monotonic()
        return fd

    def fsync_and_close(self, fd: int) -> None:
        if fd < 0:
            return
        try:
            os.fsync(fd)
        except OSError as exc:
            print(f"audit: cannot fsync {self.path}: {exc.strerror}", file=sys.stderr)
        finally:
            os.close(fd)

    def sync(self) -> None:
        self.fsync_and_close(self.take_unsynced())

    def close(self) -> None:
        self._close_log()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

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
        self._fd = _open_private(self.path, os.O_RDWR | os.O_APPEND)
        return self._fd

    def _close_log(self) -> None:
        if self._fd >= 0:
            if self.unsynced:
                os.fsync(self._fd)
                self.unsynced = False
            os.close(self._fd)
            self._fd = -1
            self._tail = None

    def _rotate(self) -> None:
        self._close_log()
        existing = archives(self.path)
        index = 1
        if existing:
            index = int(existing[-1].name.rsplit(".", 1)[1]) + 1
        os.rename(self.path, archive_path(self.path, index))


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

"""Check the hash chain of an audit log, across its rotated files, and read it back.

`verify_chain` walks every record in chain order and stops at the first one that does not
follow from the one before: that is the first record somebody edited, or the first place where
records were deleted, inserted or reordered.
"""

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chain import (
    GENESIS_HASH,
    HASH_PATTERN,
    log_files,
    parse_record,
    record_hash,
    reverse_lines,
)
from .events import RECORD_FIELDS


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    records: int
    files: tuple[Path, ...]
    error: str | None = None
    broken_file: Path | None = None
    broken_line: int | None = None

    def describe(self) -> str:
        if self.ok:
            return f"audit log intact: {self.records} record(s) in {len(self.files)} file(s)"
        return f"audit log broken at {self.broken_file}:{self.broken_line}: {self.error}"


def verify_chain(path: Path) -> VerifyResult:
    """Verify the log at `path` and its archives; `ok` is False on a missing log too."""
    path = Path(path)
    with _writers_paused(path):
        return _verify(path)


@contextmanager
def _writers_paused(path: Path) -> Iterator[None]:
    """Hold the writers' lock (shared) so no rotation or half-written batch is seen."""
    try:
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no writer ever ran here, or we may not read its lock: verify as is
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def _verify(path: Path) -> VerifyResult:
    files = tuple(log_files(path))
    if not files:
        return VerifyResult(False, 0, (), f"no audit log at {path}", path, 0)
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for file in files:
        with file.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                record, problem = _check(raw, expected_prev, expected_seq)
                if record is None:
                    return VerifyResult(False, count, files, problem, file, number)
                expected_prev = str(record["hash"])
                expected_seq += 1
                count += 1
    return VerifyResult(True, count, files)


def _check(
    raw: bytes, expected_prev: str, expected_seq: int
) -> tuple[dict[str, Any], None] | tuple[None, str]:
    """The record if it continues the chain, else why not."""
    if not raw.endswith(b"\n"):
        return (
            None,
            "the last line is incomplete (the file was cut or a write was interrupted)",
        )
    record = parse_record(raw)
    if record is None:
        return None, "not a JSON object"
    problem = _problem(record, expected_prev, expected_seq)
    return (record, None) if problem is None else (None, problem)


def _problem(record: dict[str, Any], expected_prev: str, expected_seq: int) -> str | None:
    seq = record.get("seq")
    stored = record.get("hash")
    if set(record) != set(RECORD_FIELDS):
        problem = "fields were added or removed"
    elif not isinstance(stored, str) or not HASH_PATTERN.match(stored):
        problem = "the hash is missing or malformed"
    elif record_hash(record) != stored:
        problem = f"record seq={seq!r} was modified (its hash does not match its content)"
    elif record["prev_hash"] != expected_prev and expected_seq == 1:
        problem = "the first record does not start the chain: earlier records or files are missing"
    elif record["prev_hash"] != expected_prev:
        problem = (
            f"record seq={seq!r} does not follow the record before it: "
            "records were deleted, inserted or reordered here"
        )
    elif seq != expected_seq:
        problem = f"expected seq {expected_seq}, found {seq!r}"
    else:
        problem = None
    return problem


def read_recent(path: Path, *, limit: int, event: str | None = None) -> list[dict[str, Any]]:
    """Up to `limit` records, newest first, optionally only those of one event."""
    found: list[dict[str, Any]] = []
    for record in _newest_first(Path(path)):
        if event is None or record.get("event") == event:
            found.append(record)
            if len(found) >= limit:
                break
    return found


def _newest_first(path: Path) -> Iterator[dict[str, Any]]:
    for file in reversed(log_files(path)):
        try:
            for line in reverse_lines(file):
                record = parse_record(line)
                if record is not None:
                    yield record
        except FileNotFoundError:  # renamed by a rotation while we were reading
            continue

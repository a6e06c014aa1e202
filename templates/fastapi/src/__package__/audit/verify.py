"""Check the chain of an audit log, across its rotated files, against its checkpoints.

`verify_chain` walks every record in chain order and stops at the first one that does not
follow from the one before: that is the first record somebody edited, or the first place where
records were deleted, inserted or reordered. Each record's keyed hash is checked with the audit
key its `kid` names. Given the log's checkpoints (audit/checkpoints.py), it also reports a log
that no longer reaches the latest one (its end was cut off, or it was rolled back to an earlier
copy) and one whose record at a checkpointed `seq` is not the record that was checkpointed.
"""

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.keys import KeyRing
from .chain import (
    GENESIS_HASH,
    HASH_PATTERN,
    log_files,
    parse_record,
    record_hash,
    reverse_lines,
)
from .events import RECORD_FIELDS

_UNKEYED_FIELDS = frozenset(RECORD_FIELDS) - {"kid"}


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where the log ended when a checkpoint was taken: the `seq` and `hash` of its last record."""

    seq: int
    hash: str
    taken_at: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    records: int
    files: tuple[Path, ...]
    error: str | None = None
    broken_file: Path | None = None
    broken_line: int | None = None
    # The first record that is wrong or missing (None when the log is intact).
    broken_seq: int | None = None
    checkpoints: int = 0

    def describe(self) -> str:
        if self.ok:
            checked = (
                f"; reaches all {self.checkpoints} checkpoint(s)"
                if self.checkpoints
                else "; no checkpoint to compare with"
            )
            return (
                f"audit log intact: {self.records} record(s) in {len(self.files)} file(s){checked}"
            )
        if self.broken_file is None:
            return f"audit checkpoints broken: {self.error}"
        return f"audit log broken at {self.broken_file}:{self.broken_line}: {self.error}"


def verify_chain(path: Path, ring: KeyRing, checkpoints: Sequence[Checkpoint] = ()) -> VerifyResult:
    """Verify the log at `path` and its archives; `ok` is False on a missing log too."""
    path = Path(path)
    with writers_paused(path):
        return _verify(path, ring, checkpoints)


@contextmanager
def writers_paused(path: Path) -> Iterator[None]:
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


def _verify(path: Path, ring: KeyRing, checkpoints: Sequence[Checkpoint]) -> VerifyResult:
    files = tuple(log_files(path))
    if not files:
        return VerifyResult(False, 0, (), f"no audit log at {path}", path, 0)
    expected = {checkpoint.seq: checkpoint for checkpoint in checkpoints}
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    file, number = files[0], 0
    for file in files:
        number = 0
        with file.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                record, problem = _check(raw, ring, expected_prev, expected_seq)
                if record is None:
                    return VerifyResult(False, count, files, problem, file, number, expected_seq)
                checkpoint = expected.get(expected_seq)
                if checkpoint is not None and checkpoint.hash != record["hash"]:
                    problem = (
                        f"record seq={expected_seq} is not the record checkpointed at "
                        f"{checkpoint.taken_at}: the log was rolled back and rewritten from here"
                    )
                    return VerifyResult(False, count, files, problem, file, number, expected_seq)
                expected_prev = str(record["hash"])
                expected_seq += 1
                count += 1
    latest = max(checkpoints, key=lambda checkpoint: checkpoint.seq, default=None)
    if latest is not None and latest.seq > count:
        problem = (
            f"the log ends at seq {count}, but it reached seq {latest.seq} at "
            f"{latest.taken_at}: records were cut off its end or it was rolled back"
        )
        return VerifyResult(False, count, files, problem, file, number + 1, count + 1)
    return VerifyResult(True, count, files, checkpoints=len(checkpoints))


def _check(
    raw: bytes, ring: KeyRing, expected_prev: str, expected_seq: int
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
    problem = _problem(record, ring, expected_prev, expected_seq)
    return (record, None) if problem is None else (None, problem)


def _problem(
    record: dict[str, Any], ring: KeyRing, expected_prev: str, expected_seq: int
) -> str | None:
    seq = record.get("seq")
    stored = record.get("hash")
    key = ring.find(record.get("kid"))
    if set(record) == _UNKEYED_FIELDS:
        problem = (
            f"record seq={seq!r} has no `kid`: it was written before audit hashes were keyed and "
            "cannot be verified by this version (verify it with the release that wrote it); the "
            "service moves such a log aside, as `<file>.unkeyed`, when it next writes"
        )
    elif set(record) != set(RECORD_FIELDS):
        problem = "fields were added or removed"
    elif not isinstance(stored, str) or not HASH_PATTERN.match(stored):
        problem = "the hash is missing or malformed"
    elif key is None:
        problem = (
            f"record seq={seq!r} names audit key {record.get('kid')!r}, which is neither "
            "APP_AUDIT_KEY nor in APP_PREVIOUS_AUDIT_KEYS"
        )
    elif record_hash(record, key) != stored:
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

"""The on-disk format of the audit log: one JSON object per line, chained by keyed hashes.

Each record's `hash` is an HMAC-SHA-256, under the audit key named by its `kid`, of its
canonical JSON (sorted keys, no whitespace, ASCII only) without the `hash` field; that
canonical form includes `prev_hash`, the `hash` of the record before it (`GENESIS_HASH` for the
very first). Changing, removing, inserting or moving a record therefore breaks the chain at
that point, which is what `verify_chain` looks for, and without the audit key nobody can make
a record that continues it: whoever can rewrite the file cannot recompute the chain.

What the key cannot show is a log cut short or replaced by an earlier copy of itself: every
record left is genuine. Checkpoints of the log's end, kept in the database
(audit/checkpoints.py), cover that.
"""

import json
import os
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from ..core.keys import Key

GENESIS_HASH: Final = "0" * 64
HASH_PATTERN: Final = re.compile(r"^[0-9a-f]{64}$")

# Control characters (C0, DEL, C1), line and paragraph separators and the bidirectional
# overrides are written as visible escapes: one event is always one line, and a value cannot
# pretend to be another record or reorder what a terminal shows.
_NAMED_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BIDI_CONTROLS: Final = (0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))


def _escape_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *_BIDI_CONTROLS):
        char = chr(code)
        table[code] = _NAMED_ESCAPES.get(
            char, f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
        )
    return table


_ESCAPES: Final = _escape_table()

# Credentials must never reach the log. Callers are not supposed to pass them, so this is a
# second line of defence against the usual shapes: bearer/basic credentials and JWTs.
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_AUTH_SCHEME: Final = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


# Anything clean_text could change: a character outside printable ASCII, or the start of a JWT
# or of an authorization scheme. Most values (event names, addresses, ids, routes) have none,
# and one search is far cheaper than the two substitutions and the translation.
_NEEDS_CLEANING: Final = re.compile(r"[^\x20-\x7e]|eyJ|(?i:bearer|basic)")


def clean_text(value: str, max_length: int) -> str:
    """Redact credential-shaped text, escape control characters and bound the length."""
    if len(value) <= max_length and _NEEDS_CLEANING.search(value) is None:
        return value
    value = _JWT.sub("[redacted]", value)
    value = _AUTH_SCHEME.sub(r"\1 [redacted]", value)
    value = value.translate(_ESCAPES)
    if len(value) > max_length:
        value = value[: max_length - 14] + "...[truncated]"
    return value


def all_clean(values: Sequence[str | None], max_length: int) -> bool:
    """Whether `clean_text` would leave every one of `values` (all strings, or None) as it is."""
    present = [value for value in values if value is not None]
    if not all(type(value) is str and len(value) <= max_length for value in present):
        return False
    # Joined by a space, no match can span two values.
    return _NEEDS_CLEANING.search(" ".join(present)) is None


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 in UTC with a `Z`, e.g. `2025-01-31T12:00:00.123456Z`."""
    moment = datetime.now(UTC) if moment is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


# Built once: `json.dumps` with options builds a new encoder on every call, a third of its cost.
_CANONICAL: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
)
# ensure_ascii: even a character the escape table missed cannot break the line.
_LINE: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def canonical_json(fields: dict[str, Any]) -> bytes:
    return _CANONICAL.encode(fields).encode("ascii")


# The audit key's subkey for record hashes (another one signs checkpoints).
RECORD_PURPOSE: Final = "audit-record"


def record_hash(record: dict[str, Any], key: Key) -> str:
    """The hash a record must carry: the keyed hash of everything in it except `hash` itself."""
    body = {name: value for name, value in record.items() if name != "hash"}
    return key.mac(RECORD_PURPOSE, canonical_json(body))


def sealed_line(record: dict[str, Any], key: Key) -> tuple[bytes, str]:
    """Seal `record` (every field but `hash`, in the order a reader expects): set its `hash` and
    return its log line and that hash."""
    digest = key.mac(RECORD_PURPOSE, canonical_json(record))
    record["hash"] = digest
    return _LINE.encode(record).encode("ascii") + b"\n", digest


def archive_path(path: Path, index: int) -> Path:
    return path.with_name(f"{path.name}.{index:06d}")


def archives(path: Path) -> list[Path]:
    """Rotated files of `path`, oldest first (`audit.jsonl.000001`, `audit.jsonl.000002`, ...)."""
    pattern = re.compile("^" + re.escape(path.name) + r"\.(\d{6,})$")
    found: list[tuple[int, Path]] = []
    if path.parent.is_dir():
        for candidate in path.parent.iterdir():
            match = pattern.match(candidate.name)
            if match and candidate.is_file():
                found.append((int(match.group(1)), candidate))
    return [candidate for _, candidate in sorted(found)]


def log_files(path: Path) -> list[Path]:
    """Every file of the log in chain order: the archives, then the live file if present."""
    files = archives(path)
    if path.exists():
        files.append(path)
    return files


def reverse_lines_fd(fd: int, end: int, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """The complete lines of an open file, last first, reading backwards from `end`."""
    position = end
    pending = b""
    while position > 0:
        start = max(0, position - chunk_size)
        chunk = os.pread(fd, position - start, start)
        position = start
        pending = chunk + pending
        parts = pending.split(b"\n")
        pending = parts[0]
        for line in reversed(parts[1:]):
            if line:
                yield line
    if pending:
        yield pending


def reverse_lines(path: Path) -> Iterator[bytes]:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        yield from reverse_lines_fd(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def parse_record(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None

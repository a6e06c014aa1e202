"""Checkpoints of the audit log's end, kept in the database, out of reach of the log file.

The keyed chain (audit/chain.py) shows any record that was edited, removed, inserted or moved,
but every record of a log cut short, or of an earlier copy put back in its place, is genuine.
So every `APP_AUDIT_CHECKPOINT_INTERVAL_SECONDS` while records arrive, and at every shutdown,
the service writes the `seq` and `hash` of the log's last record into `audit_checkpoints`,
signed with the audit key. `audit verify` then also requires the log to reach the latest
checkpoint and to hold, at every checkpointed `seq`, the very record that was checkpointed.

Only records already on disk are checkpointed (the log is fsynced first), so a crash cannot
leave a checkpoint ahead of the log. Someone who can write to the database but lacks the audit
key can delete checkpoints (hiding a later truncation) but not forge or move one.
"""

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from sqlalchemy import delete, select

from ..core.keys import Key, KeyRing
from ..db import Database, utcnow
from ..models import AuditCheckpoint
from .chain import canonical_json, log_files, parse_record, reverse_lines, utc_timestamp
from .verify import Checkpoint, writers_paused

logger = logging.getLogger(__name__)

CHECKPOINT_PURPOSE: Final = "audit-checkpoint"
# Older checkpoints than this are pruned (the latest of a chain is always kept): the latest one
# is what detects a cut or a rollback; the others only narrow down when it happened.
RETENTION: Final = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class ChainEnds:
    chain: str  # the `hash` of the first record, which names the chain
    seq: int
    hash: str


def log_name(path: Path) -> str:
    """Which log a checkpoint was taken of, for the operator reading the table."""
    return f"{socket.gethostname()}:{Path(path).resolve()}"


def read_chain_ends(path: Path) -> ChainEnds | None:
    """The first and last records of the log at `path` once on disk; None if there are none."""
    with writers_paused(path):
        files = log_files(path)
        first = _first_record(files[0]) if files else None
        last = None
        for file in reversed(files):
            line = next(reverse_lines(file), None)
            if line is not None:
                last = parse_record(line)
                _fsync(file)
                break
    if first is None or last is None:
        return None
    chain, seq, last_hash = first.get("hash"), last.get("seq"), last.get("hash")
    if not isinstance(chain, str) or not isinstance(seq, int) or not isinstance(last_hash, str):
        return None  # a damaged end: nothing trustworthy to checkpoint, `audit verify` says why
    return ChainEnds(chain, seq, last_hash)


def _first_record(file: Path) -> dict[str, object] | None:
    with file.open("rb") as handle:
        return parse_record(handle.readline())


def _fsync(file: Path) -> None:
    fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mac(key: Key, *, chain: str, log: str, seq: int, hash_: str, created_at: datetime) -> str:
    body = {
        "chain": chain,
        "log": log,
        "seq": seq,
        "hash": hash_,
        "key_id": key.id,
        "created_at": utc_timestamp(created_at),
    }
    return key.mac(CHECKPOINT_PURPOSE, canonical_json(body))


async def checkpoint_now(database: Database, key: Key, path: Path) -> ChainEnds | None:
    """Checkpoint the end of the log at `path`; returns what was checkpointed, if anything."""
    ends = await asyncio.to_thread(read_chain_ends, path)
    if ends is not None:
        await write_checkpoint(database, key, path, ends)
    return ends


async def write_checkpoint(database: Database, key: Key, path: Path, ends: ChainEnds) -> None:
    now, log = utcnow(), log_name(path)
    async with database.session() as db:
        row = AuditCheckpoint(
            chain=ends.chain,
            log=log,
            seq=ends.seq,
            hash=ends.hash,
            key_id=key.id,
            created_at=now,
            mac=_mac(key, chain=ends.chain, log=log, seq=ends.seq, hash_=ends.hash, created_at=now),
        )
        db.add(row)
        await db.flush()
        await db.execute(
            delete(AuditCheckpoint).where(
                AuditCheckpoint.chain == ends.chain,
                AuditCheckpoint.created_at < now - RETENTION,
                AuditCheckpoint.id != row.id,
            )
        )
        await db.commit()


@dataclass(frozen=True, slots=True)
class LoadedCheckpoints:
    valid: list[Checkpoint]
    # Signed by a configured key, but not over what they say: someone changed the database.
    forged: list[str]
    # Signed by a key no longer configured: they can be neither trusted nor refuted.
    unchecked: list[str]


async def load_checkpoints(database: Database, ring: KeyRing, chain: str) -> LoadedCheckpoints:
    """The checkpoints of `chain`, sorted by whether their signature holds."""
    async with database.session() as db:
        rows = (
            await db.scalars(
                select(AuditCheckpoint)
                .where(AuditCheckpoint.chain == chain)
                .order_by(AuditCheckpoint.seq)
            )
        ).all()
    loaded = LoadedCheckpoints([], [], [])
    for row in rows:
        key = ring.find(row.key_id)
        if key is None:
            loaded.unchecked.append(
                f"checkpoint {row.id} (seq {row.seq}) is signed by audit key {row.key_id!r}, "
                "which is not configured: not checked"
            )
            continue
        signed = row.mac == _mac(
            key,
            chain=row.chain,
            log=row.log,
            seq=row.seq,
            hash_=row.hash,
            created_at=row.created_at,
        )
        if not signed:
            loaded.forged.append(
                f"checkpoint {row.id} (seq {row.seq}) does not match its signature: "
                "it was forged or altered in the database"
            )
            continue
        loaded.valid.append(Checkpoint(row.seq, row.hash, utc_timestamp(row.created_at)))
    return loaded


def chain_of(path: Path) -> str | None:
    """The id of the chain stored at `path`: the `hash` of its first record."""
    files = log_files(path)
    first = _first_record(files[0]) if files else None
    chain = first.get("hash") if first else None
    return chain if isinstance(chain, str) else None


class Checkpointer:
    """Checkpoints one log in the background while the service runs, and once more at its end."""

    def __init__(self, database: Database, ring: KeyRing, path: Path, interval: float) -> None:
        self._database = database
        self._key = ring.active
        self._path = path
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._last: ChainEnds | None = None
        self._failing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-checkpoints")

    async def stop(self) -> None:
        """Stop the timer and checkpoint the end (call after the audit log was flushed)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.checkpoint()

    async def checkpoint(self) -> None:
        try:
            ends = await asyncio.to_thread(read_chain_ends, self._path)
            if ends is not None and ends != self._last:  # an idle log is not checkpointed again
                await write_checkpoint(self._database, self._key, self._path, ends)
                self._last = ends
        except Exception as exc:  # the service keeps running; the operator hears of it once
            if not self._failing:
                logger.warning("audit checkpoint not written: %s", type(exc).__name__)
            self._failing = True
        else:
            if self._failing:
                logger.warning("audit checkpoints written again")
            self._failing = False

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.checkpoint()

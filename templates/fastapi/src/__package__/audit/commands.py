"""What the command line does with the audit log: verify it, and checkpoint what a command wrote."""

import asyncio
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ..core.config import Settings
from ..core.keys import KeyRing, audit_ring
from ..db import Database
from .checkpoints import LoadedCheckpoints, chain_of, checkpoint_now, load_checkpoints
from .verify import VerifyResult, verify_chain


def _database(settings: Settings) -> Database | None:
    """The service's database, unless it is a SQLite file that does not exist (yet)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not Path(str(url.database or "")).is_file():
        return None
    return Database(settings.database_url)


async def _checkpoints(database: Database, ring: KeyRing, chain: str) -> LoadedCheckpoints:
    try:
        return await load_checkpoints(database, ring, chain)
    finally:
        await database.dispose()


def audit_verify(settings: Settings, path: Path) -> tuple[VerifyResult, list[str]]:
    """Verify the log at `path` with the audit keys and its checkpoints; also returns warnings."""
    ring = audit_ring(settings)
    chain = chain_of(path)
    database = _database(settings) if chain is not None else None
    if chain is None or database is None:
        why = "the log has no first record" if chain is None else "no database"
        return verify_chain(path, ring), [f"checkpoints not checked: {why}"]
    try:
        loaded = asyncio.run(_checkpoints(database, ring, chain))
    except (SQLAlchemyError, OSError) as exc:
        # The chain is still verified; only the cut-or-rollback check needs the database.
        why = f"cannot read them from APP_DATABASE_URL ({type(exc).__name__})"
        return verify_chain(path, ring), [f"checkpoints not checked: {why}"]
    if loaded.forged:
        return VerifyResult(False, 0, (path,), "; ".join(loaded.forged)), loaded.unchecked
    return verify_chain(path, ring, loaded.valid), loaded.unchecked


def checkpoint_after_command(settings: Settings) -> None:
    """Checkpoint the log after a command wrote to it, as the service does when it stops."""
    database = _database(settings)
    if database is None:
        return

    async def run() -> None:
        try:
            await checkpoint_now(database, audit_ring(settings).active, settings.audit_log_path)
        finally:
            await database.dispose()

    try:
        asyncio.run(run())
    except (SQLAlchemyError, OSError) as exc:
        print(f"warning: audit checkpoint not written: {type(exc).__name__}", file=sys.stderr)

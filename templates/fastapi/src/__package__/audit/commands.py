"""What the command line does with the audit log: verify it, report on it, and checkpoint what a
command wrote. `add_audit_commands` wires the `audit` subcommands into the command line."""

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ..core.config import Settings
from ..core.keys import KeyRing, audit_ring
from ..db import Database
from .checkpoints import LoadedCheckpoints, chain_of, checkpoint_now, load_checkpoints
from .report import ReportError, build_report, parse_duration
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


def add_audit_commands(audit: argparse.ArgumentParser, settings: Callable[[], Settings]) -> None:
    """`audit verify` and `audit report`, reading their settings with `settings()`."""
    commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = commands.add_parser("verify", help="check the audit log's hash chain")
    verify.add_argument("path", nargs="?", type=Path, help="default APP_AUDIT_LOG_PATH")
    verify.set_defaults(handler=lambda args: _verify(settings(), args.path))
    report = commands.add_parser(
        "report", help="summarise recent security events; exit 1 if a threshold is crossed"
    )
    report.add_argument(
        "--since",
        type=_duration,
        default="24h",
        metavar="DURATION",
        help="how far back to look: e.g. 30m, 24h (the default), 7d",
    )
    report.add_argument("--json", action="store_true", help="print JSON")
    report.set_defaults(handler=lambda args: _report(settings(), args.since, as_json=args.json))


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        # argparse prints it with the usage and exits 2.
        raise argparse.ArgumentTypeError(str(exc)) from None


def _verify(settings: Settings, path: Path | None) -> int:
    result, warnings = audit_verify(settings, path or settings.audit_log_path)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(result.describe(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


def _report(settings: Settings, since: timedelta, *, as_json: bool) -> int:
    try:
        report = build_report(settings, since)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    alerts = report.alerts(settings)
    print(json.dumps(report.as_json(alerts), indent=2) if as_json else report.as_text(alerts))
    # Non-zero when a threshold is crossed, so that a cron job can alert on it.
    return 1 if alerts else 0

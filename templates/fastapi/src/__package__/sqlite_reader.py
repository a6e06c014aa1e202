"""Reads of a SQLite file run on the event loop itself, on a read-only connection of their own.

Through aiosqlite a small read takes six hand-offs to its thread and back (cursor, execute,
fetch, close, two rollbacks). Each one wakes that thread and passes the GIL to it and back,
which profiles showed to cost about a quarter of a millisecond of CPU apiece: a list of ten
items cost 1.6 ms. The same read run here, with the sqlite3 module, takes tens of
microseconds, and SQLite's write-ahead log lets it run beside the writer without waiting.

Nothing may block the loop: SQLite's progress handler stops a read that runs past `BUDGET`
virtual-machine instructions (a few milliseconds), and the connection never waits for a lock
(busy timeout 0: a file locked by a writer in another process, or not in WAL mode, answers
"busy" at once). Either way `Database.read` runs the read again in aiosqlite's thread, which
may wait. The connection has `query_only` set: whatever it is given, it cannot
write. It autocommits, as PostgreSQL's reads do (db.py): each statement sees what was committed
when it started, a read is no transaction, and a read of one statement needs no BEGIN and
COMMIT around it.
"""

import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

T = TypeVar("T")

BUDGET: Final = 2_000_000
_STEP: Final = 10_000


class ReadInThreadError(Exception):
    """A read could not finish on the loop at once (too long, or the file is locked): run it in
    aiosqlite's thread instead."""


class SQLiteReader:
    """One read-only connection, used by the thread that opened it, one read at a time."""

    def __init__(self, url: URL) -> None:
        self.engine = create_engine(
            url.set(drivername="sqlite+pysqlite"),
            hide_parameters=True,
            # One connection, kept: a read is synchronous, so there is never a second at once.
            poolclass=StaticPool,
            connect_args={"timeout": 0},
        )
        event.listen(self.engine, "connect", _read_only)
        self._connection: Connection | None = None
        self._thread = 0

    def serves_this_thread(self) -> bool:
        return self._connection is None or self._thread == threading.get_ident()

    def read(self, query: Callable[[Connection], T]) -> T:
        """`query`'s result, or `ReadInThreadError` if it cannot finish here at once."""
        if self._connection is None:
            self._connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._thread = threading.get_ident()
        connection = self._connection
        steps = 0

        def budget() -> int:
            nonlocal steps
            steps += _STEP
            return 1 if steps > BUDGET else 0  # non-zero: SQLite interrupts the statement

        raw: Any = connection.connection.dbapi_connection
        raw.set_progress_handler(budget, _STEP)
        try:
            return query(connection)
        except OperationalError as exc:
            if steps > BUDGET or _busy(exc):
                raise ReadInThreadError from exc
            raise
        finally:
            raw.set_progress_handler(None, 0)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.engine.dispose()


def _busy(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()

"""Helpers for tests that run the command line in-process, the way an operator runs it."""

import os
from pathlib import Path

import pytest

from .conftest import TEST_SECRET


def _keep_the_suites_logging(*_args: object, **_kwargs: object) -> None:
    """Stands in for `logging.config.fileConfig` while a command runs in the test process."""


def isolate(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Only the settings the test sets: no APP_* variable from outside, no `.env` in the folder."""
    for name in list(os.environ):
        if name.startswith("APP_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(folder)
    # `migrate` (and every command that migrates a development database) has Alembic apply
    # alembic.ini's logging, as it should for an operator. In the test process that would
    # replace the root logger's handlers for the rest of the session, among them the one that
    # keeps every server log line for test_secrets_in_logs, which would then see none.
    monkeypatch.setattr("logging.config.fileConfig", _keep_the_suites_logging)


def use_test_settings(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    """Test-environment settings with a database in `folder`; returns the audit log's path."""
    audit_path = folder / "audit.jsonl"
    monkeypatch.setenv("APP_ENVIRONMENT", "test")
    monkeypatch.setenv("APP_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("APP_DATABASE_URL", f"sqlite+aiosqlite:///{folder}/cli.db")
    monkeypatch.setenv("APP_AUDIT_LOG_PATH", str(audit_path))
    return audit_path

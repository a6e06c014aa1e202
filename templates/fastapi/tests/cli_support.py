"""Helpers for tests that run the command line in-process, the way an operator runs it."""

import os
from pathlib import Path

import pytest

from .conftest import TEST_SECRET


def isolate(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Only the settings the test sets: no APP_* variable from outside, no `.env` in the folder."""
    for name in list(os.environ):
        if name.startswith("APP_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(folder)


def use_test_settings(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    """Test-environment settings with a database in `folder`; returns the audit log's path."""
    audit_path = folder / "audit.jsonl"
    monkeypatch.setenv("APP_ENVIRONMENT", "test")
    monkeypatch.setenv("APP_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("APP_DATABASE_URL", f"sqlite+aiosqlite:///{folder}/cli.db")
    monkeypatch.setenv("APP_AUDIT_LOG_PATH", str(audit_path))
    return audit_path

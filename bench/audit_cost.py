"""Requests per second of a generated service with its audit log on versus off.

Usage: python bench/audit_cost.py PACKAGE   (run inside the generated project's folder,
with the project installed). Prints the median of several alternating rounds for each mode
and the ratio, so a noisy machine affects both sides alike. "Off" replaces `AuditLog.emit`
with a no-op: the cost measured is everything the audit log adds to the request path.
"""

import asyncio
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROUNDS = 7
REQUESTS_PER_ROUND = 400
PASSWORD = "benchmark passphrase that is long"


async def _round(app: Any, headers: dict[str, str]) -> float:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="https://localhost"
    ) as client:
        started = time.perf_counter()
        for _ in range(REQUESTS_PER_ROUND):
            response = await client.get("/api/v1/items", headers=headers)
            assert response.status_code == 200, response.text
        return REQUESTS_PER_ROUND / (time.perf_counter() - started)


def main(package: str) -> None:
    config = importlib.import_module(f"{package}.core.config")
    main_module = importlib.import_module(f"{package}.main")
    users = importlib.import_module(f"{package}.auth.users")
    permissions = importlib.import_module(f"{package}.core.permissions")
    audit_module = importlib.import_module(f"{package}.audit")
    # The project's own migration helper; the project folder is the working directory.
    sys.path.insert(0, str(Path.cwd()))
    support = importlib.import_module("tests.support")

    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    support.migrate(url)
    settings = config.Settings(
        _env_file=None,
        environment="test",
        secret_key="benchmark-secret-key-that-is-long-enough-123",
        database_url=url,
        audit_log_path=tmp / "audit.jsonl",
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        password_hash_parallelism=1,
    )
    app = main_module.create_app(settings)
    asyncio.run(_measure(app, users, permissions, audit_module))


async def _measure(app: Any, users: Any, permissions: Any, audit_module: Any) -> None:
    real_emit = audit_module.AuditLog.emit
    results: dict[str, list[float]] = {"on": [], "off": []}
    async with app.router.lifespan_context(app):
        await users.create_user(
            app.state.db,
            app.state.passwords,
            username="bench",
            role=permissions.ROLES[0],
            password=PASSWORD,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="https://localhost"
        ) as c:
            token = await c.post(
                "/api/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": "bench",
                    "password": PASSWORD,
                },
            )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        await _round(app, headers)  # warm-up
        for _ in range(ROUNDS):
            for mode in ("on", "off"):
                audit_module.AuditLog.emit = real_emit if mode == "on" else _no_op
                results[mode].append(await _round(app, headers))
        audit_module.AuditLog.emit = real_emit
    on, off = statistics.median(results["on"]), statistics.median(results["off"])
    print(
        f"audit on : {on:8.0f} req/s (median of {ROUNDS} rounds of {REQUESTS_PER_ROUND})"
    )
    print(f"audit off: {off:8.0f} req/s")
    print(f"ratio on/off: {on / off:.3f}")


def _no_op(*_args: Any, **_kwargs: Any) -> None:
    return None


if __name__ == "__main__":
    main(sys.argv[1])

"""The service benchmark (issue 9, point 1): a generated service against the FastAPI tutorial.

Run through `bench/service` (which picks the shared virtualenv's interpreter); `--help` lists the
options. It generates an all-methods project (oauth2, apikey, session) with the chosen portcullis
binary, installs it into the running interpreter's environment, prepares it like its README says
(dev-cert, migrate, create-user, create-api-key, APP_ENVIRONMENT=development), serves it with one
uvicorn worker, and serves bench/tutorial_app.py beside it with the same interpreter, the same
certificate and one worker. `wrk` drives both over HTTPS on 127.0.0.1 in alternating rounds and
the medians are printed as one markdown table, with what the server did meanwhile: /health
latency idle and under a login storm, audit records written against requests served and, on
PostgreSQL, new database connections per 10,000 requests.

A benchmark reports; nothing here is a threshold. The exit status is 0 unless something broke
(a command failed, a server did not start, a measured request was not answered 2xx, ...).
"""

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
import jwt

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WRK_SCRIPT = BENCH / "wrk.lua"
PACKAGE = "bench_api"
PROJECT = "bench-api"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:54329/portcullis_test"
USERNAME = "admin"
# 15+ characters and not on the project's blocklist.
PASSWORD = "bench service passphrase, long enough"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SEEDED_ITEMS = 10
# Storm clients: concurrent connections posting /auth/token nonstop.
STORM_CONNECTIONS = 4
STORM_LEAD_SECONDS = 1.0
# A bearer token older than this is replaced between rounds (they live at most 900 s).
TOKEN_REFRESH_SECONDS = 600


class BenchError(Exception):
    """Something broke: reported in one message, exit status 1."""


# -- processes -------------------------------------------------------------------------------


class Processes:
    """Every child started here, each in its own process group, ended at exit however it comes."""

    def __init__(self) -> None:
        self._children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self, name: str, argv: list[str], **kwargs: Any
    ) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self._children.append((name, child))
        return child

    def stop(self, child: subprocess.Popen[bytes], grace: float = 20.0) -> int:
        """SIGINT (graceful: uvicorn runs the lifespan shutdown), then SIGKILL after `grace`."""
        if child.poll() is None:
            _signal_group(child, signal.SIGINT)
            try:
                child.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.wait(5)
        else:
            # The leader is gone; anything it left in its group goes too.
            _signal_group(child, signal.SIGKILL)
        return child.returncode

    def stop_all(self) -> None:
        for _name, child in reversed(self._children):
            try:
                self.stop(child, grace=5.0)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._children.clear()


def _signal_group(child: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run(
    argv: list[str],
    *,
    what: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 300,
) -> str:
    """Run a command to completion; its stdout, or BenchError with its stderr's tail."""
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what}: no answer after {timeout:.0f} s") from None
    except OSError as exc:
        raise BenchError(f"{what}: cannot run {argv[0]}: {exc}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BenchError(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(empty log)"


# -- wrk -------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    non_2xx: int
    ok: int
    throttled: int
    unavailable: int
    other: int
    other_codes: str
    connections: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Wrk:
    threads: int
    connections: int
    duration: float
    timeout: int = 10

    def run(
        self,
        url: str,
        *,
        what: str,
        headers: dict[str, str] | None = None,
        connections: int | None = None,
        duration: float | None = None,
        login_body: str | None = None,
        processes: Processes,
        allow_non_2xx: bool = False,
    ) -> WrkResult:
        seconds = duration if duration is not None else self.duration
        conns = connections if connections is not None else self.connections
        argv = [
            "wrk",
            f"-t{min(self.threads, conns)}",
            f"-c{conns}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={self.timeout}s",
            "--latency",
            "-s",
            str(WRK_SCRIPT),
        ]
        for name, value in (headers or {}).items():
            argv += ["-H", f"{name}: {value}"]
        argv.append(url)
        env = dict(os.environ)
        env.pop("BENCH_LOGIN_BODY", None)
        if login_body is not None:
            env["BENCH_LOGIN_BODY"] = login_body
        child = processes.start(
            what, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        try:
            out, err = child.communicate(timeout=seconds + self.timeout + 30)
        except subprocess.TimeoutExpired:
            processes.stop(child, grace=2)
            raise BenchError(f"wrk ({what}) did not finish") from None
        text = out.decode(errors="replace")
        match = re.search(r"^BENCH-JSON (\{.*\})$", text, re.MULTILINE)
        if child.returncode != 0 or match is None:
            raise BenchError(
                f"wrk ({what}) failed (exit {child.returncode}): "
                f"{err.decode(errors='replace').strip() or text.strip()}"
            )
        data = json.loads(match.group(1))
        result = WrkResult(
            requests=data["requests"],
            seconds=data["duration_us"] / 1e6,
            p50_ms=data["p50_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
            socket_errors=data["connect_errors"]
            + data["read_errors"]
            + data["write_errors"]
            + data["timeouts"],
            non_2xx=data["non_2xx"],
            ok=data["ok"],
            throttled=data["throttled"],
            unavailable=data["unavailable"],
            other=data["other"],
            other_codes=" ".join(sorted(set(data["other_codes"].split()))),
            connections=conns,
        )
        if result.requests == 0:
            raise BenchError(f"wrk ({what}): no request was answered ({url})")
        if result.non_2xx and not allow_non_2xx:
            raise BenchError(
                f"wrk ({what}): {result.non_2xx} of {result.requests} answers were not 2xx "
                f"({url}); the credential or the route is broken"
            )
        return result


# -- PostgreSQL ------------------------------------------------------------------------------


@dataclass
class Postgres:
    """A scratch database on the given server (dropped at the end), and its session counter."""

    admin_url: str  # the URL given on the command line (libpq form)
    database: str = ""
    scratch: bool = False
    stats_url: str = ""
    server_version: str = ""

    @property
    def app_url(self) -> str:
        parts = urlsplit(self.admin_url)
        return parts._replace(
            scheme="postgresql+asyncpg", path="/" + quote(self.database)
        ).geturl()

    def prepare(self) -> None:
        parts = urlsplit(self.admin_url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise BenchError(
                f"--postgres needs a postgresql:// URL, not {self.admin_url!r}"
            )
        if (parts.hostname or "") not in LOOPBACK:
            raise BenchError(
                "--postgres: the server must be on 127.0.0.1 (traffic stays local)"
            )
        given = unquote(parts.path.lstrip("/")) or "postgres"
        name = f"bench_service_{secrets.token_hex(4)}"
        try:
            asyncio.run(self._execute(self.admin_url, f'CREATE DATABASE "{name}"'))
            self.database, self.scratch = name, True
            # Read the counters from the given database, so reading adds no session to ours.
            self.stats_url = self.admin_url
        except Exception as exc:  # noqa: BLE001 - any refusal: fall back to the given database
            if "permission denied" not in str(exc).lower():
                raise BenchError(
                    f"PostgreSQL at {_redact(self.admin_url)}: {exc}"
                ) from None
            self.database = given
            self.stats_url = parts._replace(path="/postgres").geturl()
        self.server_version = asyncio.run(
            self._fetch(self.stats_url, "SHOW server_version")
        )

    def sessions(self) -> int | None:
        try:
            value = asyncio.run(
                self._fetch(
                    self.stats_url,
                    "SELECT sessions FROM pg_stat_database WHERE datname = $1",
                    self.database,
                )
            )
        except Exception:  # noqa: BLE001 - reported as n/a
            return None
        return None if value is None else int(value)

    def drop(self) -> None:
        if self.scratch:
            try:
                asyncio.run(
                    self._execute(
                        self.admin_url,
                        f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)',
                    )
                )
            except Exception as exc:  # noqa: BLE001 - cleanup: say so, do not hide the result
                print(
                    f"warning: could not drop database {self.database}: {exc}",
                    file=sys.stderr,
                )

    @staticmethod
    async def _execute(url: str, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    @staticmethod
    async def _fetch(url: str, sql: str, *args: Any) -> Any:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=10)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


# -- the audit log ---------------------------------------------------------------------------


def audit_counts(log_path: Path) -> tuple[int, int]:
    """(http_request records, records reported lost) in the log and its rotated files."""
    requests = lost = 0
    files = [
        p
        for p in log_path.parent.glob(log_path.name + "*")
        if not p.name.endswith(".lock")
    ]
    for path in files:
        with path.open("rb") as handle:
            for line in handle:
                if b'"http_request"' not in line and b"lost" not in line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("event") == "http_request":
                    requests += 1
                found = re.match(
                    r"\[audit: (\d+) record\(s\) lost", record.get("detail") or ""
                )
                if found:
                    lost += int(found.group(1))
    return requests, lost


def settled_audit_counts(log_path: Path, timeout: float = 20.0) -> tuple[int, int]:
    """The counts once they stop changing (the writer is a background thread)."""
    deadline = time.monotonic() + timeout
    last = audit_counts(log_path)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = audit_counts(log_path)
        if now == last:
            return now
        last = now
    return last


# -- the benchmark ---------------------------------------------------------------------------


@dataclass
class Credentials:
    bearer: str = ""
    bearer_at: float = 0.0
    session_cookie: str = ""
    csrf_token: str = ""
    api_key: str = ""
    tutorial_token: str = ""


@dataclass
class Samples:
    rps: dict[str, list[float]] = field(default_factory=dict)
    latency: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    storm: list[WrkResult] = field(default_factory=list)
    socket_errors: dict[str, int] = field(default_factory=dict)
    # Requests the generated service answered (the baseline's are not audited).
    requests: int = 0
    # At most one request per connection is in flight when wrk stops a run: answered (and
    # audited) by the service, not counted by wrk.
    in_flight: int = 0

    def add(self, key: str, result: WrkResult) -> None:
        self.rps.setdefault(key, []).append(result.rps)
        self.latency.setdefault(key, []).append((result.p50_ms, result.p99_ms))
        if key not in BASELINE_KEYS:
            self.requests += result.requests
            self.in_flight += result.connections
        if result.socket_errors:
            self.socket_errors[key] = (
                self.socket_errors.get(key, 0) + result.socket_errors
            )


BASELINE_KEYS = frozenset({"health_bare", "me_tutorial"})


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.python = sys.executable
        self.processes = Processes()
        self.tmp = Path(tempfile.mkdtemp(prefix="portcullis-bench-service-"))
        self.project = self.tmp / PROJECT
        self.audit_log = self.project / "logs" / "audit.jsonl"
        self.postgres: Postgres | None = None
        self.installed = False
        self.wrk = Wrk(args.threads, args.connections, args.duration)
        self.creds = Credentials()
        self.httpx_requests = 0
        self.service: subprocess.Popen[bytes] | None = None
        self.tutorial: subprocess.Popen[bytes] | None = None
        self.service_port = free_port()
        self.tutorial_port = free_port()
        while self.tutorial_port == self.service_port:
            self.tutorial_port = free_port()
        self.tutorial_secret = secrets.token_hex(32)

    # -- setup -----------------------------------------------------------------------------

    def portcullis(self) -> Path:
        if self.args.portcullis:
            binary = Path(self.args.portcullis)
            if not (binary.is_file() and os.access(binary, os.X_OK)):
                raise BenchError(f"--portcullis {binary}: not an executable file")
            return binary.resolve()
        binary = ROOT / "target" / "release" / "portcullis"
        if not binary.is_file():
            print("building target/release/portcullis ...", file=sys.stderr)
            run(
                ["cargo", "build", "--release", "--locked", "--quiet"],
                what="cargo build --release --locked",
                cwd=ROOT,
                timeout=1800,
            )
        return binary

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
        env.update(
            APP_ENVIRONMENT="development",
            APP_AUDIT_LOG_PATH=str(self.audit_log),
            APP_WORKERS="1",
            # The storm logs in with the right password, which the throttles never count; the
            # per-address failure limit (unbounded by the settings) is raised all the same, so
            # only a real refusal can show up as a 429. The per-username one is at its maximum.
            APP_LOGIN_IP_MAX_FAILURES="1000000",
            APP_LOGIN_MAX_FAILURES="10",
        )
        if self.postgres is not None:
            env["APP_DATABASE_URL"] = self.postgres.app_url
        else:
            env["APP_DATABASE_URL"] = (
                f"sqlite+aiosqlite:///{self.project / 'data' / 'app.db'}"
            )
        return env

    def generate(self) -> None:
        binary = self.portcullis()
        argv = [
            str(binary),
            "new",
            PROJECT,
            "--defaults",
            "--auth",
            "oauth2,apikey,session",
            "--output-dir",
            str(self.tmp),
        ]
        if self.args.postgres:
            argv += ["--database", "postgres"]
        run(argv, what="portcullis new")
        self.portcullis_version = run(
            [str(binary), "--version"], what="portcullis --version"
        ).strip()
        # With its dependencies: a virtualenv fresh from `scripts/test-all --setup-only` has
        # none yet (on one the e2e suite filled, pip finds them all satisfied at once).
        pip = [self.python, "-m", "pip", "install", "-q"]
        run(pip + ["hatchling", "editables"], what="pip install hatchling", timeout=600)
        run(
            pip + ["--no-build-isolation", "-e", str(self.project)],
            what="pip install -e (the generated project)",
            timeout=600,
        )
        self.installed = True

    def prepare(self) -> None:
        if self.args.postgres:
            self.postgres = Postgres(self.args.postgres)
            self.postgres.prepare()
        env = self.env()
        cli = [self.python, "-m", PACKAGE]
        run(cli + ["dev-cert"], what="dev-cert", cwd=self.project, env=env)
        run(cli + ["migrate"], what="migrate", cwd=self.project, env=env)
        run(
            cli + ["create-user", "--username", USERNAME, "--role", "admin"],
            what="create-user",
            cwd=self.project,
            env=env,
            stdin=PASSWORD + "\n",
        )
        out = run(
            cli + ["create-api-key", "--name", "bench", "--role", "admin"],
            what="create-api-key",
            cwd=self.project,
            env=env,
        )
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        if not lines:
            raise BenchError("create-api-key printed no key")
        self.creds.api_key = lines[-1]

    @property
    def certs(self) -> Path:
        return self.project / "certs"

    def start_servers(self) -> None:
        env = self.env()
        service_log = self.tmp / "service.log"
        with service_log.open("wb") as log:
            self.service = self.processes.start(
                "service",
                [self.python, "-m", PACKAGE, "serve", "--port", str(self.service_port)],
                cwd=self.project,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        tutorial_env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
        tutorial_env["BENCH_TUTORIAL_SECRET"] = self.tutorial_secret
        tutorial_log = self.tmp / "tutorial.log"
        with tutorial_log.open("wb") as log:
            self.tutorial = self.processes.start(
                "tutorial",
                [
                    self.python,
                    "-m",
                    "uvicorn",
                    "tutorial_app:app",
                    "--app-dir",
                    str(BENCH),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.tutorial_port),
                    "--workers",
                    "1",
                    "--ssl-certfile",
                    str(self.certs / "dev-cert.pem"),
                    "--ssl-keyfile",
                    str(self.certs / "dev-key.pem"),
                    # The generated service turns uvicorn's access log off (its audit log records
                    # every request instead); the baseline does too, so neither pays for one.
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                cwd=self.tmp,
                env=tutorial_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready(
            self.service, self.service_url("/api/v1/health"), service_log, "service"
        )
        self._wait_ready(
            self.tutorial, self.tutorial_url("/health"), tutorial_log, "tutorial app"
        )

    def _wait_ready(
        self,
        child: subprocess.Popen[bytes],
        url: str,
        log: Path,
        name: str,
        timeout: float = 90,
    ) -> None:
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                if child.poll() is not None:
                    raise BenchError(
                        f"the {name} exited ({child.returncode}):\n{log_tail(log)}"
                    )
                try:
                    if client.get(url, timeout=2).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)
        raise BenchError(
            f"the {name} did not answer {url} within {timeout:.0f} s:\n{log_tail(log)}"
        )

    def service_url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.service_port}{path}"

    def tutorial_url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.tutorial_port}{path}"

    def client(self) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.certs / "ca.pem"))

        def count(_request: httpx.Request) -> None:
            self.httpx_requests += 1

        return httpx.Client(
            verify=context, timeout=30, event_hooks={"request": [count]}
        )

    # -- credentials -----------------------------------------------------------------------

    def login_bearer(self, client: httpx.Client) -> None:
        response = client.post(
            self.service_url("/api/v1/auth/token"),
            data={"grant_type": "password", "username": USERNAME, "password": PASSWORD},
        )
        if response.status_code != 200:
            raise BenchError(
                f"POST /api/v1/auth/token: {response.status_code} {response.text}"
            )
        self.creds.bearer = response.json()["access_token"]
        self.creds.bearer_at = time.monotonic()

    def obtain_credentials(self) -> None:
        with self.client() as client:
            self.login_bearer(client)
            response = client.post(
                self.service_url("/api/v1/auth/login"),
                json={"username": USERNAME, "password": PASSWORD},
            )
            if response.status_code != 200:
                raise BenchError(
                    f"POST /api/v1/auth/login: {response.status_code} {response.text}"
                )
            self.creds.csrf_token = response.json()["csrf_token"]
            for header in response.headers.get_list("set-cookie"):
                name, _, rest = header.partition("=")
                if name.strip() == "__Host-session":
                    self.creds.session_cookie = rest.split(";", 1)[0]
            if not self.creds.session_cookie:
                raise BenchError("POST /api/v1/auth/login set no __Host-session cookie")
            # Every request below sends its credential explicitly, never the jar's cookie too.
            client.cookies.clear()
            for index in range(SEEDED_ITEMS):
                created = client.post(
                    self.service_url("/api/v1/items"),
                    headers=self.bearer_headers(),
                    json={
                        "name": f"item {index}",
                        "description": "seeded by bench/service",
                    },
                )
                if created.status_code != 201:
                    raise BenchError(
                        f"POST /api/v1/items: {created.status_code} {created.text}"
                    )
            for method, headers in (
                ("oauth2", self.bearer_headers()),
                ("session", self.session_headers()),
                ("apikey", self.apikey_headers()),
            ):
                me = client.get(self.service_url("/api/v1/me"), headers=headers)
                if me.status_code != 200 or me.json().get("auth_method") != method:
                    raise BenchError(
                        f"GET /api/v1/me with {method}: {me.status_code} {me.text}"
                    )
        self.creds.tutorial_token = jwt.encode(
            {"sub": USERNAME, "exp": int(time.time()) + 24 * 3600},
            self.tutorial_secret,
            algorithm="HS256",
        )
        with self.client() as client:
            me = client.get(self.tutorial_url("/me"), headers=self.tutorial_headers())
            if me.status_code != 200 or me.json().get("username") != USERNAME:
                raise BenchError(f"tutorial GET /me: {me.status_code} {me.text}")

    def refresh_bearer_if_old(self) -> None:
        if time.monotonic() - self.creds.bearer_at > TOKEN_REFRESH_SECONDS:
            with self.client() as client:
                self.login_bearer(client)

    def bearer_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.creds.bearer}"}

    def session_headers(self) -> dict[str, str]:
        # The CSRF token is sent as a single-page app would; GET does not require it.
        return {
            "Cookie": f"__Host-session={self.creds.session_cookie}",
            "X-CSRF-Token": self.creds.csrf_token,
        }

    def apikey_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.creds.api_key}

    def tutorial_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.creds.tutorial_token}"}

    # -- measuring -------------------------------------------------------------------------

    def throughput_runs(
        self,
    ) -> list[tuple[str, Callable[[], tuple[str, dict[str, str]]]]]:
        # Headers are read when the run starts, so a replaced bearer token is used at once.
        return [
            ("health_gen", lambda: (self.service_url("/api/v1/health"), {})),
            ("health_bare", lambda: (self.tutorial_url("/health"), {})),
            (
                "me_bearer",
                lambda: (self.service_url("/api/v1/me"), self.bearer_headers()),
            ),
            (
                "me_session",
                lambda: (self.service_url("/api/v1/me"), self.session_headers()),
            ),
            (
                "me_apikey",
                lambda: (self.service_url("/api/v1/me"), self.apikey_headers()),
            ),
            (
                "me_tutorial",
                lambda: (self.tutorial_url("/me"), self.tutorial_headers()),
            ),
            (
                "items_bearer",
                lambda: (self.service_url("/api/v1/items"), self.bearer_headers()),
            ),
        ]

    def warm_up(self, samples: Samples) -> None:
        """One second of each run, counted in `samples.requests` only."""
        for key, target in self.throughput_runs():
            url, headers = target()
            result = self.wrk.run(
                url,
                what=f"warm-up {key}",
                headers=headers,
                duration=1,
                processes=self.processes,
            )
            if key not in BASELINE_KEYS:
                samples.requests += result.requests
                samples.in_flight += result.connections

    def measure_latency_idle(self, samples: Samples) -> None:
        result = self.wrk.run(
            self.service_url("/api/v1/health"),
            what="latency idle",
            connections=self.args.latency_connections,
            processes=self.processes,
        )
        samples.add("latency_idle", result)

    def measure_latency_storm(self, samples: Samples) -> None:
        """4 clients POST /auth/token nonstop; a second wrk measures /health meanwhile."""
        body = (
            f"grant_type=password&username={quote(USERNAME)}&password={quote(PASSWORD)}"
        )
        storm_seconds = self.wrk.duration + 2 * STORM_LEAD_SECONDS
        storm_out: dict[str, Any] = {}

        def storm() -> None:
            try:
                storm_out["result"] = self.wrk.run(
                    self.service_url("/api/v1/auth/token"),
                    what="login storm",
                    connections=STORM_CONNECTIONS,
                    duration=storm_seconds,
                    login_body=body,
                    processes=self.processes,
                    allow_non_2xx=True,
                )
            except BenchError as exc:
                storm_out["error"] = exc

        thread = threading.Thread(target=storm, name="login-storm", daemon=True)
        thread.start()
        try:
            time.sleep(STORM_LEAD_SECONDS)
            probe = self.wrk.run(
                self.service_url("/api/v1/health"),
                what="latency during the login storm",
                connections=self.args.latency_connections,
                processes=self.processes,
            )
        finally:
            thread.join(storm_seconds + self.wrk.timeout + 60)
        if "error" in storm_out:
            raise storm_out["error"]
        samples.add("latency_storm", probe)
        result: WrkResult = storm_out["result"]
        samples.storm.append(result)
        samples.requests += result.requests
        samples.in_flight += result.connections
        # Let the hashes still queued in the server finish before the next run.
        time.sleep(1.5)

    def rounds(self, samples: Samples) -> None:
        steps: list[tuple[str, Callable[[], None]]] = []
        for key, target in self.throughput_runs():
            steps.append((key, self._throughput_step(key, target, samples)))
        steps.append(("latency_idle", lambda: self.measure_latency_idle(samples)))
        steps.append(("latency_storm", lambda: self.measure_latency_storm(samples)))
        for number in range(self.args.rounds):
            order = steps if number % 2 == 0 else list(reversed(steps))
            print(f"round {number + 1}/{self.args.rounds}", file=sys.stderr)
            self.refresh_bearer_if_old()
            for _key, step in order:
                self.check_alive()
                step()

    def _throughput_step(
        self,
        key: str,
        target: Callable[[], tuple[str, dict[str, str]]],
        samples: Samples,
    ) -> Callable[[], None]:
        def step() -> None:
            url, headers = target()
            samples.add(
                key,
                self.wrk.run(url, what=key, headers=headers, processes=self.processes),
            )

        return step

    def check_alive(self) -> None:
        for name, child, log in (
            ("service", self.service, self.tmp / "service.log"),
            ("tutorial app", self.tutorial, self.tmp / "tutorial.log"),
        ):
            if child is not None and child.poll() is not None:
                raise BenchError(
                    f"the {name} exited ({child.returncode}):\n{log_tail(log)}"
                )

    def stop_servers(self) -> None:
        for name, child in (("tutorial app", self.tutorial), ("service", self.service)):
            if child is None:
                continue
            code = self.processes.stop(child)
            # uvicorn exits 0 after a graceful shutdown on SIGINT.
            if code not in (0, -signal.SIGINT, 130):
                log = self.tmp / (
                    "service.log" if name == "service" else "tutorial.log"
                )
                raise BenchError(
                    f"the {name} did not stop cleanly ({code}):\n{log_tail(log)}"
                )

    # -- the whole run ---------------------------------------------------------------------

    def execute(self) -> str:
        header = machine_header(self.python)
        print(header, file=sys.stderr)
        print("generating and installing the project ...", file=sys.stderr)
        self.generate()
        self.prepare()
        print("starting the servers ...", file=sys.stderr)
        self.start_servers()
        self.obtain_credentials()
        samples = Samples()
        audit_before, lost_before = settled_audit_counts(self.audit_log)
        httpx_before = self.httpx_requests
        self.warm_up(samples)
        sessions_before = None
        pg_requests_before = samples.requests + self.httpx_requests
        if self.postgres is not None:
            time.sleep(
                2.5
            )  # backends flush their statistics about once a second when idle
            sessions_before = self.postgres.sessions()
        self.rounds(samples)
        self.stop_servers()
        audit_after, lost_after = settled_audit_counts(self.audit_log)
        sessions_after = None
        if self.postgres is not None:
            time.sleep(1.0)
            sessions_after = self.postgres.sessions()
        served = samples.requests + (self.httpx_requests - httpx_before)
        return render(
            header=header,
            config=self.config_line(),
            samples=samples,
            audit=(
                audit_after - audit_before,
                served,
                lost_after - lost_before,
                samples.in_flight,
            ),
            pg_sessions=(
                None
                if sessions_before is None or sessions_after is None
                else sessions_after - sessions_before
            ),
            pg_requests=samples.requests + self.httpx_requests - pg_requests_before,
            postgres=self.postgres,
            latency_connections=self.args.latency_connections,
        )

    def config_line(self) -> str:
        database = "SQLite"
        if self.postgres is not None:
            database = f"PostgreSQL {self.postgres.server_version}"
            if self.postgres.scratch:
                database += " (scratch database on the given server)"
        return (
            f"{self.portcullis_version}, `{PROJECT} --auth oauth2,apikey,session`, {database}; "
            f"wrk -t{self.args.threads} -c{self.args.connections} -d{self.args.duration:g}s over "
            f"HTTPS, median of {self.args.rounds} alternating round(s); one uvicorn worker each"
        )

    def cleanup(self) -> None:
        self.processes.stop_all()
        if self.postgres is not None:
            self.postgres.drop()
        if self.installed:
            subprocess.run(
                [self.python, "-m", "pip", "uninstall", "-q", "-y", PROJECT],
                capture_output=True,
                timeout=120,
                check=False,
            )
        if self.args.keep:
            print(f"kept {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# -- reporting -------------------------------------------------------------------------------


def machine_header(python: str) -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import uvicorn

        uvicorn_version = uvicorn.__version__
    except ImportError:
        uvicorn_version = "missing"
    nproc = (
        len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count()
    )
    return (
        f"machine: nproc {nproc}, {model}, Python {platform.python_version()}, "
        f"uvicorn {uvicorn_version}"
    )


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _rps_cell(values: list[float]) -> str:
    median = _median(values)
    if len(values) > 1:
        return f"{median:,.0f} ({min(values):,.0f}–{max(values):,.0f})"
    return f"{median:,.0f}"


def _ratio(a: list[float], b: list[float]) -> str:
    base = _median(b)
    return f"{_median(a) / base:.2f}" if base else "n/a"


def _latency_cell(values: list[tuple[float, float]]) -> str:
    p50 = _median([v[0] for v in values])
    p99 = _median([v[1] for v in values])
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"


def render(
    *,
    header: str,
    config: str,
    samples: Samples,
    audit: tuple[int, int, int, int],
    pg_sessions: int | None,
    pg_requests: int,
    postgres: Postgres | None,
    latency_connections: int,
) -> str:
    rps = samples.rps
    rows = [
        ("`GET /api/v1/health` vs bare `/health` (req/s)", "health_gen", "health_bare"),
        (
            "`GET /api/v1/me`, bearer JWT vs tutorial `/me` (req/s)",
            "me_bearer",
            "me_tutorial",
        ),
        (
            "`GET /api/v1/me`, session cookie vs tutorial `/me` (req/s)",
            "me_session",
            "me_tutorial",
        ),
        (
            "`GET /api/v1/me`, API key vs tutorial `/me` (req/s)",
            "me_apikey",
            "me_tutorial",
        ),
        (
            f"`GET /api/v1/items` ({SEEDED_ITEMS} items), bearer vs tutorial `/me` (req/s)",
            "items_bearer",
            "me_tutorial",
        ),
    ]
    lines = [
        header,
        "",
        config,
        "",
        "| measurement | generated | baseline | ratio |",
        "|---|---:|---:|---:|",
    ]
    for label, gen, base in rows:
        lines.append(
            f"| {label} | {_rps_cell(rps.get(gen, []))} | {_rps_cell(rps.get(base, []))} "
            f"| {_ratio(rps.get(gen, []), rps.get(base, []))} |"
        )
    lines.append(
        f"| `/health` latency, idle ({latency_connections} connection(s)) "
        f"| {_latency_cell(samples.latency.get('latency_idle', []))} | | |"
    )
    storm = samples.storm
    logins = _median([r.ok / r.seconds for r in storm if r.seconds])
    throttled = sum(r.throttled for r in storm)
    unavailable = sum(r.unavailable for r in storm)
    other = sum(r.other for r in storm)
    codes = " ".join(sorted({c for r in storm for c in r.other_codes.split()}))
    storm_total = sum(r.requests for r in storm)
    lines.append(
        f"| `/health` latency during a login storm ({STORM_CONNECTIONS} clients on "
        f"`POST /api/v1/auth/token`) | {_latency_cell(samples.latency.get('latency_storm', []))} "
        f"| | |"
    )
    other_text = f", other {other} ({codes})" if other else ""
    lines.append(
        f"| login storm: logins/s served; 429 / 503 answers | {logins:.1f}/s; "
        f"{throttled} / {unavailable} of {storm_total}{other_text} | | |"
    )
    written, served, lost, in_flight = audit
    lost_text = f"; {lost:,} reported lost by the writer" if lost else ""
    audit_ratio = f"{written / served:.4f}" if served else "n/a"
    lines.append(
        f"| audit `http_request` records written vs requests served "
        f"| {written:,} / {served:,} (+ up to {in_flight:,} in flight when wrk stopped)"
        f"{lost_text} | | {audit_ratio} |"
    )
    if postgres is not None:
        if pg_sessions is None:
            pg_text = "n/a (pg_stat_database not readable)"
        else:
            per = pg_sessions * 10_000 / pg_requests if pg_requests else 0.0
            pg_text = f"{per:.2f} ({pg_sessions:,} over {pg_requests:,} requests)"
        lines.append(
            f"| new PostgreSQL connections per 10,000 requests | {pg_text} | | |"
        )
    notes = []
    if samples.socket_errors:
        errors = ", ".join(f"{k} {v}" for k, v in sorted(samples.socket_errors.items()))
        notes.append(f"wrk socket errors/timeouts: {errors}")
    notes.append(
        "Cells: median (min–max) of the rounds; ratio = generated median / baseline median. "
        "Latency: wrk's p50/p99 of `GET /api/v1/health`. Requests served: every request to the "
        "generated service that wrk completed after the credentials were obtained (warm-ups, "
        "latency probes and storm included) plus the few made with httpx; a request in flight "
        "when wrk stops a run (at most one per connection) is answered and audited but not "
        "counted by wrk."
    )
    if postgres is not None:
        notes[-1] += (
            " PostgreSQL connections: pg_stat_database.sessions of the service's database, "
            "from after the warm-up until the service stopped, per request served meanwhile."
        )
    lines.append("")
    lines.extend(notes)
    return "\n".join(lines) + "\n"


def duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|m)?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 5s, 1m)")
    value = float(match.group(1)) * (60 if match.group(2) == "m" else 1)
    if value < 1:
        raise argparse.ArgumentTypeError("the duration must be at least 1s")
    return value


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/service",
        description=__doc__.split("\n\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--portcullis",
        metavar="BIN",
        help="the generator binary (default target/release/portcullis, built if missing)",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        nargs="?",
        const=DEFAULT_POSTGRES,
        help=f"use PostgreSQL on this server (default {DEFAULT_POSTGRES}); a scratch database "
        "is created on it and dropped at the end",
    )
    parser.add_argument(
        "--duration", type=duration, default=5.0, help="per wrk run (default 5s)"
    )
    parser.add_argument(
        "--connections", type=positive, default=16, help="wrk -c (default 16)"
    )
    parser.add_argument(
        "--threads", type=positive, default=1, help="wrk -t (default 1)"
    )
    parser.add_argument(
        "--rounds",
        type=positive,
        default=3,
        help="alternating rounds, medians reported (default 3)",
    )
    parser.add_argument(
        "--latency-connections",
        type=positive,
        default=1,
        help="connections of the /health latency probe, idle and under the storm (default 1)",
    )
    parser.add_argument(
        "--markdown", metavar="FILE", type=Path, help="also write the table here"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated project and logs"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("error: wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 1

    def terminate(signum: int, _frame: Any) -> None:
        print(f"terminated by signal {signum}; stopping everything", file=sys.stderr)
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, terminate)
    bench = Bench(args)
    try:
        table = bench.execute()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        # Ignore further signals while cleaning up, so the cleanup itself is never cut short.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        bench.cleanup()
    print(table, end="")
    if args.markdown is not None:
        args.markdown.write_text(table)
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

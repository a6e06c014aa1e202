"""The cluster as the tests see it: how to reach it, log in, read its audit logs.

`Cluster.start` builds the topology of issue 10 from the generated project and the servers
`scripts/test-all` provides:

    client --HTTPS--> nginx (deploy/nginx.conf, dev CA) --HTTP, from 127.0.0.2--> instance a
                                                                               \\-> instance b
    a, b: `serve`, 2 workers each, proxy mode, one PostgreSQL database, one redis-server

Clients reach nginx at https://localhost:PORT trusting only certs/ca.pem. The tests also talk
to an instance directly "as the proxy" (from 127.0.0.2, with the X-Forwarded-* headers nginx
would send, naming any client address they like) and as an untrusted peer (from 127.0.0.1).
"""

import itertools
import json
import os
import secrets
import ssl
import subprocess
import threading
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx

from topology import (
    HOST,
    PROXY_ADDRESS,
    STARTUP_SECONDS,
    Instance,
    Nginx,
    Postgres,
    Redis,
    free_ports,
    python_command,
    wait_until,
)

API = "/api/v1"
SESSION_COOKIE = "__Host-session"
CSRF_HEADER = "X-CSRF-Token"
REQUEST_ID_HEADER = "X-Request-ID"
WORKERS = 2
INSTANCES = 2
# Small thresholds, so that crossing them costs few Argon2 hashes (0.1-0.3 s each).
LOGIN_MAX_FAILURES = 3
LOGIN_IP_MAX_FAILURES = 4
APIKEY_MAX_FAILURES = 6
ALLOWED_ORIGIN = "https://app.example.test"
FOREIGN_ORIGIN = "https://attacker.example"
TIMEOUT = httpx.Timeout(30.0)


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    assert value, f"{name} must be set (tests/cluster.rs sets it; scripts/test-all provides it)"
    return value


def new_request_id(tag: str = "cl") -> str:
    # Accepted by the service as is (middleware/request_id.py): plain, 8-64 characters.
    return f"{tag}-{uuid.uuid4().hex}"


def new_password() -> str:
    return f"Cluster-{secrets.token_hex(6)}-Lantern-Quasar"


@dataclass(frozen=True)
class Config:
    project: Path
    package: str
    work: Path
    redis_server: str
    nginx: str
    pg_url: str
    pgdata: Path
    pgbin: Path

    @classmethod
    def from_environment(cls) -> "Config":
        return cls(
            project=Path(_required("PORTCULLIS_CLUSTER_PROJECT")),
            package=_required("PORTCULLIS_CLUSTER_PACKAGE"),
            work=Path(_required("PORTCULLIS_CLUSTER_WORK")),
            redis_server=_required("PORTCULLIS_CLUSTER_REDIS_SERVER"),
            nginx=_required("PORTCULLIS_CLUSTER_NGINX"),
            pg_url=_required("PORTCULLIS_TEST_CLUSTER_URL"),
            pgdata=Path(_required("PORTCULLIS_TEST_PGDATA")),
            pgbin=Path(_required("PORTCULLIS_TEST_PGBIN")),
        )


@dataclass
class Sent:
    """One request sent through nginx, as the client saw it."""

    request_id: str
    method: str
    path: str
    status: int | None = None
    echoed_id: str | None = None


class Ledger:
    """Every request sent through the proxy with a ledger client, by its X-Request-ID."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: dict[str, Sent] = {}

    def on_request(self, request: httpx.Request) -> None:
        request_id = request.headers[REQUEST_ID_HEADER]
        with self._lock:
            assert request_id not in self._sent, f"request id {request_id} sent twice"
            self._sent[request_id] = Sent(request_id, request.method, request.url.path)

    def on_response(self, response: httpx.Response) -> None:
        with self._lock:
            sent = self._sent[response.request.headers[REQUEST_ID_HEADER]]
            sent.status = response.status_code
            sent.echoed_id = response.headers.get(REQUEST_ID_HEADER)

    def entries(self) -> list[Sent]:
        with self._lock:
            return list(self._sent.values())


def _tag_request(request: httpx.Request) -> None:
    if REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = new_request_id()


def _no_cookies() -> CookieJar:
    """A jar that keeps nothing: every credential is sent explicitly, nothing leaks between
    requests (and a `Secure` cookie set over HTTPS is never replayed by accident)."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


@dataclass(frozen=True)
class User:
    username: str
    password: str
    role: str
    id: int


@dataclass(frozen=True)
class Session:
    session_id: str
    csrf_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={self.session_id}", CSRF_HEADER: self.csrf_token}

    @property
    def cookie_only(self) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={self.session_id}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    form = {"grant_type": "password", "username": username, "password": password}
    return client.post(f"{API}/auth/token", data=form)


def bearer_for(client: httpx.Client, user: User) -> dict[str, str]:
    response = token_login(client, user.username, user.password)
    assert response.status_code == 200, f"token login of {user.username}: {response.text}"
    return bearer(str(response.json()["access_token"]))


def session_login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post(f"{API}/auth/login", json={"username": username, "password": password})


def session_of(response: httpx.Response) -> Session:
    assert response.status_code == 200, f"session login: {response.status_code} {response.text}"
    cookie: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookie.load(header)
    assert SESSION_COOKIE in cookie, f"no {SESSION_COOKIE} cookie: {response.headers}"
    return Session(cookie[SESSION_COOKIE].value, str(response.json()["csrf_token"]))


def session_for(client: httpx.Client, user: User) -> Session:
    return session_of(session_login(client, user.username, user.password))


def read_audit(path: Path) -> list[dict[str, Any]]:
    """Every complete record of the log at `path`, its rotated files first."""
    rotated = sorted(p for p in path.parent.glob(f"{path.name}.*") if p.suffix[1:].isdigit())
    records: list[dict[str, Any]] = []
    for file in [*rotated, path]:
        if not file.exists():
            continue
        data = file.read_bytes()
        # A line still being appended (no newline yet) is not a record yet.
        for line in data.split(b"\n")[:-1]:
            if line.strip():
                records.append(json.loads(line))
    return records


def run_cli(
    config: Config,
    settings: dict[str, str],
    *args: str,
    audit_log: Path,
    stdin: str | None = None,
    cwd: Path | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """`python -m PACKAGE ARGS` with `settings`, in a folder without .env unless `cwd`."""
    done = subprocess.run(
        python_command(config.package, *args),
        cwd=cwd or audit_log.parent.parent,
        env={**settings, "APP_AUDIT_LOG_PATH": str(audit_log)},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if check:
        assert done.returncode == 0, (
            f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done


def wait_healthy(instance: Instance) -> None:
    def healthy() -> bool | None:
        assert not instance.service.exited(), (
            f"instance {instance.name} exited:\n{instance.service.log_tail()}"
        )
        try:
            answer = httpx.get(f"{instance.base_url}{API}/health", timeout=2)
        except httpx.TransportError:
            return None
        return True if answer.status_code == 200 else None

    wait_until(f"instance {instance.name} to answer health", healthy, STARTUP_SECONDS)


@dataclass
class Cluster:
    config: Config
    roles: list[str]
    permissions: dict[str, list[str]]
    settings: dict[str, str]
    instances: list[Instance]
    nginx: Nginx
    redis: Redis
    postgres: Postgres
    ca: Path
    cli_audit_log: Path
    admin: User
    # The administrator's bearer token, obtained through the proxy at the start.
    admin_headers: dict[str, str] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    _serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # -- building it ---------------------------------------------------------------------------

    @classmethod
    @contextmanager
    def start(cls, config: Config) -> Iterator["Cluster"]:
        with ExitStack() as stack:
            yield cls._build(config, stack)

    @classmethod
    def _build(cls, config: Config, stack: ExitStack) -> "Cluster":
        answers = tomllib.loads((config.project / "portcullis.toml").read_text())
        # Highest privilege first, each with its complete effective permission set.
        permissions = {
            str(role["name"]): sorted(str(p) for p in role["permissions"])
            for role in answers["roles"]["role"]
        }
        roles = list(permissions)
        postgres = Postgres(config.pgbin, config.pgdata, config.pg_url)
        # Whatever a test did to the server, it serves again when the run ends (the tests
        # after this binary use it too).
        stack.callback(lambda: None if postgres.running() else postgres.start())
        postgres.reset_database()

        redis_port, nginx_port, *instance_ports = free_ports(2 + INSTANCES)
        redis = Redis(config.redis_server, redis_port, config.work / "redis")
        redis.start()
        stack.callback(redis.service.stop)

        base = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("APP_") and name != "PROMETHEUS_MULTIPROC_DIR"
        }
        settings = {
            **base,
            "PYTHONUNBUFFERED": "1",
            # Production, as deployed: strong keys, exact hosts and origins, no docs; `serve`
            # does not migrate (the one `migrate` below does).
            "APP_ENVIRONMENT": "production",
            "APP_SECRET_KEY": secrets.token_hex(32),
            "APP_AUDIT_KEY": secrets.token_hex(32),
            "APP_DATABASE_URL": config.pg_url.replace("postgresql://", "postgresql+asyncpg://", 1),
            "APP_REDIS_URL": redis.url,
            "APP_WORKERS": str(WORKERS),
            "APP_INSTANCES": str(INSTANCES),
            "APP_PROXY_MODE": "true",
            "APP_TRUSTED_PROXIES": json.dumps([PROXY_ADDRESS]),
            "APP_ALLOWED_HOSTS": json.dumps(["localhost", HOST]),
            "APP_CORS_ORIGINS": json.dumps([ALLOWED_ORIGIN]),
            "APP_TLS_CERT_FILE": str(config.project / "certs" / "dev-cert.pem"),
            "APP_TLS_KEY_FILE": str(config.project / "certs" / "dev-key.pem"),
            "APP_LOGIN_MAX_FAILURES": str(LOGIN_MAX_FAILURES),
            "APP_LOGIN_LOCKOUT_SECONDS": "600",
            "APP_LOGIN_IP_MAX_FAILURES": str(LOGIN_IP_MAX_FAILURES),
            "APP_LOGIN_IP_WINDOW_SECONDS": "600",
            "APP_APIKEY_MAX_FAILURES": str(APIKEY_MAX_FAILURES),
            "APP_APIKEY_FAILURE_WINDOW_SECONDS": "600",
        }
        cli_log = config.work / "cli" / "logs" / "audit.jsonl"
        cli_log.parent.mkdir(parents=True, exist_ok=True)

        def cli(*args: str, cwd: Path | None = None, stdin: str | None = None) -> None:
            run_cli(config, settings, *args, audit_log=cli_log, cwd=cwd, stdin=stdin)

        # The commands of README.md, "Run", with the settings of the instances.
        cli("dev-cert", cwd=config.project)
        cli("migrate")
        admin = User("admin-cluster", new_password(), roles[0], 0)
        cli("create-user", "--username", admin.username, "--role", admin.role,
            stdin=admin.password + "\n")  # fmt: skip

        instances = []
        for name, port in zip("ab", instance_ports, strict=True):
            instance = Instance(name, config.package, port, config.work / name, settings)
            instance.start()
            stack.callback(instance.service.stop)
            instances.append(instance)
        for instance in instances:
            wait_healthy(instance)

        nginx = Nginx(
            config.nginx,
            config.work / "nginx",
            shipped=(config.project / "deploy" / "nginx.conf").read_text(),
            listen_port=nginx_port,
            upstreams=instance_ports,
            cert=config.project / "certs" / "dev-cert.pem",
            key=config.project / "certs" / "dev-key.pem",
        )
        nginx.start()
        # Stopped first (callbacks run last-in first-out), while the instances still answer.
        stack.callback(nginx.service.stop)

        cluster = cls(
            config=config,
            roles=roles,
            permissions=permissions,
            settings=settings,
            instances=instances,
            nginx=nginx,
            redis=redis,
            postgres=postgres,
            ca=config.project / "certs" / "ca.pem",
            cli_audit_log=cli_log,
            admin=admin,
        )
        with cluster.proxy() as client:
            cluster.admin_headers = bearer_for(client, admin)
            me = client.get(f"{API}/me", headers=cluster.admin_headers)
            assert me.status_code == 200, me.text
        return cluster

    # -- commands ------------------------------------------------------------------------------

    def run_cli(
        self, *args: str, audit_log: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`python -m PACKAGE ARGS` with the cluster's settings (audit log: the CLI's own)."""
        log = audit_log or self.cli_audit_log
        return run_cli(self.config, self.settings, *args, audit_log=log, check=check)

    # -- clients -------------------------------------------------------------------------------

    @property
    def proxy_url(self) -> str:
        return f"https://localhost:{self.nginx.port}"

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    @contextmanager
    def proxy(self, *, ledger: bool = True) -> Iterator[httpx.Client]:
        """A client of nginx that trusts only the dev CA; its requests go into the ledger."""
        on_request: list[Any] = [_tag_request]
        on_response: list[Any] = []
        if ledger:
            on_request.append(self.ledger.on_request)
            on_response.append(self.ledger.on_response)
        with httpx.Client(
            base_url=self.proxy_url,
            verify=self.tls(),
            timeout=TIMEOUT,
            cookies=_no_cookies(),
            event_hooks={"request": on_request, "response": on_response},
        ) as client:
            yield client

    @contextmanager
    def direct(self, instance: Instance, client_ip: str | None = None) -> Iterator[httpx.Client]:
        """A client of `instance` that speaks as nginx does: from PROXY_ADDRESS, saying that
        `client_ip` (default: an address of its own) sent the request over HTTPS. A fresh
        connection per request, so that requests spread over the instance's workers."""
        transport = httpx.HTTPTransport(
            local_address=PROXY_ADDRESS, limits=httpx.Limits(max_keepalive_connections=0)
        )
        with httpx.Client(
            base_url=instance.base_url,
            transport=transport,
            timeout=TIMEOUT,
            cookies=_no_cookies(),
            headers={
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": client_ip or self.client_address(),
            },
            event_hooks={"request": [_tag_request]},
        ) as client:
            yield client

    @contextmanager
    def untrusted(self, instance: Instance) -> Iterator[httpx.Client]:
        """A client of `instance` from 127.0.0.1, a peer that is not a trusted proxy."""
        with httpx.Client(
            base_url=instance.base_url,
            timeout=TIMEOUT,
            cookies=_no_cookies(),
            event_hooks={"request": [_tag_request]},
        ) as client:
            yield client

    def client_address(self) -> str:
        """A client address no other test uses (throttles count per address)."""
        n = next(self._serial)
        return f"10.{n // 250}.{n % 250}.7"

    # -- accounts ------------------------------------------------------------------------------

    def new_user(self, role: str, tag: str = "user") -> User:
        """A user created through the proxy by the administrator (POST /users)."""
        username = f"{tag}-{next(self._serial)}"
        password = new_password()
        with self.proxy() as client:
            created = client.post(
                f"{API}/users",
                json={"username": username, "password": password, "role": role},
                headers=self.admin_headers,
            )
        assert created.status_code == 201, f"create {username}: {created.text}"
        return User(username, password, role, int(created.json()["id"]))

    # -- audit ---------------------------------------------------------------------------------

    def http_records(self) -> dict[str, list[tuple[str, dict[str, Any]]]]:
        """The `http_request` records of every instance, by request id: (instance, record)."""
        found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for instance in self.instances:
            for record in read_audit(instance.audit_log):
                if record.get("event") == "http_request" and record.get("request_id"):
                    found.setdefault(str(record["request_id"]), []).append((instance.name, record))
        return found

    def audit_verify(self, log: Path) -> subprocess.CompletedProcess[str]:
        return self.run_cli("audit", "verify", audit_log=log, check=False)

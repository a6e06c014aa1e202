"""The processes of the cluster under test, and how to start, stop, kill and restart them.

Everything here is real: a `redis-server` of its own, the PostgreSQL server that
`scripts/test-all` started (stopped and started again for the outage test), two `serve`
instances of the generated project and nginx with a configuration derived from the project's
own `deploy/nginx.conf`. Every process is started in a session of its own, so that its whole
process group (a uvicorn master and its workers, an nginx master and its workers) can be
signalled at once, and is stopped when the test run ends, whatever happened.
"""

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

HOST = "127.0.0.1"
# nginx binds its upstream connections to this loopback address (`proxy_bind`), the only one
# in APP_TRUSTED_PROXIES; the driver talks "as the proxy" from it too.
PROXY_ADDRESS = "127.0.0.2"
STARTUP_SECONDS = 90.0
STOP_SECONDS = 30.0

T = TypeVar("T")


def wait_until(what: str, check: Callable[[], T | None], timeout: float) -> T:
    """Poll `check` until it returns something other than None; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def free_ports(count: int) -> list[int]:
    """`count` different free ports: each stays bound until all are chosen, so none repeats."""
    probes = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((HOST, 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`, read from /proc.

    `os.killpg(pgid, 0)` is not enough: a zombie nobody reaps (PID 1 of a container may not)
    still belongs to its group.
    """
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat.rpartition(")")[2].split()
        if len(fields) >= 3 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


class Service:
    """A process in a session of its own, with its stdout and stderr in files."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        logs: Path,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.cwd = cwd
        self.env = dict(env)
        logs.mkdir(parents=True, exist_ok=True)
        self.stdout_path = logs / f"{name}.stdout"
        self.stderr_path = logs / f"{name}.stderr"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, f"{self.name} runs"
        with self.stdout_path.open("ab") as out, self.stderr_path.open("ab") as err:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    @property
    def pgid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        # start_new_session: the process leads a session and a process group of its own.
        return self.process.pid

    def exited(self) -> bool:
        return self.process is None or self.process.poll() is not None

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signum)

    def wait_gone(self, timeout: float) -> bool:
        """Whether the leader and every member of its group are gone within `timeout`."""
        if self.process is None:
            return True
        deadline = time.monotonic() + timeout
        while True:
            self.process.poll()
            if self.process.returncode is not None and not group_members(self.pgid):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL to the whole group: the leader and its workers, at once."""
        self.signal_group(signal.SIGKILL)
        assert self.wait_gone(STOP_SECONDS), f"{self.name}: processes survived SIGKILL"

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Ask the group to stop; SIGKILL whatever is left after STOP_SECONDS."""
        if self.process is None:
            return
        self.signal_group(signum)
        if not self.wait_gone(STOP_SECONDS):
            self.signal_group(signal.SIGKILL)
            self.wait_gone(STOP_SECONDS)

    def stderr_size(self) -> int:
        return self.stderr_path.stat().st_size if self.stderr_path.exists() else 0

    def stderr_since(self, offset: int) -> str:
        with self.stderr_path.open("rb") as stream:
            stream.seek(offset)
            return stream.read().decode("utf-8", "replace")

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for path in (self.stdout_path, self.stderr_path):
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()
                parts.append(f"--- {path} (last {lines} lines)\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)


def port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class Redis:
    """A `redis-server` of the test's own, without persistence, restartable on its port."""

    def __init__(self, binary: str, port: int, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.url = f"redis://{HOST}:{port}/0"
        argv = [binary, "--save", "", "--appendonly", "no", "--port", str(port)]
        argv += ["--bind", HOST, "--dir", str(folder)]
        self.service = Service("redis", argv, cwd=folder, env=os.environ, logs=folder)

    def ping(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.service.start()

        def ready() -> bool | None:
            assert not self.service.exited(), f"redis-server exited:\n{self.service.log_tail()}"
            return True if self.ping() else None

        wait_until(f"redis-server on port {self.port}", ready, STARTUP_SECONDS)

    def stop(self) -> None:
        self.service.stop()
        assert not port_open(self.port), "redis-server still listens after stopping"


class Postgres:
    """Control of the PostgreSQL server `scripts/test-all` started (PGDATA, PGBIN)."""

    def __init__(self, pgbin: Path, pgdata: Path, url: str) -> None:
        self.pgbin = pgbin
        self.pgdata = pgdata
        self.url = url
        self._options: str | None = None

    def _as_owner(self, argv: Sequence[str]) -> list[str]:
        # The server refuses to run as root: as root, act as the `postgres` account that owns it.
        if os.geteuid() == 0:
            return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(argv)]
        return list(argv)

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = self._as_owner([str(self.pgbin / "pg_ctl"), "-D", str(self.pgdata), *args])
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)

    def running(self) -> bool:
        return self._pg_ctl("status").returncode == 0

    def server_options(self) -> str:
        """The options the server was started with (`postmaster.opts`), but the data folder.

        `pg_ctl start` does not reuse them by itself (only `restart` does), and the port,
        socket folder and listen address must be the same after the outage.
        """
        words = shlex.split((self.pgdata / "postmaster.opts").read_text())[1:]
        kept: list[str] = []
        skip = False
        for word in words:
            if skip:
                skip = False
            elif word == "-D":
                skip = True
            else:
                kept.append(word)
        return shlex.join(kept)

    def stop(self) -> None:
        self._options = self.server_options()
        done = self._pg_ctl("-m", "fast", "-w", "-t", "60", "stop")
        assert done.returncode == 0, f"pg_ctl stop: {done.stdout}{done.stderr}"

    def start(self) -> None:
        options = self._options if self._options is not None else self.server_options()
        log = str(self.pgdata / "server.log")
        done = self._pg_ctl("-l", log, "-w", "-t", "60", "-o", options, "start")
        assert done.returncode == 0, f"pg_ctl start: {done.stdout}{done.stderr}"

    def reset_database(self) -> None:
        """An empty schema, so a second run (while developing) starts from nothing."""
        psql = [str(self.pgbin / "psql"), self.url, "-qAt", "-v", "ON_ERROR_STOP=1"]
        sql = "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;"
        env = {**os.environ, "PGOPTIONS": "--client-min-messages=warning"}
        done = subprocess.run(
            [*psql, "-c", sql], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert done.returncode == 0, f"psql {self.url}: {done.stdout}{done.stderr}"


def python_command(package: str, *args: str) -> list[str]:
    return [sys.executable, "-m", package, *args]


class Instance:
    """One `serve` of the project (a uvicorn master and its workers), in a folder of its own."""

    def __init__(
        self, name: str, package: str, port: int, folder: Path, settings: Mapping[str, str]
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.port = port
        self.folder = folder
        self.audit_log = folder / "logs" / "audit.jsonl"
        self.settings = {**settings, "APP_AUDIT_LOG_PATH": str(self.audit_log)}
        argv = python_command(package, "serve", "--host", HOST, "--port", str(port))
        # The folder has no .env: the settings are exactly the ones given here.
        self.service = Service(name, argv, cwd=folder, env=self.settings, logs=folder)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        self.service.start()


# -- nginx -------------------------------------------------------------------------------------


def nginx_version(binary: str) -> tuple[int, ...]:
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=30, check=False)
    found = re.search(r"nginx/(\d+(?:\.\d+)*)", done.stderr + done.stdout)
    assert found, f"cannot read the version of {binary}: {done.stderr}"
    return tuple(int(part) for part in found.group(1).split("."))


def _replace(text: str, pattern: str, replacement: str | Callable[[re.Match[str]], str]) -> str:
    """`text` with the one match of `pattern` replaced; fails if there is not exactly one."""
    changed, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert count == 1, f"deploy/nginx.conf: expected one match of {pattern!r}, found {count}"
    return changed


def nginx_config(
    shipped: str,
    *,
    prefix: Path,
    listen_port: int,
    upstreams: Sequence[int],
    cert: Path,
    key: Path,
    version: tuple[int, ...],
    as_root: bool,
) -> str:
    """The project's deploy/nginx.conf with only what differs on this machine replaced.

    Replaced: the upstream servers (the two instances here), the listen address, the
    certificate paths (the dev certificate), the pid file; added: `proxy_bind` (so the
    instances see nginx as PROXY_ADDRESS), the temporary folders and error log inside `prefix`
    (Debian's defaults are under /var), and `user root` when run as root (the workers must
    write to those folders). Everything else is the shipped file, so that is what is tested.
    """
    text = shipped

    block = re.search(r"^\s*upstream\s+\w+\s*\{(?P<body>[^}]*)\}", text, flags=re.MULTILINE)
    assert block, "deploy/nginx.conf has no upstream block"
    servers = re.findall(r"^\s*server\s+\S+", block.group("body"), flags=re.MULTILINE)
    assert len(servers) == len(upstreams), (
        f"deploy/nginx.conf: {len(servers)} upstream servers, the test runs {len(upstreams)}"
    )
    ports = iter(upstreams)
    body = re.sub(
        r"^(\s*server\s+)\S+?(\s|;)",
        lambda m: f"{m.group(1)}{HOST}:{next(ports)}{m.group(2)}",
        block.group("body"),
        flags=re.MULTILINE,
    )
    text = text[: block.start("body")] + body + text[block.end("body") :]

    # `http2 on;` is nginx 1.25.1 and later; older ones (Debian 12 has 1.22) take `http2` as
    # a parameter of `listen`, which means the same.
    listen_extra = ""
    if version < (1, 25, 1):
        text = _replace(text, r"^\s*http2\s+on\s*;\n", "")
        listen_extra = " http2"
    text = _replace(
        text,
        r"^(\s*)listen\s+\d+\s+ssl\s*;",
        lambda m: f"{m.group(1)}listen {HOST}:{listen_port} ssl{listen_extra};",
    )
    text = _replace(text, r"^(\s*)ssl_certificate\s+\S+;", rf"\1ssl_certificate {cert};")
    text = _replace(text, r"^(\s*)ssl_certificate_key\s+\S+;", rf"\1ssl_certificate_key {key};")
    text = _replace(text, r"^pid\s+\S+;", f"pid {prefix / 'nginx.pid'};")
    text = _replace(
        text,
        r"^(\s*)(proxy_pass\s+http://\w+;)",
        rf"\1\2\n\1proxy_bind {PROXY_ADDRESS};",
    )
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / 'temp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = _replace(text, r"^http\s*\{\n", lambda m: m.group(0) + temp + "\n")
    head = f"error_log {prefix / 'error.log'} warn;\n"
    if as_root:
        head = "user root;\n" + head
    text = head + text

    for gone in ("app-1", "app-2", "/etc/nginx", "pid /tmp/", "listen 8443"):
        assert gone not in text, f"derived nginx.conf still holds {gone!r}"
    # What the instances' trust rests on must have been kept as shipped.
    for kept in ("proxy_set_header X-Forwarded-For $remote_addr;", "X-Forwarded-Proto https;"):
        assert kept in text, f"deploy/nginx.conf no longer has {kept!r}"
    return text


class Nginx:
    def __init__(
        self,
        binary: str,
        prefix: Path,
        *,
        shipped: str,
        listen_port: int,
        upstreams: Sequence[int],
        cert: Path,
        key: Path,
    ) -> None:
        for folder in ("temp", "logs"):
            (prefix / folder).mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.prefix = prefix
        self.port = listen_port
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(
            nginx_config(
                shipped,
                prefix=prefix,
                listen_port=listen_port,
                upstreams=upstreams,
                cert=cert,
                key=key,
                version=nginx_version(binary),
                as_root=os.geteuid() == 0,
            )
        )
        self.base = [binary, "-p", str(prefix), "-c", str(self.conf)]
        self.base += ["-e", str(prefix / "error.log")]
        argv = [*self.base, "-g", "daemon off;"]
        self.service = Service("nginx", argv, cwd=prefix, env=os.environ, logs=prefix)

    def check(self) -> None:
        done = subprocess.run(
            [*self.base, "-t", "-q"], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, f"nginx -t on {self.conf}:\n{done.stdout}{done.stderr}"

    def start(self) -> None:
        self.check()
        self.service.start()

        def ready() -> bool | None:
            assert not self.service.exited(), f"nginx exited:\n{self.service.log_tail()}"
            return True if port_open(self.port) else None

        wait_until(f"nginx on port {self.port}", ready, STARTUP_SECONDS)

    def error_log_size(self) -> int:
        path = self.prefix / "error.log"
        return path.stat().st_size if path.exists() else 0

    def error_log(self, offset: int = 0) -> str:
        path = self.prefix / "error.log"
        if not path.exists():
            return ""
        with path.open("rb") as stream:
            stream.seek(offset)
            return stream.read().decode("utf-8", "replace")

"""Schemathesis against a live `serve` of one generated project (issue 16.2; run by tests/e2e.rs).

    python tests/schemathesis/live.py PROJECT_DIR PACKAGE METHODS [--every-role] [--seconds N]

In PROJECT_DIR (a freshly generated project, installed in this interpreter's environment, with
the `.env` the generator wrote): `dev-cert`, `migrate`, one user (or, with API keys alone, one
key) per role run, then `serve` on a free loopback port, and `schemathesis run --checks all`
over every phase with a fixed seed: once with the highest role's credential, or with
`--every-role` once per role and once anonymously. Exit status 0 only if every run found
nothing.

What is left out, and why (no check is ever excluded):
- With a credential, the operations that end it, `POST /auth/logout`, `POST /auth/oidc/logout`
  and `POST /me/password`: the rest of the run would only see 401s. The anonymous run covers
  them.
- Generated security parameters (`--generation-with-security-parameters false`): schemathesis
  would add a second kind of credential to ours, which the server rightly refuses with a 400
  (RFC 6750 §3.1) that says nothing about the operation under test.
- Common passwords: see hooks.py. Signing up on its own: see schemathesis.toml.

With `oidc`, `serve` trusts the project's own test provider (tests/oidc_issuer.py), run here on
loopback, so the provider login's routes are fuzzed against a provider that answers.
"""

import argparse
import contextlib
import importlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx

HOST = "127.0.0.1"
PASSWORD = "a long and uncommon passphrase 42"  # noqa: S105 - the test users' own
SEED = 20261203
HOOKS = Path(__file__).with_name("hooks.py")
CONFIG = Path(__file__).with_name("schemathesis.toml")
ENDS_THE_CREDENTIAL = r"^/api/v1/(auth/logout|auth/oidc/logout|me/password)$"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _cli(project: Path, package: str, *args: str, stdin: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-m", package, *args],
        cwd=project,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        sys.exit(f"{package} {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _credential(
    project: Path, package: str, methods: list[str], role: str, base: str, ca: str
) -> list[str]:
    """Headers carrying a fresh credential of `role`, by the first enabled method."""
    if methods == ["apikey"]:
        key = _cli(project, package, "create-api-key", "--name", f"{role} key", "--role", role)
        return [f"X-API-Key: {key.strip()}"]
    username = f"fuzz-{role}"
    _cli(project, package, "create-user", "--username", username, "--role", role, stdin=PASSWORD)
    with httpx.Client(base_url=base, verify=ca) as client:
        if "oauth2" in methods:
            form = {"grant_type": "password", "username": username, "password": PASSWORD}
            token = client.post("/api/v1/auth/token", data=form)
            token.raise_for_status()
            return [f"Authorization: Bearer {token.json()['access_token']}"]
        login = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        login.raise_for_status()
        cookies = SimpleCookie()
        for header in login.headers.get_list("set-cookie"):
            cookies.load(header)
        session = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())
        return [f"Cookie: {session}", f"X-CSRF-Token: {login.json()['csrf_token']}"]


def _wait_for(process: subprocess.Popen[bytes], base: str, ca: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"serve exited with {process.returncode}")
        try:
            httpx.get(f"{base}/api/v1/health", verify=ca, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
        else:
            return
    sys.exit("serve did not answer within 60 seconds")


def _schemathesis(base: str, ca: str, package: str, headers: list[str], seconds: int) -> int:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        *("--config-file", str(CONFIG), "run"),
        f"{base}/openapi.json",
        *("--checks", "all", "--seed", str(SEED), "--max-time", str(seconds)),
        *("--phases", "examples,coverage,fuzzing,stateful"),
        *("--tls-verify", ca, "--no-color"),
        *("--generation-with-security-parameters", "false"),
    ]
    for header in headers:
        command += ["-H", header]
    if headers:
        command += ["--exclude-path-regex", ENDS_THE_CREDENTIAL]
    environment = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "PORTCULLIS_PACKAGE": package}
    result = subprocess.run(command, env=environment, check=False)
    return result.returncode


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("project", type=Path)
    parser.add_argument("package")
    parser.add_argument("methods", help="comma-separated, e.g. oauth2,apikey")
    parser.add_argument("--every-role", action="store_true")
    parser.add_argument("--seconds", type=int, default=40, help="schemathesis time per run")
    args = parser.parse_args()
    project: Path = args.project.resolve()
    methods: list[str] = args.methods.split(",")
    permissions = importlib.import_module(f"{args.package}.core.permissions")
    roles = [role.value for role in permissions.ROLES]
    _cli(project, args.package, "dev-cert")
    _cli(project, args.package, "migrate")
    port = _free_port()
    base, ca = f"https://localhost:{port}", str(project / "certs" / "ca.pem")
    with contextlib.ExitStack() as stack:
        environment = dict(os.environ)
        if "oidc" in methods:
            environment |= stack.enter_context(_provider(project, base))
        return _run(args, project, roles, methods, base, ca, port, environment)


@contextlib.contextmanager
def _provider(project: Path, base: str) -> Iterator[dict[str, str]]:
    """The project's test provider on loopback, and the settings that make `serve` trust it."""
    sys.path.insert(0, str(project))
    issuer_module = importlib.import_module("tests.oidc_issuer")
    issuer = issuer_module.LocalIssuer()
    with issuer.serve():
        yield {
            "APP_OIDC_ISSUER": issuer.url,
            "APP_OIDC_AUDIENCE": issuer_module.AUDIENCE,
            "APP_OIDC_CLIENT_ID": issuer_module.CLIENT_ID,
            "APP_OIDC_CLIENT_SECRET": issuer_module.CLIENT_SECRET,
            "APP_OIDC_REDIRECT_URL": f"{base}/api/v1/auth/oidc/callback",
        }


def _run(
    args: argparse.Namespace,
    project: Path,
    roles: list[str],
    methods: list[str],
    base: str,
    ca: str,
    port: int,
    environment: dict[str, str],
) -> int:
    with (project / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", args.package, "serve", "--host", HOST, "--port", str(port)],
            cwd=project,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(server, base, ca)
        runs = {
            role: _credential(project, args.package, methods, role, base, ca)
            for role in (roles if args.every_role else roles[:1])
        }
        if args.every_role:
            runs["anonymous"] = []
        failed = []
        for name, headers in runs.items():
            print(f"\n=== schemathesis, {args.methods}, as {name}", flush=True)
            if _schemathesis(base, ca, args.package, headers, args.seconds) != 0:
                failed.append(name)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if failed:
        print(f"schemathesis found failures for {args.methods} as: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

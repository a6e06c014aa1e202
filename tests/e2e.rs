//! End to end: the generated projects themselves, not the generator's opinion of them.
//!
//! For every set of auth methods × every role model, generate a project with custom role
//! names, install it into one shared virtualenv (`target/e2e-venv`) and run `ruff check`,
//! `ruff format --check`, `mypy` (strict) and `bandit`; and its own `pytest` for a covering
//! part of the matrix (see `runs_pytest`): every method set, every role model, and every pair
//! of a method and a role model at least once. Then start one project's
//! `serve` over TLS and log in through a client that trusts only the generated CA, and run a
//! PostgreSQL project's suite against a real server (`PORTCULLIS_TEST_POSTGRES_URL`, which
//! `scripts/test-all` provides), and schemathesis against a live server of every auth-method
//! set (tests/schemathesis/).
//!
//! `PORTCULLIS_E2E_ONLY=oauth2-flat,session-permissions` narrows the matrix while developing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

mod common;
use common::project::{free_port, generate, repo, run, venv, venv_bin, work_dir};
use common::METHOD_SETS;

const MODELS: [&str; 3] = ["flat", "hierarchical", "permissions"];

/// Custom role names per model, so nothing in a template may assume `admin,editor,viewer`.
fn roles_for(model: &str) -> &'static str {
    match model {
        "flat" => "superuser,operator,analyst,guest",
        "hierarchical" => "owner,maintainer,reader",
        _ => "chief,clerk",
    }
}

/// Creates the shared virtualenv once per run: the union of every project's dependencies,
/// installed from the generated `pyproject.toml`s themselves (so their floors are tested).
/// pip is not safe to run twice at once on one environment; every install takes this lock.
static PIP: Mutex<()> = Mutex::new(());

fn pip_install_editable(dir: &Path) -> Result<String, String> {
    let _guard = PIP.lock().unwrap_or_else(|e| e.into_inner());
    run(Command::new(venv_bin("pip"))
        .args(["install", "-q", "--no-deps", "--no-build-isolation", "-e"])
        .arg(dir))
}

fn ensure_venv() {
    static READY: OnceLock<()> = OnceLock::new();
    let _guard = PIP.lock().unwrap_or_else(|e| e.into_inner());
    READY.get_or_init(|| {
        let every = METHOD_SETS[METHOD_SETS.len() - 1];
        let all_sqlite = generate(&work_dir("e2e"), "deps-sqlite", &["--auth", every]);
        let all_pg = generate(
            &work_dir("e2e"),
            "deps-postgres",
            &["--auth", every, "--database", "postgres"],
        );
        if !venv_bin("python").exists() {
            run(Command::new("python3").args(["-m", "venv"]).arg(venv()))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let pip = venv_bin("pip");
        run(Command::new(&pip).args([
            "install",
            "-q",
            "--upgrade",
            "pip",
            "hatchling",
            "editables",
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        for project in [&all_sqlite, &all_pg] {
            run(Command::new(&pip)
                .args(["install", "-q", "-e"])
                .arg(format!("{}[dev]", project.display())))
            .unwrap_or_else(|e| panic!("{e}"));
        }
    });
}

/// mypy's cache saves most of its time (the third-party packages are the same everywhere), but
/// one cache must not be written by two runs at once: every project names its test modules
/// `tests.*`, so a shared cache mixes one project's `tests/support.py` into another's check.
/// Each running check borrows a cache of its own and gives it back when done.
struct MypyCache {
    dir: PathBuf,
}

static FREE_CACHES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static CACHES_MADE: Mutex<usize> = Mutex::new(0);

impl MypyCache {
    fn take() -> Self {
        let free = FREE_CACHES.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let dir = free.unwrap_or_else(|| {
            let mut made = CACHES_MADE.lock().unwrap_or_else(|e| e.into_inner());
            *made += 1;
            repo().join("target").join(format!("e2e-mypy-cache-{made}"))
        });
        Self { dir }
    }
}

impl Drop for MypyCache {
    fn drop(&mut self) {
        let dir = std::mem::take(&mut self.dir);
        FREE_CACHES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(dir);
    }
}

/// Installs one project (no dependencies: the venv has the union) and runs its checks; its
/// own test suite too with `pytest`.
fn check_project(dir: &Path, extra_env: &[(&str, &str)], pytest: bool) -> Result<(), String> {
    pip_install_editable(dir)?;
    let path = format!(
        "{}:{}",
        venv().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let slot = MypyCache::take();
    let cache = slot.dir.display().to_string();
    let steps: [(&str, &[&str]); 5] = [
        ("ruff", &["check", "--no-cache", "."]),
        ("ruff", &["format", "--check", "--no-cache", "."]),
        ("mypy", &["--cache-dir", &cache]),
        // The same medium-and-up threshold the project's own CI uses.
        (
            "bandit",
            &["-q", "-ll", "-c", "pyproject.toml", "-r", "src"],
        ),
        ("pytest", &["-p", "no:cacheprovider"]),
    ];
    let steps = if pytest { &steps[..] } else { &steps[..4] };
    for &(tool, args) in steps {
        let mut cmd = Command::new(venv_bin(tool));
        // A validator the project's tests need (uv, promtool, hadolint, ...) that is missing
        // must fail the run here, not skip: scripts/test-all installs every one.
        cmd.args(args)
            .current_dir(dir)
            .env("PATH", &path)
            .env("TEST_REQUIRE_TOOLS", "1");
        for (key, value) in extra_env {
            cmd.env(key, value);
        }
        run(&mut cmd).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Whether a project of the matrix also runs its own suite. What a role model changes is the
/// permission table and the tests derived from it, whatever the methods; what a method set
/// changes is which credentials exist, whatever the model. So each method set runs its suite
/// under one model (taking turns), and the richest set under all three: every set, every model
/// and every method-model pair is tested, at 17 suites instead of 45. Every project of the
/// matrix is still linted and type-checked, its tests included.
fn runs_pytest(methods: &str, model: &str) -> bool {
    let index = METHOD_SETS
        .iter()
        .position(|m| *m == methods)
        .expect("a method set of the matrix");
    index == METHOD_SETS.len() - 1 || MODELS[index % MODELS.len()] == model
}

fn selected(combo: &str) -> bool {
    match std::env::var("PORTCULLIS_E2E_ONLY") {
        Ok(only) if !only.trim().is_empty() => only.split(',').any(|c| c.trim() == combo),
        _ => true,
    }
}

#[test]
fn every_method_set_and_role_model_passes_its_own_checks() {
    ensure_venv();
    let started = Instant::now();
    let combos: Vec<(&str, &str)> = METHOD_SETS
        .iter()
        .flat_map(|methods| MODELS.iter().map(move |model| (*methods, *model)))
        .filter(|(methods, model)| selected(&combo_name(methods, model)))
        .collect();
    assert!(
        !combos.is_empty(),
        "PORTCULLIS_E2E_ONLY selected no combination"
    );
    // Each project's checks are single-threaded, so one worker per core halves the wall time.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let queue = Mutex::new(combos.clone().into_iter());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some((methods, model)) = next else { break };
                let combo = combo_name(methods, model);
                // No prefix: the richest set's name is already 38 of the 40 characters allowed.
                let dir = generate(
                    &work_dir("e2e"),
                    &combo.replace('+', "-"),
                    &[
                        "--auth",
                        methods,
                        "--role-model",
                        model,
                        "--roles",
                        roles_for(model),
                    ],
                );
                let one = Instant::now();
                let pytest = runs_pytest(methods, model);
                let what = if pytest { "all checks" } else { "lint+types" };
                match check_project(&dir, &[], pytest) {
                    Ok(()) => eprintln!("e2e ok   {combo}: {what} ({:.0?})", one.elapsed()),
                    Err(e) => {
                        eprintln!("e2e FAIL {combo}");
                        let mut failed = failures.lock().unwrap_or_else(|e| e.into_inner());
                        failed.push(format!("== {combo} ==\n{e}"));
                    }
                }
            });
        }
    });
    eprintln!(
        "e2e: {} projects in {:.0?}",
        combos.len(),
        started.elapsed()
    );
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn combo_name(methods: &str, model: &str) -> String {
    format!("{}-{model}", methods.replace(',', "+"))
}

#[test]
fn postgres_project_passes_its_suite_against_a_real_server() {
    let url = std::env::var("PORTCULLIS_TEST_POSTGRES_URL").expect(
        "PORTCULLIS_TEST_POSTGRES_URL must name an empty PostgreSQL database \
         (scripts/test-all starts one)",
    );
    ensure_venv();
    let dir = generate(
        &work_dir("e2e"),
        "e2e-postgres",
        &[
            "--auth",
            METHOD_SETS[METHOD_SETS.len() - 1],
            "--database",
            "postgres",
            "--role-model",
            "hierarchical",
        ],
    );
    // The generated project talks to PostgreSQL through asyncpg.
    let async_url = url.replacen("postgresql://", "postgresql+asyncpg://", 1);
    check_project(&dir, &[("APP_TEST_DATABASE_URL", &async_url)], true)
        .unwrap_or_else(|e| panic!("{e}"));
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_over_tls_logs_in_and_enforces_permissions() {
    ensure_venv();
    let dir = generate(
        &work_dir("e2e"),
        "e2e-tls",
        &[
            "--auth",
            "oauth2",
            "--roles",
            "owner,reader",
            "--role-model",
            "flat",
        ],
    );
    pip_install_editable(&dir).unwrap_or_else(|e| panic!("{e}"));
    let python = venv_bin("python");
    let cli = |args: &[&str]| {
        let mut cmd = Command::new(&python);
        cmd.args(["-m", "e2e_tls"]).args(args).current_dir(&dir);
        cmd
    };
    run(&mut cli(&["dev-cert"])).unwrap_or_else(|e| panic!("{e}"));
    run(&mut cli(&["migrate"])).unwrap_or_else(|e| panic!("{e}"));
    let password = "correct horse battery staple 7";
    for (user, role) in [("olivia", "owner"), ("rita", "reader")] {
        let mut child = cli(&["create-user", "--username", user, "--role", role])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn create-user");
        use std::io::Write;
        writeln!(child.stdin.take().expect("stdin"), "{password}").expect("write password");
        let out = child.wait_with_output().expect("create-user");
        assert!(out.status.success(), "create-user: {out:?}");
    }
    let port = free_port().to_string();
    let server = Server(
        cli(&["serve", "--port", &port])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn serve"),
    );
    // A client that trusts only the generated CA: certificate names and chain must be right.
    let script = r#"
import sys, time, httpx
port, password = sys.argv[1], sys.argv[2]
base = f"https://localhost:{port}/api/v1"
client = httpx.Client(verify="certs/ca.pem", timeout=5)
for _ in range(100):
    try:
        client.get(f"{base}/health"); break
    except httpx.TransportError:
        time.sleep(0.2)
health = client.get(f"{base}/health")
assert health.status_code == 200, health.text
assert "server" not in health.headers, health.headers
assert "max-age=" in health.headers["strict-transport-security"]
def token(user):
    r = client.post(f"{base}/auth/token",
                    data={"grant_type": "password", "username": user, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}
reader = token("rita")
listed = client.get(f"{base}/items", headers=reader)
assert listed.status_code == 200, listed.text
forbidden = client.post(f"{base}/items", json={"name": "x"}, headers=reader)
assert forbidden.status_code == 403, forbidden.text
owner = token("olivia")
created = client.post(f"{base}/items", json={"name": "x"}, headers=owner)
assert created.status_code == 201, created.text
print("tls ok")
"#;
    let result = run(Command::new(&python)
        .args(["-c", script, &port, password])
        .current_dir(&dir));
    drop(server);
    let out = result.unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("tls ok"), "{out}");
    // Wait a little for the port to be released before the next test reuses the machine.
    std::thread::sleep(Duration::from_millis(50));
}

/// The method sets schemathesis runs against: each shape of the document (which schemes, which
/// auth routes) once. `oidc` adds its scheme, and with `session` its login routes, which the
/// last two sets hold; alone it would need a provider to get a credential from, and its
/// document is the `oauth2,oidc` one without the password routes.
const SCHEMATHESIS_SETS: [&str; 8] = [
    "oauth2",
    "apikey",
    "session",
    "oauth2,apikey",
    "oauth2,session",
    "apikey,session",
    "oidc,session",
    "oauth2,oidc,apikey,session",
];

/// Issue 16.2: schemathesis (`--checks all`, every phase, a fixed seed) against a live `serve`
/// of each auth-method set, with its highest role's credential; the all-methods set once per
/// role and once anonymously. What tests/schemathesis/live.py leaves out, it names with why.
#[test]
fn schemathesis_finds_nothing_against_a_live_server_of_every_method_set() {
    ensure_venv();
    let script = repo().join("tests").join("schemathesis").join("live.py");
    let mut failed = Vec::new();
    for methods in SCHEMATHESIS_SETS {
        let name = format!("st-{}", methods.replace(',', "-"));
        let dir = generate(&work_dir("e2e"), &name, &["--auth", methods]);
        pip_install_editable(&dir).unwrap_or_else(|e| panic!("{e}"));
        let mut cmd = Command::new(venv_bin("python"));
        cmd.arg(&script)
            .arg(&dir)
            .arg(name.replace('-', "_"))
            .arg(methods)
            .args(["--seconds", "30"]);
        if methods == SCHEMATHESIS_SETS[SCHEMATHESIS_SETS.len() - 1] {
            cmd.arg("--every-role");
        }
        if let Err(report) = run(&mut cmd) {
            failed.push(report);
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// Issue 13.4: `portcullis new --setup` with the real uv (the shared virtualenv's, on PATH):
/// `.venv` from the project's `uv.lock`, the development certificate, the SQLite database and an
/// admin whose stored hash verifies against the password given on stdin.
#[test]
fn setup_leaves_a_ready_project_with_the_real_uv() {
    assert!(
        venv_bin("uv").exists(),
        "target/e2e-venv/bin/uv is needed (scripts/test-all installs it)"
    );
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = format!(
        "{}:{}",
        venv().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let password = "correct horse battery staple 13";
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["new", "setup-demo", "--defaults", "--setup", "--output-dir"])
        .arg(tmp.path())
        .env("PATH", &path)
        .env("NO_COLOR", "1")
        .env_remove("VIRTUAL_ENV")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn portcullis");
    use std::io::Write;
    writeln!(child.stdin.take().expect("stdin"), "{password}").expect("write password");
    let out = child.wait_with_output().expect("portcullis new --setup");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "--setup failed:\n{stderr}");
    assert!(
        stderr.contains("setup: [4/4] first admin `admin`"),
        "{stderr}"
    );
    let dir = tmp.path().join("setup-demo");
    for file in [
        ".venv/bin/python",
        "certs/ca.pem",
        "certs/dev-cert.pem",
        "certs/dev-key.pem",
        "data/app.db",
    ] {
        assert!(dir.join(file).is_file(), "{file} is missing:\n{stderr}");
    }
    // The admin is in the database with the highest role, and its hash is of the given password.
    let script = r#"
import asyncio, sqlite3, sys
from setup_demo.core.config import Settings
from setup_demo.core.passwords import PasswordService
row = sqlite3.connect("data/app.db").execute(
    "select role, password_hash from users where username = 'admin'").fetchone()
assert row is not None, "no admin"
assert row[0] == "admin", row
verified = asyncio.run(PasswordService(Settings()).verify(sys.argv[1], row[1]))
assert verified, "the stored hash is not of the password given on stdin"
print("admin ok")
"#;
    let python = dir.join(".venv/bin/python");
    let checked = run(Command::new(&python)
        .args(["-c", script, password])
        .current_dir(&dir))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(checked.contains("admin ok"), "{checked}");
    // And the project's own check of its settings passes in that environment.
    run(Command::new(&python)
        .args(["-m", "setup_demo", "selfcheck"])
        .current_dir(&dir))
    .unwrap_or_else(|e| panic!("{e}"));
}

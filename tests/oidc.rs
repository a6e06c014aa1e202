//! End to end through a real OpenID provider: a generated `oidc,session` project signs users in
//! with panva's `oidc-provider` (tests/oidc/provider.mjs) and takes its access tokens.
//!
//! Generates the project into `target/e2e/oidc-e2e`, installs it into the shared virtualenv
//! (`target/e2e-venv`), starts the provider and the project's `serve` over TLS on free loopback
//! ports, and runs tests/oidc/drive.py against both: the browser login through the provider's
//! login and consent forms into a session (and logout), the callback refusing a replayed,
//! forged or cookie-less state, a user whose roles map to no role, and bearer access tokens
//! from the provider's public `cli` client (one accepted; altered, for another audience, an ID
//! token and an unmapped user's refused). The servers' logs are in `target/e2e/oidc-e2e-run`.
//!
//! Needs Node.js and tests/oidc/node_modules (`npm ci` there), and the shared virtualenv, all
//! of which `scripts/test-all` installs. Anything missing fails the test, never skips it.

use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::project::{free_port, generate, repo, run, venv_bin, work_dir};

const PROJECT: &str = "oidc-e2e";
const PACKAGE: &str = "oidc_e2e";
/// The API's identifier at the provider: the `aud` of the access tokens the service accepts.
const AUDIENCE: &str = "https://api.example.test";
/// Another resource the provider issues tokens for, which the service must refuse.
const OTHER_AUDIENCE: &str = "https://other.example.test";
const CLIENT_ID: &str = "oidc-e2e-service";
const CLIENT_SECRET: &str = "oidc-e2e-client-secret-not-for-anything-else";
/// How long the provider and the service get to start listening.
const STARTUP: Duration = Duration::from_secs(60);

fn oidc_dir() -> PathBuf {
    repo().join("tests").join("oidc")
}

/// A child process, killed when dropped (at the end of the test, or when it panics).
struct Server {
    child: Child,
    name: &'static str,
    logs: Vec<PathBuf>,
}

impl Server {
    /// Starts `cmd` with stdout and stderr in `run_dir`'s `NAME.out` and `NAME.err`.
    fn start(name: &'static str, cmd: &mut Command, run_dir: &Path) -> Self {
        let out = run_dir.join(format!("{name}.out"));
        let err = run_dir.join(format!("{name}.err"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(File::create(&out).expect("create stdout log"))
            .stderr(File::create(&err).expect("create stderr log"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name} ({cmd:?}): {e}"));
        Self {
            child,
            name,
            logs: vec![out, err],
        }
    }

    /// What it printed so far, for a failure's message.
    fn logs(&self) -> String {
        self.logs
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                format!("--- {} ---\n{text}", path.display())
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until `ready` holds, failing at once if the process ends first.
    fn wait_until(&mut self, what: &str, ready: impl Fn() -> bool) {
        let started = Instant::now();
        while !ready() {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "{} exited ({status}) before {what}:\n{}",
                    self.name,
                    self.logs()
                );
            }
            assert!(
                started.elapsed() < STARTUP,
                "{} did not get to {what} within {STARTUP:?}:\n{}",
                self.name,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything the test needs that scripts/test-all installs, or one message naming all that
/// is missing.
fn check_prerequisites() {
    let mut missing = Vec::new();
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node is not on PATH (Node.js 20 or later)".to_string());
    }
    let provider = oidc_dir().join("node_modules").join("oidc-provider");
    if !provider.is_dir() {
        missing.push(format!(
            "{} is missing: run `npm ci` in tests/oidc",
            provider.display()
        ));
    }
    if !venv_bin("python").is_file() {
        missing.push(format!(
            "{} is missing: the shared virtualenv is not set up",
            venv_bin("python").display()
        ));
    }
    assert!(
        missing.is_empty(),
        "the OpenID test cannot run (scripts/test-all, or `scripts/test-all --setup-only`, \
         installs all of it):\n  - {}",
        missing.join("\n  - ")
    );
}

#[test]
fn session_and_bearer_logins_through_a_real_openid_provider() {
    check_prerequisites();
    let dir = generate(
        &work_dir("e2e"),
        PROJECT,
        &[
            "--auth",
            "oidc,session",
            "--role-model",
            "flat",
            "--roles",
            "chief,clerk",
        ],
    );
    // The editable install builds with hatchling from the venv (no build isolation, offline);
    // the venv already has the project's dependencies.
    run(Command::new(venv_bin("pip")).args(["install", "-q", "hatchling", "editables"]))
        .unwrap_or_else(|e| panic!("{e}"));
    run(Command::new(venv_bin("pip"))
        .args(["install", "-q", "--no-deps", "--no-build-isolation", "-e"])
        .arg(&dir))
    .unwrap_or_else(|e| panic!("{e}"));
    let cli = |args: &[&str]| {
        let mut cmd = Command::new(venv_bin("python"));
        cmd.args(["-m", PACKAGE]).args(args).current_dir(&dir);
        cmd
    };
    run(&mut cli(&["dev-cert"])).unwrap_or_else(|e| panic!("{e}"));
    run(&mut cli(&["migrate"])).unwrap_or_else(|e| panic!("{e}"));

    let run_dir = work_dir("e2e").join(format!("{PROJECT}-run"));
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir).expect("create the run folder");
    let provider_port = free_port().to_string();
    let service_port = free_port().to_string();
    let issuer = format!("http://127.0.0.1:{provider_port}");
    let service = format!("https://localhost:{service_port}");
    let redirect_url = format!("{service}/api/v1/auth/oidc/callback");

    let mut provider = Server::start(
        "provider",
        Command::new("node")
            .arg(oidc_dir().join("provider.mjs"))
            .args(["--port", &provider_port])
            .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
            .args(["--redirect-uri", &redirect_url])
            .args(["--audience", AUDIENCE, "--other-audience", OTHER_AUDIENCE])
            // Short-lived, so the driver can see one expire: the service allows 30 s of skew.
            .args(["--access-token-ttl", "5"])
            .current_dir(oidc_dir()),
        &run_dir,
    );
    let ready_line = format!("ready {issuer}");
    let provider_out = run_dir.join("provider.out");
    provider.wait_until("its ready line", || {
        std::fs::read_to_string(&provider_out).is_ok_and(|out| out.lines().any(|l| l == ready_line))
    });

    let mut server = Server::start(
        "serve",
        cli(&["serve", "--port", &service_port])
            .env("APP_ENVIRONMENT", "development")
            .env("APP_OIDC_ISSUER", &issuer)
            .env("APP_OIDC_AUDIENCE", AUDIENCE)
            .env("APP_OIDC_CLIENT_ID", CLIENT_ID)
            .env("APP_OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("APP_OIDC_REDIRECT_URL", &redirect_url)
            .env("APP_OIDC_ROLES_CLAIM", "roles"),
        &run_dir,
    );
    // uvicorn listens once the application has started up, so a connection means ready.
    let address: SocketAddr = format!("127.0.0.1:{service_port}")
        .parse()
        .expect("address");
    server.wait_until("listening", || {
        TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
    });

    let driven = run(Command::new(venv_bin("python"))
        .arg(oidc_dir().join("drive.py"))
        .args(["--service", &service, "--issuer", &issuer])
        .arg("--ca")
        .arg(dir.join("certs").join("ca.pem"))
        .args(["--audience", AUDIENCE, "--other-audience", OTHER_AUDIENCE])
        .env("PYTHONDONTWRITEBYTECODE", "1"));
    let logs = format!("{}\n{}", provider.logs(), server.logs());
    drop(server);
    drop(provider);
    match driven {
        Ok(out) => {
            eprintln!("{out}");
            assert!(out.contains("oidc e2e ok"), "{out}\n{logs}");
        }
        Err(report) => panic!("{report}\n{logs}"),
    }
}

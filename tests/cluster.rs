//! The cluster test (issue 10): a generated project as it is deployed, on real servers.
//!
//! Generates a PostgreSQL project with every first-party auth method (oauth2, apikey, session;
//! oidc needs a provider, which tests/oidc.rs runs) into `target/cluster`, installs it into
//! the shared virtualenv (`target/e2e-venv`, which `scripts/test-all` prepares) and runs
//! the pytest driver kept in this repository, `tests/cluster/test_cluster.py`: two `serve`
//! instances (two workers each, proxy mode, production settings) behind nginx terminating TLS
//! with the project's own `deploy/nginx.conf`, on one PostgreSQL database and one `redis-server`
//! of the driver's own. It proves shared logout, lockout and rate limits, CSRF and client
//! addresses through the proxy, the audit trail of every request, and what happens when an
//! instance is killed and when Redis or PostgreSQL restarts (see the driver's docstrings).
//!
//! Needs `redis-server`, `nginx` and a PostgreSQL server it may stop and start:
//! `PORTCULLIS_TEST_CLUSTER_URL` (an empty database), `PORTCULLIS_TEST_PGDATA` and
//! `PORTCULLIS_TEST_PGBIN`, all of which `scripts/test-all` provides. Anything missing fails
//! the test, never skips it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::project::{generate, repo, run, venv_bin, work_dir};

/// The driver's own limit is about four minutes; this catches a hang, not a slow machine.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const PROJECT: &str = "cluster-svc";
const PACKAGE: &str = "cluster_svc";

/// `name` on PATH, else in the sbin folders a non-root PATH often lacks (Debian's nginx).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Everything the cluster needs, or one message naming all that is missing.
struct Prerequisites {
    redis_server: PathBuf,
    nginx: PathBuf,
    pg_url: String,
    pgdata: String,
    pgbin: String,
}

fn prerequisites() -> Prerequisites {
    let mut missing = Vec::new();
    let redis_server = find_program("redis-server");
    if redis_server.is_none() {
        missing.push("redis-server is not installed (apt-get install redis-server)".to_string());
    }
    let nginx = find_program("nginx");
    if nginx.is_none() {
        missing.push("nginx is not installed (apt-get install nginx)".to_string());
    }
    let mut var = |name: &str, what: &str| {
        let value = env_value(name);
        if value.is_none() {
            missing.push(format!("{name} is not set: {what}"));
        }
        value.unwrap_or_default()
    };
    let pg_url = var(
        "PORTCULLIS_TEST_CLUSTER_URL",
        "the URL of an empty PostgreSQL database the cluster may use",
    );
    let pgdata = var(
        "PORTCULLIS_TEST_PGDATA",
        "that server's data folder (the test stops and starts it)",
    );
    let pgbin = var(
        "PORTCULLIS_TEST_PGBIN",
        "the folder of that server's pg_ctl and psql",
    );
    if !pgbin.is_empty() {
        for tool in ["pg_ctl", "psql"] {
            if !Path::new(&pgbin).join(tool).is_file() {
                missing.push(format!(
                    "{pgbin}/{tool} does not exist (PORTCULLIS_TEST_PGBIN)"
                ));
            }
        }
    }
    if !venv_bin("pytest").is_file() {
        missing.push(format!(
            "{} is missing: the shared virtualenv is not set up",
            venv_bin("pytest").display()
        ));
    }
    assert!(
        missing.is_empty(),
        "the cluster test cannot run (scripts/test-all installs and starts all of it):\n  - {}",
        missing.join("\n  - ")
    );
    Prerequisites {
        redis_server: redis_server.unwrap_or_default(),
        nginx: nginx.unwrap_or_default(),
        pg_url,
        pgdata,
        pgbin,
    }
}

/// Sends `signal` to the process group `pgid` (the driver runs in one of its own).
fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pgid}")])
        .status();
}

#[test]
fn two_instances_behind_nginx_on_postgres_and_redis() {
    let needs = prerequisites();
    let dir = generate(
        &work_dir("cluster"),
        PROJECT,
        &["--auth", "oauth2,apikey,session", "--database", "postgres"],
    );
    // The editable install builds with hatchling from the venv (no build isolation, offline).
    run(Command::new(venv_bin("pip")).args(["install", "-q", "hatchling", "editables"]))
        .unwrap_or_else(|e| panic!("{e}"));
    run(Command::new(venv_bin("pip"))
        .args(["install", "-q", "--no-deps", "--no-build-isolation", "-e"])
        .arg(&dir))
    .unwrap_or_else(|e| panic!("{e}"));

    let work = work_dir("cluster").join("run");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("create target/cluster/run");
    let log_path = work_dir("cluster").join("driver.log");
    let log = File::create(&log_path).expect("create driver.log");
    let started = Instant::now();
    let mut child = {
        use std::os::unix::process::CommandExt;
        Command::new(venv_bin("pytest"))
            .args(["-p", "no:cacheprovider", "-q", "-rA", "--durations=10"])
            .arg(repo().join("tests").join("cluster").join("test_cluster.py"))
            .current_dir(repo())
            .env("PORTCULLIS_CLUSTER_PROJECT", &dir)
            .env("PORTCULLIS_CLUSTER_PACKAGE", PACKAGE)
            .env("PORTCULLIS_CLUSTER_WORK", &work)
            .env("PORTCULLIS_CLUSTER_REDIS_SERVER", &needs.redis_server)
            .env("PORTCULLIS_CLUSTER_NGINX", &needs.nginx)
            .env("PORTCULLIS_TEST_CLUSTER_URL", &needs.pg_url)
            .env("PORTCULLIS_TEST_PGDATA", &needs.pgdata)
            .env("PORTCULLIS_TEST_PGBIN", &needs.pgbin)
            // Nothing written into the checkout's tests/cluster.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            // A group of its own: on a hang it gets SIGINT, so pytest's finalizers stop the
            // servers it started.
            .process_group(0)
            .spawn()
            .expect("spawn pytest")
    };
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for pytest") {
            break Some(status);
        }
        if started.elapsed() > DRIVER_TIMEOUT {
            signal_group(child.id(), "INT");
            let grace = Instant::now();
            while child.try_wait().expect("wait").is_none() && grace.elapsed().as_secs() < 60 {
                std::thread::sleep(Duration::from_millis(200));
            }
            signal_group(child.id(), "KILL");
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    eprintln!(
        "cluster driver ({:.0?}, log {}):\n{output}",
        started.elapsed(),
        log_path.display()
    );
    match status {
        None => panic!("the cluster driver did not finish within {DRIVER_TIMEOUT:?}"),
        Some(status) => assert!(
            status.success(),
            "the cluster driver failed ({status}); its output is above, the servers' logs are \
             in {}",
            work.display()
        ),
    }
}

//! Generating a project and running its tools: what the test binaries that drive whole
//! projects (`e2e`, `cluster`, `oidc`) share.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/NAME`, created: where a test binary generates and runs its projects.
pub fn work_dir(name: &str) -> PathBuf {
    let dir = repo().join("target").join(name);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// The virtualenv every generated project is installed into (`scripts/test-all` makes it).
pub fn venv() -> PathBuf {
    repo().join("target").join("e2e-venv")
}

pub fn venv_bin(tool: &str) -> PathBuf {
    venv().join("bin").join(tool)
}

/// Runs a command, returning its combined output as the error when it fails.
pub fn run(cmd: &mut Command) -> Result<String, String> {
    let shown = format!("{cmd:?}");
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{shown}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!("{shown} failed ({}):\n{text}", output.status))
    }
}

/// `portcullis new NAME --defaults ARGS` into `out`; panics with the generator's output.
pub fn generate(out: &Path, name: &str, args: &[&str]) -> PathBuf {
    // A fresh tree each run: leftovers (caches, databases, certificates) must not make a broken
    // project pass.
    let _ = std::fs::remove_dir_all(out.join(name));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.args(["new", name, "--output-dir"])
        .arg(out)
        .arg("--defaults")
        .args(args)
        .env("NO_COLOR", "1");
    run(&mut cmd).unwrap_or_else(|e| panic!("generate {name}: {e}"));
    out.join(name)
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

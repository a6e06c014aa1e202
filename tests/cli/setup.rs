// Why: `portcullis new --setup` runs real commands after writing; these tests drive the real
// binary with a fake `uv` (and the fake `.venv/bin/python` it "installs") on PATH, so the step
// order, the stdin pass-through, the API key display and the failure report are checked without
// a network. The real uv is exercised once, in tests/e2e.rs.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::support::portcullis;

/// Records every call (in the project folder), reads the password line, prints a fake API key.
const FAKE_PYTHON: &str = r#"#!/bin/sh
echo "$*" >> calls.log
case "$3" in
  create-user) IFS= read -r pw; printf '%s\n' "$pw" > password.log; echo "created user $5";;
  create-api-key) echo "creating"; echo "pk_fake_key_123";;
esac
"#;

fn script(path: &Path, body: &str) {
    fs_err::write(path, body).unwrap();
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A folder holding a `uv` with `body` (and the fake python), and the PATH that finds it first.
fn fake_uv(tmp: &Path, body: &str) -> String {
    let bin = tmp.join("bin");
    fs_err::create_dir(&bin).unwrap();
    script(&bin.join("fake-python"), FAKE_PYTHON);
    script(
        &bin.join("uv"),
        &body.replace("BIN", &bin.display().to_string()),
    );
    format!("{}:/usr/bin:/bin", bin.display())
}

const WORKING_UV: &str = "#!/bin/sh\n\
    echo \"$*\" > uv.log\n\
    mkdir -p .venv/bin && cp BIN/fake-python .venv/bin/python\n";

fn new_with_setup(
    tmp: &Path,
    path: &str,
    extra: &[&str],
    stdin: &str,
) -> assert_cmd::assert::Assert {
    portcullis()
        .args(["new", "x", "--defaults", "--setup", "--output-dir", "out"])
        .current_dir(tmp)
        .args(extra)
        .env("PATH", path)
        .write_stdin(stdin)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
}

/// The files a dry run lists for the same answers.
fn expected_files(tmp: &Path) -> Vec<PathBuf> {
    let out = portcullis()
        .args(["new", "x", "--defaults", "--dry-run", "--output-dir"])
        .arg(tmp.join("dry"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed: Vec<PathBuf> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| tmp.join("out/x").join(l))
        .collect();
    assert!(listed.len() > 20);
    listed
}

#[test]
fn a_failing_uv_is_reported_with_the_step_and_the_rerun_command() {
    let tmp = tempfile::tempdir().unwrap();
    let path = fake_uv(
        tmp.path(),
        "#!/bin/sh\necho 'Resolved 90 packages'\necho 'error: no network' >&2\nexit 3\n",
    );
    new_with_setup(tmp.path(), &path, &[], "").code(1).stderr(
        predicate::str::contains(
            "setup: [1/4] Python environment `.venv` ... failed: exit status 3",
        )
        .and(predicate::str::contains("| error: no network"))
        .and(predicate::str::contains(
            "rerun this step: `cd out/x && uv sync --locked --extra dev`",
        ))
        .and(predicate::str::contains("error: setup stopped at step 1/4"))
        .and(predicate::str::contains("not fully set up"))
        .and(predicate::str::contains(
            ".venv/bin/python -m x migrate && ",
        ))
        .and(predicate::str::contains("hint:")),
    );
    for file in expected_files(tmp.path()) {
        assert!(file.is_file(), "{} is missing", file.display());
    }
}

#[test]
fn without_uv_the_first_step_says_how_to_install_it() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    fs_err::create_dir(&empty).unwrap();
    new_with_setup(tmp.path(), &empty.display().to_string(), &[], "")
        .code(1)
        .stderr(
            predicate::str::contains("`uv` was not found on PATH")
                .and(predicate::str::contains("https://docs.astral.sh/uv/"))
                .and(predicate::str::contains("step 1/4")),
        );
    assert!(tmp.path().join("out/x/pyproject.toml").is_file());
}

#[test]
fn every_step_runs_in_order_and_the_password_comes_from_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let path = fake_uv(tmp.path(), WORKING_UV);
    new_with_setup(tmp.path(), &path, &[], "correct horse battery staple\n")
        .success()
        .stderr(
            predicate::str::contains("setup: [4/4] first admin `admin` (role `admin`) ... done")
                .and(predicate::str::contains("set up `"))
                .and(predicate::str::contains(".venv/bin/python -m x serve"))
                // The manual set-up list is not printed: the steps above ran it.
                .and(predicate::str::contains("Next: set up, run and test it").not()),
        );
    let project = tmp.path().join("out/x");
    let read = |f: &str| fs_err::read_to_string(project.join(f)).unwrap();
    assert_eq!(read("uv.log"), "sync --locked --extra dev\n");
    assert_eq!(
        read("calls.log"),
        "-m x dev-cert\n-m x migrate\n-m x create-user --username admin --role admin\n"
    );
    assert_eq!(read("password.log"), "correct horse battery staple\n");
}

#[test]
fn an_apikey_project_shows_its_admin_key_once_on_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let path = fake_uv(tmp.path(), WORKING_UV);
    new_with_setup(
        tmp.path(),
        &path,
        &["--auth", "apikey", "--roles", "boss,peon"],
        "",
    )
    .success()
    .stdout("pk_fake_key_123\n")
    .stderr(predicate::str::contains(
        "shown only this once; store it now",
    ));
    let calls = fs_err::read_to_string(tmp.path().join("out/x/calls.log")).unwrap();
    assert!(
        calls.ends_with("-m x create-api-key --name admin --role boss\n"),
        "{calls}"
    );
}

#[test]
fn a_failing_admin_step_names_it_and_keeps_the_earlier_steps() {
    let tmp = tempfile::tempdir().unwrap();
    // No password on stdin: the fake reads nothing, so make it fail like the real command does.
    let path = fake_uv(
        tmp.path(),
        &WORKING_UV.replace(
            "cp BIN/fake-python .venv/bin/python",
            "printf '#!/bin/sh\\ncase \"$3\" in create-user) echo \"error: no password on standard input\" >&2; exit 1;; esac\\n' > .venv/bin/python && chmod +x .venv/bin/python",
        ),
    );
    new_with_setup(tmp.path(), &path, &[], "").code(1).stderr(
        predicate::str::contains("setup: [3/4] database schema ... done")
            .and(predicate::str::contains(
                "[4/4] first admin `admin` (role `admin`) ... failed: exit status 1",
            ))
            .and(predicate::str::contains(
                "| error: no password on standard input",
            ))
            .and(predicate::str::contains(
                "&& .venv/bin/python -m x create-user --username admin --role admin`",
            )),
    );
}

#[test]
fn setup_and_dry_run_conflict() {
    let tmp = tempfile::tempdir().unwrap();
    portcullis()
        .args([
            "new",
            "x",
            "--defaults",
            "--setup",
            "--dry-run",
            "--output-dir",
        ])
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--dry-run"));
    assert!(!tmp.path().join("x").exists());
}

// Why: "any failure leaves nothing behind". A failure is injected into the real binary's writer
// after N files (PORTCULLIS_TEST_FAIL_AFTER_FILES) and the output folder must then be exactly as
// before: no staging folder, no partial project, no created parent, no touched user file.

use std::path::Path;

use predicates::prelude::*;

use crate::support::{listing, portcullis, read_tree};

fn file_count() -> usize {
    portcullis::plan::plan(
        &portcullis::resolve::default_spec("svc").unwrap(),
        &portcullis::plan::Secrets::new("x", "audit"),
    )
    .unwrap()
    .files
    .len()
}

fn fail_after(n: usize, out: &Path, extra: &[&str]) {
    portcullis()
        .args(["new", "svc", "--defaults", "--output-dir"])
        .arg(out)
        .args(extra)
        .env(portcullis::write::FAIL_AFTER_ENV, n.to_string())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("injected failure"));
}

#[test]
fn a_failure_mid_write_leaves_nothing() {
    let total = file_count();
    assert!(total >= 2);
    for n in [0, 1, total / 2, total - 1] {
        let tmp = tempfile::tempdir().unwrap();
        fail_after(n, tmp.path(), &[]);
        assert!(
            listing(tmp.path()).is_empty(),
            "after {n}: {:?}",
            listing(tmp.path())
        );
    }
}

#[test]
fn a_failure_removes_the_parent_folders_it_created() {
    let tmp = tempfile::tempdir().unwrap();
    fail_after(3, &tmp.path().join("a/b/c"), &[]);
    assert!(listing(tmp.path()).is_empty());
}

#[test]
fn a_failure_keeps_an_existing_empty_destination_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    fs_err::create_dir(tmp.path().join("svc")).unwrap();
    fail_after(3, tmp.path(), &[]);
    assert_eq!(listing(tmp.path()), ["svc"]);
    assert!(listing(&tmp.path().join("svc")).is_empty());
}

#[test]
fn a_failure_with_force_leaves_the_existing_folder_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("svc");
    fs_err::create_dir_all(dest.join("docs")).unwrap();
    fs_err::write(dest.join("docs/notes.md"), "mine").unwrap();
    fs_err::write(dest.join("portcullis.toml"), "# mine").unwrap();
    let before = read_tree(&dest);
    fail_after(file_count() - 1, tmp.path(), &["--force"]);
    assert_eq!(listing(tmp.path()), ["svc"]);
    assert_eq!(read_tree(&dest), before);
}

#[test]
fn force_keeps_unrelated_files_and_reports_replaced_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("svc");
    fs_err::create_dir_all(dest.join("docs")).unwrap();
    fs_err::write(dest.join("docs/notes.md"), "mine").unwrap();
    fs_err::write(dest.join("portcullis.toml"), "# mine").unwrap();
    portcullis()
        .args(["new", "svc", "--defaults", "--force", "--output-dir"])
        .arg(tmp.path())
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "replaced 1 existing file(s): `portcullis.toml`",
        ));
    assert_eq!(listing(tmp.path()), ["svc"]);
    assert_eq!(
        fs_err::read_to_string(dest.join("docs/notes.md")).unwrap(),
        "mine"
    );
    let answers = fs_err::read_to_string(dest.join("portcullis.toml")).unwrap();
    assert!(answers.contains("[project]"));
}

#[test]
fn success_leaves_no_staging_folder() {
    let tmp = tempfile::tempdir().unwrap();
    portcullis()
        .args(["new", "svc", "--defaults", "--output-dir"])
        .arg(tmp.path())
        .assert()
        .success();
    assert_eq!(listing(tmp.path()), ["svc"]);
}

#[cfg(unix)]
#[test]
fn ctrl_c_mid_write_leaves_nothing() {
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let child = crate::support::portcullis_std()
        .args(["new", "svc", "--defaults", "--output-dir"])
        .arg(tmp.path())
        .env(portcullis::write::SLOW_WRITE_ENV, "200")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the staging folder exists, then interrupt.
    let start = Instant::now();
    while listing(tmp.path()).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no staging folder appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(listing(tmp.path())[0].ends_with(".staging"));
    std::thread::sleep(Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert!(listing(tmp.path()).is_empty(), "{:?}", listing(tmp.path()));
}

// Why: the same answers must give the same bytes (reviewable diffs, reproducible CI); the only
// non-deterministic output is `.env`'s fresh secret, which must differ between runs.

use crate::support::{portcullis, read_tree, without_secret, EVERY_OPTION};

#[test]
fn two_runs_are_identical_except_the_secret() {
    for args in [&["svc", "--defaults"][..], EVERY_OPTION] {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        for dir in [&a, &b] {
            portcullis()
                .arg("new")
                .args(args)
                .arg("--output-dir")
                .arg(dir.path())
                .assert()
                .success();
        }
        let ta = read_tree(&a.path().join("svc"));
        let tb = read_tree(&b.path().join("svc"));
        assert_eq!(without_secret(&ta), without_secret(&tb));
        let (Some(ea), Some(eb)) = (ta.get(".env"), tb.get(".env")) else {
            panic!("no .env generated");
        };
        assert_ne!(ea, eb, ".env must hold a fresh secret");
        let text = String::from_utf8_lossy(ea).into_owned();
        let secret_of = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!(".env sets {name}"))
                .trim_matches('"')
                .to_string()
        };
        let (secret, audit) = (secret_of("APP_SECRET_KEY="), secret_of("APP_AUDIT_KEY="));
        assert_eq!(secret.len(), 64, "{secret}");
        assert_eq!(audit.len(), 64, "{audit}");
        assert_ne!(secret, audit, "the audit key must be a key of its own");
        for (path, bytes) in &ta {
            if path != ".env" {
                let text = String::from_utf8_lossy(bytes);
                assert!(
                    !text.contains(&secret) && !text.contains(&audit),
                    "a secret leaked into {path}"
                );
            }
        }
    }
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = portcullis()
        .args(["new", "svc", "--defaults", "--dry-run", "--output-dir"])
        .arg(tmp.path())
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let planned = portcullis::plan::plan(
        &portcullis::resolve::default_spec("svc").unwrap(),
        &portcullis::plan::Secrets::new("x", "audit"),
    )
    .unwrap();
    let want: Vec<&str> = planned.paths();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), want);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("nothing was written"));
    assert!(crate::support::listing(tmp.path()).is_empty());
}

#[test]
fn the_binary_writes_exactly_the_plan() {
    let tmp = tempfile::tempdir().unwrap();
    portcullis()
        .args(["new", "svc", "--defaults", "--output-dir"])
        .arg(tmp.path())
        .assert()
        .success();
    let tree = read_tree(&tmp.path().join("svc"));
    let planned = portcullis::plan::plan(
        &portcullis::resolve::default_spec("svc").unwrap(),
        &portcullis::plan::Secrets::new("x", "audit"),
    )
    .unwrap();
    assert_eq!(
        tree.keys().map(String::as_str).collect::<Vec<_>>(),
        planned.paths()
    );
    for f in &planned.files {
        if f.path != ".env" {
            assert_eq!(tree[&f.path], f.contents, "{}", f.path);
        }
    }
}

#[cfg(unix)]
#[test]
fn the_secret_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    portcullis()
        .args(["new", "svc", "--defaults", "--output-dir"])
        .arg(tmp.path())
        .assert()
        .success();
    let mode = |p: &str| {
        fs_err::metadata(tmp.path().join("svc").join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(".env"), 0o600);
    assert_eq!(mode("portcullis.toml"), 0o644);
}

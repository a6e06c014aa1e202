// Why: `check` is a CI gate, so each kind of finding must turn the exit code, and a clean
// project must not. Drift, staleness and policy are each provoked on a real generated project;
// the JSON report's shape is a snapshot, since pipelines parse it.

use std::path::Path;

use predicates::prelude::*;

use crate::support::{age, generate, portcullis};

fn json(project: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let out = portcullis()
        .arg("check")
        .arg(project)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    (out.status.code().unwrap(), report)
}

#[test]
fn a_fresh_project_is_clean_and_its_report_has_a_stable_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let project = generate(tmp.path(), &[]);
    portcullis()
        .arg("check")
        .arg(&project)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("ok: `svc` has no drift"));
    let (code, mut report) = json(&project, &[]);
    assert_eq!(code, 0);
    report["generator"]["current"] = "[version]".into();
    report["generator"]["project"] = "[version]".into();
    insta::assert_snapshot!(
        "check_clean_report",
        serde_json::to_string_pretty(&report).unwrap()
    );
}

#[test]
fn editing_a_protection_is_drift_and_editing_the_docs_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    let project = generate(tmp.path(), &[]);
    fs_err::write(project.join("README.md"), "# ours now\n").unwrap();
    portcullis().arg("check").arg(&project).assert().success();

    let headers = project.join("src/svc/middleware/security_headers.py");
    let original = fs_err::read_to_string(&headers).unwrap();
    fs_err::write(&headers, original.replacen("nosniff", "sniff-away", 1)).unwrap();
    fs_err::remove_file(project.join("tests/test_headers.py")).unwrap();
    let (code, report) = json(&project, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["clean"], false);
    let drift = report["drift"].as_array().unwrap();
    let found: Vec<(&str, &str)> = drift
        .iter()
        .map(|d| (d["path"].as_str().unwrap(), d["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            ("src/svc/middleware/security_headers.py", "modified"),
            ("tests/test_headers.py", "deleted"),
        ]
    );
    portcullis()
        .args(["check", "--diff"])
        .arg(&project)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "--- a/src/svc/middleware/security_headers.py",
        ))
        .stdout(predicate::str::contains("+").and(predicate::str::contains("sniff-away")));
}

#[test]
fn a_project_behind_the_templates_is_stale() {
    let tmp = tempfile::tempdir().unwrap();
    let project = generate(tmp.path(), &[]);
    age(&project, |files| {
        files.insert("Makefile".into(), b"# older\n".to_vec());
    });
    let base = project.join(portcullis::base::BASE_FILE);
    let (code, report) = json(&project, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        report["stale"],
        serde_json::json!([{"path": "Makefile", "status": "changed"}])
    );
    fs_err::remove_file(&base).unwrap();
    portcullis()
        .arg("check")
        .arg(&project)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("no pristine render"));
}

#[test]
fn every_policy_rule_can_fail_and_a_bad_policy_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let project = generate(tmp.path(), &["--auth", "oauth2,apikey"]);
    let policy = tmp.path().join("policy.toml");
    fs_err::write(
        &policy,
        r#"
[auth]
required = ["session"]
forbidden = ["apikey"]
[roles]
models = ["permissions"]
[database]
kinds = ["postgres"]
[cors]
origins = ["https://*.corp.example"]
[tokens]
access_token_ttl_seconds = 300
"#,
    )
    .unwrap();
    let (code, report) = json(&project, &["--policy", policy.to_str().unwrap()]);
    assert_eq!(code, 1);
    let rules: Vec<&str> = report["policy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "auth.required",
            "auth.forbidden",
            "roles.models",
            "database.kinds",
            "cors.origins",
            "tokens.access_token_ttl_seconds"
        ]
    );
    let kept = tmp.path().join("kept.toml");
    fs_err::write(
        &kept,
        "[auth]\nrequired = [\"oauth2\"]\n[cors]\norigins = [\"https://localhost:*\"]\n[tokens]\naccess_token_ttl_seconds = 900\n",
    )
    .unwrap();
    portcullis()
        .arg("check")
        .arg(&project)
        .arg("--policy")
        .arg(&kept)
        .assert()
        .success();
    let typo = tmp.path().join("typo.toml");
    fs_err::write(&typo, "[auth]\nrequird = [\"session\"]\n").unwrap();
    portcullis()
        .arg("check")
        .arg(&project)
        .arg("--policy")
        .arg(&typo)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("requird"));
}

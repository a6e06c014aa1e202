// Why: `portcullis.toml` records every answer, so `--answers portcullis.toml` must regenerate the
// same project (identical trees but for `.env`'s secret), and every example answers file must
// produce a project whose recorded answers match what it asked for.

use std::path::Path;

use predicates::prelude::*;

use crate::support::{examples, portcullis, read_tree, without_secret};

fn generate(args: &[&str], out: &Path) {
    portcullis()
        .args(["new"])
        .args(args)
        .arg("--output-dir")
        .arg(out)
        .assert()
        .success()
        .stderr(predicate::str::contains("created"));
}

#[test]
fn regenerating_from_portcullis_toml_gives_the_same_tree() {
    let cases: Vec<Vec<String>> = vec![
        vec!["svc".into(), "--defaults".into()],
        vec![
            "svc".into(),
            "--auth".into(),
            "oauth2,apikey,session".into(),
            "--role-model".into(),
            "flat".into(),
            "--roles".into(),
            "owner,lead,member,guest".into(),
            "--database".into(),
            "postgres".into(),
            "--cors-origin".into(),
            "https://a.example".into(),
            "--cors-origin".into(),
            "http://localhost:5173".into(),
        ],
    ];
    let mut all = cases;
    for ex in examples() {
        all.push(vec!["--answers".into(), ex.to_string_lossy().into_owned()]);
    }
    for args in all {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        generate(&args, first.path());
        let name = crate::support::listing(first.path()).pop().unwrap();
        let answers = first.path().join(&name).join("portcullis.toml");
        generate(&["--answers", answers.to_str().unwrap()], second.path());
        let a = read_tree(&first.path().join(&name));
        let b = read_tree(&second.path().join(&name));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{args:?}"
        );
        assert_eq!(without_secret(&a), without_secret(&b), "{args:?}");
    }
}

#[test]
fn examples_record_what_they_asked_for() {
    for ex in examples() {
        let tmp = tempfile::tempdir().unwrap();
        generate(&["--answers", ex.to_str().unwrap()], tmp.path());
        let name = crate::support::listing(tmp.path()).pop().unwrap();
        let written: portcullis::ProjectSpec = toml::from_str(
            &fs_err::read_to_string(tmp.path().join(&name).join("portcullis.toml")).unwrap(),
        )
        .unwrap();
        written.check().unwrap();
        let asked: toml::Table = toml::from_str(&fs_err::read_to_string(&ex).unwrap()).unwrap();
        assert_eq!(
            written.project.name.as_str(),
            asked["project"]["name"].as_str().unwrap()
        );
        assert_eq!(
            written.roles.model.as_str(),
            asked["roles"]["model"].as_str().unwrap()
        );
        let roles: Vec<&str> = written.roles.role.iter().map(|r| r.name.as_str()).collect();
        let asked_roles: Vec<&str> = asked["roles"]["role"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(roles, asked_roles, "{}", ex.display());
        for (r, a) in written
            .roles
            .role
            .iter()
            .zip(asked["roles"]["role"].as_array().unwrap())
        {
            if let Some(perms) = a.get("permissions") {
                let mut want: Vec<&str> = perms
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap())
                    .collect();
                want.sort();
                assert_eq!(r.permissions.sorted_names(), want, "{}", ex.display());
            }
        }
        assert!(written.roles.role[0].permissions.is_all());
    }
}

#[test]
fn the_contract_example_is_written_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    generate(
        &["billing-api", "--defaults", "--auth", "session,oauth2"],
        tmp.path(),
    );
    let text = fs_err::read_to_string(tmp.path().join("billing-api/portcullis.toml")).unwrap();
    let spec: toml::Table = toml::from_str(&text).unwrap();
    let want: toml::Table =
        toml::from_str(include_str!("../fixtures/contract-example.toml")).unwrap();
    assert_eq!(spec, want);
    assert!(
        !text.to_lowercase().contains("secret"),
        "no secret in portcullis.toml"
    );
}

#[test]
fn flags_override_the_answers_file() {
    let tmp = tempfile::tempdir().unwrap();
    let ex = crate::support::examples_dir().join("public-api.toml");
    generate(
        &[
            "renamed",
            "--answers",
            ex.to_str().unwrap(),
            "--database",
            "sqlite",
            "--auth",
            "session",
        ],
        tmp.path(),
    );
    let spec: portcullis::ProjectSpec = toml::from_str(
        &fs_err::read_to_string(tmp.path().join("renamed/portcullis.toml")).unwrap(),
    )
    .unwrap();
    assert_eq!(spec.project.package.as_str(), "renamed");
    assert_eq!(spec.database.kind.as_str(), "sqlite");
    assert_eq!(spec.auth.methods.len(), 1);
    assert_eq!(spec.roles.model.as_str(), "permissions");
    assert_eq!(spec.roles.role.len(), 4);
}

#[test]
fn hierarchical_defaults_for_many_roles() {
    let tmp = tempfile::tempdir().unwrap();
    generate(
        &[
            "svc",
            "--defaults",
            "--roles",
            "owner,manager,editor,author,reader",
        ],
        tmp.path(),
    );
    let spec: portcullis::ProjectSpec =
        toml::from_str(&fs_err::read_to_string(tmp.path().join("svc/portcullis.toml")).unwrap())
            .unwrap();
    let table: Vec<(String, Vec<&str>)> = spec
        .roles
        .role
        .iter()
        .map(|r| (r.name.to_string(), r.permissions.sorted_names()))
        .collect();
    assert_eq!(
        table,
        [
            (
                "owner".to_string(),
                vec![
                    "api_keys:manage",
                    "audit:read",
                    "items:delete",
                    "items:read",
                    "items:write",
                    "users:manage"
                ]
            ),
            (
                "manager".to_string(),
                vec!["audit:read", "items:delete", "items:read", "items:write"]
            ),
            ("editor".to_string(), vec!["items:read", "items:write"]),
            ("author".to_string(), vec!["items:read", "items:write"]),
            ("reader".to_string(), vec!["items:read"]),
        ]
    );
}

// Why: `resolve` is tested as a whole (flags, answers file, scripted prompts), since the
// precedence and the order of problems and questions are the behaviour that matters.

use super::*;
use crate::prompt::{Answer, ScriptedPrompter};
use crate::spec::{AuthMethod, DatabaseKind, Permission, RoleModel};

fn args(name: Option<&str>) -> NewArgs {
    NewArgs {
        name: name.map(String::from),
        output_dir: std::env::temp_dir().join("portcullis-unit-tests-never-created"),
        ..Default::default()
    }
}

fn problems(e: Error) -> Vec<Problem> {
    match e {
        Error::Answers { problems } => problems,
        other => panic!("expected answers error, got {other}"),
    }
}

#[test]
fn defaults_fill_everything_but_the_name() {
    let mut a = args(None);
    a.defaults = true;
    let p = problems(resolve(&a, None).unwrap_err());
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].flag, "portcullis new NAME");

    let mut a = args(Some("billing-api"));
    a.defaults = true;
    let r = resolve(&a, None).unwrap();
    assert_eq!(
        r.spec,
        crate::spec::tests::sample_with(&[AuthMethod::Oauth2])
    );
    assert!(!r.prompted);
}

#[test]
fn without_a_terminal_every_missing_answer_is_listed() {
    let p = problems(resolve(&args(None), None).unwrap_err());
    let flags: Vec<&str> = p.iter().map(|p| p.flag.as_str()).collect();
    assert_eq!(
        flags,
        [
            "portcullis new NAME",
            "--auth LIST",
            "--role-model MODEL",
            "--roles LIST",
            "--database KIND",
            "--cors-origin URL (repeatable)"
        ]
    );
}

#[test]
fn invalid_and_missing_are_reported_together() {
    let mut a = args(Some("json"));
    a.roles = Some(vec!["Admin".into(), "x".into(), "x".into()]);
    a.cors_origins = vec!["http://example.com".into(), "*".into()];
    let p = problems(resolve(&a, None).unwrap_err());
    let text: Vec<String> = p.iter().map(|p| p.to_string()).collect();
    let all = text.join("\n");
    assert!(all.contains("standard-library module `json`"), "{all}");
    assert!(all.contains("role `Admin`"), "{all}");
    assert!(all.contains("listed twice"), "{all}");
    assert!(all.contains("only https"), "{all}");
    assert!(all.contains("wildcards"), "{all}");
    assert!(all.contains("--auth LIST"), "{all}");
    assert!(all.contains("--database KIND"), "{all}");
}

#[test]
fn permissions_model_needs_a_table_without_defaults() {
    let mut a = args(Some("svc"));
    a.auth = Some(vec![AuthMethod::Apikey]);
    a.role_model = Some(RoleModel::Permissions);
    a.roles = Some(vec!["owner".into(), "member".into()]);
    a.database = Some(DatabaseKind::Sqlite);
    a.cors_origins = vec!["https://app.example".into()];
    let p = problems(resolve(&a, None).unwrap_err());
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].message.contains("role `member`"));
    a.defaults = true;
    let r = resolve(&a, None).unwrap();
    assert!(r.spec.roles.role[0].permissions.is_all());
    assert_eq!(r.spec.roles.role[1].permissions.len(), 1);
}

#[test]
fn answers_file_is_overridden_by_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.toml");
    fs_err::write(
        &file,
        r#"
[project]
name = "from-file"
[auth]
methods = ["session", "apikey", "session"]
[roles]
model = "flat"
[[roles.role]]
name = "boss"
permissions = ["items:read", "items:write", "items:delete", "users:manage", "api_keys:manage", "audit:read"]
[[roles.role]]
name = "auditor"
permissions = ["audit:read"]
[database]
kind = "postgres"
[cors]
origins = []
"#,
    )
    .unwrap();
    let mut a = args(Some("from-flag"));
    a.answers = Some(file);
    a.database = Some(DatabaseKind::Sqlite);
    let r = resolve(&a, None).unwrap();
    assert_eq!(r.spec.project.name.as_str(), "from-flag");
    assert_eq!(
        r.spec.auth.methods,
        [AuthMethod::Apikey, AuthMethod::Session]
    );
    assert_eq!(r.spec.roles.model, RoleModel::Flat);
    assert_eq!(
        r.spec.roles.role[1].permissions.iter().collect::<Vec<_>>(),
        [Permission::AuditRead]
    );
    assert_eq!(r.spec.database.kind, DatabaseKind::Sqlite);
    assert!(r.spec.cors.origins.is_empty());
}

#[test]
fn unknown_answers_keys_name_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.toml");
    fs_err::write(&file, "[database]\nkind = \"sqlite\"\nflavour = \"x\"\n").unwrap();
    let mut a = args(Some("svc"));
    a.answers = Some(file);
    let e = resolve(&a, None).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let text = e.to_string();
    assert!(text.contains("flavour"), "{text}");
    assert!(text.contains("answers.toml"), "{text}");
}

#[test]
fn interactive_flow_with_scripted_answers() {
    let a = args(None);
    let mut p = ScriptedPrompter::new([
        Answer::Text("bad name!".into()),
        Answer::Text("shop-api".into()),
        Answer::Multi(vec![]),
        // apikey, session
        Answer::Multi(vec![2, 3]),
        Answer::Select(2), // permissions
        Answer::Text("Owner".into()),
        Answer::Text("owner,clerk,guest".into()),
        Answer::Select(1), // postgres
        Answer::Text("http://example.com".into()),
        Answer::Text("none".into()),
        Answer::Multi(vec![0, 1, 5]),
        Answer::Multi(vec![0]),
        Answer::Confirm(true),
    ]);
    let r = resolve(&a, Some(&mut p)).unwrap();
    assert!(r.prompted);
    assert!(p.answers.is_empty());
    let s = &r.spec;
    assert_eq!(s.project.package.as_str(), "shop_api");
    assert_eq!(s.auth.methods, [AuthMethod::Apikey, AuthMethod::Session]);
    assert_eq!(s.roles.model, RoleModel::Permissions);
    assert_eq!(s.database.kind, DatabaseKind::Postgres);
    assert!(s.cors.origins.is_empty());
    assert!(s.roles.role[0].permissions.is_all());
    assert_eq!(
        s.roles.role[1].permissions.iter().collect::<Vec<_>>(),
        [
            Permission::ItemsRead,
            Permission::ItemsWrite,
            Permission::AuditRead
        ]
    );
    // The bad answers were explained, then asked again.
    let notes = p.notes.join("\n");
    assert!(notes.contains("bad name!"), "{notes}");
    assert!(notes.contains("Owner"), "{notes}");
    assert!(notes.contains("only https"), "{notes}");
    assert!(notes.contains("Project   shop-api"), "{notes}");
}

#[test]
fn prompts_only_for_unanswered_questions_and_can_be_declined() {
    let mut a = args(Some("svc"));
    a.auth = Some(vec![AuthMethod::Oauth2]);
    a.role_model = Some(RoleModel::Flat);
    a.roles = Some(vec!["admin".into(), "user".into()]);
    a.cors_origins = vec!["https://x.example".into()];
    let mut p = ScriptedPrompter::new([Answer::Select(0), Answer::Confirm(false)]);
    let e = resolve(&a, Some(&mut p)).unwrap_err();
    assert!(matches!(e, Error::Cancelled));
    assert_eq!(p.asked, ["Database", "Generate this project?"]);
}

#[test]
fn defaults_never_prompt() {
    let mut a = args(Some("svc"));
    a.defaults = true;
    let mut p = ScriptedPrompter::new([]);
    resolve(&a, Some(&mut p)).unwrap();
    assert!(p.asked.is_empty());
}

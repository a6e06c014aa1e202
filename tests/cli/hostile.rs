// Why: user input ends up inside generated Python, TOML, YAML and Markdown. Every free-text
// answer (name, roles, origins, answers-file strings) with hostile content must be refused with a
// clear message, or rendered so that every generated file still parses.

use predicates::prelude::*;

use portcullis::spec::roles::default_permissions;
use portcullis::spec::{AuthMethod, DatabaseKind, Origin, ProjectName, RoleModel, RoleName};
use portcullis::ProjectSpec;

use crate::support::{assert_tree_parses, listing, portcullis};

const HOSTILE: &[&str] = &[
    "a\"b",
    "a'b",
    "a\\b",
    "a\nb",
    "a\r\nb",
    "a\tb",
    "{{ secret_key }}",
    "{{ audit_key }}",
    "{% raw %}",
    "a\"\"\"b",
    "a'''b",
    "ünïcødé",
    "a\u{2028}b",
    "a\u{0}b",
    "${{ github.token }}",
    "a`b",
    "a#b",
    "a$(reboot)",
    "",
    " ",
];

fn refused(args: &[&str], what: &str) {
    if args.iter().any(|a| a.contains('\0')) {
        return; // argv can't carry NUL; the answers-file tests cover it
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = portcullis()
        .arg("new")
        .args(args)
        .arg("--output-dir")
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(what));
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    // The message quotes the value with control characters escaped: one problem, one line.
    assert!(!stderr.contains('\r'), "{stderr:?}");
    assert!(listing(tmp.path()).is_empty(), "{args:?}");
}

#[test]
fn hostile_names_are_refused() {
    for v in HOSTILE {
        refused(&[v, "--defaults"], "project name");
    }
}

#[test]
fn hostile_roles_are_refused() {
    for v in HOSTILE {
        let list = format!("admin,{v}");
        refused(&["svc", "--defaults", "--roles", &list], "role");
    }
}

#[test]
fn hostile_origins_are_refused() {
    for v in HOSTILE {
        let origin = format!("https://{v}.example.com");
        refused(
            &["svc", "--defaults", "--cors-origin", &origin],
            "CORS origin",
        );
        refused(&["svc", "--defaults", "--cors-origin", v], "CORS origin");
    }
}

#[test]
fn hostile_answers_file_strings_are_refused_or_harmless() {
    for v in HOSTILE {
        for (key, table, field, what) in [
            ("name", "project", "name", "project name"),
            ("package", "project", "package", "project.package"),
            ("origins", "cors", "origins", "CORS origin"),
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let file = tmp.path().join("answers.toml");
            let mut doc = toml::Table::new();
            let mut inner = toml::Table::new();
            if key == "package" {
                inner.insert("name".into(), "svc".into());
            }
            let value = if key == "origins" {
                toml::Value::Array(vec![(*v).into()])
            } else {
                (*v).into()
            };
            inner.insert(field.into(), value);
            doc.insert(table.into(), toml::Value::Table(inner));
            fs_err::write(&file, toml::to_string(&doc).unwrap()).unwrap();
            let mut cmd = portcullis();
            cmd.args(["new", "--defaults", "--answers"]).arg(&file);
            if key != "name" && key != "package" {
                cmd.arg("svc");
            }
            cmd.arg("--output-dir")
                .arg(tmp.path())
                .assert()
                .code(2)
                .stderr(predicate::str::contains(what));
            assert_eq!(listing(tmp.path()), ["answers.toml"], "{key} = {v:?}");
        }
        // Role names in the table.
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("answers.toml");
        let doc = format!(
            "[[roles.role]]\nname = \"admin\"\n[[roles.role]]\nname = {}\n",
            toml::Value::from(*v)
        );
        fs_err::write(&file, doc).unwrap();
        portcullis()
            .args(["new", "svc", "--defaults", "--answers"])
            .arg(&file)
            .arg("--output-dir")
            .arg(tmp.path())
            .assert()
            .code(2)
            .stderr(predicate::str::contains("role"));
        // portcullis_version is informational: never rendered, always rewritten.
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("answers.toml");
        let doc = format!("portcullis_version = {}\n", toml::Value::from(*v));
        fs_err::write(&file, doc).unwrap();
        portcullis()
            .args(["new", "svc", "--defaults", "--answers"])
            .arg(&file)
            .arg("--output-dir")
            .arg(tmp.path())
            .assert()
            .success();
        let written = fs_err::read_to_string(tmp.path().join("svc/portcullis.toml")).unwrap();
        assert!(written.contains(&format!(
            "portcullis_version = \"{}\"",
            env!("CARGO_PKG_VERSION")
        )));
    }
}

/// Every combination of options, with the most unusual values the validators accept, renders to
/// files that parse.
#[test]
fn unusual_valid_values_render_to_parseable_files_for_every_option_set() {
    let name = ProjectName::parse("My Svc.v2-beta").unwrap();
    let roles: Vec<RoleName> = ["root", "b_2", "c3", "z"]
        .iter()
        .map(|r| RoleName::parse(r).unwrap())
        .collect();
    let origins: Vec<Origin> = [
        "https://localhost:3000",
        "http://[::1]:8080",
        "http://127.0.0.1:5173",
        "https://xn--bcher-kva.example",
        "https://a-b.c-d.example:65535",
    ]
    .iter()
    .map(|o| Origin::parse(o).unwrap())
    .collect();
    let mut checked = 0;
    for methods in crate::template_tree::method_sets() {
        for model in [
            RoleModel::Flat,
            RoleModel::Hierarchical,
            RoleModel::Permissions,
        ] {
            for db in [DatabaseKind::Sqlite, DatabaseKind::Postgres] {
                let table = roles
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r.clone(), default_permissions(i, roles.len())))
                    .collect();
                let spec = ProjectSpec::build(
                    name.clone(),
                    methods.clone(),
                    model,
                    table,
                    db,
                    origins.clone(),
                )
                .unwrap();
                let tmp = tempfile::tempdir().unwrap();
                let dest = tmp.path().join(name.as_str());
                portcullis::generate(&spec, &dest, &portcullis::Options::default()).unwrap();
                let counts = assert_tree_parses(&dest);
                assert!(
                    counts.get("py").copied().unwrap_or(0) > 0
                        || portcullis::templates::project_files().is_empty()
                );
                assert!(counts.get("toml").copied().unwrap_or(0) >= 1);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, ((1 << AuthMethod::ALL.len()) - 1) * 3 * 2);
}

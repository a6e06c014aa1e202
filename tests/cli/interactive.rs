// Why: the interactive flow is only real in a real terminal. This drives the binary through a
// pseudo-terminal from the first question to a generated project, including an answer that is
// refused and asked again, and checks what was written.

use std::time::Duration;

use expectrl::{Session, WaitStatus};

use crate::support::{portcullis_std, read_tree};

const DOWN: &str = "\x1b[B";
const ENTER: &str = "\r";

fn session(args: &[&str], dir: &std::path::Path) -> Session {
    session_with(args, dir, false)
}

/// `colour`: leave NO_COLOR unset, so the coloured theme is used.
fn session_with(args: &[&str], dir: &std::path::Path, colour: bool) -> Session {
    let mut cmd = portcullis_std();
    cmd.args(args)
        .arg("--output-dir")
        .arg(dir)
        .env("TERM", "xterm");
    if colour {
        cmd.env_remove("NO_COLOR");
    } else {
        cmd.env("NO_COLOR", "1");
    }
    let mut s = Session::spawn(cmd).expect("spawn in a pseudo-terminal");
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    s
}

fn exit_code(s: &Session) -> i32 {
    match s.get_process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("unexpected status {other:?}"),
    }
}

#[test]
fn interactive_flow_generates_a_project() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = session(&["new"], tmp.path());

    s.expect("Project name").unwrap();
    s.send("json").unwrap();
    s.send(ENTER).unwrap();
    // Refused as typed, asked again.
    s.expect("standard-library module").unwrap();
    for _ in 0..4 {
        s.send("\x7f").unwrap(); // backspace
    }
    s.send("shop-api").unwrap();
    s.send(ENTER).unwrap();

    s.expect("Authentication methods").unwrap();
    // oauth2 is pre-selected; move down past oidc to apikey and select it too.
    s.send(DOWN).unwrap();
    s.send(DOWN).unwrap();
    s.send(" ").unwrap();
    s.send(ENTER).unwrap();

    s.expect("Role model").unwrap();
    // hierarchical, flat, permissions: pick permissions.
    s.send(DOWN).unwrap();
    s.send(DOWN).unwrap();
    s.send(ENTER).unwrap();

    s.expect("Role names").unwrap();
    s.send("owner,member").unwrap();
    s.send(ENTER).unwrap();

    s.expect("Database").unwrap();
    s.send(DOWN).unwrap(); // postgres
    s.send(ENTER).unwrap();

    s.expect("CORS").unwrap();
    s.send(ENTER).unwrap(); // the default origin

    s.expect("Permissions of role `member`").unwrap();
    // Pre-selected: items:read. Add items:write (the second line).
    s.send(DOWN).unwrap();
    s.send(" ").unwrap();
    s.send(ENTER).unwrap();

    s.expect("Generate this project?").unwrap();
    s.send("y").unwrap();
    s.expect("created").unwrap();
    s.expect("python -m shop_api serve").unwrap();
    assert_eq!(exit_code(&s), 0);

    let tree = read_tree(&tmp.path().join("shop-api"));
    let spec: portcullis::ProjectSpec =
        toml::from_str(std::str::from_utf8(&tree["portcullis.toml"]).unwrap()).unwrap();
    assert_eq!(spec.project.package.as_str(), "shop_api");
    let methods: Vec<&str> = spec.auth.methods.iter().map(|m| m.as_str()).collect();
    assert_eq!(methods, ["oauth2", "apikey"]);
    assert_eq!(spec.roles.model.as_str(), "permissions");
    assert_eq!(spec.database.kind.as_str(), "postgres");
    assert_eq!(spec.cors.origins[0].as_str(), "https://localhost:3000");
    assert_eq!(spec.roles.role[0].name.as_str(), "owner");
    assert!(spec.roles.role[0].permissions.is_all());
    assert_eq!(
        spec.roles.role[1].permissions.sorted_names(),
        ["items:read", "items:write"]
    );
}

#[test]
fn declining_the_confirmation_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = session_with(
        &[
            "new",
            "svc",
            "--auth",
            "oauth2",
            "--role-model",
            "flat",
            "--roles",
            "admin,user",
            "--cors-origin",
            "https://app.example",
        ],
        tmp.path(),
        true,
    );
    s.expect("Database").unwrap();
    s.send(ENTER).unwrap();
    s.expect("Generate this project?").unwrap();
    s.send("n").unwrap();
    s.expect("cancelled").unwrap();
    assert_eq!(exit_code(&s), 1);
    assert!(crate::support::listing(tmp.path()).is_empty());
}

#[test]
fn defaults_never_prompt_even_with_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = session(&["new", "svc", "--defaults"], tmp.path());
    s.expect("created").unwrap();
    assert_eq!(exit_code(&s), 0);
    assert!(tmp.path().join("svc/portcullis.toml").exists());
}

#[test]
fn a_preset_locked_or_defaulted_question_is_never_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let preset = tmp.path().join("team.toml");
    fs_err::write(
        &preset,
        "[locked.auth]\nmethods = [\"session\"]\n[locked.database]\nkind = \"sqlite\"\n\
         [defaults.roles]\nmodel = \"flat\"\n[defaults.cors]\norigins = [\"https://app.example\"]\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let mut s = session(&["new", "svc", "--preset", preset.to_str().unwrap()], &out);
    // The only open question: the role names. Auth, role model, database and origins are not
    // asked; the summary shows what the preset decided.
    let asked = s.expect("Role names").unwrap();
    let before = String::from_utf8_lossy(asked.before()).to_string();
    for question in ["Authentication methods", "Role model", "Database", "CORS"] {
        assert!(!before.contains(question), "asked {question}: {before}");
    }
    s.send("admin,member").unwrap();
    s.send(ENTER).unwrap();
    let summary = s.expect("Generate this project?").unwrap();
    let summary = String::from_utf8_lossy(summary.before()).to_string();
    assert!(summary.contains("session"), "{summary}");
    s.send("y").unwrap();
    s.expect("created").unwrap();
    assert_eq!(exit_code(&s), 0);
    let answers = fs_err::read_to_string(out.join("svc/portcullis.toml")).unwrap();
    assert!(answers.contains("methods = [\"session\"]") && answers.contains("model = \"flat\""));
}

// Why: without a terminal the generator must never prompt or hang, must list every missing or
// invalid answer at once with its flag, and must exit with the code of CONTRACT §1, leaving the
// output folder exactly as it was.

use predicates::prelude::*;

use crate::support::{listing, portcullis};

#[test]
fn no_terminal_lists_every_missing_answer_with_its_flag() {
    let tmp = tempfile::tempdir().unwrap();
    portcullis()
        .args(["new", "--output-dir"])
        .arg(tmp.path())
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("6 answers are missing")
                .and(predicate::str::contains("`portcullis new NAME`"))
                .and(predicate::str::contains("`--auth LIST`"))
                .and(predicate::str::contains("`--role-model MODEL`"))
                .and(predicate::str::contains("`--roles LIST`"))
                .and(predicate::str::contains("`--database KIND`"))
                .and(predicate::str::contains("`--cors-origin URL"))
                .and(predicate::str::contains("hint:")),
        );
    assert!(listing(tmp.path()).is_empty());
}

#[test]
fn only_the_unanswered_questions_are_listed() {
    let tmp = tempfile::tempdir().unwrap();
    portcullis()
        .args([
            "new",
            "svc",
            "--auth",
            "apikey",
            "--database",
            "postgres",
            "--output-dir",
        ])
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("3 answers are missing")
                .and(predicate::str::contains("--auth LIST").not())
                .and(predicate::str::contains("--database KIND").not()),
        );
    assert!(listing(tmp.path()).is_empty());
}

#[test]
fn invalid_values_are_all_reported_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    portcullis()
        .args([
            "new",
            "json",
            "--defaults",
            "--roles",
            "Admin,ok,ok",
            "--cors-origin",
            "http://example.com",
            "--cors-origin",
            "https://*.example.com",
            "--cors-origin",
            "https://example.com/path",
            "--output-dir",
        ])
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("standard-library module `json`")
                .and(predicate::str::contains("role `Admin` must match"))
                .and(predicate::str::contains("role `ok` is listed twice"))
                .and(predicate::str::contains("only https"))
                .and(predicate::str::contains("wildcards"))
                .and(predicate::str::contains("a path")),
        );
    assert!(listing(tmp.path()).is_empty());
}

#[test]
fn bad_names_are_refused_with_the_reason() {
    for (name, why) in [
        ("class", "Python keyword"),
        ("asyncio", "standard-library module `asyncio`"),
        ("Email", "standard-library module `email`"),
        ("fastapi", "dependency"),
        ("1st-api", "must start with a letter"),
        ("my/api", "contains `/`"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        portcullis()
            .args(["new", name, "--defaults", "--output-dir"])
            .arg(tmp.path())
            .assert()
            .code(2)
            .stderr(predicate::str::contains(why));
        assert!(listing(tmp.path()).is_empty(), "{name}");
    }
}

#[test]
fn clap_usage_errors_exit_2() {
    portcullis()
        .args(["new", "x", "--auth", "ldap"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ldap"));
    portcullis()
        .args(["new", "x", "--role-model", "tree"])
        .assert()
        .code(2);
    portcullis().args(["new", "x", "--nope"]).assert().code(2);
    portcullis().assert().code(2);
}

#[test]
fn non_empty_destination_exits_3_and_lists_what_is_there() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("svc");
    fs_err::create_dir_all(dest.join("src")).unwrap();
    fs_err::write(dest.join("notes.txt"), "mine").unwrap();
    fs_err::write(dest.join(".hidden"), "mine").unwrap();
    for extra in [&[][..], &["--dry-run"][..]] {
        portcullis()
            .args(["new", "svc", "--defaults", "--output-dir"])
            .arg(tmp.path())
            .args(extra)
            .assert()
            .code(3)
            .stderr(
                predicate::str::contains("is not empty")
                    .and(predicate::str::contains("`.hidden`, `notes.txt`, `src`"))
                    .and(predicate::str::contains("--force")),
            );
    }
    assert_eq!(listing(&dest), [".hidden", "notes.txt", "src"]);
    assert_eq!(listing(tmp.path()), ["svc"]);
}

#[test]
fn a_file_in_the_way_exits_3() {
    let tmp = tempfile::tempdir().unwrap();
    fs_err::write(tmp.path().join("svc"), "x").unwrap();
    portcullis()
        .args(["new", "svc", "--defaults", "--force", "--output-dir"])
        .arg(tmp.path())
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not a directory"));
}

#[test]
fn unknown_answers_key_names_the_key_and_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("my-answers.toml");
    fs_err::write(&file, "[roles]\nmodel = \"flat\"\nrole_model = \"flat\"\n").unwrap();
    portcullis()
        .args(["new", "svc", "--defaults", "--answers"])
        .arg(&file)
        .arg("--output-dir")
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unknown field `role_model`")
                .and(predicate::str::contains("my-answers.toml")),
        );
    for (text, needle) in [
        ("colour = 1\n", "unknown field `colour`"),
        ("[auth]\nmethods = [\"ldap\"]\n", "unknown variant `ldap`"),
        (
            "[[roles.role]]\nname = \"a\"\npermissions = [\"all\"]\n",
            "unknown variant `all`",
        ),
        ("[database]\nkind = 3\n", "line 2"),
        ("not toml at all", "my-answers.toml"),
    ] {
        fs_err::write(&file, text).unwrap();
        portcullis()
            .args(["new", "svc", "--defaults", "--answers"])
            .arg(&file)
            .arg("--output-dir")
            .arg(tmp.path())
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
    }
    assert_eq!(listing(tmp.path()), ["my-answers.toml"]);
}

#[test]
fn a_missing_answers_file_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    portcullis()
        .args([
            "new",
            "svc",
            "--answers",
            "/nonexistent/answers.toml",
            "--output-dir",
        ])
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/answers.toml"));
}

#[test]
fn permissions_model_without_a_table_asks_for_one() {
    let tmp = tempfile::tempdir().unwrap();
    portcullis()
        .args([
            "new",
            "svc",
            "--auth",
            "oauth2",
            "--role-model",
            "permissions",
            "--roles",
            "owner,member,guest",
            "--database",
            "sqlite",
            "--cors-origin",
            "https://app.example",
            "--output-dir",
        ])
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("role `member`")
                .and(predicate::str::contains("role `guest`"))
                .and(predicate::str::contains("--defaults")),
        );
}

#[test]
fn highest_role_must_hold_every_permission() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a.toml");
    fs_err::write(
        &file,
        "[roles]\nmodel = \"flat\"\n[[roles.role]]\nname = \"boss\"\npermissions = [\"items:read\"]\n",
    )
    .unwrap();
    portcullis()
        .args(["new", "svc", "--defaults", "--answers"])
        .arg(&file)
        .arg("--output-dir")
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`boss` must hold every permission",
        ));
}

#[test]
fn version_and_completions() {
    portcullis()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        portcullis()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(
                predicate::str::contains("portcullis").and(predicate::str::contains("role-model")),
            );
    }
    portcullis().args(["completions", "tcsh"]).assert().code(2);
}

#[test]
fn help_documents_every_flag_and_the_exit_codes() {
    let out = portcullis().args(["new", "--help"]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for flag in [
        "--output-dir",
        "--auth",
        "--role-model",
        "--roles",
        "--database",
        "--cors-origin",
        "--answers",
        "--defaults",
        "--force",
        "--dry-run",
    ] {
        assert!(text.contains(flag), "{flag} missing from help:\n{text}");
    }
}

#[test]
fn no_color_means_no_escape_codes() {
    let out = portcullis().args(["new"]).assert().code(2);
    assert!(!out.get_output().stderr.contains(&0x1b));
}

// Why: presets and overlays are how a platform team makes every service start from its
// standard, so each promise is driven through the real binary: locked answers cannot be
// contradicted (exit 2, nothing written) and are never asked; defaults fill what nobody said;
// overlays add and replace files with the same context, fail before writing when broken, and
// come back on `update` and under `check`.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::support::{listing, portcullis};

struct Team {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Team {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        fs_err::create_dir_all(root.join("team/overlay/src/__package__")).unwrap();
        fs_err::create_dir_all(root.join("team/overlay/.github")).unwrap();
        fs_err::write(
            root.join("team/preset.toml"),
            "overlays = [\"overlay\"]\n\
             [locked.auth]\nmethods = [\"session\"]\n\
             [locked.database]\nkind = \"postgres\"\n\
             [defaults.cors]\norigins = [\"https://app.corp.example\"]\n\
             [defaults.roles]\nmodel = \"flat\"\n",
        )
        .unwrap();
        fs_err::write(
            root.join("team/overlay/src/__package__/owners.py.tera"),
            "OWNER = {{ project.name | py_str }}\n",
        )
        .unwrap();
        fs_err::write(
            root.join("team/overlay/.github/CODEOWNERS"),
            "* @platform\n",
        )
        .unwrap();
        Team { _tmp: tmp, root }
    }

    fn preset(&self) -> PathBuf {
        self.root.join("team/preset.toml")
    }

    fn new_project(&self, extra: &[&str]) -> assert_cmd::assert::Assert {
        portcullis()
            .args(["new", "svc", "--output-dir"])
            .arg(self.root.join("out"))
            .arg("--preset")
            .arg(self.preset())
            .args(extra)
            .assert()
    }

    fn project(&self) -> PathBuf {
        self.root.join("out/svc")
    }
}

fn read(path: &Path) -> String {
    fs_err::read_to_string(path).unwrap()
}

#[test]
fn locked_and_default_answers_make_the_project_and_are_recorded() {
    let team = Team::new();
    team.new_project(&["--defaults"]).success();
    let project = team.project();
    let answers = read(&project.join("portcullis.toml"));
    assert!(answers.contains("methods = [\"session\"]"), "{answers}");
    assert!(answers.contains("kind = \"postgres\""), "{answers}");
    assert!(answers.contains("model = \"flat\""), "{answers}");
    assert!(
        answers.contains("origins = [\"https://app.corp.example\"]"),
        "{answers}"
    );
    assert!(
        answers.contains(
            "[template]\npreset = \"../../team/preset.toml\"\noverlays = [\"../../team/overlay\"]"
        ),
        "{answers}"
    );
    assert_eq!(
        read(&project.join("src/svc/owners.py")),
        "OWNER = \"svc\"\n"
    );
    assert_eq!(read(&project.join(".github/CODEOWNERS")), "* @platform\n");
    assert!(!project.join("src/svc/auth/oauth2.py").exists());
    portcullis().arg("check").arg(&project).assert().success();
}

#[test]
fn a_flag_or_answers_file_against_a_lock_is_refused_and_nothing_is_written() {
    let team = Team::new();
    team.new_project(&["--defaults", "--auth", "oauth2,session"])
        .code(2)
        .stderr(predicate::str::contains(
            "`--auth` gives [\"oauth2\", \"session\"], but `locked.auth.methods` is [\"session\"]",
        ));
    let answers = team.root.join("answers.toml");
    fs_err::write(&answers, "[database]\nkind = \"sqlite\"\n").unwrap();
    team.new_project(&["--defaults", "--answers", answers.to_str().unwrap()])
        .code(2)
        .stderr(predicate::str::contains(
            "the answers file's `database.kind` is \"sqlite\", but `locked.database.kind` is \"postgres\"",
        ));
    assert!(!team.root.join("out").exists() || listing(&team.root.join("out")).is_empty());
}

#[test]
fn without_a_terminal_only_the_questions_the_preset_leaves_open_are_missing() {
    let team = Team::new();
    team.new_project(&[])
        .code(2)
        .stderr(predicate::str::contains("--roles LIST"))
        .stderr(predicate::str::contains("--auth").not())
        .stderr(predicate::str::contains("--database").not())
        .stderr(predicate::str::contains("--role-model").not())
        .stderr(predicate::str::contains("--cors-origin").not());
    team.new_project(&["--roles", "owner,member"]).success();
}

#[test]
fn a_broken_overlay_names_its_file_and_writes_nothing() {
    let team = Team::new();
    let overlay = team
        .root
        .join("team/overlay/src/__package__/owners.py.tera");
    fs_err::write(&overlay, "OWNER = {{ project.nmae }}\n").unwrap();
    team.new_project(&["--defaults"])
        .code(2)
        .stderr(predicate::str::contains("owners.py.tera"))
        .stderr(predicate::str::contains("project.nmae"));
    fs_err::write(&overlay, "OWNER = {% if %}\n").unwrap();
    team.new_project(&["--defaults"])
        .code(2)
        .stderr(predicate::str::contains("owners.py.tera"));
    fs_err::write(&overlay, "OWNER = 1\n").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/hostname", team.root.join("team/overlay/leak")).unwrap();
        team.new_project(&["--defaults"])
            .code(2)
            .stderr(predicate::str::contains("symbolic link"));
    }
    assert!(!team.root.join("out").exists() || listing(&team.root.join("out")).is_empty());
}

#[test]
fn template_dir_replaces_a_built_in_file_and_update_applies_the_overlay_again() {
    let tmp = tempfile::tempdir().unwrap();
    let overlay = tmp.path().join("overlay");
    fs_err::create_dir_all(&overlay).unwrap();
    fs_err::write(
        overlay.join("README.md.tera"),
        "# {{ project.name | md }}, the team's way\n",
    )
    .unwrap();
    portcullis()
        .args(["new", "svc", "--defaults", "--output-dir"])
        .arg(tmp.path())
        .arg("--template-dir")
        .arg(&overlay)
        .assert()
        .success();
    let project = tmp.path().join("svc");
    assert_eq!(read(&project.join("README.md")), "# svc, the team's way\n");
    fs_err::write(
        overlay.join("README.md.tera"),
        "# {{ project.name | md }}, the team's way (v2)\n",
    )
    .unwrap();
    portcullis()
        .arg("check")
        .arg(&project)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("changed  README.md"));
    portcullis()
        .arg("update")
        .arg(&project)
        .assert()
        .success()
        .stdout(predicate::str::contains("replace   README.md"));
    assert_eq!(
        read(&project.join("README.md")),
        "# svc, the team's way (v2)\n"
    );
}

#[test]
fn check_reports_answers_edited_against_the_preset() {
    let team = Team::new();
    team.new_project(&["--defaults"]).success();
    let answers = team.project().join("portcullis.toml");
    let text = read(&answers).replace("methods = [\"session\"]", "methods = [\"apikey\"]");
    fs_err::write(&answers, text).unwrap();
    portcullis()
        .args(["check", "--format", "json"])
        .arg(team.project())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("locked.auth.methods"));
    portcullis()
        .args(["update", "--dry-run"])
        .arg(team.project())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("locked.auth.methods"));
}

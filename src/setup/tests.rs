// Why: the setup steps and their reporting, with a scripted runner (no uv, no Python).
use super::*;
use crate::resolve::default_spec;
use crate::spec::RoleName;

fn spec(methods: &[AuthMethod]) -> ProjectSpec {
    let mut spec = default_spec("my-api").unwrap();
    spec.auth.methods = methods.to_vec();
    spec.roles.role[0].name = RoleName::parse("owner").unwrap();
    spec
}

/// Returns the scripted outcomes in order and records the commands it was asked to run.
struct Scripted(Vec<Outcome>, Vec<String>);

impl Runner for Scripted {
    fn run(&mut self, _dir: &Path, step: &Step) -> Outcome {
        self.1.push(step.command());
        self.0.remove(0)
    }
}

fn ok() -> Outcome {
    Outcome::default()
}

#[test]
fn users_get_create_user_with_the_highest_role() {
    for methods in [
        &[AuthMethod::Oauth2][..],
        &[AuthMethod::Session, AuthMethod::Apikey],
    ] {
        let commands: Vec<String> = steps(&spec(methods)).iter().map(Step::command).collect();
        assert_eq!(
            commands,
            [
                "uv sync --locked --extra dev",
                ".venv/bin/python -m my_api dev-cert",
                ".venv/bin/python -m my_api migrate",
                ".venv/bin/python -m my_api create-user --username admin --role owner",
            ]
        );
        assert_eq!(steps(&spec(methods))[3].kind, Kind::Password);
    }
}

#[test]
fn apikey_alone_gets_create_api_key() {
    let steps = steps(&spec(&[AuthMethod::Apikey]));
    assert_eq!(
        steps[3].command(),
        ".venv/bin/python -m my_api create-api-key --name admin --role owner"
    );
    assert_eq!(steps[3].kind, Kind::ApiKey);
    assert_eq!(steps.len(), 4);
}

#[test]
fn plain_lines_without_a_terminal() {
    let steps = steps(&spec(&[AuthMethod::Oauth2]));
    let mut runner = Scripted(vec![ok(), ok(), ok(), ok()], vec![]);
    let mut out = Vec::new();
    let outcomes = execute(
        Path::new("./my-api"),
        &steps,
        &mut runner,
        &mut Progress::Plain(&mut out),
    )
    .unwrap();
    assert_eq!(outcomes.len(), 4);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[1].starts_with("setup: [2/4] development certificate ... done ("));
    assert!(lines[3].starts_with("setup: [4/4] first admin `admin` (role `owner`) ... done"));
    assert!(lines.iter().all(|l| l.ends_with(" s)")), "{text}");
}

#[test]
fn a_failure_names_the_step_its_output_and_the_rerun_command() {
    let steps = steps(&spec(&[AuthMethod::Oauth2]));
    let broken = Outcome {
        failure: Some("exit status 1".into()),
        stdout: String::new(),
        stderr: "INFO starting\nerror: database is locked\n".into(),
    };
    let mut runner = Scripted(vec![ok(), ok(), broken], vec![]);
    let mut out = Vec::new();
    let err = execute(
        Path::new("./out dir/my-api"),
        &steps,
        &mut runner,
        &mut Progress::Plain(&mut out),
    )
    .unwrap_err();
    assert_eq!(runner.1.len(), 3, "stops at the failed step");
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("setup: [3/4] database schema ... failed: exit status 1 ("));
    assert!(text.contains("    | error: database is locked"), "{text}");
    assert!(text
        .contains("rerun this step: `cd 'out dir/my-api' && .venv/bin/python -m my_api migrate`"));
    let message = err.to_string();
    assert!(message.contains("step 3/4 (database schema): exit status 1"));
    assert!(message.contains("not fully set up"));
    let hint = err.hint().unwrap();
    assert!(
        hint.contains(
            "`cd 'out dir/my-api' && .venv/bin/python -m my_api migrate && \
             .venv/bin/python -m my_api create-user --username admin --role owner`"
        ),
        "{hint}"
    );
    assert_eq!(err.exit_code(), 1);
}

#[test]
fn a_missing_uv_says_how_to_install_it() {
    let why = spawn_failure("uv", &io::Error::from(io::ErrorKind::NotFound));
    assert!(why.contains("https://docs.astral.sh/uv/"));
    let step = Step::new("x", "uv-that-does-not-exist", &[], Kind::Batch);
    let outcome = ProcessRunner.run(Path::new("."), &step);
    assert!(outcome.failure.unwrap().contains("could not start"));
}

// Why: `portcullis new --setup` turns the written project into a running one (issue 13.4): the
// `.venv` from its `uv.lock`, the development certificate, the database schema and the first
// admin. Each step is one command the user could type; a failure names the step, shows the tail
// of its output and the exact command to rerun, so a half-installed environment never goes
// unreported. The commands run behind `Runner` so tests can script their outcomes.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use owo_colors::OwoColorize;

use crate::error::{Error, Result};
use crate::spec::{AuthMethod, ProjectSpec};
use crate::ui::{display_dest, shell_quote};

/// The project's interpreter, relative to the project folder.
pub const PYTHON: &str = if cfg!(windows) {
    ".venv/Scripts/python.exe"
} else {
    ".venv/bin/python"
};
/// The name of the first admin (user or API key).
pub const ADMIN: &str = "admin";
const TAIL_LINES: usize = 15;

/// What a step does with portcullis's standard streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Output captured, no input.
    Batch,
    /// Reads a password: gets portcullis's stdin (the terminal, or the piped line).
    Password,
    /// Prints a new API key as its last stdout line, to show once.
    ApiKey,
}

/// One setup step: a command run in the project folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    /// `uv` (found on PATH) or a path relative to the project folder.
    pub program: String,
    pub args: Vec<String>,
    pub kind: Kind,
}

impl Step {
    fn new(name: &str, program: &str, args: &[&str], kind: Kind) -> Self {
        Step {
            name: name.to_string(),
            program: program.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            kind,
        }
    }

    /// The command as the user would type it in the project folder.
    pub fn command(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The steps for `spec`, in order.
pub fn steps(spec: &ProjectSpec) -> Vec<Step> {
    let pkg = spec.project.package.as_str();
    let python = |name: &str, args: &[&str], kind| {
        let args: Vec<&str> = ["-m", pkg].iter().chain(args).copied().collect();
        Step::new(name, PYTHON, &args, kind)
    };
    let sync = ["sync", "--locked", "--extra", "dev"];
    let mut out = vec![
        Step::new("Python environment `.venv`", "uv", &sync, Kind::Batch),
        python("development certificate", &["dev-cert"], Kind::Batch),
        python("database schema", &["migrate"], Kind::Batch),
    ];
    let role = spec.roles.role.first().map(|r| r.name.as_str());
    if let Some(role) = role {
        let who = format!("first admin `{ADMIN}` (role `{role}`)");
        if spec.has(AuthMethod::Oauth2) || spec.has(AuthMethod::Session) {
            let args = ["create-user", "--username", ADMIN, "--role", role];
            out.push(python(&who, &args, Kind::Password));
        } else if spec.has(AuthMethod::Apikey) {
            let args = ["create-api-key", "--name", ADMIN, "--role", role];
            out.push(python(&format!("{who} API key"), &args, Kind::ApiKey));
        }
    }
    out
}

/// How one command ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// `None` on success, else why (`exit status 1`, `uv` not found...).
    pub failure: Option<String>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs step commands; the real one spawns processes, tests script the outcomes.
pub trait Runner {
    fn run(&mut self, dir: &Path, step: &Step) -> Outcome;
    /// Whether `step` will prompt on the terminal (the spinner then gives way, with a note).
    fn prompts(&self, _step: &Step) -> bool {
        false
    }
}

/// Spawns the commands, capturing their output.
pub struct ProcessRunner;

impl Runner for ProcessRunner {
    fn run(&mut self, dir: &Path, step: &Step) -> Outcome {
        // Absolute: a relative program path is looked up from an unspecified folder.
        let program = match step.program.contains('/') {
            true => std::path::absolute(dir.join(&step.program)).unwrap_or_default(),
            false => step.program.clone().into(),
        };
        let stdin = match step.kind {
            Kind::Password => Stdio::inherit(),
            Kind::Batch | Kind::ApiKey => Stdio::null(),
        };
        let output = Command::new(program)
            .args(&step.args)
            .current_dir(dir)
            .stdin(stdin)
            .output();
        match output {
            Ok(out) => Outcome {
                failure: (!out.status.success()).then(|| describe_status(out.status)),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            },
            Err(e) => Outcome {
                failure: Some(spawn_failure(&step.program, &e)),
                ..Outcome::default()
            },
        }
    }

    fn prompts(&self, step: &Step) -> bool {
        step.kind == Kind::Password && io::stdin().is_terminal()
    }
}

fn describe_status(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return format!("killed by signal {signal}");
    }
    status
        .code()
        .map_or_else(|| status.to_string(), |c| format!("exit status {c}"))
}

fn spawn_failure(program: &str, e: &io::Error) -> String {
    match (program, e.kind()) {
        ("uv", io::ErrorKind::NotFound) => {
            "`uv` was not found on PATH; install uv: https://docs.astral.sh/uv/".into()
        }
        _ => format!("could not start `{program}`: {e}"),
    }
}

/// Spinners on a terminal, plain lines elsewhere.
pub enum Progress<'a> {
    Spinner(Option<ProgressBar>),
    Plain(&'a mut dyn Write),
}

impl Progress<'_> {
    fn start(&mut self, label: &str) {
        match self {
            Progress::Spinner(bar) => {
                let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .expect("a valid template");
                let b = ProgressBar::new_spinner().with_style(style);
                b.set_message(label.to_string());
                b.enable_steady_tick(Duration::from_millis(100));
                *bar = Some(b);
            }
            Progress::Plain(out) => {
                let _ = write!(out, "setup: {label} ... ");
                let _ = out.flush();
            }
        }
    }

    /// Runs `f` with the spinner out of the way (a prompt on the terminal).
    fn suspend<R>(&mut self, f: impl FnOnce() -> R) -> R {
        match self {
            Progress::Spinner(Some(bar)) => bar.suspend(f),
            _ => f(),
        }
    }

    fn finish(&mut self, label: &str, seconds: f64, failure: Option<&str>) {
        let took = format!("{seconds:.1} s");
        match self {
            Progress::Spinner(bar) => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                match failure {
                    None => anstream::eprintln!("{} {label} ({took})", "✔".green().bold()),
                    Some(why) => {
                        anstream::eprintln!("{} {label}: {why} ({took})", "✘".red().bold())
                    }
                }
            }
            Progress::Plain(out) => {
                let _ = match failure {
                    None => writeln!(out, "done ({took})"),
                    Some(why) => writeln!(out, "failed: {why} ({took})"),
                };
            }
        }
    }

    fn line(&mut self, text: &str) {
        match self {
            Progress::Spinner(Some(bar)) => bar.suspend(|| anstream::eprintln!("{text}")),
            Progress::Spinner(None) => anstream::eprintln!("{text}"),
            Progress::Plain(out) => {
                let _ = writeln!(out, "{text}");
            }
        }
    }
}

/// Sets up the freshly written project at `dest`.
pub fn run(dest: &Path, spec: &ProjectSpec) -> Result<()> {
    let steps = steps(spec);
    // Spinners only where they can redraw in place; colour follows anstream's rules.
    let fancy = io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb");
    let mut stderr = io::stderr();
    let mut progress = match fancy {
        true => Progress::Spinner(None),
        false => Progress::Plain(&mut stderr),
    };
    let shown = display_dest(dest).display();
    anstream::eprintln!("\nSetting up `{shown}` (`--setup`):\n");
    let started = Instant::now();
    let outcomes = execute(dest, &steps, &mut ProcessRunner, &mut progress)?;
    summary(dest, spec, &steps, &outcomes, started.elapsed());
    Ok(())
}

/// Runs `steps` in `dest` in order; stops at the first failure, reported on `progress`.
pub fn execute(
    dest: &Path,
    steps: &[Step],
    runner: &mut dyn Runner,
    progress: &mut Progress<'_>,
) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let label = format!("[{}/{}] {}", i + 1, steps.len(), step.name);
        let prompts = runner.prompts(step);
        if prompts {
            progress.line(&format!("setup: choose the password of `{ADMIN}`"));
        }
        progress.start(&label);
        let started = Instant::now();
        let outcome = if prompts {
            progress.suspend(|| runner.run(dest, step))
        } else {
            runner.run(dest, step)
        };
        let seconds = started.elapsed().as_secs_f64();
        progress.finish(&label, seconds, outcome.failure.as_deref());
        if let Some(reason) = &outcome.failure {
            return Err(failed(dest, steps, i, reason, &outcome, progress));
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Reports the failed step `steps[i]` and builds the error that finishes the run.
fn failed(
    dest: &Path,
    steps: &[Step],
    i: usize,
    reason: &str,
    outcome: &Outcome,
    progress: &mut Progress<'_>,
) -> Error {
    let cd = format!(
        "cd {}",
        shell_quote(&display_dest(dest).display().to_string())
    );
    let output = format!("{}{}", outcome.stdout, outcome.stderr);
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    if !lines.is_empty() {
        progress.line("  the end of its output:");
        for l in &lines[lines.len().saturating_sub(TAIL_LINES)..] {
            progress.line(&format!("    | {l}"));
        }
    }
    progress.line(&format!(
        "  rerun this step: `{cd} && {}`",
        steps[i].command()
    ));
    let commands: Vec<String> = steps[i..].iter().map(Step::command).collect();
    Error::Setup {
        step: format!("{}/{} ({})", i + 1, steps.len(), steps[i].name),
        reason: reason.to_string(),
        dest: display_dest(dest).to_path_buf(),
        rerun: format!("{cd} && {}", commands.join(" && ")),
    }
}

/// What is ready, the API key if one was made, and what to run next.
fn summary(dest: &Path, spec: &ProjectSpec, steps: &[Step], outcomes: &[Outcome], took: Duration) {
    let shown = display_dest(dest).display().to_string();
    let ready: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    anstream::eprintln!(
        "\n{} set up `{shown}` in {:.1} s: {}",
        "✔".green().bold(),
        took.as_secs_f64(),
        ready.join(", ")
    );
    let key = steps
        .iter()
        .zip(outcomes)
        .find(|(s, _)| s.kind == Kind::ApiKey);
    if let Some((_, outcome)) = key {
        let line = outcome.stdout.lines().rev().find(|l| !l.trim().is_empty());
        anstream::eprintln!(
            "\n{} the API key of `{ADMIN}`, shown only this once; store it now (a password \
             manager, a secret store):\n",
            "important:".yellow().bold()
        );
        // On stdout, alone, so that `KEY=$(portcullis new ... --setup)` also works.
        println!("{}", line.unwrap_or("").trim());
    }
    let pkg = spec.project.package.as_str();
    anstream::eprintln!("\nNext: start it:\n");
    anstream::eprintln!("    {}", format!("cd {}", shell_quote(&shown)).cyan());
    anstream::eprintln!("    {}", format!("{PYTHON} -m {pkg} serve").cyan());
    anstream::eprintln!(
        "\nThen open https://127.0.0.1:8443/docs (trust `certs/ca.pem` to avoid the browser \
         warning); `.venv/bin/pytest` runs its tests."
    );
}

#[cfg(test)]
mod tests;

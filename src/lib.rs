// Why: the library behind the `portcullis` binary. The pipeline is
// parse (cli) → resolve (flags + answers file + prompts → checked ProjectSpec)
// → plan (manifest + Tera → files in memory) → write (staging folder → rename).
// `generate` is the entry point for callers that already hold a checked spec; `run` drives the
// whole command line.

#![warn(clippy::disallowed_methods)]

pub mod base;
pub mod check;
pub mod cli;
pub mod error;
pub mod manifest;
pub mod overlay;
pub mod plan;
pub mod project;
pub mod prompt;
pub mod render;
pub mod resolve;
pub mod setup;
pub mod spec;
pub mod templates;
pub mod ui;
pub mod update;
pub mod write;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

pub use error::{Error, Result};
pub use spec::ProjectSpec;

/// How to write a project.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Write into an existing non-empty folder (unrelated files are kept).
    pub force: bool,
    /// Render and report, write nothing.
    pub dry_run: bool,
}

/// What `generate` did.
#[derive(Debug, Clone)]
pub struct Report {
    pub dest: PathBuf,
    /// Relative paths of the project's files, sorted.
    pub files: Vec<String>,
    /// False for a dry run.
    pub written: bool,
    /// Existing files replaced by generated ones (`--force`).
    pub replaced: Vec<String>,
    /// Existing entries kept beside the project (`--force`).
    pub kept: usize,
}

/// Renders `spec` in memory (with a fresh `.env` secret) and writes it atomically at `dest`.
pub fn generate(spec: &ProjectSpec, dest: &Path, options: &Options) -> Result<Report> {
    let plan = plan::plan(spec, &plan::Secrets::fresh())?;
    let files: Vec<String> = plan.files.iter().map(|f| f.path.clone()).collect();
    if options.dry_run {
        write::check_destination(dest, options.force)?;
        return Ok(Report {
            dest: dest.to_path_buf(),
            files,
            written: false,
            replaced: vec![],
            kept: 0,
        });
    }
    let w = write::write(&plan, dest, options.force)?;
    Ok(Report {
        dest: dest.to_path_buf(),
        files,
        written: true,
        replaced: w.replaced,
        kept: w.kept,
    })
}

/// Runs a parsed command line; returns the exit code of a run that did not fail (`update`
/// with conflicts and `check` with findings are not failures, but not 0 either).
pub fn run(cli: cli::Cli) -> Result<i32> {
    match cli.command {
        cli::Command::New(args) => new(&args).map(|()| 0),
        cli::Command::Update(args) => update::run(&args),
        cli::Command::Check(args) => check::run(&args),
        cli::Command::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut cli::Cli::command(), "portcullis", &mut out);
            out.flush()?;
            Ok(0)
        }
    }
}

fn new(args: &cli::NewArgs) -> Result<()> {
    let mut terminal = if args.defaults {
        None
    } else {
        prompt::TerminalPrompter::new()
    };
    let prompter = terminal.as_mut().map(|t| t as &mut dyn prompt::Prompter);
    let resolved = resolve::resolve(args, prompter)?;
    let options = Options {
        force: args.force,
        dry_run: args.dry_run,
    };
    if !args.dry_run {
        write::catch_interrupts();
    }
    let report = generate(&resolved.spec, &resolved.dest, &options)?;
    if report.written {
        ui::created_with(&report, resolved.spec.project.package.as_str(), args.setup);
        if args.setup {
            setup::run(&report.dest, &resolved.spec)?;
        }
    } else {
        let mut out = std::io::stdout().lock();
        for f in &report.files {
            writeln!(out, "{f}")?;
        }
        out.flush()?;
        ui::dry_run(&report);
    }
    Ok(())
}

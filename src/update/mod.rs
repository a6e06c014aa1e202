// Why: `portcullis update` carries template fixes into projects already made from them, without
// git and without losing anyone's edits: each file is decided from its pristine, user and fresh
// versions (`decide`), the whole set is applied at once or not at all (`apply`), and the new
// pristine render is recorded for the next update. The per-file plan is what `--dry-run`
// prints, so what it says is exactly what a real run does.

mod apply;
mod decide;

use std::io::Write as _;

use owo_colors::OwoColorize;

pub use apply::{apply, Change};
pub use decide::{decide, Action, Conflict, Versions};

use crate::base::BASE_FILE;
use crate::cli::UpdateArgs;
use crate::error::Result;
use crate::project::{Changes, Project};

/// Exit code of an update that left conflicts (CONTRACT §5).
pub const EXIT_CONFLICTS: i32 = 4;

/// One file of the update plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePlan {
    pub path: String,
    pub action: Action,
}

/// Decides every file of `project`.
pub fn plan(project: &Project, restore_deleted: bool) -> Result<Vec<FilePlan>> {
    let mut files = Vec::new();
    for path in project.paths() {
        let user = project.current(&path)?;
        let action = decide(
            Versions {
                pristine: project.pristine(&path),
                user: user.as_deref(),
                fresh: project.fresh_file(&path).map(|f| f.contents.as_slice()),
                mergeable: !decide::is_lock_file(&path),
            },
            restore_deleted,
        );
        files.push(FilePlan { path, action });
    }
    Ok(files)
}

/// The file changes that carry out `files`, and the new pristine render last.
pub fn changes(project: &Project, files: &[FilePlan]) -> Result<Vec<Change>> {
    let mut out: Vec<Change> = files
        .iter()
        // What is written, and what is deleted; the rest is left as it is.
        .filter(|f| f.action.contents().is_some() || f.action == Action::Removed)
        .map(|f| Change {
            path: f.path.clone(),
            contents: f.action.contents().map(<[u8]>::to_vec),
            executable: project.fresh_file(&f.path).is_some_and(|p| p.executable),
        })
        .collect();
    let recorded = project.current(BASE_FILE)?;
    if recorded.as_deref() != Some(project.fresh_base.contents.as_slice()) {
        out.push(Change {
            path: BASE_FILE.to_string(),
            contents: Some(project.fresh_base.contents.clone()),
            executable: false,
        });
    }
    Ok(out)
}

/// Runs `portcullis update`; returns the exit code.
pub fn run(args: &UpdateArgs) -> Result<i32> {
    let changes_asked = Changes {
        auth: args.auth.clone(),
        role_model: args.role_model,
        roles: args.roles.clone(),
        database: args.database,
        cors_origins: args.cors_origins.clone(),
        ..Changes::default()
    };
    let project = Project::open(&args.dir, &changes_asked)?;
    let files = plan(&project, args.restore_deleted)?;
    let conflicts = files
        .iter()
        .filter(|f| matches!(f.action, Action::Conflict(_)))
        .count();
    print_plan(&files, args.dry_run)?;
    if !args.dry_run {
        crate::write::catch_interrupts();
        apply(&project.root, &changes(&project, &files)?)?;
    }
    summary(&project, &files, conflicts, args.dry_run);
    Ok(if conflicts > 0 { EXIT_CONFLICTS } else { 0 })
}

/// The per-file plan on stdout: every file with `--dry-run`, the ones that change otherwise.
fn print_plan(files: &[FilePlan], dry_run: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for f in files {
        if dry_run || f.action != Action::Unchanged {
            writeln!(out, "{:<9} {}", f.action.label(), f.path)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn summary(project: &Project, files: &[FilePlan], conflicts: usize, dry_run: bool) {
    let changed = files
        .iter()
        .filter(|f| !matches!(f.action, Action::Unchanged | Action::Deleted))
        .count();
    let root = project.root.display();
    if dry_run {
        anstream::eprintln!(
            "{} {changed} file(s) would change in `{root}`; nothing was written",
            "dry run:".cyan().bold()
        );
    } else if changed == 0 {
        anstream::eprintln!(
            "{} `{root}` is up to date with this generator",
            "✔".green().bold()
        );
    } else {
        anstream::eprintln!(
            "{} updated `{root}`: {changed} file(s) changed",
            "✔".green().bold()
        );
    }
    for f in files {
        if let Action::Conflict(c) = &f.action {
            anstream::eprintln!("{} `{}`: {}", "conflict:".red().bold(), f.path, c.reason);
        }
    }
    if conflicts > 0 {
        anstream::eprintln!(
            "{} settle the conflicts (look for `<<<<<<< yours`), then run your tests",
            "next:".yellow().bold()
        );
    }
}

// Why: everything the user reads goes through here, on stderr, so the look is consistent and the
// colour rules hold everywhere: colour only on a terminal, never with NO_COLOR (anstream strips the
// styles otherwise). Paths and commands are in backticks; messages end with what to do next.

use std::path::Path;

use owo_colors::OwoColorize;

use crate::error::Error;
use crate::Report;

/// Prints an error and its hint.
pub fn error(e: &Error) {
    anstream::eprintln!("{} {e}", "error:".red().bold());
    if let Some(hint) = e.hint() {
        anstream::eprintln!("{} {hint}", "hint:".yellow().bold());
    }
}

/// The commands that set up, run and test a new project, one per line.
pub fn next_steps(dest: &Path, package: &str) -> Vec<String> {
    vec![
        format!("cd {}", shell_quote(&dest.display().to_string())),
        // Exactly the versions of the project's uv.lock, hash-checked.
        "uv sync --locked --extra dev".to_string(),
        ". .venv/bin/activate".to_string(),
        format!("python -m {package} dev-cert"),
        format!("python -m {package} migrate"),
        format!("python -m {package} serve"),
        "pytest".to_string(),
    ]
}

/// The closing message of a successful `portcullis new`; with `setup` (`--setup` runs next) it
/// leaves out the manual set-up commands: `setup::run` runs them and then says what is next.
pub fn created_with(report: &Report, package: &str, setup: bool) {
    let shown = display_dest(&report.dest);
    anstream::eprintln!(
        "{} created `{}` ({} files)",
        "✔".green().bold(),
        shown.display(),
        report.files.len()
    );
    if !report.replaced.is_empty() {
        anstream::eprintln!(
            "{} --force replaced {} existing file(s): {}",
            "note:".yellow().bold(),
            report.replaced.len(),
            report
                .replaced
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if report.kept > 0 {
        anstream::eprintln!(
            "{} kept the {} entries that were already in the folder",
            "note:".yellow().bold(),
            report.kept
        );
    }
    if setup {
        return;
    }
    anstream::eprintln!("\nNext: set up, run and test it:\n");
    for cmd in next_steps(shown, package) {
        anstream::eprintln!("    {}", cmd.cyan());
    }
    anstream::eprintln!(
        "\nThen open https://127.0.0.1:8443/docs (trust `certs/ca.pem` to avoid the browser warning)."
    );
}

/// The closing message of `--dry-run` (the file list itself goes to stdout).
pub fn dry_run(report: &Report) {
    anstream::eprintln!(
        "{} {} files would be written to `{}`; nothing was written",
        "dry run:".cyan().bold(),
        report.files.len(),
        display_dest(&report.dest).display()
    );
}

/// `./x` → `x`, for shorter messages.
pub(crate) fn display_dest(dest: &Path) -> &Path {
    dest.strip_prefix(".").unwrap_or(dest)
}

/// Quotes a word for POSIX shells when it needs it.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./+:@%=".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_steps_are_exact() {
        let steps = next_steps(Path::new("my api"), "my_api");
        assert_eq!(
            steps,
            [
                "cd 'my api'",
                "uv sync --locked --extra dev",
                ". .venv/bin/activate",
                "python -m my_api dev-cert",
                "python -m my_api migrate",
                "python -m my_api serve",
                "pytest",
            ]
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("out/billing-api"), "out/billing-api");
    }
}

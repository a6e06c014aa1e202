// Why: one place decides what each failure means to the user: its message, its exit code
// (CONTRACT §1: 0 ok, 2 usage or answers, 3 destination not empty, 1 anything else) and the hint
// printed after it. Every fallible function in the crate returns this type.

use std::path::PathBuf;

/// One missing or invalid answer, with the flag (or file key) that supplies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong, e.g. "role `Admin` must match ^[a-z][a-z0-9_]{0,31}$".
    pub message: String,
    /// How to supply or fix it, e.g. "--roles LIST".
    pub flag: String,
}

impl Problem {
    pub fn new(message: impl Into<String>, flag: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            flag: flag.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (set it with `{}`)", self.message, self.flag)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Answers missing without a terminal, or given but invalid: all of them at once.
    #[error("{}", problems_text(.problems))]
    Answers { problems: Vec<Problem> },

    /// The answers file could not be read as the `portcullis.toml` schema.
    #[error("invalid answers file `{}`: {message}", .path.display())]
    AnswersFile { path: PathBuf, message: String },

    /// The `--preset` file could not be read as a preset.
    #[error("invalid preset `{}`: {message}", .path.display())]
    Preset { path: PathBuf, message: String },

    /// Flags or the answers file contradict answers the preset locks.
    #[error("the preset `{}` locks these answers:\n  - {}", .preset.display(), .conflicts.join("\n  - "))]
    Locked {
        preset: PathBuf,
        conflicts: Vec<String>,
    },

    /// A template overlay is unusable: unreadable, a symlink, a syntax error, an unknown variable.
    #[error("template overlay `{}`: {message}", .path.display())]
    Overlay { path: PathBuf, message: String },

    /// Any other misuse of the command line that clap itself cannot see.
    #[error("{0}")]
    Usage(String),

    /// The destination exists and holds something, and `--force` was not given.
    #[error("destination `{}` is not empty; it contains: {}", .path.display(), list_entries(.entries))]
    DestinationNotEmpty { path: PathBuf, entries: Vec<String> },

    /// The destination exists and is not a directory (a file, a socket...): even `--force` won't
    /// replace that.
    #[error("destination `{}` exists and is not a directory", .path.display())]
    DestinationNotDir { path: PathBuf },

    /// The user declined the confirmation.
    #[error("cancelled; nothing was written")]
    Cancelled,

    /// A bug in the embedded templates or manifest (undefined variable, bad syntax, missing src).
    #[error("template error: {0}")]
    Template(String),

    /// The interactive prompt failed (terminal closed, interrupted).
    #[error("prompt failed: {0}")]
    Prompt(String),

    /// A `--setup` step failed. The project itself is written and complete; its environment is
    /// not fully set up. `rerun` finishes the setup from the failed step (`cd DIR && ...`).
    #[error(
        "setup stopped at step {step}: {reason}; the project `{}` is written, but its \
         environment is not fully set up",
        .dest.display()
    )]
    Setup {
        step: String,
        reason: String,
        dest: PathBuf,
        rerun: String,
    },

    /// A filesystem error; `fs-err` puts the path in the message.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn problems_text(problems: &[Problem]) -> String {
    let mut out = if problems.len() == 1 {
        "1 answer is missing or invalid:".to_string()
    } else {
        format!("{} answers are missing or invalid:", problems.len())
    };
    for p in problems {
        out.push_str("\n  - ");
        out.push_str(&p.to_string());
    }
    out
}

fn list_entries(entries: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut out: Vec<String> = entries
        .iter()
        .take(SHOWN)
        .map(|e| format!("`{e}`"))
        .collect();
    if entries.len() > SHOWN {
        out.push(format!("and {} more", entries.len() - SHOWN));
    }
    out.join(", ")
}

impl Error {
    /// The process exit code of CONTRACT §1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Answers { .. }
            | Error::AnswersFile { .. }
            | Error::Preset { .. }
            | Error::Locked { .. }
            | Error::Overlay { .. }
            | Error::Usage(_) => 2,
            Error::DestinationNotEmpty { .. } | Error::DestinationNotDir { .. } => 3,
            Error::Cancelled
            | Error::Template(_)
            | Error::Prompt(_)
            | Error::Setup { .. }
            | Error::Io(_) => 1,
        }
    }

    /// What to do next, printed after the error.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Answers { .. } => Some(
                "pass the flags above, an answers file with `--answers FILE`, or `--defaults` \
                 to take the default for every unanswered question"
                    .into(),
            ),
            Error::AnswersFile { .. } => Some(
                "the answers file has the schema of a generated `portcullis.toml`; \
                 see `examples/` for complete files"
                    .into(),
            ),
            Error::Preset { .. } => Some(
                "a preset holds `[defaults.<section>]` and `[locked.<section>]` tables with the \
                 keys of `portcullis.toml` (auth, roles, database, cors), and `overlays = [...]`"
                    .into(),
            ),
            Error::Locked { .. } => Some(
                "drop the contradicting flags or answers: the locked answers apply anyway".into(),
            ),
            Error::Overlay { .. } => Some(
                "an overlay mirrors the project's tree: `*.tera` files are rendered with the \
                 built-in templates' context (see docs/), everything else is copied; nothing \
                 was written"
                    .into(),
            ),
            Error::Usage(_) => Some("run `portcullis new --help`".into()),
            Error::DestinationNotEmpty { .. } => Some(
                "choose another NAME or `--output-dir`, or pass `--force` to write into it \
                 (unrelated files are kept; generated files replace existing ones)"
                    .into(),
            ),
            Error::DestinationNotDir { .. } => Some("move it away or choose another NAME".into()),
            Error::Template(_) => {
                Some("this is a bug in Portcullis's embedded templates; please report it".into())
            }
            Error::Setup { rerun, .. } => Some(format!(
                "fix the cause shown above, then finish the setup with `{rerun}`"
            )),
            Error::Io(_) => Some("nothing was left behind; fix the cause and run again".into()),
            Error::Cancelled | Error::Prompt(_) => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(Error::Answers { problems: vec![] }.exit_code(), 2);
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        let e = Error::DestinationNotEmpty {
            path: "x".into(),
            entries: vec!["a".into()],
        };
        assert_eq!(e.exit_code(), 3);
        assert_eq!(Error::Template("x".into()).exit_code(), 1);
        let e = Error::Setup {
            step: "3/4 (database schema)".into(),
            reason: "exit status 1".into(),
            dest: "x".into(),
            rerun: "cd x && .venv/bin/python -m x migrate".into(),
        };
        assert_eq!(e.exit_code(), 1);
        assert!(e
            .hint()
            .unwrap()
            .contains("`cd x && .venv/bin/python -m x migrate`"));
    }

    #[test]
    fn problems_are_all_listed_with_their_flag() {
        let e = Error::Answers {
            problems: vec![
                Problem::new("no auth methods", "--auth LIST"),
                Problem::new("no database", "--database KIND"),
            ],
        };
        let text = e.to_string();
        assert!(text.contains("2 answers"));
        assert!(text.contains("`--auth LIST`"));
        assert!(text.contains("`--database KIND`"));
    }
}

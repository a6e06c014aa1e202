// Why: the command line as clap types, and nothing else. These are raw arguments: nothing here is
// trusted until `resolve` turns it into a checked `ProjectSpec`. Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::spec::{AuthMethod, DatabaseKind, RoleModel};

/// Scaffolds secure FastAPI services: authentication, roles, audit log and TLS, ready to run.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new FastAPI project at DIR/NAME.
    ///
    /// Answers come from flags, then `--answers FILE`, then interactive questions (only with a
    /// terminal), then defaults (only with `--defaults`). Without a terminal, every unanswered
    /// question is reported at once with the flag that answers it (exit 2).
    ///
    /// Exit codes: 0 success; 2 invalid usage or answers; 3 destination exists and is not empty
    /// (without --force); 1 anything else. On any failure nothing is left behind.
    New(NewArgs),
    /// Bring a generated project up to the current templates, keeping your edits.
    ///
    /// Re-renders the project with its recorded answers (`portcullis.toml`, changed by the
    /// flags given) and merges three ways against the pristine render that made it
    /// (`.portcullis/base.tar`): files you never touched are replaced, edited ones are merged,
    /// and overlapping changes are left with conflict markers. No git needed. Atomic: on any
    /// failure or Ctrl-C the project is as it was.
    ///
    /// Exit codes: 0 updated (or nothing to do); 4 updated with conflicts (listed); 2 invalid
    /// usage or answers; 1 anything else.
    Update(UpdateArgs),
    /// Report drift from the pristine render, staleness and policy violations (for CI).
    ///
    /// Drift: a security-relevant generated file differs from what the generator wrote.
    /// Staleness: the current generator would render the project differently (run `portcullis
    /// update`). Policy: the recorded answers break a rule of `--policy FILE`.
    ///
    /// Exit codes: 0 clean; 1 findings; 2 invalid usage or policy file.
    Check(CheckArgs),
    /// Print a shell completion script to standard output.
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

/// The raw arguments of `portcullis new` (checked later, by `resolve`).
#[derive(Debug, Clone, Default, Args)]
pub struct NewArgs {
    /// The project folder name; the Python package is derived from it (lower case, `-`, `.` and
    /// spaces become `_`).
    pub name: Option<String>,

    /// The folder in which to create NAME.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub output_dir: PathBuf,

    /// Authentication methods, comma-separated: any non-empty subset of oauth2, oidc, apikey, session.
    #[arg(long, value_name = "LIST", value_delimiter = ',', num_args = 1)]
    pub auth: Option<Vec<AuthMethod>>,

    /// How roles relate: flat, hierarchical (default) or permissions.
    #[arg(long, value_name = "MODEL")]
    pub role_model: Option<RoleModel>,

    /// Role names, comma-separated, highest privilege first (default admin,editor,viewer).
    #[arg(long, value_name = "LIST", value_delimiter = ',', num_args = 1)]
    pub roles: Option<Vec<String>>,

    /// The database: sqlite (default, embedded) or postgres.
    #[arg(long, value_name = "KIND")]
    pub database: Option<DatabaseKind>,

    /// An allowed browser origin, `https://host[:port]` (http only for localhost); repeatable.
    #[arg(long = "cors-origin", value_name = "URL")]
    pub cors_origins: Vec<String>,

    /// A TOML answers file with the schema of `portcullis.toml`; flags override it.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,

    /// Take the default for every question not answered by flags or the answers file.
    #[arg(long)]
    pub defaults: bool,

    /// Allow writing into an existing non-empty folder (unrelated files are kept).
    #[arg(long)]
    pub force: bool,

    /// Print the files that would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// A team preset (TOML): `[defaults.<section>]` answers and `[locked.<section>]` answers
    /// no flag or answers file may contradict, plus `overlays = [DIR, ...]`.
    #[arg(long, value_name = "FILE")]
    pub preset: Option<PathBuf>,

    /// An overlay of templates that add or replace project files (`*.tera` rendered with the
    /// same context, the rest copied); repeatable, later ones win.
    #[arg(long = "template-dir", value_name = "DIR")]
    pub template_dirs: Vec<PathBuf>,

    /// After writing, set the project up: `.venv` (uv), the development certificate, the
    /// database, and the first admin (password prompted, or read from stdin without a terminal).
    #[arg(long, conflicts_with = "dry_run")]
    pub setup: bool,
}

/// The raw arguments of `portcullis update`.
#[derive(Debug, Clone, Default, Args)]
pub struct UpdateArgs {
    /// The project folder (the one holding `portcullis.toml`).
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,

    /// Print what would happen to each file; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Bring back generated files you deleted (by default they stay deleted).
    #[arg(long)]
    pub restore_deleted: bool,

    /// Change the authentication methods (oauth2, oidc, apikey, session), comma-separated.
    #[arg(long, value_name = "LIST", value_delimiter = ',', num_args = 1)]
    pub auth: Option<Vec<AuthMethod>>,

    /// Change the role model: flat, hierarchical or permissions.
    #[arg(long, value_name = "MODEL")]
    pub role_model: Option<RoleModel>,

    /// Change the role names, comma-separated, highest privilege first.
    #[arg(long, value_name = "LIST", value_delimiter = ',', num_args = 1)]
    pub roles: Option<Vec<String>>,

    /// Change the database: sqlite or postgres.
    #[arg(long, value_name = "KIND")]
    pub database: Option<DatabaseKind>,

    /// Replace the allowed browser origins (repeatable).
    #[arg(long = "cors-origin", value_name = "URL")]
    pub cors_origins: Vec<String>,
}

/// The raw arguments of `portcullis check`.
#[derive(Debug, Clone, Default, Args)]
pub struct CheckArgs {
    /// The project folder (the one holding `portcullis.toml`).
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,

    /// A TOML policy file: required and forbidden answers, allowed origins, token lifetimes.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// How to print the findings: text, or json (stable, for CI).
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub format: Format,

    /// Show a unified diff of every drifted file (text format).
    #[arg(long)]
    pub diff: bool,
}

/// The output format of `check`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_every_flag() {
        let cli = Cli::try_parse_from([
            "portcullis",
            "new",
            "billing-api",
            "--output-dir",
            "/tmp/x",
            "--auth",
            "oauth2,session",
            "--role-model",
            "permissions",
            "--roles",
            "owner,member",
            "--database",
            "postgres",
            "--cors-origin",
            "https://a.example",
            "--cors-origin",
            "https://b.example",
            "--answers",
            "a.toml",
            "--defaults",
            "--force",
            "--dry-run",
        ])
        .unwrap();
        let Command::New(args) = cli.command else {
            panic!("not new")
        };
        assert_eq!(args.name.as_deref(), Some("billing-api"));
        assert_eq!(
            args.auth,
            Some(vec![AuthMethod::Oauth2, AuthMethod::Session])
        );
        assert_eq!(args.role_model, Some(RoleModel::Permissions));
        assert_eq!(args.roles, Some(vec!["owner".into(), "member".into()]));
        assert_eq!(args.database, Some(DatabaseKind::Postgres));
        assert_eq!(args.cors_origins.len(), 2);
        assert!(args.defaults && args.force && args.dry_run);
    }

    #[test]
    fn unknown_auth_method_is_a_usage_error() {
        let e = Cli::try_parse_from(["portcullis", "new", "x", "--auth", "ldap"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}

// Why: the answers `--defaults` picks, and the list parsing shared by flags, the answers file and
// the prompts, live in one place so the defaults a user sees in a prompt are the ones `--defaults`
// would have taken.

use crate::error::{Error, Result};
use crate::spec::roles::default_permissions;
use crate::spec::{
    AuthMethod, DatabaseKind, Origin, ProjectName, ProjectSpec, RoleModel, RoleName,
};

pub const DEFAULT_AUTH: &[AuthMethod] = &[AuthMethod::Oauth2];
pub const DEFAULT_ROLE_MODEL: RoleModel = RoleModel::Hierarchical;
pub const DEFAULT_ROLES: &[&str] = &["admin", "editor", "viewer"];
pub const DEFAULT_DATABASE: DatabaseKind = DatabaseKind::Sqlite;
pub const DEFAULT_ORIGINS: &[&str] = &["https://localhost:3000"];

/// The spec `portcullis new NAME --defaults` resolves to.
pub fn default_spec(name: &str) -> Result<ProjectSpec> {
    let name = ProjectName::parse(name).map_err(Error::Usage)?;
    let roles = default_roles();
    let count = roles.len();
    let table = roles
        .into_iter()
        .enumerate()
        .map(|(i, r)| (r, default_permissions(i, count)))
        .collect();
    ProjectSpec::build(
        name,
        DEFAULT_AUTH.to_vec(),
        DEFAULT_ROLE_MODEL,
        table,
        DEFAULT_DATABASE,
        default_origins(),
    )
    .map_err(|e| Error::Usage(e.join("; ")))
}

pub fn default_roles() -> Vec<RoleName> {
    DEFAULT_ROLES
        .iter()
        .map(|r| RoleName::parse(r).expect("valid default"))
        .collect()
}

pub fn default_origins() -> Vec<Origin> {
    DEFAULT_ORIGINS
        .iter()
        .map(|o| Origin::parse(o).expect("valid default"))
        .collect()
}

/// A comma-separated answer typed at a prompt, each item trimmed.
pub(super) fn split_list(s: &str) -> Vec<String> {
    s.split(',').map(|x| x.trim().to_string()).collect()
}

/// Origins typed at the prompt: a comma-separated list, or `none`.
pub(super) fn parse_origin_input(s: &str) -> Result<Vec<Origin>, Vec<String>> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    parse_origins(&split_list(t))
}

/// Every origin checked, duplicates refused, every problem reported.
pub fn parse_origins<S: AsRef<str>>(raw: &[S]) -> Result<Vec<Origin>, Vec<String>> {
    let mut out: Vec<Origin> = Vec::new();
    let mut errors = Vec::new();
    for r in raw {
        match Origin::parse(r.as_ref()) {
            Ok(o) if out.contains(&o) => {
                errors.push(format!("CORS origin `{}` is listed twice", o.as_str()))
            }
            Ok(o) => out.push(o),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

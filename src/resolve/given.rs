// Why: before anything is asked or written, every answer that arrived by flag or answers file is
// checked, and every invalid or missing one is collected, so the user gets the whole list in one
// run, each with the flag (or file key) that supplies it. What is left open here is exactly what
// the prompts will ask.

use std::path::Path;

use crate::cli::NewArgs;
use crate::error::{Error, Problem, Result};
use crate::spec::roles::parse_role_list;
use crate::spec::{
    show, AuthMethod, DatabaseKind, Origin, PermissionSet, ProjectName, RoleModel, RoleName,
};

use super::answers::{AnswersFile, AnswersRole};
use super::defaults::{
    default_origins, default_roles, parse_origins, DEFAULT_AUTH, DEFAULT_DATABASE,
    DEFAULT_ROLE_MODEL,
};

/// The answers given by flags, the answers file or `--defaults`, each one checked; `None` where
/// the question is still open (it will be asked).
pub(super) struct Given {
    pub name: Option<ProjectName>,
    pub auth: Option<Vec<AuthMethod>>,
    pub model: Option<RoleModel>,
    pub roles: Option<Vec<RoleName>>,
    pub database: Option<DatabaseKind>,
    pub origins: Option<Vec<Origin>>,
    /// The `[[roles.role]]` entries of the answers file, for their explicit permissions.
    file_roles: Vec<AnswersRole>,
}

impl Given {
    /// Checks every answer given. Fails with all invalid answers, then all missing ones; an
    /// unanswered question only counts as missing when it cannot be asked (`interactive` false).
    pub fn check(
        args: &NewArgs,
        file: &AnswersFile,
        path: Option<&Path>,
        interactive: bool,
    ) -> Result<Self> {
        let mut c = Checker {
            args,
            file,
            path,
            interactive,
            problems: Vec::new(),
            missing: Vec::new(),
        };
        // Fields are evaluated in the order written: it is the order of the problems.
        let given = Given {
            name: c.name(),
            auth: c.auth(),
            model: c.model(),
            roles: c.roles(),
            database: c.database(),
            origins: c.origins(),
            file_roles: (file.roles.as_ref())
                .and_then(|r| r.role.clone())
                .unwrap_or_default(),
        };
        c.permissions(&given);
        c.finish()?;
        Ok(given)
    }

    /// The permissions the answers file gives `role`, if any.
    pub fn explicit(&self, role: &RoleName) -> Option<PermissionSet> {
        self.file_roles
            .iter()
            .find(|r| r.name == role.as_str())
            .and_then(|r| r.permissions.clone())
            .map(PermissionSet::from)
    }
}

/// Where a value came from, to name the right flag in messages.
#[derive(Clone, Copy)]
enum Source<'a> {
    Flag(&'a str),
    File(&'a str, &'a Path),
}

impl Source<'_> {
    fn hint(&self) -> String {
        match self {
            Source::Flag(f) => (*f).to_string(),
            Source::File(key, path) => format!("{key} in {}", path.display()),
        }
    }
}

/// One pass over the answers, collecting problems (invalid) and missing answers separately.
struct Checker<'a> {
    args: &'a NewArgs,
    file: &'a AnswersFile,
    path: Option<&'a Path>,
    interactive: bool,
    problems: Vec<Problem>,
    missing: Vec<Problem>,
}

impl<'a> Checker<'a> {
    /// The flag wins over the answers file; either way, remember which one gave the value.
    fn pick<T>(
        &self,
        flag: Option<T>,
        flag_name: &'a str,
        file: Option<T>,
        key: &'a str,
    ) -> Option<(T, Source<'a>)> {
        match (flag, file, self.path) {
            (Some(v), _, _) => Some((v, Source::Flag(flag_name))),
            (None, Some(v), Some(p)) => Some((v, Source::File(key, p))),
            _ => None,
        }
    }

    /// An answer nobody gave: missing, unless it can still be asked.
    fn unanswered<T>(&mut self, message: &str, flag: &str) -> Option<T> {
        if !self.interactive {
            self.missing.push(Problem::new(message, flag));
        }
        None
    }

    /// An answer nobody gave that has a default: taken with `--defaults`, else `unanswered`.
    fn fallback<T>(&mut self, default: impl FnOnce() -> T, message: &str, flag: &str) -> Option<T> {
        if self.args.defaults {
            Some(default())
        } else {
            self.unanswered(message, flag)
        }
    }

    /// A list checked item by item: every error becomes a problem named after `src`.
    fn checked<T>(&mut self, parsed: Result<T, Vec<String>>, src: Source) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(errs) => {
                let hint = src.hint();
                let problems = errs.into_iter().map(|e| Problem::new(e, hint.clone()));
                self.problems.extend(problems);
                None
            }
        }
    }

    fn name(&mut self) -> Option<ProjectName> {
        let file_name = self.file.project.as_ref().and_then(|p| p.name.clone());
        let given = self.pick(self.args.name.clone(), "NAME", file_name, "project.name");
        let Some((raw, src)) = given else {
            return self.unanswered("the project name is missing", "portcullis new NAME");
        };
        match ProjectName::parse(&raw) {
            Ok(name) => {
                self.check_package(&name, src);
                Some(name)
            }
            Err(e) => {
                self.problems.push(Problem::new(e, src.hint()));
                None
            }
        }
    }

    /// A `project.package` in the answers file must match the package derived from the file's
    /// name (when a flag gives the name, the file's package is ignored).
    fn check_package(&mut self, name: &ProjectName, src: Source) {
        let file = self.file;
        let package = file.project.as_ref().and_then(|p| p.package.as_ref());
        let (Source::File(_, path), Some(pkg)) = (src, package) else {
            return;
        };
        if pkg != name.package().as_str() {
            self.problems.push(Problem::new(
                format!(
                    "project.package {} does not match the package derived from the name ({})",
                    show(pkg),
                    show(name.package().as_str())
                ),
                format!("project.package in {}", path.display()),
            ));
        }
    }

    fn auth(&mut self) -> Option<Vec<AuthMethod>> {
        let file_auth = self.file.auth.as_ref().and_then(|a| a.methods.clone());
        let flag = self.args.auth.clone();
        match self.pick(flag, "--auth LIST", file_auth, "auth.methods") {
            Some((v, src)) if v.is_empty() => {
                self.problems.push(Problem::new(
                    "at least one auth method is needed (oauth2, oidc, apikey, session)",
                    src.hint(),
                ));
                None
            }
            Some((mut v, _)) => {
                v.sort();
                v.dedup();
                Some(v)
            }
            None => self.fallback(
                || DEFAULT_AUTH.to_vec(),
                "the auth methods are missing (oauth2, oidc, apikey, session)",
                "--auth LIST",
            ),
        }
    }

    fn model(&mut self) -> Option<RoleModel> {
        let file_model = self.file.roles.as_ref().and_then(|r| r.model);
        let flag = self.args.role_model;
        match self.pick(flag, "--role-model MODEL", file_model, "roles.model") {
            Some((m, _)) => Some(m),
            None => self.fallback(
                || DEFAULT_ROLE_MODEL,
                "the role model is missing (flat, hierarchical, permissions)",
                "--role-model MODEL",
            ),
        }
    }

    fn roles(&mut self) -> Option<Vec<RoleName>> {
        let file_roles = (self.file.roles.as_ref())
            .and_then(|r| r.role.as_ref())
            .map(|rs| rs.iter().map(|r| r.name.clone()).collect::<Vec<_>>());
        let flag = self.args.roles.clone();
        match self.pick(flag, "--roles LIST", file_roles, "roles.role") {
            Some((v, src)) => self.checked(parse_role_list(&v), src),
            None => self.fallback(
                default_roles,
                "the role names are missing (highest privilege first)",
                "--roles LIST",
            ),
        }
    }

    fn database(&mut self) -> Option<DatabaseKind> {
        let file_kind = self.file.database.as_ref().and_then(|d| d.kind);
        let flag = self.args.database;
        match self.pick(flag, "--database KIND", file_kind, "database.kind") {
            Some((d, _)) => Some(d),
            None => self.fallback(
                || DEFAULT_DATABASE,
                "the database is missing (sqlite, postgres)",
                "--database KIND",
            ),
        }
    }

    fn origins(&mut self) -> Option<Vec<Origin>> {
        let flags = &self.args.cors_origins;
        let flag = (!flags.is_empty()).then(|| flags.clone());
        let file_origins = self.file.cors.as_ref().and_then(|c| c.origins.clone());
        match self.pick(flag, "--cors-origin URL", file_origins, "cors.origins") {
            Some((v, src)) => self.checked(parse_origins(&v), src),
            None => self.fallback(
                default_origins,
                "the allowed CORS origins are missing",
                "--cors-origin URL (repeatable)",
            ),
        }
    }

    /// With the `permissions` model and nothing to ask with (and no `--defaults`), every role but
    /// the highest needs its permissions from the answers file.
    fn permissions(&mut self, given: &Given) {
        if self.interactive || self.args.defaults || given.model != Some(RoleModel::Permissions) {
            return;
        }
        let Some(roles) = &given.roles else {
            return;
        };
        for r in roles.iter().skip(1).filter(|r| given.explicit(r).is_none()) {
            self.missing.push(Problem::new(
                format!("the permissions of role `{r}` are missing (role model `permissions`)"),
                "permissions = [...] under [[roles.role]] in --answers FILE, or --defaults",
            ));
        }
    }

    /// Every invalid answer first, then every missing one.
    fn finish(mut self) -> Result<()> {
        self.problems.extend(self.missing);
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Answers {
                problems: self.problems,
            })
        }
    }
}

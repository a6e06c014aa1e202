// Why: answers arrive from four places with a fixed precedence (flags > answers file > prompts >
// defaults). This module merges them into one checked `ProjectSpec`, and it is where "every
// missing or invalid answer is listed at once, with the flag that supplies it" is enforced:
// nothing downstream ever sees an unchecked value, and nothing is written before it returns.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::NewArgs;
use crate::error::{Error, Problem, Result};
use crate::prompt::Prompter;
use crate::spec::roles::{default_permissions, parse_role_list};
use crate::spec::{
    show, AuthMethod, DatabaseKind, Origin, Permission, PermissionSet, ProjectName, ProjectSpec,
    RoleModel, RoleName,
};
use crate::write::check_destination;

pub const DEFAULT_AUTH: &[AuthMethod] = &[AuthMethod::Oauth2];
pub const DEFAULT_ROLE_MODEL: RoleModel = RoleModel::Hierarchical;
pub const DEFAULT_ROLES: &[&str] = &["admin", "editor", "viewer"];
pub const DEFAULT_DATABASE: DatabaseKind = DatabaseKind::Sqlite;
pub const DEFAULT_ORIGINS: &[&str] = &["https://localhost:3000"];

/// The raw `--answers` file: the `portcullis.toml` schema with every key optional. Unknown keys
/// are errors (they are almost always typos that would silently change nothing).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersFile {
    pub portcullis_version: Option<String>,
    pub project: Option<AnswersProject>,
    pub auth: Option<AnswersAuth>,
    pub roles: Option<AnswersRoles>,
    pub database: Option<AnswersDatabase>,
    pub cors: Option<AnswersCors>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersProject {
    pub name: Option<String>,
    pub package: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersAuth {
    pub methods: Option<Vec<AuthMethod>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersRoles {
    pub model: Option<RoleModel>,
    pub role: Option<Vec<AnswersRole>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersRole {
    pub name: String,
    pub permissions: Option<Vec<Permission>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersDatabase {
    pub kind: Option<DatabaseKind>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersCors {
    pub origins: Option<Vec<String>>,
}

impl AnswersFile {
    pub fn load(path: &Path) -> Result<Self> {
        let text = fs_err::read_to_string(path).map_err(|e| Error::AnswersFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::parse(&text).map_err(|message| Error::AnswersFile {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }
}

/// The checked outcome: what to generate and where.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub spec: ProjectSpec,
    pub dest: PathBuf,
    /// True when at least one question was asked interactively.
    pub prompted: bool,
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

fn pick<'a, T>(
    flag: Option<T>,
    flag_name: &'a str,
    file: Option<T>,
    key: &'a str,
    path: Option<&'a Path>,
) -> Option<(T, Source<'a>)> {
    match (flag, file, path) {
        (Some(v), _, _) => Some((v, Source::Flag(flag_name))),
        (None, Some(v), Some(p)) => Some((v, Source::File(key, p))),
        _ => None,
    }
}

/// Merges flags, the answers file, prompts (when `prompter` is given and `--defaults` is not) and
/// defaults (with `--defaults`) into a checked spec; checks the destination as soon as the name is
/// known.
pub fn resolve(args: &NewArgs, mut prompter: Option<&mut dyn Prompter>) -> Result<Resolved> {
    if args.defaults {
        prompter = None;
    }
    let file = match &args.answers {
        Some(p) => AnswersFile::load(p)?,
        None => AnswersFile::default(),
    };
    let path = args.answers.as_deref();
    let mut problems: Vec<Problem> = Vec::new();
    let mut missing: Vec<Problem> = Vec::new();

    // Name.
    let name_raw = pick(
        args.name.clone(),
        "NAME",
        file.project.as_ref().and_then(|p| p.name.clone()),
        "project.name",
        path,
    );
    let mut name: Option<ProjectName> = None;
    match &name_raw {
        Some((raw, src)) => match ProjectName::parse(raw) {
            Ok(n) => name = Some(n),
            Err(e) => problems.push(Problem::new(e, src.hint())),
        },
        None if prompter.is_some() => {}
        None => missing.push(Problem::new(
            "the project name is missing",
            "portcullis new NAME",
        )),
    }
    if let (Some(n), Some((_, Source::File(..))), Some(pkg)) = (
        &name,
        &name_raw,
        file.project.as_ref().and_then(|p| p.package.as_ref()),
    ) {
        if pkg != n.package().as_str() {
            problems.push(Problem::new(
                format!(
                    "project.package {} does not match the package derived from the name ({})",
                    show(pkg),
                    show(n.package().as_str())
                ),
                format!(
                    "project.package in {}",
                    path.map(|p| p.display().to_string()).unwrap_or_default()
                ),
            ));
        }
    }

    // Auth methods.
    let auth_raw = pick(
        args.auth.clone(),
        "--auth LIST",
        file.auth.as_ref().and_then(|a| a.methods.clone()),
        "auth.methods",
        path,
    );
    let mut auth: Option<Vec<AuthMethod>> = None;
    match auth_raw {
        Some((v, src)) if v.is_empty() => problems.push(Problem::new(
            "at least one auth method is needed (oauth2, apikey, session)",
            src.hint(),
        )),
        Some((mut v, _)) => {
            v.sort();
            v.dedup();
            auth = Some(v);
        }
        None if args.defaults => auth = Some(DEFAULT_AUTH.to_vec()),
        None if prompter.is_some() => {}
        None => missing.push(Problem::new(
            "the auth methods are missing (oauth2, apikey, session)",
            "--auth LIST",
        )),
    }

    // Role model.
    let mut model = pick(
        args.role_model,
        "--role-model MODEL",
        file.roles.as_ref().and_then(|r| r.model),
        "roles.model",
        path,
    )
    .map(|(m, _)| m);
    if model.is_none() {
        if args.defaults {
            model = Some(DEFAULT_ROLE_MODEL);
        } else if prompter.is_none() {
            missing.push(Problem::new(
                "the role model is missing (flat, hierarchical, permissions)",
                "--role-model MODEL",
            ));
        }
    }

    // Roles.
    let file_roles: Vec<AnswersRole> = file
        .roles
        .as_ref()
        .and_then(|r| r.role.clone())
        .unwrap_or_default();
    let roles_raw = pick(
        args.roles.clone(),
        "--roles LIST",
        (!file_roles.is_empty() || file.roles.as_ref().is_some_and(|r| r.role.is_some())).then(
            || {
                file_roles
                    .iter()
                    .map(|r| r.name.clone())
                    .collect::<Vec<_>>()
            },
        ),
        "roles.role",
        path,
    );
    let mut roles: Option<Vec<RoleName>> = None;
    match roles_raw {
        Some((v, src)) => match parse_role_list(&v) {
            Ok(r) => roles = Some(r),
            Err(errs) => problems.extend(errs.into_iter().map(|e| Problem::new(e, src.hint()))),
        },
        None if args.defaults => roles = Some(default_roles()),
        None if prompter.is_some() => {}
        None => missing.push(Problem::new(
            "the role names are missing (highest privilege first)",
            "--roles LIST",
        )),
    }

    // Database.
    let mut database = pick(
        args.database,
        "--database KIND",
        file.database.as_ref().and_then(|d| d.kind),
        "database.kind",
        path,
    )
    .map(|(d, _)| d);
    if database.is_none() {
        if args.defaults {
            database = Some(DEFAULT_DATABASE);
        } else if prompter.is_none() {
            missing.push(Problem::new(
                "the database is missing (sqlite, postgres)",
                "--database KIND",
            ));
        }
    }

    // CORS origins.
    let origins_raw = pick(
        (!args.cors_origins.is_empty()).then(|| args.cors_origins.clone()),
        "--cors-origin URL",
        file.cors.as_ref().and_then(|c| c.origins.clone()),
        "cors.origins",
        path,
    );
    let mut origins: Option<Vec<Origin>> = None;
    match origins_raw {
        Some((v, src)) => match parse_origins(&v) {
            Ok(o) => origins = Some(o),
            Err(errs) => problems.extend(errs.into_iter().map(|e| Problem::new(e, src.hint()))),
        },
        None if args.defaults => origins = Some(default_origins()),
        None if prompter.is_some() => {}
        None => missing.push(Problem::new(
            "the allowed CORS origins are missing",
            "--cors-origin URL (repeatable)",
        )),
    }

    // Permissions known so far: from the answers file, by role name.
    let explicit = |role: &RoleName| -> Option<PermissionSet> {
        file_roles
            .iter()
            .find(|r| r.name == role.as_str())
            .and_then(|r| r.permissions.clone())
            .map(PermissionSet::from)
    };
    if let (Some(RoleModel::Permissions), Some(rs), None) = (model, &roles, &prompter) {
        if !args.defaults {
            for r in rs.iter().skip(1) {
                if explicit(r).is_none() {
                    missing.push(Problem::new(
                        format!(
                            "the permissions of role `{r}` are missing (role model `permissions`)"
                        ),
                        "permissions = [...] under [[roles.role]] in --answers FILE, or --defaults",
                    ));
                }
            }
        }
    }

    problems.extend(missing);
    if !problems.is_empty() {
        return Err(Error::Answers { problems });
    }

    // Everything given is valid; ask what is still unanswered.
    let mut prompted = false;
    let dest_for = |n: &ProjectName| args.output_dir.join(n.as_str());
    if let Some(p) = prompter.as_deref_mut() {
        if name.is_none() {
            prompted = true;
            let raw = p.input(
                "Project name (the folder; the Python package is derived from it)",
                None,
                &|s| ProjectName::parse(s).map(|_| ()),
            )?;
            name = Some(ProjectName::parse(&raw).map_err(Error::Usage)?);
        }
    }
    let name = name.expect("checked: no missing answers");
    // All answers given so far are valid: the destination is the next thing to check, before
    // asking anything else.
    check_destination(&dest_for(&name), args.force)?;
    if let Some(p) = prompter.as_deref_mut() {
        if auth.is_none() {
            prompted = true;
            auth = Some(ask_auth(p)?);
        }
        if model.is_none() {
            prompted = true;
            let items: Vec<&str> = PICK_MODELS.iter().map(|m| m.describe()).collect();
            let i = p.select("Role model", &items, 0)?;
            model = Some(PICK_MODELS[i]);
        }
        if roles.is_none() {
            prompted = true;
            let raw = p.input(
                "Role names, highest privilege first, comma-separated",
                Some(&DEFAULT_ROLES.join(",")),
                &|s| {
                    parse_role_list(&split_list(s))
                        .map(|_| ())
                        .map_err(|e| e.join("; "))
                },
            )?;
            roles =
                Some(parse_role_list(&split_list(&raw)).map_err(|e| Error::Usage(e.join("; ")))?);
        }
        if database.is_none() {
            prompted = true;
            let items: Vec<&str> = DatabaseKind::ALL.iter().map(|d| d.describe()).collect();
            database = Some(DatabaseKind::ALL[p.select("Database", &items, 0)?]);
        }
        if origins.is_none() {
            prompted = true;
            let raw = p.input(
                "Allowed browser (CORS) origins, comma-separated, or `none`",
                Some(&DEFAULT_ORIGINS.join(",")),
                &|s| parse_origin_input(s).map(|_| ()).map_err(|e| e.join("; ")),
            )?;
            origins = Some(parse_origin_input(&raw).map_err(|e| Error::Usage(e.join("; ")))?);
        }
    }
    let model = model.expect("checked: no missing answers");
    let roles = roles.expect("checked: no missing answers");
    let count = roles.len();
    let mut table = Vec::with_capacity(count);
    if let (RoleModel::Permissions, Some(p), Some(top)) =
        (model, prompter.as_deref_mut(), roles.first())
    {
        if roles.iter().skip(1).any(|r| explicit(r).is_none()) {
            p.note(&format!(
                "`{top}` holds every permission (the highest role always does); choose the others'."
            ));
        }
    }
    for (i, r) in roles.into_iter().enumerate() {
        let own = match (explicit(&r), prompter.as_deref_mut()) {
            (Some(set), _) => set,
            // The highest role always holds everything: nothing to ask.
            (None, Some(p)) if model == RoleModel::Permissions && i > 0 => {
                prompted = true;
                ask_permissions(p, &r, default_permissions(i, count))?
            }
            (None, _) => default_permissions(i, count),
        };
        table.push((r, own));
    }
    let hint = match path {
        Some(p) => format!("roles.role in {}", p.display()),
        None => "the answers above".to_string(),
    };
    let spec = ProjectSpec::build(
        name,
        auth.expect("checked: no missing answers"),
        model,
        table,
        database.expect("checked: no missing answers"),
        origins.expect("checked: no missing answers"),
    )
    .map_err(|errs| Error::Answers {
        problems: errs
            .into_iter()
            .map(|e| Problem::new(e, hint.clone()))
            .collect(),
    })?;
    if let (true, Some(p)) = (prompted, prompter) {
        p.note(&summary(&spec));
        if !p.confirm("Generate this project?", true)? {
            return Err(Error::Cancelled);
        }
    }
    let dest = dest_for(&spec.project.name);
    Ok(Resolved {
        spec,
        dest,
        prompted,
    })
}

const PICK_MODELS: [RoleModel; 3] = [
    RoleModel::Hierarchical,
    RoleModel::Flat,
    RoleModel::Permissions,
];

fn ask_auth(p: &mut dyn Prompter) -> Result<Vec<AuthMethod>> {
    let items: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.describe()).collect();
    let checked: Vec<bool> = AuthMethod::ALL
        .iter()
        .map(|m| DEFAULT_AUTH.contains(m))
        .collect();
    loop {
        let picked = p.multi_select("Authentication methods", &items, &checked)?;
        if !picked.is_empty() {
            return Ok(picked.into_iter().map(|i| AuthMethod::ALL[i]).collect());
        }
        p.note("Choose at least one method (space toggles it).");
    }
}

fn ask_permissions(
    p: &mut dyn Prompter,
    role: &RoleName,
    default: PermissionSet,
) -> Result<PermissionSet> {
    let items: Vec<&str> = Permission::ALL.iter().map(|x| x.describe()).collect();
    let checked: Vec<bool> = Permission::ALL
        .iter()
        .map(|x| default.contains(*x))
        .collect();
    loop {
        let picked = p.multi_select(&format!("Permissions of role `{role}`"), &items, &checked)?;
        if !picked.is_empty() {
            return Ok(picked.into_iter().map(|i| Permission::ALL[i]).collect());
        }
        p.note("A role needs at least one permission.");
    }
}

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

fn split_list(s: &str) -> Vec<String> {
    s.split(',').map(|x| x.trim().to_string()).collect()
}

/// Origins typed at the prompt: a comma-separated list, or `none`.
fn parse_origin_input(s: &str) -> Result<Vec<Origin>, Vec<String>> {
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

/// A short, human summary of the spec, shown before the confirmation.
pub fn summary(spec: &ProjectSpec) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\nProject   {} (package `{}`)\n",
        spec.project.name.as_str(),
        spec.project.package.as_str()
    ));
    out.push_str(&format!(
        "Auth      {}\n",
        spec.auth
            .methods
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str(&format!(
        "Roles     {} model, highest first:\n",
        spec.roles.model
    ));
    for r in &spec.roles.role {
        out.push_str(&format!(
            "            {:<12} {}\n",
            r.name.as_str(),
            r.permissions
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.push_str(&format!("Database  {}\n", spec.database.kind));
    let origins: Vec<&str> = spec.cors.origins.iter().map(|o| o.as_str()).collect();
    out.push_str(&format!(
        "CORS      {}\n",
        if origins.is_empty() {
            "none".to_string()
        } else {
            origins.join(", ")
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::{Answer, ScriptedPrompter};

    fn args(name: Option<&str>) -> NewArgs {
        NewArgs {
            name: name.map(String::from),
            output_dir: std::env::temp_dir().join("portcullis-unit-tests-never-created"),
            ..Default::default()
        }
    }

    fn problems(e: Error) -> Vec<Problem> {
        match e {
            Error::Answers { problems } => problems,
            other => panic!("expected answers error, got {other}"),
        }
    }

    #[test]
    fn defaults_fill_everything_but_the_name() {
        let mut a = args(None);
        a.defaults = true;
        let p = problems(resolve(&a, None).unwrap_err());
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].flag, "portcullis new NAME");

        let mut a = args(Some("billing-api"));
        a.defaults = true;
        let r = resolve(&a, None).unwrap();
        assert_eq!(
            r.spec,
            crate::spec::tests::sample_with(&[AuthMethod::Oauth2])
        );
        assert!(!r.prompted);
    }

    #[test]
    fn without_a_terminal_every_missing_answer_is_listed() {
        let p = problems(resolve(&args(None), None).unwrap_err());
        let flags: Vec<&str> = p.iter().map(|p| p.flag.as_str()).collect();
        assert_eq!(
            flags,
            [
                "portcullis new NAME",
                "--auth LIST",
                "--role-model MODEL",
                "--roles LIST",
                "--database KIND",
                "--cors-origin URL (repeatable)"
            ]
        );
    }

    #[test]
    fn invalid_and_missing_are_reported_together() {
        let mut a = args(Some("json"));
        a.roles = Some(vec!["Admin".into(), "x".into(), "x".into()]);
        a.cors_origins = vec!["http://example.com".into(), "*".into()];
        let p = problems(resolve(&a, None).unwrap_err());
        let text: Vec<String> = p.iter().map(|p| p.to_string()).collect();
        let all = text.join("\n");
        assert!(all.contains("standard-library module `json`"), "{all}");
        assert!(all.contains("role `Admin`"), "{all}");
        assert!(all.contains("listed twice"), "{all}");
        assert!(all.contains("only https"), "{all}");
        assert!(all.contains("wildcards"), "{all}");
        assert!(all.contains("--auth LIST"), "{all}");
        assert!(all.contains("--database KIND"), "{all}");
    }

    #[test]
    fn permissions_model_needs_a_table_without_defaults() {
        let mut a = args(Some("svc"));
        a.auth = Some(vec![AuthMethod::Apikey]);
        a.role_model = Some(RoleModel::Permissions);
        a.roles = Some(vec!["owner".into(), "member".into()]);
        a.database = Some(DatabaseKind::Sqlite);
        a.cors_origins = vec!["https://app.example".into()];
        let p = problems(resolve(&a, None).unwrap_err());
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.contains("role `member`"));
        a.defaults = true;
        let r = resolve(&a, None).unwrap();
        assert!(r.spec.roles.role[0].permissions.is_all());
        assert_eq!(r.spec.roles.role[1].permissions.len(), 1);
    }

    #[test]
    fn answers_file_is_overridden_by_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.toml");
        fs_err::write(
            &file,
            r#"
[project]
name = "from-file"
[auth]
methods = ["session", "apikey", "session"]
[roles]
model = "flat"
[[roles.role]]
name = "boss"
permissions = ["items:read", "items:write", "items:delete", "users:manage", "api_keys:manage", "audit:read"]
[[roles.role]]
name = "auditor"
permissions = ["audit:read"]
[database]
kind = "postgres"
[cors]
origins = []
"#,
        )
        .unwrap();
        let mut a = args(Some("from-flag"));
        a.answers = Some(file);
        a.database = Some(DatabaseKind::Sqlite);
        let r = resolve(&a, None).unwrap();
        assert_eq!(r.spec.project.name.as_str(), "from-flag");
        assert_eq!(
            r.spec.auth.methods,
            [AuthMethod::Apikey, AuthMethod::Session]
        );
        assert_eq!(r.spec.roles.model, RoleModel::Flat);
        assert_eq!(
            r.spec.roles.role[1].permissions.iter().collect::<Vec<_>>(),
            [Permission::AuditRead]
        );
        assert_eq!(r.spec.database.kind, DatabaseKind::Sqlite);
        assert!(r.spec.cors.origins.is_empty());
    }

    #[test]
    fn unknown_answers_keys_name_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("answers.toml");
        fs_err::write(&file, "[database]\nkind = \"sqlite\"\nflavour = \"x\"\n").unwrap();
        let mut a = args(Some("svc"));
        a.answers = Some(file);
        let e = resolve(&a, None).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        assert!(text.contains("flavour"), "{text}");
        assert!(text.contains("answers.toml"), "{text}");
    }

    #[test]
    fn interactive_flow_with_scripted_answers() {
        let a = args(None);
        let mut p = ScriptedPrompter::new([
            Answer::Text("bad name!".into()),
            Answer::Text("shop-api".into()),
            Answer::Multi(vec![]),
            Answer::Multi(vec![1, 2]),
            Answer::Select(2), // permissions
            Answer::Text("Owner".into()),
            Answer::Text("owner,clerk,guest".into()),
            Answer::Select(1), // postgres
            Answer::Text("http://example.com".into()),
            Answer::Text("none".into()),
            Answer::Multi(vec![0, 1, 5]),
            Answer::Multi(vec![0]),
            Answer::Confirm(true),
        ]);
        let r = resolve(&a, Some(&mut p)).unwrap();
        assert!(r.prompted);
        assert!(p.answers.is_empty());
        let s = &r.spec;
        assert_eq!(s.project.package.as_str(), "shop_api");
        assert_eq!(s.auth.methods, [AuthMethod::Apikey, AuthMethod::Session]);
        assert_eq!(s.roles.model, RoleModel::Permissions);
        assert_eq!(s.database.kind, DatabaseKind::Postgres);
        assert!(s.cors.origins.is_empty());
        assert!(s.roles.role[0].permissions.is_all());
        assert_eq!(
            s.roles.role[1].permissions.iter().collect::<Vec<_>>(),
            [
                Permission::ItemsRead,
                Permission::ItemsWrite,
                Permission::AuditRead
            ]
        );
        // The bad answers were explained, then asked again.
        let notes = p.notes.join("\n");
        assert!(notes.contains("bad name!"), "{notes}");
        assert!(notes.contains("Owner"), "{notes}");
        assert!(notes.contains("only https"), "{notes}");
        assert!(notes.contains("Project   shop-api"), "{notes}");
    }

    #[test]
    fn prompts_only_for_unanswered_questions_and_can_be_declined() {
        let mut a = args(Some("svc"));
        a.auth = Some(vec![AuthMethod::Oauth2]);
        a.role_model = Some(RoleModel::Flat);
        a.roles = Some(vec!["admin".into(), "user".into()]);
        a.cors_origins = vec!["https://x.example".into()];
        let mut p = ScriptedPrompter::new([Answer::Select(0), Answer::Confirm(false)]);
        let e = resolve(&a, Some(&mut p)).unwrap_err();
        assert!(matches!(e, Error::Cancelled));
        assert_eq!(p.asked, ["Database", "Generate this project?"]);
    }

    #[test]
    fn defaults_never_prompt() {
        let mut a = args(Some("svc"));
        a.defaults = true;
        let mut p = ScriptedPrompter::new([]);
        resolve(&a, Some(&mut p)).unwrap();
        assert!(p.asked.is_empty());
    }
}

// Why: `ProjectSpec` is the single typed, validated model of a project. It is what every later
// stage reads, and it *is* `portcullis.toml` (serde both ways), so a written project can be
// regenerated from it. Raw user input never gets past `resolve` without becoming one of these.

pub mod cors;
pub mod names;
pub mod roles;
pub mod stdlib;
pub mod template;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use cors::Origin;
pub use names::{PackageName, ProjectName};
pub use roles::{Permission, PermissionSet, RoleModel, RoleName};
pub use template::TemplateSection;

/// The version recorded in `portcullis.toml`.
pub const PORTCULLIS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// An authentication method. Declaration order is the canonical order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// First-party password login in the OAuth2 wire format; bearer JWT access tokens.
    Oauth2,
    /// Bearer access tokens from an external OpenID Connect provider (the service as a resource
    /// server), and with `session` a browser login by authorization code + PKCE.
    Oidc,
    /// API keys in the `X-API-Key` header, for machines.
    Apikey,
    /// Server-side sessions with a `__Host-session` cookie and CSRF tokens, for browsers.
    Session,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::Oauth2,
        AuthMethod::Oidc,
        AuthMethod::Apikey,
        AuthMethod::Session,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Oauth2 => "oauth2",
            AuthMethod::Oidc => "oidc",
            AuthMethod::Apikey => "apikey",
            AuthMethod::Session => "session",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            AuthMethod::Oauth2 => "oauth2   password login, bearer JWT access + refresh tokens",
            AuthMethod::Oidc => {
                "oidc     your OpenID Connect provider's tokens (+ code/PKCE login with session)"
            }
            AuthMethod::Apikey => "apikey   API keys in the X-API-Key header, for machines",
            AuthMethod::Session => {
                "session  server-side sessions with a cookie + CSRF, for browsers"
            }
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The database the generated service uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    /// SQLite, embedded: nothing to install or run.
    Sqlite,
    /// PostgreSQL, through asyncpg.
    Postgres,
}

impl DatabaseKind {
    pub const ALL: [DatabaseKind; 2] = [DatabaseKind::Sqlite, DatabaseKind::Postgres];

    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseKind::Sqlite => "sqlite",
            DatabaseKind::Postgres => "postgres",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            DatabaseKind::Sqlite => "sqlite    embedded, nothing to install (one server process)",
            DatabaseKind::Postgres => "postgres  PostgreSQL server, through asyncpg",
        }
    }
}

impl fmt::Display for DatabaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The whole project: the schema of `portcullis.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    pub portcullis_version: String,
    pub project: ProjectSection,
    pub auth: AuthSection,
    pub roles: RolesSection,
    pub database: DatabaseSection,
    pub cors: CorsSection,
    /// The preset and overlays it was made with, if any.
    #[serde(default, skip_serializing_if = "TemplateSection::is_empty")]
    pub template: TemplateSection,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    pub name: ProjectName,
    pub package: PackageName,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// Non-empty, unique, canonical order.
    pub methods: Vec<AuthMethod>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesSection {
    pub model: RoleModel,
    /// Highest privilege first; complete effective sets.
    pub role: Vec<RoleSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    pub name: RoleName,
    pub permissions: PermissionSet,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    pub kind: DatabaseKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSection {
    pub origins: Vec<Origin>,
}

impl ProjectSpec {
    /// Builds a checked spec from already-validated parts; `own` are each role's own permission
    /// sets (highest first), resolved here under `model`.
    pub fn build(
        name: ProjectName,
        methods: Vec<AuthMethod>,
        model: RoleModel,
        roles: Vec<(RoleName, PermissionSet)>,
        database: DatabaseKind,
        origins: Vec<Origin>,
    ) -> Result<Self, Vec<String>> {
        let own: Vec<PermissionSet> = roles.iter().map(|(_, p)| p.clone()).collect();
        let effective = roles::resolve_permissions(model, &own);
        let mut methods = methods;
        methods.sort();
        methods.dedup();
        let spec = ProjectSpec {
            portcullis_version: PORTCULLIS_VERSION.to_string(),
            project: ProjectSection {
                package: name.package(),
                name,
            },
            auth: AuthSection { methods },
            roles: RolesSection {
                model,
                role: roles
                    .into_iter()
                    .zip(effective)
                    .map(|((name, _), permissions)| RoleSpec { name, permissions })
                    .collect(),
            },
            database: DatabaseSection { kind: database },
            cors: CorsSection { origins },
            template: TemplateSection::default(),
        };
        spec.check()?;
        Ok(spec)
    }

    /// Cross-field rules that single values can't check. Every problem is returned.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        if self.auth.methods.is_empty() {
            errors.push("at least one auth method is needed".to_string());
        }
        if !self.auth.methods.windows(2).all(|w| w[0] < w[1]) {
            errors.push(
                "auth methods must be unique, in the order oauth2, oidc, apikey, session".into(),
            );
        }
        let names: Vec<&str> = self.roles.role.iter().map(|r| r.name.as_str()).collect();
        if let Err(e) = roles::parse_role_list(&names) {
            errors.extend(e);
        }
        if let Some(top) = self.roles.role.first() {
            if !top.permissions.is_all() {
                errors.push(format!(
                    "the highest role `{}` must hold every permission; it lacks {}",
                    top.name,
                    PermissionSet::all()
                        .difference(&top.permissions)
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        for r in &self.roles.role {
            if r.permissions.is_empty() {
                errors.push(format!("role `{}` holds no permission", r.name));
            }
        }
        if self.project.package != self.project.name.package() {
            errors.push(format!(
                "package `{}` does not match the one derived from the name `{}` (`{}`)",
                self.project.package.as_str(),
                self.project.name.as_str(),
                self.project.name.package().as_str()
            ));
        }
        let mut origins: Vec<&Origin> = self.cors.origins.iter().collect();
        origins.sort();
        for w in origins.windows(2) {
            if w[0] == w[1] {
                errors.push(format!("CORS origin `{}` is listed twice", w[0].as_str()));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub fn has(&self, method: AuthMethod) -> bool {
        self.auth.methods.contains(&method)
    }

    /// The `portcullis.toml` text: every answer, fully resolved, no secret.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("a ProjectSpec always serializes");
        format!(
            "# Written by portcullis {}: every answer, fully resolved.\n\
             # `portcullis new NAME --answers portcullis.toml` regenerates this project.\n\n{body}",
            PORTCULLIS_VERSION
        )
    }
}

/// Shows a user value inside a message: backticked, with control characters escaped and long
/// values cut, so a hostile value can't forge or garble the output.
pub fn show(raw: &str) -> String {
    let mut out = String::from("`");
    for (i, c) in raw.chars().enumerate() {
        if i == 80 {
            out.push('…');
            break;
        }
        if c == '`' {
            out.push_str("\\`");
        } else if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> ProjectSpec {
        sample_with(&[AuthMethod::Session, AuthMethod::Oauth2])
    }

    /// billing-api, default roles, hierarchical, sqlite, default origin, these methods.
    pub(crate) fn sample_with(methods: &[AuthMethod]) -> ProjectSpec {
        let roles = ["admin", "editor", "viewer"]
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    RoleName::parse(r).unwrap(),
                    roles::default_permissions(i, 3),
                )
            })
            .collect();
        ProjectSpec::build(
            ProjectName::parse("billing-api").unwrap(),
            methods.to_vec(),
            RoleModel::Hierarchical,
            roles,
            DatabaseKind::Sqlite,
            vec![Origin::parse("https://localhost:3000").unwrap()],
        )
        .unwrap()
    }

    #[test]
    fn toml_matches_the_contract_example() {
        let text = sample().to_toml();
        // CONTRACT.md section 1's example, shared with the integration test of the binary.
        let want = include_str!("../../tests/fixtures/contract-example.toml");
        assert!(text.ends_with(want), "{text}");
    }

    #[test]
    fn toml_round_trips() {
        let spec = sample();
        let back: ProjectSpec = toml::from_str(&spec.to_toml()).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn deserializing_validates_values() {
        let text = sample().to_toml().replace("\"viewer\"", "\"Viewer\"");
        let err = toml::from_str::<ProjectSpec>(&text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("must match"), "{err}");
    }

    #[test]
    fn highest_role_must_hold_everything() {
        let roles = vec![(
            RoleName::parse("admin").unwrap(),
            [Permission::ItemsRead].into_iter().collect(),
        )];
        let errs = ProjectSpec::build(
            ProjectName::parse("x").unwrap(),
            vec![AuthMethod::Apikey],
            RoleModel::Permissions,
            roles,
            DatabaseKind::Sqlite,
            vec![],
        )
        .unwrap_err();
        assert!(errs[0].contains("must hold every permission"), "{errs:?}");
    }

    #[test]
    fn show_escapes_control_characters() {
        assert_eq!(show("a\nb`"), "`a\\nb\\``");
    }
}

// Why: Tera is configured in exactly one place: autoescape off (we generate code, not HTML),
// undefined variables are errors, and one escaping filter per target language (`py_str`,
// `toml_str`, `yaml_str`, `md`, in `filters`) is registered, so user input lands in generated
// Python, TOML, YAML and Markdown only as well-formed literals. The template context of
// docs/architecture.md §1 is built here from the checked spec. Only the templates a project
// needs are parsed, by `parse`, which is many times faster than Tera's parser alone.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::spec::{AuthMethod, Permission, PermissionSet, ProjectSpec};
use crate::templates::TemplateFile;

mod compact;
mod filters;
mod parse;
mod shape;
mod skeleton;
mod tags;
mod whitespace;

pub use filters::{md, py_import, py_str, register_filters, toml_str, yaml_str};

/// The Tera context of docs/architecture.md §1.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub portcullis_version: String,
    pub project: ProjectCtx,
    pub auth: AuthCtx,
    pub roles: RolesCtx,
    pub permissions: Vec<&'static str>,
    pub permission_consts: BTreeMap<&'static str, String>,
    pub database: DatabaseCtx,
    pub cors: CorsCtx,
    pub secret_key: String,
    pub audit_key: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectCtx {
    pub name: String,
    pub package: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuthCtx {
    pub methods: Vec<&'static str>,
    pub oauth2: bool,
    pub oidc: bool,
    pub apikey: bool,
    pub session: bool,
    pub users: bool,
    /// `Authorization: Bearer` tokens: our own (`oauth2`), the provider's (`oidc`) or both.
    pub bearer: bool,
    /// The browser login through the provider (authorization code + PKCE) into a session.
    pub oidc_login: bool,
    pub multiple: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RolesCtx {
    pub model: &'static str,
    pub list: Vec<RoleCtx>,
    pub names: Vec<String>,
    pub highest: String,
    pub lowest: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleCtx {
    pub name: String,
    #[serde(rename = "const")]
    pub const_name: String,
    /// Complete effective set, canonical order.
    pub permissions: Vec<&'static str>,
    /// What this role holds that the role below it does not (the lowest: all of its own).
    pub grants: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseCtx {
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct CorsCtx {
    pub origins: Vec<String>,
}

fn canonical(set: &PermissionSet) -> Vec<&'static str> {
    set.iter().map(Permission::as_str).collect()
}

impl Context {
    /// The context as Tera takes it.
    pub fn to_tera(&self) -> Result<tera::Context> {
        tera::Context::from_serialize(self).map_err(|e| Error::Template(describe(&e)))
    }

    pub fn new(spec: &ProjectSpec, secrets: &crate::plan::Secrets) -> Self {
        let roles = &spec.roles.role;
        let list = roles
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let below = roles
                    .get(i + 1)
                    .map(|b| b.permissions.clone())
                    .unwrap_or_default();
                RoleCtx {
                    name: r.name.to_string(),
                    const_name: r.name.const_name(),
                    permissions: canonical(&r.permissions),
                    grants: canonical(&r.permissions.difference(&below)),
                }
            })
            .collect();
        let has = |m| spec.has(m);
        Context {
            portcullis_version: spec.portcullis_version.clone(),
            project: ProjectCtx {
                name: spec.project.name.as_str().to_string(),
                package: spec.project.package.as_str().to_string(),
            },
            auth: AuthCtx {
                methods: spec.auth.methods.iter().map(|m| m.as_str()).collect(),
                oauth2: has(AuthMethod::Oauth2),
                oidc: has(AuthMethod::Oidc),
                apikey: has(AuthMethod::Apikey),
                session: has(AuthMethod::Session),
                users: has(AuthMethod::Oauth2) || has(AuthMethod::Session),
                bearer: has(AuthMethod::Oauth2) || has(AuthMethod::Oidc),
                oidc_login: has(AuthMethod::Oidc) && has(AuthMethod::Session),
                multiple: spec.auth.methods.len() > 1,
            },
            roles: RolesCtx {
                model: spec.roles.model.as_str(),
                list,
                names: roles.iter().map(|r| r.name.to_string()).collect(),
                highest: roles
                    .first()
                    .map(|r| r.name.to_string())
                    .unwrap_or_default(),
                lowest: roles.last().map(|r| r.name.to_string()).unwrap_or_default(),
            },
            permissions: Permission::ALL.iter().map(|p| p.as_str()).collect(),
            permission_consts: Permission::ALL
                .iter()
                .map(|p| (p.as_str(), p.const_name()))
                .collect(),
            database: DatabaseCtx {
                kind: spec.database.kind.as_str(),
            },
            cors: CorsCtx {
                origins: spec
                    .cors
                    .origins
                    .iter()
                    .map(|o| o.as_str().to_string())
                    .collect(),
            },
            secret_key: secrets.secret_key.clone(),
            audit_key: secrets.audit_key.clone(),
        }
    }
}

/// A Tera instance holding the `.tera` files a project needs, named by their source paths, so
/// that templates may `{% include %}`, `{% import %}` or `{% extends %}` each other.
pub struct Renderer {
    tera: tera::Tera,
    /// Each template's source length: about what it renders to, so the output is allocated once.
    sizes: HashMap<String, usize>,
    /// The templates others extend, import or include: kept by `render_once`.
    needed: HashSet<String>,
}

impl Renderer {
    /// Every `.tera` file of the tree.
    pub fn new(files: &[TemplateFile]) -> Result<Self> {
        let all: Vec<&str> = files
            .iter()
            .map(|f| f.path)
            .filter(|p| p.ends_with(".tera"))
            .collect();
        Self::for_templates(files, &all)
    }

    /// Only the templates named (sources under `files`), and those they extend, import or include,
    /// transitively: parsing is most of the cost of a project, so nothing else is parsed.
    pub fn for_templates(files: &[TemplateFile], names: &[&str]) -> Result<Self> {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![]);
        register_filters(&mut tera);
        let mut wanted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut tags = parse::Tags::default();
        let mut sizes = HashMap::new();
        let mut needed = HashSet::new();
        while !wanted.is_empty() {
            let sources = sources_of(files, &wanted, &tera)?;
            wanted.clear();
            for ((name, text), parsed) in sources.iter().zip(parse::parse_all(&sources, &mut tags))
            {
                let tpl = parsed.map_err(|e| {
                    Error::Template(describe(&tera::Error::chain(
                        format!("Failed to parse '{name}'"),
                        e,
                    )))
                })?;
                let dependencies = parse::dependencies(&tpl);
                needed.extend(dependencies.iter().cloned());
                wanted.extend(dependencies);
                // `templates` is Tera's own map (public, if undocumented): what
                // `add_raw_templates` fills, followed by the same two checks.
                tera.templates.insert(name.to_string(), tpl);
                sizes.insert(name.to_string(), text.len());
            }
        }
        tera.build_inheritance_chains()
            .and_then(|()| tera.check_macro_files())
            .map_err(|e| Error::Template(describe(&e)))?;
        Ok(Renderer {
            tera,
            sizes,
            needed,
        })
    }

    /// Renders `name` as [`Renderer::render`] does, then drops its tree unless another template
    /// extends, imports or includes it (so it can't be rendered again).
    // Why: a project renders each template once, and the trees are about as big as the project
    // itself (half a megabyte of the lock file's raw text alone). Freed as it goes, a tree's
    // memory holds the next files' output instead of fresh pages, and touching fresh pages (one
    // fault each, then freeing them at exit) is a good part of what a run costs.
    pub fn render_once(&mut self, name: &str, context: &tera::Context) -> Result<String> {
        let out = self.render(name, context)?;
        if !self.needed.contains(name) {
            self.tera.templates.remove(name);
        }
        Ok(out)
    }

    /// Renders one template with a context made by [`Context::to_tera`] (once per project).
    pub fn render(&self, name: &str, context: &tera::Context) -> Result<String> {
        let error = |e: String| Error::Template(format!("rendering `{name}`: {e}"));
        // What `Tera::render` does, into a buffer sized once instead of grown by doubling (the
        // lock file renders to most of a megabyte).
        let size = self.sizes.get(name).copied().unwrap_or(0);
        let mut out = Vec::with_capacity(size + size / 8);
        self.tera
            .render_to(name, context, &mut out)
            .map_err(|e| error(describe(&e)))?;
        String::from_utf8(out).map_err(|e| error(e.to_string()))
    }
}

/// The texts of the `.tera` files named, once each, leaving out those `tera` already holds. A
/// name with no such file is left to Tera, which reports it (or skips an `ignore missing`
/// include) exactly as when every template was loaded.
fn sources_of<'a>(
    files: &'a [TemplateFile],
    names: &[String],
    tera: &tera::Tera,
) -> Result<Vec<(&'a str, &'a str)>> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for name in names {
        let Some(file) = files
            .iter()
            .find(|f| f.path == name && f.path.ends_with(".tera"))
        else {
            continue;
        };
        if tera.templates.contains_key(file.path) || out.iter().any(|(n, _)| *n == file.path) {
            continue;
        }
        let text = std::str::from_utf8(file.contents)
            .map_err(|_| Error::Template(format!("`{name}` is not UTF-8")))?;
        out.push((file.path, text));
    }
    Ok(out)
}

/// Tera errors nest their cause; show the whole chain on one line.
fn describe(e: &tera::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Secrets;

    #[test]
    fn undefined_variables_are_errors() {
        let files = [crate::templates::TemplateFile {
            path: "x.tera",
            contents: b"{{ nope }}",
        }];
        let r = Renderer::new(&files).unwrap();
        let ctx = Context::new(&crate::spec::tests::sample(), &Secrets::new("s", "a"));
        let e = r
            .render("x.tera", &ctx.to_tera().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn context_has_the_documented_shape() {
        let ctx = Context::new(&crate::spec::tests::sample(), &Secrets::new("s", "a"));
        let v = serde_json::to_value(&ctx).unwrap();
        assert_eq!(v["project"]["package"], "billing_api");
        assert_eq!(
            v["auth"]["methods"],
            serde_json::json!(["oauth2", "session"])
        );
        assert_eq!(v["auth"]["users"], true);
        assert_eq!(v["auth"]["multiple"], true);
        assert_eq!(v["auth"]["apikey"], false);
        assert_eq!(v["roles"]["list"][0]["const"], "ADMIN");
        assert_eq!(
            v["roles"]["list"][0]["permissions"],
            serde_json::json!([
                "items:read",
                "items:write",
                "items:delete",
                "users:manage",
                "api_keys:manage",
                "audit:read"
            ])
        );
        assert_eq!(
            v["roles"]["list"][0]["grants"],
            serde_json::json!([
                "items:delete",
                "users:manage",
                "api_keys:manage",
                "audit:read"
            ])
        );
        assert_eq!(
            v["roles"]["list"][1]["grants"],
            serde_json::json!(["items:write"])
        );
        assert_eq!(
            v["roles"]["list"][2]["grants"],
            serde_json::json!(["items:read"])
        );
        assert_eq!(v["roles"]["highest"], "admin");
        assert_eq!(v["roles"]["lowest"], "viewer");
        assert_eq!(v["permission_consts"]["api_keys:manage"], "API_KEYS_MANAGE");
        assert_eq!(v["database"]["kind"], "sqlite");
        assert_eq!(v["cors"]["origins"][0], "https://localhost:3000");
        assert_eq!(v["secret_key"], "s");
        assert_eq!(v["audit_key"], "a");
    }
}

// Why: Tera is configured in exactly one place: autoescape off (we generate code, not HTML),
// undefined variables are errors, and one escaping filter per target language (`py_str`,
// `toml_str`, `yaml_str`, `md`) is registered, so user input lands in generated Python, TOML,
// YAML and Markdown only as well-formed literals. The template context of
// docs/architecture.md §1 is built here from the checked spec.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::spec::{AuthMethod, Permission, PermissionSet, ProjectSpec};

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
    pub apikey: bool,
    pub session: bool,
    pub users: bool,
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
    pub fn new(spec: &ProjectSpec, secret_key: String) -> Self {
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
                apikey: has(AuthMethod::Apikey),
                session: has(AuthMethod::Session),
                users: has(AuthMethod::Oauth2) || has(AuthMethod::Session),
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
            secret_key,
        }
    }
}

/// A Tera instance holding every `.tera` file of the tree, named by its source path, so that
/// templates may `{% include %}` or `{% import %}` each other.
pub struct Renderer {
    tera: tera::Tera,
}

impl Renderer {
    pub fn new(files: &[crate::templates::TemplateFile]) -> Result<Self> {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![]);
        register_filters(&mut tera);
        let mut sources = Vec::new();
        for f in files.iter().filter(|f| f.path.ends_with(".tera")) {
            let text = std::str::from_utf8(f.contents)
                .map_err(|_| Error::Template(format!("`{}` is not UTF-8", f.path)))?;
            sources.push((f.path, text));
        }
        tera.add_raw_templates(sources)
            .map_err(|e| Error::Template(describe(&e)))?;
        Ok(Renderer { tera })
    }

    pub fn render(&self, name: &str, context: &Context) -> Result<String> {
        let ctx =
            tera::Context::from_serialize(context).map_err(|e| Error::Template(describe(&e)))?;
        self.tera
            .render(name, &ctx)
            .map_err(|e| Error::Template(format!("rendering `{name}`: {}", describe(&e))))
    }
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

pub fn register_filters(tera: &mut tera::Tera) {
    tera.register_filter("py_str", string_filter("py_str", py_str));
    tera.register_filter("toml_str", string_filter("toml_str", toml_str));
    tera.register_filter("yaml_str", string_filter("yaml_str", yaml_str));
    tera.register_filter("md", string_filter("md", md));
    tera.register_filter("py_import", string_filter("py_import", py_import));
}

type FilterFn = Box<dyn Fn(&Value, &HashMap<String, Value>) -> tera::Result<Value> + Send + Sync>;

/// Wraps a `&str -> String` escaper as a Tera filter that accepts strings (and, for
/// convenience, numbers and booleans) and refuses anything else.
fn string_filter(name: &'static str, f: fn(&str) -> String) -> FilterFn {
    Box::new(move |value: &Value, _args: &HashMap<String, Value>| {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(tera::Error::msg(format!(
                    "filter `{name}` expects a string, got {other}"
                )))
            }
        };
        Ok(Value::String(f(&text)))
    })
}

/// A Python string literal, double-quoted. Everything outside printable ASCII is escaped, so the
/// literal is valid on one line whatever the input (and stays ASCII for ruff).
pub fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// The line length of generated Python (ruff's `line-length` in the generated pyproject).
const PY_LINE_LENGTH: usize = 100;

/// Lays out `from module import a, b, c` the way `ruff format` and ruff's isort do: on one line
/// when it fits, otherwise one name per line with a trailing comma. Templates wrap an import
/// whose module path holds the (user-chosen, so unbounded) package name in this filter.
pub fn py_import(line: &str) -> String {
    let line = line.trim();
    if line.chars().count() <= PY_LINE_LENGTH {
        return line.to_string();
    }
    let Some((head, names)) = line.split_once(" import ") else {
        return line.to_string();
    };
    let mut out = format!("{head} import (\n");
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        out.push_str("    ");
        out.push_str(name);
        out.push_str(",\n");
    }
    out.push(')');
    out
}

/// A TOML basic string, double-quoted, with control characters escaped.
pub fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A YAML double-quoted scalar. YAML's escapes for these characters are Python's (`\xXX`,
/// `\uXXXX`, `\UXXXXXXXX`), so the literal is the same; everything outside printable ASCII is
/// escaped (YAML forbids some characters raw and treats U+0085/U+2028/U+2029 as line breaks).
pub fn yaml_str(s: &str) -> String {
    py_str(s)
}

/// Markdown inline text: every character with inline meaning to CommonMark or to an HTML
/// renderer is backslash-escaped, and line breaks become spaces, so a value stays inline text.
/// Characters that only matter at the start of a line (`-`, `+`, `.` after digits, `#`) are
/// escaped only there, so an ordinary name such as `billing-api.v2` reads as itself.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let leading_digits = s.chars().take_while(char::is_ascii_digit).count();
    for (i, c) in s.chars().enumerate() {
        let block_marker = match c {
            '-' | '+' | '#' => i == 0,
            '.' | ')' => i == leading_digits && i > 0,
            _ => false,
        };
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '!' | '|' | '<' | '>'
            | '~' | '&' | '$' => {
                out.push('\\');
                out.push(c);
            }
            _ if block_marker => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[&str] = &[
        "plain",
        "quote\" and ' and \"\"\" and '''",
        "back\\slash\\",
        "new\nline\r\n",
        "tab\tbell\u{7}nul\u{0}del\u{7f}",
        "{{ tera }} {% raw %}",
        "ünïcødé ☃ 🦀 \u{2028}\u{85}\u{feff}",
        "${{ github.token }}",
        "# not a comment",
        "",
    ];

    #[test]
    fn py_import_wraps_only_long_lines() {
        assert_eq!(py_import("from a.b import C, d\n"), "from a.b import C, d");
        let long = format!(
            "from {}.core import ROLES, Role, permissions_for",
            "p".repeat(80)
        );
        assert_eq!(
            py_import(&long),
            format!(
                "from {}.core import (\n    ROLES,\n    Role,\n    permissions_for,\n)",
                "p".repeat(80)
            )
        );
    }

    #[test]
    fn py_str_examples() {
        assert_eq!(py_str("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(py_str("é☃🦀"), r#""\xe9\u2603\U0001f980""#);
    }

    #[test]
    fn toml_str_round_trips_hostile_values() {
        for v in HOSTILE {
            let doc = format!("k = {}\n", toml_str(v));
            let table: toml::Table = toml::from_str(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(table["k"].as_str(), Some(*v));
        }
    }

    #[test]
    fn yaml_str_round_trips_hostile_values() {
        for v in HOSTILE {
            let doc = format!("k: {}\n", yaml_str(v));
            let value: serde_yaml::Value =
                serde_yaml::from_str(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(value["k"].as_str(), Some(*v), "{doc}");
        }
    }

    #[test]
    fn py_str_round_trips_hostile_values_through_python() {
        let Ok(out) = std::process::Command::new("python3")
            .arg("--version")
            .output()
        else {
            eprintln!("python3 not found; skipped");
            return;
        };
        assert!(out.status.success());
        let mut program = String::from("import json,sys\nvalues = [\n");
        for v in HOSTILE {
            program.push_str(&format!("    {},\n", py_str(v)));
        }
        program.push_str("]\nsys.stdout.write(json.dumps(values))\n");
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(&program)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got, HOSTILE);
    }

    #[test]
    fn md_escapes_markup() {
        assert_eq!(md("a_b*c\n<x>"), r"a\_b\*c \<x\>");
        assert_eq!(md("`{{x}}`"), r"\`\{\{x\}\}\`");
        assert_eq!(md("billing-api.v2"), "billing-api.v2");
        assert_eq!(md("-x"), r"\-x");
        assert_eq!(md("2024. x"), r"2024\. x");
    }

    #[test]
    fn filters_refuse_non_strings() {
        let mut tera = tera::Tera::default();
        register_filters(&mut tera);
        tera.add_raw_template("t", "{{ x | py_str }}").unwrap();
        let mut ctx = tera::Context::new();
        ctx.insert("x", &vec![1]);
        assert!(tera.render("t", &ctx).is_err());
        ctx.insert("x", "a\"b");
        assert_eq!(tera.render("t", &ctx).unwrap(), r#""a\"b""#);
    }

    #[test]
    fn undefined_variables_are_errors() {
        let files = [crate::templates::TemplateFile {
            path: "x.tera",
            contents: b"{{ nope }}",
        }];
        let r = Renderer::new(&files).unwrap();
        let ctx = Context::new(&crate::spec::tests::sample(), "s".into());
        let e = r.render("x.tera", &ctx).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn context_has_the_documented_shape() {
        let ctx = Context::new(&crate::spec::tests::sample(), "s".into());
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
    }
}

// Why: which files a project gets is data, not code (docs/architecture.md §1). This module parses
// `templates/manifest.toml` into typed rules and answers one question: for this spec, which source
// files are generated, and where do they go.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::spec::{AuthMethod, DatabaseKind, ProjectSpec, RoleModel};
use crate::templates::TemplateFile;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub file: Vec<Rule>,
    #[serde(default)]
    pub check: CheckRules,
}

/// The `[check]` table: which generated files `portcullis check` watches for drift.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRules {
    /// Destinations (before `__package__` substitution); one ending in `/` names a folder.
    #[serde(default)]
    pub security: Vec<String>,
}

impl CheckRules {
    /// Whether the generated file at `path` (package substituted) is security-relevant.
    pub fn is_security(&self, path: &str, package: &str) -> bool {
        self.security.iter().any(|pattern| {
            let pattern = pattern.replace(crate::plan::PACKAGE_DIR, package);
            match pattern.strip_suffix('/') {
                Some(dir) => path.strip_prefix(dir).is_some_and(|r| r.starts_with('/')),
                None => path == pattern,
            }
        })
    }
}

/// One `[[file]]` rule: a source file, an optional destination, and conditions that must all hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub src: String,
    pub dest: Option<String>,
    /// At least one of these methods is enabled.
    pub auth_any: Option<Vec<AuthMethod>>,
    /// Every one of these methods is enabled.
    pub auth_all: Option<Vec<AuthMethod>>,
    /// None of these methods is enabled.
    pub auth_none: Option<Vec<AuthMethod>>,
    pub role_model: Option<RoleModel>,
    pub database: Option<DatabaseKind>,
}

impl Rule {
    pub fn applies(&self, spec: &ProjectSpec) -> bool {
        self.auth_any
            .as_ref()
            .is_none_or(|any| any.iter().any(|m| spec.has(*m)))
            && self
                .auth_all
                .as_ref()
                .is_none_or(|all| all.iter().all(|m| spec.has(*m)))
            && self
                .auth_none
                .as_ref()
                .is_none_or(|none| !none.iter().any(|m| spec.has(*m)))
            && self.role_model.is_none_or(|m| m == spec.roles.model)
            && self.database.is_none_or(|d| d == spec.database.kind)
    }
}

/// A source file chosen for a spec, and its destination (before `__package__` substitution).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub src: &'static str,
    pub dest: String,
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::Template(format!("templates/manifest.toml: {e}")))
    }

    /// The embedded manifest (an empty one when the build has none).
    pub fn embedded() -> Result<Self> {
        match crate::templates::manifest_text() {
            Some(text) => Manifest::parse(text),
            None => Ok(Manifest::default()),
        }
    }

    /// Checks the manifest against the tree: every `src` exists, no file has two rules.
    pub fn check(&self, files: &[TemplateFile]) -> Result<()> {
        let known: BTreeSet<&str> = files.iter().map(|f| f.path).collect();
        let mut seen = BTreeSet::new();
        for rule in &self.file {
            if !known.contains(rule.src.as_str()) {
                return Err(Error::Template(format!(
                    "templates/manifest.toml names `{}`, which is not under templates/fastapi/",
                    rule.src
                )));
            }
            if !seen.insert(rule.src.as_str()) {
                return Err(Error::Template(format!(
                    "templates/manifest.toml has two rules for `{}`",
                    rule.src
                )));
            }
            if let Some(dest) = &rule.dest {
                if dest.is_empty() || dest.starts_with('/') || dest.split('/').any(|c| c == "..") {
                    return Err(Error::Template(format!(
                        "templates/manifest.toml: bad dest `{dest}` for `{}`",
                        rule.src
                    )));
                }
            }
        }
        Ok(())
    }

    /// The files generated for `spec`, sorted by destination. Files no rule mentions are always
    /// generated; two selected files with one destination are an error.
    pub fn select(&self, files: &[TemplateFile], spec: &ProjectSpec) -> Result<Vec<Selected>> {
        self.check(files)?;
        let rules: BTreeMap<&str, &Rule> = self.file.iter().map(|r| (r.src.as_str(), r)).collect();
        let mut by_dest: BTreeMap<String, &'static str> = BTreeMap::new();
        for f in files {
            let dest = match rules.get(f.path) {
                Some(rule) if !rule.applies(spec) => continue,
                Some(rule) => rule.dest.clone().unwrap_or_else(|| default_dest(f.path)),
                None => default_dest(f.path),
            };
            if let Some(other) = by_dest.insert(dest.clone(), f.path) {
                return Err(Error::Template(format!(
                    "`{other}` and `{}` both generate `{dest}`",
                    f.path
                )));
            }
        }
        Ok(by_dest
            .into_iter()
            .map(|(dest, src)| Selected { src, dest })
            .collect())
    }
}

/// The destination of a source file without `dest`: the same path, minus `.tera`.
pub fn default_dest(src: &str) -> String {
    src.strip_suffix(".tera").unwrap_or(src).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tf(path: &'static str) -> TemplateFile {
        TemplateFile {
            path,
            contents: b"",
        }
    }

    const MANIFEST: &str = r#"
[[file]]
src = "a/oauth2.py.tera"
auth_any = ["oauth2"]

[[file]]
src = "core/permissions_flat.py.tera"
dest = "core/permissions.py"
role_model = "flat"

[[file]]
src = "core/permissions_hierarchical.py.tera"
dest = "core/permissions.py"
role_model = "hierarchical"

[[file]]
src = "pg.py"
database = "postgres"

[[file]]
src = "users_only.py"
auth_none = ["apikey"]
"#;

    fn files() -> Vec<TemplateFile> {
        vec![
            tf("a/oauth2.py.tera"),
            tf("always.md.tera"),
            tf("core/permissions_flat.py.tera"),
            tf("core/permissions_hierarchical.py.tera"),
            tf("pg.py"),
            tf("users_only.py"),
        ]
    }

    #[test]
    fn selects_by_conditions() {
        let m = Manifest::parse(MANIFEST).unwrap();
        let spec = crate::spec::tests::sample(); // oauth2+session, hierarchical, sqlite
        let got: Vec<String> = m
            .select(&files(), &spec)
            .unwrap()
            .into_iter()
            .map(|s| format!("{} <- {}", s.dest, s.src))
            .collect();
        assert_eq!(
            got,
            [
                "a/oauth2.py <- a/oauth2.py.tera",
                "always.md <- always.md.tera",
                "core/permissions.py <- core/permissions_hierarchical.py.tera",
                "users_only.py <- users_only.py",
            ]
        );
    }

    #[test]
    fn missing_src_and_unknown_keys_are_errors() {
        let m = Manifest::parse("[[file]]\nsrc = \"nope\"\n").unwrap();
        let e = m.check(&files()).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
        let e = Manifest::parse("[[file]]\nsrc = \"x\"\nwhen = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("when"), "{e}");
    }

    #[test]
    fn duplicate_destinations_are_errors() {
        let m = Manifest::parse("[[file]]\nsrc = \"pg.py\"\ndest = \"always.md\"\n").unwrap();
        let e = m
            .select(&files(), &crate::spec::tests::sample())
            .unwrap_err()
            .to_string();
        assert!(e.contains("both generate"), "{e}");
    }
}

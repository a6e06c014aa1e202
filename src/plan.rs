// Why: the whole project is rendered in memory before anything touches the disk, so every
// template error surfaces before the first write, `--dry-run` can show exactly what would be
// written, and tests can inspect a project without a filesystem. The plan is sorted, so output
// is deterministic (only `.env`'s secret varies between runs).

use crate::base::{self, BASE_FILE};
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::overlay;
use crate::render::{Context, Renderer};
use crate::spec::ProjectSpec;
use crate::templates::{self, TemplateFile};

/// The placeholder directory name replaced by the package name.
pub const PACKAGE_DIR: &str = "__package__";

/// The answers file written at the root of every project.
pub const ANSWERS_FILE: &str = "portcullis.toml";

/// One file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Relative path with `/` separators, `__package__` substituted.
    pub path: String,
    pub contents: Vec<u8>,
    /// Written with mode 0755 (the source starts with `#!`).
    pub executable: bool,
    /// Written with mode 0600: it holds the generated secret (`.env`).
    pub private: bool,
}

/// The only file that receives `secret_key`.
pub const SECRET_FILE: &str = ".env";

/// Every file of a project, sorted by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub files: Vec<PlannedFile>,
}

impl Plan {
    pub fn paths(&self) -> Vec<&str> {
        self.files.iter().map(|f| f.path.as_str()).collect()
    }

    pub fn get(&self, path: &str) -> Option<&PlannedFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// The random values a project starts with, written into its `.env` only.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// `APP_SECRET_KEY`
    pub secret_key: String,
    /// `APP_AUDIT_KEY`: its own key, so the signing key alone cannot rewrite the audit trail.
    pub audit_key: String,
}

impl Secrets {
    pub fn new(secret_key: &str, audit_key: &str) -> Self {
        Self {
            secret_key: secret_key.to_string(),
            audit_key: audit_key.to_string(),
        }
    }

    /// Fresh values from the OS CSPRNG.
    pub fn fresh() -> Self {
        Self {
            secret_key: new_secret(),
            audit_key: new_secret(),
        }
    }
}

/// Renders the embedded templates for `spec`, with its overlays on top. `secrets` go into the
/// context (for `.env`).
pub fn plan(spec: &ProjectSpec, secrets: &Secrets) -> Result<Plan> {
    let manifest = Manifest::embedded()?;
    let dirs = &spec.template.overlay_dirs;
    if dirs.is_empty() {
        return plan_with(spec, secrets, templates::project_files(), &manifest);
    }
    let overlay = overlay::load(dirs)?;
    let files = overlay::merge(templates::project_files(), &overlay);
    overlay::check(&files, &overlay, &Context::new(spec, secrets).to_tera()?)?;
    plan_with(spec, secrets, &files, &manifest)
}

/// Renders any template tree (tests use small ones).
pub fn plan_with(
    spec: &ProjectSpec,
    secrets: &Secrets,
    files: &[TemplateFile],
    manifest: &Manifest,
) -> Result<Plan> {
    let selected = manifest.select(files, spec)?;
    // Parsing is most of a plan's cost: only the selected templates are parsed.
    let wanted: Vec<&str> = selected
        .iter()
        .map(|s| s.src)
        .filter(|src| src.ends_with(".tera"))
        .collect();
    let mut renderer = Renderer::for_templates(files, &wanted)?;
    let context = Context::new(spec, secrets).to_tera()?;
    let mut out: Vec<PlannedFile> = Vec::with_capacity(selected.len() + 1);
    for sel in selected {
        let src = files
            .iter()
            .find(|f| f.path == sel.src)
            .expect("selected from this tree");
        let contents = if sel.src.ends_with(".tera") {
            renderer.render_once(sel.src, &context)?.into_bytes()
        } else {
            src.contents.to_vec()
        };
        let path = substitute_package(&sel.dest, spec.project.package.as_str());
        if path == ANSWERS_FILE || path == BASE_FILE {
            return Err(Error::Template(format!(
                "`{}` would generate `{path}`, which the generator writes itself",
                sel.src
            )));
        }
        out.push(PlannedFile {
            executable: contents.starts_with(b"#!"),
            private: path == SECRET_FILE,
            path,
            contents,
        });
    }
    out.push(PlannedFile {
        path: ANSWERS_FILE.to_string(),
        contents: spec.to_toml().into_bytes(),
        executable: false,
        private: false,
    });
    out.sort_by(|a, b| a.path.cmp(&b.path));
    for w in out.windows(2) {
        if w[0].path == w[1].path {
            return Err(Error::Template(format!(
                "two templates generate `{}`",
                w[0].path
            )));
        }
    }
    // Last: the pristine render of everything above, for `update` and `check`.
    let base = base::planned(&out)?;
    let at = out.partition_point(|f| f.path < base.path);
    out.insert(at, base);
    Ok(Plan { files: out })
}

fn substitute_package(dest: &str, package: &str) -> String {
    dest.split('/')
        .map(|c| if c == PACKAGE_DIR { package } else { c })
        .collect::<Vec<_>>()
        .join("/")
}

/// A fresh 64-character URL-safe secret from the OS CSPRNG (`.env`'s `APP_SECRET_KEY`): one
/// random byte per character, read in one call; the alphabet has 64 characters, so the low six
/// bits of a byte pick one uniformly.
pub fn new_secret() -> String {
    use rand::RngCore;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 64];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 63)] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_substitutes_and_adds_the_answers_file() {
        let files = [
            TemplateFile {
                path: "src/__package__/__init__.py.tera",
                contents: b"NAME = {{ project.name | py_str }}\n",
            },
            TemplateFile {
                path: "scripts/run.sh",
                contents: b"#!/bin/sh\necho {{ raw }}\n",
            },
            TemplateFile {
                path: ".env.tera",
                contents: b"APP_SECRET_KEY={{ secret_key }}\nAPP_AUDIT_KEY={{ audit_key }}\n",
            },
        ];
        let spec = crate::spec::tests::sample();
        let plan = plan_with(
            &spec,
            &Secrets::new("S3CRET", "AUD1T"),
            &files,
            &Manifest::default(),
        )
        .unwrap();
        assert_eq!(
            plan.paths(),
            [
                ".env",
                ".portcullis/base.tar",
                "portcullis.toml",
                "scripts/run.sh",
                "src/billing_api/__init__.py"
            ]
        );
        assert_eq!(
            plan.files[0].contents,
            b"APP_SECRET_KEY=S3CRET\nAPP_AUDIT_KEY=AUD1T\n"
        );
        assert!(plan.files[3].executable);
        assert!(plan.files[0].private && !plan.files[4].private);
        assert_eq!(plan.files[3].contents, b"#!/bin/sh\necho {{ raw }}\n");
        assert_eq!(plan.files[4].contents, b"NAME = \"billing-api\"\n");
        let recorded = base::unpack(&plan.files[1].contents).unwrap();
        assert_eq!(recorded.len(), 3, "every file but `.env`");
        let answers = String::from_utf8_lossy(&plan.files[2].contents);
        assert!(!answers.contains("S3CRET") && !answers.contains("AUD1T"));
    }

    #[test]
    fn secrets_are_fresh_and_url_safe() {
        let a = new_secret();
        let b = new_secret();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}

// Why: the generated project ships inside the binary (include_dir), so `portcullis` works from
// anywhere with no files beside it. This module is the only one that knows where the embedded
// tree is; everyone else asks it for the manifest text and the files under `fastapi/`.

use include_dir::{include_dir, Dir, File};

/// `templates/` at build time (see build.rs: an empty tree when the checkout has none).
static TEMPLATES: Dir<'static> = include_dir!("$PORTCULLIS_TEMPLATES_DIR");

/// The folder under `templates/` that mirrors the generated project.
pub const PROJECT_ROOT: &str = "fastapi";

/// The manifest file under `templates/`.
pub const MANIFEST: &str = "manifest.toml";

/// One embedded file of the project tree.
#[derive(Debug, Clone, Copy)]
pub struct TemplateFile {
    /// Path relative to `templates/fastapi/`, with `/` separators.
    pub path: &'static str,
    pub contents: &'static [u8],
}

/// The manifest's text, if the build embedded one.
pub fn manifest_text() -> Option<&'static str> {
    TEMPLATES
        .get_file(MANIFEST)
        .map(|f| f.contents_utf8().unwrap_or(""))
}

/// Every file under `templates/fastapi/`, sorted by path.
pub fn project_files() -> &'static [TemplateFile] {
    static FILES: std::sync::OnceLock<Vec<TemplateFile>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let mut out = Vec::new();
        if let Some(root) = TEMPLATES.get_dir(PROJECT_ROOT) {
            collect(root, &mut out);
        }
        out.sort_by(|a, b| a.path.cmp(b.path));
        out
    })
}

/// Tool caches that appear when someone runs Python tools inside the template tree: never part
/// of a generated project.
const IGNORED_DIRS: &[&str] = &["__pycache__", ".ruff_cache", ".mypy_cache", ".pytest_cache"];

fn collect(dir: &'static Dir<'static>, out: &mut Vec<TemplateFile>) {
    for f in dir.files() {
        if f.path().extension().is_some_and(|e| e == "pyc") {
            continue;
        }
        out.push(to_template(f));
    }
    for d in dir.dirs() {
        let ignored = d
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| IGNORED_DIRS.contains(&n));
        if !ignored {
            collect(d, out);
        }
    }
}

fn to_template(f: &'static File<'static>) -> TemplateFile {
    let full = f.path().to_str().expect("template paths are UTF-8");
    let full = full.replace('\\', "/");
    let rel = full
        .strip_prefix(PROJECT_ROOT)
        .and_then(|p| p.strip_prefix('/'))
        .expect("files come from under the project root");
    TemplateFile {
        // Built once per process (see `project_files`), so this leaks a bounded amount.
        path: Box::leak(rel.to_string().into_boxed_str()),
        contents: f.contents(),
    }
}

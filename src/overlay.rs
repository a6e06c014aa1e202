// Why: a team adds its own files to every project (a CODEOWNERS, a logging policy, a company
// CI step) or replaces built-in ones, without forking the generator. An overlay is a folder
// that mirrors the project's template tree: its files join the embedded ones (same path:
// replaced; the manifest's conditions still apply to a replaced file), `*.tera` files are
// rendered with the same context, the rest copied. Everything is read and each overlay
// template rendered on its own before anything is written, so a broken overlay is an error
// that names its file, never a half-made project.

use std::path::{Path, PathBuf};

use fs_err as fs;

use crate::error::{Error, Result};
use crate::render::Renderer;
use crate::templates::TemplateFile;

/// An overlay's files, and where each was read from (for messages).
pub struct Overlay {
    pub files: Vec<TemplateFile>,
    pub origins: Vec<PathBuf>,
}

/// Reads every overlay folder, in order; a later folder's file replaces an earlier one's.
pub fn load(dirs: &[PathBuf]) -> Result<Overlay> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for dir in dirs {
        let meta = fs::metadata(dir).map_err(|e| Error::Overlay {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        if !meta.is_dir() {
            return Err(Error::Overlay {
                path: dir.clone(),
                message: "not a folder".into(),
            });
        }
        walk(dir, dir, &mut found)?;
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    // Later folders win: keep the last entry of each path (the sort is stable).
    found.reverse();
    found.dedup_by(|a, b| a.0 == b.0);
    found.reverse();
    let mut overlay = Overlay {
        files: Vec::with_capacity(found.len()),
        origins: Vec::with_capacity(found.len()),
    };
    for (rel, origin) in found {
        let contents = fs::read(&origin)?;
        // The embedded tree is `'static`; a run generates one project, so the overlay's few
        // files live as long as the process instead of threading a lifetime through the plan.
        overlay.files.push(TemplateFile {
            path: Box::leak(rel.into_boxed_str()),
            contents: Box::leak(contents.into_boxed_slice()),
        });
        overlay.origins.push(origin);
    }
    Ok(overlay)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            // A link could pull any file of the machine into the project.
            return Err(Error::Overlay {
                path,
                message: "is a symbolic link; overlays hold plain files and folders".into(),
            });
        }
        if kind.is_dir() {
            walk(root, &path, out)?;
            continue;
        }
        let rel = path.strip_prefix(root).expect("walked from root");
        let Some(rel) = rel.to_str() else {
            return Err(Error::Overlay {
                path,
                message: "the name is not UTF-8".into(),
            });
        };
        out.push((rel.replace('\\', "/"), path));
    }
    Ok(())
}

/// The embedded files with the overlay's on top, sorted by path.
pub fn merge(builtin: &[TemplateFile], overlay: &Overlay) -> Vec<TemplateFile> {
    let mut files: Vec<TemplateFile> = builtin
        .iter()
        .filter(|b| !overlay.files.iter().any(|o| o.path == b.path))
        .copied()
        .collect();
    files.extend(overlay.files.iter().copied());
    files.sort_by(|a, b| a.path.cmp(b.path));
    files
}

/// Parses and renders each overlay template alone, so an error names the overlay's file.
pub fn check(files: &[TemplateFile], overlay: &Overlay, context: &tera::Context) -> Result<()> {
    for (file, origin) in overlay.files.iter().zip(&overlay.origins) {
        if !file.path.ends_with(".tera") {
            continue;
        }
        Renderer::for_templates(files, &[file.path])
            .and_then(|r| r.render(file.path, context))
            .map_err(|e| Error::Overlay {
                path: origin.clone(),
                message: e.to_string(),
            })?;
    }
    Ok(())
}

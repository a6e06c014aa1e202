// Why: the preset and the overlays of a run come either from the flags (a new choice) or from
// the answers file (`portcullis.toml` of the project being updated, or reused), and whichever
// it is, they are recorded again relative to the project, so `update` and `check` find them
// from wherever the checkout lives.

use std::path::{Component, Path, PathBuf};

use crate::cli::NewArgs;
use crate::error::{Error, Result};
use crate::spec::TemplateSection;

use super::answers::AnswersFile;
use super::preset::Preset;

/// The preset and overlays of this run.
pub(super) struct Inputs {
    pub preset: Option<Preset>,
    pub overlay_dirs: Vec<PathBuf>,
}

/// Flags win; otherwise what the answers file records, relative to the file's folder. A
/// preset's own overlays come first, then `--template-dir`s, in order.
pub(super) fn inputs(args: &NewArgs, file: &AnswersFile, answers: Option<&Path>) -> Result<Inputs> {
    let recorded = file.template.clone().unwrap_or_default();
    let base = answers.and_then(Path::parent).unwrap_or(Path::new(""));
    let preset_path = match (&args.preset, &recorded.preset) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(r)) => Some(base.join(r)),
        (None, None) => None,
    };
    let preset = preset_path.as_deref().map(Preset::load).transpose()?;
    let fresh_choice = args.preset.is_some() || !args.template_dirs.is_empty();
    let overlay_dirs = match recorded.overlays {
        Some(dirs) if !fresh_choice => dirs.iter().map(|d| base.join(d)).collect(),
        _ => (preset.iter().flat_map(|p| p.overlays.iter().cloned()))
            .chain(args.template_dirs.iter().cloned())
            .collect(),
    };
    Ok(Inputs {
        preset,
        overlay_dirs,
    })
}

/// What `portcullis.toml` records for a project at `dest`, and the paths as read.
pub(super) fn record(inputs: &Inputs, dest: &Path) -> Result<TemplateSection> {
    let dest = absolute(dest)?;
    let relative = |p: &Path| -> Result<String> {
        let p = fs_err::canonicalize(p).map_err(|e| Error::Overlay {
            path: p.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(relative_to(&p, &dest).to_string_lossy().replace('\\', "/"))
    };
    Ok(TemplateSection {
        preset: inputs
            .preset
            .as_ref()
            .map(|p| relative(&p.path))
            .transpose()?,
        overlays: (inputs.overlay_dirs.iter())
            .map(|d| relative(d))
            .collect::<Result<_>>()?,
        preset_path: inputs.preset.as_ref().map(|p| p.path.clone()),
        overlay_dirs: inputs.overlay_dirs.clone(),
    })
}

/// `path` made absolute through its nearest existing ancestor (the project may not exist yet).
fn absolute(path: &Path) -> Result<PathBuf> {
    let path = std::path::absolute(path)?;
    let mut missing = Vec::new();
    let mut at = path.as_path();
    loop {
        if let Ok(real) = fs_err::canonicalize(at) {
            return Ok(missing.iter().rev().fold(real, |acc, c| acc.join(c)));
        }
        match (at.file_name(), at.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name.to_os_string());
                at = parent;
            }
            _ => return Ok(path),
        }
    }
}

/// `target` as seen from the folder `from` (both absolute): `../team/overlay`.
fn relative_to(target: &Path, from: &Path) -> PathBuf {
    let t: Vec<Component> = target.components().collect();
    let f: Vec<Component> = from.components().collect();
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return target.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_recorded_from_the_project_folder() {
        assert_eq!(
            relative_to(Path::new("/work/team/overlay"), Path::new("/work/svc")),
            PathBuf::from("../team/overlay")
        );
        assert_eq!(
            relative_to(Path::new("/work/svc/local"), Path::new("/work/svc")),
            PathBuf::from("local")
        );
    }
}

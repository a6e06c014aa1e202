// Why: `update` and `check` both start from a project that is already on disk: its recorded
// answers, the pristine render that made it, what the current generator makes of the same
// answers, and the files as the user has them now. This module gathers those four views once,
// so the two commands only compare them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use fs_err as fs;

use crate::base::{self, Files};
use crate::cli::NewArgs;
use crate::error::{Error, Result};
use crate::plan::{self, PlannedFile, Secrets, ANSWERS_FILE};
use crate::resolve::{self, AnswersFile};
use crate::spec::ProjectSpec;

/// A generated project on disk, with the renders to compare it against.
#[derive(Debug)]
pub struct Project {
    pub root: PathBuf,
    /// The generator version that made it, as `portcullis.toml` records it.
    pub made_by: Option<String>,
    /// The answers after any changes asked for (`update --auth ...`).
    pub spec: ProjectSpec,
    /// What the generator wrote, or `None` when the project carries no pristine render.
    pub base: Option<Files>,
    /// What the current generator writes for `spec` (recorded files only).
    pub fresh: Vec<PlannedFile>,
    /// The archive of `fresh`, to record after an update.
    pub fresh_base: PlannedFile,
}

/// Answers to change while reading a project (`update`'s flags); all empty for `check`.
pub type Changes = NewArgs;

impl Project {
    /// Reads the project at `root`: its answers (with `changes` applied, then checked exactly as
    /// `new` checks them), its pristine render, and the current generator's render.
    pub fn open(root: &Path, changes: &Changes) -> Result<Self> {
        let answers_path = root.join(ANSWERS_FILE);
        if !answers_path.is_file() {
            return Err(Error::Usage(format!(
                "`{}` has no `{ANSWERS_FILE}`: it is not a project portcullis generated",
                root.display()
            )));
        }
        let recorded = AnswersFile::load(&answers_path)?;
        let args = NewArgs {
            answers: Some(answers_path),
            output_dir: root.parent().map(Path::to_path_buf).unwrap_or_default(),
            // The project exists: the destination check of `new` does not apply.
            force: true,
            defaults: false,
            dry_run: true,
            ..changes.clone()
        };
        let spec = resolve::resolve(&args, None)?.spec;
        // `.env` is never rewritten, so its secrets are not needed: placeholders render it.
        let plan = plan::plan(&spec, &Secrets::new("unused", "unused"))?;
        let (archive, rest): (Vec<_>, Vec<_>) = plan
            .files
            .into_iter()
            .partition(|f| f.path == base::BASE_FILE);
        let fresh_base = archive
            .into_iter()
            .next()
            .expect("every plan records its base");
        Ok(Project {
            root: root.to_path_buf(),
            made_by: recorded.portcullis_version,
            spec,
            base: base::load(root)?,
            fresh: rest
                .into_iter()
                .filter(|f| base::recorded(&f.path))
                .collect(),
            fresh_base,
        })
    }

    /// The file at `path` (relative) as it is on disk now, or `None` when there is none.
    pub fn current(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let full = self.root.join(path);
        match fs::symlink_metadata(&full) {
            Ok(meta) if meta.is_file() => Ok(Some(fs::read(&full)?)),
            Ok(_) => Err(Error::Usage(format!(
                "`{}` is not a regular file where the project has one; move it away",
                full.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every path the pristine or the fresh render holds, sorted.
    pub fn paths(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.fresh.iter().map(|f| f.path.clone()).collect();
        if let Some(base) = &self.base {
            all.extend(base.keys().cloned());
        }
        all
    }

    /// The fresh render of `path`, if the current generator makes it.
    pub fn fresh_file(&self, path: &str) -> Option<&PlannedFile> {
        self.fresh.iter().find(|f| f.path == path)
    }

    /// The pristine render of `path`, if the generator that made the project wrote it.
    pub fn pristine(&self, path: &str) -> Option<&[u8]> {
        self.base
            .as_ref()
            .and_then(|b| b.get(path))
            .map(Vec::as_slice)
    }
}

// Why: the file-level half of writing (`super` holds the atomic protocol around it). The plan's
// files go into the staging folder with no more system calls than a plain copy makes: each folder
// is created once (not once per file), and each file is one exclusive open (never through an
// existing file or symlink), one write and one fchmod on the open file. Nothing is fsynced, as
// `cp -r` does not either. Only `--force` needs the copy of the existing folder and a look at each
// generated path before it is written.

use std::collections::HashSet;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use fs_err as fs;

use super::{check_interrupted, FAIL_AFTER_ENV, SLOW_WRITE_ENV};
use crate::error::{Error, Result};
use crate::plan::{Plan, PlannedFile};

/// The test hooks of `super`, read once per write.
pub struct Hooks {
    pub(crate) fail_after: Option<usize>,
    pub(crate) pause: Option<Duration>,
}

impl Hooks {
    pub fn from_env() -> Self {
        fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
            std::env::var(name).ok().and_then(|v| v.parse().ok())
        }
        Hooks {
            fail_after: var(FAIL_AFTER_ENV),
            pause: var(SLOW_WRITE_ENV).map(Duration::from_millis),
        }
    }
}

/// Writes every file of `plan` under `staging`. `copied`: the staging folder holds a copy of the
/// destination, whose same-named files are replaced (and returned). Stops at Ctrl-C.
pub fn write_files(
    plan: &Plan,
    staging: &Path,
    copied: bool,
    hooks: &Hooks,
) -> Result<Vec<String>> {
    let mut replaced = Vec::new();
    let mut dirs = Folders::new(staging);
    for (i, file) in plan.files.iter().enumerate() {
        check_interrupted()?;
        if hooks.fail_after == Some(i) {
            return Err(Error::Io(io::Error::other(format!(
                "injected failure after {i} files ({FAIL_AFTER_ENV})"
            ))));
        }
        let target = staging.join(&file.path);
        if let Some(dir) = target.parent() {
            dirs.create(dir)?;
        }
        if copied && replace_existing(&target, file)? {
            replaced.push(file.path.clone());
        }
        create_file(&target, file)?;
        if let Some(pause) = hooks.pause {
            std::thread::sleep(pause);
        }
    }
    Ok(replaced)
}

/// The folders known to exist under the staging folder, so each is created once, not once per
/// file.
struct Folders {
    known: HashSet<PathBuf>,
}

impl Folders {
    fn new(staging: &Path) -> Self {
        Folders {
            known: HashSet::from([staging.to_path_buf()]),
        }
    }

    fn create(&mut self, dir: &Path) -> Result<()> {
        if self.known.contains(dir) {
            return Ok(());
        }
        fs::create_dir_all(dir)?;
        let mut cur = Some(dir);
        while let Some(d) = cur {
            if !self.known.insert(d.to_path_buf()) {
                break;
            }
            cur = d.parent();
        }
        Ok(())
    }
}

/// Removes a copied user file (or symlink) where the project puts a file, so it is replaced and
/// never written through; refuses a folder there. True if something was replaced.
fn replace_existing(target: &Path, file: &PlannedFile) -> Result<bool> {
    match fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() => Err(Error::Io(io::Error::other(format!(
            "`{}` is a folder in the destination; the project needs a file there",
            file.path
        )))),
        Ok(_) => {
            fs::remove_file(target)?;
            Ok(true)
        }
        Err(_) => Ok(false),
    }
}

/// Copies the existing destination `from` into the staging folder `to` (`--force`).
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            fs::create_dir(&dst)?;
            fs::set_permissions(&dst, fs::metadata(&src)?.permissions())?;
            copy_tree(&src, &dst)?;
        } else if kind.is_file() {
            fs::copy(&src, &dst)?;
        } else if kind.is_symlink() {
            copy_symlink(&src, &dst)?;
        } else {
            return Err(Error::Io(io::Error::other(format!(
                "`{}` is not a file, folder or symlink; it can't be carried over with --force",
                src.display()
            ))));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn copy_symlink(src: &Path, dst: &Path) -> Result<()> {
    let target = fs::read_link(src)?;
    fs::os::unix::fs::symlink(target, dst)?;
    Ok(())
}

#[cfg(not(unix))]
fn copy_symlink(src: &Path, dst: &Path) -> Result<()> {
    fs::copy(src, dst)?;
    Ok(())
}

/// Creates `path` (never through an existing file or symlink) with the contents and mode of
/// `file`: one open, one write, one fchmod.
#[cfg(unix)]
fn create_file(path: &Path, file: &PlannedFile) -> Result<()> {
    use fs::os::unix::fs::OpenOptionsExt;
    use std::os::unix::fs::PermissionsExt;
    let mode = match (file.private, file.executable) {
        (true, _) => 0o600,
        (false, true) => 0o755,
        (false, false) => 0o644,
    };
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    out.write_all(&file.contents)?;
    // The umask may have narrowed the mode given to open; the project's modes are exact.
    out.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

#[cfg(not(unix))]
fn create_file(path: &Path, file: &PlannedFile) -> Result<()> {
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    out.write_all(&file.contents)?;
    Ok(())
}

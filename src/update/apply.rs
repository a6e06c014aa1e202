// Why: an update touches files inside a folder the user lives in (their `.venv`, their data,
// their git checkout), so the swap-the-whole-folder protocol of `new --force` would copy far
// too much. Instead every new version is first written into a staging folder inside
// `.portcullis/`; only then is each file moved into place, the file it replaces moved aside
// first. If anything fails, or Ctrl-C arrives, every step taken is undone in reverse order, so
// the project is as it was; on success the staging folder (with the old copies) is removed.

use std::io;
use std::path::{Path, PathBuf};

use fs_err as fs;

use crate::error::{Error, Result};
use crate::write::{check_interrupted, Hooks, FAIL_AFTER_ENV};

/// One file to change: written with `contents`, or deleted when `contents` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub contents: Option<Vec<u8>>,
    pub executable: bool,
}

/// A step taken, and how to take it back.
struct Step {
    target: PathBuf,
    /// Where the file that was at `target` now is.
    moved_aside: Option<PathBuf>,
    /// Whether a new file now stands at `target`.
    placed: bool,
    /// Folders created for it, outermost first.
    created: Vec<PathBuf>,
}

/// Applies `changes` under `root` all together, or not at all.
pub fn apply(root: &Path, changes: &[Change]) -> Result<()> {
    let work = root.join(".portcullis");
    let made_work = !work.exists();
    fs::create_dir_all(&work)?;
    let staging = work.join(format!(
        ".update-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    fs::create_dir(&staging)?;
    let outcome = stage(&staging, changes).and_then(|()| commit(root, &staging, changes));
    let cleaned = fs::remove_dir_all(&staging);
    if outcome.is_err() && made_work {
        let _ = fs::remove_dir(&work);
    }
    outcome?;
    cleaned.map_err(Error::from)
}

fn staged(staging: &Path, i: usize) -> PathBuf {
    staging.join(format!("new-{i}"))
}

/// Writes every new version into the staging folder, with its final mode.
fn stage(staging: &Path, changes: &[Change]) -> Result<()> {
    for (i, change) in changes.iter().enumerate() {
        check_interrupted()?;
        if let Some(contents) = &change.contents {
            let path = staged(staging, i);
            fs::write(&path, contents)?;
            set_mode(&path, change.executable)?;
        }
    }
    Ok(())
}

/// Moves each staged file into place; on any failure undoes every step taken.
fn commit(root: &Path, staging: &Path, changes: &[Change]) -> Result<()> {
    let hooks = Hooks::from_env();
    let mut steps: Vec<Step> = Vec::with_capacity(changes.len());
    let mut run = || -> Result<()> {
        for (i, change) in changes.iter().enumerate() {
            check_interrupted()?;
            if hooks.fail_after == Some(i) {
                return Err(Error::Io(io::Error::other(format!(
                    "injected failure after {i} files ({FAIL_AFTER_ENV})"
                ))));
            }
            let target = root.join(&change.path);
            let mut step = Step {
                target: target.clone(),
                moved_aside: None,
                placed: false,
                created: Vec::new(),
            };
            let result = take(&mut step, staging, i, change);
            steps.push(step);
            result?;
            if let Some(pause) = hooks.pause {
                std::thread::sleep(pause);
            }
        }
        Ok(())
    };
    let outcome = run();
    if outcome.is_err() {
        for step in steps.iter().rev() {
            undo(step);
        }
    }
    outcome
}

fn take(step: &mut Step, staging: &Path, i: usize, change: &Change) -> Result<()> {
    if fs::symlink_metadata(&step.target).is_ok() {
        let aside = staging.join(format!("old-{i}"));
        fs::rename(&step.target, &aside)?;
        step.moved_aside = Some(aside);
    }
    if change.contents.is_some() {
        if let Some(parent) = step.target.parent() {
            step.created = create_dirs(parent)?;
        }
        fs::rename(staged(staging, i), &step.target)?;
        step.placed = true;
    }
    Ok(())
}

/// Best effort: each undo is a rename back within one filesystem.
fn undo(step: &Step) {
    if step.placed {
        let _ = fs::remove_file(&step.target);
    }
    if let Some(aside) = &step.moved_aside {
        let _ = fs::rename(aside, &step.target);
    }
    for dir in step.created.iter().rev() {
        let _ = fs::remove_dir(dir);
    }
}

/// Creates `dir` and its missing ancestors; returns the ones created, outermost first.
fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at {
        if d.exists() {
            break;
        }
        missing.push(d.to_path_buf());
        at = d.parent();
    }
    missing.reverse();
    for d in &missing {
        fs::create_dir(d)?;
    }
    Ok(missing)
}

#[cfg(unix)]
fn set_mode(path: &Path, executable: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = if executable { 0o755 } else { 0o644 };
    fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _executable: bool) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &str, contents: Option<&str>) -> Change {
        Change {
            path: path.into(),
            contents: contents.map(|c| c.as_bytes().to_vec()),
            executable: false,
        }
    }

    #[test]
    fn writes_replaces_and_deletes_then_leaves_no_staging() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("keep.txt"), "old\n").unwrap();
        fs::write(root.join("gone.txt"), "bye\n").unwrap();
        apply(
            root,
            &[
                change("keep.txt", Some("new\n")),
                change("gone.txt", None),
                change("deep/er/new.txt", Some("hi\n")),
            ],
        )
        .unwrap();
        assert_eq!(fs::read_to_string(root.join("keep.txt")).unwrap(), "new\n");
        assert!(!root.join("gone.txt").exists());
        assert_eq!(
            fs::read_to_string(root.join("deep/er/new.txt")).unwrap(),
            "hi\n"
        );
        let left: Vec<_> = fs::read_dir(root.join(".portcullis")).unwrap().collect();
        assert!(left.is_empty(), "staging left behind: {left:?}");
    }

    #[test]
    fn a_failure_midway_undoes_every_step() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("a.txt"), "a\n").unwrap();
        fs::write(root.join("b.txt"), "b\n").unwrap();
        // The third change fails: its parent is a file.
        let outcome = apply(
            root,
            &[
                change("a.txt", Some("A\n")),
                change("new/x.txt", Some("x\n")),
                change("b.txt/c.txt", Some("c\n")),
            ],
        );
        assert!(outcome.is_err());
        assert_eq!(fs::read_to_string(root.join("a.txt")).unwrap(), "a\n");
        assert_eq!(fs::read_to_string(root.join("b.txt")).unwrap(), "b\n");
        assert!(!root.join("new").exists());
        assert!(!root.join(".portcullis").exists());
    }
}

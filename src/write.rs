// Why: a user must never end up with a half-written project. The plan is written into a staging
// folder beside the destination (same filesystem, so the final step is a rename), and only a
// complete tree is moved into place. Any failure removes the staging folder and every folder this
// run created, so nothing is left behind.
//
// `--force` into a non-empty folder: the staging folder first receives a copy of everything that is
// already there, then the generated files on top; the old folder is then swapped out (two
// renames) and deleted. The user's unrelated files are kept; files the project generates replace
// existing ones with the same path, and those are listed in the report so nothing is overwritten
// silently. At no moment does the destination hold a mix of old and partially written files.

use std::io;
use std::path::{Path, PathBuf};

use fs_err as fs;

use crate::error::{Error, Result};
use crate::plan::Plan;

mod files;

pub(crate) use files::Hooks;

/// Test hook: make the writer fail after this many files (atomicity tests use the real binary).
pub const FAIL_AFTER_ENV: &str = "PORTCULLIS_TEST_FAIL_AFTER_FILES";

/// Test hook: pause this many milliseconds after each file, so a test can interrupt mid-write.
pub const SLOW_WRITE_ENV: &str = "PORTCULLIS_TEST_SLOW_WRITE_MS";

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns Ctrl-C into a clean failure while writing: the writer stops at the next file and
/// removes what it wrote, instead of dying with a staging folder left behind. Installed by the
/// binary just before writing (not during prompts, where Ctrl-C must simply quit).
pub fn catch_interrupts() {
    let _ = ctrlc::set_handler(|| {
        INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
    });
}

pub(crate) fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        Err(Error::Io(io::Error::new(
            io::ErrorKind::Interrupted,
            "interrupted; nothing was left behind",
        )))
    } else {
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Existing files (relative paths) that generated files replaced (`--force` only).
    pub replaced: Vec<String>,
    /// How many existing entries were kept alongside the project (`--force` only).
    pub kept: usize,
}

/// What is at the destination now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Absent,
    EmptyDir,
    NonEmptyDir(Vec<String>),
}

/// Inspects the destination; refuses a non-directory, and a non-empty one without `force`.
pub fn check_destination(dest: &Path, force: bool) -> Result<Destination> {
    let meta = match fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Destination::Absent),
        Err(e) => return Err(e.into()),
    };
    if !meta.is_dir() {
        return Err(Error::DestinationNotDir {
            path: dest.to_path_buf(),
        });
    }
    let mut entries: Vec<String> = fs::read_dir(dest)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<io::Result<_>>()?;
    entries.sort();
    if entries.is_empty() {
        Ok(Destination::EmptyDir)
    } else if force {
        Ok(Destination::NonEmptyDir(entries))
    } else {
        Err(Error::DestinationNotEmpty {
            path: dest.to_path_buf(),
            entries,
        })
    }
}

/// Writes `plan` at `dest` atomically (see the module comment).
pub fn write(plan: &Plan, dest: &Path, force: bool) -> Result<WriteReport> {
    let state = check_destination(dest, force)?;
    let name = dest
        .file_name()
        .ok_or_else(|| Error::Usage(format!("`{}` has no folder name", dest.display())))?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let hooks = files::Hooks::from_env();

    let mut guard = Cleanup::default();
    guard.created_ancestor = create_ancestors(&parent)?;
    let tag = format!(
        ".{}.portcullis-{}-{:08x}",
        name.to_string_lossy(),
        std::process::id(),
        rand::random::<u32>()
    );
    let staging = parent.join(format!("{tag}.staging"));
    fs::create_dir(&staging)?;
    guard.staging = Some(staging.clone());

    let mut report = WriteReport::default();
    if let Destination::NonEmptyDir(entries) = &state {
        check_interrupted()?;
        files::copy_tree(dest, &staging)?;
        report.kept = entries.len();
    }
    // The staging folder is fresh unless it holds a copy of the destination (`--force`): only
    // then can a generated path already be taken.
    let copied = matches!(state, Destination::NonEmptyDir(_));
    report.replaced = files::write_files(plan, &staging, copied, &hooks)?;

    check_interrupted()?;
    match state {
        Destination::Absent => fs::rename(&staging, dest)?,
        Destination::EmptyDir => {
            fs::remove_dir(dest)?;
            if let Err(e) = fs::rename(&staging, dest) {
                let _ = fs::create_dir(dest);
                return Err(e.into());
            }
        }
        Destination::NonEmptyDir(_) => {
            let old = parent.join(format!("{tag}.old"));
            fs::rename(dest, &old)?;
            if let Err(e) = fs::rename(&staging, dest) {
                let _ = fs::rename(&old, dest);
                return Err(e.into());
            }
            // The new tree is in place; the old one is only a copy now.
            if let Err(e) = fs::remove_dir_all(&old) {
                eprintln!(
                    "warning: could not remove the previous tree at `{}`: {e}",
                    old.display()
                );
            }
        }
    }
    guard.disarm();
    Ok(report)
}

/// Creates the missing ancestors of `dir`; returns the topmost one created, to remove on failure.
fn create_ancestors(dir: &Path) -> Result<Option<PathBuf>> {
    let mut missing = None;
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing = Some(d.to_path_buf());
        cur = d.parent();
    }
    if missing.is_some() {
        fs::create_dir_all(dir)?;
    }
    Ok(missing)
}

/// Removes what a failed write created.
#[derive(Default)]
struct Cleanup {
    staging: Option<PathBuf>,
    created_ancestor: Option<PathBuf>,
}

impl Cleanup {
    fn disarm(&mut self) {
        self.staging = None;
        self.created_ancestor = None;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(s) = self.staging.take() {
            let _ = fs::remove_dir_all(s);
        }
        if let Some(a) = self.created_ancestor.take() {
            let _ = fs::remove_dir_all(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlannedFile;

    fn plan() -> Plan {
        Plan {
            files: vec![
                PlannedFile {
                    path: "README.md".into(),
                    contents: b"new readme".to_vec(),
                    executable: false,
                    private: false,
                },
                PlannedFile {
                    path: "src/pkg/__init__.py".into(),
                    contents: b"".to_vec(),
                    executable: false,
                    private: true,
                },
            ],
        }
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn writes_a_new_tree_and_creates_ancestors() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("a/b/proj");
        write(&plan(), &dest, false).unwrap();
        assert_eq!(fs::read(dest.join("README.md")).unwrap(), b"new readme");
        assert_eq!(listing(&tmp.path().join("a/b")), ["proj"]);
    }

    #[test]
    fn empty_destination_is_fine_and_non_empty_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("proj");
        fs::create_dir(&dest).unwrap();
        write(&plan(), &dest, false).unwrap();
        let e = write(&plan(), &dest, false).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("README.md"), "{e}");
    }

    #[test]
    fn force_keeps_unrelated_files_and_reports_replaced_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("proj");
        fs::create_dir_all(dest.join("notes")).unwrap();
        fs::write(dest.join("notes/todo.txt"), "mine").unwrap();
        fs::write(dest.join("README.md"), "old").unwrap();
        let report = write(&plan(), &dest, true).unwrap();
        assert_eq!(report.replaced, ["README.md"]);
        assert_eq!(report.kept, 2);
        assert_eq!(
            fs::read_to_string(dest.join("notes/todo.txt")).unwrap(),
            "mine"
        );
        assert_eq!(
            fs::read_to_string(dest.join("README.md")).unwrap(),
            "new readme"
        );
        assert_eq!(listing(tmp.path()), ["proj"]);
    }

    #[cfg(unix)]
    #[test]
    fn force_replaces_a_symlink_and_never_writes_through_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("proj");
        fs::create_dir(&dest).unwrap();
        let outside = tmp.path().join("outside.txt");
        fs::write(&outside, "keep me").unwrap();
        fs::os::unix::fs::symlink(&outside, dest.join("README.md")).unwrap();
        let report = write(&plan(), &dest, true).unwrap();
        assert_eq!(report.replaced, ["README.md"]);
        assert_eq!(fs::read_to_string(&outside).unwrap(), "keep me");
        let readme = dest.join("README.md");
        assert!(!fs::symlink_metadata(&readme).unwrap().is_symlink());
        assert_eq!(fs::read_to_string(readme).unwrap(), "new readme");
    }

    #[cfg(unix)]
    #[test]
    fn files_get_exact_modes() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("proj");
        let mut p = plan();
        p.files[0].executable = true;
        write(&p, &dest, false).unwrap();
        let mode = |f: &str| fs::metadata(dest.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("README.md"), 0o755);
        assert_eq!(mode("src/pkg/__init__.py"), 0o600);
    }

    #[test]
    fn a_file_at_the_destination_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("proj");
        fs::write(&dest, "x").unwrap();
        let e = write(&plan(), &dest, true).unwrap_err();
        assert_eq!(e.exit_code(), 3);
    }
}

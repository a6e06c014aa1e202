// Why: `update` merges a user's edits three ways and `check` reports drift, and both need the
// pristine render that made the project, without git and without the generator version that
// made it. So every project carries that render: `.portcullis/base.tar`, every generated file
// but the secret `.env`, in a plain tar that is byte-for-byte the same for the same answers and
// templates (sorted, no timestamps, no owners), so committing it adds nothing between updates
// but what changed, and git's delta compression keeps it small.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use fs_err as fs;

use crate::error::{Error, Result};
use crate::plan::{PlannedFile, SECRET_FILE};

/// Where the pristine render lives, relative to the project root.
pub const BASE_FILE: &str = ".portcullis/base.tar";

/// A project's files by relative path, as one render made them.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Whether `path` belongs in the pristine render (the secret and the archive itself do not).
pub fn recorded(path: &str) -> bool {
    path != SECRET_FILE && path != BASE_FILE
}

/// The archive of `files` (the recorded ones, in path order), as a planned file.
pub fn planned(files: &[PlannedFile]) -> Result<PlannedFile> {
    let mut builder = tar::Builder::new(Vec::new());
    for file in files.iter().filter(|f| recorded(&f.path)) {
        let mut header = tar::Header::new_gnu();
        header.set_size(file.contents.len() as u64);
        header.set_mode(if file.executable { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, &file.path, file.contents.as_slice())?;
    }
    Ok(PlannedFile {
        path: BASE_FILE.to_string(),
        contents: builder.into_inner()?,
        executable: false,
        private: false,
    })
}

/// Reads the archive back into files by path.
pub fn unpack(bytes: &[u8]) -> Result<Files> {
    let mut archive = tar::Archive::new(bytes);
    let mut files = Files::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let raw = entry.path()?.to_string_lossy().replace('\\', "/");
        let path = raw.strip_prefix("./").unwrap_or(&raw).to_string();
        // `update` writes and deletes these paths under the project: nothing may point out of it.
        if !entry.header().entry_type().is_file() || !is_plain_relative(&path) {
            return Err(std::io::Error::other(format!("unexpected entry `{raw}`")).into());
        }
        let mut contents = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut contents)?;
        files.insert(path, contents);
    }
    Ok(files)
}

/// A relative path of plain names: no root, no `.` or `..`, no empty component.
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// The pristine render recorded in the project at `root`, or `None` when it has none (made by
/// a generator before 0.2, or the folder was removed).
pub fn load(root: &Path) -> Result<Option<Files>> {
    let path = root.join(BASE_FILE);
    match fs::read(&path) {
        Ok(bytes) => unpack(&bytes).map(Some).map_err(|e| {
            Error::Usage(format!(
                "`{}` is not a readable archive ({e}); restore it from version control",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, contents: &str) -> PlannedFile {
        PlannedFile {
            path: path.into(),
            contents: contents.as_bytes().to_vec(),
            executable: contents.starts_with("#!"),
            private: path == SECRET_FILE,
        }
    }

    #[test]
    fn round_trips_every_file_but_the_secret() {
        let long = format!("{}x.py", "deep/".repeat(30));
        let files = [
            file(".env", "APP_SECRET_KEY=s3cret\n"),
            file("README.md", "# hi\n"),
            file(&long, "x = 1\n"),
            file("scripts/run", "#!/bin/sh\n"),
        ];
        let archive = planned(&files).unwrap();
        assert_eq!(archive.path, BASE_FILE);
        let back = unpack(&archive.contents).unwrap();
        assert_eq!(
            back.keys().map(String::as_str).collect::<Vec<_>>(),
            ["README.md", long.as_str(), "scripts/run"]
        );
        assert_eq!(back["README.md"], b"# hi\n");
        let text = String::from_utf8_lossy(&archive.contents);
        assert!(!text.contains("s3cret"));
    }

    #[test]
    fn an_entry_pointing_out_of_the_project_is_refused() {
        for bad in ["../outside.txt", "a/../../b", "/etc/passwd"] {
            let mut header = tar::Header::new_gnu();
            header.set_size(1);
            header.set_entry_type(tar::EntryType::Regular);
            // `set_path` refuses `..`, as it should; write the name field directly.
            header.as_old_mut().name[..bad.len()].copy_from_slice(bad.as_bytes());
            header.set_cksum();
            let mut builder = tar::Builder::new(Vec::new());
            builder.append(&header, &b"x"[..]).unwrap();
            let bytes = builder.into_inner().unwrap();
            assert!(unpack(&bytes).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn the_same_files_make_the_same_bytes() {
        let files = [file("a.txt", "a\n"), file("b.txt", "b\n")];
        assert_eq!(
            planned(&files).unwrap().contents,
            planned(&files).unwrap().contents
        );
    }
}

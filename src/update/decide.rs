// Why: what happens to one file in an update depends only on three versions of it: the
// pristine render that made the project, the user's copy, and the current generator's render.
// Keeping that decision a pure function of the three makes every case (and its name in the
// `--dry-run` plan) easy to test without a filesystem.

/// What an update does to one file, as `--dry-run` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing to write: the file is already what it should be, or only the user changed it.
    Unchanged,
    /// The user never touched it: the new render replaces it.
    Replace(Vec<u8>),
    /// Both sides changed it, in different places: the merge is written.
    Merge(Vec<u8>),
    /// Both sides changed the same lines (or the file cannot be merged as text): written with
    /// conflict markers, or left as it is, for the user to settle.
    Conflict(Conflict),
    /// The current generator adds it.
    New(Vec<u8>),
    /// The current generator no longer makes it and the user never touched it: deleted.
    Removed,
    /// The user deleted it: it stays deleted (unless `--restore-deleted`).
    Deleted,
}

/// A conflict, and what is written for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub reason: &'static str,
    /// The file to write (with conflict markers), or `None` to leave the user's copy as it is.
    pub write: Option<Vec<u8>>,
}

impl Action {
    /// The word the plan prints.
    pub fn label(&self) -> &'static str {
        match self {
            Action::Unchanged => "unchanged",
            Action::Replace(_) => "replace",
            Action::Merge(_) => "merge",
            Action::Conflict(_) => "conflict",
            Action::New(_) => "new",
            Action::Removed => "removed",
            Action::Deleted => "deleted",
        }
    }

    /// The contents to write, or `None` when the file is not written.
    pub fn contents(&self) -> Option<&[u8]> {
        match self {
            Action::Replace(c) | Action::Merge(c) | Action::New(c) => Some(c),
            Action::Conflict(c) => c.write.as_deref(),
            _ => None,
        }
    }
}

/// The three versions of one file; `None` where it does not exist.
#[derive(Debug, Clone, Copy)]
pub struct Versions<'a> {
    pub pristine: Option<&'a [u8]>,
    pub user: Option<&'a [u8]>,
    pub fresh: Option<&'a [u8]>,
    /// False for a file that must never be merged line by line (`is_lock_file`).
    pub mergeable: bool,
}

/// Lock files are resolved, not merged: a merge of two resolutions is neither.
pub fn is_lock_file(path: &str) -> bool {
    path == "uv.lock" || path.ends_with("/uv.lock")
}

/// Decides what to do with one file.
pub fn decide(v: Versions<'_>, restore_deleted: bool) -> Action {
    match (v.pristine, v.user, v.fresh) {
        (_, None, None) => Action::Unchanged,
        (None, None, Some(fresh)) => Action::New(fresh.to_vec()),
        (Some(_), None, Some(fresh)) if restore_deleted => Action::New(fresh.to_vec()),
        (Some(_), None, Some(_)) => Action::Deleted,
        (Some(pristine), Some(user), None) if user == pristine => Action::Removed,
        (_, Some(_), None) => Action::Conflict(Conflict {
            reason: "edited, and no longer generated: left as it is",
            write: None,
        }),
        (_, Some(user), Some(fresh)) if user == fresh => Action::Unchanged,
        (Some(pristine), Some(user), Some(fresh)) if user == pristine => {
            if fresh == pristine {
                Action::Unchanged
            } else {
                Action::Replace(fresh.to_vec())
            }
        }
        (Some(pristine), Some(_), Some(fresh)) if fresh == pristine => Action::Unchanged,
        (_, Some(_), Some(_)) if !v.mergeable => Action::Conflict(Conflict {
            reason: "a lock file is not merged: yours is kept; settle `pyproject.toml`, then \
                     run `uv lock`",
            write: None,
        }),
        (pristine, Some(user), Some(fresh)) => merge(pristine.unwrap_or_default(), user, fresh),
    }
}

const OURS: &str = "<<<<<<< yours";
const ORIGINAL: &str = "||||||| as generated";
const THEIRS: &str = ">>>>>>> portcullis update";

/// A three-way merge of text; anything that is not UTF-8 is a conflict left unmerged.
fn merge(pristine: &[u8], user: &[u8], fresh: &[u8]) -> Action {
    let (Ok(pristine), Ok(user), Ok(fresh)) = (
        std::str::from_utf8(pristine),
        std::str::from_utf8(user),
        std::str::from_utf8(fresh),
    ) else {
        return Action::Conflict(Conflict {
            reason: "not text, so not merged: yours is kept",
            write: None,
        });
    };
    match diffy::merge(pristine, user, fresh) {
        Ok(merged) => Action::Merge(merged.into_bytes()),
        Err(marked) => Action::Conflict(Conflict {
            reason: "both changed the same lines",
            write: Some(relabel(&marked).into_bytes()),
        }),
    }
}

/// diffy labels the sides `ours`/`original`/`theirs`; say whose each side is.
fn relabel(marked: &str) -> String {
    let mut out = String::with_capacity(marked.len() + 64);
    for line in marked.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        out.push_str(match body {
            "<<<<<<< ours" => OURS,
            "||||||| original" => ORIGINAL,
            ">>>>>>> theirs" => THEIRS,
            other => other,
        });
        out.push_str(end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v<'a>(p: Option<&'a str>, u: Option<&'a str>, f: Option<&'a str>) -> Versions<'a> {
        Versions {
            pristine: p.map(str::as_bytes),
            user: u.map(str::as_bytes),
            fresh: f.map(str::as_bytes),
            mergeable: true,
        }
    }

    #[test]
    fn untouched_files_follow_the_templates() {
        assert_eq!(
            decide(v(Some("a\n"), Some("a\n"), Some("b\n")), false),
            Action::Replace(b"b\n".to_vec())
        );
        assert_eq!(
            decide(v(Some("a\n"), Some("a\n"), Some("a\n")), false),
            Action::Unchanged
        );
        assert_eq!(
            decide(v(Some("a\n"), Some("a\n"), None), false),
            Action::Removed
        );
        assert_eq!(
            decide(v(None, None, Some("n\n")), false),
            Action::New(b"n\n".to_vec())
        );
    }

    #[test]
    fn edits_alone_are_kept() {
        assert_eq!(
            decide(v(Some("a\n"), Some("mine\n"), Some("a\n")), false),
            Action::Unchanged
        );
    }

    #[test]
    fn edits_elsewhere_merge_cleanly() {
        let pristine = "one\ntwo\nthree\nfour\nfive\n";
        let user = "one\ntwo (mine)\nthree\nfour\nfive\n";
        let fresh = "one\ntwo\nthree\nfour\nfive (new)\n";
        assert_eq!(
            decide(v(Some(pristine), Some(user), Some(fresh)), false),
            Action::Merge(b"one\ntwo (mine)\nthree\nfour\nfive (new)\n".to_vec())
        );
    }

    #[test]
    fn edits_of_the_same_lines_conflict_with_labelled_markers() {
        let action = decide(v(Some("x = 1\n"), Some("x = 2\n"), Some("x = 3\n")), false);
        let Action::Conflict(Conflict {
            write: Some(text), ..
        }) = action
        else {
            panic!("not a conflict: {action:?}");
        };
        let text = String::from_utf8(text).unwrap();
        assert_eq!(
            text,
            "<<<<<<< yours\nx = 2\n||||||| as generated\nx = 1\n=======\nx = 3\n>>>>>>> portcullis update\n"
        );
    }

    #[test]
    fn deleted_files_stay_deleted_unless_asked() {
        assert_eq!(
            decide(v(Some("a\n"), None, Some("b\n")), false),
            Action::Deleted
        );
        assert_eq!(
            decide(v(Some("a\n"), None, Some("b\n")), true),
            Action::New(b"b\n".to_vec())
        );
    }

    #[test]
    fn an_edited_file_no_longer_generated_is_kept_as_a_conflict() {
        let action = decide(v(Some("a\n"), Some("mine\n"), None), false);
        assert_eq!(action.label(), "conflict");
        assert_eq!(action.contents(), None);
    }

    #[test]
    fn a_file_of_the_users_where_a_new_template_lands_is_merged_two_ways() {
        let action = decide(v(None, Some("mine\n"), Some("theirs\n")), false);
        assert_eq!(action.label(), "conflict");
        assert_eq!(
            decide(v(None, Some("same\n"), Some("same\n")), false),
            Action::Unchanged
        );
    }

    #[test]
    fn lock_files_edited_on_both_sides_are_kept_not_merged() {
        let versions = Versions {
            mergeable: false,
            ..v(Some("a\nb\nc\n"), Some("a\nB\nc\n"), Some("a\nb\nC\n"))
        };
        let action = decide(versions, false);
        assert_eq!(action.label(), "conflict");
        assert_eq!(action.contents(), None);
        assert!(is_lock_file("uv.lock") && !is_lock_file("uv.lock.md"));
    }

    #[test]
    fn binary_files_are_never_merged() {
        let action = decide(
            Versions {
                pristine: Some(b"\xff\x00a"),
                user: Some(b"\xff\x00b"),
                fresh: Some(b"\xff\x00c"),
                mergeable: true,
            },
            false,
        );
        assert_eq!(action.label(), "conflict");
        assert_eq!(action.contents(), None);
    }
}

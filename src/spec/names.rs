// Why: the project name becomes a folder and the Python package name becomes `src/<package>/` and
// `python -m <package>`; both must be checked once, here, so no other module handles raw names.

use serde::{Deserialize, Serialize};

use super::stdlib::STDLIB_MODULES;

/// Longest project name: keeps `from <package>.<module> import (` within ruff's 100 columns.
const MAX_NAME_CHARS: usize = 40;

/// Python's hard keywords plus the soft keywords (3.11): a package can't be called `class`, and
/// `match`/`case`/`_` would be confusing at best.
const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "_", "case", "match", "type",
];

/// Packages the generated project imports (or whose name it uses for its own folders): a package
/// with one of these names would shadow its own dependency or clash with the project layout.
const RESERVED_PACKAGES: &[&str] = &[
    "alembic",
    "argon2",
    "fastapi",
    "httpx",
    "jwt",
    "migrations",
    "mypy",
    "pwdlib",
    "pydantic",
    "pydantic_settings",
    "pytest",
    "redis",
    "ruff",
    "sqlalchemy",
    "src",
    "starlette",
    "tests",
    "uvicorn",
    "cryptography",
    "aiosqlite",
    "asyncpg",
    "multipart",
    "anyio",
];

/// A project (folder) name: `[A-Za-z][A-Za-z0-9._ -]{0,39}` whose derived package name is valid.
/// The cap keeps every generated `from <package>... import` line within ruff's line length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectName(String);

impl ProjectName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("the project name is empty".into());
        }
        let shown = super::show(raw);
        if raw.chars().count() > MAX_NAME_CHARS {
            return Err(format!(
                "project name {shown} is longer than {MAX_NAME_CHARS} characters"
            ));
        }
        let mut chars = raw.chars();
        let first = chars.next().unwrap_or(' ');
        if !first.is_ascii_alphabetic() {
            return Err(format!(
                "project name {shown} must start with a letter (A-Z, a-z)"
            ));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ' ' | '-')))
        {
            return Err(format!(
                "project name {shown} contains {}; use only letters, digits, `.`, `_`, `-` and spaces",
                super::show(&bad.to_string())
            ));
        }
        if raw.ends_with(' ') || raw.ends_with('.') {
            return Err(format!(
                "project name {shown} must not end with a space or a dot (not a portable folder name)"
            ));
        }
        PackageName::parse(&derive_package(raw))
            .map_err(|why| format!("project name {shown} gives {why}"))?;
        Ok(ProjectName(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Python package derived from this name (CONTRACT §1).
    pub fn package(&self) -> PackageName {
        PackageName(derive_package(&self.0))
    }
}

impl TryFrom<String> for ProjectName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        ProjectName::parse(&value)
    }
}

impl From<ProjectName> for String {
    fn from(v: ProjectName) -> String {
        v.0
    }
}

/// Lower case; `-`, `.` and space become `_`.
pub fn derive_package(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '-' | '.' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// A Python package name: an ASCII identifier, not a keyword, not a standard-library module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PackageName(String);

impl PackageName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let shown = super::show(raw);
        let mut chars = raw.chars();
        let valid_ident = match chars.next() {
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            }
            _ => false,
        };
        if !valid_ident {
            return Err(format!(
                "package name {shown}, which is not a Python identifier"
            ));
        }
        if PYTHON_KEYWORDS.contains(&raw) {
            return Err(format!("package name {shown}, which is a Python keyword"));
        }
        if STDLIB_MODULES.binary_search(&raw).is_ok() {
            return Err(format!(
                "package name {shown}, which would shadow the standard-library module `{raw}`"
            ));
        }
        if RESERVED_PACKAGES.contains(&raw) {
            return Err(format!(
                "package name {shown}, which would shadow a dependency or folder of the generated project"
            ));
        }
        Ok(PackageName(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PackageName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        PackageName::parse(&value)
    }
}

impl From<PackageName> for String {
    fn from(v: PackageName) -> String {
        v.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_package_name() {
        assert_eq!(derive_package("Billing-API.v2 x"), "billing_api_v2_x");
        let name = ProjectName::parse("billing-api").unwrap();
        assert_eq!(name.package().as_str(), "billing_api");
    }

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["billing-api", "My Service", "a", "svc.v2", "x_1"] {
            ProjectName::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn refuses_bad_project_names() {
        for bad in [
            "",
            "1api",
            "-api",
            "api/x",
            "api\"x",
            "a\nb",
            "ünï",
            "{{x}}",
            "x ",
            &"a".repeat(65),
        ] {
            assert!(ProjectName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn refuses_keywords_stdlib_and_dependencies() {
        let e = ProjectName::parse("class").unwrap_err();
        assert!(e.contains("keyword"), "{e}");
        let e = ProjectName::parse("JSON").unwrap_err();
        assert!(e.contains("standard-library module `json`"), "{e}");
        let e = ProjectName::parse("asyncio").unwrap_err();
        assert!(e.contains("standard-library"), "{e}");
        let e = ProjectName::parse("fastapi").unwrap_err();
        assert!(e.contains("dependency"), "{e}");
        assert!(PackageName::parse("email").is_err());
        assert!(PackageName::parse("billing_api").is_ok());
    }

    #[test]
    fn stdlib_list_is_sorted_for_binary_search() {
        assert!(STDLIB_MODULES.windows(2).all(|w| w[0] < w[1]));
        assert!(STDLIB_MODULES.binary_search(&"tomllib").is_ok());
    }
}

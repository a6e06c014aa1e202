// Why: the `--answers` file has its own schema, looser than `ProjectSpec` (every key optional,
// nothing cross-checked yet). Keeping it apart from the merging logic means the file's shape can
// be read in one place, and `tests/` can load a file without resolving it.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::spec::{AuthMethod, DatabaseKind, Permission, RoleModel};

/// The raw `--answers` file: the `portcullis.toml` schema with every key optional. Unknown keys
/// are errors (they are almost always typos that would silently change nothing).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersFile {
    pub portcullis_version: Option<String>,
    pub project: Option<AnswersProject>,
    pub auth: Option<AnswersAuth>,
    pub roles: Option<AnswersRoles>,
    pub database: Option<AnswersDatabase>,
    pub cors: Option<AnswersCors>,
    /// The preset and overlays a project was made with (paths relative to this file's folder).
    pub template: Option<AnswersTemplate>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersTemplate {
    pub preset: Option<String>,
    pub overlays: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersProject {
    pub name: Option<String>,
    pub package: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersAuth {
    pub methods: Option<Vec<AuthMethod>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersRoles {
    pub model: Option<RoleModel>,
    pub role: Option<Vec<AnswersRole>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersRole {
    pub name: String,
    pub permissions: Option<Vec<Permission>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersDatabase {
    pub kind: Option<DatabaseKind>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersCors {
    pub origins: Option<Vec<String>>,
}

impl AnswersFile {
    pub fn load(path: &Path) -> Result<Self> {
        let text = fs_err::read_to_string(path).map_err(|e| Error::AnswersFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::parse(&text).map_err(|message| Error::AnswersFile {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }
}

// Why: a project made with a team preset or template overlays must be re-made with them by
// `update` and held to them by `check`, so `portcullis.toml` records where they are. Paths are
// recorded relative to the project (a checkout moves between machines; the team's templates
// usually sit beside it); the absolute forms the generator reads are kept alongside, never
// written.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[template]` in `portcullis.toml`: absent when neither a preset nor an overlay was used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSection {
    /// The preset file, relative to the project folder (or absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// Overlay folders, applied in order (later ones win), as `preset`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overlays: Vec<String>,
    /// The preset, as read.
    #[serde(skip)]
    pub preset_path: Option<PathBuf>,
    /// The overlay folders, as read.
    #[serde(skip)]
    pub overlay_dirs: Vec<PathBuf>,
}

impl TemplateSection {
    pub fn is_empty(&self) -> bool {
        self.preset.is_none() && self.overlays.is_empty()
    }
}

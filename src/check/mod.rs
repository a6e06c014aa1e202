// Why: a platform team needs one CI step that says whether a service still is what the
// standard made it: no security-relevant generated file edited away from its pristine render
// (drift), not behind the current templates (staleness), and within the team's policy. The
// findings are one typed report, printed as text for people or as stable JSON for machines;
// the exit code alone (0 clean, 1 findings, 2 usage) is enough for a pipeline.

pub mod policy;

use std::collections::BTreeMap;
use std::io::Write as _;

use serde::Serialize;

use crate::base::BASE_FILE;
use crate::cli::{CheckArgs, Format};
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::plan::ANSWERS_FILE;
use crate::project::{Changes, Project};
use crate::resolve::AnswersFile;
use policy::{dotenv, Policy, Violation};

/// The version of the JSON report's shape; bumped only on an incompatible change.
pub const REPORT_SCHEMA: u32 = 1;

/// Everything `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub project: String,
    pub clean: bool,
    pub generator: Generator,
    /// Whether the project carries its pristine render (without it drift cannot be checked).
    pub pristine_recorded: bool,
    pub drift: Vec<Drift>,
    pub stale: Vec<Stale>,
    pub policy: Vec<Violation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Generator {
    /// The generator version that made the project.
    pub project: Option<String>,
    /// This generator's version.
    pub current: String,
}

/// A security-relevant generated file that is no longer what the generator wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub path: String,
    /// `modified` or `deleted`.
    pub status: &'static str,
    /// A unified diff from the pristine render (`--diff`, text files only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// A file the current generator renders differently from the one that made the project.
#[derive(Debug, Clone, Serialize)]
pub struct Stale {
    pub path: String,
    /// `changed`, `added` or `removed` by the current templates.
    pub status: &'static str,
}

/// Builds the report for the project at `args.dir`.
pub fn report(args: &CheckArgs) -> Result<Report> {
    let policy = args.policy.as_deref().map(Policy::load).transpose()?;
    let project = match Project::open(&args.dir, &Changes::default()) {
        // The recorded answers break the preset the project was made with: that is a finding
        // (someone edited `portcullis.toml`), and nothing else can be judged until it is fixed.
        Err(Error::Locked { preset, conflicts }) => {
            return Ok(broken_preset(args, &preset, conflicts))
        }
        other => other?,
    };
    let drift = drift(&project, args.diff)?;
    let stale = stale(&project);
    let env = match project.current(".env.example")? {
        Some(bytes) => dotenv(&String::from_utf8_lossy(&bytes)),
        None => BTreeMap::new(),
    };
    let violations = policy
        .map(|p| p.violations(&project.spec, &env))
        .unwrap_or_default();
    let current = env!("CARGO_PKG_VERSION").to_string();
    let behind = project.made_by.as_deref() != Some(current.as_str());
    let pristine_recorded = project.base.is_some();
    Ok(Report {
        schema: REPORT_SCHEMA,
        project: project.spec.project.name.as_str().to_string(),
        clean: pristine_recorded
            && drift.is_empty()
            && stale.is_empty()
            && !behind
            && violations.is_empty(),
        generator: Generator {
            project: project.made_by.clone(),
            current,
        },
        pristine_recorded,
        drift,
        stale,
        policy: violations,
    })
}

fn broken_preset(args: &CheckArgs, preset: &std::path::Path, conflicts: Vec<String>) -> Report {
    let answers = AnswersFile::load(&args.dir.join(ANSWERS_FILE)).unwrap_or_default();
    let rule = format!("preset {}", preset.display());
    Report {
        schema: REPORT_SCHEMA,
        project: (answers.project.and_then(|p| p.name)).unwrap_or_default(),
        clean: false,
        generator: Generator {
            project: answers.portcullis_version,
            current: env!("CARGO_PKG_VERSION").to_string(),
        },
        pristine_recorded: args.dir.join(BASE_FILE).is_file(),
        drift: Vec::new(),
        stale: Vec::new(),
        policy: (conflicts.into_iter())
            .map(|message| Violation {
                rule: rule.clone(),
                message,
            })
            .collect(),
    }
}

fn drift(project: &Project, with_diff: bool) -> Result<Vec<Drift>> {
    let rules = Manifest::embedded()?.check;
    let package = project.spec.project.package.as_str();
    let Some(base) = &project.base else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (path, pristine) in base {
        if !rules.is_security(path, package) {
            continue;
        }
        let (status, user) = match project.current(path)? {
            None => ("deleted", None),
            Some(user) if &user == pristine => continue,
            Some(user) => ("modified", Some(user)),
        };
        let diff = match (with_diff, &user) {
            (true, Some(user)) => unified(path, pristine, user),
            _ => None,
        };
        out.push(Drift {
            path: path.clone(),
            status,
            diff,
        });
    }
    Ok(out)
}

fn unified(path: &str, before: &[u8], after: &[u8]) -> Option<String> {
    let (Ok(before), Ok(after)) = (std::str::from_utf8(before), std::str::from_utf8(after)) else {
        return None;
    };
    let patch = diffy::DiffOptions::new()
        .set_original_filename(format!("a/{path}"))
        .set_modified_filename(format!("b/{path}"))
        .create_patch(before, after)
        .to_string();
    Some(patch)
}

fn stale(project: &Project) -> Vec<Stale> {
    let Some(base) = &project.base else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for path in project.paths() {
        let status = match (base.get(&path), project.fresh_file(&path)) {
            (Some(old), Some(new)) if *old == new.contents => continue,
            (Some(_), Some(_)) => "changed",
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (None, None) => continue,
        };
        out.push(Stale { path, status });
    }
    out
}

/// Runs `portcullis check`; returns the exit code.
pub fn run(args: &CheckArgs) -> Result<i32> {
    let report = report(args)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::other)?;
            writeln!(out)?;
        }
        Format::Text => write_text(&mut out, &report)?,
    }
    out.flush()?;
    Ok(if report.clean { 0 } else { 1 })
}

fn write_text(out: &mut impl std::io::Write, r: &Report) -> std::io::Result<()> {
    if r.clean {
        return writeln!(
            out,
            "ok: `{}` has no drift, is current and keeps its policy",
            r.project
        );
    }
    if !r.pristine_recorded {
        writeln!(
            out,
            "no pristine render: `{BASE_FILE}` is missing, so drift cannot be checked \
             (restore it from version control, or run `portcullis update` to record one)"
        )?;
    }
    for d in &r.drift {
        writeln!(out, "drift: `{}` {} (security-relevant)", d.path, d.status)?;
        if let Some(diff) = &d.diff {
            write!(out, "{diff}")?;
        }
    }
    let made_by = r
        .generator
        .project
        .as_deref()
        .unwrap_or("an unknown version");
    if made_by != r.generator.current || !r.stale.is_empty() {
        writeln!(
            out,
            "stale: made by portcullis {made_by}, this is {}; {} file(s) would change \
             (run `portcullis update`)",
            r.generator.current,
            r.stale.len()
        )?;
        for s in &r.stale {
            writeln!(out, "  {:<8} {}", s.status, s.path)?;
        }
    }
    for v in &r.policy {
        writeln!(out, "policy: {} ({})", v.message, v.rule)?;
    }
    Ok(())
}

// Why: answers arrive from four places with a fixed precedence (flags > answers file > prompts >
// defaults). This module merges them into one checked `ProjectSpec`, and it is where "every
// missing or invalid answer is listed at once, with the flag that supplies it" is enforced:
// nothing downstream ever sees an unchecked value, and nothing is written before it returns.
// `resolve` below reads as the whole story; `answers` is the file's schema, `given` checks what
// flags and the file supply, `ask` prompts for the rest, `defaults` holds what `--defaults` takes.
// A team `preset` sits between the answers file and the prompts (its locks above both), and
// `template` finds the preset and overlays of a run and records them in the spec.

mod answers;
mod ask;
mod defaults;
mod given;
mod preset;
mod template;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::cli::NewArgs;
use crate::error::{Error, Problem, Result};
use crate::prompt::Prompter;
use crate::spec::{ProjectName, ProjectSpec};
use crate::write::check_destination;

pub use answers::{
    AnswersAuth, AnswersCors, AnswersDatabase, AnswersFile, AnswersProject, AnswersRole,
    AnswersRoles,
};
pub use ask::summary;
pub use defaults::{
    default_origins, default_roles, default_spec, parse_origins, DEFAULT_AUTH, DEFAULT_DATABASE,
    DEFAULT_ORIGINS, DEFAULT_ROLES, DEFAULT_ROLE_MODEL,
};
pub use preset::Preset;

use ask::Ask;
use given::Given;

const CHECKED: &str = "checked: no missing answers";

/// The checked outcome: what to generate and where.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub spec: ProjectSpec,
    pub dest: PathBuf,
    /// True when at least one question was asked interactively.
    pub prompted: bool,
}

/// Merges flags, the answers file, prompts (when `prompter` is given and `--defaults` is not) and
/// defaults (with `--defaults`) into a checked spec; checks the destination as soon as the name is
/// known.
pub fn resolve(args: &NewArgs, mut prompter: Option<&mut dyn Prompter>) -> Result<Resolved> {
    if args.defaults {
        prompter = None;
    }
    let mut file = match &args.answers {
        Some(p) => AnswersFile::load(p)?,
        None => AnswersFile::default(),
    };
    let template = template::inputs(args, &file, args.answers.as_deref())?;
    if let Some(preset) = &template.preset {
        preset.refuse_contradictions(args, &file)?;
        file = preset.complete(file);
    }
    // Where given answers came from, for messages: the answers file, else the preset.
    let path = (args.answers.as_deref()).or(template.preset.as_ref().map(|p| p.path.as_path()));
    let mut given = Given::check(args, &file, path, prompter.is_some())?;

    // Everything given is valid; ask what is still unanswered.
    let mut ask = Ask::new(prompter);
    ask.name(&mut given)?;
    let name = given.name.take().expect(CHECKED);
    // All answers given so far are valid: the destination is the next thing to check, before
    // asking anything else.
    check_destination(&dest_for(args, &name), args.force)?;
    ask.the_rest(&mut given)?;
    let mut spec = build_spec(name, given, &mut ask, path)?;
    let dest = dest_for(args, &spec.project.name);
    spec.template = template::record(&template, &dest)?;
    ask.confirm(&spec)?;
    Ok(Resolved {
        spec,
        dest,
        prompted: ask.prompted,
    })
}

fn dest_for(args: &NewArgs, name: &ProjectName) -> PathBuf {
    args.output_dir.join(name.as_str())
}

/// The spec from complete answers: the permission table (asked where still needed), then
/// `ProjectSpec::build`'s cross-checks, whose problems point at the roles' source.
fn build_spec(
    name: ProjectName,
    mut given: Given,
    ask: &mut Ask<'_>,
    path: Option<&Path>,
) -> Result<ProjectSpec> {
    let model = given.model.expect(CHECKED);
    let roles = given.roles.take().expect(CHECKED);
    let table = ask.permission_table(model, roles, &given)?;
    let hint = match path {
        Some(p) => format!("roles.role in {}", p.display()),
        None => "the answers above".to_string(),
    };
    ProjectSpec::build(
        name,
        given.auth.expect(CHECKED),
        model,
        table,
        given.database.expect(CHECKED),
        given.origins.expect(CHECKED),
    )
    .map_err(|errs| Error::Answers {
        problems: errs
            .into_iter()
            .map(|e| Problem::new(e, hint.clone()))
            .collect(),
    })
}

// Why: the only user of dialoguer. Questions go through the small `Prompter` trait so `resolve`
// can be tested with scripted answers, and so that no code path can prompt without a terminal
// (`TerminalPrompter::new` refuses to exist without one).

use std::io::IsTerminal;

use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};

use crate::error::{Error, Result};

/// A validator: `Err(message)` makes the prompt ask again.
pub type Validator<'a> = &'a dyn Fn(&str) -> Result<(), String>;

pub trait Prompter {
    /// Free text, asked again until `validate` accepts it.
    fn input(
        &mut self,
        prompt: &str,
        default: Option<&str>,
        validate: Validator<'_>,
    ) -> Result<String>;
    /// One of `items`.
    fn select(&mut self, prompt: &str, items: &[&str], default: usize) -> Result<usize>;
    /// Any subset of `items` (the caller checks non-emptiness and asks again).
    fn multi_select(
        &mut self,
        prompt: &str,
        items: &[&str],
        checked: &[bool],
    ) -> Result<Vec<usize>>;
    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool>;
    /// A line of information (a summary, a reason to ask again).
    fn note(&mut self, text: &str);
}

/// True when both stdin and stderr are terminals: the only case where we may prompt.
pub fn has_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// dialoguer on the real terminal (drawn on stderr).
pub struct TerminalPrompter {
    theme: Box<dyn Theme>,
}

impl TerminalPrompter {
    /// `None` without a terminal: callers must then report missing answers instead.
    pub fn new() -> Option<Self> {
        if !has_terminal() {
            return None;
        }
        let plain = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let theme: Box<dyn Theme> = if plain {
            Box::new(SimpleTheme)
        } else {
            Box::new(ColorfulTheme::default())
        };
        Some(TerminalPrompter { theme })
    }
}

fn prompt_err(e: dialoguer::Error) -> Error {
    Error::Prompt(e.to_string())
}

impl Prompter for TerminalPrompter {
    fn input(
        &mut self,
        prompt: &str,
        default: Option<&str>,
        validate: Validator<'_>,
    ) -> Result<String> {
        let mut input = dialoguer::Input::<String>::with_theme(self.theme.as_ref())
            .with_prompt(prompt)
            .allow_empty(true)
            .validate_with(|s: &String| validate(s));
        if let Some(d) = default {
            input = input.default(d.to_string());
        }
        input.interact_text().map_err(prompt_err)
    }

    fn select(&mut self, prompt: &str, items: &[&str], default: usize) -> Result<usize> {
        dialoguer::Select::with_theme(self.theme.as_ref())
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact()
            .map_err(prompt_err)
    }

    fn multi_select(
        &mut self,
        prompt: &str,
        items: &[&str],
        checked: &[bool],
    ) -> Result<Vec<usize>> {
        dialoguer::MultiSelect::with_theme(self.theme.as_ref())
            .with_prompt(format!("{prompt} (space toggles, enter accepts)"))
            .items(items)
            .defaults(checked)
            .interact()
            .map_err(prompt_err)
    }

    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool> {
        dialoguer::Confirm::with_theme(self.theme.as_ref())
            .with_prompt(prompt)
            .default(default)
            .interact()
            .map_err(prompt_err)
    }

    fn note(&mut self, text: &str) {
        anstream::eprintln!("{text}");
    }
}

/// Scripted answers for tests: each call pops the next answer; a validator failure is an error
/// (a real terminal would ask again).
#[derive(Debug, Default)]
pub struct ScriptedPrompter {
    pub answers: std::collections::VecDeque<Answer>,
    pub notes: Vec<String>,
    pub asked: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Answer {
    /// Text typed (empty = take the default).
    Text(String),
    Select(usize),
    Multi(Vec<usize>),
    Confirm(bool),
}

impl ScriptedPrompter {
    pub fn new(answers: impl IntoIterator<Item = Answer>) -> Self {
        ScriptedPrompter {
            answers: answers.into_iter().collect(),
            ..Default::default()
        }
    }

    fn next(&mut self, prompt: &str) -> Result<Answer> {
        self.asked.push(prompt.to_string());
        self.answers
            .pop_front()
            .ok_or_else(|| Error::Prompt(format!("no scripted answer for {prompt:?}")))
    }
}

impl Prompter for ScriptedPrompter {
    fn input(
        &mut self,
        prompt: &str,
        default: Option<&str>,
        validate: Validator<'_>,
    ) -> Result<String> {
        loop {
            match self.next(prompt)? {
                Answer::Text(t) => {
                    let t = if t.is_empty() {
                        default.unwrap_or("").to_string()
                    } else {
                        t
                    };
                    match validate(&t) {
                        Ok(()) => return Ok(t),
                        Err(e) => self.notes.push(e),
                    }
                }
                other => return Err(Error::Prompt(format!("expected text, got {other:?}"))),
            }
        }
    }

    fn select(&mut self, prompt: &str, _items: &[&str], _default: usize) -> Result<usize> {
        match self.next(prompt)? {
            Answer::Select(i) => Ok(i),
            other => Err(Error::Prompt(format!("expected select, got {other:?}"))),
        }
    }

    fn multi_select(
        &mut self,
        prompt: &str,
        _items: &[&str],
        _checked: &[bool],
    ) -> Result<Vec<usize>> {
        match self.next(prompt)? {
            Answer::Multi(v) => Ok(v),
            other => Err(Error::Prompt(format!("expected multi, got {other:?}"))),
        }
    }

    fn confirm(&mut self, prompt: &str, _default: bool) -> Result<bool> {
        match self.next(prompt)? {
            Answer::Confirm(b) => Ok(b),
            other => Err(Error::Prompt(format!("expected confirm, got {other:?}"))),
        }
    }

    fn note(&mut self, text: &str) {
        self.notes.push(text.to_string());
    }
}

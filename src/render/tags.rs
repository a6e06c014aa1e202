// Why: what `skeleton` asks Tera about each tag, asked once per distinct tag. A tag is parsed
// inside a tiny template made to hold just it (an `elif` between an `if` and an `endif`, say), and
// what Tera makes of it (expression, whitespace flags) is kept for every copy. Tags that differ
// only in their literals and names share one parse (`shape`); when a shape can't vouch for a tag,
// the tag is parsed as it is.

use std::collections::HashMap;

use tera::ast::{Expr, Forloop, FunctionCall, If, Node, WS};
use tera::Template;

use super::shape::Shape;

/// Where a tag stands, which decides the tiny template it is checked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `{{ ... }}`, `{% set %}`, `{% set_global %}`: a node on its own.
    Single,
    Comment,
    If,
    Elif,
    IfElse,
    EndIf,
    For,
    ForElse,
    EndFor,
    Filter,
    EndFilter,
    RawOpen,
    RawClose,
}

impl Role {
    /// The text around the tag in its tiny template.
    fn frame(self) -> (&'static str, &'static str) {
        match self {
            Role::Single => ("", ""),
            // A comment at the very start of a template is dropped by Tera: put text first.
            Role::Comment => ("x", ""),
            Role::If => ("", "{% endif %}"),
            Role::Elif | Role::IfElse => ("{% if a %}", "{% endif %}"),
            Role::EndIf => ("{% if a %}", ""),
            Role::For => ("", "{% endfor %}"),
            Role::ForElse => ("{% for a in b %}", "{% endfor %}"),
            Role::EndFor => ("{% for a in b %}", ""),
            Role::Filter => ("", "{% endfilter %}"),
            Role::EndFilter => ("{% filter a %}", ""),
            Role::RawOpen => ("", "{% endraw %}"),
            Role::RawClose => ("{% raw %}", ""),
        }
    }

    /// Whether the tag may hold an expression, hence literals and names.
    fn has_expression(self) -> bool {
        matches!(
            self,
            Role::Single | Role::If | Role::Elif | Role::For | Role::Filter
        )
    }
}

/// What Tera made of one tag.
#[derive(Debug, Clone, PartialEq)]
pub enum Tag {
    Node(Node),
    Cond(WS, Expr),
    Else(WS),
    ForElse,
    /// The whitespace flags of a tag that holds nothing else (`endif`, `raw`, ...).
    End(WS),
    For(WS, Forloop),
    Filter(WS, FunctionCall),
}

/// The tags already seen, shared by every template of one parse.
#[derive(Default)]
pub struct Tags<'a> {
    /// What each tag (by role and text) came to.
    known: HashMap<(Role, &'a str), Option<Tag>>,
    /// What Tera made of each shape (`shape`).
    shapes: HashMap<(Role, String), Option<Tag>>,
    /// How many tags Tera parsed as they are (their shape could not vouch for them).
    plain: usize,
}

impl<'a> Tags<'a> {
    /// What Tera makes of `tag` standing as `role`; None if Tera refuses it there.
    pub fn get(&mut self, role: Role, tag: &'a str) -> Option<Tag> {
        if let Some(known) = self.known.get(&(role, tag)) {
            return known.clone();
        }
        let found = self.through_shape(role, tag).or_else(|| {
            self.plain += 1;
            learn(role, tag)
        });
        self.known.insert((role, tag), found.clone());
        found
    }

    fn through_shape(&mut self, role: Role, tag: &str) -> Option<Tag> {
        let mut shape = role.has_expression().then(|| Shape::of(tag)).flatten()?;
        let learned = self
            .shapes
            .entry((role, std::mem::take(&mut shape.text)))
            .or_insert_with_key(|(role, text)| learn(*role, text));
        shape.fill(learned.clone()?)
    }
}

/// Parses `tag` in its tiny template; None unless Tera gives exactly the one expected node with
/// empty bodies (so the tag ends where `skeleton` thinks it does).
pub(super) fn learn(role: Role, tag: &str) -> Option<Tag> {
    let (before, after) = role.frame();
    let mut ast = Template::new("tag", None, &format!("{before}{tag}{after}"))
        .ok()?
        .ast;
    if role == Role::Comment {
        // The leading "x", then the comment.
        if ast.len() != 2 || ast.first() != Some(&Node::Text("x".into())) {
            return None;
        }
        ast.remove(0);
    }
    let [node] = <[Node; 1]>::try_from(ast).ok()?;
    match (role, node) {
        (Role::Single, n @ (Node::VariableBlock(..) | Node::Set(..))) => Some(Tag::Node(n)),
        (Role::Comment, n @ Node::Comment(..)) => Some(Tag::Node(n)),
        (Role::If | Role::Elif | Role::IfElse | Role::EndIf, Node::If(i, end_ws)) => {
            if_part(role, i, end_ws)
        }
        (Role::For | Role::ForElse | Role::EndFor, Node::Forloop(ws, f, end_ws)) => {
            let empty = f.body.is_empty();
            match (role, f.empty_body.as_deref()) {
                (Role::For, None) if empty => Some(Tag::For(ws, f)),
                (Role::ForElse, Some([])) if empty => Some(Tag::ForElse),
                (Role::EndFor, None) if empty => Some(Tag::End(end_ws)),
                _ => None,
            }
        }
        (Role::Filter | Role::EndFilter, Node::FilterSection(ws, f, end_ws)) => {
            match (role, f.body.is_empty()) {
                (Role::Filter, true) => Some(Tag::Filter(ws, f.filter)),
                (Role::EndFilter, true) => Some(Tag::End(end_ws)),
                _ => None,
            }
        }
        (Role::RawOpen, Node::Raw(ws, text, _)) if text.is_empty() => Some(Tag::End(ws)),
        (Role::RawClose, Node::Raw(_, text, ws)) if text.is_empty() => Some(Tag::End(ws)),
        _ => None,
    }
}

fn if_part(role: Role, i: If, end_ws: WS) -> Option<Tag> {
    if !i.conditions.iter().all(|(_, _, body)| body.is_empty()) {
        return None;
    }
    let mut conditions = i.conditions.into_iter();
    match (role, conditions.len(), i.otherwise) {
        (Role::If, 1, None) => conditions.next().map(|(ws, e, _)| Tag::Cond(ws, e)),
        (Role::Elif, 2, None) => conditions.nth(1).map(|(ws, e, _)| Tag::Cond(ws, e)),
        (Role::IfElse, 1, Some((ws, body))) if body.is_empty() => Some(Tag::Else(ws)),
        (Role::EndIf, 1, None) => Some(Tag::End(end_ws)),
        _ => None,
    }
}

#[cfg(test)]
impl Tags<'_> {
    /// How many shapes, and how many tags as they are, Tera parsed.
    pub fn counts(&self) -> (usize, usize) {
        (self.shapes.len(), self.plain)
    }
}

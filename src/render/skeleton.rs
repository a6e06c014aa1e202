// Why: Tera's parser (pest) costs 7 to 30 µs per tag, and a project's templates hold about two
// thousand tags but only a few dozen different shapes of tag (the same `{% endif %}`,
// `{{ project.package }}` and `{% if auth.users %}` again and again). Here the template's
// structure (text, raw blocks, if/elif/else, for/else, filter sections) is read directly, and what
// each tag holds (its expression and whitespace flags) is asked of Tera once per shape (`tags`,
// `shape`). Whitespace is then trimmed by Tera's own rules (`whitespace`). Tera stays the judge:
// any tag it refuses, any tag this module does not know (macro, block, include, ...), any block
// left open or closed out of turn makes this give up (None), and the caller parses the template
// the usual way, so errors are always Tera's own. Tests compare the result with Tera's tree for
// every embedded template and for thousands of random ones.

use tera::ast::{Expr, FilterSection, Forloop, FunctionCall, If, Node, WS};
use tera::Template;

use super::compact::{find_block_start, tag_end};
use super::tags::{Role, Tag, Tags};
use super::whitespace::remove_whitespace;

/// A block whose end tag has not been seen yet, with the body it interrupted.
enum Open {
    If {
        done: Vec<(WS, Expr, Vec<Node>)>,
        /// The branch being read: an `if`/`elif` condition, or (None) the `else`.
        current: (WS, Option<Expr>),
    },
    For {
        ws: WS,
        forloop: Forloop,
        in_else: bool,
    },
    Filter {
        ws: WS,
        filter: FunctionCall,
    },
}

/// The tree Tera would build from `src`, or None (see the module comment).
pub fn parse<'a>(name: &str, src: &'a str, tags: &mut Tags<'a>) -> Option<Template> {
    let mut stack: Vec<(Open, Vec<Node>)> = Vec::new();
    let mut body: Vec<Node> = Vec::new();
    let mut at = 0;
    // Still at the comments a template may start with, which Tera drops.
    let mut leading = true;
    while let Some(start) = find_block_start(src, at) {
        if start > at {
            body.push(Node::Text(src[at..start].to_string()));
            leading = false;
        }
        let end = tag_end(src.as_bytes(), start)?;
        let tag = &src[start..end];
        at = end;
        if tag.starts_with("{#") {
            let comment = node(tags.get(Role::Comment, tag)?)?;
            if !leading {
                body.push(comment);
            }
            continue;
        }
        leading = false;
        if tag.starts_with("{{") {
            body.push(node(tags.get(Role::Single, tag)?)?);
        } else if keyword(tag) == "raw" {
            let (node, close_end) = raw(src, tag, end, tags)?;
            body.push(node);
            at = close_end;
        } else {
            block_tag(tag, tags, &mut stack, &mut body)?;
        }
    }
    if at < src.len() {
        body.push(Node::Text(src[at..].to_string()));
    }
    if !stack.is_empty() {
        return None;
    }
    // What `Template::new` adds to the tree (blocks, macros, imports, parent) is empty here: none
    // of those tags is taken.
    let mut tpl = Template::new(name, None, "").ok()?;
    tpl.ast = remove_whitespace(body, None);
    Some(tpl)
}

fn node(tag: Tag) -> Option<Node> {
    match tag {
        Tag::Node(n) => Some(n),
        _ => None,
    }
}

/// The word after `{%` (or `{%-`) and Tera's whitespace.
fn keyword(tag: &str) -> &str {
    let rest = tag
        .strip_prefix("{%-")
        .or_else(|| tag.strip_prefix("{%"))
        .unwrap_or("");
    let rest = rest.trim_start_matches(PEST_WHITESPACE);
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..len]
}

/// Tera's grammar's WHITESPACE (narrower than Rust's `trim`).
const PEST_WHITESPACE: [char; 4] = [' ', '\t', '\r', '\n'];

/// A `{% raw %}` block whose opening tag is `open`, ending at `from`: its node and where it ends.
fn raw<'a>(src: &'a str, open: &'a str, from: usize, tags: &mut Tags<'a>) -> Option<(Node, usize)> {
    let Tag::End(start_ws) = tags.get(Role::RawOpen, open)? else {
        return None;
    };
    let (close_start, close_end) = find_endraw(src, from)?;
    let Tag::End(end_ws) = tags.get(Role::RawClose, &src[close_start..close_end])? else {
        return None;
    };
    let text = src[from..close_start].to_string();
    Some((Node::Raw(start_ws, text, end_ws), close_end))
}

/// The first `{% endraw %}` at or after `from`, exactly as Tera's grammar matches it:
/// `{%-` or `{%`, whitespace, `endraw`, whitespace, `-%}` or `%}`.
fn find_endraw(src: &str, from: usize) -> Option<(usize, usize)> {
    // Looking for the `%` (a `char` pattern searches with memchr): raw text, such as the lock
    // file's TOML, is full of `{` but hardly ever holds a `%`.
    let mut at = from;
    loop {
        let pct = at + src.get(at..)?.find('%')?;
        at = pct + 1;
        if pct == from || src.as_bytes()[pct - 1] != b'{' {
            continue;
        }
        let rest = src[at..].strip_prefix('-').unwrap_or(&src[at..]);
        let rest = rest.trim_start_matches(PEST_WHITESPACE);
        if let Some(rest) = rest.strip_prefix("endraw") {
            let rest = rest.trim_start_matches(PEST_WHITESPACE);
            if let Some(rest) = rest.strip_prefix("-%}").or_else(|| rest.strip_prefix("%}")) {
                return Some((pct - 1, src.len() - rest.len()));
            }
        }
    }
}

/// Opens, continues or closes a block; None on a tag out of place or not known here.
fn block_tag<'a>(
    tag: &'a str,
    tags: &mut Tags<'a>,
    stack: &mut Vec<(Open, Vec<Node>)>,
    body: &mut Vec<Node>,
) -> Option<()> {
    let top = stack.last_mut().map(|(open, _)| open);
    match (keyword(tag), top) {
        ("set" | "set_global", _) => body.push(node(tags.get(Role::Single, tag)?)?),
        ("if", _) => {
            let Tag::Cond(ws, e) = tags.get(Role::If, tag)? else {
                return None;
            };
            let open = Open::If {
                done: Vec::new(),
                current: (ws, Some(e)),
            };
            stack.push((open, std::mem::take(body)));
        }
        ("elif", Some(Open::If { done, current })) => {
            let Tag::Cond(ws, e) = tags.get(Role::Elif, tag)? else {
                return None;
            };
            let (prev_ws, prev) = std::mem::replace(current, (ws, Some(e)));
            done.push((prev_ws, prev?, std::mem::take(body)));
        }
        ("else", Some(Open::If { done, current })) => {
            let Tag::Else(ws) = tags.get(Role::IfElse, tag)? else {
                return None;
            };
            let (prev_ws, prev) = std::mem::replace(current, (ws, None));
            done.push((prev_ws, prev?, std::mem::take(body)));
        }
        (
            "else",
            Some(Open::For {
                forloop, in_else, ..
            }),
        ) if !*in_else => {
            let Tag::ForElse = tags.get(Role::ForElse, tag)? else {
                return None;
            };
            forloop.body = std::mem::take(body);
            *in_else = true;
        }
        ("endif", Some(Open::If { .. })) => {
            let Tag::End(end_ws) = tags.get(Role::EndIf, tag)? else {
                return None;
            };
            let Some((Open::If { mut done, current }, outer)) = stack.pop() else {
                return None;
            };
            let inner = std::mem::replace(body, outer);
            let otherwise = match current {
                (ws, Some(e)) => {
                    done.push((ws, e, inner));
                    None
                }
                (ws, None) => Some((ws, inner)),
            };
            let conditions = done;
            body.push(Node::If(
                If {
                    conditions,
                    otherwise,
                },
                end_ws,
            ));
        }
        ("for", _) => {
            let Tag::For(ws, forloop) = tags.get(Role::For, tag)? else {
                return None;
            };
            let open = Open::For {
                ws,
                forloop,
                in_else: false,
            };
            stack.push((open, std::mem::take(body)));
        }
        ("endfor", Some(Open::For { .. })) => {
            let Tag::End(end_ws) = tags.get(Role::EndFor, tag)? else {
                return None;
            };
            let Some((
                Open::For {
                    ws,
                    mut forloop,
                    in_else,
                },
                outer,
            )) = stack.pop()
            else {
                return None;
            };
            let inner = std::mem::replace(body, outer);
            if in_else {
                forloop.empty_body = Some(inner);
            } else {
                forloop.body = inner;
            }
            body.push(Node::Forloop(ws, forloop, end_ws));
        }
        ("filter", _) => {
            let Tag::Filter(ws, filter) = tags.get(Role::Filter, tag)? else {
                return None;
            };
            stack.push((Open::Filter { ws, filter }, std::mem::take(body)));
        }
        ("endfilter", Some(Open::Filter { .. })) => {
            let Tag::End(end_ws) = tags.get(Role::EndFilter, tag)? else {
                return None;
            };
            let Some((Open::Filter { ws, filter }, outer)) = stack.pop() else {
                return None;
            };
            let inner = std::mem::replace(body, outer);
            let section = FilterSection {
                filter,
                body: inner,
            };
            body.push(Node::FilterSection(ws, section, end_ws));
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests;

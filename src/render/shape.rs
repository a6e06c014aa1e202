// Why: tags that differ only in their string literals and names share one parse by Tera:
// `{% if auth.users %}` and `{% if auth.apikey %}` are both `{% if __v0 %}`, the lock file's
// hundreds of `sorted_before("alembic")`, `sorted_before("anyio")`, ... are one. A tag's shape
// has each non-empty literal's text swapped for a numbered marker and each name for a numbered
// stand-in; what Tera makes of the shape gets them back. That is Tera's own answer for the tag
// itself because Tera's parse depends on neither, with three exceptions, each handled:
// - it folds `"a" ~ "b"` into one string and drops an empty literal from such a concatenation:
//   empty literals are left as they are, and a marker must come back as a whole string value;
// - it matches some words literally where a name may stand, even as a name's first letters
//   (`true_x` is `true` then `_x`, `x is nothing` is `x is not hing`): names that are, or start
//   with, such a word are left as they are;
// - some places take a plain name but not a dotted one (`a.b(...)` is no call): a stand-in for a
//   dotted name must come back as a value (an identifier), not as a filter, argument or loop name.
// A stand-in that does not come back exactly once, whole, where it may, makes the tag be parsed
// as it is (`tags`).

use std::collections::HashMap;

use tera::ast::{Expr, ExprVal, FunctionCall, Node};

use super::tags::Tag;

/// Literal markers: private-use characters, never quotes, never Tera syntax.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// Name stand-ins: `__v0`, `__v1`, ...
const NAME: &str = "__v";

/// Words the grammar matches literally where a name may stand (`true`, `or `, `not `, `in`,
/// `is`, ...): a name that starts with one is left as it is.
const WORD_PREFIXES: [&str; 9] = [
    "true", "false", "True", "False", "or", "and", "not", "in", "is",
];

/// Tag keywords, left as they are.
const KEYWORDS: [&str; 25] = [
    "if",
    "elif",
    "else",
    "endif",
    "for",
    "endfor",
    "filter",
    "endfilter",
    "set",
    "set_global",
    "raw",
    "endraw",
    "macro",
    "endmacro",
    "block",
    "endblock",
    "include",
    "import",
    "extends",
    "break",
    "continue",
    "as",
    "ignore",
    "missing",
    "super",
];

/// A tag with its literals and names swapped, and what they stood for.
#[derive(Debug)]
pub struct Shape<'a> {
    pub text: String,
    literals: Vec<&'a str>,
    names: Vec<&'a str>,
}

impl<'a> Shape<'a> {
    /// None when there is nothing to swap, or the tag already holds a marker or `__v`.
    pub fn of(tag: &'a str) -> Option<Self> {
        if tag.contains([OPEN, CLOSE]) || tag.contains(NAME) {
            return None;
        }
        let mut shape = Shape {
            text: String::with_capacity(tag.len()),
            literals: Vec::new(),
            names: Vec::new(),
        };
        let b = tag.as_bytes();
        // `tag[copied..i]` is still to be copied as it is.
        let (mut i, mut copied) = (0, 0);
        while i < b.len() {
            match b[i] {
                quote @ (b'"' | b'\'' | b'`') => {
                    let close = i + 1 + tag[i + 1..].find(char::from(quote))?;
                    if close > i + 1 {
                        shape.text.push_str(&tag[copied..=i]);
                        shape.text.push(OPEN);
                        shape.text.push_str(&shape.literals.len().to_string());
                        shape.text.push(CLOSE);
                        shape.literals.push(&tag[i + 1..close]);
                        copied = close;
                    }
                    i = close + 1;
                }
                c if (c.is_ascii_alphabetic() || c == b'_')
                    && (i == 0 || !(is_name_byte(b[i - 1]) || b[i - 1] == b'.')) =>
                {
                    let end = name_end(b, i);
                    let name = &tag[i..end];
                    if swappable(name) {
                        shape.text.push_str(&tag[copied..i]);
                        shape.text.push_str(NAME);
                        shape.text.push_str(&shape.names.len().to_string());
                        shape.names.push(name);
                        copied = end;
                    }
                    i = end;
                }
                _ => i += 1,
            }
        }
        if shape.literals.is_empty() && shape.names.is_empty() {
            return None;
        }
        shape.text.push_str(&tag[copied..]);
        Some(shape)
    }

    /// `learned` (what Tera made of this shape) with the literals and names put back; None
    /// unless each comes back exactly once, whole, where it may.
    pub fn fill(&self, mut learned: Tag) -> Option<Tag> {
        let mut filler = Filler {
            shape: self,
            literals: vec![false; self.literals.len()],
            names: vec![false; self.names.len()],
        };
        let complete = filler.tag(&mut learned)
            && !filler.literals.contains(&false)
            && !filler.names.contains(&false);
        complete.then_some(learned)
    }
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The end of the (dotted) name starting at `start`, as the grammar's `dotted_ident` reads it.
fn name_end(b: &[u8], start: usize) -> usize {
    let mut end = start + 1;
    loop {
        while end < b.len() && is_name_byte(b[end]) {
            end += 1;
        }
        if end + 1 < b.len() && b[end] == b'.' && is_name_byte(b[end + 1]) {
            end += 1;
        } else {
            return end;
        }
    }
}

fn swappable(name: &str) -> bool {
    !KEYWORDS.contains(&name) && !WORD_PREFIXES.iter().any(|w| name.starts_with(w))
}

/// Puts a shape's literals and names back, noting which came back.
struct Filler<'s, 'a> {
    shape: &'s Shape<'a>,
    literals: Vec<bool>,
    names: Vec<bool>,
}

impl Filler<'_, '_> {
    fn tag(&mut self, tag: &mut Tag) -> bool {
        match tag {
            Tag::Node(Node::VariableBlock(_, e)) | Tag::Cond(_, e) => self.expr(e),
            Tag::Node(Node::Set(_, set)) => {
                self.name(&mut set.key, false) && self.expr(&mut set.value)
            }
            Tag::For(_, f) => {
                f.key.as_mut().is_none_or(|k| self.name(k, false))
                    && self.name(&mut f.value, false)
                    && self.expr(&mut f.container)
            }
            Tag::Filter(_, call) => self.call(call),
            _ => false,
        }
    }

    fn expr(&mut self, e: &mut Expr) -> bool {
        self.val(&mut e.val) && e.filters.iter_mut().all(|f| self.call(f))
    }

    fn call(&mut self, call: &mut FunctionCall) -> bool {
        self.name(&mut call.name, false) && self.args(&mut call.args)
    }

    fn args(&mut self, args: &mut HashMap<String, Expr>) -> bool {
        for (mut key, mut value) in std::mem::take(args) {
            // Two stand-ins for one name would be one argument in Tera's own map.
            if !self.name(&mut key, false) || !self.expr(&mut value) || args.contains_key(&key) {
                return false;
            }
            args.insert(key, value);
        }
        true
    }

    fn val(&mut self, v: &mut ExprVal) -> bool {
        match v {
            ExprVal::String(s) => self.literal(s),
            ExprVal::Int(_) | ExprVal::Float(_) | ExprVal::Bool(_) => true,
            ExprVal::Ident(s) => self.name(s, true),
            ExprVal::Math(m) => self.expr(&mut m.lhs) && self.expr(&mut m.rhs),
            ExprVal::Logic(l) => self.expr(&mut l.lhs) && self.expr(&mut l.rhs),
            ExprVal::In(i) => self.expr(&mut i.lhs) && self.expr(&mut i.rhs),
            ExprVal::Test(t) => {
                self.name(&mut t.ident, true)
                    && self.name(&mut t.name, false)
                    && t.args.iter_mut().all(|a| self.expr(a))
            }
            ExprVal::MacroCall(m) => {
                self.name(&mut m.namespace, false)
                    && self.name(&mut m.name, false)
                    && self.args(&mut m.args)
            }
            ExprVal::FunctionCall(f) => self.call(f),
            ExprVal::Array(items) => items.iter_mut().all(|i| self.expr(i)),
            ExprVal::StringConcat(c) => c.values.iter_mut().all(|v| self.val(v)),
        }
    }

    /// A string value that is exactly one marker becomes its literal's text.
    fn literal(&mut self, s: &mut String) -> bool {
        if !s.contains([OPEN, CLOSE]) {
            return !s.contains(NAME);
        }
        let index = s
            .strip_prefix(OPEN)
            .and_then(|r| r.strip_suffix(CLOSE))
            .and_then(|n| n.parse::<usize>().ok());
        match index {
            Some(i) if i < self.literals.len() && !self.literals[i] => {
                self.literals[i] = true;
                *s = self.shape.literals[i].to_string();
                true
            }
            _ => false,
        }
    }

    /// A name that is exactly one stand-in becomes its name (a dotted one only if `dotted` may).
    fn name(&mut self, s: &mut String, dotted: bool) -> bool {
        if !s.contains(NAME) {
            return !s.contains([OPEN, CLOSE]);
        }
        let index = s.strip_prefix(NAME).and_then(|n| n.parse::<usize>().ok());
        match index {
            Some(i) if i < self.names.len() && !self.names[i] => {
                let name = self.shape.names[i];
                if !dotted && name.contains('.') {
                    return false;
                }
                self.names[i] = true;
                *s = name.to_string();
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tags::{learn, Role, Tags};

    /// Through whatever shape, the tag comes out as Tera parses it as it is (or is refused).
    fn assert_same<'a>(role: Role, tag: &'a str, tags: &mut Tags<'a>) {
        assert_eq!(tags.get(role, tag), learn(role, tag), "{tag}");
    }

    #[test]
    fn tags_differing_in_names_and_literals_share_a_shape() {
        let mut tags = Tags::default();
        let same = [
            "{% if auth.users %}",
            "{% if auth.apikey %}",
            "{% if loop.first %}",
            "{% if x.0 %}",
        ];
        for tag in same {
            assert_same(Role::If, tag, &mut tags);
        }
        for name in ["alembic", "anyio", "zizmor"] {
            let tag = format!("{{% if not placed and name is sorted_before(\"{name}\") %}}");
            assert_same(Role::If, Box::leak(tag.into_boxed_str()), &mut tags);
        }
        assert_eq!(tags.counts(), (2, 0));
    }

    #[test]
    fn every_place_a_literal_or_name_can_be_gets_it_back() {
        let cases = [
            (Role::Single, "{{ \"a\" ~ x ~ 'b' }}"),
            (Role::Single, "{{ \"\" ~ x ~ '' ~ y }}"),
            (
                Role::Single,
                "{{ x | replace(from=\"_\", to='-') | default(value=`d`) }}",
            ),
            (Role::Single, "{{ [\"a\", 'b', c.d] | join(sep=\", \") }}"),
            (Role::Single, "{{ \"a\" in [\"a\"] and not 'b' == x }}"),
            (Role::Single, "{{ a.b is not containing(\"c\") }}"),
            (Role::Single, "{{ m::call(a=b.c, d=\"e\") }}"),
            (Role::Single, "{{ 1 + a * (b - 2) / c % 3 }}"),
            (Role::Single, "{{ f() ~ g(h=1.5) }}"),
            (Role::Single, "{{- x -}}"),
            (
                Role::Single,
                "{% set_global root = `\nmulti\n\"line\"\n` %}",
            ),
            (Role::Single, "{%- set x = y | length -%}"),
            (Role::If, "{% if x is containing(\"a\") or \"b\" in y %}"),
            (Role::Elif, "{%- elif f(a=\"1\") == \"2\" -%}"),
            (Role::For, "{% for k, v in [\"a\", \"b\"] | reverse %}"),
            (Role::For, "{% for p in r.permissions %}"),
            (Role::Filter, "{% filter replace(from=\"a\", to=\"b\") %}"),
            (Role::Filter, "{% filter upper %}"),
        ];
        let mut tags = Tags::default();
        for (role, tag) in cases {
            assert_same(role, tag, &mut tags);
        }
        assert_eq!(tags.counts().1, 0, "all through a shape");
    }

    #[test]
    fn where_a_name_or_literal_matters_tera_s_own_parse_decides() {
        let cases = [
            // Words the grammar matches inside names.
            "{{ true_x }}",
            "{{ x is nothing }}",
            "{{ a inside }}",
            "{{ not_x or origin and island }}",
            // Dotted names where only plain ones go (Tera refuses these).
            "{{ a.b(x=1) }}",
            "{{ x | a.b }}",
            "{{ f(a.b=1) }}",
            "{{ x is a.b }}",
            "{{ a.b::c() }}",
            // Inside an identifier, a literal is part of it.
            "{{ consts[\"items:read\"] }}",
            "{{ a[b] }}",
            // One argument given twice.
            "{{ f(a=1, a=2) }}",
            // Folded literals.
            "{{ \"a\" ~ 'b' ~ `c` ~ x }}",
            // Already holding a marker or a stand-in's prefix.
            "{{ \"\u{E000}0\u{E001}\" }}",
            "{{ __v0 }}",
            // Refused outright.
            "{{ \"open }}",
            "{{ oops( }}",
        ];
        let mut tags = Tags::default();
        for tag in cases {
            assert_same(Role::Single, tag, &mut tags);
        }
        assert_same(Role::For, "{% for a.b in c %}", &mut tags);
        assert_same(Role::Single, "{% set a.b = c %}", &mut tags);
    }
}

// Why: Tera's parser (pest) spends about a thousand instructions on every byte of literal text,
// and the templates are almost all literal text (a few hundred tags in ~300 KB), so parsing them
// was nearly all the time `portcullis new` took. Here each long run of literal text is swapped for
// a short marker before Tera parses the template, and the marker is swapped back in the parsed
// tree. Only the run's interior is swapped (from its first to its last non-whitespace character):
// its surrounding whitespace stays in place for Tera's `{%-`/`-%}` trimming, so the tree is exactly
// the one Tera builds from the original (tests compare the two for every embedded template).
// Anything unexpected (a marker that does not come back as text, a parse error, a template that
// already holds a marker character) falls back to parsing the original text, so errors and
// results never depend on this shortcut. `skeleton` now takes every embedded template; this is the
// next best for a template it leaves to Tera (one with macros, blocks or includes).

use tera::ast::Node;
use tera::Template;

/// Marker delimiters: private-use characters, never whitespace, never Tera syntax.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// Runs shorter than this stay as they are (a marker is 3 to 10 bytes).
const MIN_RUN: usize = 16;

/// Parses `source` through the shortcut: None whenever it cannot vouch for the result (the
/// caller then parses the original).
pub fn parse_compacted(name: &str, source: &str) -> Option<Template> {
    let compacted = compact(source)?;
    let mut tpl = Template::new(name, None, &compacted.source).ok()?;
    restore(&mut tpl, &compacted.runs).then_some(tpl)
}

/// A template with its long text runs replaced by markers; `runs[i]` is what marker `i` stands for.
struct Compacted<'a> {
    source: String,
    runs: Vec<&'a str>,
}

/// None when the template already contains a marker character.
fn compact(src: &str) -> Option<Compacted<'_>> {
    if src.contains(OPEN) || src.contains(CLOSE) {
        return None;
    }
    let b = src.as_bytes();
    let mut out = Compacted {
        source: String::with_capacity(src.len() / 8),
        runs: Vec::new(),
    };
    let mut text_start = 0;
    while let Some(tag) = find_block_start(src, text_start) {
        out.push_text(&src[text_start..tag]);
        // A tag whose end is not found is left to Tera to judge, as is everything after it.
        let Some(mut end) = tag_end(b, tag) else {
            out.source.push_str(&src[tag..]);
            return Some(out);
        };
        if tag_word(&src[tag..end]) == Some("raw") {
            // Raw text is not text to Tera: copy it, up to and including `{% endraw %}`.
            match find_endraw(src, end) {
                Some(e) => end = e,
                None => {
                    out.source.push_str(&src[tag..]);
                    return Some(out);
                }
            }
        }
        out.source.push_str(&src[tag..end]);
        text_start = end;
    }
    out.push_text(&src[text_start..]);
    Some(out)
}

impl<'a> Compacted<'a> {
    fn push_text(&mut self, text: &'a str) {
        let body_start = text.len() - text.trim_start().len();
        let body_end = text.trim_end().len();
        if body_end < body_start + MIN_RUN {
            self.source.push_str(text);
            return;
        }
        self.source.push_str(&text[..body_start]);
        self.source.push(OPEN);
        self.source.push_str(&self.runs.len().to_string());
        self.source.push(CLOSE);
        self.source.push_str(&text[body_end..]);
        self.runs.push(&text[body_start..body_end]);
    }
}

/// Where the next `{{`, `{%` or `{#` starts: where Tera's text ends.
pub(super) fn find_block_start(src: &str, from: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = from;
    loop {
        // A `char` pattern searches with memchr; most text has few braces.
        i += src.get(i..)?.find('{')?;
        if matches!(b.get(i + 1), Some(b'{' | b'%' | b'#')) {
            return Some(i);
        }
        i += 1;
    }
}

/// Just past the tag starting at `start`: the first `#}` for a comment, otherwise the first `}}`
/// or `%}` outside a string literal.
pub(super) fn tag_end(b: &[u8], start: usize) -> Option<usize> {
    let close = match b[start + 1] {
        b'#' => return find(b, start + 2, b"#}").map(|i| i + 2),
        b'{' => b'}',
        _ => b'%',
    };
    let mut i = start + 2;
    while i + 1 < b.len() {
        match b[i] {
            q @ (b'"' | b'\'' | b'`') => i = find(b, i + 1, &[q])?,
            c if c == close && b[i + 1] == b'}' => return Some(i + 2),
            _ => {}
        }
        i += 1;
    }
    None
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The keyword of a `{% ... %}` tag (`raw`, `endraw`, ...) when the tag holds nothing else.
fn tag_word(tag: &str) -> Option<&str> {
    let inner = tag.strip_prefix("{%")?.strip_suffix("%}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    Some(inner.trim())
}

/// Just past the first `{% endraw %}` at or after `from`.
fn find_endraw(src: &str, from: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = from;
    while let Some(start) = find(b, i, b"{%") {
        let end = find(b, start + 2, b"%}")? + 2;
        if tag_word(&src[start..end]) == Some("endraw") {
            return Some(end);
        }
        i = start + 2;
    }
    None
}

/// Puts the runs back. True only if every marker came back exactly once, as literal text.
fn restore(tpl: &mut Template, runs: &[&str]) -> bool {
    let mut seen = vec![false; runs.len()];
    if !restore_nodes(&mut tpl.ast, runs, &mut seen) || seen.contains(&false) {
        return false;
    }
    // `blocks` and `macros` are copies of parts of `ast`, made by `Template::new`.
    let copies = tpl
        .blocks
        .values_mut()
        .map(|b| &mut b.body)
        .chain(tpl.macros.values_mut().map(|m| &mut m.body));
    for body in copies {
        if !restore_nodes(body, runs, &mut vec![false; runs.len()]) {
            return false;
        }
    }
    true
}

fn restore_nodes(nodes: &mut [Node], runs: &[&str], seen: &mut [bool]) -> bool {
    nodes.iter_mut().all(|node| match node {
        Node::Text(s) => restore_text(s, runs, seen),
        Node::Raw(_, s, _) | Node::Comment(_, s) => !s.contains(OPEN),
        Node::MacroDefinition(_, m, _) => restore_nodes(&mut m.body, runs, seen),
        Node::FilterSection(_, f, _) => restore_nodes(&mut f.body, runs, seen),
        Node::Block(_, b, _) => restore_nodes(&mut b.body, runs, seen),
        Node::Forloop(_, f, _) => {
            restore_nodes(&mut f.body, runs, seen)
                && f.empty_body
                    .as_mut()
                    .is_none_or(|body| restore_nodes(body, runs, seen))
        }
        Node::If(i, _) => {
            i.conditions
                .iter_mut()
                .all(|(_, _, body)| restore_nodes(body, runs, seen))
                && i.otherwise
                    .as_mut()
                    .is_none_or(|(_, body)| restore_nodes(body, runs, seen))
        }
        _ => true,
    })
}

/// Replaces the markers in one text node; false on a malformed or repeated marker.
fn restore_text(text: &mut String, runs: &[&str], seen: &mut [bool]) -> bool {
    if !text.contains(OPEN) {
        return true;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(open) = rest.find(OPEN) {
        out.push_str(&rest[..open]);
        rest = &rest[open + OPEN.len_utf8()..];
        let Some(close) = rest.find(CLOSE) else {
            return false;
        };
        let index: Option<usize> = rest[..close].parse().ok();
        let Some(i) = index.filter(|i| *i < runs.len() && !seen[*i]) else {
            return false;
        };
        seen[i] = true;
        out.push_str(runs[i]);
        rest = &rest[close + CLOSE.len_utf8()..];
    }
    if rest.contains(CLOSE) {
        return false;
    }
    out.push_str(rest);
    *text = out;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortcut is taken and gives the very template Tera's own parse does.
    fn assert_same(source: &str) {
        let fast = parse_compacted("t", source).expect("the shortcut is taken");
        let plain = Template::new("t", None, source).unwrap();
        assert_eq!(fast.ast, plain.ast, "{source:?}");
        assert_eq!(fast.macros, plain.macros, "{source:?}");
        assert_eq!(fast.parent, plain.parent, "{source:?}");
        assert_eq!(fast.imported_macro_files, plain.imported_macro_files);
        let mut fast_blocks: Vec<_> = fast.blocks.into_iter().collect();
        let mut plain_blocks: Vec<_> = plain.blocks.into_iter().collect();
        fast_blocks.sort_by(|a, b| a.0.cmp(&b.0));
        plain_blocks.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(fast_blocks, plain_blocks, "{source:?}");
    }

    const LONG: &str =
        "def f(x: dict[str, int]) -> None:\n    return {k: v for k, v in x}  # }} %}";

    #[test]
    fn long_runs_are_compacted_and_short_ones_kept() {
        let src = format!("  {LONG}\n{{{{ a }}}}ab\n");
        let c = compact(&src).unwrap();
        assert_eq!(c.runs, [LONG]);
        assert_eq!(c.source, "  \u{E000}0\u{E001}\n{{ a }}ab\n");
    }

    #[test]
    fn the_parsed_tree_is_tera_s_own() {
        // `@` stands for a long run of literal text.
        let cases = [
            "@",
            "\n\n  @  \n\n{%- if a -%}\n  @\n{%- else %}\t@ \n{% endif -%}\n",
            "{% for x in xs -%}\n  @\n{%- else -%} @ {% endfor %}@",
            "{% filter py_import %}from {{ p }}.x import @{% endfilter %}",
            "{% macro m(a) -%}\n @\n{%- endmacro m %}\n@",
            "{# @ #}@{#- c -#}\n  @  \n",
            "{% raw %}@ {{ x }} @{% endraw %}@{%- raw -%} @ {%- endraw -%}",
            "{{ \"}}\" ~ '%}' ~ `{#` }}@{% set s = \"{{\" %}@",
            "{% block b %}@{% block c %} @ {% endblock c %}{% endblock b %}",
            "\u{a0}\u{2028}@\u{3000}\r\n{{- x -}}\r\n@\u{85}",
            "@{{ x }}@{",
            "{% include \"other\" ignore missing %}@",
        ];
        for case in cases {
            let src = case.replace('@', LONG);
            assert_same(&src);
        }
    }

    #[test]
    fn every_embedded_template_parses_to_tera_s_own_tree_through_the_shortcut() {
        for f in crate::templates::project_files() {
            if let (true, Ok(text)) = (f.path.ends_with(".tera"), std::str::from_utf8(f.contents)) {
                // Not a timing test, but a template the shortcut gives up on is parsed at Tera's
                // own (several times slower) speed: this makes it show.
                assert_same(text);
            }
        }
    }

    #[test]
    fn a_template_holding_a_marker_character_is_parsed_as_it_is() {
        let src = format!("{LONG}\u{E000}0\u{E001}{LONG}");
        assert!(compact(&src).is_none());
        assert!(parse_compacted("t", &src).is_none());
    }
}

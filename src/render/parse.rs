// Why: parsing templates is most of what `portcullis new` costs, so it is done as little and as
// fast as possible: only the templates a project needs (and those they include, import or extend)
// are parsed, each by `skeleton` (which hands each shape of tag to Tera once, sharing what it
// learns across all the templates of one parse), or, when that gives up, through `compact`'s
// shortcut, or finally by Tera itself. One thread: with each shape parsed once, the whole project
// parses in a few milliseconds, and a second thread (each with its own tags to learn) measured no
// faster on a busy machine.

use tera::ast::Node;
use tera::Template;

use super::compact::parse_compacted;
use super::skeleton;
pub use super::tags::Tags;

/// Parses `source` exactly as Tera would, only faster (see `skeleton` and `compact`).
#[cfg(test)]
pub fn parse_template(name: &str, source: &str) -> tera::Result<Template> {
    parse_with(name, source, &mut Tags::default())
}

/// Parses every `(name, source)`, in the order given; `tags` carries what is known of the tags
/// from one call to the next.
pub fn parse_all<'a>(
    sources: &[(&'a str, &'a str)],
    tags: &mut Tags<'a>,
) -> Vec<tera::Result<Template>> {
    sources
        .iter()
        .map(|(name, source)| parse_with(name, source, tags))
        .collect()
}

fn parse_with<'a>(name: &str, source: &'a str, tags: &mut Tags<'a>) -> tera::Result<Template> {
    if let Some(tpl) = skeleton::parse(name, source, tags) {
        return Ok(tpl);
    }
    match parse_compacted(name, source) {
        Some(tpl) => Ok(tpl),
        None => Template::new(name, None, source),
    }
}

/// The templates `tpl` extends, imports macros from, or includes.
pub fn dependencies(tpl: &Template) -> Vec<String> {
    let mut out: Vec<String> = tpl.parent.iter().cloned().collect();
    out.extend(
        tpl.imported_macro_files
            .iter()
            .map(|(file, _)| file.clone()),
    );
    includes(&tpl.ast, &mut out);
    out
}

fn includes(nodes: &[Node], out: &mut Vec<String>) {
    for node in nodes {
        match node {
            Node::Include(_, names, _) => out.extend(names.iter().cloned()),
            Node::MacroDefinition(_, m, _) => includes(&m.body, out),
            Node::FilterSection(_, f, _) => includes(&f.body, out),
            Node::Block(_, b, _) => includes(&b.body, out),
            Node::Forloop(_, f, _) => {
                includes(&f.body, out);
                includes(f.empty_body.as_deref().unwrap_or_default(), out);
            }
            Node::If(i, _) => {
                for (_, _, body) in &i.conditions {
                    includes(body, out);
                }
                if let Some((_, body)) = &i.otherwise {
                    includes(body, out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &str =
        "def f(x: dict[str, int]) -> None:\n    return {k: v for k, v in x}  # }} %}";

    #[test]
    fn errors_are_tera_s_own() {
        let src = format!("{LONG}\n{LONG}\n{{{{ oops( }}}}\n");
        let fast = parse_template("t", &src).unwrap_err().to_string();
        let plain = Template::new("t", None, &src).unwrap_err().to_string();
        assert_eq!(fast, plain);
        let e = format!("{:?}", parse_template("t", &src).unwrap_err());
        assert!(
            e.contains("--> 5:"),
            "the error points at the original line: {e}"
        );
    }

    #[test]
    fn what_the_shortcut_refuses_is_parsed_as_it_is() {
        let src = format!("{LONG}\u{E000}0\u{E001}{LONG}{{{{ x }}}}");
        let tpl = parse_template("t", &src).unwrap();
        assert_eq!(tpl.ast, Template::new("t", None, &src).unwrap().ast);
    }

    #[test]
    fn results_come_back_in_order_and_failures_stay_tera_s() {
        let sources = [
            ("a", "{{ ok }}"),
            ("b", "{{ oops( }}"),
            ("c", "{% if a %}{{ ok }}{% endif %}"),
        ];
        let mut tags = Tags::default();
        let got = parse_all(&sources, &mut tags);
        assert_eq!(got[0].as_ref().unwrap().name, "a");
        let plain = Template::new("b", None, sources[1].1)
            .unwrap_err()
            .to_string();
        assert_eq!(got[1].as_ref().unwrap_err().to_string(), plain);
        assert_eq!(
            got[2].as_ref().unwrap().ast,
            Template::new("c", None, sources[2].1).unwrap().ast
        );
    }

    #[test]
    fn dependencies_are_found_at_any_depth() {
        let src = "{% import \"m.tera\" as m %}{% if a %}{% for x in y %}\
                   {% include [\"a.tera\", \"b.tera\"] %}{% endfor %}{% endif %}";
        let tpl = parse_template("t", src).unwrap();
        assert_eq!(dependencies(&tpl), ["m.tera", "a.tera", "b.tera"]);
    }
}

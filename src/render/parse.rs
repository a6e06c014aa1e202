// Why: parsing templates is most of what `portcullis new` costs, so it is done as little and as
// fast as possible: only the templates a project needs (and those they include, import or extend)
// are parsed, each through `compact`'s shortcut, spread over the free cores.

use tera::ast::Node;
use tera::Template;

use super::compact::parse_compacted;

/// Parses `source` exactly as Tera would, only faster (see `compact`).
pub fn parse_template(name: &str, source: &str) -> tera::Result<Template> {
    match parse_compacted(name, source) {
        Some(tpl) => Ok(tpl),
        None => Template::new(name, None, source),
    }
}

/// Parses every `(name, source)`, on as many threads as are free (up to four) when there is
/// enough to parse; results come back in the order given, whichever thread made them.
pub fn parse_all(sources: &[(&str, &str)]) -> Vec<tera::Result<Template>> {
    let threads = thread_count(sources);
    if threads < 2 {
        return sources.iter().map(|(n, s)| parse_template(n, s)).collect();
    }
    // Largest first, each thread taking the next one, so they finish at about the same time.
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sources[i].1.len()));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        while let Some(&i) = order.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            done.push((i, parse_template(sources[i].0, sources[i].1)));
        }
        done
    };
    let mut results: Vec<Option<tera::Result<Template>>> = sources.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        // A thread the system refuses is no error: this one takes its share.
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        let mut done = work();
        for helper in helpers {
            done.extend(
                helper
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            );
        }
        for (i, result) in done {
            results[i] = Some(result);
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every template was parsed"))
        .collect()
}

fn thread_count(sources: &[(&str, &str)]) -> usize {
    const MAX_THREADS: usize = 4;
    /// Below this many bytes a thread costs more than it saves.
    const PARALLEL_BYTES: usize = 64 * 1024;
    if sources.iter().map(|(_, s)| s.len()).sum::<usize>() < PARALLEL_BYTES {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS)
        .min(sources.len())
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
    fn parallel_results_come_back_in_order() {
        let big = LONG.repeat(1200); // over the threshold for threads
        let sources: Vec<(String, String)> = (0..9)
            .map(|i| (format!("t{i}"), format!("{big}{{{{ v{i} }}}}")))
            .collect();
        let refs: Vec<(&str, &str)> = sources.iter().map(|(n, s)| (&**n, &**s)).collect();
        for (tpl, (name, _)) in parse_all(&refs).into_iter().zip(&refs) {
            let tpl = tpl.unwrap();
            assert_eq!(&tpl.name, name);
            assert_eq!(tpl.ast.len(), 2);
        }
        let bad = [("a", "{{ ok }}"), ("b", "{{ oops( }}")];
        let got: Vec<bool> = parse_all(&bad).iter().map(|r| r.is_ok()).collect();
        assert_eq!(got, [true, false]);
    }

    #[test]
    fn dependencies_are_found_at_any_depth() {
        let src = "{% import \"m.tera\" as m %}{% if a %}{% for x in y %}\
                   {% include [\"a.tera\", \"b.tera\"] %}{% endfor %}{% endif %}";
        let tpl = parse_template("t", src).unwrap();
        assert_eq!(dependencies(&tpl), ["m.tera", "a.tera", "b.tera"]);
    }
}

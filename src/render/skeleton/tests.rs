// Why: the skeleton must build exactly Tera's tree, so every test compares with Tera's own parse:
// for every embedded template, for whitespace-control corner cases, for templates it must refuse,
// and for thousands of random ones glued from valid and invalid pieces.

use super::*;

/// The skeleton takes `source` and gives the very template Tera's own parse does.
fn assert_same<'a>(source: &'a str, tags: &mut Tags<'a>) {
    let plain = Template::new("t", None, source).unwrap();
    let fast = parse("t", source, tags).expect("the skeleton takes it");
    assert_eq!(fast.ast, plain.ast, "{source:?}");
    assert_eq!(fast.name, plain.name);
    assert_eq!(fast.path, plain.path);
    assert_eq!(fast.macros, plain.macros);
    assert_eq!(fast.blocks, plain.blocks);
    assert_eq!(fast.parent, plain.parent);
    assert_eq!(fast.imported_macro_files, plain.imported_macro_files);
}

#[test]
fn every_embedded_template_is_parsed_to_tera_s_own_tree() {
    // One cache for all, as for a project: what one template taught is right for the next.
    let mut tags = Tags::default();
    for f in crate::templates::project_files() {
        if let (true, Ok(text)) = (f.path.ends_with(".tera"), std::str::from_utf8(f.contents)) {
            // Not a correctness test alone: a template the skeleton gives up on still renders
            // right, but is parsed several times slower (macros, blocks and includes are left to
            // Tera). This makes it show.
            assert!(
                parse(f.path, text, &mut tags).is_some(),
                "{} is left to Tera",
                f.path
            );
            assert_same(text, &mut tags);
        }
    }
}

#[test]
fn whitespace_control_is_tera_s() {
    let cases = [
        "a {{ x }} b\n",
        "  {{- x -}}  \n  {{ y -}}\n z",
        "x\n  {%- if a -%}\n  yes\n  {%- elif b -%}  no {% else -%}\n  maybe\n{%- endif -%}\n  after",
        "{% if a %} {% if b -%} in {%- endif %} {%- else %} e {% endif %}",
        "{%- if a %}\n{%- endif %}",
        "  {%- for x in xs -%}\n  {{ x }}\n{%- else -%}\n none \n{%- endfor -%}  end",
        "{% for k, v in m | items %}{{ k }}={{ v }}{% else %}{% endfor %}",
        "a\n{%- filter upper -%}\n  text {{ x }}\n{%- endfilter %}\nb",
        "a  {%- raw -%}  {{ not parsed }} {% if %}  {%- endraw -%}  b",
        "a {% raw %} x {%endraw%} b{%- raw %} y {% endraw -%}\n c",
        "{%raw%}{% endraw x %}{%- endraw%}",
        "{% raw %}é% ü{%é %}{%{% endraw %}",
        "x {#- c -#}  y {# d #}",
        "{# dropped -#}  \n{# also #}{{ x }}{# kept #}",
        " {# kept: text comes first #}",
        "{% set a = 1 -%}\n  {%- set_global b = [1, \"2\"] | length %}",
        "{% if a %}{% for x in y %}{% if x %}{{ x }}{% endif %}{% endfor %}{% endif %}",
        "\u{a0}{%- if a -%}\u{a0}\u{3000}x\u{2028}{%- endif -%}\u{85}",
        "{{ \"}}\" ~ '%}' }}{% if \"%}\" in x %}{% endif %}{",
        "",
        "no tags at all",
    ];
    let mut tags = Tags::default();
    for case in cases {
        assert_same(case, &mut tags);
    }
}

#[test]
fn what_it_does_not_know_or_tera_refuses_is_left_to_tera() {
    let refused = [
        // Out of place or unclosed.
        "{% if a %}",
        "{% endif %}",
        "{% if a %}{% else %}{% else %}{% endif %}",
        "{% if a %}{% else %}{% elif b %}{% endif %}",
        "{% for x in y %}{% else %}{% else %}{% endfor %}",
        "{% for x in y %}{% endif %}",
        "{% filter f %}{% endfor %}",
        "{% raw %} never closed",
        // Not Tera, or not for the skeleton: block, macro, include, import, extends, break.
        "{{ oops( }}",
        "{% iffy %}",
        "{% if %}{% endif %}",
        "{% if a %%}{% endif %}",
        "{{ \"open }}",
        "{##}",
        "{% block b %}{% endblock b %}",
        "{% macro m() %}{% endmacro m %}",
        "{% include \"x\" %}",
        "{% import \"m\" as m %}",
        "{% extends \"base\" %}",
        "{% for x in y %}{% break %}{% endfor %}",
    ];
    for case in refused {
        assert!(parse("t", case, &mut Tags::default()).is_none(), "{case:?}");
    }
}

#[test]
fn random_templates_parse_as_tera_parses_them() {
    use rand::{Rng, SeedableRng};
    // Pieces that glue into valid and invalid templates alike.
    const PIECES: &[&str] = &[
        "text",
        " ",
        "\n",
        "  \n\t",
        "\u{a0}",
        "é",
        "{",
        "}",
        "%}",
        "#}",
        "{ x }",
        "{{ a }}",
        "{{- a.b -}}",
        "{{ a | f }}",
        "{{ \"s\" ~ b }}",
        "{{ '' ~ c }}",
        "{{ f(x=\"1\", y=z) }}",
        "{{ true_x }}",
        "{{ x is nothing }}",
        "{{ a inside }}",
        "{{ a.b(c=1) }}",
        "{{ m[\"k\"] }}",
        "{{ not x and y or z }}",
        "{{ 1 + x * 2 }}",
        "{{ x is sorted_before(\"q\") }}",
        "{{ oops( }}",
        "{{ super() }}",
        "{% if a %}",
        "{%- if not b -%}",
        "{% if x in [\"a\", 'b'] %}",
        "{% elif c %}",
        "{%- elif d.e -%}",
        "{% else %}",
        "{%- else -%}",
        "{% endif %}",
        "{%- endif -%}",
        "{% for x in xs %}",
        "{%- for k, v in m | items -%}",
        "{% endfor %}",
        "{%- endfor %}",
        "{% filter upper %}",
        "{%- filter replace(from=\"a\", to=\"b\") -%}",
        "{% endfilter %}",
        "{% set a = 1 %}",
        "{%- set_global b = \"x\" -%}",
        "{% raw %}",
        "{%- raw -%}",
        "{% endraw %}",
        "{%- endraw -%}",
        "{%endraw%}",
        "{# c #}",
        "{#- d -#}",
        "{##}",
        "{% break %}",
        "{% block b %}",
        "{% iffy %}",
        "{{ b }}",
        "{{ y | g(h=\"2\") }}",
        "{% if auth.users %}",
        "{% if x.0 %}",
        "{%-raw-%}",
        "{% endraw x %}",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let sources: Vec<String> = (0..3000)
        .map(|_| {
            let n = rng.gen_range(1..12);
            (0..n)
                .map(|_| PIECES[rng.gen_range(0..PIECES.len())])
                .collect()
        })
        .collect();
    // One cache for all, as for a project's templates.
    let mut tags = Tags::default();
    for source in &sources {
        let plain = Template::new("t", None, source);
        match parse("t", source, &mut tags) {
            Some(fast) => {
                let plain = plain.unwrap_or_else(|e| panic!("{source:?}: Tera says {e}"));
                assert_eq!(fast.ast, plain.ast, "{source:?}");
            }
            None => {
                // Left to the other parsers, which give Tera's own answer.
                let other = super::super::parse::parse_template("t", source);
                assert_eq!(other.is_ok(), plain.is_ok(), "{source:?}");
            }
        }
    }
}

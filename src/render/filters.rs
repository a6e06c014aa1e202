// Why: user input lands in generated Python, TOML, YAML and Markdown only through these filters,
// one per target language, so that it is always a well-formed literal there (docs/architecture.md
// §1). `register_filters` adds them to a Tera instance under the names templates use.

use std::collections::HashMap;

use serde_json::Value;

pub fn register_filters(tera: &mut tera::Tera) {
    tera.register_filter("py_str", string_filter("py_str", py_str));
    tera.register_filter("toml_str", string_filter("toml_str", toml_str));
    tera.register_filter("yaml_str", string_filter("yaml_str", yaml_str));
    tera.register_filter("md", string_filter("md", md));
    tera.register_filter("py_import", string_filter("py_import", py_import));
    tera.register_tester("sorted_before", sorted_before);
}

/// `{% if a is sorted_before(b) %}`: whether string `a` sorts before `b` byte by byte (Tera's `<`
/// compares only numbers). The lock file template needs it to place the project's own entry
/// where uv sorts it, by the project's name.
fn sorted_before(value: Option<&Value>, args: &[Value]) -> tera::Result<bool> {
    match (value, args) {
        (Some(Value::String(a)), [Value::String(b)]) => Ok(a.as_bytes() < b.as_bytes()),
        _ => Err(tera::Error::msg(
            "tester `sorted_before` compares a string with one string argument",
        )),
    }
}

type FilterFn = Box<dyn Fn(&Value, &HashMap<String, Value>) -> tera::Result<Value> + Send + Sync>;

/// Wraps a `&str -> String` escaper as a Tera filter that accepts strings (and, for
/// convenience, numbers and booleans) and refuses anything else.
fn string_filter(name: &'static str, f: fn(&str) -> String) -> FilterFn {
    Box::new(move |value: &Value, _args: &HashMap<String, Value>| {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(tera::Error::msg(format!(
                    "filter `{name}` expects a string, got {other}"
                )))
            }
        };
        Ok(Value::String(f(&text)))
    })
}

/// A Python string literal, double-quoted. Everything outside printable ASCII is escaped, so the
/// literal is valid on one line whatever the input (and stays ASCII for ruff).
pub fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// The line length of generated Python (ruff's `line-length` in the generated pyproject).
const PY_LINE_LENGTH: usize = 100;

/// Lays out `from module import a, b, c` the way `ruff format` and ruff's isort do: on one line
/// when it fits, otherwise one name per line with a trailing comma. Templates wrap an import
/// whose module path holds the (user-chosen, so unbounded) package name in this filter.
pub fn py_import(line: &str) -> String {
    let line = line.trim();
    if line.chars().count() <= PY_LINE_LENGTH {
        return line.to_string();
    }
    let Some((head, names)) = line.split_once(" import ") else {
        return line.to_string();
    };
    let mut out = format!("{head} import (\n");
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        out.push_str("    ");
        out.push_str(name);
        out.push_str(",\n");
    }
    out.push(')');
    out
}

/// A TOML basic string, double-quoted, with control characters escaped.
pub fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A YAML double-quoted scalar. YAML's escapes for these characters are Python's (`\xXX`,
/// `\uXXXX`, `\UXXXXXXXX`), so the literal is the same; everything outside printable ASCII is
/// escaped (YAML forbids some characters raw and treats U+0085/U+2028/U+2029 as line breaks).
pub fn yaml_str(s: &str) -> String {
    py_str(s)
}

/// Markdown inline text: every character with inline meaning to CommonMark or to an HTML
/// renderer is backslash-escaped, and line breaks become spaces, so a value stays inline text.
/// Characters that only matter at the start of a line (`-`, `+`, `.` after digits, `#`) are
/// escaped only there, so an ordinary name such as `billing-api.v2` reads as itself.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let leading_digits = s.chars().take_while(char::is_ascii_digit).count();
    for (i, c) in s.chars().enumerate() {
        let block_marker = match c {
            '-' | '+' | '#' => i == 0,
            '.' | ')' => i == leading_digits && i > 0,
            _ => false,
        };
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '!' | '|' | '<' | '>'
            | '~' | '&' | '$' => {
                out.push('\\');
                out.push(c);
            }
            _ if block_marker => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[&str] = &[
        "plain",
        "quote\" and ' and \"\"\" and '''",
        "back\\slash\\",
        "new\nline\r\n",
        "tab\tbell\u{7}nul\u{0}del\u{7f}",
        "{{ tera }} {% raw %}",
        "ünïcødé ☃ 🦀 \u{2028}\u{85}\u{feff}",
        "${{ github.token }}",
        "# not a comment",
        "",
    ];

    #[test]
    fn py_import_wraps_only_long_lines() {
        assert_eq!(py_import("from a.b import C, d\n"), "from a.b import C, d");
        let long = format!(
            "from {}.core import ROLES, Role, permissions_for",
            "p".repeat(80)
        );
        assert_eq!(
            py_import(&long),
            format!(
                "from {}.core import (\n    ROLES,\n    Role,\n    permissions_for,\n)",
                "p".repeat(80)
            )
        );
    }

    #[test]
    fn py_str_examples() {
        assert_eq!(py_str("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(py_str("é☃🦀"), r#""\xe9\u2603\U0001f980""#);
    }

    #[test]
    fn toml_str_round_trips_hostile_values() {
        for v in HOSTILE {
            let doc = format!("k = {}\n", toml_str(v));
            let table: toml::Table = toml::from_str(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(table["k"].as_str(), Some(*v));
        }
    }

    #[test]
    fn yaml_str_round_trips_hostile_values() {
        for v in HOSTILE {
            let doc = format!("k: {}\n", yaml_str(v));
            let value: serde_yaml::Value =
                serde_yaml::from_str(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(value["k"].as_str(), Some(*v), "{doc}");
        }
    }

    #[test]
    fn py_str_round_trips_hostile_values_through_python() {
        let Ok(out) = std::process::Command::new("python3")
            .arg("--version")
            .output()
        else {
            eprintln!("python3 not found; skipped");
            return;
        };
        assert!(out.status.success());
        let mut program = String::from("import json,sys\nvalues = [\n");
        for v in HOSTILE {
            program.push_str(&format!("    {},\n", py_str(v)));
        }
        program.push_str("]\nsys.stdout.write(json.dumps(values))\n");
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(&program)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got, HOSTILE);
    }

    #[test]
    fn md_escapes_markup() {
        assert_eq!(md("a_b*c\n<x>"), r"a\_b\*c \<x\>");
        assert_eq!(md("`{{x}}`"), r"\`\{\{x\}\}\`");
        assert_eq!(md("billing-api.v2"), "billing-api.v2");
        assert_eq!(md("-x"), r"\-x");
        assert_eq!(md("2024. x"), r"2024\. x");
    }

    #[test]
    fn sorted_before_compares_bytes() {
        let mut tera = tera::Tera::default();
        register_filters(&mut tera);
        let mut ctx = tera::Context::new();
        ctx.insert("name", "my-api");
        let t = r#"{{ name is sorted_before("mz") }} {{ name is sorted_before("my-api") }} {{ name is sorted_before("a") }}"#;
        assert_eq!(tera.render_str(t, &ctx).unwrap(), "true false false");
        assert!(tera
            .render_str(r#"{{ 3 is sorted_before("a") }}"#, &ctx)
            .is_err());
    }

    #[test]
    fn filters_refuse_non_strings() {
        let mut tera = tera::Tera::default();
        register_filters(&mut tera);
        tera.add_raw_template("t", "{{ x | py_str }}").unwrap();
        let mut ctx = tera::Context::new();
        ctx.insert("x", &vec![1]);
        assert!(tera.render("t", &ctx).is_err());
        ctx.insert("x", "a\"b");
        assert_eq!(tera.render("t", &ctx).unwrap(), r#""a\"b""#);
    }
}

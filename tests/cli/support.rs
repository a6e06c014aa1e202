// Why: helpers shared by the integration tests: run the real binary in a clean environment, read
// a generated tree, and check that generated files parse in their own language.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

/// The real binary, with no colour, no failure injection and stdin closed (no terminal).
pub fn portcullis() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("portcullis").expect("binary built");
    cmd.env_remove(portcullis::write::FAIL_AFTER_ENV)
        .env("NO_COLOR", "1")
        .write_stdin("");
    cmd
}

/// The same, as a std Command (for pseudo-terminal sessions).
pub fn portcullis_std() -> Command {
    let mut cmd = Command::cargo_bin("portcullis").expect("binary built");
    cmd.env_remove(portcullis::write::FAIL_AFTER_ENV);
    cmd
}

pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Every example answers file, sorted.
pub fn examples() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs_err::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    out.sort();
    assert!(out.len() >= 3, "examples/ should hold answer files");
    out
}

/// Relative path → bytes, for every file under `root`.
pub fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for entry in fs_err::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            walk(root, &path, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, fs_err::read(&path).unwrap());
        }
    }
}

/// Names of the entries directly under `dir`, sorted (hidden ones included).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// Checks that every generated file parses in its language: .py with Python's `ast`, .toml with
/// the toml crate, .yaml/.yml with serde_yaml, .json with serde_json. Returns how many were
/// checked per language.
pub fn assert_tree_parses(root: &Path) -> BTreeMap<&'static str, usize> {
    let tree = read_tree(root);
    let mut counts = BTreeMap::new();
    let mut python = Vec::new();
    for (path, bytes) in &tree {
        let text =
            || String::from_utf8(bytes.clone()).unwrap_or_else(|_| panic!("{path} is not UTF-8"));
        let ext = path.rsplit('.').next().unwrap_or("");
        match ext {
            "py" => python.push(root.join(path)),
            "toml" => {
                toml::from_str::<toml::Table>(&text())
                    .unwrap_or_else(|e| panic!("{path} is not valid TOML: {e}"));
                *counts.entry("toml").or_default() += 1;
            }
            "yaml" | "yml" => {
                serde_yaml::from_str::<serde_yaml::Value>(&text())
                    .unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"));
                *counts.entry("yaml").or_default() += 1;
            }
            "json" => {
                serde_json::from_str::<serde_json::Value>(&text())
                    .unwrap_or_else(|e| panic!("{path} is not valid JSON: {e}"));
                *counts.entry("json").or_default() += 1;
            }
            "md" => {
                text();
                *counts.entry("md").or_default() += 1;
            }
            _ => {}
        }
    }
    if !python.is_empty() {
        let script = "import ast, sys\n\
                      bad = []\n\
                      for p in sys.argv[1:]:\n\
                      \x20   try:\n\
                      \x20       ast.parse(open(p, encoding='utf-8').read(), filename=p)\n\
                      \x20   except SyntaxError as e:\n\
                      \x20       bad.append(f'{p}: {e}')\n\
                      print('\\n'.join(bad))\n\
                      sys.exit(1 if bad else 0)\n";
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(&python)
            .output()
            .expect("python3 is needed by the tests (scripts/test-all installs it)");
        assert!(
            out.status.success(),
            "generated Python does not parse:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        counts.insert("py", python.len());
    }
    counts
}

/// `.env` without its secret lines, for comparing two generations.
pub fn without_secret(tree: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    tree.iter()
        .map(|(k, v)| {
            let v = if k == ".env" {
                String::from_utf8_lossy(v)
                    .lines()
                    .filter(|l| {
                        !l.starts_with("APP_SECRET_KEY=") && !l.starts_with("APP_AUDIT_KEY=")
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into_bytes()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

/// The widest option set: every auth method, the permission-matrix model and PostgreSQL.
pub const EVERY_OPTION: &[&str] = &[
    "svc",
    "--defaults",
    "--auth",
    "oauth2,apikey,session",
    "--role-model",
    "permissions",
    "--database",
    "postgres",
];

/// `portcullis new svc --defaults` (plus `extra`) under `dir`; the project's folder.
pub fn generate(dir: &Path, extra: &[&str]) -> PathBuf {
    portcullis()
        .args(["new", "svc", "--defaults", "--output-dir"])
        .arg(dir)
        .args(extra)
        .assert()
        .success();
    dir.join("svc")
}

/// Rewrites the pristine render a project recorded as `older` templates would have made it.
pub fn age(project: &Path, older: impl FnOnce(&mut BTreeMap<String, Vec<u8>>)) {
    let path = project.join(portcullis::base::BASE_FILE);
    let mut files = portcullis::base::unpack(&fs_err::read(&path).unwrap()).unwrap();
    older(&mut files);
    let planned: Vec<portcullis::plan::PlannedFile> = files
        .into_iter()
        .map(|(path, contents)| portcullis::plan::PlannedFile {
            path,
            contents,
            executable: false,
            private: false,
        })
        .collect();
    let archive = portcullis::base::planned(&planned).unwrap();
    fs_err::write(&path, archive.contents).unwrap();
}

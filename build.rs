// Why: include_dir embeds templates/ at compile time but does not notice new or removed files,
// so cargo must rebuild whenever anything under templates/ changes. The build also tolerates a
// checkout without templates/ (it embeds an empty tree), so the generator builds on its own.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=build.rs");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let templates = root.join("templates");
    let dir = if templates.is_dir() {
        templates
    } else {
        let empty =
            PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("no-templates");
        std::fs::create_dir_all(&empty).expect("create an empty template tree");
        empty
    };
    println!("cargo:rustc-env=PORTCULLIS_TEMPLATES_DIR={}", dir.display());
}

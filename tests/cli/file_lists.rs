// Why: the list of generated files per option set is the generator's most visible output. These
// snapshots make every change to it (a template added, a manifest rule changed) show up in review.
// After an intended change: `INSTA_UPDATE=always cargo test --test cli file_lists` (or
// `cargo insta review`), then commit tests/cli/snapshots/.

use portcullis::resolve::AnswersFile;

use crate::support::EVERY_OPTION;

fn file_list(spec: &portcullis::ProjectSpec) -> String {
    portcullis::plan::plan(spec, &portcullis::plan::Secrets::new("secret", "audit"))
        .unwrap()
        .paths()
        .join("\n")
}

fn spec_from_flags(args: &[&str]) -> portcullis::ProjectSpec {
    use clap::Parser;
    let cli = portcullis::cli::Cli::try_parse_from(
        ["portcullis", "new"].iter().chain(args.iter()).copied(),
    )
    .unwrap();
    let portcullis::cli::Command::New(mut args) = cli.command else {
        unreachable!()
    };
    args.output_dir = std::env::temp_dir().join("portcullis-snapshots-never-created");
    portcullis::resolve::resolve(&args, None).unwrap().spec
}

#[test]
fn file_list_defaults() {
    insta::assert_snapshot!(file_list(&spec_from_flags(&["svc", "--defaults"])));
}

#[test]
fn file_list_every_method_postgres_permissions() {
    insta::assert_snapshot!(file_list(&spec_from_flags(EVERY_OPTION)));
}

#[test]
fn file_list_apikey_only_flat() {
    insta::assert_snapshot!(file_list(&spec_from_flags(&[
        "svc",
        "--defaults",
        "--auth",
        "apikey",
        "--role-model",
        "flat",
    ])));
}

#[test]
fn file_list_session_only() {
    insta::assert_snapshot!(file_list(&spec_from_flags(&[
        "svc",
        "--defaults",
        "--auth",
        "session",
    ])));
}

#[test]
fn file_list_per_example() {
    for ex in crate::support::examples() {
        AnswersFile::load(&ex).unwrap();
        let stem = ex.file_stem().unwrap().to_string_lossy().into_owned();
        let spec = spec_from_flags(&["--answers", ex.to_str().unwrap()]);
        insta::assert_snapshot!(format!("example_{stem}"), file_list(&spec));
    }
}

#[test]
fn portcullis_toml_of_the_defaults() {
    let spec = spec_from_flags(&["billing-api", "--defaults"]);
    insta::assert_snapshot!(spec.to_toml());
}

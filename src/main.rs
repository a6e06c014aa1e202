// Why: the binary stays thin: parse the command line, run the library, turn an error into its
// message, hint and exit code (0 ok, 2 usage or answers, 3 destination not empty, 4 update
// conflicts, 1 otherwise or `check` findings).

#![warn(clippy::disallowed_methods)]

use clap::Parser;

fn main() {
    let cli = portcullis::cli::Cli::parse();
    match portcullis::run(cli) {
        Ok(0) => {}
        Ok(code) => std::process::exit(code),
        Err(e) => {
            portcullis::ui::error(&e);
            std::process::exit(e.exit_code());
        }
    }
}

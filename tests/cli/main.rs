// Why: one integration-test binary (one link, one build) that drives the real `portcullis` binary
// and the library's public API. Each concern is a module under tests/cli/.

mod support;

mod answers;
mod atomicity;
mod check;
mod determinism;
mod errors;
mod file_lists;
mod hostile;
mod interactive;
mod preset;
mod setup;
mod template_tree;
mod update;

// The end-to-end matrix (generate every combination, install it into target/e2e-venv, run ruff,
// mypy and pytest in it) lives in tests/e2e.rs; `scripts/test-all` prepares the virtualenv and
// PostgreSQL for it and exports PORTCULLIS_TEST_POSTGRES_URL.

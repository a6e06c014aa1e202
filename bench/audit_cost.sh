#!/usr/bin/env bash
# Generates an oauth2 project, installs it into the shared venv and measures the audit log's cost.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${PORTCULLIS_TEST_VENV:-$PWD/target/e2e-venv}"
OUT="$PWD/target/bench"
cargo build --quiet --release
rm -rf "$OUT/bench-audit"
target/release/portcullis new bench-audit --defaults --auth oauth2 --output-dir "$OUT" 2>/dev/null
"$VENV/bin/pip" install -q --no-deps --no-build-isolation -e "$OUT/bench-audit"
cd "$OUT/bench-audit"
"$VENV/bin/python" "$OLDPWD/bench/audit_cost.py" bench_audit

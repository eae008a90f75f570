#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests on SQLite and on a throwaway PostgreSQL, then the
# Playwright suite in Debian's Chromium. One debug build is shared by both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/end2end/node_modules/.bin:$PATH"
# cargo-leptos builds debug with this flag; using it here too lets `cargo test` reuse the same build.
export RUSTFLAGS="--cfg erase_components"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-always}"

started=$(date +%s)
say() { printf '\033[1m[test]\033[0m %s\n' "$*" >&2; }

# --- a throwaway PostgreSQL: initdb in a temporary directory, a free port, removed at exit ---------
# shellcheck source=scripts/pg.sh
source scripts/pg.sh

# --- Rust tests (both databases) -----------------------------------------------------------------
say "cargo test (SQLite and PostgreSQL)"
cargo test --workspace --exclude frontend

# --- the site (server binary + wasm), then Playwright in Debian's Chromium ------------------------
say "cargo leptos build"
# cargo-leptos adds `--cfg erase_components` to whatever RUSTFLAGS holds; with the variable unset
# its flags equal the ones above, so the server and its dependencies are not compiled twice.
env -u RUSTFLAGS cargo leptos build
say "SCIM compliance (scim2-tester)"
scripts/scim-compliance.sh
say "Playwright"
(cd end2end && npx playwright test)

say "all tests passed in $(( $(date +%s) - started ))s"

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
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
PG_DIR=$(mktemp -d /tmp/portal-pg.XXXXXX)
PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; fi
cleanup() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap cleanup EXIT
say "starting a throwaway PostgreSQL on 127.0.0.1:$PG_PORT"
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null
export PORTAL_TEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"

# --- Rust tests (both databases) -----------------------------------------------------------------
say "cargo test (SQLite and PostgreSQL)"
cargo test --workspace --exclude frontend

# --- the site (server binary + wasm), then Playwright in Debian's Chromium ------------------------
say "cargo leptos build"
cargo leptos build
say "SCIM compliance (scim2-tester)"
scripts/scim-compliance.sh
say "Playwright"
(cd end2end && npx playwright test)

say "all tests passed in $(( $(date +%s) - started ))s"

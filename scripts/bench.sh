#!/usr/bin/env bash
# The benchmark set of BENCHMARKS.md (never part of `make test`): SCIM load on SQLite and on a
# throwaway PostgreSQL with 8 and 32 clients, each beside an axum hello-world floor, then the
# 100,000-user scale run on SQLite. Release build. Figures go to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# shellcheck source=scripts/pg.sh
source scripts/pg.sh
export RUST_LOG=warn
# The same flag cargo-leptos's release build uses (always-erase-components), so the benchmarked
# server is the one that ships.
export RUSTFLAGS="--cfg erase_components"
for clients in 8 32; do
  SCIM_BENCH_CLIENTS=$clients cargo bench -q -p server --bench scim_load
  SCIM_BENCH_CLIENTS=$clients cargo bench -q -p server --bench scim_load -- postgres
done
SCIM_BENCH_CLIENTS=8 SCIM_BENCH_SCALE="${SCIM_BENCH_SCALE:-100000}" cargo bench -q -p server --bench scim_load
# Front end: release wasm size and the Users page's time to interactive in headless Chromium.
export PATH="$PWD/end2end/node_modules/.bin:$PATH"
env -u RUSTFLAGS cargo leptos build --release >/dev/null
wasm=$(ls target/site/pkg/*.wasm)
printf 'release wasm: %s bytes raw, %s bytes gzip -9\n' "$(stat -c %s "$wasm")" "$(gzip -9c "$wasm" | wc -c)"
(cd end2end && PORTAL_SERVER_BIN=target/release/server npx playwright test -c playwright.bench.config.ts)


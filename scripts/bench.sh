#!/usr/bin/env bash
# The benchmark set of BENCHMARKS.md (never part of `make test`). Release build. Figures go to
# stdout.
#  1. `make release` (binary + site, wasm-opt applied), then scripts/bench-wrk.sh: our server and
#     the reference SCIM server (scim2-server, PyPI) side by side under wrk, static files against
#     /healthz, multi-tenant lookups over 2,000 organisations on SQLite and PostgreSQL, peak RSS.
#  2. The in-process load benchmark (server/benches/scim_load.rs): SCIM load on SQLite and on a
#     throwaway PostgreSQL with 8 and 32 clients, each beside an axum hello-world floor, then the
#     100,000-user scale run on SQLite.
#  3. The release wasm size and the Users page's time to interactive in headless Chromium.
# BENCH_DURATION (seconds per wrk phase, default 10) and the other settings of bench-wrk.sh apply.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/bench-setup.sh
scripts/release.sh
scripts/bench-wrk.sh
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
# Front end: release wasm size (built by scripts/release.sh above, wasm-opt applied) and the
# Users page's time to interactive in headless Chromium.
wasm=$(ls target/site/pkg/*.wasm)
printf 'release wasm: %s bytes raw, %s bytes gzip -9\n' "$(stat -c %s "$wasm")" "$(gzip -9c "$wasm" | wc -c)"
(cd end2end && PORTAL_SERVER_BIN=target/release/server npx playwright test -c playwright.bench.config.ts)

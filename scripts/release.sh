#!/usr/bin/env bash
# `make release`: the production build — target/release/server and the site folder target/site
# (pkg/portal.{css,js,wasm} with .br/.gz beside each, and the public/ assets), the wasm shrunk by
# wasm-opt. wasm-opt comes from npm's binaryen package (end2end/node_modules/.bin, installed by
# scripts/setup.sh); without it this fails rather than ship an unoptimised wasm.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/end2end/node_modules/.bin:$PATH"
if ! wasm-opt --version >/dev/null 2>&1; then
  echo "make release: wasm-opt not found (npm package binaryen in end2end/: run scripts/setup.sh)" >&2
  exit 1
fi
# cargo-leptos adds --cfg erase_components itself; any other RUSTFLAGS would rebuild everything.
env -u RUSTFLAGS cargo leptos build --release --precompress
wasm=$(ls target/site/pkg/*.wasm)
printf 'release: target/release/server (%s bytes) and target/site/ — wasm %s bytes raw, %s bytes gzip -9 (%s)\n' \
  "$(stat -c %s target/release/server)" "$(stat -c %s "$wasm")" "$(gzip -9c "$wasm" | wc -c)" "$(wasm-opt --version)"

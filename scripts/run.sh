#!/usr/bin/env bash
# Builds and serves the portal on http://127.0.0.1:3000 with a SQLite file under ./data/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/end2end/node_modules/.bin:$PATH"
export DATABASE_URL="${DATABASE_URL:-sqlite://data/portal.db}"
exec cargo leptos serve

#!/usr/bin/env bash
# Runs scim2-tester (PyPI) against a live server built by `cargo leptos build`, on a fresh SQLite
# database. Fails on any error except the exceptions argued in the README ("SCIM compliance").
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.tools/venv
BIN=target/debug/server
DIR=$(mktemp -d /tmp/portal-scim-compliance.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
export DATABASE_URL="sqlite://$DIR/portal.db" PUBLIC_URL="http://127.0.0.1:$PORT" LISTEN_ADDR="127.0.0.1:$PORT" RUST_LOG=warn
"$BIN" serve >"$DIR/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do curl -fs "$PUBLIC_URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
ORG=$(printf 'compliance check password\n' | "$BIN" create-admin --org-name "Compliance" --email "compliance@example.test" | tail -n1)
TOKEN=$("$BIN" scim-token --org "$ORG")
"$VENV/bin/python" server/tests/compliance/scim2_tester_check.py "$PUBLIC_URL/scim/v2/$ORG" "$TOKEN"

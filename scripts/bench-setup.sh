#!/usr/bin/env bash
# What `make bench` needs beyond `scripts/setup.sh`, installed only for the benchmark (never by the
# test command): `wrk` from Debian, and the reference SCIM server (`scim2-server`, PyPI) with an
# HTTP client for seeding (`httpx`) in their own venv, .tools/bench-venv. Idempotent and quiet.
set -euo pipefail
cd "$(dirname "$0")/.."

SCIM2_SERVER_VERSION=0.8.3
HTTPX_VERSION=0.28.1

say() { printf '\033[1m[bench-setup]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v wrk >/dev/null 2>&1; then
  say "installing wrk (Debian)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

VENV=.tools/bench-venv
STAMP="$VENV/.installed-$SCIM2_SERVER_VERSION-$HTTPX_VERSION"
if [ ! -f "$STAMP" ]; then
  say "installing scim2-server $SCIM2_SERVER_VERSION and httpx $HTTPX_VERSION in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "scim2-server==$SCIM2_SERVER_VERSION" "httpx==$HTTPX_VERSION"
  touch "$STAMP"
fi

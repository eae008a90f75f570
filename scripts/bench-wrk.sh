#!/usr/bin/env bash
# `make bench`, part 1 (scripts/bench.sh calls it after the release build): our release server
# and the reference SCIM server (scim2-server, PyPI) side by side, driven by the same wrk Lua
# scripts (scripts/bench/); then provisioning a 100,000-user organisation through SCIM creates
# (elapsed time, creates/s) and our server's memory at that size under lookup load; then static
# files against /healthz; then multi-tenant lookups over 2,000 organisations on SQLite and on a
# throwaway PostgreSQL; peak RSS of each server process.
#
# Settings (environment): BENCH_DURATION seconds per phase (10), BENCH_CONNECTIONS (8),
# BENCH_THREADS wrk threads (1), BENCH_USER_COUNT seeded users (1000), BENCH_ORG_COUNT (2000),
# BENCH_USERS_PER_ORG (10), SERVER_BIN (target/release/server), LEPTOS_SITE_ROOT (target/site),
# BENCH_PARTS (which parts to run: "scim provision static multitenant"), BENCH_SCIM_PHASES (the
# SCIM phases of the side-by-side part: "create delete get lookup list put patch"),
# BENCH_REFERENCE (1: run scim2-server beside ours; 0: ours only), BENCH_PROVISION_USERS (100000).
# A partial run, e.g. the writes alone without the reference server:
#   BENCH_PARTS="scim provision" BENCH_SCIM_PHASES="create put patch delete" BENCH_REFERENCE=0
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bench-setup.sh

DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-8}
THREADS=${BENCH_THREADS:-1}
USER_COUNT=${BENCH_USER_COUNT:-1000}
ORG_COUNT=${BENCH_ORG_COUNT:-2000}
USERS_PER_ORG=${BENCH_USERS_PER_ORG:-10}
BIN=${SERVER_BIN:-target/release/server}
SITE=${LEPTOS_SITE_ROOT:-target/site}
PARTS=${BENCH_PARTS:-scim provision static multitenant}
SCIM_PHASES=${BENCH_SCIM_PHASES:-create delete get lookup list put patch}
REFERENCE=${BENCH_REFERENCE:-1}
PROVISION_USERS=${BENCH_PROVISION_USERS:-100000}
VENV=.tools/bench-venv
LUA_DIR="$PWD/scripts/bench"
# The delete phase deletes what the create phase created, each user once; it runs half as long so
# that it does not run out (a thread that runs out stops and the row is marked "exhausted").
DELETE_DURATION=$(( DURATION > 1 ? DURATION / 2 : 1 ))

[ -x "$BIN" ] || { echo "bench: $BIN is missing (build it first: make release)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/portal-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
export RUST_LOG=${RUST_LOG:-warn} BENCH_LUA_DIR="$LUA_DIR" BENCH_THREADS="$THREADS"
say() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() {
  for _ in $(seq 1 300); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "bench: nothing answers at $1" >&2; exit 1
}
# Peak resident set of a process (VmHWM), in MB.
peak_rss() { awk '/^VmHWM:/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
# Resident set of a process now (VmRSS), in MB.
now_rss() { awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

# Starts our server on a fresh database ($1: DATABASE_URL, $2: name); sets OUR_PID, OUR_URL.
start_ours() {
  local port
  port=$(free_port)
  OUR_URL="http://127.0.0.1:$port"
  OUR_METRICS="http://127.0.0.1:$(free_port)"
  DATABASE_URL="$1" PUBLIC_URL="$OUR_URL" LISTEN_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="$SITE" \
    METRICS_ADDR="${OUR_METRICS#http://}" "$BIN" serve >"$WORK/$2.log" 2>&1 &
  OUR_PID=$!
  PIDS+=("$OUR_PID")
  wait_http "$OUR_URL/healthz"
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# Requests our server answered but left out of its SCIM request log so far (its queue full, or a
# batch that failed to be written); "?" when /metrics did not answer.
unlogged() { curl -fs -m 5 "$OUR_METRICS/metrics" | awk '$1 == "portal_scim_request_log_unlogged_total" { print $2 }' || echo "?"; }

# run_wrk LUA URL PHASE DURATION [extra env…]: prints the RESULT line of one wrk run.
run_wrk() {
  local lua=$1 url=$2 phase=$3 dur=$4
  shift 4
  env BENCH_PHASE="$phase" "$@" wrk -t"$THREADS" -c"$CONNS" -d"${dur}s" --latency \
    -s "$LUA_DIR/$lua" "$url" >"$WORK/wrk.out" 2>&1 || { cat "$WORK/wrk.out" >&2; exit 1; }
  grep '^RESULT ' "$WORK/wrk.out" || { cat "$WORK/wrk.out" >&2; exit 1; }
}
# CPU time (user + system) a process has used, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Server CPU per answered request over a phase, in µs: ticks before, ticks after, RESULT line.
cpu_per_req() {
  awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" -v n="$(field requests "$3")" \
    'BEGIN { if (n > 0) printf "%.0f", (b - a) * 1e6 / hz / n; else print "-" }'
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
# A whole number with thousands separators.
num() { printf '%.0f' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
# The non-2xx count, and lookups answered 200 that found nobody.
bad() {
  local m
  m=$(field misses "$1")
  if [ "${m:-0}" != 0 ]; then printf '%s (+%s lookups found nobody)' "$(field non2xx "$1")" "$m"; else field non2xx "$1"; fi
}
row() { # label, RESULT line
  printf '| %s | %s | %s / %s | %s |' "$1" "$(num "$(field rps "$2")")" \
    "$(field p50_ms "$2")" "$(field p99_ms "$2")" "$(bad "$2")"
}

echo "make bench: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(date -u +%Y-%m-%dT%H:%MZ), wrk -t$THREADS -c$CONNS, ${DURATION} s per phase"

if [[ " $PARTS " == *" scim "* || " $PARTS " == *" static "* ]]; then
  start_ours "sqlite://$WORK/side.db" side
  ORG=$(printf 'bench password for the side-by-side run\n' | "$BIN" --database-url "sqlite://$WORK/side.db" create-admin --org-name "Bench" --email "bench@bench.example" | tail -n1)
  OUR_TOKEN=$("$BIN" --database-url "sqlite://$WORK/side.db" scim-token --org "$ORG")
fi

has_phase() { [[ " $SCIM_PHASES " == *" $1 "* ]]; }

if [[ " $PARTS " == *" scim "* ]]; then
  if [ "$REFERENCE" = 1 ]; then
  REF_PORT=$(free_port)
  REF_URL="http://127.0.0.1:$REF_PORT"
  REF_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
  # Through the venv's python, not its `scim2-server` script: a venv that was moved keeps the
  # old path in its scripts' first line.
  "$VENV/bin/python" -c 'import sys; from scim2_server.testserver.cli import main; sys.argv[0] = "scim2-server"; sys.exit(main())' --hostname 127.0.0.1 --port "$REF_PORT" --bearer-token "$REF_TOKEN" \
    >"$WORK/reference.log" 2>&1 &
  REF_PID=$!
  PIDS+=("$REF_PID")
  wait_http "$REF_URL/ServiceProviderConfig"
  fi
  say "seeding $USER_COUNT users into each server"
  "$VENV/bin/python" scripts/bench/seed.py "$OUR_URL/scim/v2/$ORG" "$OUR_TOKEN" "$USER_COUNT" "$WORK/ours-users.txt" ours
  if [ "$REFERENCE" = 1 ]; then
    "$VENV/bin/python" scripts/bench/seed.py "$REF_URL" "$REF_TOKEN" "$USER_COUNT" "$WORK/ref-users.txt" ref
  fi
  mkdir -p "$WORK/ours-created" "$WORK/ref-created"
  declare -A OURS REF OURS_CPU REF_CPU
  # Run order: create, then delete of what create made (so that reads see the seeded users
  # only), then the reads and updates of the seeded users.
  for phase in create delete get lookup list put patch; do
    has_phase "$phase" || continue
    dur=$DURATION
    [ "$phase" = delete ] && dur=$DELETE_DURATION
    say "phase $phase (${dur} s each)"
    t0=$(cpu_ticks "$OUR_PID")
    OURS[$phase]=$(run_wrk scim.lua "$OUR_URL" "$phase" "$dur" BENCH_BASE="/scim/v2/$ORG" \
      BENCH_TOKEN="$OUR_TOKEN" BENCH_USERS="$WORK/ours-users.txt" BENCH_CREATED="$WORK/ours-created" BENCH_RUN=ours)
    OURS_CPU[$phase]=$(cpu_per_req "$t0" "$(cpu_ticks "$OUR_PID")" "${OURS[$phase]}")
    if [ "$REFERENCE" = 1 ]; then
      t0=$(cpu_ticks "$REF_PID")
      REF[$phase]=$(run_wrk scim.lua "$REF_URL" "$phase" "$dur" BENCH_BASE="" \
        BENCH_TOKEN="$REF_TOKEN" BENCH_USERS="$WORK/ref-users.txt" BENCH_CREATED="$WORK/ref-created" BENCH_RUN=ref)
      REF_CPU[$phase]=$(cpu_per_req "$t0" "$(cpu_ticks "$REF_PID")" "${REF[$phase]}")
    else
      REF[$phase]="RESULT rps=0 p50_ms=- p99_ms=- non2xx=- exhausted=0 misses=0"
      REF_CPU[$phase]="-"
    fi
  done
  echo
  echo "### SCIM side by side: ours (SQLite, release) vs scim2-server $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("scim2-server"))') — $USER_COUNT users, $CONNS connections"
  echo
  echo "| phase | ours req/s | ours p50 / p99 ms | ours non-2xx | scim2-server req/s | p50 / p99 ms | non-2xx | ratio | server CPU µs/request ours / scim2-server |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for phase in create get lookup list put patch delete; do
    has_phase "$phase" || continue
    o=${OURS[$phase]} r=${REF[$phase]}
    ratio=$(awk -v a="$(field rps "$o")" -v b="$(field rps "$r")" 'BEGIN { if (b > 0) printf "%.1f×", a / b; else print "n/a" }')
    note=""
    # A server that ran out of users to delete stopped early, but its rate is still over the whole
    # phase: its rate is understated, and the ratio with it (ours) or at most this (theirs).
    ex_o=$(field exhausted "$o") ex_r=$(field exhausted "$r")
    if [ "${ex_o:-0}" != 0 ] && [ "${ex_r:-0}" != 0 ]; then
      note=" (both ran out of users to delete: both rates are understated)"
    elif [ "${ex_r:-0}" != 0 ]; then
      note=" at most (scim2-server ran out of users to delete: its rate is understated)"
    elif [ "${ex_o:-0}" != 0 ]; then
      note=" at least (ours ran out of users to delete: its rate is understated)"
    fi
    printf '| %s | %s | %s / %s | %s | %s | %s / %s | %s | %s%s | %s / %s |\n' "$phase" \
      "$(num "$(field rps "$o")")" "$(field p50_ms "$o")" "$(field p99_ms "$o")" "$(bad "$o")" \
      "$(num "$(field rps "$r")")" "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$(bad "$r")" \
      "$ratio" "$note" "${OURS_CPU[$phase]}" "${REF_CPU[$phase]}"
  done
  echo
  if [ "$REFERENCE" = 1 ]; then
    echo "Peak RSS after the SCIM phases: ours $(peak_rss "$OUR_PID") MB, scim2-server $(peak_rss "$REF_PID") MB"
    stop_pid "$REF_PID"
  else
    echo "Peak RSS after the SCIM phases: ours $(peak_rss "$OUR_PID") MB (scim2-server not run: BENCH_REFERENCE=0)"
  fi
fi

if [[ " $PARTS " == *" static "* ]]; then
  echo
  echo "### Static files vs /healthz (ours, keep-alive, $CONNS connections, Accept-Encoding: gzip, deflate, br)"
  echo
  echo "| path | req/s | p50 / p99 ms | non-2xx | % of /healthz |"
  echo "|---|---|---|---|---|"
  health=$(run_wrk static.lua "$OUR_URL/healthz" healthz "$DURATION")
  echo "$(row /healthz "$health") 100 |"
  wasm=$(cd "$SITE/pkg" && ls ./*.wasm | head -n1 | sed 's|^\./||')
  for path in /pkg/portal.css /pkg/portal.js "/pkg/$wasm"; do
    r=$(run_wrk static.lua "$OUR_URL$path" "$path" "$DURATION")
    echo "$(row "$path" "$r") $(awk -v a="$(field rps "$r")" -v b="$(field rps "$health")" 'BEGIN { printf "%.0f", a / b * 100 }') |"
  done
  echo
  echo "Peak RSS of our server after the SCIM and static phases: $(peak_rss "$OUR_PID") MB"
fi
if [ -n "${OUR_PID:-}" ]; then
  echo "Requests our server answered but left out of its SCIM request log (queue full or a failed write): $(unlogged)"
fi
if [ -n "${OUR_PID:-}" ]; then stop_pid "$OUR_PID"; fi

# Provisioning a large organisation (issue 11: 100,000 users in < 20 s, server RSS < 100 MB at
# that size under lookup load): a fresh server and database, exactly $PROVISION_USERS SCIM creates
# over $CONNS connections (one wrk thread), timed from the first request to the last answer; the
# users the server then holds are counted by the server itself. Then lookups of those users for
# $DURATION s, and the server's memory.
if [[ " $PARTS " == *" provision "* ]]; then
  start_ours "sqlite://$WORK/provision.db" provision
  P_ORG=$(printf 'bench password for the provisioning run\n' | "$BIN" --database-url "sqlite://$WORK/provision.db" create-admin --org-name "Provision" --email "bench@provision.example" | tail -n1)
  P_TOKEN=$("$BIN" --database-url "sqlite://$WORK/provision.db" scim-token --org "$P_ORG")
  say "provisioning $(num "$PROVISION_USERS") users through SCIM creates ($CONNS connections)"
  env BENCH_BASE="/scim/v2/$P_ORG" BENCH_TOKEN="$P_TOKEN" BENCH_PROVISION_USERS="$PROVISION_USERS" \
    BENCH_USERS="$WORK/provision-users.txt" BENCH_DONE_FILE="$WORK/provision-done" \
    wrk -t1 -c"$CONNS" -d600s --timeout 30s --latency -s "$LUA_DIR/provision.lua" "$OUR_URL" >"$WORK/wrk.out" 2>&1 &
  wrk_pid=$!
  p_t0=$(cpu_ticks "$OUR_PID")
  # wrk runs for its whole -d even once its thread has stopped: interrupt it (SIGINT: it prints
  # its summary) when the script says every create was answered.
  while kill -0 "$wrk_pid" 2>/dev/null && [ ! -f "$WORK/provision-done" ]; do sleep 0.2; done
  kill -INT "$wrk_pid" 2>/dev/null || true
  wait "$wrk_pid" || { cat "$WORK/wrk.out" >&2; exit 1; }
  pr=$(grep '^RESULT ' "$WORK/wrk.out") || { cat "$WORK/wrk.out" >&2; exit 1; }
  pl=$(grep '^PROVISION ' "$WORK/wrk.out") || { cat "$WORK/wrk.out" >&2; exit 1; }
  p_cpu=$(cpu_per_req "$p_t0" "$(cpu_ticks "$OUR_PID")" "$pr")
  secs=$(field seconds "$pl")
  held=$(curl -fs -H "Authorization: Bearer $P_TOKEN" "$OUR_URL/scim/v2/$P_ORG/Users?count=0" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["totalResults"])')
  hwm_after=$(peak_rss "$OUR_PID") rss_after=$(now_rss "$OUR_PID")
  say "lookups over the $(num "$held") provisioned users (${DURATION} s)"
  # VmRSS is read half-way through the lookups (VmHWM is the peak of the whole run).
  (sleep "$(( DURATION > 1 ? DURATION / 2 : 1 ))"; now_rss "$OUR_PID" >"$WORK/rss-mid") &
  sampler=$!
  lk=$(run_wrk scim.lua "$OUR_URL" lookup "$DURATION" BENCH_BASE="/scim/v2/$P_ORG" \
    BENCH_TOKEN="$P_TOKEN" BENCH_USERS="$WORK/provision-users.txt" BENCH_CREATED="$WORK" BENCH_RUN=provision)
  echo
  echo "### Provisioning $(num "$PROVISION_USERS") users through SCIM creates (ours, SQLite, release, $CONNS connections, one wrk thread)"
  echo
  echo "| measure | result | target |"
  echo "|---|---|---|"
  printf '| creates | %s requested, %s answered 201, %s users held by the server; %s s from the first request to the last answer, %s creates/s, p50 / p99 %s / %s ms, non-2xx %s, socket errors %s | < 20 s (≥ 5,000/s) |\n' \
    "$(num "$PROVISION_USERS")" "$(num "$(field created "$pl")")" "$(num "$held")" "$secs" \
    "$(num "$(awk -v n="$held" -v s="$secs" 'BEGIN { if (s > 0) print n / s; else print 0 }')")" \
    "$(field p50_ms "$pr")" "$(field p99_ms "$pr")" "$(field non2xx "$pr")" "$(field socket_errors "$pr")"
  printf '| server CPU per create (user + system, all threads) | %s µs | — |\n' "$p_cpu"
  printf '| server memory after provisioning | VmHWM %s MB, VmRSS %s MB | — |\n' "$hwm_after" "$rss_after"
  wait "$sampler"
  printf '| %s s of userName lookups over them | %s req/s, p50 / p99 %s / %s ms, non-2xx %s | — |\n' \
    "$DURATION" "$(num "$(field rps "$lk")")" "$(field p50_ms "$lk")" "$(field p99_ms "$lk")" "$(bad "$lk")"
  printf '| server memory under that load (server process alone) | VmHWM %s MB, VmRSS half-way %s MB | < 100 MB |\n' \
    "$(peak_rss "$OUR_PID")" "$(cat "$WORK/rss-mid")"
  printf '| requests left out of the SCIM request log (queue full or a failed write) | %s | 0 |\n' "$(unlogged)"
  stop_pid "$OUR_PID"
fi

# CPU time of the throwaway PostgreSQL (its postmaster and every process it started), in clock
# ticks, read from /proc (no `ps`: procps need not be installed); empty for SQLite, which runs
# inside our server; "?" when the postmaster's pid cannot be read. A process that exits between
# two readings takes its ticks with it (the pool keeps its backends for the whole window, but an
# autovacuum worker may come and go): the figure is a lower bound.
db_ticks() {
  [ "$1" = PostgreSQL ] || return 0
  local pm f line total=0
  local -a a
  pm=$(head -n1 "$PG_DIR/data/postmaster.pid" 2>/dev/null) || { echo "?"; return 0; }
  for f in /proc/[0-9]*/stat; do
    line=$(cat "$f" 2>/dev/null) || continue
    # The fields after the command name (in parentheses, which may hold spaces): a[1] is the
    # parent's pid, a[11] and a[12] the user and system ticks.
    read -r -a a <<<"${line##*) }"
    if [ "${f#/proc/}" = "$pm/stat" ] || [ "${a[1]:-}" = "$pm" ]; then
      total=$(( total + ${a[11]:-0} + ${a[12]:-0} ))
    fi
  done
  echo "$total"
}

# multi_tenant DATABASE_URL LABEL
multi_tenant() {
  start_ours "$1" "mt-$2"
  say "multi-tenant ($2): seeding $ORG_COUNT organisations × $USERS_PER_ORG users"
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" --database-url "$1" bench-seed --orgs "$ORG_COUNT" --users-per-org "$USERS_PER_ORG" >"$WORK/orgs-$2.txt"
  t1=$(date +%s.%N)
  local r pass
  # Twice: the first window holds each token's first use (a token records its use at most every
  # 30 s, a write), the second follows at once (tokens used less than 30 s before: reads only).
  local c0 c1 d0 d1
  for pass in "first use of each token" "again, tokens used < 30 s ago"; do
    c0=$(cpu_ticks "$OUR_PID")
    d0=$(db_ticks "$2")
    r=$(run_wrk multitenant.lua "$OUR_URL" "multi-tenant" "$DURATION" BENCH_ORGS="$WORK/orgs-$2.txt" BENCH_USERS_PER_ORG="$USERS_PER_ORG")
    c1=$(cpu_ticks "$OUR_PID")
    d1=$(db_ticks "$2")
    printf '| %s, %s | %s | %s / %s | %s | %s | %s | %s | %.1f s |\n' "$2" "$pass" "$(num "$(field rps "$r")")" \
      "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$(bad "$r")" "$(cpu_per_req "$c0" "$c1" "$r")" \
      "$(case "$d0$d1" in "") echo "— (in the server)" ;; *"?"*) echo "?" ;; *) cpu_per_req "$d0" "$d1" "$r" ;; esac)" \
      "$(peak_rss "$OUR_PID")" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
  done
  # The ratio compares the second windows.
  MT_RPS[$2]=$(field rps "$r")
  MT_UNLOGGED[$2]=$(unlogged)
  stop_pid "$OUR_PID"
}

if [[ " $PARTS " == *" multitenant "* ]]; then
  declare -A MT_RPS MT_UNLOGGED
  echo
  echo "### Multi-tenant lookups: $ORG_COUNT organisations × $USERS_PER_ORG users, a random organisation (its own token) and user per request, $CONNS connections"
  echo
  echo "| database | lookups/s | p50 / p99 ms | non-2xx | server CPU µs/lookup | PostgreSQL CPU µs/lookup | server peak RSS MB | seeding |"
  echo "|---|---|---|---|---|---|---|---|"
  multi_tenant "sqlite://$WORK/mt.db" SQLite
  # shellcheck source=scripts/pg.sh
  source scripts/pg.sh 2>/dev/null
  trap 'cleanup; pg_cleanup' EXIT
  multi_tenant "$PORTAL_TEST_PG_URL" PostgreSQL
  echo
  echo "PostgreSQL / SQLite (second windows): $(awk -v a="${MT_RPS[PostgreSQL]}" -v b="${MT_RPS[SQLite]}" 'BEGIN { printf "%.0f%%", a / b * 100 }')"
  echo "Requests left out of the SCIM request log (queue full or a failed write), both windows: SQLite ${MT_UNLOGGED[SQLite]}, PostgreSQL ${MT_UNLOGGED[PostgreSQL]}"
fi

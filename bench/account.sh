#!/usr/bin/env bash
# Benchmark of the whole account (BENCHMARKS.md, "The whole account"): what a
# first sync and a routine sync of every stream cost in requests, against one
# request per object, and how long that is at the real budget (120 a
# minute: a burst of 120, then 2 a second).
#
# Against `worker sim` with BUNDLES bundles and ACCOUNTS delivered accounts
# (with their bans, comment tasks and analytics), ENDPOINTS webhook endpoints
# and the deliveries EVENTS bundle changes made to them, run at RATE requests
# a second (far above the real budget, so the benchmark is quick; the
# requests do not depend on the rate). For the first sync
# `sync.max_requests_per_run` is raised so it reaches every object; the
# routine sync runs with the default (600). Then, after CHANGES
# changes upstream (accounts banned, bans and comment tasks moved a step,
# bundles changed) and a new analytics day, a routine sync.
#
# Per stream and sync: requests the sync spent, rows the table holds, and the
# time those requests take at the real budget. Everything started here is
# stopped by PID; the database is dropped.
#
# Usage: bench/account.sh   (env: BUNDLES ACCOUNTS ENDPOINTS EVENTS CHANGES RATE PG_URL)
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLES=${BUNDLES:-10000}
ACCOUNTS=${ACCOUNTS:-2000}
ENDPOINTS=${ENDPOINTS:-3}
EVENTS=${EVENTS:-100}
CHANGES=${CHANGES:-50}
RATE=${RATE:-500}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
KEY=sk_bench$(printf '%056d' $$)
DB=tokportal_bench_account_$$
STREAMS=bundles,accounts,account_bans,comments,webhook_endpoints,credit_transactions,bundle_videos,bundle_accounts,webhook_deliveries,credit_balance,account_analytics

WORKER=${CARGO_TARGET_DIR:-$PWD/target}/release/worker
TMP=$(mktemp -d)
SIM_PID=

cleanup() {
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "== building (release)" >&2
cargo build --release --locked --quiet --bin worker

rm -f "$TMP/sim.fifo" && mkfifo "$TMP/sim.fifo"
TOKPORTAL_SIM_KEYS="$KEY" "$WORKER" sim --port 0 --bundles "$BUNDLES" --accounts "$ACCOUNTS" --rate "$RATE" \
  --burst 120 >"$TMP/sim.fifo" 2>"$TMP/sim.log" &
SIM_PID=$!
read -r BASE <"$TMP/sim.fifo"
ADMIN=${BASE%/api/ext}/__sim

# Endpoints at a closed port: every delivery fails, as the receiver never got it.
for n in $(seq 1 "$ENDPOINTS"); do
  curl -sf -X POST "$BASE/webhooks" -H "X-API-Key: $KEY" -H 'content-type: application/json' \
    -d "{\"url\":\"http://127.0.0.1:9/hook$n\"}" >/dev/null
done
curl -sf -X POST "$ADMIN/data/insert" -d "{\"count\":$EVENTS}" >/dev/null

psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null
psql "$PG_URL/postgres" -qc "CREATE DATABASE $DB" >/dev/null
export DATABASE_URL="$PG_URL/$DB?sslmode=disable" TOKPORTAL_API_KEY="$KEY" TOKPORTAL__API__BASE_URL="$BASE" \
  TOKPORTAL__API__RATE_PER_SECOND="$RATE" TOKPORTAL__API__BURST=120 TOKPORTAL__SYNC__STREAMS="$STREAMS" \
  TOKPORTAL__LOG__LEVEL=warn
"$WORKER" migrate 2>/dev/null

report() { # title
  psql "$DATABASE_URL" -tAF' ' -c "
    WITH last AS (SELECT DISTINCT ON (stream) stream, kind, requests FROM tokportal.sync_runs
                  ORDER BY stream, id DESC)
    SELECT stream, kind, requests FROM last" >"$TMP/runs"
  local total=0
  printf '\n%s\n%-20s %-9s %9s %9s %12s\n' "$1" stream run requests objects "at 2/s" 
  while read -r stream kind requests; do
    local table=$stream
    case $stream in
      credit_balance) table=credit_balance_snapshots ;;
      account_analytics) table=account_analytics_snapshots ;;
    esac
    local objects
    objects=$(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM tokportal.$table")
    printf '%-20s %-9s %9s %9s %11ss\n' "$stream" "$kind" "$requests" "$objects" "$(( requests / 2 ))"
    total=$(( total + requests ))
  done <"$TMP/runs"
  local wait=$(( total > 120 ? (total - 120) / 2 : 0 ))
  printf '%-30s %9s %22s\n' "all streams" "$total" "$(( wait / 60 )) min $(( wait % 60 )) s"
}

TOKPORTAL__SYNC__MAX_REQUESTS_PER_RUN=1000000 "$WORKER" sync >/dev/null 2>"$TMP/first.log" ||
  { cat "$TMP/first.log" >&2; exit 1; }
report "first sync (empty mirror)"

# CHANGES upstream: a fifth bans accounts, a fifth moves bans a step, the rest
# moves comment tasks and bundles; then a new day for the analytics.
post() { curl -sf -X POST "$ADMIN/$1" -H 'content-type: application/json' -d "$2" >/dev/null; }
post accounts/ban "{\"count\":$(( CHANGES / 5 ))}"
post bans/change "{\"count\":$(( CHANGES / 5 ))}"
post comments/change "{\"count\":$(( CHANGES * 2 / 5 ))}"
post data/change "{\"count\":$(( CHANGES / 5 ))}"
post day/advance '{"days":1}'

printf '\nwhat `worker sync --plan` expects the routine sync to cost, before it runs (at the real 2/s):\n'
TOKPORTAL__API__RATE_PER_SECOND=2 "$WORKER" sync --plan 2>/dev/null

"$WORKER" sync >/dev/null 2>"$TMP/routine.log" || { cat "$TMP/routine.log" >&2; exit 1; }
report "routine sync ($CHANGES changes upstream, a new analytics day)"

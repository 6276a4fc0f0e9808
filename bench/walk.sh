#!/usr/bin/env bash
# Benchmark of the API client and its request budget (BENCHMARKS.md, "API
# client and budget"). Walks 30,000 bundles (300 pages of 100) from the
# built-in simulator, whose key has a bucket of burst 120 refilling 20/s:
#   a)  one `worker get /bundles --all-pages` (budget in Postgres, then in memory)
#   b)  three of them at once on the same key, sharing the Postgres budget
#   c)  next to both, a plain loop sleeping 1/rate between requests
#       (examples/fixed_sleep_walk.rs), alone and three at once.
# Each scenario gets a fresh simulator (a full bucket) and a fresh budget row.
# The script builds in release mode, creates and drops its own scratch
# database, and stops everything it started, by PID.
#
# Usage: bench/walk.sh   (env: BUNDLES RATE BURST PER_PAGE PROCS, PG_URL, PG_QUERY)
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLES=${BUNDLES:-30000}
RATE=${RATE:-20}
BURST=${BURST:-120}
PER_PAGE=${PER_PAGE:-100}
PROCS=${PROCS:-3}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
# A local server: TLS to Postgres would add its handshakes (about 0.05 s) to each process start.
PG_QUERY=${PG_QUERY:-?sslmode=disable}
DB=tokportal_bench_$$
# The simulator's key for this run: made up here, accepted only by it.
KEY=sk_bench$(printf '%056d' $$)

WORKER=${CARGO_TARGET_DIR:-$PWD/target}/release/worker
BASELINE=${CARGO_TARGET_DIR:-$PWD/target}/release/examples/fixed_sleep_walk
TMP=$(mktemp -d)
SIM_PID=
STARTED=()

cleanup() {
  for pid in "${STARTED[@]}" $SIM_PID; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED[@]}" $SIM_PID; do
    wait "$pid" 2>/dev/null || true
  done
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

echo "== building (release)" >&2
cargo build --release --quiet --bin worker --example fixed_sleep_walk

psql "$PG_URL/postgres" -qc "CREATE DATABASE $DB" >/dev/null
export DATABASE_URL="$PG_URL/$DB$PG_QUERY"
"$WORKER" migrate 2>/dev/null

start_sim() {
  rm -f "$TMP/sim.fifo" && mkfifo "$TMP/sim.fifo"
  TOKPORTAL_SIM_KEYS="$KEY" "$WORKER" sim --port 0 --bundles "$BUNDLES" --rate "$RATE" --burst "$BURST" \
    >"$TMP/sim.fifo" 2>"$TMP/sim.log" &
  SIM_PID=$!
  # The first stdout line is the API base URL; nothing else is written there.
  read -r BASE <"$TMP/sim.fifo"
  ADMIN=${BASE%/api/ext}/__sim
}

stop_sim() {
  kill "$SIM_PID" && wait "$SIM_PID" || true
  SIM_PID=
}

# Runs `$@ I` for I in 1..N at once; sets WALL to the seconds until the last ends.
run_at_once() {
  local n=$1 pids=() start end
  shift
  start=$(date +%s.%N)
  for i in $(seq 1 "$n"); do
    "$@" "$i" &
    pids+=($!)
    STARTED+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  end=$(date +%s.%N)
  STARTED=()
  WALL=$(echo "$end - $start" | bc -l)
}

worker_walk() {
  TOKPORTAL_API_KEY="$KEY" TOKPORTAL__API__BASE_URL="$BASE" TOKPORTAL__API__RATE_PER_SECOND="$RATE" \
    TOKPORTAL__API__BURST="$BURST" TOKPORTAL__API__PER_PAGE="$PER_PAGE" \
    "$WORKER" get /bundles --all-pages >"$TMP/out.$1" 2>"$TMP/err.$1"
}

memory_walk() {
  env -u DATABASE_URL TOKPORTAL_API_KEY="$KEY" TOKPORTAL__API__BASE_URL="$BASE" \
    TOKPORTAL__API__RATE_PER_SECOND="$RATE" TOKPORTAL__API__BURST="$BURST" TOKPORTAL__API__PER_PAGE="$PER_PAGE" \
    "$WORKER" get /bundles --all-pages >"$TMP/out.$1" 2>"$TMP/err.$1"
}

baseline_walk() {
  TOKPORTAL_API_KEY="$KEY" "$BASELINE" "$BASE" "$RATE" "$PER_PAGE" >"$TMP/out.$1" 2>"$TMP/err.$1"
}

# One scenario on a fresh simulator and a fresh budget row; prints a table row.
scenario() {
  local name=$1 n=$2 fn=$3
  psql "$DATABASE_URL" -qc "DELETE FROM tokportal.api_budgets" >/dev/null
  rm -f "$TMP"/out.* "$TMP"/err.*
  start_sim
  run_at_once "$n" "$fn"
  local stats requests limited items
  stats=$(curl -sf "$ADMIN/stats")
  stop_sim
  requests=$(jq '[.keys[].requests] | add' <<<"$stats")
  limited=$(jq '[.keys[].rate_limited] | add' <<<"$stats")
  if [ "$fn" = baseline_walk ]; then
    items=$(cat "$TMP"/out.* | jq -s 'map(.items) | min')
  else
    items=$(for f in "$TMP"/out.*; do wc -l <"$f"; done | sort -n | head -1)
  fi
  awk -v name="$name" -v n="$n" -v wall="$WALL" -v req="$requests" -v lim="$limited" -v items="$items" \
      -v rate="$RATE" -v burst="$BURST" -v pages="$(( (BUNDLES + PER_PAGE - 1) / PER_PAGE ))" 'BEGIN {
    optimum = (n * pages - burst) / rate
    printf "%-34s %5d %8.2f %8.2f %6.3f %9d %6d %7.2f%% %8.2f %7.1f%% %9d\n", name, n, wall, optimum, wall / optimum,
      req, lim, 100 * lim / req, req / wall, 100 * (req - lim) / (burst + rate * wall), items
  }'
}

printf "\nbucket: burst %s, %s/s; %s bundles, %s per page; %s processes for the shared runs\n\n" \
  "$BURST" "$RATE" "$BUNDLES" "$PER_PAGE" "$PROCS"
printf "%-34s %5s %8s %8s %6s %9s %6s %8s %8s %8s %9s\n" scenario procs wall_s optim_s ratio \
  requests 429s 429% req/s bucket% items/proc
scenario "a) worker get, Postgres budget" 1 worker_walk
scenario "a) worker get, memory budget" 1 memory_walk
scenario "c) fixed sleep 1/rate" 1 baseline_walk
scenario "b) worker get x$PROCS, shared budget" "$PROCS" worker_walk
scenario "c) fixed sleep 1/rate x$PROCS" "$PROCS" baseline_walk
cat <<'NOTE'

ratio    = wall time / token-bucket optimum ((requests needed - burst) / rate)
bucket%  = requests answered (not 429) / requests the bucket allows in that wall time (burst + rate x wall)
429s and requests are counted by the simulator; items/proc is the fewest items any process printed.
NOTE

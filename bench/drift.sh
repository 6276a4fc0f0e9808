#!/usr/bin/env bash
# Benchmark of the walk under drift (BENCHMARKS.md, "Walking under drift"):
# `worker get /bundles --all-pages` over BUNDLES bundles of `worker sim` (a
# bucket of burst BURST refilling RATE/s, FAIL of list requests answered 503)
# while INSERTS bundles a second are created, in two list orders: newest first
# (new bundles land at the head) and by id (anywhere in the list). Each walk
# gets a fresh simulator. With BEFORE=path/to/worker, every walk is also run by
# that build (the walker before this change) against the same simulator build.
#
# Per walk: requests and 503s as the simulator counted them, pages read again,
# the optimum (one request per page of the list as the walk ends, plus the
# 503s it was answered), wall time beside the token-bucket optimum for those
# requests, and whether every bundle present at the start (nothing is deleted)
# was delivered exactly once. No database: the budget is in memory. Everything
# started here is stopped by PID.
#
# Usage: bench/drift.sh   (env: BUNDLES RATE BURST PER_PAGE INSERTS FAIL RUNS ORDERS BEFORE)
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLES=${BUNDLES:-30000}
RATE=${RATE:-20}
BURST=${BURST:-120}
PER_PAGE=${PER_PAGE:-100}
INSERTS=${INSERTS:-5}
FAIL=${FAIL:-0.02}
RUNS=${RUNS:-3}
ORDERS=${ORDERS:-newest_first id}
BEFORE=${BEFORE:-}
# The simulator's key for this run: made up here, accepted only by it.
KEY=sk_bench$(printf '%056d' $$)

WORKER=${CARGO_TARGET_DIR:-$PWD/target}/release/worker
TMP=$(mktemp -d)
SIM_PID=
INSERTER_PID=

cleanup() {
  for pid in $INSERTER_PID $SIM_PID; do kill "$pid" 2>/dev/null || true; done
  for pid in $INSERTER_PID $SIM_PID; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

echo "== building (release)" >&2
cargo build --release --quiet --bin worker

start_sim() {
  local faults
  faults=$(printf '{"target":"reads","fail_rate":%s,"order":"%s"}' "$FAIL" "$1")
  rm -f "$TMP/sim.fifo" && mkfifo "$TMP/sim.fifo"
  TOKPORTAL_SIM_KEYS="$KEY" "$WORKER" sim --port 0 --bundles "$BUNDLES" --rate "$RATE" --burst "$BURST" \
    --faults "$faults" >"$TMP/sim.fifo" 2>"$TMP/sim.log" &
  SIM_PID=$!
  # The first stdout line is the API base URL; nothing else is written there.
  read -r BASE <"$TMP/sim.fifo"
  ADMIN=${BASE%/api/ext}/__sim
}

stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Creates a bundle every 1/INSERTS s until killed.
insert_loop() {
  local pause
  pause=$(echo "1 / $INSERTS" | bc -l)
  while :; do
    curl -sf -X POST "$ADMIN/data/insert" -d '{"count":1}' >/dev/null || true
    sleep "$pause"
  done
}

# One walk by the worker binary $2 over order $1; prints a table row.
walk_once() {
  local order=$1 bin=$2 name=$3 start end
  start_sim "$order"
  curl -sf "$ADMIN/dataset" | jq -r '.bundles[].id' | sort >"$TMP/start.ids"
  insert_loop &
  INSERTER_PID=$!
  start=$(date +%s.%N)
  (cd "$TMP" && TOKPORTAL_API_KEY="$KEY" TOKPORTAL__API__BASE_URL="$BASE" \
    TOKPORTAL__API__RATE_PER_SECOND="$RATE" TOKPORTAL__API__BURST="$BURST" \
    TOKPORTAL__API__PER_PAGE="$PER_PAGE" TOKPORTAL__LOG__FORMAT=json \
    env -u DATABASE_URL "$bin" get /bundles --all-pages >"$TMP/out" 2>"$TMP/err")
  end=$(date +%s.%N)
  stop "$INSERTER_PID"
  INSERTER_PID=
  local stats inserted
  stats=$(curl -sf "$ADMIN/stats")
  inserted=$(( $(curl -sf "$ADMIN/dataset" | jq '.bundles | length') - BUNDLES ))
  stop "$SIM_PID"
  SIM_PID=
  local summary requests failed limited pages rereads items missed twice
  summary=$(jq -c 'select(.fields.message == "walk complete") | .fields' "$TMP/err")
  requests=$(jq '[.keys[].requests] | add' <<<"$stats")
  limited=$(jq '[.keys[].rate_limited] | add' <<<"$stats")
  failed=$(jq '.faults_fired.failed' <<<"$stats")
  pages=$(jq '.pages' <<<"$summary")
  rereads=$(jq '.rereads' <<<"$summary")
  jq -r '.id' "$TMP/out" | sort >"$TMP/out.ids"
  items=$(wc -l <"$TMP/out.ids")
  twice=$(uniq -d "$TMP/out.ids" | wc -l)
  missed=$(comm -23 "$TMP/start.ids" <(uniq "$TMP/out.ids") | wc -l)
  awk -v order="$order" -v name="$name" -v wall="$(echo "$end - $start" | bc -l)" -v req="$requests" \
      -v failed="$failed" -v lim="$limited" -v pages="$pages" -v rereads="$rereads" -v items="$items" \
      -v missed="$missed" -v twice="$twice" -v inserted="$inserted" -v rate="$RATE" -v burst="$BURST" 'BEGIN {
    needed = pages - rereads + failed
    optimum = (needed - burst) / rate
    printf "%-12s %-7s %7.2f %7.2f %6.3f %8d %5d %5d %7d %7d %6.3f %6d %6.1f %7d %6d %5d\n", order, name, wall,
      optimum, wall / optimum, req, failed, lim, rereads, needed, req / needed, pages - rereads, inserted / wall,
      items, missed, twice
  }'
}

printf "\nbucket: burst %s, %s/s; %s bundles, %s per page; %s inserts/s; %s of list requests answered 503\n\n" \
  "$BURST" "$RATE" "$BUNDLES" "$PER_PAGE" "$INSERTS" "$FAIL"
printf "%-12s %-7s %7s %7s %6s %8s %5s %5s %7s %7s %6s %6s %6s %7s %6s %5s\n" order walker wall_s optim_s ratio \
  requests 503s 429s rereads optim_r ratio pages ins/s items missed twice
for order in $ORDERS; do
  for run in $(seq 1 "$RUNS"); do
    walk_once "$order" "$WORKER" now
    if [ -n "$BEFORE" ]; then walk_once "$order" "$BEFORE" before; fi
  done
done
cat <<'NOTE'

optim_r = pages of the list as the walk ended (pages read - rereads) + the 503s answered
ratio   = requests / optim_r (the second), wall time / token-bucket optimum ((optim_r - burst) / rate) (the first)
ins/s   = bundles created during the walk / its wall time
requests, 503s and 429s are the simulator's counts; missed = bundles present at the start (none is
deleted) that the walk never printed; twice = bundles printed more than once.
NOTE

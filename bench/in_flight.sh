#!/usr/bin/env bash
# Benchmark of pages in flight (BENCHMARKS.md, "Pages in flight"): the main
# job at the budget's limit. Against `worker sim` with BUNDLES bundles (300
# pages of 100) and a bucket of burst BURST refilling RATE/s:
#   S1  nothing else happens;
#   S2  FAIL of list requests are answered 503 and INSERTS bundles a second
#       are created during the walk;
# each with answers taking 0 s and LATENCY_MS (the simulator's --latency-ms;
# with LATENCY_JITTER_MS, up to that much more per answer, drawn at random),
# walked by `worker sync --stream bundles` (into an empty mirror, budget in
# Postgres) and by `worker get /bundles --all-pages` (budget in memory).
# Each walk gets a fresh simulator (a full bucket) and, for sync, a fresh
# database.
#
# Per walk: wall time (process start to exit) beside the token-bucket
# optimum for the requests the walk needs (the list's pages as the walk ends,
# plus the 503s it was answered, less the burst, over the rate), the
# requests and 429s the simulator counted, and pages read again.
# Everything started here is stopped by PID; the databases are dropped.
#
# Usage: bench/in_flight.sh   (env: BUNDLES RATE BURST PER_PAGE INSERTS FAIL LATENCY_MS LATENCY_JITTER_MS RUNS
#                              SCENARIOS WALKERS PG_URL, and WORKER: a worker binary to use
#                              instead of building one, e.g. to compare two builds)
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLES=${BUNDLES:-30000}
RATE=${RATE:-20}
BURST=${BURST:-120}
PER_PAGE=${PER_PAGE:-100}
INSERTS=${INSERTS:-5}
FAIL=${FAIL:-0.02}
LATENCY_MS=${LATENCY_MS:-100}
LATENCY_JITTER_MS=${LATENCY_JITTER_MS:-0}
RUNS=${RUNS:-1}
SCENARIOS=${SCENARIOS:-S1 S2}
WALKERS=${WALKERS:-sync get}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
KEY=sk_bench$(printf '%056d' $$)
DB=tokportal_bench_inflight_$$

BUILD=${WORKER:+no}
WORKER=${WORKER:-${CARGO_TARGET_DIR:-$PWD/target}/release/worker}
TMP=$(mktemp -d)
SIM_PID=
INSERTER_PID=

cleanup() {
  for pid in $INSERTER_PID $SIM_PID; do kill "$pid" 2>/dev/null || true; done
  for pid in $INSERTER_PID $SIM_PID; do wait "$pid" 2>/dev/null || true; done
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

if [ -z "$BUILD" ]; then
  echo "== building (release)" >&2
  cargo build --release --locked --quiet --bin worker
fi

start_sim() { # scenario, latency_ms
  local faults='{}'
  if [ "$1" = S2 ]; then faults=$(printf '{"target":"reads","fail_rate":%s}' "$FAIL"); fi
  rm -f "$TMP/sim.fifo" && mkfifo "$TMP/sim.fifo"
  TOKPORTAL_SIM_KEYS="$KEY" "$WORKER" sim --port 0 --bundles "$BUNDLES" --rate "$RATE" --burst "$BURST" \
    --faults "$faults" --latency-ms "$2" --latency-jitter-ms "$(( $2 > 0 ? LATENCY_JITTER_MS : 0 ))" \
    >"$TMP/sim.fifo" 2>"$TMP/sim.log" &
  SIM_PID=$!
  read -r BASE <"$TMP/sim.fifo"
  ADMIN=${BASE%/api/ext}/__sim
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

insert_loop() {
  local pause
  pause=$(echo "1 / $INSERTS" | bc -l)
  while :; do
    curl -sf -X POST "$ADMIN/data/insert" -d '{"count":1}' >/dev/null || true
    sleep "$pause"
  done
}

fresh_db() {
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null
  psql "$PG_URL/postgres" -qc "CREATE DATABASE $DB" >/dev/null
  DATABASE_URL="$PG_URL/$DB?sslmode=disable" "$WORKER" migrate 2>/dev/null
}

walk_once() { # scenario, latency_ms, walker
  local scenario=$1 latency=$2 walker=$3 start end
  if [ "$walker" = sync ]; then fresh_db; fi
  start_sim "$scenario" "$latency"
  if [ "$scenario" = S2 ]; then insert_loop & INSERTER_PID=$!; fi
  start=$(date +%s.%N)
  if [ "$walker" = sync ]; then
    (cd "$TMP" && DATABASE_URL="$PG_URL/$DB?sslmode=disable" TOKPORTAL_API_KEY="$KEY" \
      TOKPORTAL__API__BASE_URL="$BASE" TOKPORTAL__API__RATE_PER_SECOND="$RATE" TOKPORTAL__API__BURST="$BURST" \
      TOKPORTAL__API__PER_PAGE="$PER_PAGE" TOKPORTAL__LOG__FORMAT=json RUST_LOG=warn \
      "$WORKER" sync --stream bundles >/dev/null 2>"$TMP/err")
  else
    (cd "$TMP" && env -u DATABASE_URL TOKPORTAL_API_KEY="$KEY" TOKPORTAL__API__BASE_URL="$BASE" \
      TOKPORTAL__API__RATE_PER_SECOND="$RATE" TOKPORTAL__API__BURST="$BURST" \
      TOKPORTAL__API__PER_PAGE="$PER_PAGE" TOKPORTAL__LOG__FORMAT=json \
      "$WORKER" get /bundles --all-pages >"$TMP/out" 2>"$TMP/err")
  fi
  end=$(date +%s.%N)
  if [ -n "$INSERTER_PID" ]; then stop "$INSERTER_PID"; INSERTER_PID=; fi
  local stats requests limited failed pages rereads items
  stats=$(curl -sf "$ADMIN/stats")
  stop "$SIM_PID"
  SIM_PID=
  requests=$(jq '[.keys[].requests] | add' <<<"$stats")
  limited=$(jq '[.keys[].rate_limited] | add' <<<"$stats")
  failed=$(jq '.faults_fired.failed' <<<"$stats")
  if [ "$walker" = sync ]; then
    read -r pages rereads items < <(psql "$PG_URL/$DB" -tAF' ' -c \
      "SELECT pages, rereads, items FROM tokportal.sync_runs ORDER BY id DESC LIMIT 1")
  else
    local summary
    summary=$(jq -c 'select(.fields.message == "walk complete") | .fields' "$TMP/err")
    pages=$(jq '.pages' <<<"$summary")
    rereads=$(jq '.rereads' <<<"$summary")
    items=$(wc -l <"$TMP/out")
  fi
  awk -v s="$scenario" -v lat="$latency" -v w="$walker" -v wall="$(echo "$end - $start" | bc -l)" \
      -v req="$requests" -v lim="$limited" -v failed="$failed" -v pages="$pages" -v rereads="$rereads" \
      -v items="$items" -v rate="$RATE" -v burst="$BURST" 'BEGIN {
    needed = pages - rereads + failed
    optimum = (needed - burst) / rate
    printf "%-3s %6d %-5s %7.2f %7.2f %6.3f %8d %5d %5d %7d %7d %7d\n", s, lat, w, wall, optimum, wall / optimum,
      req, failed, lim, rereads, needed, items
  }'
}

printf "\nbucket: burst %s, %s/s; %s bundles, %s per page; S2: %s inserts/s, %s of list requests answered 503; latency jitter up to %s ms\n\n" \
  "$BURST" "$RATE" "$BUNDLES" "$PER_PAGE" "$INSERTS" "$FAIL" "$LATENCY_JITTER_MS"
printf "%-3s %6s %-5s %7s %7s %6s %8s %5s %5s %7s %7s %7s\n" sc lat_ms walk wall_s optim_s ratio requests 503s \
  429s rereads needed items
for scenario in $SCENARIOS; do
  for latency in 0 "$LATENCY_MS"; do
    for walker in $WALKERS; do
      for _ in $(seq 1 "$RUNS"); do walk_once "$scenario" "$latency" "$walker"; done
    done
  done
done
cat <<'NOTE'

needed  = pages of the list as the walk ended (pages read - rereads) + the 503s it was answered
optim_s = (needed - burst) / rate: the token-bucket optimum; ratio = wall_s / optim_s (wall time of the
          whole process: start, GET /me for sync, the walk, exit)
requests, 503s and 429s are the simulator's counts (requests include GET /me and any page read ahead
and dropped); items = items the walk wrote or printed.
NOTE

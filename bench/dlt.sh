#!/usr/bin/env bash
# Benchmark against dlt (BENCHMARKS.md, "Against dlt"): the walk of the whole
# `/bundles` list into Postgres by `worker sync --stream bundles` and by dlt's
# REST API source (bench/dlt_bundles.py: page-number paginator, merge on
# `id`), side by side, alternating which goes first. Against `worker sim` with
# BUNDLES bundles (300 pages of 100) and a bucket of burst BURST refilling
# RATE/s, answers taking 0 s and LATENCY_MS (the simulator's --latency-ms).
# Each walk gets a fresh simulator (a full bucket) and a fresh database.
#
# dlt runs in a Python venv outside the repository (VENV, created on first
# use with `pip install dlt[postgres]==DLT_VERSION` from PyPI). It has no
# token bucket: it sends one page at a time, meets the 429s and retries after
# `Retry-After` (its client's default); every setting is in dlt_bundles.py.
# Its anonymous usage telemetry is switched off (RUNTIME__DLTHUB_TELEMETRY).
#
# Per walk: wall time (process start to exit) beside the token-bucket optimum
# ((pages - burst) / rate), the requests and 429s the simulator counted, the
# rows that landed (counted in the table, checked against the simulator's
# bundles id for id), and for dlt its extract, normalize and load steps. Per
# pair: the ratio dlt / sync. At the end: the medians over RUNS pairs.
# Everything started here is stopped by PID; the databases are dropped.
#
# Usage: bench/dlt.sh   (env: BUNDLES RATE BURST PER_PAGE LATENCY_MS RUNS PG_URL DLT_VERSION VENV)
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLES=${BUNDLES:-30000}
RATE=${RATE:-20}
BURST=${BURST:-120}
PER_PAGE=${PER_PAGE:-100}
LATENCY_MS=${LATENCY_MS:-100}
RUNS=${RUNS:-3}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
DLT_VERSION=${DLT_VERSION:-1.31.0}
VENV=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tokportal-bench/dlt-venv}
KEY=sk_bench$(printf '%056d' $$)
DB=tokportal_bench_dlt_$$

WORKER=${CARGO_TARGET_DIR:-$PWD/target}/release/worker
SCRIPT=$PWD/bench/dlt_bundles.py
TMP=$(mktemp -d)
SIM_PID=

cleanup() {
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

if ! "$VENV/bin/python" -c "import dlt, sys; sys.exit(dlt.__version__ != '$DLT_VERSION')" 2>/dev/null; then
  echo "== installing dlt[postgres]==$DLT_VERSION into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "dlt[postgres]==$DLT_VERSION"
fi

echo "== building (release)" >&2
cargo build --release --locked --quiet --bin worker

start_sim() { # latency_ms
  rm -f "$TMP/sim.fifo" && mkfifo "$TMP/sim.fifo"
  TOKPORTAL_SIM_KEYS="$KEY" "$WORKER" sim --port 0 --bundles "$BUNDLES" --rate "$RATE" --burst "$BURST" \
    --latency-ms "$1" >"$TMP/sim.fifo" 2>"$TMP/sim.log" &
  SIM_PID=$!
  read -r BASE <"$TMP/sim.fifo"
  ADMIN=${BASE%/api/ext}/__sim
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

fresh_db() {
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
  psql "$PG_URL/postgres" -qc "CREATE DATABASE $DB" >/dev/null
}

walk_once() { # latency_ms, walker; prints one row and sets WALL
  local latency=$1 walker=$2 start end table steps='-'
  fresh_db
  if [ "$walker" = sync ]; then DATABASE_URL="$PG_URL/$DB?sslmode=disable" "$WORKER" migrate 2>/dev/null; fi
  rm -rf "$TMP/dlt" && mkdir "$TMP/dlt"
  start_sim "$latency"
  start=$(date +%s.%N)
  if [ "$walker" = sync ]; then
    (cd "$TMP" && DATABASE_URL="$PG_URL/$DB?sslmode=disable" TOKPORTAL_API_KEY="$KEY" \
      TOKPORTAL__API__BASE_URL="$BASE" TOKPORTAL__API__RATE_PER_SECOND="$RATE" TOKPORTAL__API__BURST="$BURST" \
      TOKPORTAL__API__PER_PAGE="$PER_PAGE" TOKPORTAL__LOG__FORMAT=json RUST_LOG=warn \
      "$WORKER" sync --stream bundles >/dev/null 2>"$TMP/err")
  else
    (cd "$TMP/dlt" && env -u DATABASE_URL TOKPORTAL_API_KEY="$KEY" TOKPORTAL_BASE_URL="$BASE" \
      DLT_PG_URL="$PG_URL/$DB" DLT_PIPELINES_DIR="$TMP/dlt/pipelines" PER_PAGE="$PER_PAGE" \
      RUNTIME__DLTHUB_TELEMETRY=false "$VENV/bin/python" "$SCRIPT" >"$TMP/out" 2>"$TMP/err") || {
      echo "dlt failed:" >&2
      tail -20 "$TMP/err" >&2
      return 1
    }
  fi
  end=$(date +%s.%N)
  local stats requests limited rows missing
  stats=$(curl -sf "$ADMIN/stats")
  curl -sf "$ADMIN/dataset" | jq -r '.bundles[].id' | sort >"$TMP/sim_ids"
  stop "$SIM_PID"
  SIM_PID=
  requests=$(jq '[.keys[].requests] | add' <<<"$stats")
  limited=$(jq '[.keys[].rate_limited] | add' <<<"$stats")
  if [ "$walker" = sync ]; then
    table="tokportal.bundles WHERE deleted_at IS NULL"
  else
    table="tokportal_dlt.bundles"
    steps=$(jq -r '.steps | "\(.extract) \(.normalize) \(.load)"' "$TMP/out")
    DLT_SEEN=$(jq -r '.dlt' "$TMP/out")
  fi
  psql "$PG_URL/$DB" -tAc "SELECT id FROM $table" | sort >"$TMP/db_ids"
  rows=$(wc -l <"$TMP/db_ids")
  missing=$(comm -3 "$TMP/sim_ids" "$TMP/db_ids" | wc -l)
  if [ "$missing" -ne 0 ] || [ "$rows" -ne "$(wc -l <"$TMP/sim_ids")" ]; then
    echo "$walker: $rows rows landed, the simulator holds $(wc -l <"$TMP/sim_ids"); $missing ids differ" >&2
    return 1
  fi
  WALL=$(echo "$end - $start" | bc -l)
  awk -v lat="$latency" -v w="$walker" -v wall="$WALL" -v req="$requests" -v lim="$limited" -v rows="$rows" \
      -v steps="$steps" -v bundles="$BUNDLES" -v per="$PER_PAGE" -v rate="$RATE" -v burst="$BURST" 'BEGIN {
    pages = int((bundles + per - 1) / per)
    optimum = (pages - burst) / rate
    printf "%6d %-5s %7.2f %7.2f %6.3f %8d %5d %7d", lat, w, wall, optimum, wall / optimum, req, lim, rows
    if (split(steps, s, " ") == 3) {
      printf "  %.2f/%.2f/%.2f + %.2f", s[1], s[2], s[3], wall - s[1] - s[2] - s[3]
    }
    printf "\n"
  }' | tee -a "$TMP/walks"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf "\nbucket: burst %s, %s/s; %s bundles, %s per page; dlt %s; %s pairs a latency, alternating\n\n" \
  "$BURST" "$RATE" "$BUNDLES" "$PER_PAGE" "$DLT_VERSION" "$RUNS"
printf "%6s %-5s %7s %7s %6s %8s %5s %7s  %s\n" lat_ms walk wall_s optim_s ratio requests 429s rows \
  "dlt extract/normalize/load + rest, s"
: >"$TMP/walks"
: >"$TMP/pairs"
for latency in 0 "$LATENCY_MS"; do
  for run in $(seq 1 "$RUNS"); do
    if [ $((run % 2)) -eq 1 ]; then order="dlt sync"; else order="sync dlt"; fi
    for walker in $order; do
      walk_once "$latency" "$walker"
      if [ "$walker" = dlt ]; then dlt_wall=$WALL; else sync_wall=$WALL; fi
    done
    ratio=$(echo "$dlt_wall / $sync_wall" | bc -l)
    printf "%6d %-5s %37s dlt/sync %.2f\n" "$latency" pair '' "$ratio"
    echo "$latency $ratio" >>"$TMP/pairs"
  done
done

printf "\nmedians over %s pairs (dlt %s)\n\n" "$RUNS" "${DLT_SEEN:-?}"
printf "%6s %-5s %7s %6s %8s %5s %7s\n" lat_ms walk wall_s ratio requests 429s rows
for latency in 0 "$LATENCY_MS"; do
  for walker in sync dlt; do
    sel() { awk -v l="$latency" -v w="$walker" -v c="$1" '$1 == l && $2 == w { print $c }' "$TMP/walks" | median; }
    printf "%6d %-5s %7.2f %6.3f %8s %5s %7s\n" "$latency" "$walker" "$(sel 3)" "$(sel 5)" "$(sel 6)" "$(sel 7)" \
      "$(sel 8)"
  done
  printf "%6d %-5s dlt/sync %.2f\n" "$latency" median \
    "$(awk -v l="$latency" '$1 == l { print $2 }' "$TMP/pairs" | median)"
done
cat <<'NOTE'

optim_s = (pages - burst) / rate: the token-bucket optimum; ratio = wall_s / optim_s (wall time of the
          whole process: start, for sync GET /me and the run's bookkeeping, for dlt importing dlt and
          its extract, normalize and load steps, exit; "rest" is the time outside the three steps:
          starting Python, importing dlt, setting the pipeline up, exit)
requests and 429s are the simulator's counts; rows = rows in the table after the walk (sync: the
mirror's live bundles; dlt: tokportal_dlt.bundles), equal id for id to the simulator's bundles.
dlt/sync = a pair's wall times (the two walks run one after the other on the same machine).
NOTE

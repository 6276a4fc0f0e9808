#!/usr/bin/env bash
# Benchmarks of the mirror (BENCHMARKS.md, "The mirror"), against the built-in
# simulator with its rate limit off and the worker's budget configured huge,
# so the figures measure the pipeline (HTTP, JSON, Postgres), not the budget:
#   1. `worker sync --stream bundles` of BUNDLES bundles into an empty mirror:
#      rows/s, the worker's peak RSS and CPU time (/usr/bin/time -v) and the
#      simulator's CPU time meanwhile (the three share the machine's cores);
#   2. `COPY` of the same rows into a table of the same shape (same indexes),
#      in the same run: rows/s, and the mirror's rate as a share of it;
#   3. a second walk of the unchanged account: n_tup_upd / n_tup_hot_upd of
#      tokportal.bundles before and after (no row may be rewritten);
#   4. on a separate account of ROUTINE_BUNDLES bundles: a first full sync of
#      bundles and children, then ROUTINE_CHANGED bundles changed, then one
#      routine `worker sync`: the requests it spends, against one request per
#      bundle per child stream.
# It builds in release mode, creates and drops its own scratch database, and
# stops everything it started, by PID.
#
# Usage: bench/mirror.sh   (env: BUNDLES, ROUTINE_BUNDLES, ROUTINE_CHANGED, PG_URL;
#   WORKER=path runs a worker already built instead of building one, e.g. to
#   compare two builds in turns; ROUTINE_BUNDLES=0 leaves out part 4)
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLES=${BUNDLES:-100000}
ROUTINE_BUNDLES=${ROUTINE_BUNDLES:-10000}
ROUTINE_CHANGED=${ROUTINE_CHANGED:-100}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
DB=tokportal_bench_mirror_$$
KEY=sk_bench$(printf '%056d' $$)
BUILD=${WORKER:+no}
WORKER=${WORKER:-${CARGO_TARGET_DIR:-$PWD/target}/release/worker}
mkdir -p target && TMP=$(mktemp -d -p "$PWD/target" bench-mirror.XXXXXX)
SIM_PID=

cleanup() {
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

if [ -z "$BUILD" ]; then
  echo "== building (release)" >&2
  cargo build --release --quiet --bin worker
fi

psql "$PG_URL/postgres" -qc "CREATE DATABASE $DB" >/dev/null
export DATABASE_URL="$PG_URL/$DB?sslmode=disable"
"$WORKER" migrate 2>/dev/null
q() { psql "$DATABASE_URL" -tAqc "$1"; }

start_sim() {
  rm -f "$TMP/sim.fifo" && mkfifo "$TMP/sim.fifo"
  # No 429s; the headers still announce a bucket of BIG tokens, so the
  # worker, which follows the server's bucket size, never paces.
  TOKPORTAL_SIM_KEYS="$KEY" "$WORKER" sim --port 0 --bundles "$1" --no-rate-limit --burst "$BIG" --rate 100 \
    >"$TMP/sim.fifo" 2>"$TMP/sim.log" &
  SIM_PID=$!
  read -r BASE <"$TMP/sim.fifo"
  ADMIN=${BASE%/api/ext}/__sim
}
stop_sim() { kill "$SIM_PID" && wait "$SIM_PID" || true; SIM_PID=; }

# A bucket that never runs short (refill 100/s, so the budget books its
# sends in batches): the figures measure the pipeline, not the pacing.
BIG=2000000000
export TOKPORTAL_API_KEY="$KEY" TOKPORTAL__API__RATE_PER_SECOND=100 TOKPORTAL__API__BURST=$BIG
export TOKPORTAL__SYNC__MAX_REQUESTS_PER_RUN=1000000 RUST_LOG=warn

now() { date +%s.%N; }
sync_timed() { # label, args...: runs worker sync under /usr/bin/time; sets WALL and RSS_MB
  local label=$1 start end
  shift
  start=$(now)
  TOKPORTAL__API__BASE_URL="$BASE" /usr/bin/time -v "$WORKER" sync "$@" 2>"$TMP/$label.err" >/dev/null
  end=$(now)
  WALL=$(echo "$end - $start" | bc -l)
  RSS_MB=$(awk '/Maximum resident set size/ {printf "%.1f", $6 / 1024}' "$TMP/$label.err")
  CPU_S=$(awk -F': ' '/(User|System) time/ {s += $2} END {printf "%.1f", s}' "$TMP/$label.err")
}
# CPU seconds (user + system) the simulator has used so far.
sim_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$SIM_PID/stat"; }
stats() { q "SELECT pg_stat_clear_snapshot(); SELECT n_tup_upd || ' ' || n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = 'tokportal.bundles'::regclass" | tail -1; }

echo "== 1. first walk of $BUNDLES bundles" >&2
start_sim "$BUNDLES"
SIM_CPU=$(sim_cpu)
sync_timed first --stream bundles
SIM_CPU=$(echo "$(sim_cpu) - $SIM_CPU" | bc -l)
ROWS=$(q "SELECT count(*) FROM tokportal.bundles")
MIRROR_RATE=$(echo "$ROWS / $WALL" | bc -l)
printf "mirror: %d rows in %.2f s = %.0f rows/s, peak RSS %s MiB; CPU: worker %s s, simulator %.1f s\n" \
  "$ROWS" "$WALL" "$MIRROR_RATE" "$RSS_MB" "$CPU_S" "$SIM_CPU"

echo "== 2. COPY of the same rows" >&2
psql "$DATABASE_URL" -qc "\\copy (SELECT * FROM tokportal.bundles) TO '$TMP/rows.copy'"
q "CREATE TABLE public.bench_copy (LIKE tokportal.bundles INCLUDING DEFAULTS INCLUDING INDEXES)" >/dev/null
start=$(now)
psql "$DATABASE_URL" -qc "\\copy public.bench_copy FROM '$TMP/rows.copy'"
end=$(now)
COPY_WALL=$(echo "$end - $start" | bc -l)
COPY_RATE=$(echo "$ROWS / $COPY_WALL" | bc -l)
printf "COPY:   %d rows in %.2f s = %.0f rows/s; mirror / COPY = %.2f\n" "$ROWS" "$COPY_WALL" "$COPY_RATE" \
  "$(echo "$MIRROR_RATE / $COPY_RATE" | bc -l)"

echo "== 3. second walk, nothing changed" >&2
BEFORE=$(stats)
sync_timed second --stream bundles
AFTER=$(stats)
printf "second walk: %.2f s, peak RSS %s MiB; n_tup_upd n_tup_hot_upd before: %s, after: %s\n" \
  "$WALL" "$RSS_MB" "$BEFORE" "$AFTER"
stop_sim
[ "$ROUTINE_BUNDLES" -gt 0 ] || exit 0

echo "== 4. routine run on $ROUTINE_BUNDLES bundles, $ROUTINE_CHANGED changed" >&2
psql "$DATABASE_URL" -qc "TRUNCATE tokportal.bundles, tokportal.bundle_videos, tokportal.bundle_accounts, tokportal.child_refreshes, tokportal.sync_runs CASCADE"
start_sim "$ROUTINE_BUNDLES"
sync_timed full
FULL_REQ=$(q "SELECT sum(requests) FROM tokportal.sync_runs")
curl -sf -X POST "$ADMIN/data/change" -H 'content-type: application/json' \
  -d "{\"count\": $ROUTINE_CHANGED, \"set\": {\"title\": \"changed by the benchmark\"}}" >/dev/null
LAST=$(q "SELECT max(id) FROM tokportal.sync_runs")
unset TOKPORTAL__SYNC__MAX_REQUESTS_PER_RUN
sync_timed routine
q "SELECT stream, requests, coalesce(plan::text, '') FROM tokportal.sync_runs WHERE id > $LAST ORDER BY id" |
  sed 's/^/  /'
ROUTINE_REQ=$(q "SELECT sum(requests) FROM tokportal.sync_runs WHERE id > $LAST")
PAGES=$(( (ROUTINE_BUNDLES + 99) / 100 ))
NAIVE=$(( PAGES + 2 * ROUTINE_BUNDLES ))
printf "first full sync: %s requests; routine run: %s requests; one request per bundle per child stream: %s; ratio %.3f\n" \
  "$FULL_REQ" "$ROUTINE_REQ" "$NAIVE" "$(echo "$ROUTINE_REQ / $NAIVE" | bc -l)"
stop_sim

#!/usr/bin/env bash
# Staleness benchmark (BENCHMARKS.md, "Continuous mode: staleness"): how long a
# change upstream takes to reach the mirror, on the 15-minute schedule and in
# continuous mode, with no webhooks.
#
# The built-in simulator holds BUNDLES bundles and changes them at a steady
# rate (its `/__sim/churn` knob): each change is a new status (the list item),
# or one video slot, or the account, stamped `updated_at` and logged with its
# time. Triggers in the benchmark's scratch database log when the mirror first
# showed each `updated_at`. A job (an account-only bundle) is enqueued every
# JOB_EVERY seconds to see how long jobs wait for the budget in each mode.
#
# Time runs SCALE times faster than real: the key's rate is 2*SCALE a second
# (burst 120 and 100 a page, as the real key), the schedule, the children's
# refresh periods and the change rate are scaled by the same factor, so every
# figure is reported in real time (wall seconds times SCALE). With SCALE=30 (the
# default), a minute of the benchmark is half an hour of a real account. The
# scale must stay one the machine keeps up with: every page and child written
# in under 1/(2*SCALE) s, or the machine, not the budget, sets the pace.
#
# Per mode: after a warm-up (one full sync of every bundle and child, then
# WARM_MINUTES of the mode), changes made during the next MINUTES are followed
# up to TAIL_MINUTES more; p50/p95/max delay, for bundle rows (status changes)
# and for slots and accounts of non-terminal bundles, those never seen counted
# (and counted as infinitely late in the percentiles), beside the bound: the
# time the budget the list walks left (2/s less their requests a second, real)
# needs to fetch every non-terminal bundle's children once; requests an hour; jobs'
# wait from enqueue to first send. The script builds in release mode, creates
# and drops its scratch database, and stops everything it started, by PID.
#
# MODES: "schedule" (every 15 minutes, scaled) and "continuous", each
# optionally followed by ":SHARE" (continuous: a `sync.walk_share` other
# than the default; the share each mode ran with is in its row) and
# ":TAIL" (that mode's TAIL_MINUTES), as in "schedule::16 continuous:0.95:4". STREAMS (comma-separated): the
# streams mirrored, by default the bundles and their two child streams, the
# issue's 10,000 bundles; with more lists (accounts, account_bans) the walks'
# share is spread over them all. Besides the requests an hour, each row
# splits them: the walks' share of them, and the children's requests by
# class (changed bundles', non-terminal ones', the rotation's; in continuous mode new
# bundles', the round's, the rotation's). Size
# TAIL_MINUTES above the bound (real seconds / SCALE / 60): a change not seen
# by the end counts as infinitely late.
#
# Usage: bench/staleness.sh   (env: BUNDLES SCALE CHANGES_PER_HOUR MINUTES WARM_MINUTES
#                               TAIL_MINUTES JOB_EVERY MODES STREAMS PG_URL PG_QUERY, and
#                               WORKER: a worker binary to use instead of building one)
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLES=${BUNDLES:-10000}
SCALE=${SCALE:-30}
CHANGES_PER_HOUR=${CHANGES_PER_HOUR:-3600}
MINUTES=${MINUTES:-4}
WARM_MINUTES=${WARM_MINUTES:-1}
TAIL_MINUTES=${TAIL_MINUTES:-16}
JOB_EVERY=${JOB_EVERY:-5}
MODES=${MODES:-schedule continuous}
STREAMS=${STREAMS:-bundles,bundle_videos,bundle_accounts}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_QUERY=${PG_QUERY:-?sslmode=disable}
DB=tokportal_staleness_$$
KEY=sk_bench$(printf '%056d' $$)

WORKER=${WORKER:-}
TMP=$(mktemp -d)
SIM_PID=
DAEMON_PID=

cleanup() {
  for pid in $DAEMON_PID $SIM_PID; do kill "$pid" 2>/dev/null || true; done
  for pid in $DAEMON_PID $SIM_PID; do wait "$pid" 2>/dev/null || true; done
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

RATE=$(echo "2 * $SCALE" | bc -l)
PERIOD=$(( 900 / SCALE ))   # the 15-minute schedule, scaled (seconds; must divide 60, or be 60)
case $PERIOD in
  60) CRON="0 * * * * *" ;;
  1|2|3|4|5|6|10|12|15|20|30) CRON="*/$PERIOD * * * * *" ;;
  *) echo "SCALE must make 900/SCALE seconds divide a minute (15, 30, 45, 60, 75, 90, 150, 180, 225, 300, 450, 900)" >&2; exit 2 ;;
esac

if [ -z "$WORKER" ]; then
  echo "== building (release)" >&2
  cargo build --release --quiet --bin worker
  WORKER=${CARGO_TARGET_DIR:-$PWD/target}/release/worker
fi

psql "$PG_URL/postgres" -qc "CREATE DATABASE $DB" >/dev/null
export DATABASE_URL="$PG_URL/$DB$PG_QUERY"
"$WORKER" migrate 2>/dev/null

rm -f "$TMP/sim.fifo" && mkfifo "$TMP/sim.fifo"
TOKPORTAL_SIM_KEYS="$KEY" "$WORKER" sim --port 0 --bundles "$BUNDLES" --rate "$RATE" --burst 120 \
  >"$TMP/sim.fifo" 2>"$TMP/sim.log" &
SIM_PID=$!
read -r BASE <"$TMP/sim.fifo"
ADMIN=${BASE%/api/ext}/__sim

export TOKPORTAL_API_KEY="$KEY" TOKPORTAL__API__BASE_URL="$BASE" TOKPORTAL__API__RATE_PER_SECOND="$RATE" \
  TOKPORTAL__API__BURST=120 TOKPORTAL__API__PER_PAGE=100 TOKPORTAL__SERVER__LISTEN=127.0.0.1:0 \
  TOKPORTAL__SYNC__CHILDREN_ACTIVE_REFRESH="$(( 3600 / SCALE ))s" \
  TOKPORTAL__SYNC__CHILDREN_FULL_REFRESH="$(( 86400 / SCALE ))s" \
  TOKPORTAL__SYNC__STREAMS="$STREAMS" TOKPORTAL__LOG__LEVEL=warn

echo "== warm-up: one full sync of $BUNDLES bundles and their children" >&2
start=$(date +%s.%N)
TOKPORTAL__SYNC__MAX_REQUESTS_PER_RUN=1000000 "$WORKER" sync >/dev/null 2>"$TMP/warm.log"
echo "   $(echo "$(date +%s.%N) - $start" | bc -l | xargs printf '%.0f') s" >&2

psql "$DATABASE_URL" -q >/dev/null <<'SQL'
CREATE SCHEMA bench;
CREATE TABLE bench.seen (tbl text, bundle_id text, position int, marker text, at timestamptz);
CREATE INDEX ON bench.seen (tbl, bundle_id, marker);
CREATE TABLE bench.changes (x jsonb);
CREATE FUNCTION bench.log() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r jsonb := to_jsonb(NEW);
BEGIN
  IF NEW.data->>'updated_at' IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.data->>'updated_at' IS DISTINCT FROM OLD.data->>'updated_at') THEN
    INSERT INTO bench.seen VALUES (TG_TABLE_NAME, coalesce(r->>'bundle_id', r->>'id'), (r->>'position')::int,
                                   NEW.data->>'updated_at', clock_timestamp());
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER bench_seen AFTER INSERT OR UPDATE ON tokportal.bundles FOR EACH ROW EXECUTE FUNCTION bench.log();
CREATE TRIGGER bench_seen AFTER INSERT OR UPDATE ON tokportal.bundle_videos FOR EACH ROW EXECUTE FUNCTION bench.log();
CREATE TRIGGER bench_seen AFTER INSERT OR UPDATE ON tokportal.bundle_accounts FOR EACH ROW EXECUTE FUNCTION bench.log();
SQL

requests() { curl -sf "$ADMIN/stats" | jq '[.keys[].requests] | add'; }

echo "== streams $STREAMS; SCALE=$SCALE; changes $CHANGES_PER_HOUR an hour; MINUTES=$MINUTES; modes $MODES" >&2
printf '| mode | changes | bundle rows p50 / p95 / max (unseen) | children of non-terminal bundles p50 / p95 / max (unseen); bound | requests an hour: all (walks; children: changed, in continuous mode new / non-terminal, in continuous mode the round / rotation) | jobs: wait p50 / max (s, real) |\n'
printf '|---|---|---|---|---|---|\n'
for spec in $MODES; do
  IFS=: read -r mode share tail <<<"$spec"
  tail=${tail:-$TAIL_MINUTES}
  schedule=$CRON label="schedule (every $PERIOD s, 15 min real)"
  if [ "$mode" = continuous ]; then
    schedule=continuous label="continuous, share ${share:-0.5 (the default)}"
  fi
  label="$label; tail $tail min"
  env TOKPORTAL__SYNC__SCHEDULE="$schedule" ${share:+TOKPORTAL__SYNC__WALK_SHARE=$share} \
    "$WORKER" >"$TMP/daemon.out" 2>"$TMP/daemon.$mode$share.log" &
  DAEMON_PID=$!
  curl -sf -X PUT "$ADMIN/churn" -d "{\"per_second\": $(echo "$CHANGES_PER_HOUR * $SCALE / 3600" | bc -l)}" >/dev/null
  sleep $(( WARM_MINUTES * 60 ))
  from=$(date +%s.%N); before=$(requests)
  end=$(echo "$from + $MINUTES * 60" | bc -l)
  while (( $(echo "$(date +%s.%N) < $end" | bc -l) )); do
    psql "$DATABASE_URL" -qc "INSERT INTO tokportal.mutation_jobs (method, path, body) VALUES ('POST', '/bundles', '{\"bundle_type\":\"account_only\",\"platform\":\"tiktok\",\"country\":\"US\"}')" >/dev/null
    sleep "$JOB_EVERY"
  done
  to=$(date +%s.%N); after=$(requests)
  sleep $(( tail * 60 ))
  curl -sf -X PUT "$ADMIN/churn" -d '{"per_second": 0}' >/dev/null
  kill "$DAEMON_PID"; wait "$DAEMON_PID" || true; DAEMON_PID=
  curl -sf "$ADMIN/churn" | jq -c '.data[]' >"$TMP/changes.jsonl"
  psql "$DATABASE_URL" -q -c "TRUNCATE bench.changes" -c "\\copy bench.changes (x) FROM '$TMP/changes.jsonl'" >/dev/null
  psql "$DATABASE_URL" -qAt -F '|' -v mode="$label" -v from="$from" -v to="$to" -v scale="$SCALE" \
       -v hours="$(echo "($to - $from) * $SCALE / 3600" | bc -l)" -v reqs="$(( after - before ))" <<'SQL'
WITH c AS (
  SELECT x->>'kind' AS kind, x->>'bundle_id' AS bundle_id, (x->>'position')::int AS position,
         x->>'marker' AS marker, to_timestamp((x->>'at')::float8) AS at, (x->>'terminal')::bool AS terminal
  FROM bench.changes WHERE (x->>'at')::float8 BETWEEN :from AND :to
), d AS (
  SELECT c.kind, c.terminal, extract(epoch FROM (
    SELECT min(s.at) FROM bench.seen s
    WHERE s.tbl = CASE c.kind WHEN 'status' THEN 'bundles' WHEN 'slot' THEN 'bundle_videos' ELSE 'bundle_accounts' END
      AND s.bundle_id = c.bundle_id AND s.position IS NOT DISTINCT FROM c.position AND s.marker >= c.marker
  ) - c.at)::float8 * :scale AS delay
  FROM c
), g AS (
  SELECT kind = 'status' AS rows, coalesce(delay, 'Infinity') AS delay, delay IS NULL AS unseen FROM d
  WHERE kind = 'status' OR NOT terminal
), p AS (
  SELECT rows, count(*) AS n, percentile_disc(0.5) WITHIN GROUP (ORDER BY delay) AS p50,
         percentile_disc(0.95) WITHIN GROUP (ORDER BY delay) AS p95, max(delay) AS mx, count(*) FILTER (WHERE unseen) AS unseen
  FROM g GROUP BY rows
), j AS (
  SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY w) AS p50, max(w) AS mx FROM (
    SELECT extract(epoch FROM first_sent_at - created_at)::float8 * :scale AS w FROM tokportal.mutation_jobs
    WHERE created_at BETWEEN to_timestamp(:from) AND to_timestamp(:to) AND first_sent_at IS NOT NULL) AS x
)
, w AS (
  SELECT coalesce(sum(requests), 0)::float8 / ((:to - :from) * :scale) AS per_sec FROM tokportal.sync_runs
  WHERE kind <> 'children' AND started_at BETWEEN to_timestamp(:from) AND to_timestamp(:to)
), k AS (
  -- Children runs by class: a continuous run fetches one class; a scheduled
  -- run's plan counts each, and its requests are split in that proportion.
  SELECT coalesce(sum(requests * (plan->>'changed')::float8 / nullif((plan->>'requests')::float8, 0)), 0) AS changed,
         coalesce(sum(requests * (plan->>'active')::float8 / nullif((plan->>'requests')::float8, 0)), 0) AS active,
         coalesce(sum(requests * (plan->>'rotation')::float8 / nullif((plan->>'requests')::float8, 0)), 0) AS rotation
  FROM tokportal.sync_runs
  WHERE kind = 'children' AND started_at BETWEEN to_timestamp(:from) AND to_timestamp(:to)
), n AS (
  SELECT count(*) FILTER (WHERE coalesce(status, '') NOT IN ('completed', 'cancelled', 'archived'))
       + count(*) FILTER (WHERE coalesce(status, '') NOT IN ('completed', 'cancelled', 'archived')
           AND NOT (jsonb_typeof(data->'videos_quantity') = 'number' AND (data->>'videos_quantity')::numeric = 0)) AS reqs
  FROM tokportal.bundles WHERE deleted_at IS NULL
)
SELECT format('| %s | %s | %s / %s / %s s (%s) | %s / %s / %s s (%s); bound %s s | %s (%s; %s / %s / %s) | %s / %s |', :'mode',
  (SELECT sum(n) FROM p),
  round(r.p50::numeric), round(r.p95::numeric), round(r.mx::numeric), r.unseen,
  round(c.p50::numeric), round(c.p95::numeric), round(c.mx::numeric), c.unseen,
  round((n.reqs / (2.0 - w.per_sec))::numeric),
  round(:reqs / :hours), round((w.per_sec * 3600)::numeric), round((k.changed / :hours)::numeric),
  round((k.active / :hours)::numeric), round((k.rotation / :hours)::numeric),
  round(j.p50::numeric, 1), round(j.mx::numeric, 1))
FROM p AS r, p AS c, j, w, k, n WHERE r.rows AND NOT c.rows;
SQL
  # Where the window's time went (stderr): the runs of each kind (their share
  # of the time, their own requests a second, real), and the time between runs.
  psql "$DATABASE_URL" -qAt -v from="$from" -v to="$to" -v scale="$SCALE" <<'SQL' >&2
WITH r AS (
  SELECT kind, started_at, finished_at, requests, lead(started_at) OVER (ORDER BY started_at) AS next
  FROM tokportal.sync_runs WHERE started_at BETWEEN to_timestamp(:from) AND to_timestamp(:to) AND finished_at IS NOT NULL
), s AS (
  SELECT CASE WHEN kind = 'children' THEN 'children' ELSE 'walks' END AS what, count(*) AS runs,
         sum(extract(epoch FROM finished_at - started_at)) AS secs, sum(requests) AS reqs,
         sum(greatest(extract(epoch FROM next - finished_at), 0)) AS between
  FROM r GROUP BY 1
)
SELECT format('   %s: %s runs, %s%% of the time at %s requests a second (real); %s%% of the time between runs',
  what, runs, round((100 * secs / (:to - :from))::numeric), round((reqs / secs / :scale)::numeric, 2),
  round((100 * between / (:to - :from))::numeric, 1)) FROM s ORDER BY what;
SQL
done

#!/usr/bin/env bash
# Reproduces every figure in BENCHMARKS.md: runs each section's command in
# turn and prints its output under the section's heading. Takes long (the
# 1,000,000-bundle mirror alone takes many minutes).
#
# Usage: bench/all.sh [STEP...]   (no STEP: all; STEP is a number from `bench/all.sh --list`)
# env: DATABASE_URL / PG_URL for the steps that need Postgres
#      (default postgres://postgres@127.0.0.1:5432/postgres); the scripts'
#      own variables (BUNDLES, RATE, …) pass through; DLT=1 runs the step
#      "Against dlt" too (it installs dlt from PyPI), skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${DATABASE_URL:-${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
SIM=(cargo run --quiet --release --example sim_throughput --)

# Builds `what` (cargo build arguments) at `commit` in a scratch worktree and
# prints the target directory; the worktree is removed, the build kept.
build_at() {
    local commit=$1 name=$2
    shift 2
    local tree=target/bench-$name
    local target=target/bench-$name-target
    git worktree add --force "$tree" "$commit" >/dev/null
    (cd "$tree" && CARGO_TARGET_DIR="$PWD/../../$target" cargo build --quiet --release "$@") >&2 || {
        git worktree remove --force "$tree"
        return 1
    }
    git worktree remove --force "$tree"
    echo "$PWD/$target"
}

# The "before" walker of "Walking under drift" (commit 3e91082).
drift() {
    local target
    target=$(build_at 3e91082 walk-before --bin worker)
    BEFORE="$target/release/worker" bench/drift.sh
}

# The "before" simulator of "Simulator at scale" (commit 5f81eea): the same
# two sizes, the only order it had.
scale_before() {
    local target
    target=$(build_at 5f81eea sim-before --example sim_throughput)
    echo "# before (5f81eea)"
    "$target/release/examples/sim_throughput" --bundles 100000 --secs 5 --connections 4 --probe 200 &&
        "$target/release/examples/sim_throughput" --bundles 1000000 --secs 5 --connections 4 --probe 200
}

steps=(
    "Simulator|${SIM[*]} --secs 10 --connections 4"
    "Simulator at scale|${SIM[*]} --bundles 100000 --secs 5 --connections 4 --probe 200 && ${SIM[*]} --bundles 1000000 --secs 5 --connections 4 --probe 200 && ${SIM[*]} --bundles 1000000 --secs 5 --probe 200 --order created_at_unstable && ${SIM[*]} --bundles 1000000 --secs 5 --probe 200 --order id && ${SIM[*]} --bundles 1000000 --secs 5 --probe 200 --filter status=published && scale_before"
    "API client and budget|bench/walk.sh && cargo run --quiet --release -- demo --walk-only"
    "Replay|DATABASE_URL='$PG' cargo run --quiet --release --example replay_bench -- --jobs 2000 --concurrency 4"
    "Walking under drift|drift"
    "The mirror|BUNDLES=100000 bench/mirror.sh && BUNDLES=1000000 bench/mirror.sh"
    "Booking the budget|cargo run --quiet --release --example booking -- --pages 6000 && cargo run --quiet --release --example booking -- --pages 6000 --rate 1000000"
    "Webhooks|DATABASE_URL='$PG' cargo run --quiet --release --example webhook_staleness && DATABASE_URL='$PG' cargo run --quiet --release --example webhook_staleness -- --no-priority"
    "The whole account|PG_URL='${PG%/*}' bench/account.sh"
    "Pages in flight|PG_URL='${PG%/*}' bench/in_flight.sh"
    "Continuous mode: staleness|PG_URL='${PG%/*}' bench/staleness.sh"
    "A crash costs seconds, not a lease|DATABASE_URL='$PG' cargo nextest run --locked --test it --no-capture jobs::takeover::a_job_of_a_worker_killed_mid_send webhooks::takeover::a_dead_process_s_batch && for seed in 1 2 3; do DATABASE_URL='$PG' CRASH_SEED=\$seed cargo nextest run --locked --test it --run-ignored all --test-threads 1 --no-capture jobs::crash; done"
    "Against dlt|if [ \"\${DLT:-}\" = 1 ]; then PG_URL='${PG%/*}' bench/dlt.sh; else echo '(skipped: DLT=1 runs it; it installs dlt from PyPI into a venv outside the repository)'; fi"
)

if [ "${1:-}" = "--list" ]; then
    for i in "${!steps[@]}"; do printf '%d  %s\n' "$((i + 1))" "${steps[$i]%%|*}"; done
    exit 0
fi
chosen=("$@")
if [ ${#chosen[@]} -eq 0 ]; then
    for i in "${!steps[@]}"; do chosen+=("$((i + 1))"); done
fi

failed=()
for n in "${chosen[@]}"; do
    if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt ${#steps[@]} ]; then
        echo "bench/all.sh: no step $n (see bench/all.sh --list)" >&2
        exit 2
    fi
    step=${steps[$((n - 1))]}
    heading=${step%%|*}
    command=${step#*|}
    printf '\n## %s\n\n$ %s\n\n' "$heading" "$command"
    if ! eval "$command" 2>&1; then
        failed+=("$heading")
        echo "(failed)"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    printf '\nbench/all.sh: failed: %s\n' "$(IFS=,; echo "${failed[*]}")" >&2
    exit 1
fi

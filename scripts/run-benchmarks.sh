#!/usr/bin/env bash
# Runs every benchmark beside its baseline in the same run and prints the ratios
# that BENCHMARKS.md records. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
out=${BENCH_OUT:-$BUILD/bench-results}
mkdir -p "$out"

echo "== XXH3 vs memcpy (bench/xxh3_bench.cc)"
"$BUILD/bench/xxh3_bench" --benchmark_min_time=0.2 | tee "$out/xxh3.txt"

echo
echo "== journal append vs write+fdatasync (bench/journal_bench.cc)"
"$BUILD/bench/journal_bench" --benchmark_min_time=0.5 | tee "$out/journal.txt"

echo
echo "== dd conv=fsync of the same 1 MiB, same disk (the issue's baseline)"
dir=$(mktemp -d /var/tmp/taskmaster-dd.XXXXXX)
trap 'rm -rf "$dir"' EXIT
head -c 1048576 /dev/urandom >"$dir/src"
runs=${DD_RUNS:-50}
start=$(date +%s%N)
for _ in $(seq 1 "$runs"); do
  dd if="$dir/src" of="$dir/dst" bs=1M count=1 conv=fsync status=none
done
end=$(date +%s%N)
dd_ms=$(awk -v s="$start" -v e="$end" -v n="$runs" 'BEGIN { printf "%.3f", (e - s) / n / 1e6 }')
journal_ms=$(awk '/^BM_JournalAppendSynced1MiB/ { print $2; exit }' "$out/journal.txt")
echo "dd 1 MiB conv=fsync: ${dd_ms} ms per run (${runs} runs, process start included)"
echo "journal 1 MiB append+fdatasync: ${journal_ms} ms"
awk -v j="$journal_ms" -v d="$dd_ms" 'BEGIN { printf "journal/dd ratio: %.2f (target <= 1.3)\n", j / d }'

echo
echo "== tm-step overhead: 1,000 /bin/true tasks vs spawning them directly (bench/step_overhead_bench.cc)"
"$BUILD/bench/step_overhead_bench" | tee "$out/step_overhead.txt"

# ---- Store and cache operations (bench/state_operations/) ------------------------
# Each beside its baseline in the same run, on throwaway servers
# (scripts/test-services.sh, started and stopped here): Redis beside
# redis-benchmark, PostgreSQL beside pgbench, SQLite beside the SQLite C API on
# the same disk; STATE_OPERATIONS_ROUNDS rounds, medians and their ratios.
(
  services=$(scripts/test-services.sh start)  # fails the run when they do not start
  eval "$services"
  trap 'scripts/test-services.sh stop' EXIT
  echo
  echo "== store and cache operations beside redis-benchmark, pgbench and SQLite (bench/state_operations/)"
  TM_BENCH_REDIS_URL=$TM_TEST_REDIS_URL TM_BENCH_POSTGRES_DSN=$TM_TEST_POSTGRES_DSN \
    TM_BENCH_DIR=${STATE_OPERATIONS_DIR:-/var/tmp} \
    "$BUILD/bench/state_operations" --rounds "${STATE_OPERATIONS_ROUNDS:-3}" |
    tee "$out/state_operations.txt"
)

echo
echo "== tm-sidecar RSS while flushing 1,000,000 records to SQLite (bench/sidecar_rss_bench.cc)"
"$BUILD/bench/sidecar_rss_bench" | tee "$out/sidecar_rss.txt"

# ---- per-task cost above the spawn floor, end to end (issue 10) ----------------
# On the disk (the state dir's filesystem: WORKFLOW_BENCH_DIR, default /var/tmp),
# SQLite and PostgreSQL + Redis (the throwaway servers again), each case beside
# the floor in the same run.
(
  services=$(scripts/test-services.sh start)
  eval "$services"
  trap 'scripts/test-services.sh stop' EXIT
  echo
  echo "== tm-step per-task cost above the spawn floor (bench/workflow_performance.cc)"
  TM_BENCH_DIR=${WORKFLOW_BENCH_DIR:-/var/tmp} TM_BENCH_POSTGRES_DSN=$TM_TEST_POSTGRES_DSN \
    TM_BENCH_REDIS_URL=$TM_TEST_REDIS_URL "$BUILD/bench/workflow_performance" --rounds 3 \
    --local-tasks 1000 \
    --cases pod-shard,local-shard,local-b1,pg-b1,local-b10,pg-b10,local-b1000,pg-b1000 |
    tee "$out/workflow_performance.txt"
)

# ---- Peers: N trivial tasks -----------------------------------------------------------
# The same N /bin/true tasks through tm-step local, GNU parallel, Snakemake, RQ and Celery
# (Debian's packages, installed here: they are for the benchmarks only), beside the spawn
# floor, all at parallelism 2, round-robin PEERS_ROUNDS times (bench/peers/run_peers.py
# says what each figure includes). It starts and stops its own Redis and workers.
echo
echo "== peers: ${PEERS_N:-1000} /bin/true tasks through Taskmaster, GNU parallel, Snakemake, RQ, Celery and the spawn floor (bench/peers/)"
scripts/bootstrap-bench.sh
/usr/bin/python3 bench/peers/run_peers.py --build "$BUILD" --out "$out/peers" \
  --n "${PEERS_N:-1000}" --rounds "${PEERS_ROUNDS:-3}" | tee "$out/peers.txt"

# ---- A million tasks (issue 10, part 4) -------------------------------------------------
# validate and init of 1,000,000 IDs beside `cat` of the same file; then tm-step local of
# 10k, 100k and 1M /bin/true tasks (MILLION_SIZES) with per-task cost, peak RSS by role and
# the progress line's timing. The 1M run takes many minutes.
echo
echo "== tm-step validate and init of 1,000,000 task IDs (bench/million_validate.sh)"
bench/million_validate.sh "$BUILD" "${MILLION_VALIDATE_RUNS:-5}" | tee "$out/million_validate.txt"

echo
echo "== tm-step local of ${MILLION_SIZES:-10000 100000 1000000} /bin/true tasks (bench/million_run.sh)"
# shellcheck disable=SC2086 # the sizes are words
bench/million_run.sh "$BUILD" ${MILLION_SIZES:-10000 100000 1000000} | tee "$out/million_run.txt"

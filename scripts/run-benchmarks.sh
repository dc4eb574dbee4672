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

# ---- tm-sidecar (issue 4) ------------------------------------------------------
# Each flush benchmark alternates with its baseline on the same throwaway servers
# (scripts/test-services.sh, started and stopped here), SIDECAR_BENCH_ROUNDS times;
# the medians and their ratio are reported.
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio_line() {  # name ours baseline target(>=)
  awk -v n="$1" -v o="$2" -v b="$3" -v t="$4" \
    'BEGIN { r = o / b; printf "%s: %.0f / %.0f = %.2f (target >= %s: %s)\n", n, o, b, r, t, (r >= t ? "met" : "missed") }'
}
bench_value() {  # json-file benchmark-name-prefix
  local v
  v=$(jq -r --arg p "$2" '[.benchmarks[] | select(.name | startswith($p)) | .items_per_second][0]' "$1")
  number "$v" "$2 in $1 (see ${1%.json}.txt)"
}
number() {  # value what: the value, or fail naming what has none
  if [[ ! "$1" =~ ^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then
    echo "run-benchmarks: no result for $2" >&2
    return 1
  fi
  echo "$1"
}
(
  services=$(scripts/test-services.sh start)  # fails the run when they do not start
  eval "$services"
  work=$(mktemp -d "${TMPDIR:-/tmp}/taskmaster-sidecar-bench.XXXXXX")
  trap 'rm -rf "$work"; scripts/test-services.sh stop' EXIT
  rounds=${SIDECAR_BENCH_ROUNDS:-3}

  echo
  echo "== tm-sidecar flush to Redis: LiveCache::Publish of 500 task checkpoints vs redis-benchmark -t set -P 16 (bench/redis_flush_bench.cc)"
  : >"$work/redis_ours"; : >"$work/redis_base"
  for r in $(seq 1 "$rounds"); do
    base=$(redis-benchmark -h 127.0.0.1 -p "$TM_TEST_REDIS_PORT" -t set -P 16 -n 200000 -q |
      tr '\r' '\n' | awk '$1 == "SET:" && $3 == "requests" { v = $2 } END { print v }')
    "$BUILD/bench/redis_flush_bench" --benchmark_filter='^BM_RedisPublish' --benchmark_min_time=1 \
      --benchmark_out="$out/redis_flush_$r.json" --benchmark_out_format=json >"$out/redis_flush_$r.txt" 2>&1
    base=$(number "$base" "redis-benchmark")
    ours=$(bench_value "$out/redis_flush_$r.json" BM_RedisPublish500Checkpoints)
    printf 'round %d: redis-benchmark SET %.0f requests/s; Publish %.0f records/s\n' "$r" "$base" "$ours"
    echo "$base" >>"$work/redis_base"; echo "$ours" >>"$work/redis_ours"
  done
  ratio_line "Redis flush / redis-benchmark (medians of $rounds rounds)" \
    "$(median <"$work/redis_ours")" "$(median <"$work/redis_base")" 0.5 | tee "$out/redis_ratio.txt"
  echo "-- where the time goes (raw hiredis, same documents and keys; not the sidecar's code):"
  "$BUILD/bench/redis_flush_bench" --benchmark_filter='^BM_RedisDiag' --benchmark_min_time=1 2>&1 |
    grep '^BM_' | tee "$out/redis_diag.txt"

  echo
  echo "== tm-sidecar flush to PostgreSQL: StateStore::Apply of 500-record batches vs pgbench, one-row insert transactions (bench/postgres_flush_bench.cc)"
  psql=(psql -X -q -v ON_ERROR_STOP=1 "$TM_TEST_POSTGRES_DSN")
  "${psql[@]}" -c "CREATE TABLE bench_task_ends (id bigserial PRIMARY KEY, workflow_id text NOT NULL,
    ordinal bigint NOT NULL, task_id text NOT NULL, status text NOT NULL, final boolean NOT NULL,
    exit_code integer, error text NOT NULL DEFAULT '', finished_at timestamptz, duration_ms bigint)"
  cat >"$work/insert.sql" <<'SQL'
\set ordinal random(0, 99999)
INSERT INTO bench_task_ends (workflow_id, ordinal, task_id, status, final, exit_code, error, finished_at, duration_ms) VALUES ('bench-pgbench', :ordinal, 'task-' || lpad(:ordinal::text, 6, '0'), 'succeeded', false, 0, '', now(), 1234);
SQL
  pg_seconds=${PGBENCH_SECONDS:-5}
  echo "baseline: pgbench -n -c 1 -T $pg_seconds -f insert.sql (one INSERT per transaction into a task_states-like table):"
  sed 's/^/  /' "$work/insert.sql"
  names=(ends1k ends100k ckpt1k ckpt100k)
  prefixes=(BM_PostgresApplyTaskEnds/1000/ BM_PostgresApplyTaskEnds/100000/
            BM_PostgresApplyCheckpoints/1000/ BM_PostgresApplyCheckpoints/100000/)
  : >"$work/pg_base"
  for n in "${names[@]}"; do : >"$work/pg_$n"; done
  for r in $(seq 1 "$rounds"); do
    pgbench -n -c 1 -T "$pg_seconds" -f "$work/insert.sql" "$TM_TEST_POSTGRES_DSN" >"$out/pgbench_$r.txt" 2>&1
    base=$(number "$(awk '$1 == "tps" { print $3 }' "$out/pgbench_$r.txt")" "pgbench (see $out/pgbench_$r.txt)")
    "$BUILD/bench/postgres_flush_bench" --benchmark_min_time=1.5 \
      --benchmark_out="$out/postgres_flush_$r.json" --benchmark_out_format=json >"$out/postgres_flush_$r.txt" 2>&1
    line=$(printf 'round %d: pgbench %.0f tps' "$r" "$base")
    for i in "${!names[@]}"; do
      v=$(bench_value "$out/postgres_flush_$r.json" "${prefixes[$i]}")
      echo "$v" >>"$work/pg_${names[$i]}"
      line+=$(printf '; %s %.0f' "${names[$i]}" "$v")
    done
    echo "$line records/s"
    echo "$base" >>"$work/pg_base"
  done
  base=$(median <"$work/pg_base")
  {
    ratio_line "PostgreSQL task_end batches, 1,000-task workflow / pgbench" "$(median <"$work/pg_ends1k")" "$base" 1.0
    ratio_line "PostgreSQL task_end batches, 100,000-task workflow / pgbench" "$(median <"$work/pg_ends100k")" "$base" 1.0
    ratio_line "PostgreSQL checkpoint batches, 1,000-task workflow / pgbench" "$(median <"$work/pg_ckpt1k")" "$base" 1.0
    ratio_line "PostgreSQL checkpoint batches, 100,000-task workflow / pgbench" "$(median <"$work/pg_ckpt100k")" "$base" 1.0
  } | tee "$out/postgres_ratio.txt"
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

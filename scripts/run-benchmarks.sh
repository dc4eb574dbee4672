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

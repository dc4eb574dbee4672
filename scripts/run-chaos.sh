#!/usr/bin/env bash
# `make chaos`: the chaos suite (tests/chaos/) at length. Starts throwaway Redis
# and PostgreSQL, then runs the seeded fault case once per seed with more
# faults than make test's short run, and the disk-full case once; prints each
# run's counts ("chaos: ...") and their totals, which RELIABILITY.md reports.
#   CHAOS_SEEDS   seeds to run (default: 1 2 3 4 5)
#   CHAOS_FAULTS  faults per run (default 40)
#   CHAOS_TASKS   tasks per run (default 500)
# A failed run keeps its logs under $BUILD/chaos-logs/<seed>/ (TM_CHAOS_KEEP).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SEEDS=${CHAOS_SEEDS:-1 2 3 4 5}

eval "$(scripts/test-services.sh start)"
trap 'scripts/test-services.sh stop' EXIT

summary="$BUILD/chaos-summary.txt"
: >"$summary"
failed=0
for seed in $SEEDS; do
  echo "== chaos seed $seed"
  if ! TM_CHAOS_SEED=$seed TM_CHAOS_FAULTS=${CHAOS_FAULTS:-40} TM_CHAOS_TASKS=${CHAOS_TASKS:-500} \
    TM_CHAOS_KEEP="$BUILD/chaos-logs/$seed" "$BUILD/tests/chaos_test" \
    --run_test=chaos --log_level=message --report_level=short >"$BUILD/chaos-$seed.log" 2>&1; then
    failed=$((failed + 1))
    echo "seed $seed FAILED: see $BUILD/chaos-$seed.log and $BUILD/chaos-logs/$seed/"
  fi
  grep -ao 'chaos: .*broken: [0-9]*' "$BUILD/chaos-$seed.log" | tee -a "$summary" || true
done
echo "== disk full"
if ! TM_CHAOS_KEEP="$BUILD/chaos-logs/disk" "$BUILD/tests/chaos_test" --run_test=disk_full \
  --log_level=message --report_level=short >"$BUILD/chaos-disk.log" 2>&1; then
  failed=$((failed + 1))
  echo "disk full FAILED: see $BUILD/chaos-disk.log"
fi
grep -ao 'disk full: .*broken: [0-9]*' "$BUILD/chaos-disk.log" | tee -a "$summary" || true

echo "== totals over $(grep -c '^chaos:' "$summary") seeded runs"
awk -F'[;,:] *' '/^chaos:/ {
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^[0-9]+ runs$/) { split($i, a, " "); runs += a[1] }
      if ($i ~ /^[0-9]+ records$/) { split($i, a, " "); records += a[1] }
    }
  }
  END { printf "runs %d, records %d\n", runs, records }' "$summary"
# Each seeded line's "; "-separated counts after its first field ("kill -9 a
# task: 7", ...), summed by name.
awk -F'; ' '/^chaos: seed/ {
    for (i = 2; i <= NF; i++) {
      if (split($i, kv, ": ") == 2) total[kv[1]] += kv[2]
    }
  }
  END { for (name in total) printf "  %s: %d\n", name, total[name] }' "$summary" | sort
exit $((failed > 0))

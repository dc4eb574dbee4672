#!/bin/sh
# `tm-step local` of N `/bin/true` tasks for N = 10,000, 100,000 and 1,000,000
# (SQLite, --batch-size BATCH, --parallelism PARALLELISM): the wall time and
# the CPU time of all its processes, each per task, the ratio of the per-task
# cost at the largest N to that at the smallest (target: within 10%), and the
# peak RSS of tm-sidecar and tm-step.
#
# bench/peak_rss.py runs each `tm-step local` and reads VmHWM from
# /proc/PID/status of every tm-step and tm-sidecar under it every INTERVAL
# seconds (a process's peak is its last sample before it exits), grouped by
# role; wait4 gives the largest RSS of any process of the run (exact, not
# sampled) and the CPU time of all of them.
#
# Each run writes to a pseudo-terminal (util-linux `script -T`), so it draws
# its live progress line as on a terminal; bench/progress_timing.py then says
# how often it was redrawn and how long the done count stood still.
#
# N below 1,000,000 runs ROUNDS times (default 3) and the medians are used;
# 1,000,000 and more run once.
#
# Usage: bench/million_run.sh BUILD_DIR [N ...]
#   environment: BATCH (default 1000), PARALLELISM (2), INTERVAL (0.1),
#   ROUNDS (3), WORK (a directory for the lists and state dirs; default a new
#   one under /var/tmp, removed at the end). The 1M run takes many minutes.
set -eu
build=${1:?usage: $0 BUILD_DIR [N ...]}
shift
sizes=${*:-10000 100000 1000000}
batch=${BATCH:-1000}
parallelism=${PARALLELISM:-2}
interval=${INTERVAL:-0.1}
rounds=${ROUNDS:-3}
here=$(cd "$(dirname "$0")" && pwd)
step="$build/executor/tm-step"
sidecar="$build/sidecar/tm-sidecar"
[ -x "$step" ] && [ -x "$sidecar" ] || { echo "no tm-step or tm-sidecar under $build" >&2; exit 2; }
if [ -n "${WORK:-}" ]; then
  dir=$WORK
  mkdir -p "$dir"
else
  dir=$(mktemp -d /var/tmp/taskmaster-million.XXXXXX)
  trap 'rm -rf "$dir"' EXIT
fi

# A value from the peak_rss.py report $1: the word after $3 on the line whose
# first word is $2 (and second word $4 when given); "-" when absent.
field() {
  awk -v key="$2" -v name="$3" -v sub_="${4:-}" '
    $1 == key && (sub_ == "" || $2 == sub_) {
      for (i = 1; i < NF; i++) if ($i == name) { print $(i + 1); found = 1; exit }
    }
    END { if (!found) print "-" }' "$1"
}
# $1 quoted for sh -c.
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
mib() { awk -v k="$1" 'BEGIN { if (k == "-") print "-"; else printf "%.1f", k / 1024 }'; }
# The median of the numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# One run of N tasks: its peak_rss.py report in $dir/rss-N-R.txt and what it
# drew in $dir/tty-N-R.txt (timing in timing-N-R.txt).
run_once() {
  n=$1 r=$2
  state="$dir/state-$n"
  rm -rf "$state"
  cmd="$(quote "$step") local --task-list $(quote "@$dir/ids-$n.json") --state-dir $(quote "$state")"
  cmd="$cmd --batch-size $batch --parallelism $parallelism --sidecar $(quote "$sidecar") -- /bin/true"
  code=0
  python3 "$here/peak_rss.py" --interval "$interval" --out "$dir/rss-$n-$r.txt" -- \
    script -q -e -T "$dir/timing-$n-$r.txt" -c "$cmd" "$dir/tty-$n-$r.txt" >/dev/null 2>&1 || code=$?
  rm -rf "$state"
  if [ "$code" -ne 0 ]; then
    echo "N=$n: tm-step local exited with $code; what it wrote is in $dir/tty-$n-$r.txt" >&2
    tail -c 2000 "$dir/tty-$n-$r.txt" >&2
    trap - EXIT
    exit 1
  fi
}

# The report of one run, in a few lines.
describe() {
  report=$1 n=$2
  g() { field "$report" group "$1" "$2"; }
  wall=$(field "$report" wall wall)
  cpu=$(field "$report" wall cpu)
  echo "  wall $wall s ($(awk -v w="$wall" -v n="$n" 'BEGIN { printf "%.3f", w * 1000 / n }') ms/task)," \
    "CPU $cpu s ($(awk -v c="$cpu" -v n="$n" 'BEGIN { printf "%.3f", c * 1000 / n }') ms/task)"
  echo "  peak RSS tm-sidecar: shard $(mib "$(g peak_kib tm-sidecar_shard)") MiB" \
    "(median $(mib "$(g median_peak_kib tm-sidecar_shard)") over $(g processes tm-sidecar_shard))," \
    "init $(mib "$(g peak_kib tm-sidecar_init)") MiB, finalize $(mib "$(g peak_kib tm-sidecar_finalize)") MiB"
  echo "  peak RSS tm-step: local $(mib "$(g peak_kib tm-step_local)") MiB, init $(mib "$(g peak_kib tm-step_init)") MiB," \
    "run (a shard) $(mib "$(g peak_kib tm-step_run)") MiB (median $(mib "$(g median_peak_kib tm-step_run)") over $(g processes tm-step_run))," \
    "finalize $(mib "$(g peak_kib tm-step_finalize)") MiB"
  echo "  largest RSS of any process (wait4, exact): $(mib "$(field "$report" wall tree_max_rss_kib)") MiB"
}

echo "tm-step local of N /bin/true tasks, SQLite, --batch-size $batch --parallelism $parallelism" \
  "($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ))"
first_n=
for n in $sizes; do
  python3 -c 'import json,sys; json.dump(["task-%07d" % i for i in range(int(sys.argv[1]))], sys.stdout)' \
    "$n" >"$dir/ids-$n.json"
  times=$rounds
  [ "$n" -lt 1000000 ] || times=1
  : >"$dir/walls-$n"
  : >"$dir/cpus-$n"
  r=1
  while [ "$r" -le "$times" ]; do
    run_once "$n" "$r"
    echo "N=$n round $r of $times (load $(cut -d' ' -f1-3 /proc/loadavg)):"
    describe "$dir/rss-$n-$r.txt" "$n"
    echo "  progress line: $(python3 "$here/progress_timing.py" "$dir/timing-$n-$r.txt" "$dir/tty-$n-$r.txt")"
    sed 's/^/  | /' "$dir/rss-$n-$r.txt"
    field "$dir/rss-$n-$r.txt" wall wall >>"$dir/walls-$n"
    field "$dir/rss-$n-$r.txt" wall cpu >>"$dir/cpus-$n"
    r=$((r + 1))
  done
  wall_ms=$(median <"$dir/walls-$n" | awk -v n="$n" '{ printf "%.3f", $1 * 1000 / n }')
  cpu_ms=$(median <"$dir/cpus-$n" | awk -v n="$n" '{ printf "%.3f", $1 * 1000 / n }')
  echo "N=$n: median of $times: $wall_ms ms/task wall, $cpu_ms ms/task CPU"
  [ -n "$first_n" ] || { first_n=$n; first_wall=$wall_ms; first_cpu=$cpu_ms; }
  last_n=$n last_wall=$wall_ms last_cpu=$cpu_ms
done
awk -v a="$last_wall" -v b="$first_wall" -v c="$last_cpu" -v d="$first_cpu" -v n="$last_n" -v m="$first_n" 'BEGIN {
  printf "per-task cost at N=%s / at N=%s: wall %.3f / %.3f = %.2f, CPU %.3f / %.3f = %.2f (target: wall within 10%%, %s)\n",
    n, m, a, b, a / b, c, d, c / d, (a / b <= 1.1 && a / b >= 0.9 ? "met" : "missed") }'

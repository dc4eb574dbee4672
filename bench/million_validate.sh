#!/bin/sh
# `tm-step validate --task-list @FILE` of 1,000,000 task IDs: wall time and
# CPU time (user + system) and peak RSS (GNU time), beside `cat FILE` of the same file as the baseline.
# Each is run RUNS times (default 5); the medians are printed, one line each.
# Usage: bench/million_validate.sh BUILD_DIR [RUNS]
set -eu
build=${1:?usage: $0 BUILD_DIR [RUNS]}
runs=${2:-5}
step="$build/executor/tm-step"
[ -x "$step" ] || step="$build/tm-step"
[ -x "$step" ] || { echo "no tm-step under $build" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
list="$dir/ids.json"
python3 -c 'import json,sys; json.dump(["task-%07d" % i for i in range(1000000)], sys.stdout)' >"$list"

# One run of "$@" under GNU time: "<wall s> <peak RSS KiB> <CPU s>".
measure() {
  /usr/bin/time -f '%e %M %U %S' -o "$dir/time" "$@" >/dev/null
  awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$dir/time"
}
# The median of column $1 of the lines on stdin.
median() { sort -n -k"$1" | awk -v c="$1" '{v[NR]=$c} END {print v[int((NR+1)/2)]}'; }

for what in cat validate; do
  : >"$dir/$what"
  i=0
  while [ "$i" -lt "$runs" ]; do
    case $what in
      cat) measure cat "$list" >>"$dir/$what" ;;
      validate) measure "$step" validate --task-list "@$list" >>"$dir/$what" ;;
    esac
    i=$((i + 1))
  done
  echo "$what: median wall $(median 1 <"$dir/$what") s, CPU $(median 3 <"$dir/$what") s, peak RSS $(median 2 <"$dir/$what") KiB ($runs runs, $(wc -c <"$list") bytes)"
done
"$step" validate --task-list "@$list"

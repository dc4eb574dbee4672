#!/usr/bin/env bash
# run-fuzz.sh [TARGET...]: runs the libFuzzer targets of fuzz/ (built by
# `make fuzz-build` in $FUZZ_BUILD) for every target, or those named:
#   1. every input of fuzz/regressions/<target>/ and fuzz/corpus/<target>/ once;
#   2. FUZZ_SECONDS of fuzzing (0: none) from the seed corpus plus the inputs
#      earlier runs found, which are kept in $FUZZ_BUILD/runs/<target>/corpus.
# FUZZ_JOBS targets run at once. Any crash, leak, UB or timeout fails the run;
# the failing input is left in $FUZZ_BUILD/runs/<target>/ and named in the output.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-300}
FUZZ_JOBS=${FUZZ_JOBS:-2}

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for source in fuzz/*.cc; do targets+=("$(basename "$source" .cc)"); done
fi

# Runs one target; its output goes to $FUZZ_BUILD/runs/<target>/log.
run_target() {
  local target=$1 binary="$FUZZ_BUILD/fuzz/$1" work="$FUZZ_BUILD/runs/$1"
  rm -rf "$work/artifacts"
  mkdir -p "$work/corpus" "$work/artifacts"
  local log="$work/log"
  : >"$log"
  if [[ ! -x "$binary" ]]; then
    echo "no fuzz target $binary (make fuzz-build)" >>"$log"
    return 1
  fi
  local common=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/")
  local inputs=()
  for dir in fuzz/regressions/"$target" fuzz/corpus/"$target"; do
    [[ -d "$dir" ]] && while IFS= read -r -d '' f; do inputs+=("$f"); done \
      < <(find "$dir" -type f ! -name '.*' -print0 | sort -z)
  done
  if [[ ${#inputs[@]} -gt 0 ]]; then
    "$binary" "${common[@]}" "${inputs[@]}" >>"$log" 2>&1 || return 1
  fi
  if [[ "$FUZZ_SECONDS" -gt 0 ]]; then
    "$binary" "${common[@]}" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
      "$work/corpus" "fuzz/corpus/$target" >>"$log" 2>&1 || return 1
  fi
}

pids=()
declare -A target_of
failed=()
reap() {
  local pid=$1
  if wait "$pid"; then
    echo "fuzz: ${target_of[$pid]}: ok"
  else
    failed+=("${target_of[$pid]}")
  fi
}
for target in "${targets[@]}"; do
  if [[ ${#pids[@]} -ge $FUZZ_JOBS ]]; then
    reap "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
  run_target "$target" &
  pids+=($!)
  target_of[$!]=$target
done
for pid in "${pids[@]}"; do reap "$pid"; done

for target in "${failed[@]}"; do
  log="$FUZZ_BUILD/runs/$target/log"
  echo "fuzz: $target FAILED; the end of $log:" >&2
  tail -n 40 "$log" >&2
  for artifact in "$FUZZ_BUILD/runs/$target/artifacts"/*; do
    [[ -e "$artifact" ]] || continue
    echo "fuzz: $target: failing input $artifact; reproduce with" \
      "$FUZZ_BUILD/fuzz/$target $artifact, and once fixed keep it in fuzz/regressions/$target/" >&2
  done
done
[[ ${#failed[@]} -eq 0 ]]

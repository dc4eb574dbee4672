#!/usr/bin/env bash
# `make run`: the example workflow end to end on this machine with `tm-step local`.
# Eight tasks each transform a file of 200 records (examples/process-records.py),
# checkpointing every 25 records; SQLite holds the state. Press Ctrl-C at any
# moment and run it again: it resumes where it stopped.
#
#   BUILD        build dir with executor/tm-step and sidecar/tm-sidecar (default build)
#   EXAMPLE_DIR  where the state and the example's data go (default $BUILD/example)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
EXAMPLE_DIR=${EXAMPLE_DIR:-$BUILD/example}
STEP=$BUILD/executor/tm-step
SIDECAR=$BUILD/sidecar/tm-sidecar
for bin in "$STEP" "$SIDECAR"; do
  [[ -x $bin ]] || { echo "run-example: $bin not found: run make build first" >&2; exit 1; }
done
mkdir -p "$EXAMPLE_DIR"
STATE=$(cd "$EXAMPLE_DIR" && pwd)/state
export EXAMPLE_DATA
EXAMPLE_DATA=$(cd "$EXAMPLE_DIR" && pwd)/data

tasks='["orders-2026-01","orders-2026-02","orders-2026-03","orders-2026-04",'
tasks+='"orders-2026-05","orders-2026-06","orders-2026-07","orders-2026-08"]'
KEY=example-orders
cmd=("$STEP" local --task-list "$tasks" --state-dir "$STATE" --state-key "$KEY" --batch-size 2
     --sidecar "$SIDECAR" -- python3 examples/process-records.py)

# Shell-quotes one argument, only when it needs it.
quote() {
  if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then printf '%s' "$1"; else printf "'%s'" "${1//\'/\'\\\'\'}"; fi
}

echo "== tm-step local: 8 tasks x 200 records, state in $STATE"
set +e
"${cmd[@]}"
code=$?
set -e

echo
case $code in
  0) echo "== The workflow succeeded. Outputs: $EXAMPLE_DATA/output/<ordinal>.csv" ;;
  130) echo "== Interrupted: run 'make run' again (or the command below) to resume." ;;
  *) echo "== The workflow failed (exit code $code)." ;;
esac
echo "   State:  $STATE/state.db"
echo "   Logs:   $STATE/logs/<shard>/<ordinal>.log"
echo "   Audit:  $EXAMPLE_DATA/audit/<ordinal>.log (what ran, and what ran twice after a kill)"
echo "   Resume or rerun (finished tasks are skipped): make run, or"
printf '     EXAMPLE_DATA=%s' "$(quote "$EXAMPLE_DATA")"
for arg in "${cmd[@]}"; do printf ' %s' "$(quote "$arg")"; done
echo
echo "   Start over: rm -rf $EXAMPLE_DIR"
if command -v sqlite3 >/dev/null && [[ $code -ne 130 ]]; then
  query="SELECT * FROM workflow_states WHERE workflow_id = '$KEY'"
  echo
  echo "\$ sqlite3 -header $STATE/state.db \"$query\""
  sqlite3 -header "$STATE/state.db" "$query"
fi
exit $code

#!/bin/sh
# 1,000,000 task IDs: `tm-step validate --task-list @FILE`, and init of the same
# list as local mode runs it (`tm-step init` beside its `tm-sidecar --local
# --role init`, SQLite), beside `cat FILE` of the same file as the baseline.
# Each is run RUNS times (default 5) under GNU time; the medians of wall time,
# CPU time (user + system) and peak RSS are printed, one line each. Last, the
# floor under the sidecar's share of init: the sqlite3 shell inserting the same
# rows into the same schema in one statement.
#
# Init's wall time is tm-step init's: it exits once the sidecar acknowledged
# its commit record, so it includes the sidecar recording the list in the
# store. The sidecar is stopped (SIGTERM, as local mode does) after the step.
# Usage: bench/million_validate.sh BUILD_DIR [RUNS]
set -eu
build=${1:?usage: $0 BUILD_DIR [RUNS]}
runs=${2:-5}
step="$build/executor/tm-step"
[ -x "$step" ] || step="$build/tm-step"
[ -x "$step" ] || { echo "no tm-step under $build" >&2; exit 2; }
sidecar="$build/sidecar/tm-sidecar"
[ -x "$sidecar" ] || sidecar="$build/tm-sidecar"
dir=$(mktemp -d /var/tmp/taskmaster-million.XXXXXX)
trap 'rm -rf "$dir"' EXIT
list="$dir/ids.json"
python3 -c 'import json,sys; json.dump(["task-%07d" % i for i in range(1000000)], sys.stdout)' >"$list"

# A GNU time record of "$@" on stdout: "<wall s> <peak RSS KiB> <CPU s>".
measure() {
  /usr/bin/time -f '%e %M %U %S' -o "$dir/time" "$@" >/dev/null
  awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$dir/time"
}
# The median of column $1 of the lines on stdin.
median() { sort -n -k"$1" | awk -v c="$1" '{v[NR]=$c} END {print v[int((NR+1)/2)]}'; }

# One init: its step's record on stdout, its sidecar's appended to $dir/init-sidecar.
measure_init() {
  pod="$dir/pod"
  rm -rf "$pod"
  mkdir -p "$pod/work"
  TM_STORE="sqlite:$pod/state.db" /usr/bin/time -f '%e %M %U %S' -o "$pod/sidecar-time" \
    "$sidecar" --local --role init --shard 0 --state-key million --work-dir "$pod/work" \
    --listen 127.0.0.1:0 --port-file "$pod/port" --grace-seconds 30 >"$pod/sidecar.log" 2>&1 &
  timer=$!
  code=0
  measure "$step" init --sync-journal --state-key million --work-dir "$pod/work" \
    --task-list "@$list" --batch-size 1000 --max-shards 5000 --no-inline-limit \
    2>>"$pod/step.log" || code=$?
  kill -TERM "$(pgrep -P "$timer")" 2>/dev/null || true
  wait "$timer" || true
  if [ "$code" -ne 0 ]; then
    echo "tm-step init exited with $code:" >&2
    grep -v '"level":"info"' "$pod/step.log" >&2
    exit 1
  fi
  awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$pod/sidecar-time" >>"$dir/init-sidecar"
}

: >"$dir/init-sidecar"
for what in cat validate init; do
  : >"$dir/$what"
  i=0
  while [ "$i" -lt "$runs" ]; do
    case $what in
      cat) measure cat "$list" >>"$dir/$what" ;;
      validate) measure "$step" validate --task-list "@$list" >>"$dir/$what" ;;
      init) measure_init >>"$dir/$what" ;;
    esac
    i=$((i + 1))
  done
  echo "$what: median wall $(median 1 <"$dir/$what") s, CPU $(median 3 <"$dir/$what") s, peak RSS $(median 2 <"$dir/$what") KiB ($runs runs, $(wc -c <"$list") bytes)"
done
echo "init's tm-sidecar: median wall $(median 1 <"$dir/init-sidecar") s (until stopped after the step), CPU $(median 3 <"$dir/init-sidecar") s, peak RSS $(median 2 <"$dir/init-sidecar") KiB"

# The floor under the sidecar's share: the sqlite3 shell inserting the same 1,000,000
# task rows into a database with the sidecar's schema (taken from the last init) in
# one INSERT ... SELECT, with the sidecar's pragmas (WAL, synchronous FULL, foreign keys).
if command -v sqlite3 >/dev/null; then
  sqlite3 "$dir/pod/state.db" .schema >"$dir/schema.sql"
  cat >"$dir/insert.sql" <<'SQL'
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
INSERT INTO workflow_states (workflow_id, status, task_count, batch_size, effective_batch_size,
  list_hash, created_at, updated_at) VALUES ('million', 'pending', 1000000, 1000, 1000, 'x', 0, 0);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
INSERT INTO task_states (workflow_id, ordinal, task_id, status)
  SELECT 'million', i, printf('task-%07d', i), 'pending' FROM n WHERE true ON CONFLICT DO NOTHING;
SQL
  : >"$dir/sqlite3"
  i=0
  while [ "$i" -lt "$runs" ]; do
    rm -f "$dir/floor.db" "$dir/floor.db-wal" "$dir/floor.db-shm"
    sqlite3 "$dir/floor.db" <"$dir/schema.sql"
    /usr/bin/time -f '%e %M %U %S' -o "$dir/time" sqlite3 "$dir/floor.db" <"$dir/insert.sql" >/dev/null
    awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$dir/time" >>"$dir/sqlite3"
    i=$((i + 1))
  done
  echo "sqlite3 shell, the same 1,000,000 task rows in one statement: median wall $(median 1 <"$dir/sqlite3") s, CPU $(median 3 <"$dir/sqlite3") s, peak RSS $(median 2 <"$dir/sqlite3") KiB"
fi
"$step" validate --task-list "@$list"

#!/usr/bin/env bash
# The alert rules and the dashboard of dashboards/ (ctest: dashboards): the
# rules pass `promtool check rules` and their unit tests (alerts_test.yml: each
# alert fires, and does not, where it must); the dashboard is JSON whose every
# query is PromQL promtool accepts. That they select only series a real
# tm-sidecar exports is e2e_test's dashboards case (it runs check_queries.py on
# a real scrape).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
python=${PYTHON:-/usr/bin/python3}
if ! command -v promtool >/dev/null; then
  echo "dashboards: promtool not found: run scripts/bootstrap.sh (Debian's prometheus)" >&2
  exit 1
fi

failures=0
step() {
  local what=$1
  shift
  if out=$("$@" 2>&1); then
    echo "ok   $what"
  else
    echo "FAIL $what:"$'\n'"$out" >&2
    failures=$((failures + 1))
  fi
}

step "promtool check rules dashboards/alerts.yml" promtool check rules "$repo/dashboards/alerts.yml"
step "promtool test rules tests/dashboards/alerts_test.yml" \
  promtool test rules "$here/alerts_test.yml"
step "dashboards/taskmaster.json: variables, panels and PromQL" \
  "$python" "$here/check_queries.py" --rules "$repo/dashboards/alerts.yml" \
  --dashboard "$repo/dashboards/taskmaster.json" --syntax

[ "$failures" -eq 0 ] || { echo "dashboards: $failures failed" >&2; exit 1; }

#!/usr/bin/env bash
# The offline workflow lint (ctest: workflow_lint). workflows/ must pass; every
# tests/lint/ok-*.yaml must pass; every tests/lint/ruleNN-*.yaml must be rejected
# with only rule NN findings, at each "# expect: <json path>" the fixture lists.
# The schema comes from scripts/argo-schema.sh (ARGO_SCHEMA, else ../shared/argo/
# beside the checkout or beside the one it was cloned from); never copied in.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
python=${PYTHON:-/usr/bin/python3}
lint="$repo/scripts/lint-workflows.py"
schema=$("$repo/scripts/argo-schema.sh") || exit 1
if ! "$python" -c 'import yaml, jsonschema' 2>/dev/null; then
  echo "workflow_lint: $python lacks yaml or jsonschema: run scripts/bootstrap.sh" \
       "(python3-yaml, python3-jsonschema)" >&2
  exit 1
fi

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# 1. The project's manifests, linted together (the Workflow's workflowTemplateRef
#    resolves against the WorkflowTemplate).
if out=$("$python" "$lint" --schema "$schema" "$repo"/workflows 2>&1); then
  echo "ok   workflows/"
else
  fail "workflows/ does not pass the lint:"$'\n'"$out"
fi

# 2. Fixtures that must pass.
for f in "$here"/ok-*.yaml; do
  if out=$("$python" "$lint" --schema "$schema" "$f" 2>&1); then
    echo "ok   $(basename "$f") passes"
  else
    fail "$(basename "$f") must pass:"$'\n'"$out"
  fi
done

# 3. Negative fixtures, linted in one run (the interpreter's start-up dominates):
#    exit 1; each fixture has findings, all naming its own rule, at least one at
#    every "# expect: <json path>" it lists.
fixtures=("$here"/rule[0-9][0-9]-*.yaml)
all=$("$python" "$lint" --schema "$schema" "${fixtures[@]}" 2>/dev/null)
rc=$?
[[ $rc -eq 1 ]] || fail "negative fixtures: exit $rc, want 1"
for f in "${fixtures[@]}"; do
  name=$(basename "$f")
  rule=$((10#${name:4:2}))
  out=$(grep -F -e "$f: " <<<"$all")
  if [[ -z $out ]]; then
    fail "$name: not rejected (no finding)"
    continue
  fi
  if grep -v -F -e ": rule $rule (" <<<"$out" | grep -q .; then
    fail "$name: every finding must name rule $rule; got:"$'\n'"$out"
    continue
  fi
  expected=$(sed -n 's/^# expect: //p' "$f")
  if [[ -z $expected ]]; then
    fail "$name: lists no '# expect: <json path>'"
    continue
  fi
  ok=1
  while IFS= read -r path; do
    if ! grep -q -F -e "$f: $path: rule $rule (" <<<"$out"; then
      fail "$name: no rule $rule finding at $path; got:"$'\n'"$out"
      ok=0
    fi
  done <<<"$expected"
  [[ $ok -eq 1 ]] && echo "ok   $name rejected: rule $rule"
done
[[ ${#fixtures[@]} -ge 11 ]] || fail "want a negative fixture for each of rules 1-11, found ${#fixtures[@]}"

# 4. Usage errors exit 2.
"$python" "$lint" --schema "$schema" >/dev/null 2>&1
[[ $? -eq 2 ]] || fail "no FILE: want exit 2"
ARGO_SCHEMA='' "$python" "$lint" "$repo"/workflows >/dev/null 2>&1
[[ $? -eq 2 ]] || fail "no schema: want exit 2"
"$python" "$lint" --schema "$schema" "$here/does-not-exist.yaml" >/dev/null 2>&1
[[ $? -eq 2 ]] || fail "missing file: want exit 2"

if [[ $failures -gt 0 ]]; then
  echo "workflow_lint: $failures failure(s)" >&2
  exit 1
fi
echo "workflow_lint: all passed"

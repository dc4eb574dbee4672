#!/usr/bin/env bash
# Prints the path of Argo's JSON schema (api/jsonschema/schema.json of an Argo
# release) for the offline lint, or fails saying where it looked. In order:
#   1. $ARGO_SCHEMA
#   2. ../shared/argo/schema.json beside this checkout
#   3. the same beside the local checkout this one was cloned from (a fresh
#      `git clone . $(mktemp -d)` of a working copy that has ../shared beside it)
# The schema is reference data: it is never copied into the project.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

candidates=()
if [[ -n ${ARGO_SCHEMA:-} ]]; then
  candidates=("$ARGO_SCHEMA")
else
  candidates+=("$repo/../shared/argo/schema.json")
  origin=$(git -C "$repo" config --get remote.origin.url 2>/dev/null || true)
  if [[ -n $origin && -d $origin ]]; then
    candidates+=("$(cd "$origin" && pwd)/../shared/argo/schema.json")
  fi
fi
for c in "${candidates[@]}"; do
  if [[ -r $c ]]; then
    echo "$c"
    exit 0
  fi
done
echo "argo-schema: Argo's JSON schema not found (looked at: ${candidates[*]});" \
     "set ARGO_SCHEMA to api/jsonschema/schema.json of your Argo release" >&2
exit 1

#!/usr/bin/env bash
# Installs what Taskmaster needs to build, test and benchmark on Debian 12.
# Idempotent and silent when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache file
  libpoco-dev libhiredis-dev libpq-dev libsqlite3-dev sqlite3
  rapidjson-dev libspdlog-dev libfmt-dev libxxhash-dev libcli11-dev
  libboost-test-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev
  redis-server redis-tools postgresql postgresql-client
  python3 python3-jsonschema python3-yaml jq curl
  prometheus
)

"$(dirname "$0")/apt-ensure.sh" bootstrap "${packages[@]}"
# Debian starts the packaged servers on their default ports; the tests start their own
# (prometheus is here for promtool, which checks the sidecar's /metrics).
for svc in redis-server postgresql prometheus; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" >/dev/null 2>&1 || true
  fi
done

#!/usr/bin/env bash
# Installs what Taskmaster needs to build, test and benchmark on Debian 12.
# Idempotent and silent when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache file
  libpoco-dev libhiredis-dev libpq-dev libsqlite3-dev sqlite3
  rapidjson-dev libspdlog-dev libfmt-dev libxxhash-dev libcli11-dev
  libboost-test-dev libbenchmark-dev
  redis-server redis-tools postgresql postgresql-client
  python3 python3-jsonschema python3-yaml jq
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ "$status" == ii* ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "bootstrap: missing packages: ${missing[*]}" >&2
  echo "bootstrap: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged servers on their default ports; the tests start their own
# (prometheus is here for promtool, which checks the sidecar's /metrics).
for svc in redis-server postgresql prometheus; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" >/dev/null 2>&1 || true
  fi
done

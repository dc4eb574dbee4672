#!/usr/bin/env bash
# Installs the packages that only the benchmarks need: the peers that bench/peers/
# runs beside Taskmaster (Snakemake, RQ, Celery with its Redis transport, GNU
# parallel). Called by scripts/run-benchmarks.sh, never by `make test`.
# Idempotent and silent when everything is already there.
set -euo pipefail

packages=(
  snakemake python3-rq python3-celery python3-redis parallel
  redis-server redis-tools python3
)

"$(dirname "$0")/apt-ensure.sh" bootstrap-bench "${packages[@]}"
# The peers talk to a private redis-server the benchmark starts on its own port.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  systemctl stop redis-server >/dev/null 2>&1 || true
fi

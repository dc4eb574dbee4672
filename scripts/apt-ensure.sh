#!/usr/bin/env bash
# apt-ensure.sh NAME PACKAGE...: installs the Debian packages that are missing.
# Idempotent and silent when all are there; NAME prefixes its messages.
set -euo pipefail
name=$1
shift

missing=()
for p in "$@"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ "$status" == ii* ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "$name: missing packages: ${missing[*]}" >&2
  echo "$name: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "$name: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Installs what `make images` and the pod tests (tests/pods/) need on Debian 12: podman
# (kube play), buildah, runc (the runtime the project's containers.conf selects),
# catatonit (podman's pause image for pods), debootstrap (the offline base images).
# Idempotent and silent when everything is already there. Kept apart from bootstrap.sh,
# which also runs inside the images' build stage, where none of this belongs.
set -euo pipefail

packages=(podman buildah runc catatonit debootstrap)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ "$status" == ii* ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "bootstrap-containers: missing packages: ${missing[*]}" >&2
  echo "bootstrap-containers: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "bootstrap-containers: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

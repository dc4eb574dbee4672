#!/usr/bin/env bash
# Installs what `make images` and the pod tests (tests/pods/) need on Debian 12: podman
# (kube play), buildah, runc (the runtime the project's containers.conf selects),
# catatonit (podman's pause image for pods), debootstrap (the offline base images).
# Idempotent and silent when everything is already there. Kept apart from bootstrap.sh,
# which also runs inside the images' build stage, where none of this belongs.
set -euo pipefail

packages=(podman buildah runc catatonit debootstrap)

"$(dirname "$0")/apt-ensure.sh" bootstrap-containers "${packages[@]}"

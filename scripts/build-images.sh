#!/usr/bin/env bash
# Builds the two container images (`make images`): taskmaster/tm-step and
# taskmaster/tm-sidecar, with docker where `docker info` succeeds, else podman, else
# buildah (scripts/containers.sh).
#
#   scripts/build-images.sh                      # multi-stage builds from the sources
#   scripts/build-images.sh --prebuilt --step build/executor/tm-step \
#                           --sidecar build/sidecar/tm-sidecar   # pack host binaries (Debian 12)
#   options: --tag TAG (default: the project version)  --out DIR (save the images there)
#
# With podman or buildah the images live in the project's own container storage
# (scripts/containers.sh). Called without one (CONTAINERS_CONF unset), this script
# starts a temp storage, saves the images as OCI archives under --out (default
# build/images/) and removes the storage: load them with `podman load -i FILE`, or
# push them with `skopeo copy oci-archive:FILE docker://REGISTRY/NAME:TAG`. Set
# TM_CONTAINERS_DIR=DIR to keep the storage (and the images) in DIR instead.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
die() { echo "build-images: $*" >&2; exit 1; }

version=$(sed -n 's/^project(taskmaster VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
tag=$version
prebuilt=0
step_bin=
sidecar_bin=
out=
while [[ $# -gt 0 ]]; do
  case $1 in
    --prebuilt) prebuilt=1 ;;
    --step) step_bin=$2; shift ;;
    --sidecar) sidecar_bin=$2; shift ;;
    --tag) tag=$2; shift ;;
    --out) out=$2; shift ;;
    *) die "unknown argument $1 (see the header of $0)" ;;
  esac
  shift
done
if [[ $prebuilt -eq 1 ]]; then
  [[ -x "$step_bin" && -x "$sidecar_bin" ]] || die "--prebuilt needs --step BIN and --sidecar BIN (built binaries)"
fi

tool=$(scripts/containers.sh tool)
own_storage=0
if [[ $tool != docker && -z "${CONTAINERS_CONF:-}" ]]; then
  eval "$(scripts/containers.sh start)"
  own_storage=1
  trap 'scripts/containers.sh stop' EXIT
  [[ -n "$out" ]] || out=build/images
fi

scripts/containers.sh base-image slim
[[ $prebuilt -eq 1 ]] || scripts/containers.sh base-image build

# build IMAGE DOCKERFILE CONTEXT [BUILD-ARG...]
build() {
  local image=$1 dockerfile=$2 context=$3; shift 3
  local args=()
  for a in "$@"; do args+=(--build-arg "$a"); done
  echo "build-images: $image ($tool, $dockerfile)" >&2
  case $tool in
    docker) docker build -q -f "$dockerfile" -t "$image" "${args[@]}" "$context" >/dev/null ;;
    # Host network: the build stage fetches packages from the Debian mirror, and no
    # container network (CNI bridge, firewall rules) is set up on this machine.
    podman) podman build -q --network=host --layers -f "$dockerfile" -t "$image" "${args[@]}" "$context" >/dev/null ;;
    buildah) buildah bud -q --network=host --layers -f "$dockerfile" -t "$image" "${args[@]}" "$context" >/dev/null ;;
  esac
}

step_image=taskmaster/tm-step:$tag
sidecar_image=taskmaster/tm-sidecar:$tag
start=$SECONDS
if [[ $prebuilt -eq 1 ]]; then
  # A context with only what the .prebuilt Dockerfiles copy: nothing else is sent.
  context=$(mktemp -d "${TMPDIR:-/tmp}/taskmaster-image-context.XXXXXX")
  trap 'rm -rf "$context"; [[ $own_storage -eq 0 ]] || scripts/containers.sh stop' EXIT
  mkdir -p "$context/images/sidecar" "$context/bin"
  cp images/sidecar/runtime-packages images/sidecar/install-runtime-packages.sh "$context/images/sidecar/"
  cp "$step_bin" "$context/bin/tm-step"
  cp "$sidecar_bin" "$context/bin/tm-sidecar"
  build "$step_image" "$repo/images/step/Dockerfile.prebuilt" "$context" TM_STEP=bin/tm-step
  build "$sidecar_image" "$repo/images/sidecar/Dockerfile.prebuilt" "$context" TM_SIDECAR=bin/tm-sidecar
else
  build "$step_image" images/step/Dockerfile .
  build "$sidecar_image" images/sidecar/Dockerfile .
fi
echo "build-images: built $step_image and $sidecar_image in $((SECONDS - start)) s" >&2

if [[ -n "$out" ]]; then
  mkdir -p "$out"
  for image in "$step_image" "$sidecar_image"; do
    file="$out/$(basename "${image%%:*}")-$tag.tar"
    rm -f "$file"
    case $tool in
      docker) docker save -o "$file" "$image" ;;
      podman) podman save -q --format oci-archive -o "$file" "localhost/$image" ;;
      buildah) buildah push -q "localhost/$image" "oci-archive:$file:$image" ;;
    esac
    echo "build-images: saved $file" >&2
  done
fi

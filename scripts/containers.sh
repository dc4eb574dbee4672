#!/usr/bin/env bash
# The container environment of `make images` and the pod tests: podman with the
# project's own configuration and storage in a temp dir, never the machine's
# (/var/lib/containers, /etc/cni stay untouched), and the Debian base images built
# offline with debootstrap when no registry can be reached.
#
#   eval "$(scripts/containers.sh start)"     # prints export lines: CONTAINERS_CONF,
#                                             # CONTAINERS_STORAGE_CONF, TM_CONTAINERS_DIR
#   scripts/containers.sh base-image slim     # debian:bookworm-slim with tm-sidecar's runtime libraries
#   scripts/containers.sh base-image build    # debian:bookworm (the images' build stage)
#   scripts/containers.sh stop                # removes every pod, container and image of
#                                             # TM_CONTAINERS_DIR, and the dir
#
# Environment:
#   TM_CONTAINERS_DIR  (start) use this dir instead of a new temp dir; it is kept by stop
#                      when it was given, so images persist across runs
#   TM_CONTAINER_TOOL  docker | podman | buildah (default: docker where `docker info`
#                      succeeds, else podman, else buildah)
#   TM_PULL_BASE=0     (base-image) do not try the registry, build the base offline
#   TM_IMAGE_CACHE     where the offline base images are kept across runs
#                      (default ~/.cache/taskmaster/images)
#   TM_DEBIAN_MIRROR   debootstrap's mirror (default: the first Debian mirror of
#                      /etc/apt/sources.list*)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
die() { echo "containers: $*" >&2; exit 1; }

# The PATH Debian's official images set; an imported root file system has no config.
readonly debian_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

container_tool() {
  if [[ -n "${TM_CONTAINER_TOOL:-}" ]]; then
    echo "$TM_CONTAINER_TOOL"
  elif command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; then
    echo docker
  elif command -v podman >/dev/null 2>&1; then
    echo podman
  elif command -v buildah >/dev/null 2>&1; then
    echo buildah
  else
    die "no docker engine, podman or buildah: run scripts/bootstrap-containers.sh"
  fi
}

write_config() {
  local dir=$1 driver=$2
  # runc: the runtime installed here (crun is not). The lowered ulimits: the defaults
  # podman copies from its own process exceed what this kernel grants a container.
  # File locks and tmp_dir inside the dir: several checkouts can run at once, each
  # with its own storage, without sharing podman's lock segment or /run/libpod.
  cat >"$dir/containers.conf" <<EOT
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
tmp_dir = "$dir/tmp"
static_dir = "$dir/storage/libpod"
volume_path = "$dir/storage/volumes"

[network]
network_config_dir = "$dir/cni"
EOT
  cat >"$dir/storage.conf" <<EOT
[storage]
driver = "$driver"
graphroot = "$dir/storage"
runroot = "$dir/run"
EOT
}

cmd_start() {
  local dir given=0
  if [[ -n "${TM_CONTAINERS_DIR:-}" ]]; then
    dir=$TM_CONTAINERS_DIR
    given=1
    mkdir -p "$dir"
  else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/taskmaster-containers.XXXXXX")
  fi
  dir=$(cd "$dir" && pwd)
  mkdir -p "$dir/tmp" "$dir/cni"
  # overlay where the kernel and file system allow it (fast); vfs anywhere else
  # (every layer a full copy: slower, always works).
  local driver
  for driver in overlay vfs; do
    write_config "$dir" "$driver"
    if ! command -v podman >/dev/null 2>&1 ||
       CONTAINERS_CONF="$dir/containers.conf" CONTAINERS_STORAGE_CONF="$dir/storage.conf" \
         podman info >/dev/null 2>"$dir/podman-info.log"; then
      break
    fi
    if [[ $driver == vfs ]]; then
      local why; why=$(tail -n 3 "$dir/podman-info.log")
      [[ $given -eq 1 ]] || rm -rf "$dir"
      die "podman does not start: $why"
    fi
  done
  [[ $given -eq 1 ]] && touch "$dir/.given"
  cat <<EOT
export TM_CONTAINERS_DIR='$dir'
export CONTAINERS_CONF='$dir/containers.conf'
export CONTAINERS_STORAGE_CONF='$dir/storage.conf'
EOT
}

# Unmounts whatever is still mounted under $1 (deepest first).
unmount_under() {
  local m
  awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

cmd_stop() {
  local dir=${TM_CONTAINERS_DIR:-}
  [[ -n "$dir" ]] || die "TM_CONTAINERS_DIR is not set"
  [[ -f "$dir/containers.conf" ]] || return 0
  export CONTAINERS_CONF="$dir/containers.conf" CONTAINERS_STORAGE_CONF="$dir/storage.conf"
  podman pod rm --all --force --time 0 >/dev/null 2>&1 || true
  podman rm --all --force --time 0 >/dev/null 2>&1 || true
  [[ -f "$dir/.given" ]] && return 0
  podman system reset --force >/dev/null 2>&1 || true
  unmount_under "$dir"
  rm -rf --one-file-system "$dir"
}

# The first Debian archive mirror apt uses here (one-line and deb822 formats).
debian_mirror() {
  if [[ -n "${TM_DEBIAN_MIRROR:-}" ]]; then
    echo "$TM_DEBIAN_MIRROR"
    return
  fi
  local url
  url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^[[:space:]]*deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break } }
         /^[[:space:]]*URIs:/ { print $2 }' |
    grep -E '/debian/?$' | grep -v -- '-security' | head -n 1 || true)
  echo "${url:-http://deb.debian.org/debian}"
}

# Builds the root file system of Debian 12 (minbase, what Debian's official images
# are made from) into the cache as a tarball. $1: slim or build; $2 the image name.
build_rootfs() {
  local flavor=$1 name=$2 tarball=$3 cache; cache=$(dirname "$tarball")
  command -v debootstrap >/dev/null || die "debootstrap not found: run scripts/bootstrap-containers.sh"
  [[ $(id -u) -eq 0 ]] || die "debootstrap needs root to build the $flavor base image"
  local mirror; mirror=$(debian_mirror)
  local include=()
  if [[ $flavor == slim ]]; then
    # tm-sidecar's runtime libraries, so that the image builds need no mirror.
    include=("--include=$(sed 's/#.*//' "$repo/images/sidecar/runtime-packages" | xargs | tr ' ' ',')")
  fi
  local root; root=$(mktemp -d "$cache/rootfs.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the trap outlives this function's locals
  trap "unmount_under '$root'; rm -rf --one-file-system '$root'" EXIT
  echo "containers: building $name with debootstrap from $mirror (once; cached in $cache)" >&2
  if ! debootstrap --variant=minbase "${include[@]}" bookworm "$root" "$mirror" >"$root.log" 2>&1; then
    die "debootstrap failed; see $root.log"
  fi
  unmount_under "$root"
  # What the official images hold: the full archive with updates and security fixes,
  # no downloaded packages or lists, and no host files.
  rm -f "$root/etc/apt/sources.list" "$root/etc/resolv.conf" "$root/etc/hostname"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOT
Types: deb
URIs: ${mirror%/}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian*}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
  rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  rm -rf "$root"/var/log/bootstrap.log "$root"/var/log/apt/* "$root"/var/log/dpkg.log
  if [[ $flavor == slim ]]; then
    # As Debian's -slim images: no documentation, manuals or translations, now or later.
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOT'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOT
    find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/groff/* "$root"/usr/share/info/* \
      "$root"/usr/share/locale/* "$root"/usr/share/lintian/* "$root"/usr/share/linda/*
  fi
  tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -f "$root.log"
  unmount_under "$root"
  rm -rf --one-file-system "$root"
  trap - EXIT
}

# Imports a root file system tarball as image $2 (and its docker.io/library name, so
# that `FROM debian:...` finds it whatever the short-name settings).
import_rootfs() {
  local tool=$1 tarball=$2 name=$3
  case $tool in
    docker)
      docker import --change "ENV PATH=$debian_path" --change 'CMD ["bash"]' "$tarball" "$name" >/dev/null ;;
    podman)
      podman import --quiet --change "ENV PATH=$debian_path" --change 'CMD ["bash"]' "$tarball" "localhost/$name" >/dev/null
      podman tag "localhost/$name" "docker.io/library/$name" ;;
    buildah)
      local ctr; ctr=$(buildah from scratch)
      buildah add --quiet "$ctr" "$tarball" / >/dev/null
      buildah config --env "PATH=$debian_path" --cmd bash "$ctr"
      buildah commit --quiet "$ctr" "localhost/$name" >/dev/null
      buildah rm "$ctr" >/dev/null
      buildah tag "localhost/$name" "docker.io/library/$name" ;;
  esac
}

image_exists() {
  local tool=$1 name=$2
  case $tool in
    docker) docker image inspect "$name" >/dev/null 2>&1 ;;
    podman) podman image exists "$name" ;;
    buildah) buildah inspect --type image "$name" >/dev/null 2>&1 ;;
  esac
}

cmd_base_image() {
  local flavor=${1:-}
  local name
  case $flavor in
    slim) name=debian:bookworm-slim ;;
    build) name=debian:bookworm ;;
    *) die "usage: $0 base-image slim|build" ;;
  esac
  local tool; tool=$(container_tool)
  [[ $tool == docker || -n "${CONTAINERS_CONF:-}" ]] ||
    die "run eval \"\$(scripts/containers.sh start)\" first"
  image_exists "$tool" "$name" && return 0
  if [[ "${TM_PULL_BASE:-1}" != 0 ]] && timeout 120 "$tool" pull -q "docker.io/library/$name" >/dev/null 2>&1; then
    return 0
  fi
  # Offline: a root file system from the Debian mirror, cached per package list.
  local cache=${TM_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/taskmaster/images}
  mkdir -p "$cache"
  local key; key=$( (echo "v1 $flavor"; if [[ $flavor == slim ]]; then cat "$repo/images/sidecar/runtime-packages"; fi) |
    sha256sum | cut -c1-12)
  local tarball="$cache/${name//:/-}-$key.tar"
  # One builder at a time per cache (several checkouts may test at once).
  exec 9>"$cache/.lock"
  flock 9
  [[ -f "$tarball" ]] || build_rootfs "$flavor" "$name" "$tarball"
  flock -u 9
  import_rootfs "$tool" "$tarball" "$name"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  base-image) shift; cmd_base_image "$@" ;;
  tool) container_tool ;;
  *) echo "usage: $0 start|stop|base-image slim|build|tool" >&2; exit 2 ;;
esac

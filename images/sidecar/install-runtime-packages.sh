#!/bin/sh
# Installs tm-sidecar's runtime libraries (runtime-packages beside this script) in a
# Debian 12 image stage. Packages already installed are skipped, so a base image made
# offline with `debootstrap --include=<the same list>` needs no package mirror.
set -eu
list=$(dirname "$0")/runtime-packages
missing=
# shellcheck disable=SC2013 # one package a word
for p in $(sed 's/#.*//' "$list"); do
  if ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then
    missing="$missing $p"
  fi
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y -qq --no-install-recommends $missing
  rm -rf /var/lib/apt/lists/*
fi

#!/usr/bin/env bash
# Make sure the two base images of the stack exist: python:3.11-slim (the carousel image's base)
# and postgres:16. Where a registry answers, they are pulled. Where none does (an offline or
# air-gapped machine), stand-ins are built from Debian's package archive: a bookworm rootfs made
# with debootstrap, imported as an image, with Debian's python3 (3.11) or postgresql on top.
#
#   deploy/base-images.sh            # prints two lines: PYTHON_IMAGE=... POSTGRES_IMAGE=...
#
# Env: DEBIAN_MIRROR (default http://deb.debian.org/debian), ROOTFS (default .cache/rootfs, kept
# out of git), CAROUSEL_PULL=0 to skip trying the registry.
set -euo pipefail
cd "$(dirname "$0")/.."
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS=${ROOTFS:-.cache/rootfs}
BASE=carousel-standin/debian:bookworm

have() { docker image inspect "$1" >/dev/null 2>&1; }
pull() { [ "${CAROUSEL_PULL:-1}" = 1 ] && timeout 60 docker pull -q "$1" >/dev/null 2>&1; }

base() {
  have "$BASE" && return
  if [ ! -x "$ROOTFS/bin/sh" ] || [ ! -f "$ROOTFS/.complete" ]; then
    echo "debootstrap bookworm into $ROOTFS (from $MIRROR)" >&2
    rm -rf "$ROOTFS" && mkdir -p "$ROOTFS"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOTFS" "$MIRROR" >&2
    touch "$ROOTFS/.complete"
  fi
  tar -C "$ROOTFS" --exclude=./.complete -c . | docker import - "$BASE" >/dev/null
}

standin() {  # standin TAG PACKAGES SETUP...
  local tag=$1 pkgs=$2 setup=$3
  base
  echo "building stand-in $tag from Debian packages: $pkgs" >&2
  docker build -q -t "$tag" - >&2 <<EOF
FROM $BASE
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN mkdir -p /etc/postgresql-common && echo 'create_main_cluster = false' \
      > /etc/postgresql-common/createcluster.conf \
 && apt-get update -qq && apt-get install -y -qq --no-install-recommends $pkgs \
 && rm -rf /var/lib/apt/lists/* && $setup
EOF
}

image() {  # image OFFICIAL STANDIN PACKAGES SETUP
  if have "$1" || pull "$1"; then echo "$1"; return; fi
  have "$2" || standin "$2" "$3" "$4"
  echo "$2"
}

py=$(image python:3.11-slim carousel-standin/python:3.11-bookworm \
  "python3 python3-venv" "ln -s /usr/bin/python3 /usr/local/bin/python")
pg=$(image postgres:16 carousel-standin/postgres:bookworm \
  "postgresql util-linux" "ln -s /usr/lib/postgresql/*/bin/* /usr/local/bin/ 2>/dev/null || true")
echo "PYTHON_IMAGE=$py"
echo "POSTGRES_IMAGE=$pg"

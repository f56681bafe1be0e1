#!/usr/bin/env bash
# Builds proofsmith's docker sandbox image, proofsmith-sandbox:latest: an EMPTY file
# system. The sandbox bind-mounts the host's system directories and Python read-only
# into each container, so nothing is pulled from a registry and the vfs storage driver
# copies nothing. proofsmith builds the same image on first use; this script is for
# doing it by hand (or again: it replaces the tag). Needs a running engine
# (scripts/start-docker.sh).
set -euo pipefail
IMAGE=${1:-proofsmith-sandbox:latest}
SUDO=""; [ "$(id -u)" -ne 0 ] && ! docker info >/dev/null 2>&1 && SUDO="sudo"
if ! $SUDO docker info >/dev/null 2>&1; then
  echo "docker-image: no Docker engine answers; start one with scripts/start-docker.sh" >&2
  exit 1
fi
tar -cf - --files-from /dev/null | $SUDO docker import - "$IMAGE" >/dev/null
echo "docker-image: built $IMAGE (empty; system directories are bind-mounted read-only at run time)"

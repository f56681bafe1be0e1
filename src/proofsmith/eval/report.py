"""Reports of a results file: markdown tables, JSON figures, a pass@k plot."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from .passk import per_task, summarize


def markdown_report(counts: Mapping[str, tuple[int, int]], ks: list[int], extra: Mapping[str, Mapping] = {},
                    show_tasks: bool = True) -> str:
    overall = summarize(counts, ks)
    lines = [f"{len(counts)} tasks, {sum(n for n, _ in counts.values())} samples, "
             f"{sum(c for _, c in counts.values())} passed", ""]
    columns = list(overall)
    for label, figures in extra.items():  # e.g. the same pass@k after refutation
        columns += [f"{c} ({label})" for c in figures]
    lines.append("| | " + " | ".join(columns) + " |")
    lines.append("|---|" + "---|" * len(columns))
    values = list(overall.values()) + [v for figures in extra.values() for v in figures.values()]
    lines.append("| overall | " + " | ".join(f"{v:.4f}" for v in values) + " |")
    if show_tasks and len(counts) <= 200:
        lines += ["", "| task | n | c | " + " | ".join(overall) + " |", "|---|---|---|" + "---|" * len(overall)]
        for task, figures in per_task(counts, ks).items():
            n, c = counts[task]
            lines.append(f"| {task} | {n} | {c} | " + " | ".join(f"{figures.get(k, float('nan')):.3f}" for k in overall) + " |")
    if len(overall) < len(ks):
        lines += ["", f"(k above the smallest sample count per task, {min(n for n, _ in counts.values())}, is not reported)"]
    return "\n".join(lines)


def plot_pass_at_k(counts: Mapping[str, tuple[int, int]], path: str | Path, curves: Mapping[str, Mapping] | None = None) -> None:
    """pass@k against k for k = 1..min n (one curve, or several named ones)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = curves or {"pass@k": counts}
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, cts in curves.items():
        max_k = min(n for n, _ in cts.values())
        ks = list(range(1, max_k + 1))
        overall = summarize(cts, ks)
        ax.plot(ks, [overall[f"pass@{k}"] for k in ks], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("pass@k")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

"""Reports of a results file: markdown tables, JSON figures, a pass@k plot."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core import ProofsmithError
from .passk import Scores, per_task, show_id, summarize

ERROR_RULE = ("(a checker says error only for what it decides without the candidate, the task's prelude and "
              "statement alone under coqc or its tests on its own reference solution, or for its own failure: "
              "no candidate can make its own failure an error; see docs/eval.md)")


def _ids(ids: list[str], most: int = 20) -> str:
    shown = ", ".join(show_id(t) for t in ids[:most])
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def left_apart(scores: Scores, rule: bool = True) -> list[str]:
    """The lines saying what pass@k does not count, or counts as not passed (and, with `rule`, why)."""
    lines = []
    if scores.not_opened:
        lines.append(f"{_plural(len(scores.not_opened), 'theorem')} could not be opened (status error), "
                     f"counted as attempted and not proved: {_ids(scores.not_opened)}")
    if scores.not_checked:
        lines.append(f"{_plural(len(scores.not_checked), 'task')} could not be checked (status error): "
                     f"{_ids(scores.not_checked)}; left out of pass@k")
    if scores.unjudged_samples:
        count = sum(scores.unjudged_samples.values())
        lines.append(f"{_plural(count, 'sample')} of {_plural(len(scores.unjudged_samples), 'other task')} could "
                     f"not be judged (status error), left out of their task's n: {_ids(list(scores.unjudged_samples))}")
    if rule and (scores.not_checked or scores.unjudged_samples):
        lines.append(ERROR_RULE)
    return lines


def markdown_report(scores: Scores, ks: list[int], extra: Mapping[str, Scores] = {},
                    show_tasks: bool = True) -> str:
    counts, overall = scores.counts, scores.pass_at
    lines = [f"{_plural(len(counts), 'task')}, {_plural(scores.samples, 'sample')}, {scores.passed} passed", ""]
    columns = list(overall)
    for label, other in extra.items():  # e.g. the same pass@k after refutation
        columns += [f"{c} ({label})" for c in other.pass_at]
    lines.append("| | " + " | ".join(columns) + " |")
    lines.append("|---|" + "---|" * len(columns))
    values = list(overall.values()) + [v for other in extra.values() for v in other.pass_at.values()]
    lines.append("| overall | " + " | ".join(f"{v:.4f}" for v in values) + " |")
    if show_tasks and len(counts) <= 200:
        lines += ["", "| task | n | c | " + " | ".join(overall) + " |", "|---|---|---|" + "---|" * len(overall)]
        for task, figures in per_task(counts, [int(k.split("@")[1]) for k in overall]).items():
            n, c = counts[task]
            cells = " | ".join(f"{figures.get(k, float('nan')):.3f}" for k in overall)
            lines.append(f"| {show_id(task).replace('|', '¦')} | {n} | {c} | {cells} |")
    apart = left_apart(scores)
    if apart:
        lines += [""] + apart
    return "\n".join(lines)


def group_table(path: str, groups: Mapping[str, Scores], ks: list[int]) -> str:
    """One row per group (`eval --by PATH`): tasks, samples, passed and each pass@k the group can give."""
    columns = [f"pass@{k}" for k in ks]
    lines = [f"| {path} | tasks | samples | passed | " + " | ".join(columns) + " |",
             "|---|---|---|---|" + "---|" * len(columns)]
    for group, s in groups.items():
        cells = " | ".join(f"{s.pass_at[c]:.4f}" if c in s.pass_at else "—" for c in columns)
        lines.append(f"| {group.replace('|', '¦')} | {len(s.counts)} | {s.samples} | {s.passed} | {cells} |")
    return "\n".join(lines)


def json_figures(scores: Scores, extra: Mapping[str, Scores] = {}) -> dict[str, Any]:
    """`eval --json`: the figures, and (only when there are any) what was left out, by name."""
    figures: dict[str, Any] = dict(scores.pass_at)
    for label, other in extra.items():
        figures.update({f"{key} {label}": v for key, v in other.pass_at.items()})
    if scores.left_out:
        figures["not_computed"] = dict(scores.left_out)
    for name in ("not_checked", "not_opened"):
        if getattr(scores, name):
            figures[name] = list(getattr(scores, name))
    if scores.unjudged_samples:
        figures["unjudged_samples"] = dict(scores.unjudged_samples)
    return figures


def plot_types() -> dict[str, str]:
    """Image types matplotlib can write: extension -> description."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ProofsmithError("--plot needs matplotlib: pip install matplotlib") from None
    return dict(FigureCanvasAgg(Figure()).get_supported_filetypes())


def check_plot_path(path: str | Path) -> None:
    """Refuse, before any work, a plot file matplotlib cannot write."""
    path = Path(path)
    types = plot_types()
    kind = path.suffix[1:].lower()
    if kind not in types:
        said = f"'.{kind}' is not an image type matplotlib writes" if kind else "the name must end in an image type"
        raise ProofsmithError(f"--plot {path}: {said} (one of {', '.join(sorted(types))})")
    if path.is_dir():
        raise ProofsmithError(f"--plot {path}: is a directory")
    if not path.parent.is_dir():
        raise ProofsmithError(f"--plot {path}: no such directory {path.parent}")


def plot_pass_at_k(counts: Mapping[str, tuple[int, int]], path: str | Path,
                   curves: Mapping[str, Mapping] | None = None) -> None:
    """pass@k against k for k = 1..min n (one curve, or several named ones), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    path = Path(path)
    curves = curves or {"pass@k": counts}
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, cts in curves.items():
        max_k = min(n for n, _ in cts.values())
        if max_k < 1:
            continue
        ks = sorted({int(k) for k in np.geomspace(1, max_k, num=min(max_k, 64))})  # log-spaced: n may be huge
        overall = summarize(cts, ks)
        ax.plot(ks, [overall[f"pass@{k}"] for k in ks], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("pass@k")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        fig.savefig(tmp, dpi=120, format=path.suffix[1:].lower())
        os.replace(tmp, path)
    except OSError as exc:
        raise ProofsmithError(f"--plot {path}: cannot write ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)
        if tmp.exists():
            tmp.unlink()

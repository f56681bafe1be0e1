"""Checking a samples file: parallel, in input order, resumable.

Results are appended one line per sample in the samples' order, so the results
file is always a prefix of the final one and a rerun skips exactly the samples
already written.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Mapping, Sequence

from ..core import Candidate, ProofsmithError, Task, Verdict
from ..io import JsonlAppender


def check_samples(
    tasks: Mapping[str, Task],
    samples: Sequence[Candidate],
    out_path: str,
    check: Callable[[Task, Candidate], Verdict],
    workers: int = 2,
    progress: bool = True,
    extra: Callable[[Task, Candidate, Verdict], dict] | None = None,
) -> int:
    """Check every sample not yet in `out_path`; returns how many were checked now."""
    unknown = sorted({s.task_id for s in samples} - set(tasks))
    if unknown:
        raise ProofsmithError(f"samples name tasks not in the tasks file: {', '.join(map(str, unknown[:5]))}")
    with JsonlAppender(out_path) as out:
        done = len(out.done)
        for i, record in enumerate(out.done):
            if i >= len(samples) or record.get("task_id") != samples[i].task_id:
                raise ProofsmithError(f"{out_path} does not match the samples file (line {i + 1}); use a new --out")
        todo = list(enumerate(samples))[done:]
        bar = _progress(len(samples), done, progress)

        def one(item):
            _, sample = item
            task = tasks[sample.task_id]
            verdict = check(task, sample)
            record = {**sample.fields, **verdict.to_dict()}
            if extra:
                record.update(extra(task, sample, verdict))
            return record

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for record in pool.map(one, todo):  # map yields in input order
                out.write(record)
                bar.update(1)
        bar.close()
    return len(todo)


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="sample", desc="check", disable=not enabled, dynamic_ncols=True)


def refutation_fields(task: Task, candidate: Candidate, verdict: Verdict, sandbox) -> dict:
    """Differential testing against the reference: a passing sample that disagrees is refuted."""
    if not verdict.passed or task.kind != "python" or not task.reference:
        return {"refuted": False, "passed_after_refutation": verdict.passed}
    from ..checkers.differential import DifferentialUnavailable, refute_python

    try:
        counterexample = refute_python(task, candidate, sandbox)
    except DifferentialUnavailable as exc:  # said, not silently counted as agreement
        return {"refuted": False, "refutation": f"unavailable: {exc}", "passed_after_refutation": True}
    return {"refuted": counterexample is not None, "counterexample": counterexample,
            "passed_after_refutation": counterexample is None}

"""Checking a samples file: parallel, in input order, resumable (through `runs.run_resumable`).

Results are appended one line per sample in the samples' order, so the results
file is always a prefix of the final one and a rerun skips exactly the samples
already written; a rerun over changed tasks or samples, or with other settings, is refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..core import Candidate, ProofsmithError, Task, Verdict
from ..runs import Threads, run_resumable


class CheckStep:
    """One (task, sample) pair -> its result line: the sample's fields plus the verdict."""

    def __init__(self, check: Callable[[Task, Candidate], Verdict],
                 extra: Callable[[Task, Candidate, Verdict], dict] | None = None) -> None:
        self.check, self.extra = check, extra

    def __call__(self, pair: tuple[Task, Candidate]) -> dict:
        task, sample = pair
        verdict = self.check(task, sample)
        record = {**sample.fields, **verdict.to_dict()}
        if self.extra:
            record.update(self.extra(task, sample, verdict))
        return record


def check_samples(
    tasks: Mapping[str, Task],
    samples: Sequence[Candidate],
    out_path: str,
    check: Callable[[Task, Candidate], Verdict],
    workers: int = 2,
    progress: bool = True,
    extra: Callable[[Task, Candidate, Verdict], dict] | None = None,
    settings: Any = None,
    inputs: Iterable[str | os.PathLike] = (),
) -> int:
    """Check every sample not yet in `out_path`; returns how many were checked now.

    `settings` (what changes verdicts: timeouts, refutation) and `inputs` (the tasks and
    samples files, which `out_path` may not be) guard a resumed run.
    """
    unknown = sorted({s.task_id for s in samples} - set(tasks))
    if unknown:
        raise ProofsmithError(f"samples name tasks not in the tasks file: {', '.join(map(str, unknown[:5]))}")
    pairs = [(tasks[s.task_id], s) for s in samples]  # the task is part of what a result depends on
    outcome = run_resumable(pairs, CheckStep(check, extra), out_path, key=lambda pair: pair[1].task_id,
                            executor=Threads(workers), settings=settings, inputs=inputs, progress=progress,
                            desc="check", name="check", unit="sample")
    return outcome.ran


def refutation_fields(task: Task, candidate: Candidate, verdict: Verdict, sandbox) -> dict:
    """Differential testing against the reference: a passing sample that disagrees is refuted."""
    if not verdict.passed or task.kind != "python" or not task.reference:
        return {"refuted": False, "passed_after_refutation": verdict.passed}
    from ..checkers.refute.differential import DifferentialUnavailable, refute_python

    try:
        counterexample = refute_python(task, candidate, sandbox)
    except DifferentialUnavailable as exc:  # said, not silently counted as agreement
        return {"refuted": False, "refutation": f"unavailable: {exc}", "passed_after_refutation": True}
    return {"refuted": counterexample is not None, "counterexample": counterexample,
            "passed_after_refutation": counterexample is None}

"""Batch proving: `prove_task` over theorems, as one resumable run (`runs.run_resumable`).

The step (`ProveStep`, one theorem -> one result line) does not know where it runs;
the executor decides that: this process, a local pool of worker processes (each loads
the model once), or Ray tasks on a cluster. Results are appended one flushed JSONL line
per theorem; theorems already in the file are skipped, so a killed run resumes where it
stopped, and a rerun with a larger --limit extends it. The settings are kept beside the
results (RUN.run.json) and a resume with other ones is refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from ...core import Task
from ...runs import Jsonl, Processes, Ray, Serial, run_resumable
from .runner import ProverConfig, prove_task


class ProveStep:
    """One theorem -> its result line, with the prover's settings."""

    def __init__(self, config: ProverConfig) -> None:
        self.config = config

    def __call__(self, task: Task) -> dict[str, Any]:
        return prove_task(task, self.config)


def prove_all(
    tasks: Iterable[Task],
    config: ProverConfig,
    out: str | os.PathLike,
    *,
    workers: int = 1,
    ray_address: str | None = None,
    progress: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    inputs: Iterable[str | os.PathLike] = (),
) -> list[dict[str, Any]]:
    """Prove every task not yet in `out`; returns all result lines (old and new). `out` may not be one of `inputs`."""
    step, executor = ProveStep(config), Serial()
    if ray_address:
        executor = Ray(ray_address)
    elif workers > 1:  # each worker gets its share of the cores, unless told
        threads = max(1, (os.cpu_count() or 1) // workers)
        step, executor = ProveStep(config if config.threads else replace(config, threads=threads)), Processes(workers)
    settings = {k: v for k, v in config.to_dict().items() if k != "threads"}  # threads change speed, not results
    proved = attempted = 0
    seconds = 0.0

    def count(record: dict) -> dict:  # the progress bar's postfix: proved / attempted, time per theorem
        nonlocal proved, attempted, seconds
        proved, attempted = proved + bool(record.get("passed")), attempted + 1
        seconds += record.get("seconds", 0.0)
        return {"proved": f"{proved}/{attempted}", "s/thm": f"{seconds / attempted:.1f}"}

    outcome = run_resumable(tasks, step, Jsonl(out, match="key"), key=lambda t: t.id, executor=executor,
                            settings=settings, inputs=inputs, progress=progress, desc="prove", name="prove", unit="thm", postfix=count,
                            on_record=on_result)
    return outcome.records

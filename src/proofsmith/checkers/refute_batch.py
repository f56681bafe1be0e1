"""Batches for `proofsmith refute`: judge an inputs file, or search every problem.

Both write one JSONL result per item, in input order, flushed as it lands, so the
results file is always a prefix of the final one and a rerun resumes after it.
Each result carries `task_id` and `passed` (a valid counterexample), so
`proofsmith eval RESULTS` reports the share of problems refuted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..core import ProofsmithError
from ..io import JsonlAppender
from .refute import Program, RefuteProblem, RefuteRunner
from .refute_search import SearchBudget, search


def judge_inputs(problems: Mapping[str, RefuteProblem], inputs: Sequence[dict], out_path: str, runner: RefuteRunner,
                 workers: int = 2, progress: bool = True) -> dict:
    """Judge each counterexample line ({problem_id, input | generator, ...}); returns the tally."""
    unknown = sorted({str(r.get("problem_id")) for r in inputs} - set(problems))
    if unknown:
        raise ProofsmithError(f"inputs name problems not in the problems file: {', '.join(unknown[:5])}")

    def one(record: dict) -> dict:
        result = runner.judge(problems[str(record["problem_id"])], record)
        return {**record, **result.to_dict(), "task_id": result.problem_id, "passed": result.valid}

    return _ordered_run(inputs, [str(r["problem_id"]) for r in inputs], out_path, one, workers, progress, "refute")


def search_problems(problems: Mapping[str, RefuteProblem], out_path: str, runner: RefuteRunner,
                    generators: Mapping[str, Sequence[Program]] | Sequence[Program] = (), model: str | None = None,
                    use_model: bool = False, budget: SearchBudget = SearchBudget(), workers: int = 2,
                    progress: bool = True) -> dict:
    """Search a counterexample for every problem; `generators` is one list for all or a map by problem_id."""
    order = sorted(problems)

    def one(pid: str) -> dict:
        gens = generators.get(pid, ()) if isinstance(generators, Mapping) else generators
        found = search(problems[pid], runner, tuple(gens), model=model, use_model=use_model, budget=budget)
        return {**found, "task_id": pid, "passed": found["found"]}

    return _ordered_run(order, order, out_path, one, workers, progress, "search")


def _ordered_run(items: Sequence[Any], keys: Sequence[str], out_path: str, one: Callable[[Any], dict],
                 workers: int, progress: bool, label: str) -> dict:
    from tqdm import tqdm

    with JsonlAppender(out_path) as out:
        for i, record in enumerate(out.done):
            if i >= len(items) or record.get("task_id") != keys[i]:
                raise ProofsmithError(f"{out_path} does not match the inputs (line {i + 1}); use a new --out")
        tally = _Tally(out.done)
        bar = tqdm(total=len(items), initial=len(out.done), unit="item", desc=label, disable=not progress,
                   dynamic_ncols=True)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for record in pool.map(one, list(items)[len(out.done):]):  # map yields in input order
                out.write(record)
                tally.add(record)
                bar.update(1)
                bar.set_postfix(refuted=tally.refuted)
        bar.close()
    return tally.summary(resumed=len(out.done))


class _Tally:
    def __init__(self, done: Sequence[dict]) -> None:
        self.records = 0
        self.refuted_problems: set[str] = set()
        self.problems: set[str] = set()
        self.refuted = 0
        for record in done:
            self.add(record)

    def add(self, record: dict) -> None:
        self.records += 1
        self.problems.add(record["task_id"])
        if record.get("passed"):
            self.refuted += 1
            self.refuted_problems.add(record["task_id"])

    def summary(self, resumed: int) -> dict:
        return {"results": self.records, "resumed": resumed, "valid": self.refuted,
                "problems": len(self.problems), "problems_refuted": len(self.refuted_problems),
                "refuted_share": round(len(self.refuted_problems) / max(1, len(self.problems)), 4)}

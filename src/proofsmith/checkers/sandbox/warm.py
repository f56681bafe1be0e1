"""Warm Python workers: a sandboxed interpreter forks one child per run, no exec.

Starting a namespace sandbox and a Python interpreter costs tens of milliseconds;
forking an interpreter that is already warm costs about one. Each worker is one
bwrap sandbox (see bwrap.py: namespaces, read-only system, cgroup) running ZYGOTE,
which for every request

- makes a fresh run directory under /scratch and writes the run's files there,
- forks a child with its own session, rlimits (address space, CPU, file size) and
  pipes, which executes the run's script in-process,
- reads its output with caps and its wall clock, reaps it (with its CPU time),
- then kills every other process in the sandbox (`kill(-1)`: daemons die with the
  run) and empties /scratch (but for itself) and /tmp: no run sees another's files.

The child receives its stdin only after the fork, so nothing secret of a run is in
the memory it inherits. The zygote is non-dumpable: a child without capabilities
cannot trace it or read its memory. A worker that dies or hangs is replaced; one that
cannot start raises SandboxStartError with the sandbox's own stderr.

What a run costs is mostly what its fresh child does that the zygote could have done once:
the zygote imports the stdlib modules such programs use, compiles the pool's trusted
scripts (the checker's runner), freezes its objects for the collector, closes only the
descriptors that are open, and waits on a pidfd instead of polling.
"""

from __future__ import annotations

import base64
import json
import queue
import select
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Mapping

from ...text import encode_text
from .base import Limits, RunResult, start_error

START_TIMEOUT_S = 60.0  # a worker that has not said it is ready by then will not

ZYGOTE = r'''
import os, sys, json, struct, time, signal, select, selectors, resource, shutil, threading, ctypes
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
del ctypes
MEMORY = ("MemoryError", "Cannot allocate memory", "Out of memory")
IN, OUT = os.fdopen(0, "rb", buffering=0), 1
TRUSTED_SOURCES = {}  # the pool's trusted_scripts, filled in when the worker starts

def read_exact(n):
    data = b""
    while len(data) < n:
        chunk = IN.read(n - len(data))
        if not chunk:
            os._exit(0)
        data += chunk
    return data

def read_msg():
    return read_exact(struct.unpack(">I", read_exact(4))[0])

def send(obj):
    data = json.dumps(obj).encode()
    os.write(OUT, struct.pack(">I", len(data)) + data)

def open_fds():
    try:
        return [int(fd) for fd in os.listdir("/proc/self/fd")]
    except OSError:
        return [(1 << 16) - 1]

def child(rundir, script, lim, pipes, code):
    os.setsid()
    for target, fd in zip((0, 1, 2), pipes):
        os.dup2(fd, target)
    # Up to the highest open fd only: where close_range(2) is missing (kernels before 5.9, older
    # glibc, seccomp profiles that refuse it) closerange is one close() per number, 65k a run.
    os.closerange(3, max(open_fds()) + 1)
    os.chdir(rundir)
    resource.setrlimit(resource.RLIMIT_AS, (lim["memory_mb"] << 20,) * 2)
    cpu = max(1, int(lim["cpu_s"] + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["file_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.argv = [script]
    try:
        if code is None:
            with open(script) as f:
                code = compile(f.read(), script, "exec")
        exec(code, {"__name__": "__main__", "__file__": os.path.join(rundir, script)})
        status = 0
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        import traceback
        traceback.print_exc()
        status = 1
    try:
        sys.stdout.flush(); sys.stderr.flush()
    finally:
        os._exit(status)

def run(req):
    rundir = "/scratch/run-" + os.urandom(8).hex()
    os.mkdir(rundir)
    script, code = req["script"], None
    for name, b64 in req["files"].items():
        path = os.path.join(rundir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = __import__("base64").b64decode(b64)
        with open(path, "wb") as f:
            f.write(data)
        if name == script and name in TRUSTED and TRUSTED[name][0] == data:
            code = TRUSTED[name][1]  # compiled once, here; the bytes are the same, so is the code
    lim = req["limits"]
    pin, pout, perr = os.pipe(), os.pipe(), os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        child(rundir, script, lim, (pin[0], pout[1], perr[1]), code)
    for fd in (pin[0], pout[1], perr[1]):
        os.close(fd)
    try:  # readable when the child has exited: no polling for it
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # before Linux 5.3 / Python 3.9
        pidfd = None
    stdin = read_msg()  # the run's input arrives only now: the child never had it in memory
    if len(stdin) <= select.PIPE_BUF:  # fits the empty pipe at once: no thread to start
        feed(pin[1], stdin)
    else:
        threading.Thread(target=feed, args=(pin[1], stdin), daemon=True).start()
    cap, bufs, killed, overflow = lim["output_bytes"], {pout[0]: [], perr[0]: []}, False, False
    sizes = {pout[0]: 0, perr[0]: 0}
    sel = selectors.DefaultSelector()
    for fd in bufs:
        sel.register(fd, selectors.EVENT_READ)
    deadline = start + lim["wall_s"]
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            killed = True
            break
        for key, _ in sel.select(min(left, 0.5)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fd)
                continue
            if sizes[key.fd] < cap:
                bufs[key.fd].append(chunk[: cap - sizes[key.fd]])
            sizes[key.fd] += len(chunk)
            if sizes[key.fd] > cap:
                overflow = killed = True
        if killed:
            break
    if not killed and pidfd is not None:  # output closed; wait for the exit itself, up to the deadline
        left = deadline - time.monotonic()
        killed = left <= 0 or not select.select([pidfd], [], [], left)[0]
    if pidfd is not None:
        os.close(pidfd)
    while not killed:  # (without a pidfd) the child may still run
        got, status, ru = os.wait4(pid, os.WNOHANG)
        if got:
            break
        if time.monotonic() > deadline:
            killed = True
        time.sleep(0.0005)
    if killed:
        _, status, ru = kill_and_wait(pid)
    wall = time.monotonic() - start
    sweep()
    sel.close()  # an epoll object left to the GC would close a reused fd in a later child
    for fd in bufs:
        os.close(fd)
    rc = os.waitstatus_to_exitcode(status)
    rc = 128 - rc if rc < 0 else rc  # as bwrap and the shell report a death by signal
    cpu = ru.ru_utime + ru.ru_stime
    err = b"".join(bufs[perr[0]]).decode("utf-8", "replace")
    cpu_out = rc in (128 + signal.SIGXCPU, 128 + signal.SIGKILL) and cpu >= lim["cpu_s"] * 0.95
    send({"returncode": None if killed else rc, "stdout": b"".join(bufs[pout[0]]).decode("utf-8", "replace"),
          "stderr": err, "wall_s": wall, "cpu_s": cpu, "max_rss_kb": ru.ru_maxrss,
          "timed_out": (killed and not overflow) or rc == 128 + signal.SIGXCPU or cpu_out,
          "memory_exceeded": rc != 0 and any(m in err[-4000:] for m in MEMORY), "output_truncated": overflow})

def feed(fd, data):
    try:
        os.write(fd, data)
    except OSError:
        pass
    finally:
        os.close(fd)

def kill_and_wait(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return os.wait4(pid, 0)

def sweep():
    """Kill everything else in the sandbox (not us, not its init), reap, clean /tmp and /scratch."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break
    for top in ("/tmp", "/scratch"):
        for name in os.listdir(top):
            path = os.path.join(top, name)
            if path == "/scratch/zygote.py":
                continue
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)

# What every run would otherwise pay again in its fresh child: the compiler's first use and the
# modules HumanEval-style programs import (typing alone is ~5 ms). A child's changes to them stay
# in the child (fork); random reseeds itself in every child (its own at-fork hook).
compile("pass", "warm-up", "exec")
# The caller's own scripts (the checker's runner, never a candidate's code), compiled once per worker.
TRUSTED = {name: (source.encode(), compile(source, name, "exec")) for name, source in TRUSTED_SOURCES.items()}
for name in ("typing", "math", "re", "collections", "itertools", "functools", "string", "hashlib", "heapq",
             "bisect", "copy", "random", "fractions", "statistics", "traceback"):
    try:
        __import__(name)
    except ImportError:
        pass
import gc
gc.collect()
gc.freeze()  # the collector never writes to these objects: fewer copied pages in every child
send({"ready": True})
while True:
    run(json.loads(read_msg()))
'''


def _frame(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


@dataclass
class _Worker:
    proc: object  # subprocess.Popen of the sandboxed zygote

    def request(self, header: dict, stdin: bytes, timeout: float) -> dict:
        self.proc.stdin.write(_frame(json.dumps(header).encode()) + _frame(stdin))
        deadline = time.monotonic() + timeout
        size = _read_exact(self.proc.stdout, 4, deadline)
        return json.loads(_read_exact(self.proc.stdout, struct.unpack(">I", size)[0], deadline))


def _read_exact(stream, n: int, deadline: float | None = None) -> bytes:
    """`n` bytes from an unbuffered pipe; RuntimeError if it closes or (with `deadline`) stays silent."""
    data = b""
    while len(data) < n:
        if deadline is not None and not select.select([stream], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise RuntimeError("warm worker died or hung")
        chunk = stream.read(n - len(data))
        if not chunk:
            raise RuntimeError("warm worker died or hung (closed its pipe)")
        data += chunk
    return data


class WarmPython:
    """A pool of warm sandboxed interpreters running Python scripts, one run at a time each.

    `run(script, files, limits, stdin)` has the meaning of
    `sandbox.run([python, "-I", "-S", script], files, limits, stdin)`.
    """

    def __init__(self, sandbox, size: int = 8, worker_limits: Limits | None = None, python: str = sys.executable,
                 trusted_scripts: Mapping[str, str] | None = None):
        """`trusted_scripts` (name -> source): the caller's own scripts, never untrusted code; each worker
        compiles them once, and a run whose script has exactly that name and source skips compiling it."""
        self.sandbox, self.python = sandbox, python
        self.zygote = ZYGOTE.replace("TRUSTED_SOURCES = {}", f"TRUSTED_SOURCES = {dict(trusted_scripts or {})!r}", 1)
        self.worker_limits = worker_limits or Limits(wall_s=1e9, cpu_s=1e6, memory_mb=4096, processes=256,
                                                     file_bytes=256 << 20, output_bytes=1 << 20)
        self.idle: queue.Queue = queue.Queue()
        self.size = size
        self._lock = threading.Lock()
        self._started = 0

    def _spawn(self) -> _Worker:
        """A started worker, or SandboxStartError with the sandbox's own stderr (bwrap's words)."""
        proc = self.sandbox.spawn([self.python, "-I", "-S", "zygote.py"], files={"zygote.py": self.zygote},
                                  limits=self.worker_limits, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            size = _read_exact(proc.stdout, 4, deadline)
            _read_exact(proc.stdout, struct.unpack(">I", size)[0], deadline)
        except (OSError, RuntimeError):
            raise self._start_failure(proc, timed_out=time.monotonic() >= deadline) from None
        if proc.stderr is not None:
            proc.stderr.close()  # nothing more to hear: a run's output comes through its own pipes
        return _Worker(proc)

    def _start_failure(self, proc, timed_out: bool) -> Exception:
        if timed_out:
            proc.kill()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        said = b""
        if proc.stderr is not None:
            if select.select([proc.stderr], [], [], 1)[0]:
                said = proc.stderr.read(8192) or b""
            proc.stderr.close()
        proc.stdout.close()
        if timed_out:
            said = said or f"no answer in {START_TIMEOUT_S:.0f} s".encode()
        return start_error(f"the warm Python sandbox ({self.python})", said, proc.returncode)

    def _take(self) -> _Worker:
        try:
            return self.idle.get_nowait()
        except queue.Empty:
            with self._lock:
                spawn = self._started < self.size
                self._started += spawn
            if not spawn:
                return self.idle.get()
            try:  # outside the lock: workers for parallel callers start in parallel
                return self._spawn()
            except BaseException:
                with self._lock:
                    self._started -= 1
                raise

    def run(self, script: str, files: Mapping[str, str | bytes], limits: Limits, stdin: str | bytes = b"") -> RunResult:
        header = {"script": script, "limits": {"memory_mb": limits.memory_mb, "cpu_s": limits.cpu_s,
                                               "wall_s": limits.wall_s, "file_bytes": limits.file_bytes,
                                               "output_bytes": limits.output_bytes},
                  "files": {k: base64.b64encode(encode_text(v, f"file {k!r}")).decode() for k, v in files.items()}}
        stdin = encode_text(stdin, "stdin")
        worker = self._take()
        try:
            reply = worker.request(header, stdin, limits.wall_s + 10)
        except (RuntimeError, OSError, ValueError) as exc:
            worker.proc.kill()
            worker.proc.wait()
            with self._lock:
                self._started -= 1
            return RunResult(returncode=None, stdout="", stderr=f"sandbox worker lost: {exc}", wall_s=limits.wall_s)
        self.idle.put(worker)
        return RunResult(**reply)

    def close(self) -> None:
        while not self.idle.empty():
            worker = self.idle.get_nowait()
            worker.proc.kill()
            worker.proc.wait()

"""Child processes that die with proofsmith, whatever kills it.

A run killed with SIGKILL runs no cleanup, so the kernel must do it: every child gets
the parent-death signal (``PR_SET_PDEATHSIG``, SIGKILL). Two details decide whether it
holds:

- It is set in the child between fork and exec. ``preexec_fn`` is not safe in a parent
  with threads (sessions start from many at once), so a bare command is started through
  ``setpriv --pdeathsig KILL`` (util-linux, beside the ``prlimit`` we already need);
  bwrap sets it itself (``--die-with-parent``). The signal survives the ``exec`` of
  ``prlimit`` and ``sh -c 'exec ...'`` in front of the command.
- It fires when the *thread* that forked the child exits, not the process: a session
  started from a pool thread would be killed when the pool shuts down, while another
  thread still uses it. So every child is forked by one spawner thread that lives as
  long as the process (or by the main thread, which does too).

A child's own children are its business: bwrap's pid namespace takes every process of
the sandbox with it; coqidetop and coqc start none.
"""

from __future__ import annotations

import ctypes
import errno
import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
PR_SET_PDEATHSIG = 1

_requests: queue.SimpleQueue = queue.SimpleQueue()
_spawner: tuple[int, threading.Thread] | None = None  # (pid, thread): a forked child needs its own
_lock = threading.Lock()


def _serve() -> None:
    while True:
        fn, reply = _requests.get()
        try:
            reply.put((True, fn()))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            reply.put((False, exc))


def in_spawner(fn: Callable[[], T]) -> T:
    """`fn()` run on a thread that lives as long as this process (for forking children)."""
    global _spawner
    if threading.current_thread() is threading.main_thread():
        return fn()
    with _lock:
        if _spawner is None or _spawner[0] != os.getpid() or not _spawner[1].is_alive():
            thread = threading.Thread(target=_serve, name="proofsmith-spawner", daemon=True)
            thread.start()
            _spawner = (os.getpid(), thread)
    reply: queue.SimpleQueue = queue.SimpleQueue()
    _requests.put((fn, reply))
    ok, value = reply.get()
    if not ok:
        raise value
    return value


def _setpriv() -> list[str]:
    path = shutil.which("setpriv")
    return [path, "--pdeathsig", "KILL", "--"] if path else []


def popen(argv: Sequence[str], *, dies_by_itself: bool = False, **kwargs: Any) -> subprocess.Popen:
    """`subprocess.Popen(argv, **kwargs)`, the child killed when this process dies.

    `dies_by_itself`: the command sets the parent-death signal itself (bwrap's
    --die-with-parent); it is still forked from the spawner thread.
    """
    prefix = [] if dies_by_itself else _setpriv()
    if prefix and not shutil.which(argv[0], path=(kwargs.get("env") or os.environ).get("PATH")):
        # said as Popen would say it, not as setpriv's exit status 127
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
    if not prefix and not dies_by_itself:  # no setpriv: the one place preexec_fn is the only way
        kwargs.setdefault("preexec_fn", die_with_parent)
    return in_spawner(lambda: subprocess.Popen(prefix + list(argv), **kwargs))


def run(argv: Sequence[str], *, timeout: float | None = None, check: bool = False, input: bytes | str | None = None,
        capture_output: bool = False, **kwargs: Any) -> subprocess.CompletedProcess:
    """`subprocess.run` whose child dies with this process (and is killed on timeout)."""
    if capture_output:
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    if input is not None:
        kwargs["stdin"] = subprocess.PIPE
    with popen(argv, **kwargs) as proc:
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except BaseException:  # the timeout, or this thread interrupted: the child goes too
            proc.kill()
            proc.wait()
            raise
    done = subprocess.CompletedProcess(list(argv), proc.returncode, stdout, stderr)
    if check:
        done.check_returncode()
    return done


def die_with_parent(expected_parent: int | None = None) -> None:
    """In a child: SIGKILL when the parent (thread) dies; exit now if it already has."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to set
        return
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)  # the parent died before the signal was set: it would never come

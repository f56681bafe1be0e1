"""Stopping a run early: SIGINT and SIGTERM as `Interrupted`, never mid-write (`shielded`),
and the children that live in sessions of their own ended (`end_children`)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Step = Callable[[Any], dict]


# ----------------------------------------------------------------------------- signals


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: the run stops where it is and keeps every line already written.

    A KeyboardInterrupt, so that code which saves its state on Ctrl-C (a training checkpoint)
    does so on SIGTERM too; `exit_code` is the shell's 128 + the signal's number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum, self.exit_code = signum, 128 + signum


_signals = {"shield": 0, "pending": None, "raised": False}


@contextmanager
def interruptible() -> Iterator[None]:
    """Within: SIGINT and SIGTERM raise `Interrupted` in the main thread, once (later ones are
    ignored while it unwinds). Outside the main thread, or once left, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    _signals.update(shield=0, pending=None, raised=False)
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def _on_signal(signum: int, frame: Any) -> None:
    if _signals["raised"]:
        return
    if _signals["shield"]:  # a line or a manifest is being written: after it
        _signals["pending"] = signum
        return
    _signals["raised"] = True
    raise Interrupted(signum)


@contextmanager
def shielded() -> Iterator[None]:
    """A signal waits until the block is done: a results line or a manifest is written whole or not at all."""
    if threading.current_thread() is not threading.main_thread():  # signals are only handled there
        yield
        return
    _signals["shield"] += 1
    try:
        yield
    finally:
        _signals["shield"] -= 1
        if not _signals["shield"] and _signals["pending"] is not None:
            signum, _signals["pending"], _signals["raised"] = _signals["pending"], None, True
            raise Interrupted(signum)


def end_children(wait: float = 2.0) -> None:
    """End this process's children, for a run that stops early.

    A child that leads its own process group (a coqidetop, a sandbox: started in a session of
    their own, so no signal to our group reaches them) is killed with its group, again until
    none is left or `wait` passes (a step still unwinding may start one more); the others get
    SIGTERM (multiprocessing's resource tracker ignores it and ends when we do).
    """
    deadline = time.monotonic() + wait
    termed: set[int] = set()
    while True:
        leaders = 0
        for pid, pgrp in _children():
            try:
                if pgrp == pid:
                    os.killpg(pid, signal.SIGKILL)
                    leaders += 1
                elif pid not in termed:
                    os.kill(pid, signal.SIGTERM)
                    termed.add(pid)
            except (ProcessLookupError, PermissionError):
                pass
        if not leaders or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _children() -> list[tuple[int, int]]:
    """(pid, process group) of every live (not zombie) child of this process."""
    me, found = os.getpid(), []
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()  # after "pid (comm)": state ppid pgrp ...
        except (OSError, IndexError):
            continue
        if int(fields[1]) == me and fields[0] != b"Z":
            found.append((int(entry.name), int(fields[2])))
    return found


class Cancelled(BaseException):
    """Raised inside a worker thread whose run has stopped: its step unwinds (closing what it opened)."""


def _cancel_thread(thread: threading.Thread) -> None:
    # The only way to stop a step running in a thread: the exception is raised there as soon as
    # it runs Python code again (a blocking call returns first; `end_children` ends most of those).
    import ctypes

    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(Cancelled))

"""A client for coqidetop's XML protocol: step through Coq sentences, read the goals.

Usage::

    from proofsmith.coq import CoqIdeTop, CoqError

    with CoqIdeTop(load_paths=[("-Q", "/my/project", "MyLib")], timeout=30) as coq:
        sid = coq.add("Lemma foo (n : nat) : n + 0 = n.")   # -> new state id
        print(coq.goals())            # Goals: str() prints them like coqtop
        s1 = coq.add("induction n.")
        coq.goals().foreground[0].conclusion    # '0 + 0 = 0'
        coq.edit_at(sid)                        # backtrack to just after the statement
        coq.run("now rewrite <- plus_n_O.")     # add + execute; errors undo themselves
        print(coq.query("Locate plus_n_O."))    # 'Constant Coq.Init.Peano.plus_n_O'

`add` only parses a sentence into Coq's document (STM); it runs when something
observes it (`goals`, `observe`, `run`). Failures raise `CoqError` with Coq's message
and location (byte offsets in the sentence); a call that takes longer than its timeout
kills coqidetop and raises `CoqTimeout` (call `restart()` to get a fresh session, whose
state ids start over). With a `sandbox` (see `checkers/sandbox/base.py`) coqidetop runs
inside it under `limits`; otherwise as a plain child process with an address-space limit.

The call names are 8.16's (`Edit_at`, not `EditAt`; no `Observe`). Its `Add` has the 8.15+ shape ``((((sentence, edit_id), (state_id, verbose)),
bp), (line_nb, bol_pos))``; the older shape gets no answer at all.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import Any

from .. import children
from ..core import ProofsmithError
from . import xml_protocol as xp
from .goals import Goals

LoadPath = tuple[str, str, str]  # ("-Q" or "-R", physical directory, logical prefix)


class CoqError(ProofsmithError):
    """Coq refused a sentence or a query. `loc` is (start, stop) in bytes, or None."""

    def __init__(self, message: str, loc: tuple[int, int] | None = None, state_id: int | None = None):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.state_id = state_id  # the last good state Coq reports, where it does


class CoqTimeout(CoqError):
    """A call ran past its timeout; coqidetop was killed."""


class CoqDied(CoqError):
    """coqidetop exited (crash, memory limit) or spoke something we cannot read."""


class CoqIdeTop:
    """One coqidetop process and its document. See the module docstring."""

    def __init__(
        self,
        load_paths: Sequence[LoadPath] = (),
        args: Sequence[str] = (),
        *,
        topfile: str | None = None,
        noinit: bool = False,
        timeout: float = 60.0,
        memory_mb: int | None = None,
        binary: str = "coqidetop.opt",
        cwd: str | None = None,
        sandbox: Any = None,
        limits: Any = None,
        files: dict[str, str | bytes] | None = None,
    ):
        self.command = [binary, "-main-channel", "stdfds", "-async-proofs", "off", "-q"]
        for flag, physical, logical in load_paths:
            self.command += [flag, physical, logical]
        if topfile:
            self.command += ["-topfile", topfile]
        if noinit:
            self.command.append("-noinit")
        self.command += list(args)
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.cwd = cwd
        self.sandbox, self.limits, self.files = sandbox, limits, files
        self.proc: subprocess.Popen | None = None
        self.root = self.tip = 0
        self.messages: list[xp.Message] = []  # feedback messages of the last call
        self._start()

    # -- process ---------------------------------------------------------------------

    def _start(self) -> None:
        self._replies: queue.Queue = queue.Queue()
        self._stderr_tail = b""
        if self.sandbox is not None:
            self.proc = self.sandbox.spawn(self.command, files=self.files, limits=self.limits)
        else:
            # prlimit, not preexec_fn: sessions are started from many threads at once; it dies with us
            limit = ["prlimit", f"--as={self.memory_mb << 20}", "--"] if self.memory_mb else []
            try:
                self.proc = children.popen(
                    limit + self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    cwd=self.cwd, bufsize=0, start_new_session=True,
                )
            except FileNotFoundError as exc:
                raise ProofsmithError(f"{self.command[0]} not found: install Coq (apt-get install coq)") from exc
            threading.Thread(target=self._drain_stderr, args=(self.proc,), daemon=True).start()
        threading.Thread(target=self._read_replies, args=(self.proc, self._replies), daemon=True).start()
        self.root = self.tip = self.init()

    def _read_replies(self, proc: subprocess.Popen, replies: queue.Queue) -> None:
        stream = xp.XmlStream()
        fd = proc.stdout.fileno()
        try:
            while data := os.read(fd, 1 << 16):
                for elem in stream.feed(data):
                    replies.put(elem)
        except Exception as exc:  # unreadable output: the caller sees the process as dead
            replies.put(exc)
        replies.put(None)

    def _drain_stderr(self, proc: subprocess.Popen) -> None:
        while data := os.read(proc.stderr.fileno(), 1 << 16):
            self._stderr_tail = (self._stderr_tail + data)[-4000:]

    def _kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> int:
        """A fresh coqidetop (after a timeout or a crash). Returns the new root state."""
        self._kill()
        self._start()
        return self.root

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                self._call("Quit", None, timeout=2.0)
            except CoqError:
                pass
        self._kill()

    def __enter__(self) -> CoqIdeTop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the protocol ----------------------------------------------------------------

    def _call(self, name: str, argument: Any, timeout: float | None = None) -> Any:
        if self.proc is None or self.proc.poll() is not None:
            raise CoqDied(f"coqidetop is not running{self._why_dead()}")
        self.messages = []
        try:
            self.proc.stdin.write(xp.call(name, argument))
            self.proc.stdin.flush()
        except OSError as exc:
            raise CoqDied(f"coqidetop stopped reading its input{self._why_dead()}") from exc
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                elem = self._replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._kill()
                raise CoqTimeout(f"Coq call {name} timed out after {timeout or self.timeout:.0f} s") from None
            if elem is None or isinstance(elem, Exception):
                self._kill()
                raise CoqDied(f"coqidetop exited during {name}{self._why_dead()}")
            if elem.tag == "feedback":
                feedback = xp.decode_feedback(elem)
                if feedback.message:
                    self.messages.append(feedback.message)
            elif elem.tag == "message":
                self.messages.append(xp.decode_message(elem))
            elif elem.tag == "value":
                return self._value(elem)

    def _value(self, elem: Any) -> Any:
        if elem.get("val") == "good":
            return xp.decode(elem[0]) if len(elem) else None
        state_id, text = None, ""
        for kid in elem:
            if kid.tag == "state_id":
                state_id = int(kid.get("val", "0"))
            elif kid.tag == "richpp":
                text = xp.richpp_text(kid)
        loc = (int(elem.get("loc_s")), int(elem.get("loc_e"))) if elem.get("loc_s") is not None else None
        raise CoqError(text.strip() or "Coq reported an error", loc, state_id)

    def _why_dead(self) -> str:
        code = self.proc.poll() if self.proc else None
        why = f" (exit code {code})" if code is not None else ""
        if code is not None and code < 0 or code == 137:
            why += ": killed (memory limit?)"
        tail = self._stderr_tail.decode("utf-8", "replace").strip().splitlines()
        return why + (f": {tail[-1]}" if tail else "")

    def init(self) -> int:
        return self._call("Init", xp.NONE).id

    def add(self, sentence: str, state_id: int | None = None, *, bp: int = 0, line: int = 0, bol: int = 0) -> int:
        """Put one sentence after `state_id` (default: the tip); returns its state id.

        `bp`/`line`/`bol` place the sentence in its file so that error locations are
        absolute. Adding after an older state first backtracks to it.
        """
        parent = self.tip if state_id is None else state_id
        if parent != self.tip:
            self.edit_at(parent)
        new, _focus = self._call("Add", ((((sentence, 0), (xp.StateId(parent), False)), bp), (line, bol)))
        self.tip = new.id
        return self.tip

    def observe(self) -> None:
        """Execute the document up to the tip (8.16 has no `Observe` call: `Status true`)."""
        self._call("Status", True)

    def goals(self) -> Goals | None:
        """The goals at the tip (executing it first), or None outside a proof."""
        answer = self._call("Goal", None)
        return answer.value if isinstance(answer, xp.Some) else None

    def edit_at(self, state_id: int) -> None:
        """Backtrack: forget every sentence after `state_id`."""
        self._call("Edit_at", xp.StateId(state_id))
        self.tip = state_id

    def run(self, sentence: str, **where: int) -> Goals | None:
        """Add and execute one sentence; on failure backtrack to before it and raise."""
        parent = self.tip
        try:
            self.add(sentence, **where)
            return self.goals()
        except CoqTimeout:
            raise
        except CoqError:
            if self.proc and self.proc.poll() is None:
                self.edit_at(parent)
            raise

    def query(self, text: str, state_id: int | None = None) -> str:
        """Run a query (Locate, About, Check, Print, Search...) at a state; its output."""
        self._call("Query", (xp.RouteId(0), (text, xp.StateId(self.tip if state_id is None else state_id))))
        return "\n".join(m.text for m in self.messages if m.level != "debug")

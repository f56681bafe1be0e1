"""A client of the Lean REPL (leanprover-community/repl): its JSON protocol over pipes.

    repl = LeanRepl(["lake", "env", "repl"], cwd=project)
    r = repl.command("theorem t (p : Prop) (h : p) : p := by sorry")   # CommandReply
    s = repl.tactic("exact h", r.sorries[0].proof_state)                # TacticReply: goals == []

Requests are JSON objects, each followed by a blank line; replies are JSON objects
(pretty-printed over several lines), each followed by a blank line. Command mode
(`{"cmd", "env"?, "allTactics"?}`) answers `env`, `messages`, `sorries` (each with the
`proofState` to continue it in tactic mode) and, asked, `tactics`; tactic mode
(`{"tactic", "proofState"}`) answers a new `proofState`, `goals`, `messages`, `sorries` and,
in recent versions, `proofStatus`. What the REPL itself refuses (an unknown proofState or
env) comes back as `{"message": ...}`: `ReplError`. A call that takes longer than its
timeout kills the process (`LeanTimeout`; `restart()` starts a fresh one, whose
environments and proof states start over); a process that exits is `LeanDied`.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import children
from ..core import ProofsmithError
from .messages import Message, from_repl


class ReplError(ProofsmithError):
    """The REPL refused the request (`{"message": ...}`)."""


class LeanTimeout(ProofsmithError):
    """A request ran past its timeout; the process was killed."""


class LeanDied(ProofsmithError):
    """The REPL exited, or wrote something that is not its protocol."""


@dataclass(frozen=True)
class Sorry:
    proof_state: int | None
    goal: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class CommandReply:
    env: int | None
    messages: list[Message] = field(default_factory=list)
    sorries: list[Sorry] = field(default_factory=list)
    tactics: list[dict] = field(default_factory=list)  # with allTactics: tactic, goals (before), pos, proofState

    @property
    def errors(self) -> list[Message]:
        return [m for m in self.messages if m.is_error]


@dataclass(frozen=True)
class TacticReply:
    proof_state: int
    goals: list[str]
    messages: list[Message] = field(default_factory=list)
    sorries: list[Sorry] = field(default_factory=list)
    proof_status: str | None = None  # "Completed", "Incomplete: ...", "Error: ..." (recent versions)

    @property
    def errors(self) -> list[Message]:
        return [m for m in self.messages if m.is_error]

    @property
    def finished(self) -> bool:
        """No goal left, nothing left open and no error (older REPLs give no proofStatus)."""
        return (not self.goals and not self.errors and not self.sorries
                and (self.proof_status is None or self.proof_status == "Completed"))


def _sorries(reply: dict) -> list[Sorry]:
    return [Sorry(s.get("proofState"), s.get("goal", ""), (s.get("pos") or {}).get("line"),
                  (s.get("pos") or {}).get("column")) for s in reply.get("sorries", [])]


def _messages(reply: dict) -> list[Message]:
    return [from_repl(m) for m in reply.get("messages", [])]


class ReplyStream:
    """Bytes in, replies out: JSON objects separated by blank lines."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[dict]:
        self._buffer += data
        out = []
        while (cut := self._buffer.find(b"\n\n")) >= 0:
            chunk, self._buffer = self._buffer[:cut], self._buffer[cut + 2:]
            if chunk.strip():
                out.append(_decode(chunk))
        return out

    def close(self) -> list[dict]:
        rest, self._buffer = self._buffer, b""
        return [_decode(rest)] if rest.strip() else []


def _decode(chunk: bytes) -> dict:
    value = json.loads(chunk.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"a REPL reply is a JSON object, not {type(value).__name__}")
    return value


class LeanRepl:
    """One REPL process. `command` is how to start it, e.g. ["lake", "env", "repl"] in a project."""

    def __init__(self, command: Sequence[str], *, cwd: str | None = None, timeout: float = 60.0,
                 memory_mb: int | None = None, sandbox: Any = None, limits: Any = None,
                 env: dict[str, str] | None = None):
        self.argv, self.cwd, self.timeout, self.memory_mb = list(command), cwd, timeout, memory_mb
        self.sandbox, self.limits, self.env = sandbox, limits, env
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        self._replies: queue.Queue = queue.Queue()
        self._stderr_tail = b""
        if self.sandbox is not None:
            self.proc = self.sandbox.spawn(self.argv, limits=self.limits, env=self.env, stderr=subprocess.PIPE)
        else:
            limit = ["prlimit", f"--as={self.memory_mb << 20}", "--"] if self.memory_mb else []
            try:
                self.proc = children.popen(limit + self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, cwd=self.cwd, bufsize=0, start_new_session=True,
                                           env={**os.environ, **self.env} if self.env else None)
            except FileNotFoundError as exc:
                raise ProofsmithError(f"{self.argv[0]} not found: the Lean REPL needs a Lean toolchain (elan) and "
                                      "leanprover-community/repl built in the project (lake build repl)") from exc
        if self.proc.stderr is not None:
            threading.Thread(target=self._drain_stderr, args=(self.proc,), daemon=True).start()
        threading.Thread(target=self._read_replies, args=(self.proc, self._replies), daemon=True).start()

    def _read_replies(self, proc: subprocess.Popen, replies: queue.Queue) -> None:
        stream = ReplyStream()
        try:
            while data := os.read(proc.stdout.fileno(), 1 << 16):
                for reply in stream.feed(data):
                    replies.put(reply)
            for reply in stream.close():
                replies.put(reply)
        except (ValueError, OSError) as exc:  # not the protocol: the caller sees the process as dead
            replies.put(exc)
        replies.put(None)

    def _drain_stderr(self, proc: subprocess.Popen) -> None:
        while data := os.read(proc.stderr.fileno(), 1 << 16):
            self._stderr_tail = (self._stderr_tail + data)[-4000:]

    def _kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()

    def restart(self) -> None:
        """A fresh process (after a timeout or a crash): environments and proof states start over."""
        self.restarts += 1
        self._kill()
        self._start()

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # the REPL ends at the end of its input
                self.proc.wait(timeout=2.0)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def __enter__(self) -> LeanRepl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, payload: dict, timeout: float | None = None) -> dict:
        """Send one request, return its reply (a dict); ReplError when the REPL refuses it."""
        if self.proc is None or self.proc.poll() is not None:
            raise LeanDied(f"the Lean REPL is not running{self._why_dead()}")
        try:
            self.proc.stdin.write(json.dumps(payload, ensure_ascii=False).encode() + b"\n\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise LeanDied(f"the Lean REPL stopped reading its input{self._why_dead()}") from exc
        limit = timeout or self.timeout
        try:
            reply = self._replies.get(timeout=max(0.0, limit))
        except queue.Empty:
            self._kill()
            raise LeanTimeout(f"the Lean REPL did not answer within {limit:g} s") from None
        if reply is None or isinstance(reply, Exception):
            self._kill()
            why = f": {reply}" if isinstance(reply, Exception) else ""
            raise LeanDied(f"the Lean REPL exited{why}{self._why_dead()}")
        if set(reply) == {"message"}:
            raise ReplError(str(reply["message"]))
        return reply

    def command(self, cmd: str, env: int | None = None, *, all_tactics: bool = False,
                timeout: float | None = None) -> CommandReply:
        payload: dict[str, Any] = {"cmd": cmd}
        if env is not None:
            payload["env"] = env
        if all_tactics:
            payload["allTactics"] = True
        reply = self.request(payload, timeout)
        return CommandReply(reply.get("env"), _messages(reply), _sorries(reply), reply.get("tactics", []))

    def tactic(self, tactic: str, proof_state: int, timeout: float | None = None) -> TacticReply:
        reply = self.request({"tactic": tactic, "proofState": proof_state}, timeout)
        if "proofState" not in reply:
            raise LeanDied(f"the Lean REPL answered a tactic without a proofState: {str(reply)[:200]}")
        return TacticReply(int(reply["proofState"]), list(reply.get("goals", [])), _messages(reply),
                           _sorries(reply), reply.get("proofStatus"))

    def _why_dead(self) -> str:
        code = self.proc.poll() if self.proc else None
        why = f" (exit code {code})" if code is not None else ""
        if code is not None and (code < 0 or code == 137):
            why += ": killed (memory limit?)"
        tail = self._stderr_tail.decode("utf-8", "replace").strip().splitlines()
        return why + (f": {tail[-1]}" if tail else "")

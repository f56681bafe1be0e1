"""A live Lean 4 proof session for one theorem, behind `states.ProofEnvironment`.

    with LeanSession("import Mathlib", "theorem t (a b : ℕ) : a + b = b + a") as lean:
        s0 = lean.initial_state()
        s1 = lean.run_tactic(s0, "induction a")    # TacticState (two goals)
        lean.run_tactic(s0, "omega")               # ProofFinished: branched from s0

It talks to the Lean REPL (`lean/repl.py`): the prelude and `STATEMENT := by sorry` run
in command mode, the sorry's proofState is the root, and every tactic runs in tactic
mode on the proofState of the state it is given, so branching from any state is one
request. Where only lean-dojo is installed, `LeanSession.from_dojo(theorem)` does the same through
its `Dojo` (`dojo_backend.py`).

A tactic that runs past `tactic_timeout` kills the REPL (LeanDojo's issue #218: a timed
out Lean keeps the next tactics waiting). The session restarts it and, on the next
tactic, replays the path to the state it is asked about (the statement, then each
tactic from the root), so nothing later is poisoned; state ids stay the session's own.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...core import ProofsmithError
from ...lean.repl import LeanDied, LeanRepl, LeanTimeout, ReplError
from ...lean.syntax import forbidden_use
from .states import ProofFinished, TacticError, TacticResult, TacticState

_PROOF_TAIL_RE = re.compile(r"\s*:=\s*(by\s+sorry|sorry|by)?\s*$")


class _Step:
    """What a backend answers to one tactic."""

    def __init__(self, handle: int, goals: list[str], error: str = "", finished: bool = False):
        self.handle, self.goals, self.error, self.finished = handle, goals, error, finished


class ReplBackend:
    """The Lean REPL: handles are its proofState ids."""

    def __init__(self, prelude: str, statement: str, command: Sequence[str], *, cwd: str | None = None,
                 timeout: float = 300.0, memory_mb: int | None = 8192, sandbox: str | None = "auto",
                 cpu_s: float = 3600.0):
        """`sandbox`: a backend name, "auto" (the default one) or None (a plain child process under an
        address-space limit). Sandboxed, the REPL sees the project, the toolchain, the LEAN_PATH that
        `lake env` gives the project and the directories its command names, all read-only."""
        self.prelude, self.statement = prelude, statement
        if sandbox is None:
            self.repl = LeanRepl(command, cwd=cwd, timeout=timeout, memory_mb=memory_mb)
            return
        from ...checkers.lean import lake_env, toolchain_prefix
        from ...checkers.sandbox import Limits, get_sandbox

        env = lake_env(cwd) if cwd else {}
        prefix = toolchain_prefix("lean", cwd)
        if prefix:
            env["PATH"] = f"{prefix}/bin:/usr/local/bin:/usr/bin:/bin"
        seen = [d for d in [cwd, prefix, *env.get("LEAN_PATH", "").split(":"), *map(_dir_of, command)] if d]
        backend = get_sandbox(None if sandbox == "auto" else sandbox).seeing(sorted(set(seen)))
        limits = Limits(wall_s=cpu_s, cpu_s=cpu_s, memory_mb=memory_mb or 8192, processes=64)
        self.repl = LeanRepl(command, timeout=timeout, sandbox=backend, limits=limits, env=env)

    def open(self) -> tuple[int, list[str]]:
        env = None
        if self.prelude.strip():
            reply = self.repl.command(self.prelude)
            if reply.errors:
                raise ProofsmithError(f"the theorem's context does not check: {reply.errors[0].text[:200]}")
            env = reply.env
        reply = self.repl.command(f"{self.statement} := by sorry", env)
        if reply.errors or len(reply.sorries) != 1 or reply.sorries[0].proof_state is None:
            why = reply.errors[0].text[:200] if reply.errors else f"{len(reply.sorries)} open holes, not one"
            raise ProofsmithError(f"the statement does not open a proof: {why}")
        return reply.sorries[0].proof_state, [reply.sorries[0].goal]

    def step(self, handle: int, tactic: str, timeout: float) -> _Step:
        reply = self.repl.tactic(tactic, handle, timeout=timeout)
        if reply.errors:
            return _Step(reply.proof_state, reply.goals, reply.errors[0].text)
        if reply.sorries:
            return _Step(reply.proof_state, reply.goals, "the tactic leaves a sorry")
        if not reply.goals and not reply.finished:
            return _Step(reply.proof_state, reply.goals, reply.proof_status or "the proof is not complete")
        return _Step(reply.proof_state, reply.goals, finished=not reply.goals)

    def restart(self) -> None:
        self.repl.restart()

    def close(self) -> None:
        self.repl.close()


@dataclass
class _Node:
    parent: int | None
    tactic: str
    pp: str
    goals: int
    handle: int | None = None  # the backend's id for this state, valid in generation `generation`
    generation: int = -1


class LeanSession:
    """One theorem; states can be revisited in any order. See the module docstring."""

    def __init__(self, prelude: str = "", statement: str = "", *, repl_command: Sequence[str] | None = None,
                 project: str | None = None, tactic_timeout: float = 10.0, start_timeout: float = 600.0,
                 memory_mb: int | None = 8192, sandbox: str | None = "auto",
                 backend: object | None = None):
        """`repl_command`: how to start the REPL (default: the `repl` on PATH, with the LEAN_PATH of
        `project` when one is given); `sandbox` as `ReplBackend` takes it."""
        self.tactic_timeout = tactic_timeout
        self.restarts = 0
        if backend is None:
            command = list(repl_command or ([default_repl()] if sandbox or not project else ["lake", "env", "repl"]))
            backend = ReplBackend(prelude, _PROOF_TAIL_RE.sub("", statement), command, cwd=project,
                                  timeout=start_timeout, memory_mb=memory_mb, sandbox=sandbox)
        self.backend = backend
        self._generation = 0
        try:
            handle, goals = self.backend.open()
        except (LeanTimeout, LeanDied, ReplError) as exc:
            self.close()
            raise ProofsmithError(f"cannot open the theorem in Lean: {exc}") from exc
        except ProofsmithError:
            self.close()
            raise
        self._nodes = {0: _Node(None, "", _pp(goals), len(goals), handle, 0)}

    @classmethod
    def from_dojo(cls, theorem: object, *, tactic_timeout: float = 600.0) -> LeanSession:
        """A session on a theorem of a repository lean-dojo traced (`lean_dojo.Theorem`), through its Dojo."""
        from .dojo_backend import DojoBackend

        return cls(backend=DojoBackend(theorem, timeout=tactic_timeout), tactic_timeout=tactic_timeout)

    def initial_state(self) -> TacticState:
        root = self._nodes[0]
        return TacticState(root.pp, 0, root.goals)

    def proof(self, state_id: int) -> list[str]:
        """The tactics that lead from the statement to `state_id`."""
        tactics = []
        node_id: int | None = state_id
        while node_id is not None and node_id != 0:
            tactics.append(self._nodes[node_id].tactic)
            node_id = self._nodes[node_id].parent
        return tactics[::-1]

    def _handle(self, node_id: int) -> int:
        """The backend's id for a state, replaying its path when the backend restarted since."""
        node = self._nodes[node_id]
        if node.generation == self._generation:
            return node.handle
        if node.parent is None:
            node.handle, _ = self.backend.open()
        else:
            step = self.backend.step(self._handle(node.parent), node.tactic, self.tactic_timeout)
            if step.error:
                raise LeanDied(f"replaying {node.tactic!r} after a restart failed: {step.error}")
            node.handle = step.handle
        node.generation = self._generation
        return node.handle

    def run_tactic(self, state: TacticState, tactic: str) -> TacticResult:
        if state.id not in self._nodes:
            return TacticError(f"unknown state id {state.id}")
        if not tactic.strip():
            return TacticError("empty tactic")
        if bad := forbidden_use(tactic):
            return TacticError(f"forbidden in a tactic: {bad}")
        try:
            step = self.backend.step(self._handle(state.id), tactic, self.tactic_timeout)
        except (LeanTimeout, LeanDied) as exc:
            self._restart()
            return TacticError(str(exc), timeout=isinstance(exc, LeanTimeout))
        except ReplError as exc:
            return TacticError(str(exc))
        if step.error:
            return TacticError(step.error)
        node_id = len(self._nodes)
        self._nodes[node_id] = _Node(state.id, tactic, _pp(step.goals), len(step.goals), step.handle, self._generation)
        if step.finished:
            return ProofFinished(node_id)
        return TacticState(self._nodes[node_id].pp, node_id, len(step.goals))

    def _restart(self) -> None:
        """A fresh backend; every state's handle is stale until replayed (`_handle`)."""
        self.restarts += 1
        self._generation += 1
        self.backend.restart()

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> LeanSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _dir_of(arg: str) -> str:
    """The directory an absolute path on the command line lies in (a binary, a script, a file prefix)."""
    path = Path(arg)
    if not path.is_absolute():
        return ""
    return str(path if path.is_dir() else path.parent) if path.parent.is_dir() else ""


def _pp(goals: list[str]) -> str:
    """As LeanDojo prints a state: the goals separated by blank lines; "no goals" when none."""
    return "\n\n".join(goals) if goals else "no goals"


def default_repl() -> str:
    found = shutil.which("repl")
    if not found:
        raise ProofsmithError("no Lean REPL: install a Lean toolchain (elan, https://github.com/leanprover/elan), "
                              "build leanprover-community/repl (lake build) and put its `repl` on PATH, "
                              "or pass the project (`lake env repl`)")
    return found

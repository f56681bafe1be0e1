"""lean-dojo's `Dojo` behind `LeanSession` (where lean-dojo is installed and the REPL is not).

A Dojo opens a theorem of a repository lean-dojo traced (`lean_dojo.Theorem(repo, file,
name)`); its state ids are the handles. `DojoTacticTimeoutError` and `DojoCrashError`
become `LeanTimeout`/`LeanDied`, so the session restarts (a fresh Dojo) and replays, as
with the REPL. Not run here (no Lean toolchain); written against lean-dojo 4.20's API.
"""

from __future__ import annotations

from ...lean.repl import LeanDied, LeanTimeout
from .lean_session import _Step


class DojoBackend:
    """lean-dojo's `Dojo` on a traced theorem (`lean_dojo.Theorem`): handles are its state ids."""

    def __init__(self, theorem: object, timeout: float = 600.0):
        self.theorem, self.timeout, self._dojo = theorem, timeout, None

    def open(self) -> tuple[int, list[str]]:
        from lean_dojo import Dojo

        self._context = Dojo(self.theorem, timeout=int(self.timeout))
        self._dojo, state = self._context.__enter__()
        self._states = {state.id: state}
        return state.id, state.pp.split("\n\n")  # LeanDojo's pp: the goals, a blank line between

    def step(self, handle: int, tactic: str, timeout: float) -> _Step:
        import lean_dojo as ld

        try:
            result = self._dojo.run_tac(self._states[handle], tactic)
        except ld.DojoTacticTimeoutError as exc:
            raise LeanTimeout(f"lean-dojo: the tactic timed out ({exc})") from exc
        except ld.DojoCrashError as exc:
            raise LeanDied(f"lean-dojo: Lean crashed ({exc})") from exc
        if isinstance(result, ld.TacticState):
            self._states[result.id] = result
            return _Step(result.id, result.pp.split("\n\n"))
        if isinstance(result, ld.ProofFinished):
            return _Step(result.tactic_state_id, [], finished=True)
        return _Step(handle, [], getattr(result, "error", "") or type(result).__name__)

    def restart(self) -> None:
        self.close()

    def close(self) -> None:
        if self._dojo is not None:
            self._context.__exit__(None, None, None)
            self._dojo = None

"""The whole vocabulary between proof search and an interactive prover (as LeanDojo's).

A proof environment opens one theorem and answers `run_tactic(state, tactic)` with a
new `TacticState`, `ProofFinished` or `TacticError`. States carry an id so that search
can branch from any earlier state; `pp` is the goals as the prover prints them, which
is also what the model sees and what search uses to merge states already seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TacticState:
    pp: str  # the goals, pretty-printed (hypotheses, ====, conclusion; one block per goal)
    id: int  # the environment's own id for this state
    goals: int = 1  # how many goals are open (focused + unfocused)


@dataclass(frozen=True)
class ProofFinished:
    id: int
    message: str = ""


@dataclass(frozen=True)
class TacticError:
    message: str
    timeout: bool = False  # the tactic ran past its time limit (the session restarted cleanly)


TacticResult = TacticState | ProofFinished | TacticError


class ProofEnvironment(Protocol):
    """What search needs from an interactive prover, and nothing more."""

    def initial_state(self) -> TacticState: ...

    def run_tactic(self, state: TacticState, tactic: str) -> TacticResult: ...

"""The automation portfolio: Coq's own decision procedures and CoqHammer's, tried at every node.

Each entry is a tactic and its log prior. The tactics run under Coq's `Timeout` in the
live session like any other (`CoqSession.tactic_timeout`); one that Coq does not know
in this theorem's context (`lia` without `Require Import Lia`, say) fails with "not
found" once and is not tried again on that theorem (`Portfolio.unavailable`).

The priors are fixed and set by hand, not measured: three levels, natural logs of 0.3
(the everyday closers: `reflexivity`, `assumption`, `easy`, `auto`), 0.1 and 0.03 (the
heavier procedures). They order the candidates at a node and score the states a
tactic leaves; a closer either finishes a goal or fails, so its prior matters only
when it leaves subgoals (`intuition`, `firstorder`, `constructor; auto`).

CoqHammer's reconstruction tactics (`sauto`, `hauto`, `qauto`: Czajka, "Practical
proof search for Coq by type inhabitation", IJCAR 2020) need no external prover; they
are in the portfolio when ``libcoq-hammer`` is installed, with its import added in
front of the theorem's context (`with_hammer`) for the session and for the checker's
re-check alike, so every proof that counts checks in the context it was found in.
"""

from __future__ import annotations

import functools
import math
import re
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from ...core import Task

_COMMON, _SOME, _RARE = math.log(0.3), math.log(0.1), math.log(0.03)
CLOSERS = (  # tactic, log prior: cheap and usually right first
    ("reflexivity.", _COMMON), ("assumption.", _COMMON), ("easy.", _COMMON), ("auto.", _COMMON),
    ("trivial.", _SOME), ("discriminate.", _SOME), ("congruence.", _SOME), ("tauto.", _SOME), ("lia.", _SOME),
    ("intuition.", _RARE), ("firstorder.", _RARE), ("eauto.", _RARE), ("constructor; auto.", _RARE),
    ("simpl; auto.", _SOME), ("intros; simpl; auto.", _SOME), ("split; auto.", _RARE),
)
# not `intros; sauto.`: sauto's inhabitation search introduces the goal's binders itself, so the two
# agree (178 of 178 states of hybrid searches on the Lists test theorems: same error, same state or
# both a proof) and it cost a cheap expansion ~57 ms of Coq time, a fifth of it
HAMMER_TACTICS = (("qauto.", _SOME), ("sauto.", _SOME), ("hauto.", _RARE))
HAMMER_IMPORT = "From Hammer Require Import Tactics."
_NOT_AVAILABLE = re.compile(r"was not found in the current environment|Unknown tactic|Syntax error|not a valid tactic")


@functools.lru_cache(maxsize=1)
def hammer_installed() -> bool:
    """Whether CoqHammer's tactics library (Debian: libcoq-hammer) is in Coq's user-contrib."""
    try:
        where = subprocess.run(["coqc", "-where"], capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(where) and (Path(where) / "user-contrib" / "Hammer" / "Tactics" / "Tactics.vo").is_file()


def with_hammer(task: Task) -> Task:
    """The task with CoqHammer's tactics imported in front of its context (when installed and not already)."""
    if not hammer_installed() or HAMMER_IMPORT in task.context:
        return task
    return replace(task, context=f"{HAMMER_IMPORT}\n{task.context}")


@dataclass
class Portfolio:
    """The automation tactics for one theorem; forgets those its context does not have."""

    hammer: bool = False
    unavailable: set[str] = field(default_factory=set)

    def tactics(self) -> list[tuple[str, float]]:
        entries = list(CLOSERS) + (list(HAMMER_TACTICS) if self.hammer else [])
        return [(t, p) for t, p in entries if t not in self.unavailable]

    def saw_error(self, tactic: str, message: str) -> None:
        """Called with each failure of a portfolio tactic: 'not found' ones are dropped."""
        if _NOT_AVAILABLE.search(message):
            self.unavailable.add(tactic)

"""Proof states as small frozen dataclasses: the vocabulary between Coq and its users.

`Goals` is what Coq's `Goal` call answers inside a proof (None outside one): the
focused goals, the unfocused ones, the shelved and the given-up ones. Each `Goal` has
its hypotheses and its conclusion exactly as Coq prints them, and `str(goals)` prints
the focused goals the way coqtop does::

    n : nat
    H : n = 0
    ============================
    n + 0 = 0

Several goals are separated by a blank line; no goal left prints as ``no goals``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SEPARATOR = "============================"
NO_GOALS = "no goals"

# "n, m : nat" or "x := body : type" (the body itself may hold " : "; the first wins)
_HYP = re.compile(r"^(?P<names>[^\s:,]+(?:\s*,\s*[^\s:,]+)*)\s*(?::=\s*(?P<body>.*?)\s*)?:\s(?P<type>.*)$", re.DOTALL)


@dataclass(frozen=True)
class Hypothesis:
    names: tuple[str, ...]
    type: str
    body: str | None = None  # let-bound hypotheses (`x := body : type`)
    text: str = ""  # as Coq printed it

    @classmethod
    def parse(cls, text: str) -> Hypothesis:
        m = _HYP.match(text.strip())
        if not m:
            return cls(names=(), type=text.strip(), text=text)
        names = tuple(n.strip() for n in m["names"].split(","))
        return cls(names=names, type=m["type"].strip(), body=m["body"], text=text)

    def __str__(self) -> str:
        return self.text or f"{', '.join(self.names)} : {self.type}"

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "type": self.type, "body": self.body, "text": str(self)}


@dataclass(frozen=True)
class Goal:
    hypotheses: tuple[Hypothesis, ...]
    conclusion: str
    id: str = ""  # Coq's evar number for the goal
    name: str | None = None

    def __str__(self) -> str:
        return "\n".join([*(str(h) for h in self.hypotheses), SEPARATOR, self.conclusion])

    def to_dict(self) -> dict[str, Any]:
        return {"hypotheses": [h.to_dict() for h in self.hypotheses], "conclusion": self.conclusion}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Goal:
        hyps = tuple(Hypothesis(tuple(h["names"]), h["type"], h.get("body"), h.get("text", "")) for h in d["hypotheses"])
        return cls(hypotheses=hyps, conclusion=d["conclusion"])


@dataclass(frozen=True)
class Goals:
    foreground: tuple[Goal, ...]
    background: tuple[Goal, ...] = ()
    shelved: tuple[Goal, ...] = ()
    given_up: tuple[Goal, ...] = ()

    @property
    def finished(self) -> bool:
        """No goal left anywhere: the proof only waits for Qed/Defined."""
        return not (self.foreground or self.background or self.shelved)

    def __str__(self) -> str:
        return "\n\n".join(str(g) for g in self.foreground) if self.foreground else NO_GOALS

    def to_dict(self) -> dict[str, Any]:
        return {
            "foreground": [g.to_dict() for g in self.foreground],
            "background": [g.to_dict() for g in self.background],
            "shelved": len(self.shelved),
            "given_up": len(self.given_up),
        }

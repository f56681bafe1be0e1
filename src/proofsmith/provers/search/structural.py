"""Structural tactics proposed from the goal itself (no model): what a person tries first.

From the first goal of a state (hypotheses, ====, conclusion, as `CoqSession` prints it):
- ``intros.`` when the conclusion is a `forall`, an implication or a negation;
- ``induction x.`` / ``destruct x.`` for each variable of an inductive type, in the
  hypotheses or bound by the conclusion's leading `forall` (whether a type is inductive
  is asked of Coq, ``Print T.``, once per type head, through the `is_inductive` callback),
  and the two-step closers ``induction x; simpl; auto.`` and ``destruct x; simpl; auto.``;
- ``destruct H.`` for a hypothesis that is a conjunction, disjunction, existential or iff;
- ``rewrite H.`` / ``rewrite <- H.`` for each equality hypothesis, ``subst.`` when there is one;
- from the conclusion's shape: ``split.`` (/\\, <->), ``left.`` / ``right.`` (\\/),
  ``eexists.`` (exists), ``f_equal.`` (=); and always ``simpl.`` and ``constructor.``.

Each comes with a fixed prior (`PRIORS`, natural-log probabilities, documented beside
each entry) that best-first search adds to a path's score like a model's log-probability.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from ...coq.goals import SEPARATOR

# log prior per proposal kind; chosen so that cheap, usually-right moves (intros, split)
# come before case analysis, and both before rewriting and normalising
PRIORS = {
    "intros": math.log(0.6), "split": math.log(0.5), "induction": math.log(0.3), "destruct": math.log(0.25),
    "closer": math.log(0.3), "destruct_hyp": math.log(0.3), "left_right": math.log(0.2), "rewrite": math.log(0.2),
    "subst": math.log(0.2), "eexists": math.log(0.1), "f_equal": math.log(0.1), "simpl": math.log(0.15),
    "constructor": math.log(0.1),
}
_IDENT = r"[A-Za-z_][A-Za-z0-9_']*"
_BINDER_GROUP = re.compile(rf"\(\s*((?:{_IDENT}\s+)*{_IDENT})\s*:\s*([^()]*(?:\([^()]*\)[^()]*)*)\)")
_CONNECTIVE_HYP = re.compile(r"/\\|\\/|<->|^\s*exists\b")


def first_goal(pp: str) -> tuple[list[tuple[str, str]], str]:
    """(hypotheses as (name, type), conclusion) of the state's first goal."""
    block = pp.split("\n\n", 1)[0] if not pp.startswith("(* unfocused *)") else pp.split("\n", 1)[-1].split("\n\n", 1)[0]
    if SEPARATOR not in block:
        return [], block.strip()
    top, conclusion = block.split(SEPARATOR, 1)
    hyps: list[tuple[str, str]] = []
    for line in top.strip().splitlines():
        if " : " not in line and ":=" not in line:
            if hyps:  # a long type continued on the next line
                hyps[-1] = (hyps[-1][0], hyps[-1][1] + " " + line.strip())
            continue
        names, _, typ = line.partition(" : ")
        if ":=" in names:  # a local definition: not something to case on
            continue
        for name in names.split(","):
            if re.fullmatch(_IDENT, name.strip()):
                hyps.append((name.strip(), typ.strip()))
    return hyps, " ".join(conclusion.split())


def forall_binders(conclusion: str) -> list[tuple[str, str]]:
    """(name, type) of the variables the conclusion's leading `forall` binds (typed binders only)."""
    match = re.match(r"forall\s+(.*?),", conclusion)
    if not match:
        return []
    binders = match.group(1).strip()
    if "(" not in binders and ":" in binders:  # forall x y : T,
        names, _, typ = binders.partition(":")
        return [(n, typ.strip()) for n in names.split()]
    return [(n, typ.strip()) for names, typ in _BINDER_GROUP.findall(binders) for n in names.split()]


def type_head(typ: str) -> str:
    """The constant a type is built from (`list` for `list nat`), or '' for arrows, sorts, notations."""
    typ = typ.strip()
    while typ.startswith("(") and typ.endswith(")"):
        typ = typ[1:-1].strip()
    if "->" in typ or typ.startswith("forall"):
        return ""
    head = re.match(rf"@?({_IDENT}(?:\.{_IDENT})*)", typ)
    return head.group(1) if head and head.group(1) not in ("Prop", "Set", "Type") else ""


def propose(pp: str, is_inductive: Callable[[str], bool]) -> list[tuple[str, float]]:
    """Structural tactics for the state's first goal, with their log priors, best first, no duplicates."""
    hyps, conclusion = first_goal(pp)
    out: list[tuple[str, float]] = []
    if re.match(r"(forall\b|~)", conclusion) or re.search(r"->", conclusion):
        out.append(("intros.", PRIORS["intros"]))
    variables = [(n, t) for n, t in hyps if not _CONNECTIVE_HYP.search(t)] + forall_binders(conclusion)
    for name, typ in variables:
        head = type_head(typ)
        if head and is_inductive(head):
            out += [(f"induction {name}; simpl; auto.", PRIORS["closer"]), (f"destruct {name}; simpl; auto.", PRIORS["closer"]),
                    (f"induction {name}.", PRIORS["induction"]), (f"destruct {name}.", PRIORS["destruct"])]
    for name, typ in hyps:
        if _CONNECTIVE_HYP.search(typ):
            out.append((f"destruct {name}.", PRIORS["destruct_hyp"]))
        elif re.search(r"(?<![<>=!])=(?![=>])", typ):
            out += [(f"rewrite {name}.", PRIORS["rewrite"]), (f"rewrite <- {name}.", PRIORS["rewrite"] - 0.5)]
    if any(re.search(r"(?<![<>=!])=(?![=>])", t) for _, t in hyps):
        out.append(("subst.", PRIORS["subst"]))
    if re.search(r"/\\|<->", conclusion) and not conclusion.startswith(("forall", "exists")):
        out.append(("split.", PRIORS["split"]))
    if "\\/" in conclusion and not conclusion.startswith(("forall", "exists")):
        out += [("left.", PRIORS["left_right"]), ("right.", PRIORS["left_right"])]
    if conclusion.startswith("exists"):
        out.append(("eexists.", PRIORS["eexists"]))
    if " = " in conclusion and not conclusion.startswith("forall"):
        out.append(("f_equal.", PRIORS["f_equal"]))
    out += [("simpl.", PRIORS["simpl"]), ("constructor.", PRIORS["constructor"])]
    seen: set[str] = set()
    return [(t, p) for t, p in sorted(out, key=lambda x: -x[1]) if not (t in seen or seen.add(t))]


def inductive_oracle(query: Callable[[str], str]) -> Callable[[str], bool]:
    """`is_inductive(head)`: asks Coq ``Print head.`` once per head (`query` runs a Coq query, '' on an error)."""
    cache: dict[str, bool] = {}

    def is_inductive(head: str) -> bool:
        if head not in cache:
            text = query(f"Print {head}.")  # '' for a name Coq does not know
            cache[head] = bool(re.match(r"\s*(Co)?Inductive\b|\s*Variant\b|\s*Record\b|\s*Structure\b", text))
        return cache[head]

    return is_inductive

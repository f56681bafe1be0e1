"""Prompts for the default (not Coq-trained) model: a few worked examples, then the state.

The default model is a small instruct model that has not seen Coq proof states, so a
plain completion prompt with a few examples in one fixed layout works better than its
chat template: it continues the pattern and writes one tactic per line. A trained
prover sees the same layout (train on what you test on).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...coq.syntax import TACTIC_START_WORDS, starts_with_tactic_word  # noqa: F401  (re-exported)

TACTIC_EXAMPLES = (
    ("============================\nforall P Q : Prop, P /\\ Q -> P", "intros P Q H."),
    ("P, Q : Prop\nH : P /\\ Q\n============================\nP", "destruct H as [HP HQ]."),
    ("b : bool\n============================\nandb b true = b", "destruct b."),
    ("============================\ntrue = true", "reflexivity."),
    ("============================\nforall l : list nat, l ++ nil = l", "induction l as [| x l IHl]."),
    ("x : nat\nl : list nat\nIHl : l ++ nil = l\n============================\n(x :: l) ++ nil = x :: l", "simpl."),
    ("x : nat\nl : list nat\nIHl : l ++ nil = l\n============================\nx :: l ++ nil = x :: l", "rewrite IHl."),
    ("n, m : nat\nH : n <= m\n============================\nn <= S m", "auto."),
)

PROOF_EXAMPLES = (
    ("Theorem and_swap : forall A B : Prop, A /\\ B -> B /\\ A.", "intros A B H. destruct H as [HA HB]. split; assumption."),
    ("Lemma plus_0_r : forall n : nat, n + 0 = n.", "intros n. induction n. reflexivity. simpl. rewrite IHn. reflexivity."),
    ("Theorem or_intro : forall P Q : Prop, P -> P \\/ Q.", "intros P Q HP. left. exact HP."),
)

MAX_STATE_CHARS = 1500  # ReProver caps its input at 2300 bytes; a 135M model needs less
MAX_PREMISE_CHARS = 200


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _examples(header: str, shots: Sequence[str]) -> str:
    return "\n".join([header, *shots]) + "\n"


# The part every prompt shares (its KV cache is computed once per model; see tactics.py)
TACTIC_PREFIX = _examples(
    "(* Coq: for each proof state, the next tactic. *)\n",
    [f"(* State *)\n{state}\n(* Tactic *)\n{tactic}\n" for state, tactic in TACTIC_EXAMPLES],
)
PROOF_PREFIX = _examples(
    "(* Coq theorems and their proofs. *)\n",
    [f"{statement}\nProof. {proof} Qed.\n" for statement, proof in PROOF_EXAMPLES],
)


def _premises_block(premises: Sequence[str]) -> str:
    if not premises:
        return ""
    lemmas = "\n".join(_clip(" ".join(p.split()), MAX_PREMISE_CHARS) for p in premises)
    return f"(* Lemmas that may help *)\n{lemmas}\n\n"


def tactic_prompt(state: str, premises: Sequence[str] = ()) -> str:
    """The prompt that asks for the next tactic in `state`, optionally with premises."""
    return TACTIC_PREFIX + _premises_block(premises) + f"(* State *)\n{_clip(state.strip(), MAX_STATE_CHARS)}\n(* Tactic *)\n"


def proof_prompt(statement: str, premises: Sequence[str] = ()) -> str:
    """The prompt that asks for a whole proof of `statement` (one line, ending in Qed)."""
    return PROOF_PREFIX + _premises_block(premises) + f"{' '.join(statement.split())}\nProof."


# Words a Coq tactic starts with: decoding may only start a tactic with one of them
TACTIC_WORDS = TACTIC_START_WORDS


def clean_tactic(text: str) -> str:
    """The first line of a generation, as one sentence ending in a period ('' if empty)."""
    line = text.strip().split("\n", 1)[0].strip()
    if line.startswith("(*"):
        return ""
    if line and not line.endswith("."):
        line += "."
    return line if line != "." else ""


def clean_proof(text: str) -> str:
    """A generated proof body up to (not including) its Qed."""
    body = text.split("Qed.", 1)[0].split("\n\n", 1)[0]
    return " ".join(body.split())

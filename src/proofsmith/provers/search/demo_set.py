"""A fixed set of small theorems in the style of the standard library (logic, nat, lists).

The demo and the prove benchmark use these when no extracted corpus is at hand: each
is a Coq task (prelude + statement + a reference proof that coqc accepts), so results
on them are checked exactly as results on a corpus are. Some fall to one automation
tactic, some need induction or case analysis.
"""

from __future__ import annotations

from ...core import Provenance, Task

_PRELUDE = "Require Import Arith Lia List Bool.\nImport ListNotations."

THEOREMS = (
    ("and_swap", "Lemma and_swap : forall A B : Prop, A /\\ B -> B /\\ A.", "intros A B [HA HB]. split; assumption."),
    ("or_swap", "Lemma or_swap : forall A B : Prop, A \\/ B -> B \\/ A.", "intros A B [H | H]; [right | left]; exact H."),
    ("impl_trans", "Lemma impl_trans : forall P Q R : Prop, (P -> Q) -> (Q -> R) -> P -> R.", "auto."),
    ("add_0_r", "Lemma add_0_r' : forall n : nat, n + 0 = n.", "induction n; simpl; auto."),
    ("add_succ_r", "Lemma add_succ_r' : forall n m : nat, n + S m = S (n + m).", "induction n; simpl; auto."),
    ("add_comm", "Lemma add_comm' : forall n m : nat, n + m = m + n.", "intros; lia."),
    ("mul_1_l", "Lemma mul_1_l' : forall n : nat, 1 * n = n.", "intros; simpl; lia."),
    ("double_eq", "Lemma double_eq : forall n : nat, n + n = 2 * n.", "intros; lia."),
    ("le_succ", "Lemma le_succ' : forall n : nat, n <= S n.", "auto."),
    ("negb_involutive", "Lemma negb_involutive' : forall b : bool, negb (negb b) = b.", "destruct b; reflexivity."),
    ("andb_comm", "Lemma andb_comm' : forall a b : bool, a && b = b && a.", "destruct a, b; reflexivity."),
    ("app_nil_r", "Lemma app_nil_r' : forall (A : Type) (l : list A), l ++ [] = l.",
     "induction l; simpl; congruence."),
    ("length_app", "Lemma length_app' : forall (A : Type) (l1 l2 : list A), length (l1 ++ l2) = length l1 + length l2.",
     "induction l1; simpl; auto."),
    ("map_length", "Lemma map_length' : forall (A B : Type) (f : A -> B) (l : list A), length (map f l) = length l.",
     "induction l; simpl; auto."),
    ("rev_unit", "Lemma rev_unit' : forall (A : Type) (l : list A) (a : A), rev (l ++ [a]) = a :: rev l.",
     "induction l; simpl; intros; try rewrite IHl; reflexivity."),
    ("eq_sym_nat", "Lemma eq_sym_nat : forall n m : nat, n = m -> m = n.", "intros; symmetry; assumption."),
)


def demo_tasks() -> list[Task]:
    provenance = Provenance(source="proofsmith/provers/demo_set.py", project="proofsmith-demo", license="Apache-2.0")
    return [Task(id=f"demo:{name}", kind="coq", statement=statement, context=_PRELUDE, reference=proof,
                 provenance=provenance) for name, statement, proof in THEOREMS]

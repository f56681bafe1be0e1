"""The Coq checker with the real coqc in the sandbox: honest proofs pass, escapes fail."""

import pytest

from proofsmith.checkers.coq import CoqChecker, strip_comments_and_strings
from proofsmith.checkers.sandbox import Limits
from proofsmith.core import Candidate, Task

ADD_0 = Task(id="add_0", kind="coq", context="From Coq Require Import Arith.",
             statement="Theorem add_0 : forall n : nat, n + 0 = n.")


@pytest.fixture(scope="module")
def checker():
    return CoqChecker()


def check(checker, proof, task=ADD_0):
    return checker.check(task, Candidate(task.id, proof))


@pytest.mark.parametrize("proof", [
    "intros n. induction n; simpl; auto.",
    "Proof. intros. rewrite Nat.add_0_r. reflexivity. Qed.",
    "Proof.\n  intros n.\n  (* admit would be cheating *)\n  induction n as [|n IH].\n  - reflexivity.\n  - simpl. rewrite IH. reflexivity.\nDefined.",
])
def test_honest_proofs_pass(checker, proof):
    v = check(checker, proof)
    assert v.passed, v.message


@pytest.mark.parametrize("proof,reason", [
    ("intros. admit. Qed.", "admit"),
    ("intros. Admitted.", "Admitted"),
    ("Abort. Theorem add_0 : True. Proof. exact I. Qed.", "Abort"),
    ("Qed. Axiom cheat : False. Lemma x : True. exact I.", "Axiom"),
    ("intros. give_up. Qed.", "give_up"),
    ("Unset Guard Checking. intros. auto. Qed.", "Guard Checking"),
])
def test_escapes_fail_with_reason(checker, proof, reason):
    v = check(checker, proof)
    assert v.status == "failed" and reason in v.message


def test_wrong_proof_reports_coqs_first_error_and_line(checker):
    v = check(checker, "intros n.\nreflexivity.")
    assert v.status == "failed"
    assert "line 3 of the proof" in v.message and "Unable to unify" in v.message


def test_proof_of_a_different_statement_fails_even_past_the_word_filter(checker, monkeypatch):
    # defence in depth: with the lexical filter off, the statement check still catches it
    import proofsmith.checkers.coq as coq

    monkeypatch.setattr(coq, "forbidden_use", lambda proof: None)
    task = Task(id="t2", kind="coq", statement="Theorem t2 : 1 = 2.")
    v = check(checker, "Abort. Theorem t2 : 2 = 2. Proof. reflexivity. Qed.", task)
    assert v.status == "failed" and "statement" in v.message
    v = check(checker, "Admitted. Lemma other : True. Proof. exact I. Qed.", task)
    assert v.status == "failed" and "assumed" in v.message


def test_module_shadowing_does_not_confuse_the_full_name(checker):
    task = Task(id="t3", kind="coq", statement="Theorem t3 : 1 = 1.")
    v = check(checker, "reflexivity. Qed. Module M. Theorem t3 : 2 = 2. reflexivity. Qed. End M. Import M. Check t3.", task)
    assert not v.passed  # no final Qed: the trailing Qed we add has no proof to close


def test_context_axioms_are_allowed_new_ones_are_not(checker):
    task = Task(id="em", kind="coq", context="Require Import Classical.", statement="Lemma em : forall P : Prop, P \\/ ~P.")
    v = check(checker, "intros. apply classic.", task)
    assert v.passed and any("classic" in a for a in v.details["axioms"])


def test_goal_statement_is_supported(checker):
    task = Task(id="g", kind="coq", statement="Goal 2 + 2 = 4.")
    assert check(checker, "reflexivity.", task).passed


def test_runaway_coq_hits_the_limits():
    checker = CoqChecker(limits=Limits(wall_s=3, cpu_s=2, memory_mb=2048, processes=8))
    task = Task(id="loop", kind="coq", statement="Theorem loop : True.")
    v = checker.check(task, Candidate("loop", "let rec loop x := loop x in loop 0. exact I."))
    v2 = checker.check(task, Candidate("loop", "assert (H : Nat.pow 10 9 = 0) by (vm_compute; reflexivity). exact I."))
    assert v.status in ("timeout", "memory") and v2.status in ("timeout", "memory")


def test_comment_and_string_stripping():
    assert "admit" not in strip_comments_and_strings('(* admit (* nested *) *) idtac "admit".')


def test_project_library_from_load_paths_is_visible(checker, tmp_path):
    import subprocess

    (tmp_path / "Lib.v").write_text("Definition double (n : nat) := n + n.\n")
    subprocess.run(["coqc", "-q", "-Q", str(tmp_path), "MyLib", str(tmp_path / "Lib.v")], check=True)
    task = Task(id="p", kind="coq", context="From MyLib Require Import Lib.",
                statement="Lemma double_2 : double 2 = 4.", meta={"coq_args": ["-Q", str(tmp_path), "MyLib"]})
    v = check(checker, "reflexivity.", task)
    assert v.passed, v.message


IN_SECTION = Task(id="sec", kind="coq", statement="Lemma swap_ok : forall x : A, f (g x) = x.",
                  context=("Module Lists.\nSection Maps.\nVariables A B : Type.\nVariable f : B -> A.\n"
                           "Variable g : A -> B.\nHypothesis fg : forall x, f (g x) = x.\n"))


def test_a_statement_from_inside_a_section_and_a_module(checker):
    """A project prelude cut inside `Module`/`Section`: the checker closes them, then checks
    the generalised theorem by its full name (PSCheck.Candidate.Lists.swap_ok)."""
    assert check(checker, "Proof. intros. apply fg. Qed.", IN_SECTION).passed
    wrong = check(checker, "Proof. intros. reflexivity. Qed.", IN_SECTION)
    assert wrong.status == "failed"
    # closing the section early, to state something else, is caught
    early = check(checker, "Proof. intros. apply fg. Qed. End Maps. Lemma swap_ok : True. exact I. Qed.", IN_SECTION)
    assert not early.passed

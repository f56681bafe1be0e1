"""Live Coq sessions over coqidetop: branching, errors, completion, restarts."""

from __future__ import annotations

import os
import shutil
import signal

import pytest

from proofsmith.core import ProofsmithError
from proofsmith.provers.search.coq_session import CoqSession
from proofsmith.provers.search.states import ProofFinished, TacticError, TacticState

pytestmark = pytest.mark.skipif(shutil.which("coqidetop.opt") is None, reason="needs Coq (coqidetop.opt)")


@pytest.fixture(scope="module")
def session():
    with CoqSession("Require Import Lia.", "Lemma add_0 (n : nat) : n + 0 = n.", tactic_timeout=1) as s:
        yield s


def test_initial_state_shows_the_goal(session):
    s0 = session.initial_state()
    assert isinstance(s0, TacticState)
    assert s0.pp == "n : nat\n============================\nn + 0 = n"


def test_branching_from_any_earlier_state(session):
    s0 = session.initial_state()
    s1 = session.run_tactic(s0, "induction n.")
    assert isinstance(s1, TacticState) and s1.goals == 2 and "IHn : n + 0 = n" in s1.pp
    # a sibling of s1 from s0, then back to s1: both branches stay usable
    done = session.run_tactic(s0, "lia.")
    assert isinstance(done, ProofFinished)
    s2 = session.run_tactic(s1, "reflexivity.")
    assert isinstance(s2, TacticState) and s2.goals == 1 and "S n + 0 = S n" in s2.pp
    s3 = session.run_tactic(s1, "simpl.")  # s1 again, after s2
    assert isinstance(s3, TacticState) and s3.pp.startswith("============================\n0 = 0")
    finished = session.run_tactic(s2, "simpl. rewrite IHn. reflexivity.")
    assert isinstance(finished, ProofFinished)
    assert session.proof(finished.id) == ["induction n.", "reflexivity.", "simpl.", "rewrite IHn.", "reflexivity."]


def test_errors_leave_the_state_usable(session):
    s0 = session.initial_state()
    err = session.run_tactic(s0, "exact I.")
    assert isinstance(err, TacticError) and "True" in err.message and not err.timeout
    assert isinstance(session.run_tactic(s0, "no_such_tactic."), TacticError)
    assert isinstance(session.run_tactic(s0, "intros"), TacticError)  # no final period
    assert isinstance(session.run_tactic(s0, "Admitted."), TacticError)
    assert isinstance(session.run_tactic(s0, "admit."), TacticError)
    assert "forbidden" in session.run_tactic(s0, "Unset Guard Checking.").message
    # the sort Set inside a term is not the Set command
    s1 = session.run_tactic(s0, "assert (H : forall A : Set, A = A) by (intros; reflexivity).")
    assert isinstance(s1, TacticState) and "H : forall A : Set, A = A" in s1.pp
    assert isinstance(session.run_tactic(s0, "lia."), ProofFinished)


def test_coq_timeout_is_an_error_and_the_session_goes_on(session):
    s0 = session.initial_state()
    s1 = session.run_tactic(s0, "induction n.")
    err = session.run_tactic(s1, "let rec f x := f x in f 1.")
    assert isinstance(err, TacticError) and err.timeout
    assert isinstance(session.run_tactic(s1, "reflexivity."), TacticState)


def test_restart_after_a_hard_timeout_replays_the_path():
    # a backstop shorter than Coq's own Timeout: the client kills coqidetop
    with CoqSession("", "Lemma t (n : nat) : n = n.", tactic_timeout=30, hard_timeout=1.5, sandbox=None) as s:
        s0 = s.initial_state()
        s1 = s.run_tactic(s0, "destruct n.")
        assert isinstance(s1, TacticState)
        err = s.run_tactic(s1, "let rec f x := f x in f 1.")
        assert isinstance(err, TacticError) and err.timeout and s.restarts == 1
        # any earlier state still works: the path to s1 is replayed in the new coqidetop
        s2 = s.run_tactic(s1, "reflexivity.")
        assert isinstance(s2, TacticState) and "S n = S n" in s2.pp
        assert isinstance(s.run_tactic(s2, "reflexivity."), ProofFinished)
        assert isinstance(s.run_tactic(s0, "reflexivity."), ProofFinished)


def test_restart_after_a_crash():
    with CoqSession("", "Lemma t (b : bool) : b = b.", sandbox=None) as s:
        s0 = s.initial_state()
        s1 = s.run_tactic(s0, "destruct b.")
        os.kill(s._coq.proc.pid, signal.SIGKILL)  # coqidetop dies under us
        s._coq.proc.wait()
        err = s.run_tactic(s1, "reflexivity.")
        assert isinstance(err, TacticError) and s.restarts == 1
        s2 = s.run_tactic(s1, "reflexivity.")
        assert isinstance(s2, TacticState) and s2.pp.endswith("false = false")


def test_statement_that_does_not_check_is_a_clear_error():
    with pytest.raises(ProofsmithError, match="context does not check"):
        CoqSession("", "Lemma bad : undefined_thing = 0.")

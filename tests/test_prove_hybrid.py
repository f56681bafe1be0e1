"""Hybrid best-first search (model + automation portfolio + structural tactics) on real Coq sessions.

The default tests run the search without the model (its cheap candidates only, so no
model load): real coqidetop sessions, real proofs re-checked by coqc. The model's part
is driven in test_prove_model.py and the slow test here.
"""

from __future__ import annotations

import shutil
import time

import pytest

from proofsmith.checkers.coq import CoqChecker
from proofsmith.core import Candidate, Task
from proofsmith.provers.decoding.completion import Completion
from proofsmith.provers.search import structural
from proofsmith.provers.search.coq_session import CoqSession
from proofsmith.provers.search.hybrid import HybridProposer
from proofsmith.provers.search.portfolio import HAMMER_IMPORT, Portfolio, hammer_installed, with_hammer
from proofsmith.provers.search.proof_search import best_first_search, normalise
from proofsmith.provers.search.runner import ProverConfig, prove_task

needs_coq = pytest.mark.skipif(shutil.which("coqidetop.opt") is None, reason="needs Coq (coqidetop.opt)")

# needs induction, then a step more: `induction l; simpl; auto` leaves the cons case (auto
# cannot use the hypothesis under `f a ::`), and the baseline's and sauto's one-shot tactics fail
MAP_APP = Task("t:map_app", "coq", "Lemma map_app' (A B : Type) (f : A -> B) (l m : list A) : "
               "map f (l ++ m) = map f l ++ map f m.", context="Require Import List.")


def _proposer(session: CoqSession, **kw) -> HybridProposer:
    return HybridProposer(None, Portfolio(hammer=False), structural.inductive_oracle(session.query), **kw)


def test_structural_proposals_come_from_the_goal():
    pp = "A : Type\nl, m : list A\nH : l = m\nHP : P /\\ Q\n============================\nforall n : nat, length l = n \\/ True"
    hyps, conclusion = structural.first_goal(pp)
    assert ("l", "list A") in hyps and ("m", "list A") in hyps and conclusion.startswith("forall n : nat")
    assert structural.forall_binders("forall (x y : nat) (b : bool), x = y") == [("x", "nat"), ("y", "nat"), ("b", "bool")]
    tactics = [t for t, _ in structural.propose(pp, lambda head: head in ("list", "nat"))]
    for expected in ("intros.", "induction l.", "destruct m.", "induction n.", "destruct HP.", "rewrite H.", "rewrite <- H."):
        assert expected in tactics
    assert "induction A." not in tactics and "induction H." not in tactics  # not of an inductive type
    assert normalise("a  =\n b") == normalise("a = b")


@needs_coq
def test_hybrid_proves_what_the_baseline_cannot_and_the_proof_rechecks():
    assert not prove_task(MAP_APP, ProverConfig(mode="baseline", sandbox=None))["passed"]
    if hammer_installed():
        assert not prove_task(MAP_APP, ProverConfig(mode="sauto", sandbox=None))["passed"]
    with CoqSession(MAP_APP.context, MAP_APP.statement, tactic_timeout=2, sandbox=None) as session:
        result = best_first_search(session, _proposer(session), max_expansions=40, timeout_s=60)
        assert result.proved and len(result.proof) >= 2, result
        assert result.proof[0].startswith("induction l")
    checked = CoqChecker().check(MAP_APP, Candidate(MAP_APP.id, "\n".join(result.proof)))
    assert checked.passed, checked


@needs_coq
def test_seen_states_are_not_expanded_again():
    with CoqSession("", "Lemma t (b c : bool) : andb b c = andb c b.", tactic_timeout=2, sandbox=None) as session:
        proposer = _proposer(session)
        expanded: list[str] = []

        class Recording:
            has_model = False

            def cheap(self, state):
                expanded.append(normalise(state))
                return proposer.cheap(state)

        result = best_first_search(session, Recording(), max_expansions=30, timeout_s=60)
    assert result.proved
    assert len(expanded) == len(set(expanded)) == result.expansions  # each state's text expanded once


@needs_coq
def test_attempts_are_different_searches():
    task = Task("t:swap", "coq", "Lemma swap (P Q : Prop) : P /\\ Q -> Q /\\ P.")
    line = prove_task(task, ProverConfig(mode="hybrid", attempts=3, max_expansions=8, timeout_s=60, sandbox=None))
    assert line["n"] == 3 and line["c"] == 3
    assert len(set(line["proofs"])) == 3  # never the same proof twice
    if hammer_installed():  # its tactics are in the portfolio, their import in front of the context
        assert line["context_prefix"] == HAMMER_IMPORT
        task = with_hammer(task)
    # prove_task re-checked each before it counted; one again here, in the context the line names
    assert CoqChecker().check(task, Candidate(task.id, line["proofs"][-1])).passed


@needs_coq
def test_node_budget_and_deadline_stop_the_search():
    hard = "Lemma hard (n m : nat) : n * m = m * n + 0 * n."  # needs lemmas the candidates do not give
    with CoqSession("", hard, tactic_timeout=1, sandbox=None) as session:
        result = best_first_search(session, _proposer(session), max_expansions=3, timeout_s=60)
        assert result.status == "budget" and result.expansions == 3
        t = time.monotonic()
        result = best_first_search(session, _proposer(session, noise_seed=1), max_expansions=10_000, timeout_s=2.0)
        assert result.status == "timeout" and time.monotonic() - t < 2.0 + 2.5  # one tactic past the deadline at most


@pytest.mark.model
@pytest.mark.slow
def test_model_tactics_for_several_states_come_from_one_call_and_are_cached():
    from proofsmith.provers.decoding.models import cached_model
    from proofsmith.provers.search.generator import DecodingConfig, TacticGenerator

    lm = cached_model()
    states = ["b : bool\n============================\nnegb (negb b) = b",
              "l : list nat\n============================\nl ++ nil = l"]
    config = DecodingConfig(method="sample", num=2, max_new_tokens=8)
    first = TacticGenerator(lm, config, seed=1)
    out = first.batch(states)
    assert len(out) == 2 and first.tokens > 0
    assert all(t.text.endswith(".") for tactics in out for t in tactics)
    spent = first.tokens
    assert first.batch(states[:1]) == out[:1] and first.tokens == spent  # a state asked again: from the cache
    seeded = [[c.token_ids for c in TacticGenerator(lm, config, seed=seed)._sample_many(states[:1])[0]] for seed in (1, 2)]
    assert seeded[0] != seeded[1]  # another seed, other samples (an attempt is not a copy)
    late = TacticGenerator(lm, config, seed=1, deadline=time.monotonic())  # already past: stops at the first row
    assert sum(len(t) for t in late.batch(states)) <= 1


class SlowModel:
    """A hybrid generator whose model call takes `seconds` (a stand-in for decoding): records when
    cheap expansions ran, and whether the search cancelled a call in flight."""

    def __init__(self, proposer: HybridProposer, seconds: float, tactic: str | None = None):
        self.proposer, self.seconds, self.tactic = proposer, seconds, tactic
        self.has_model, self.calls, self.cheap_times, self.cancelled = True, [], [], False

    def cheap(self, state):
        self.cheap_times.append(time.monotonic())
        return self.proposer.cheap(state)

    def batch(self, states):
        started = time.monotonic()
        while time.monotonic() - started < self.seconds and not self.cancelled:
            time.sleep(0.01)
        self.calls.append((started, time.monotonic(), len(states)))
        return [[Completion(self.tactic, -0.1)] if self.tactic else [] for _ in states]

    def cancel(self):
        self.cancelled = True


@needs_coq
def test_cheap_expansions_go_on_while_the_model_decodes():
    with CoqSession("", "Lemma hard (n m : nat) : n * m = m * n + 0 * n.", tactic_timeout=1, sandbox=None) as session:
        slow = SlowModel(_proposer(session), seconds=1.5)
        result = best_first_search(session, slow, max_expansions=10_000, timeout_s=4.0, batch=2)
    assert result.status == "timeout" and slow.calls and slow.cancelled  # the last call was stopped at the end
    first_start, first_end, _ = slow.calls[0]
    during = [t for t in slow.cheap_times if first_start < t < first_end]
    assert during, "no cheap expansion ran while the model decoded"
    assert result.model_expansions == sum(n for _, _, n in slow.calls)
    assert result.expansions == len(slow.cheap_times) + result.model_expansions


@needs_coq
def test_the_model_tactics_of_a_call_in_flight_are_run_when_it_returns():
    # the cheap candidates cannot prove it in one step; the model's tactic does, after its slow call
    statement = "Lemma mul_comm' (n m : nat) : n * m = m * n."
    with CoqSession("Require Import PeanoNat.", statement, tactic_timeout=1, sandbox=None) as session:
        slow = SlowModel(_proposer(session), seconds=0.5, tactic="apply Nat.mul_comm.")
        result = best_first_search(session, slow, max_expansions=200, timeout_s=60, batch=1)
    assert result.proved and result.proof[-1] == "apply Nat.mul_comm.", result
    assert result.model_expansions >= 1 and not slow.cancelled

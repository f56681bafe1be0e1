"""Batch runs: the same per-theorem step in a local pool and on Ray; whole-proof sampling."""

from __future__ import annotations

import json
import shutil

import pytest

from proofsmith.checkers.coq import CoqChecker
from proofsmith.core import Candidate, Task
from proofsmith.provers.search.batch import prove_all
from proofsmith.provers.search.generator import DecodingConfig
from proofsmith.provers.search.runner import ProverConfig, prove_task

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("coqidetop.opt") is None, reason="needs Coq")]

TASKS = [
    Task("b:impl", "coq", "Lemma i (P Q : Prop) : P -> Q -> P."),
    Task("b:eq", "coq", "Lemma e (n : nat) : n = n."),
    Task("b:bool", "coq", "Lemma b (b : bool) : negb (negb b) = b."),
]


def _check_run(out, records):
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["task_id"] for r in lines) == sorted(t.id for t in TASKS)
    assert {r["task_id"]: r["passed"] for r in records} == {"b:impl": True, "b:eq": True, "b:bool": False}


def test_local_pool(tmp_path):
    out = tmp_path / "pool.jsonl"
    _check_run(out, prove_all(TASKS, ProverConfig(mode="baseline"), out, workers=2, progress=False))


def test_ray(tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        out = tmp_path / "ray.jsonl"
        _check_run(out, prove_all(TASKS, ProverConfig(mode="baseline"), out, ray_address="local", progress=False))
    finally:
        ray.shutdown()


@pytest.mark.model
def test_whole_proof_sampling_counts_every_sample():
    task = Task("s:impl", "coq", "Lemma impl_refl : forall P : Prop, P -> P.")
    config = ProverConfig(mode="sample", attempts=2, threads=1,
                          decoding=DecodingConfig(method="sample", temperature=0.7, max_new_tokens=32))
    line = prove_task(task, config)
    assert line["n"] == 2 and len(line["samples"]) == 2
    assert line["c"] == sum(s["passed"] for s in line["samples"])
    checker = CoqChecker()
    for s in line["samples"]:  # what counts re-checks, what does not count does not
        assert checker.check(task, Candidate(task.id, s["proof"])).passed == s["passed"] or not s["proof"]

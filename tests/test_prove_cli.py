"""`proofsmith prove` end to end through the CLI: results file, resume, eval, bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from proofsmith.cli import main

pytestmark = pytest.mark.skipif(shutil.which("coqidetop.opt") is None, reason="needs Coq")


def _tasks(path):
    tasks = [
        {"task_id": "cli:impl", "kind": "coq", "prelude": "", "statement": "Lemma i (P : Prop) : P -> P."},
        {"task_id": "cli:len", "kind": "coq", "prelude": "Require Import List.",
         "statement": "Lemma l (A : Type) (x : A) (xs : list A) : length (x :: xs) = S (length xs)."},
    ]
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    return path


def test_prove_baseline_then_eval(tmp_path, capsys):
    tasks = _tasks(tmp_path / "tasks.jsonl")
    out = tmp_path / "run.jsonl"
    assert main(["prove", str(tasks), "--mode", "baseline", "--out", str(out), "--quiet"]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["task_id"] for r in lines] == ["cli:impl", "cli:len"]
    assert all(r["passed"] for r in lines)
    assert "proved 2/2" in capsys.readouterr().err
    # a rerun has nothing left to do and writes nothing twice
    assert main(["prove", str(tasks), "--mode", "baseline", "--out", str(out), "--quiet"]) == 0
    assert len(out.read_text().splitlines()) == 2
    assert main(["eval", str(out), "--k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"pass@1": 1.0}
    # resuming with other settings would mix two runs in one file: refused
    assert main(["prove", str(tasks), "--mode", "search", "--out", str(out), "--quiet"]) == 2
    assert "other settings" in capsys.readouterr().err


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["prove", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "r.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("proofsmith: error:")
    tasks = _tasks(tmp_path / "tasks.jsonl")
    assert main(["prove", str(tasks), "--method", "nucleus", "--out", str(tmp_path / "r.jsonl")]) == 2
    assert "unknown decoding method" in capsys.readouterr().err
    assert main(["prove", str(tasks), "--retrieval", "--out", str(tmp_path / "r.jsonl")]) == 2
    assert "retrieval needs premises" in capsys.readouterr().err

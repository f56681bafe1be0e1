"""Extraction with the real coqidetop: a small project the test writes, and stdlib files."""

import json
import os
import subprocess
import sys
import time

import pytest

import proofsmith.io
from proofsmith.extract.coq import FileJob, extract_file
from proofsmith.extract.coq_project import find_library
from proofsmith.extract.coq_run import extract_libraries

A = """Definition double (n : nat) := n + n.
Lemma double_zero : double 0 = 0.
Proof. reflexivity. Qed.
"""
B = """Require Import Proj.A.
Lemma double_two : double 2 = 4.
Proof.
  unfold double.
  reflexivity.
Qed.
Lemma uses_a (n : nat) (H : n = 0) : double n = 0.
Proof.
  rewrite H. apply double_zero.
Qed.
Lemma todo : 1 = 1.
Proof. Admitted.
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("proj")
    (root / "_CoqProject").write_text("-Q . Proj\n")
    (root / "A.v").write_text(A)
    (root / "B.v").write_text(B)
    (root / "C.v").write_text("Lemma bad : (1 + .\n")
    (root / "D.v").write_bytes(b"Definition x := 1. (* \xff\xfe *)\n")
    return root


@pytest.fixture(scope="module")
def extracted(project, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    summary = extract_libraries([str(project)], str(out), jobs=2, progress=False)
    return out, summary


def rows(out, name):
    if name == "theorems":  # stored compactly: states by id (state_store.py)
        from proofsmith.extract.state_store import read_theorems

        return list(read_theorems(out))
    lines = [json.loads(line) for line in (out / "raw" / f"{name}.jsonl").read_text().splitlines()]
    if name == "tasks":  # a file-prefix prelude by reference to raw/sources/ (io.resolve_prelude)
        from proofsmith.io import resolve_prelude

        return [resolve_prelude(t, out / "raw") for t in lines]
    return lines


def test_states_before_and_after_each_tactic(extracted):
    out, _ = extracted
    theorems = {t["full_name"]: t for t in rows(out, "theorems")}
    assert set(theorems) == {"Proj.A.double_zero", "Proj.B.double_two", "Proj.B.uses_a", "Proj.B.todo"}
    steps = theorems["Proj.B.uses_a"]["traced_tactics"]
    assert [s["tactic"] for s in steps] == ["Proof.", "rewrite H.", "apply double_zero."]
    assert steps[1]["state_before"] == "n : nat\nH : n = 0\n============================\ndouble n = 0"
    assert steps[1]["state_after"] == "n : nat\nH : n = 0\n============================\ndouble 0 = 0"
    assert steps[2]["state_after"] == "no goals"
    assert steps[1]["goals_before"][0]["hypotheses"][1] == {"names": ["H"], "type": "n = 0", "body": None,
                                                           "text": "H : n = 0"}
    unfolded = theorems["Proj.B.double_two"]["traced_tactics"][1]
    assert unfolded["state_after"] == "============================\n2 + 2 = 4"
    assert theorems["Proj.B.uses_a"]["ending"] == "Qed" and theorems["Proj.B.uses_a"]["start"] == [7, 1]


def test_premises_resolved_to_their_definition(extracted):
    out, _ = extracted
    step = next(t for t in rows(out, "theorems") if t["name"] == "uses_a")["traced_tactics"][2]
    assert step["premises"] == [{"name": "double_zero", "full_name": "Proj.A.double_zero", "kind": "Constant",
                                 "def_module": "Proj.A", "def_path": "A.v", "def_pos": [2, 1], "def_end_pos": [2, 34]}]
    corpus = {c["path"]: c for c in rows(out, "corpus")}
    assert [p["full_name"] for p in corpus["A.v"]["premises"]] == ["Proj.A.double", "Proj.A.double_zero"]
    assert corpus["B.v"]["imports"] == ["Require Import Proj.A."]


def test_admitted_kept_marked_and_not_a_task(extracted):
    out, _ = extracted
    todo = next(t for t in rows(out, "theorems") if t["name"] == "todo")
    assert todo["admitted"] and todo["ending"] == "Admitted"
    tasks = {t["task_id"]: t for t in rows(out, "tasks")}
    assert "proj:Proj.B.todo" not in {k.lower() for k in tasks}
    task = next(t for t in tasks.values() if t["meta"]["full_name"] == "Proj.B.uses_a")
    assert task["kind"] == "coq" and task["prelude"] == B[:B.index("Lemma uses_a")].rstrip()
    assert task["reference"].startswith("Proof.") and task["provenance"]["span"] == [7, 1, 10, 5]


def test_bad_files_go_to_the_errors_table(extracted):
    out, summary = extracted
    errors = {e["file"]: e for e in rows(out, "errors")}
    assert errors["C.v"]["reason"] == "parse" and errors["C.v"]["line"] == 1  # Coq's syntax error, named
    assert errors["D.v"]["reason"] == "not-utf8"
    assert summary["files"] == 4 and summary["files_failed"] == 2


def test_resume_does_no_file_twice(extracted, project):
    out, summary = extracted
    again = extract_libraries([str(project)], str(out), jobs=1, progress=False, build=False)
    assert again["files_this_run"] == 0 and again["theorems"] == summary["theorems"]
    victim = next((out / "raw" / "files").glob("*.json"))
    victim.unlink()
    again = extract_libraries([str(project)], str(out), jobs=1, progress=False, build=False)
    assert again["files_this_run"] == 1 and again["theorems"] == summary["theorems"]


def test_stdlib_file_in_the_coq_namespace(tmp_path):
    from proofsmith.extract.coq_project import coqlib

    lib = find_library(coqlib() / "theories" / "Bool")
    result = extract_file(FileJob(lib, lib.root / "Bool.v"))
    assert result["error"] is None and result["module"] == "Coq.Bool.Bool"
    diff = next(t for t in result["theorems"] if t["full_name"] == "Coq.Bool.Bool.diff_true_false")
    assert diff["initial_goals"][0]["conclusion"] == "true <> false"
    assert diff["provenance"]["license"] == "LGPL-2.1-only" and diff["provenance"]["version"].startswith("8.16")
    assert diff["file_path"] == "Bool/Bool.v"


def test_a_stdlib_lemma_inside_a_section_gets_its_section_and_checks(tmp_path):
    """BoolEq states its lemmas over the section's `Variable beq`: the task's prelude is the
    file up to the statement, and the Coq checker proves the reference again."""
    from proofsmith.checkers.coq import CoqChecker
    from proofsmith.core import Candidate
    from proofsmith.extract.coq_project import coqlib
    from proofsmith.io import task_from_record

    lib = find_library(coqlib() / "theories" / "Bool")
    result = extract_file(FileJob(lib, lib.root / "BoolEq.v"))
    inside = [t for t in result["tasks"] if t["meta"]["in_section"]]
    assert inside and all("Variable" in t["prelude"] for t in inside)
    task = task_from_record(inside[0])
    assert CoqChecker().check(task, Candidate(task.id, task.reference)).passed


@pytest.mark.slow
def test_resume_after_a_real_kill(tmp_path):
    from proofsmith.extract.coq_project import coqlib

    src = str(coqlib() / "theories" / "Bool")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "proofsmith", "extract", "coq", src, "--out", str(out), "-j", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    files = out / "raw" / "files"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(files.glob("*.json")) if files.is_dir() else []) < 2:
        time.sleep(0.1)
    os.killpg(proc.pid, 9)
    proc.wait()
    done_before = len(list(files.glob("*.json")))
    assert 2 <= done_before < 8
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    theorems = [t["full_name"] for t in proofsmith.io.read_jsonl(out / "raw" / "theorems.jsonl.gz")]
    fresh = extract_libraries([src], str(tmp_path / "fresh"), jobs=2, progress=False, build=False)
    assert len(theorems) == len(set(theorems)) == fresh["theorems"]


def test_looping_and_enormous_files_are_errors(tmp_path):
    from proofsmith.extract.coq import ExtractOptions

    (tmp_path / "Loop.v").write_text("Goal True.\nrepeat (assert True by trivial).\nQed.\n")
    (tmp_path / "Big.v").write_text("Definition x := 1.\n" * 100)
    lib = find_library(tmp_path, name="L")
    loop = extract_file(FileJob(lib, tmp_path / "Loop.v", ExtractOptions(call_timeout_s=2)))
    assert loop["error"]["reason"] == "timeout" and loop["error"]["line"] == 2
    big = extract_file(FileJob(lib, tmp_path / "Big.v", ExtractOptions(max_bytes=1000)))
    assert big["error"]["reason"] == "enormous"

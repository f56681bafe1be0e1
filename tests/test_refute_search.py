"""Counterexample search and the `proofsmith refute` command, in the real sandbox."""

from __future__ import annotations

import json

import pytest
from test_refute_runner import COINS, MULTIPLES

from proofsmith.checkers.compile_cache import CppCompileCache
from proofsmith.checkers.refute.runner import Program, RefuteProblem, RefuteRunner, RefuteSettings
from proofsmith.checkers.refute.search import SearchBudget, exhaustive_inputs, search
from proofsmith.checkers.sandbox import Limits, get_sandbox
from proofsmith.cli import main
from proofsmith.provers.counterexamples import ModelProposer

COIN_GENERATOR = Program(lang="python", code=(
    "import random, sys\n"
    "rng = random.Random(int(sys.argv[1]))\n"
    "coins = sorted(set([1] + rng.sample(range(2, 8), rng.randint(1, 3))))\n"
    "print(len(coins), rng.randint(1, 20))\n"
    "print(*coins)\n"
))


@pytest.fixture(scope="module")
def runner(tmp_path_factory) -> RefuteRunner:
    sandbox = get_sandbox()
    return RefuteRunner(sandbox, RefuteSettings(runs=2),
                        compiler=CppCompileCache(sandbox, directory=tmp_path_factory.mktemp("cpp")))


def test_search_finds_the_planted_greedy_bug_with_a_given_generator(runner):
    found = search(RefuteProblem.from_record(COINS), runner, (COIN_GENERATOR,), budget=SearchBudget(attempts=30))
    assert found["found"] and found["valid"] and found["reason"] == "wrong_answer"
    assert found["source"].startswith("generator 0 seed") and found["attempts"] <= 30
    assert found["generator"]["seed"] == int(found["source"].split()[-1])  # reproducible from the record


def test_search_tries_small_exhaustive_inputs_shaped_like_the_example(runner):
    problem = RefuteProblem.from_record({**MULTIPLES, "example_input": "7 3\n"})
    found = search(problem, runner, budget=SearchBudget(attempts=20))
    assert found["found"] and found["source"] == "exhaustive" and found["attempts"] <= 3


def test_search_gives_up_within_budget_when_both_agree(runner):
    same = {**MULTIPLES, "example_input": "7 3\n", "wrong_code": "n, k = map(int, input().split())\nprint(n // k)\n"}
    result = search(RefuteProblem.from_record(same), runner, budget=SearchBudget(attempts=6))
    assert not result["found"] and not result["valid"] and result["attempts"] == 6
    assert "no valid counterexample in 6 inputs" in result["message"]


def test_exhaustive_inputs_are_small_first_and_keep_counts_consistent():
    inputs = list(exhaustive_inputs("3 6\n1 3 4\n", max_value=3))
    assert inputs[0] == "1 1\n1\n"
    for text in inputs:
        first, second = text.splitlines()
        assert int(first.split()[0]) == len(second.split())
    assert "3 3\n1 2 3\n" in inputs and len(inputs) == len(set(inputs))
    assert list(exhaustive_inputs("abc\n")) == []


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_cli_judges_inputs_in_order_and_resumes(tmp_path, capsys):
    problems, inputs, out = tmp_path / "problems.jsonl", tmp_path / "inputs.jsonl", tmp_path / "results.jsonl"
    _write_jsonl(problems, [COINS, MULTIPLES])
    _write_jsonl(inputs, [{"problem_id": "coins", "input": "3 6\n1 3 4\n", "note": "kept"},
                          {"problem_id": "multiples", "input": "7 3\n"},
                          {"problem_id": "multiples", "generator": {"lang": "python", "code": "print(9, 3)"}}])
    args = ["refute", str(problems), str(inputs), "--out", str(out), "--runs", "2", "-q"]
    assert main(args) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in records] == ["valid", "agree", "valid"]
    assert records[0]["note"] == "kept" and records[0]["task_id"] == "coins" and records[0]["passed"]
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["problems_refuted"] == 2 and summary["valid"] == 2
    assert main(args) == 0  # a rerun finds everything done
    assert len(out.read_text().splitlines()) == 3
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["resumed"] == 3


def test_cli_search_with_a_generator_file(tmp_path, capsys):
    problems, gen, out = tmp_path / "problems.jsonl", tmp_path / "gen.py", tmp_path / "found.jsonl"
    _write_jsonl(problems, [COINS])
    gen.write_text(COIN_GENERATOR.code)
    assert main(["refute", str(problems), "--search", "--generator", str(gen), "--budget", "30", "--out", str(out),
                 "--runs", "2", "-q"]) == 0
    record = json.loads(out.read_text())
    assert record["found"] and record["task_id"] == "coins" and record["generator"]["code"] == COIN_GENERATOR.code


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    problems, inputs = tmp_path / "problems.jsonl", tmp_path / "inputs.jsonl"
    _write_jsonl(problems, [COINS])
    _write_jsonl(inputs, [{"input": "1 1\n1\n"}])
    assert main(["refute", str(problems), str(inputs), "--out", str(tmp_path / "r.jsonl")]) == 2
    assert "needs problem_id" in capsys.readouterr().err
    _write_jsonl(inputs, [{"problem_id": "nope", "input": "1"}])
    assert main(["refute", str(problems), str(inputs), "--out", str(tmp_path / "r.jsonl")]) == 2
    problems.write_text('{"problem_id": "p"}\n')
    assert main(["refute", str(problems), str(inputs), "--out", str(tmp_path / "r.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "missing field" in err[-1]


@pytest.mark.slow
@pytest.mark.model
def test_the_default_model_proposes_generators_that_the_search_runs(runner):
    problem = RefuteProblem.from_record({**COINS, "example_input": "3 8\n1 2 4\n",
                                         "input": "The first line holds n and x, the second n coin values."})
    quick = RefuteRunner(runner.sandbox, RefuteSettings(runs=1, tool_limits=Limits(wall_s=10, cpu_s=2)),
                         compiler=runner.compiler)
    result = search(problem, quick, propose=ModelProposer(),
                    budget=SearchBudget(attempts=4, max_value=1, model_proposals=1, model_tokens=32))
    assert result["tried_by_source"]["example"] == 1 and result["tried_by_source"]["model"] >= 1
    (code,) = result["proposed_generators"]
    assert code.startswith("import random, sys\nrandom.seed(int(sys.argv[1]))\n")

"""LintSeq against the real reference: pylintseq's own file_linter judges every state."""

from __future__ import annotations

import json
import random
import tempfile

import numpy as np
import pytest

from proofsmith.core import ProofsmithError
from proofsmith.synth import lintseq as L
from proofsmith.synth.lint_filter import PylintFilter, parse_report
from proofsmith.synth.lintseq_corpus import build_lintseq_corpus, humaneval_programs, normalise

pytest.importorskip("pylintseq")


def reference_errors(text: str) -> list:
    from pylintseq.utils import file_linter

    with tempfile.NamedTemporaryFile(suffix=".py", mode="r+") as fp:
        fp.write(text)
        fp.seek(0)
        return file_linter(fp.name)


@pytest.fixture(scope="module")
def lint() -> PylintFilter:
    return PylintFilter()


@pytest.fixture(scope="module")
def programs() -> list[str]:
    return [normalise(p.program) for p in list(humaneval_programs())[:6]]


TRICKY = [
    "def f():\n    if x:\n    return 1\n",  # empty block: the reference puts the error on the header line
    "class B:\n    def __init__(self):\n        self.x = 1\nclass A(B):\n    def __init__(self):\n        pass\n",  # W0231
    "def f():\n   return 1\n",  # W0311 bad indentation
    "a = [1] | {2}\nb = undefined_name\n",  # a message may carry a '|' (the reference drops it)
    "import os\nos.path.joinn('a')\n",  # E1101 no-member
    "def f(x):\n    return x\nf(1, 2)\n",  # E1121 too many positional arguments
    "x = (1,\n",  # unclosed bracket at EOF
    "# pylint: disable=undefined-variable\nprint(y)\n",  # pragmas work the same
    "",
]


def test_filter_agrees_with_pylintseq_on_tricky_and_random_states(lint, programs):
    rng = random.Random(0)
    states = list(TRICKY)
    for program in programs:
        lines = program.split("\n")
        states += ["\n".join(line for line in lines if rng.random() < 0.7) for _ in range(3)]
    for state in states:
        ours = [(e.msg_id, e.line, e.column) for e in lint.errors(state)]
        reference = [(e[0], e[1], e[2]) for e in reference_errors(state)]
        assert ours == reference, state
    assert lint.errors(TRICKY[0])[0].line == "2"  # "after 'if' statement on line 2"
    assert {e.msg_id for e in lint.errors(TRICKY[1])} == {"W0231"}
    assert {e.msg_id for e in lint.errors(TRICKY[2])} == {"W0311"}


def test_parse_report_keeps_the_reference_quirks():
    report = "\n".join([  # noqa: FLY002
        "************* Module tmp",
        "W|W0612|3|4|Unused variable 'x'",  # other warnings do not count
        "W|W0311|2|0|Bad indentation",
        "E|E0001|4|0|Parsing failed: 'expected an indented block after 'if' statement on line 3 (tmp.py, line 4)'",
        "E|E1131|1|4|unsupported operand type(s) for | between a and b",  # 6 fields: dropped
        "F|F0010|0|0|error while code parsing",
    ])
    assert [(e.msg_id, e.line) for e in parse_report(report)] == [("W0311", "2"), ("E0001", "3"), ("F0010", "0")]


def test_sampling_helpers_follow_the_reference():
    lines = ["X = [", "1,", "]", "def f(a):", "    # note", "    if a:", "        return 1", "", "    return 2"]
    assert L.candidate_lines(lines) == [0, 3, 5, 6, 8]  # comments, blanks and the literal's body are not picked
    indents, tab = L.line_indents(lines)
    assert tab == 4 and indents[7] == 8  # a blank line keeps the indent before it
    weights = L.sampling_weights(lines, L.candidate_lines(lines))
    assert list(weights[[0, 3, 5, 6, 8]]) == [1.0, 1.0, 1.0, 2.0, 1.0]
    assert L.block_children(3, indents) == [4, 5, 6, 7, 8]
    assert L.block_children(5, indents) == [6, 7]


def test_every_state_passes_the_reference_filter_and_replay_rebuilds(lint, programs):
    rng = np.random.default_rng(0)
    for program in programs[:4]:
        for _ in range(2):
            seq = L.lintseq(program, lint, rng)
            assert seq is not None
            assert seq.states[0] == "" and seq.states[-1] == program
            assert len(seq.edits) == len(seq.states) - 1
            assert L.replay(seq.edits) == program
            for before, edit, after in zip(seq.states, seq.edits, seq.states[1:]):
                assert L.apply_diff(before, edit) == after
                for row in edit.split("\n"):  # insertion-only hunks
                    assert not row.startswith("-")
                    if row.startswith("@@"):
                        assert ",0 +" in row
            for state in seq.states[:-1]:
                assert reference_errors(state) == [], state


def test_training_text_is_the_reference_format():
    assert L.training_text("Do it.", ["@@ -0,0 +1 @@\n+x = 1"]) == "Do it.\n\n<|diff|>@@ -0,0 +1 @@\n+x = 1\n<|diff|>\n<|diff|>"


def test_program_whose_errors_cannot_go_is_a_failed_sample(lint):
    # every candidate line is in the program; deleting all of it leaves "" which is clean,
    # so sampling always terminates; a program of only comments has nothing to pick
    assert L.lintseq("# only a comment", lint, np.random.default_rng(0)) is None


def read_saved(out) -> list[dict]:
    """The saved dataset's rows, read from its Parquet file (`datasets.load_dataset` caches a local
    directory under its name, so two test directories called "out" would collide)."""
    import pyarrow.parquet as pq

    return pq.read_table(str(out / "data" / "default" / "train-00000-of-00001.parquet")).to_pylist()


def test_corpus_resumes_and_saves_a_dataset(tmp_path):
    source = tmp_path / "pairs.jsonl"
    pairs = [{"id": "a", "instruction": "Add.", "response": "```python\ndef add(a, b):\n    c = a + b\n    return c\n```"},
             {"id": "b", "instruction": "Max.", "response": "def m(xs):\n    best = xs[0]\n    for x in xs:\n"
                                                             "        if x > best:\n            best = x\n    return best\n"}]
    source.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    out = tmp_path / "out"
    first = build_lintseq_corpus(str(source), out, samples=1, progress=False)
    assert first["sequences"] == 2
    with open(out / "records.jsonl", "a") as f:
        f.write('{"id": "torn')  # a kill mid-write
    again = build_lintseq_corpus(str(source), out, samples=2, progress=False)
    assert again["sequences"] == 4
    rows = read_saved(out)
    assert sorted(r["id"] for r in rows) == ["a#0", "a#1", "b#0", "b#1"]
    row = rows[0]
    assert L.replay(row["edits"]) == row["program"] and row["program"].startswith("def ")
    assert "<|diff|>" in row["text"]
    # the same seed makes the same sequences
    rerun = build_lintseq_corpus(str(source), tmp_path / "out2", samples=2, progress=False)
    assert rerun["sequences"] == 4
    assert sorted(r["text"] for r in read_saved(tmp_path / "out2")) == sorted(r["text"] for r in rows)


def test_bad_input_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "x"}\n')
    with pytest.raises(ProofsmithError, match="no field 'response'"):
        build_lintseq_corpus(str(bad), tmp_path / "o", progress=False)
    from proofsmith.cli import main

    assert main(["synth", "lintseq", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")]) == 2


@pytest.mark.slow
def test_bench_quick_reports_fidelity():
    from proofsmith.bench.lintseq import run

    figures = run(quick=True)
    assert figures["all_states_valid"] is True and figures["replay_exact"] is True
    assert figures["states_checked_with_reference"] > 0 and "speedup_vs_pylintseq" in figures


def test_cli_builds_humaneval_by_default(tmp_path, capsys):
    from proofsmith.cli import main

    assert main(["synth", "lintseq", "--out", str(tmp_path), "--samples", "1", "--limit", "2"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["sequences"] == 2 and summary["programs"] == 2
    rows = read_saved(tmp_path)
    assert rows[0]["source_id"] == "HumanEval/0" and L.replay(rows[0]["edits"]) == rows[0]["program"]
    assert "pylint" in (tmp_path / "README.md").read_text()

"""Issue #13: `eval`, `prove`'s summary and the checkers keep the command line's promises.

Bad input is one line on stderr and exit 2; pass@k is computed in one place (eval/) and
`prove` prints what `eval` computes; a task that is itself broken is `error` (reported
apart by `eval`), never the candidate's failure, and no candidate can make itself `error`.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import random
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proofsmith.cli import main

needs_coq = pytest.mark.skipif(shutil.which("coqc") is None, reason="needs Coq")


def cli(*args):
    return subprocess.run([sys.executable, "-m", "proofsmith", *map(str, args)], capture_output=True, text=True,
                          timeout=600, check=False)


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def one_error_line(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("proofsmith: error:"), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# -- eval: the field types of every line ------------------------------------------------------


def test_eval_refuses_passed_as_a_string(tmp_path):
    results = write_jsonl(tmp_path / "r.jsonl", [{"task_id": "a", "passed": True},
                                                 {"task_id": "a", "passed": "false"}])
    one_error_line(cli("eval", results, "--k", "1"), "r.jsonl:2", "passed", "true or false")


@pytest.mark.parametrize("line,field", [
    ({"task_id": 1.5, "passed": True}, "task_id"),
    ({"task_id": ["a"], "passed": True}, "task_id"),
    ({"task_id": True, "passed": True}, "task_id"),
    ({"task_id": "a", "passed": 1}, "passed"),
    ({"task_id": "a", "passed": None}, "passed"),
    ({"task_id": "a", "n": 3, "c": 4}, "c"),
    ({"task_id": "a", "n": -1, "c": 0}, "n"),
    ({"task_id": "a", "n": "3", "c": 1}, "n"),
    ({"task_id": "a", "n": 3, "c": 1.0}, "c"),
    ({"task_id": "a", "n": 3}, "c"),
    ({"task_id": "a", "passed": True, "status": "ok"}, "status"),
    ({"task_id": "a", "passed": True, "status": "failed"}, "status"),
    ({"task_id": "a", "passed": False, "status": "passed"}, "status"),
    ({"task_id": "a", "n": 2, "c": 0, "passed": True}, "passed"),
    ({"task_id": "a"}, "passed"),
])
def test_eval_names_file_line_and_field_of_a_bad_line(tmp_path, line, field):
    results = write_jsonl(tmp_path / "r.jsonl", [{"task_id": "z", "passed": False}, line])
    one_error_line(cli("eval", results, "--k", "1"), "r.jsonl:2", field)


# -- eval: k that cannot be computed ----------------------------------------------------------


def _five_and_ten(tmp_path):
    lines = [{"task_id": "HumanEval/3", "passed": i == 0} for i in range(5)]
    lines += [{"task_id": "HumanEval/4", "passed": i < 3} for i in range(10)]
    return write_jsonl(tmp_path / "r.jsonl", lines)


def test_eval_k_above_every_sample_count_is_an_error(tmp_path):
    results = _five_and_ten(tmp_path)
    for extra in ([], ["--json"]):
        proc = cli("eval", results, "--k", "10,100", *extra)
        one_error_line(proc, "pass@10 needs at least 10 samples for every task; HumanEval/3 has 5")
        assert proc.stdout == ""


def test_eval_some_k_computed_the_rest_said(tmp_path):
    results = _five_and_ten(tmp_path)
    proc = cli("eval", results, "--k", "1,10", "--json")
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["pass@1"] == pytest.approx((1 / 5 + 3 / 10) / 2)
    assert "pass@10" not in figures
    assert "HumanEval/3 has 5" in figures["not_computed"]["pass@10"]
    assert "pass@10 left out" in proc.stderr and "HumanEval/3 has 5" in proc.stderr
    proc = cli("eval", results, "--k", "1,10")
    assert proc.returncode == 0 and "| overall | 0.2500 |" in proc.stdout
    assert "pass@10 left out" in proc.stderr and "HumanEval/3 has 5" in proc.stderr


def test_eval_plot_with_an_unknown_image_type(tmp_path):
    results = _five_and_ten(tmp_path)
    line = one_error_line(cli("eval", results, "--k", "1", "--plot", tmp_path / "x.abc"), "x.abc", "png", "pdf")
    assert not (tmp_path / "x.abc").exists()
    # checked before any work: even a results file that does not exist is not read first
    one_error_line(cli("eval", tmp_path / "missing.jsonl", "--plot", tmp_path / "x.abc"), "x.abc")
    assert "Traceback" not in line


# -- prove: one pass@k, the same as eval's ------------------------------------------------------


@needs_coq
def test_prove_summary_counts_a_theorem_that_cannot_be_opened(tmp_path):
    tasks = write_jsonl(tmp_path / "t.jsonl", [
        {"task_id": "broken", "kind": "coq", "prelude": "", "statement": "Theorem broken : forall n, n +."},
        {"task_id": "easy", "kind": "coq", "prelude": "", "statement": "Theorem easy : True."},
        {"task_id": "false", "kind": "coq", "prelude": "", "statement": "Theorem no : 1 = 2."},
    ])
    out = tmp_path / "run.jsonl"
    proc = cli("prove", tasks, "--mode", "baseline", "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    lines = {json.loads(x)["task_id"]: json.loads(x) for x in out.read_text().splitlines()}
    assert lines["broken"]["status"] == "error" and lines["easy"]["passed"] and not lines["false"]["passed"]
    assert "pass@1 = 0.333" in proc.stderr
    assert "1 could not be opened" in proc.stderr
    figures = json.loads(cli("eval", out, "--k", "1", "--json").stdout)
    assert figures["pass@1"] == pytest.approx(1 / 3)
    assert figures["not_opened"] == ["broken"]
    table = cli("eval", out, "--k", "1")
    assert "| overall | 0.3333 |" in table.stdout and "1 theorem could not be opened" in table.stdout


def test_one_pass_at_k_for_prove_and_eval():
    from proofsmith.eval.passk import score
    from proofsmith.provers.search.runner import summarize

    records = [{"task_id": "a", "n": 1, "c": 0, "passed": False, "status": "error", "seconds": 1.0},
               {"task_id": "b", "n": 1, "c": 1, "passed": True, "status": "passed", "proof": "auto.", "seconds": 1.0},
               {"task_id": "c", "n": 1, "c": 0, "passed": False, "status": "failed", "seconds": 1.0}]
    summary = summarize(records, ks=(1,))
    assert summary.pass_at == score(records, [1]).pass_at == {"pass@1": pytest.approx(1 / 3)}
    assert summary.errors == 1 and "1 could not be opened" in summary.text()


# -- broken tasks are `error`, a candidate's failure never is ------------------------------------


@needs_coq
def test_coq_task_whose_prelude_fails_is_error_and_eval_reports_it_apart(tmp_path):
    tasks = write_jsonl(tmp_path / "t.jsonl", [
        {"task_id": "nolib", "kind": "coq", "prelude": "Require Import NoSuchLibrary.", "statement": "Theorem t : True."},
        {"task_id": "ok", "kind": "coq", "prelude": "", "statement": "Theorem u : True."},
    ])
    samples = write_jsonl(tmp_path / "s.jsonl", [
        {"task_id": "nolib", "completion": "exact I."},
        {"task_id": "nolib", "completion": "garbage ((("},
        {"task_id": "ok", "completion": "exact I."},
        {"task_id": "ok", "completion": "exact 0."},
    ])
    out = tmp_path / "r.jsonl"
    proc = cli("check", tasks, samples, "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["status"] for r in results] == ["error", "error", "passed", "failed"]
    assert "NoSuchLibrary" in results[0]["message"] and "prelude" in results[0]["message"]
    proc = cli("eval", out, "--k", "1")
    assert proc.returncode == 0, proc.stderr
    assert "| overall | 0.5000 |" in proc.stdout  # over the one task that could be judged
    assert "1 task could not be checked (status error): nolib" in proc.stdout
    figures = json.loads(cli("eval", out, "--k", "1", "--json").stdout)
    assert figures == {"pass@1": 0.5, "not_checked": ["nolib"]}


@needs_coq
@pytest.mark.parametrize("completion", [
    "garbage (((",
    "Qed. End Nowhere.",
    "exact I. Qed. Require Import NoSuchLibrary.",
    "(* an unterminated comment",
    'idtac "an unterminated string',
])
def test_coq_candidate_that_breaks_the_file_is_failed_not_error(tmp_path, completion):
    tasks = write_jsonl(tmp_path / "t.jsonl", [
        {"task_id": "ok", "kind": "coq", "prelude": "", "statement": "Theorem u : True."}])
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "ok", "completion": completion}])
    out = tmp_path / "r.jsonl"
    proc = cli("check", tasks, samples, "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["status"] == "failed"


HE_TASK = {"task_id": "py/add", "prompt": "def add(a, b):\n", "canonical_solution": "    return a + b\n",
           "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n", "entry_point": "add"}


def test_python_task_whose_harness_is_broken_is_error(tmp_path):
    broken = [
        {**HE_TASK, "task_id": "py/wrong_entry", "entry_point": "plus"},  # check(plus): NameError, whatever the candidate
        {**HE_TASK, "task_id": "py/bad_test", "test": "def check(candidate:\n    pass\n"},
        {**HE_TASK, "task_id": "py/no_check", "test": "def verify(candidate):\n    pass\n"},
    ]
    tasks = write_jsonl(tmp_path / "t.jsonl", [HE_TASK, *broken])
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": t["task_id"], "completion": "    return a + b\n"}
                                                 for t in [HE_TASK, *broken]]
                          + [{"task_id": "py/add", "completion": "    del add\n"},  # the candidate's own NameError
                             {"task_id": "py/add", "completion": "    raise NameError('add')\n"}])
    out = tmp_path / "r.jsonl"
    proc = cli("check", tasks, samples, "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    status = [json.loads(x)["status"] for x in out.read_text().splitlines()]
    assert status == ["passed", "error", "error", "error", "failed", "failed"]
    proc = cli("eval", out, "--k", "1")
    assert "3 tasks could not be checked (status error): py/wrong_entry, py/bad_test, py/no_check" in proc.stdout


# -- eval fuzz: random and hostile results files -------------------------------------------------


def run_eval(path, *args):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(["eval", str(path), *args])
        except BaseException as exc:  # noqa: BLE001 - any escape is the failure under test
            return -1, f"Traceback: {exc!r}"
    return code, err.getvalue()


def assert_kept_promise(path, *args):
    code, err = run_eval(path, *args)
    assert "Traceback" not in err, err
    assert code in (0, 2), (code, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("proofsmith: error:"), err


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)
FIELDS = st.sampled_from(["task_id", "passed", "n", "c", "status", "refuted", "passed_after_refutation", "problem_id"])
GOODISH = st.fixed_dictionaries({"task_id": st.sampled_from(["a", "b", 7]), "passed": st.booleans()})
LINES = st.one_of(GOODISH, st.dictionaries(FIELDS, VALUES, max_size=6),
                  st.builds(lambda good, bad: {**good, **bad}, GOODISH, st.dictionaries(FIELDS, VALUES, max_size=2)),
                  VALUES)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines=st.lists(LINES, max_size=6), k=st.sampled_from(["1", "1,2", "1,10,100", "3", "0", "x", "1,,2"]),
       as_json=st.booleans())
def test_eval_fuzz_random_lines(tmp_path_factory, lines, k, as_json):
    path = tmp_path_factory.mktemp("fuzz") / "r.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert_kept_promise(path, "--k", k, *(["--json"] if as_json else []))


HOSTILE = {
    "nan.jsonl": b'{"task_id": "a", "passed": NaN}\n',
    "inf_n.jsonl": b'{"task_id": "a", "n": Infinity, "c": 0}\n',
    "nan_id.jsonl": b'{"task_id": NaN, "passed": true}\n',
    "huge_n.jsonl": b'{"task_id": "a", "n": 1' + b"0" * 400 + b', "c": 1}\n',
    "huge_digits.jsonl": b'{"task_id": "a", "n": 1' + b"0" * 5000 + b', "c": 1}\n',
    "big_n.jsonl": b'{"task_id": "a", "n": 9007199254740992, "c": 4503599627370496}\n',
    "big_n_ok.jsonl": b'{"task_id": "a", "n": 900719925474099, "c": 450359962737049}\n',
    "huge_float.jsonl": b'{"task_id": "a", "n": 1e400, "c": 0}\n',
    "surrogate.jsonl": b'{"task_id": "\\ud800", "passed": true}\n',
    "surrogate_status.jsonl": b'{"task_id": "a", "passed": true, "status": "\\udfff"}\n',
    "newline_id.jsonl": b'{"task_id": "a\\nb|c", "passed": true}\n{"task_id": "x", "passed": false}\n',
    "invalid_utf8.jsonl": b'{"task_id": "\xff\xfe", "passed": true}\n',
    "bom.jsonl": b'\xef\xbb\xbf{"task_id": "a", "passed": true}\n',
    "crlf.jsonl": b'{"task_id": "a", "passed": true}\r\n\r\n{"task_id": "b", "passed": false}\r\n',
    "empty_lines.jsonl": b'\n\n   \n{"task_id": "a", "passed": true}\n\n',
    "empty.jsonl": b"",
    "only_blank.jsonl": b"\n \n\t\n",
    "long_line.jsonl": b'{"task_id": "' + b"a" * 2_000_000 + b'", "passed": true}\n',
    "long_bad.jsonl": b'{"task_id": "a", "passed": "' + b"x" * 1_000_000 + b'"}\n',
    "deep.jsonl": b'{"task_id": "a", "passed": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
    "deep_obj.jsonl": b'{"task_id": "a", "passed": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}\n",
    "array.jsonl": b'[{"task_id": "a", "passed": true}]\n',
    "scalar.jsonl": b"42\n",
    "string.jsonl": b'"task_id"\n',
    "null.jsonl": b"null\n",
    "truncated.jsonl": b'{"task_id": "a", "passed": tr',
    "nul.jsonl": b'{"task_id": "a\x00", "passed": true}\n',
    "binary.jsonl": bytes(range(256)) * 8,
    "nested_id.jsonl": b'{"task_id": {"x": 1}, "passed": true}\n',
    "dup_keys.jsonl": b'{"task_id": "a", "passed": true, "passed": "false"}\n',
    "zero_n.jsonl": b'{"task_id": "a", "n": 0, "c": 0}\n',
    "refute.jsonl": b'{"task_id": "p", "problem_id": "p", "passed": true, "status": "valid"}\n',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_eval_fuzz_hostile_corpus(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(HOSTILE[name])
    for args in (["--k", "1"], ["--k", "1,10", "--json"], ["--k", "1", "--no-tasks"]):
        assert_kept_promise(path, *args)
    gz = tmp_path / (name + ".gz")
    gz.write_bytes(gzip.compress(HOSTILE[name]))
    assert_kept_promise(gz, "--k", "1")


def test_eval_fuzz_broken_gzip_and_odd_paths(tmp_path):
    good = b'{"task_id": "a", "passed": true}\n' * 100
    packed = gzip.compress(good)
    cases = {"truncated.jsonl.gz": packed[: len(packed) // 2], "corrupt.jsonl.gz": packed[:20] + b"\x00junk" * 20,
             "not_gzip.jsonl.gz": good, "gzip_no_suffix.jsonl": packed}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert_kept_promise(tmp_path / name, "--k", "1")
    (tmp_path / "a_dir.jsonl").mkdir()
    assert_kept_promise(tmp_path / "a_dir.jsonl", "--k", "1")
    assert_kept_promise(tmp_path / "missing.jsonl", "--k", "1")


def test_eval_fuzz_subprocess_cases(tmp_path):
    rng = random.Random(13)
    cases = [HOSTILE["surrogate.jsonl"], HOSTILE["deep.jsonl"], HOSTILE["invalid_utf8.jsonl"],
             HOSTILE["huge_digits.jsonl"], HOSTILE["newline_id.jsonl"], bytes(rng.randrange(256) for _ in range(4000))]
    for i, data in enumerate(cases):
        path = tmp_path / f"case{i}.jsonl"
        path.write_bytes(data)
        for args in (["--k", "1"], ["--k", "1", "--json"]):
            proc = cli("eval", path, *args)
            assert "Traceback" not in proc.stderr and proc.returncode in (0, 2), proc.stderr
            if proc.returncode == 2:
                one_error_line(proc)
            else:
                assert proc.stdout.strip()

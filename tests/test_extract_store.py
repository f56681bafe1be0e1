"""The compact store of traced proofs (extract/state_store.py, stored_records.py), on records the real
coqidetop traced."""

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from proofsmith.extract import state_store as ss
from proofsmith.extract import stored_records as sr
from proofsmith.extract.coq_run import extract_libraries
from proofsmith.io import load_tasks, read_jsonl

A = """Definition double (n : nat) := n + n.
Lemma double_zero : double 0 = 0.
Proof. reflexivity. Qed.
Section S.
Variable m : nat.
Hypothesis Hm : m = 0.
Lemma double_m : double m = 0.
Proof.
  rewrite Hm.
  apply double_zero.
Qed.
End S.
"""
B = """Definition double (n : nat) := n + n.
Lemma double_zero : double 0 = 0.
Proof. reflexivity. Qed.
Lemma two_goals (n : nat) (H : n = 0) : double n = 0 /\\ n = 0.
Proof.
  split.
  - rewrite H. apply double_zero.
  - exact H.
Qed.
Lemma twice (n : nat) (H : n = 0) : double n = 0.
Proof.
  rewrite H. apply double_zero.
Qed.
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("store_proj")
    (root / "_CoqProject").write_text("-Q . Store\n")
    (root / "A.v").write_text(A)
    (root / "B.v").write_text(B)
    return root


@pytest.fixture(scope="module")
def run(project, tmp_path_factory):
    """A real `extract coq` run, and each file's result as extract_file returned it (the full records)."""
    out, full = tmp_path_factory.mktemp("store_out"), []
    summary = extract_libraries([str(project)], str(out), jobs=2, progress=False, on_result=full.append)
    return out, summary, sorted(full, key=lambda r: r["file"])


@pytest.fixture(scope="module")
def traced(run):
    return run[2]


@pytest.fixture(scope="module")
def extracted(run):
    return run[0], run[1]


def _without_verified(t):
    return {k: v for k, v in t.items() if k != "verified"}


def test_round_trip_gives_back_the_full_records(traced, extracted):
    out, summary = extracted
    full = sorted((t for r in traced for t in r["theorems"]), key=lambda t: t["full_name"])
    back = sorted(ss.read_theorems(out), key=lambda t: t["full_name"])
    assert [_without_verified(t) for t in back] == full and summary["theorems"] == len(full) == 5
    step = next(t for t in back if t["name"] == "two_goals")["traced_tactics"][1]
    assert step["tactic"] == "split." and "\n\n" in step["state_after"]  # two goals, as coqtop prints them
    inside = next(t for t in back if t["name"] == "double_m")
    assert inside["prelude"] == A[:A.index("Lemma double_m")].rstrip()  # its section, from the stored source
    raw = list(read_jsonl(out / "raw" / "theorems.jsonl.gz"))
    assert all("state_before" not in s and "goals_before" not in s for t in raw for s in t["traced_tactics"])
    assert any("prelude_chars" in t for t in raw)
    tasks = [json.loads(line) for line in (out / "raw" / "tasks.jsonl").read_text().splitlines()]
    by_ref = [t for t in tasks if "prelude_of" in t]
    assert by_ref and all("prelude" not in t for t in by_ref)  # the section's prelude names its source
    assert {t.id: t.context for t in load_tasks(out / "raw" / "tasks.jsonl").values()} == {
        t["task_id"]: t["prelude"] for r in traced for t in r["tasks"]}  # read back whole by io.load_tasks


def test_each_distinct_state_is_stored_once(traced, extracted, tmp_path):
    _, summary = extracted
    states = {json.dumps(g, sort_keys=True) for r in traced for t in r["theorems"]
              for g in [t["initial_goals"], *(s[f"goals_{x}"] for s in t["traced_tactics"] for x in ("before", "after"))]}
    assert summary["distinct_states"] == len(states) < 2 * summary["traced_tactics"]
    # the same lemma in both files, `twice` through states `two_goals` went through: stored once
    with ss.StateStore(tmp_path / "s.sqlite") as store:
        first = store.put(sr.compact_result(traced[0])[1])
        assert first > 0 and store.put(sr.compact_result(traced[0])[1]) == 0  # the same file again: nothing new


def _kill_during_writes(out, record_path):
    """A child writing file results through StoredResults as fast as it can, SIGKILLed mid-way."""
    script = f"""
import copy, json, sys
from proofsmith.extract.state_store import StoredResults
from proofsmith.extract.stored_records import state_text
sink = StoredResults({str(out / "files")!r}, {str(out / "states.sqlite")!r})
sink.open()
base = json.load(open({str(record_path)!r}))
for i in range(100000):
    r = copy.deepcopy(base)
    for t in r["theorems"]:  # every state new: each write a real transaction
        for g in t["initial_goals"] + [g for s in t["traced_tactics"] for g in s["goals_before"] + s["goals_after"]]:
            g["conclusion"] += " (* %d *)" % i
        for s in t["traced_tactics"]:
            s["state_before"], s["state_after"] = state_text(s["goals_before"]), state_text(s["goals_after"])
    sink.write("file%d" % i, r)
    print(i, flush=True)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    for _ in range(20):  # a few writes done, the next under way
        proc.stdout.readline()
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_killed_writer_leaves_no_record_naming_a_missing_state(traced, tmp_path):
    record = tmp_path / "record.json"
    record.write_text(json.dumps(traced[1]))
    out = tmp_path / "raw"
    _kill_during_writes(out, record)
    assert sqlite3.connect(out / "states.sqlite").execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    written = list((out / "files").glob("*.json"))
    assert len(written) >= 20
    with ss.StateStore(out / "states.sqlite", create=False) as store:
        for f in written:  # every file written resolves whole: no dangling reference
            records = ss.file_records(json.loads(f.read_text()), store)
            for t in records["theorems"]:
                assert len(sr.inflate_theorem(t, store)["traced_tactics"]) == len(t["traced_tactics"])
    sink = ss.StoredResults(out / "files", out / "states.sqlite")  # and writing goes on where it stopped
    sink.open()
    sink.write("after the kill", traced[1])
    sink.close()


@pytest.mark.slow
def test_a_killed_extract_resumes_with_every_reference_resolved(project, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "proofsmith", "extract", "coq", str(project), "--out", str(out), "-j", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any((out / "raw" / "files").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with ss.StateStore(out / "raw" / "states.sqlite", create=False) as store:
        for f in (out / "raw" / "files").glob("*.json"):
            assert ss.file_records(json.loads(f.read_text()), store)["theorems"]
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(list(ss.read_theorems(out))) == json.loads(again.stdout.splitlines()[-1])["theorems"] == 5


def test_dataset_keeps_the_leandojo_columns(extracted):
    from proofsmith.datasets.coq import features
    from proofsmith.datasets.hub import parquet_rows

    out, _ = extracted
    tactic_cols = ["tactic", "state_before", "state_after", "goals_before", "goals_after", "start", "end", "premises"]
    assert list(features()["theorems"]["traced_tactics"].feature) == tactic_cols
    assert list(features()["tactics"]) == ["full_name", "file_path", "step", "state_before", "tactic", "state_after",
                                           "premises"]
    full = {t["full_name"]: t for t in ss.read_theorems(out)}
    rows = [r for f in sorted((out / "data" / "random").glob("*.parquet")) for r in parquet_rows(f)]
    assert rows and all(list(r["traced_tactics"][0]) == tactic_cols for r in rows if r["traced_tactics"])
    for r in rows:
        assert r["traced_tactics"] == full[r["full_name"]]["traced_tactics"]  # the states, inlined again
    pairs = [r for f in sorted((out / "data" / "tactics").glob("*.parquet")) for r in parquet_rows(f)]
    by_step = {(r["full_name"], r["step"]): r for r in pairs}
    for (name, i), r in by_step.items():
        assert r["state_before"] == full[name]["traced_tactics"][i]["state_before"]


def _held(obj, depth=4) -> int:
    """How many things the containers reachable from `obj`'s attributes hold."""
    if depth == 0:
        return 0
    if isinstance(obj, dict):
        return len(obj) + sum(_held(v, depth - 1) for v in obj.values())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return len(obj) + sum(_held(v, depth - 1) for v in obj)
    if hasattr(obj, "__dict__") and type(obj).__module__.startswith("proofsmith"):
        return _held(vars(obj), depth - 1)
    return 0


def test_memory_is_bounded_whatever_the_corpus_size(traced, tmp_path):
    """What the writer holds after 3 files of new states or 30 is the same (the index of
    hashes is sqlite's, on disk, not a Python set); a reader holds at most CACHED_CHUNKS
    decompressed chunks, however many the store has."""
    def write(n, where):
        sink = ss.StoredResults(where / "files", where / "states.sqlite")
        sink.open()
        for i in range(n):  # every state of every file new
            r = json.loads(json.dumps(traced[1]).replace(" = 0", f" = {i}"))
            for t in r["theorems"]:
                for step in t["traced_tactics"]:
                    step["state_before"] = sr.state_text(step["goals_before"])
                    step["state_after"] = sr.state_text(step["goals_after"])
            sink.write(f"f{i}", r)
        held = _held(sink)
        sink.close()
        return held

    assert write(3, tmp_path / "a") == write(30, tmp_path / "b")
    with ss.StateStore(tmp_path / "b" / "states.sqlite", create=False) as store:
        assert store.count() > 30 * 3  # they were all stored
        chunks = store.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        for (oid,) in store.db.execute("SELECT id FROM objects").fetchall():
            store.get(oid)
            assert len(store._cache) <= ss.CACHED_CHUNKS
    assert chunks > ss.CACHED_CHUNKS


def test_a_result_written_whole_by_an_older_proofsmith_is_still_read(traced, tmp_path):
    """An OUT extracted before the store existed (files/*.json with every state inline) merges as before."""
    old = {k: v for k, v in traced[0].items() if k != "source"}
    with ss.StateStore(tmp_path / "s.sqlite") as store:
        records = ss.file_records(json.loads(json.dumps(old)), store)
        assert [sr.inflate_theorem(t, store) for t in records["theorems"]] == old["theorems"]
        assert records["tasks"] == old["tasks"]


def _cli(*args):
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "proofsmith", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env, check=False)


def test_a_task_prelude_given_by_reference_checks_and_a_changed_source_is_one_line(extracted, tmp_path):
    """raw/tasks.jsonl names a section task's prelude as a prefix of raw/sources/<sha256>.v.gz:
    `proofsmith check` (real coqc, sandboxed) passes its reference proof read that way; a source
    that is missing, changed or shorter is refused in one line naming it."""
    import gzip
    import shutil

    out, _ = extracted
    raw = tmp_path / "raw"
    shutil.copytree(out / "raw", raw)
    line = next(json.loads(x) for x in (raw / "tasks.jsonl").read_text().splitlines() if "prelude_of" in x)
    (tmp_path / "one.jsonl").write_text(json.dumps(line) + "\n")  # beside raw/: the reference is relative
    shutil.copytree(raw / "sources", tmp_path / "sources")
    (tmp_path / "samples.jsonl").write_text(json.dumps({"task_id": line["task_id"], "completion": line["reference"]})
                                            + "\n")
    done = _cli("check", tmp_path / "one.jsonl", tmp_path / "samples.jsonl", "--out", tmp_path / "r.jsonl", "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    assert [json.loads(x)["status"] for x in (tmp_path / "r.jsonl").read_text().splitlines()] == ["passed"]

    source = tmp_path / line["prelude_of"]["source"]
    text = gzip.decompress(source.read_bytes()).decode()
    for broken, says in ((lambda: source.unlink(), "unreadable"),
                         (lambda: source.write_bytes(gzip.compress((text + "(* edited *)").encode())), "changed"),
                         (lambda: source.write_text(text[:line["prelude_of"]["chars"] // 2]), "changed")):
        broken()
        done = _cli("check", tmp_path / "one.jsonl", tmp_path / "samples.jsonl", "--out", tmp_path / "r2.jsonl", "-q")
        lines = done.stderr.strip().splitlines()
        assert done.returncode != 0 and len(lines) == 1 and says in lines[0] and str(source) in lines[0], done.stderr
    inline = {k: v for k, v in line.items() if k != "prelude_of"} | {"prelude": text[:line["prelude_of"]["chars"]]}
    (tmp_path / "inline.jsonl").write_text(json.dumps(inline) + "\n")  # a tasks file of before: still read
    assert load_tasks(tmp_path / "inline.jsonl")[line["task_id"]].context == inline["prelude"]


def test_the_dataset_is_written_streamed_in_row_groups_with_bounded_memory(extracted, tmp_path, monkeypatch):
    """build_dataset over a corpus of 60 and of 300 theorems (each with a 20 KB prelude of its own):
    every row comes out, in row groups of THEOREM_BATCH_ROWS, and the Python heap's peak grows
    by far less than the text added (tracemalloc): the rows are never all held."""
    import math
    import random
    import tracemalloc

    import pyarrow.parquet as pq

    from proofsmith.datasets import coq as dc
    from proofsmith.datasets import parquet_stream
    from proofsmith.datasets.hub import parquet_rows
    from proofsmith.outdir import claim

    out, _ = extracted
    real = next(t for t in ss.read_theorems(out) if t["name"] == "two_goals")
    monkeypatch.setattr(dc, "THEOREM_BATCH_ROWS", 8)
    monkeypatch.setattr(dc, "ROW_BATCH_ROWS", 16)
    monkeypatch.setattr(parquet_stream, "ROW_GROUP_BYTES", 1)  # each batch its own row group
    rng = random.Random(14)

    def build(n):
        corpus = tmp_path / f"c{n}"
        claim(corpus, "proofsmith extract coq")  # an extract's directory, as build_dataset finds it
        (corpus / "raw").mkdir()
        with open(corpus / "raw" / "theorems.jsonl", "w") as f:
            for i in range(n):
                t = {**real, "full_name": f"T.t{i}", "name": f"t{i}", "statement": f"Lemma t{i} : {i} = {i}.",
                     "file_path": f"F{i % 7}.v", "prelude": "".join(rng.choices("abcdefgh \n", k=20_000))}
                f.write(json.dumps(t) + "\n")
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        counts = dc.build_dataset(corpus, {"pretty_name": "t", "license": "MIT", "description": "t"})
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        return corpus, counts, peak

    build(4)  # imports and caches, once
    _, counts_small, peak_small = build(60)
    large, counts_large, peak_large = build(300)
    assert sum(counts_large["random"].values()) == 300 and sum(counts_small["random"].values()) == 60
    train = large / "data" / "random" / "train-00000-of-00001.parquet"
    rows = counts_large["random"]["train"]
    assert pq.ParquetFile(train).metadata.num_row_groups == math.ceil(rows / 8)
    names = sorted(r["full_name"] for f in (large / "data" / "random").glob("*.parquet") for r in parquet_rows(f))
    assert names == sorted(f"T.t{i}" for i in range(300))
    assert sum(counts_large["tactics"].values()) == 300 * len(real["traced_tactics"])
    added_text = 240 * 20_000
    assert peak_large - peak_small < added_text / 4, (peak_small, peak_large)


def test_a_streamed_parquet_file_holds_one_batch_of_rows_and_one_row_group_of_columns(tmp_path, monkeypatch):
    """parquet_stream.ParquetRows, the writer of every streamed split: after each row, at most `batch_rows`
    Python rows and ROW_GROUP_BYTES (+ one batch) of Arrow columns are held, whatever the count."""
    import pyarrow.parquet as pq
    from datasets import Features, Value

    from proofsmith.datasets import parquet_stream as ps

    monkeypatch.setattr(ps, "ROW_GROUP_BYTES", 50_000)
    features = Features({"name": Value("string"), "text": Value("string")})
    writer = ps.ParquetRows(tmp_path / "t.parquet", features, batch_rows=10)
    most_rows = most_bytes = 0
    for i in range(2_000):
        writer.add({"name": f"r{i}", "text": f"{i} " * 300})
        most_rows, most_bytes = max(most_rows, len(writer.rows)), max(most_bytes, writer.column_bytes)
    writer.close()
    batch = 10 * (len("1999 " * 300) + 16)
    assert most_rows < 10 and most_bytes < 50_000 + batch
    meta = pq.ParquetFile(tmp_path / "t.parquet")
    assert meta.metadata.num_rows == writer.written == 2_000 and meta.metadata.num_row_groups > 20
    assert pq.read_schema(tmp_path / "t.parquet").metadata[b"huggingface"] == features.arrow_schema.metadata[b"huggingface"]
    assert [r["name"] for r in pq.read_table(tmp_path / "t.parquet").to_pylist()] == [f"r{i}" for i in range(2_000)]

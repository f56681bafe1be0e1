"""Coq extraction vs plain coqc, side by side, per library: the standard library and installed ones.

For each library (a directory, as `proofsmith extract coq DIR` takes it), in the same run:
- extracted_fraction: proofs traced with their states (ending Qed/Defined, file without
  error) over the Qed/Defined proofs the sources hold (counted by the sentence splitter);
  goal >= 0.95.
- time_ratio_vs_coqc: extraction wall time (trace and merge) / plain `coqc` of the same files
  with the same jobs (goal <= 3). Their imports resolve to the installed .vo, for coqc as for
  the extraction, so the order within the library does not change what either does.
- bytes_per_tactic: the stored corpus, the whole raw directory (theorems.jsonl.gz, states.sqlite,
  files/, tasks.jsonl, sources/, corpus, facts...) and the dataset (data/, README.md) together,
  per traced tactic (goal <= 1,360); `stored_bytes` breaks it down. `old_bytes_per_tactic`
  is the same directory with theorems (plain JSONL) and tasks.jsonl written the old way (every state
  and every prelude in full; no states.sqlite, no sources/), measured on this run's corpus
  (an underestimate: the old files/ held each file's result whole too).
`quick`: theories/Lists (its sections' preludes are file prefixes) and user-contrib/AAC_tactics
(a plugin); the full run: the whole standard library and every library under user-contrib.
A small library pays the Parquet footers (about 25 KB a file, 15 files) over few tactics.
"""

from __future__ import annotations

import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

JOBS = 2
QUICK = ("theories/Lists", "user-contrib/AAC_tactics")
DATASET = ("data", "README.md")


def _coqc_all(lib, files: list[Path], out: Path) -> tuple[float, int]:
    from .. import children

    def one(f: Path) -> bool:
        rel = f.relative_to(lib.root)
        target = out / rel.with_suffix(".vo")  # never over the installed .vo
        target.parent.mkdir(parents=True, exist_ok=True)
        noinit = ["-noinit"] if lib.logical_module(f).startswith("Coq.Init.") else []
        names = [] if lib.logical == "Coq" else [a for lp in lib.coq_args() for a in lp] or \
            ["-R", str(lib.root), lib.logical or lib.name]
        r = children.run(["coqc", "-q", *noinit, *names, str(f), "-o", str(target)], capture_output=True,
                         timeout=1200, check=False)
        return r.returncode == 0

    t0 = time.monotonic()
    with ThreadPoolExecutor(JOBS) as pool:
        ok = sum(pool.map(one, files))
    return time.monotonic() - t0, ok


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def _closed_proofs(files: list[Path]) -> int:
    from ..coq.sentences import split_sentences
    from ..coq.syntax import command

    return sum(1 for f in files for s in split_sentences(f.read_text(errors="replace"))
               if command(s.text) in ("Qed", "Defined"))


def bench_library(src: Path, tmp: Path) -> dict:
    from ..datasets.coq import read_jsonl
    from ..extract.coq_project import find_library
    from ..extract.coq_run import extract_libraries
    from ..extract.state_store import read_theorems
    from ..io import resolve_prelude

    lib = find_library(src)
    files = lib.files()
    closed = _closed_proofs(files)
    coqc_s, coqc_ok = _coqc_all(lib, files, tmp / "coqc")
    out = tmp / "out"
    t0 = time.monotonic()
    s = extract_libraries([str(src)], str(out), jobs=JOBS, progress=False, build=False)
    ours_s = time.monotonic() - t0
    t0 = time.monotonic()
    extract_libraries([str(src)], str(out), jobs=JOBS, progress=False, build=True)  # resumed: merge + dataset
    dataset_s = time.monotonic() - t0
    errors = list(read_jsonl(out / "raw" / "errors.jsonl"))
    failed = {e["file"] for e in errors}
    traced = old_theorems = old_tasks = 0
    for t in read_theorems(out):
        traced += t["ending"] in ("Qed", "Defined") and t["file_path"] not in failed
        old_theorems += len(json.dumps(t) + "\n")  # the line the old merge wrote: every state in full
    sources: dict = {}
    for t in read_jsonl(out / "raw" / "tasks.jsonl"):  # the old line: its prelude in full
        old_tasks += len(json.dumps(resolve_prelude(t, out / "raw", "tasks.jsonl", sources)) + "\n")
    tactics = max(1, s["traced_tactics"])
    stored = {f"raw/{p.name}": _size(p) for p in sorted((out / "raw").iterdir())}
    stored.update({name: _size(out / name) for name in DATASET})
    compact = ("raw/theorems.jsonl.gz", "raw/theorems.jsonl", "raw/tasks.jsonl", "raw/states.sqlite", "raw/sources")
    old_bytes = sum(v for k, v in stored.items() if k not in compact) + old_theorems + old_tasks
    return {
        "library": lib.name, "files": len(files), "files_failed": len(errors), "coqc_files_ok": coqc_ok,
        "proofs_qed_defined": closed, "proofs_traced": traced, "theorems": s["theorems"],
        "traced_tactics": s["traced_tactics"], "distinct_states": s.get("distinct_states", 0),
        "coqc_s": round(coqc_s, 1), "extract_s": round(ours_s, 1), "dataset_s": round(dataset_s, 1),
        "extracted_fraction": round(traced / max(1, closed), 4),
        "time_ratio_vs_coqc": round(ours_s / max(coqc_s, 1e-9), 2),
        "bytes_per_tactic": round(sum(stored.values()) / tactics), "old_bytes_per_tactic": round(old_bytes / tactics),
        "stored_bytes": stored, "errors": [f"{e['file']}: {e['reason']}: {e['message'][:100]}" for e in errors[:5]],
    }


def run(quick: bool = False) -> dict:
    from ..extract.coq_project import coqlib

    root = coqlib()
    dirs = [root / d for d in QUICK] if quick else \
        [root / "theories", *sorted(p for p in (root / "user-contrib").iterdir() if p.is_dir())]
    libraries = []
    for d in (d for d in dirs if d.is_dir()):
        with tempfile.TemporaryDirectory() as tmp:
            r = bench_library(d, Path(tmp))
        libraries.append(r)
        print(f"{r['library']:12s} {r['files']:4d} files  extracted {r['extracted_fraction']:.3f} (>= 0.95)  "
              f"time x{r['time_ratio_vs_coqc']:.2f} vs coqc (<= 3)  {r['bytes_per_tactic']} B/tactic "
              f"(old {r['old_bytes_per_tactic']}, goal <= 1360)")
        for e in r["errors"]:
            print(f"  error {e}")
    tactics = max(1, sum(r["traced_tactics"] for r in libraries))
    stored = sum(r["bytes_per_tactic"] * r["traced_tactics"] for r in libraries)
    old = sum(r["old_bytes_per_tactic"] * r["traced_tactics"] for r in libraries)
    return {
        "jobs": JOBS, "libraries": libraries,
        "extracted_fraction_min": min((r["extracted_fraction"] for r in libraries), default=0.0),
        "time_ratio_vs_coqc": round(sum(r["extract_s"] for r in libraries)
                                    / max(1e-9, sum(r["coqc_s"] for r in libraries)), 2),
        "bytes_per_tactic": round(stored / tactics), "old_bytes_per_tactic": round(old / tactics),
        "size_ratio_vs_old": round(stored / max(1, old), 3),
    }

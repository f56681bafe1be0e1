"""Coq extraction vs plain coqc, side by side on the same standard-library files, 2 jobs each.

- extracted_fraction: proofs traced with their states (ending Qed/Defined, file without
  error) over the Qed/Defined proofs the sources hold (counted by the sentence splitter).
- time_ratio_vs_coqc: extraction wall time / coqc wall time on the same files (goal <= 3).
`quick` uses theories/Bool and theories/Arith (32 files); the full run the whole stdlib.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

JOBS = 2


def _coqc_all(files: list[Path], theories: Path, out: Path) -> tuple[float, int]:
    def one(f: Path) -> bool:
        noinit = ["-noinit"] if f.parent == theories / "Init" else []
        target = out / f.relative_to(theories).with_suffix(".vo")  # never over the installed .vo
        r = subprocess.run(["coqc", "-q", *noinit, str(f), "-o", str(target)], capture_output=True, timeout=1200)
        return r.returncode == 0

    for f in files:
        (out / f.relative_to(theories)).parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with ThreadPoolExecutor(JOBS) as pool:
        ok = sum(pool.map(one, files))
    return time.monotonic() - t0, ok


def run(quick: bool = False) -> dict:
    from ..coq.sentences import split_sentences
    from ..extract.coq_defs import command
    from ..extract.coq_project import coqlib
    from ..extract.coq_run import extract_libraries

    theories = coqlib() / "theories"
    dirs = [theories / "Bool", theories / "Arith"] if quick else [theories]
    files = sorted(f for d in dirs for f in d.rglob("*.v"))
    closed = sum(1 for f in files for s in split_sentences(f.read_text(errors="replace"))
                 if command(s.text) in ("Qed", "Defined"))
    print(f"{len(files)} files, {closed} proofs ending Qed/Defined, {JOBS} jobs each")
    with tempfile.TemporaryDirectory() as tmp:
        coqc_s, coqc_ok = _coqc_all(files, theories, Path(tmp, "coqc"))
        print(f"coqc:      {coqc_s:8.1f} s  ({coqc_ok}/{len(files)} files compiled)")
        t0 = time.monotonic()
        s = extract_libraries([str(d) for d in dirs], str(Path(tmp, "out")), jobs=JOBS, progress=False, build=False)
        ours_s = time.monotonic() - t0
        from ..datasets.coq import read_jsonl

        theorems = list(read_jsonl(Path(tmp, "out", "raw", "theorems.jsonl")))
        errors = list(read_jsonl(Path(tmp, "out", "raw", "errors.jsonl")))
        failed = {e["file"] for e in errors}
        traced = sum(1 for t in theorems if t["ending"] in ("Qed", "Defined") and t["file_path"] not in failed)
    figures = {
        "files": len(files), "files_failed": len(errors), "proofs_qed_defined": closed, "proofs_traced": traced,
        "theorems": s["theorems"], "traced_tactics": s["traced_tactics"], "premise_uses": s["premise_uses"],
        "premises_in_corpus": s["premises_in_corpus"], "coqc_s": round(coqc_s, 1), "extract_s": round(ours_s, 1),
        "extracted_fraction": round(traced / max(1, closed), 4),
        "time_ratio_vs_coqc": round(ours_s / max(coqc_s, 1e-9), 2),
    }
    print(f"proofsmith: {ours_s:8.1f} s  ({len(files) - len(errors)}/{len(files)} files traced)")
    print(f"extracted_fraction {figures['extracted_fraction']:.3f} (goal >= 0.95)   "
          f"time_ratio_vs_coqc {figures['time_ratio_vs_coqc']:.2f} (goal <= 3)")
    for e in errors[:10]:
        print(f"  error {e['file']}: {e['reason']}: {e['message'][:100]}")
    return figures

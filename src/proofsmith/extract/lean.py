"""`proofsmith extract lean`: Lean repositories and LeanDojo Benchmark 4 into our corpus.

- `import_benchmark(DIR, OUT)`: a downloaded Benchmark 4 directory. Each split file is one
  step of `runs.run_resumable` (a `Directory` output: a file is done exactly when its
  summary exists): its records, streamed and each with its provenance, are written whole
  and atomically to ``OUT/raw/lean/<split>/<part>.jsonl``; a killed run resumes with the
  files left. Then the HF dataset (configs `random`, `novel_premises`; LeanDojo's own
  train/val/test, "val" named "validation") and its card are built from those files.
- `trace_repo(REPO, OUT)`: a local Lean repository traced through the `lean-dojo` package
  (the `lean` extra) as LeanDojo's benchmark notebook does (tactics whose state before is
  "no goals" or that hold `·` are left out), written as Benchmark 4 under
  ``OUT/raw/benchmark`` (our splits, `datasets/lean.py`), then imported as above.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

from ..core import ProofsmithError
from ..datasets import leandojo as ld
from ..outdir import file_sha256
from ..runs import Directory, run_resumable


def missing_toolchain() -> str | None:
    """None when lean-dojo can trace here; else one line saying what is missing and how to get it."""
    missing = [tool for tool in ("elan", "lake", "lean") if not shutil.which(tool)]
    if importlib.util.find_spec("lean_dojo") is None:
        missing.append("lean-dojo")
    if not shutil.which("git"):
        missing.append("git")
    if not missing:
        return None
    return (f"tracing a Lean repository needs {', '.join(missing)}: install elan "
            "(curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf | sh, which brings "
            "lake and lean) and lean-dojo (pip install 'proofsmith[lean]'); lean-dojo also needs the network "
            "(GitHub) while it traces. A downloaded Benchmark 4 imports without them: --benchmark DIR")


class ImportStep:
    """One split file -> OUT/raw/lean/<split>/<part>.jsonl (atomically) and a summary record."""

    def __init__(self, out: Path):
        self.out = out

    def __call__(self, item: dict) -> dict:
        target = self.out / "raw" / "lean" / item["split"] / f"{item['part']}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        theorems = tactics = 0
        with tmp.open("w", encoding="utf-8") as f:
            for record in ld.read_split(item["path"], f"{item['split']}/{item['part']}"):
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                theorems += 1
                tactics += len(record["traced_tactics"])
        tmp.replace(target)
        return {"file": item["key"], "theorems": theorems, "traced_tactics": tactics}


def import_benchmark(src: str, out_dir: str, *, progress: bool = True, build: bool = True,
                     command: str = "") -> dict[str, Any]:
    from ..outdir import claim

    out = Path(out_dir)
    claim(out, "proofsmith extract lean", writes=("README.md",) if build else ())
    items = [{"key": f"{s}/{p}", "split": s, "part": p, "path": str(path)}
             for s, parts in ld.split_files(src).items() for p, path in parts.items()]
    run = run_resumable(items, ImportStep(out), Directory(out / "raw" / "files"), key=lambda i: i["key"],
                        fingerprint=lambda i: {"key": i["key"], "sha256": file_sha256(Path(i["path"]))},
                        progress=progress, desc="extract lean", unit="file")
    summary: dict[str, Any] = {"files": len(items), "files_this_run": run.ran}
    summaries = [json.loads(Directory(out / "raw" / "files").file(i["key"]).read_text()) for i in items]
    summary["theorems"] = sum(s["theorems"] for s in summaries)
    summary["traced_tactics"] = sum(s["traced_tactics"] for s in summaries)
    if (Path(src) / "corpus.jsonl").is_file():
        shutil.copyfile(Path(src) / "corpus.jsonl", out / "raw" / "lean" / "corpus.jsonl")
    if build:
        summary["dataset"] = build_dataset(out, ld.read_metadata(src), command)
    return summary


def read_imported(out: Path) -> dict[str, dict[str, Any]]:
    """{split: {part: records}} of what `import_benchmark` wrote (read lazily, line by line)."""
    from ..io import read_jsonl

    base = out / "raw" / "lean"
    return {s: {p: read_jsonl(base / s / f"{p}.jsonl") for p in ld.PARTS if (base / s / f"{p}.jsonl").is_file()}
            for s in ld.SPLITS if (base / s).is_dir()}


def build_dataset(out: Path, metadata: dict, command: str = "") -> dict[str, dict[str, int]]:
    from ..datasets.hub import Card, save_dataset
    from ..datasets.lean import hf_tables

    configs = hf_tables(read_imported(out))
    repo = metadata.get("from_repo", {})
    card = Card(
        pretty_name=metadata.get("dataset_name", ld.DATASET), license=ld.DATASET_LICENSE,
        description="LeanDojo Benchmark 4 theorems with their traced tactics (states before and after, premises "
                    "annotated in the tactic text), every field as LeanDojo published it, with provenance per record.",
        command=command, versions={"leandojo": str(metadata.get("leandojo_version", "")),
                                   "from_repo": f"{repo.get('url', '')}@{repo.get('commit', '')}" if repo else ""},
        sources="LeanDojo (Yang et al., NeurIPS 2023 Datasets & Benchmarks), CC BY 2.0; the quoted Lean code keeps "
                "its repositories' licences (mathlib4, Lean 4, batteries: Apache-2.0), named in each record's provenance.",
        schema="`traced_tactics[].annotated_tactic` is `{text, premises}` (LeanDojo's `[text, premises]` pair); "
               "`state_before`/`state_after` are Lean's goals, several separated by a blank line, `no goals` when closed.",
        tags=["lean", "lean4", "theorem-proving", "leandojo", "proofsmith"])
    save_dataset(out, configs, card, default="random" if "random" in configs else None)
    return {c: {s: len(ds) for s, ds in dsd.items()} for c, dsd in configs.items()}


def traced_records(traced_repo: Any) -> list[dict]:
    """Benchmark 4 theorem records of a lean_dojo TracedRepo (as the benchmark notebook keeps them)."""
    records = []
    for thm in traced_repo.get_traced_theorems():
        tactics = [{"tactic": t.tactic, "annotated_tactic": list(t.get_annotated_tactic()),
                    "state_before": t.state_before, "state_after": t.state_after}
                   for t in thm.get_traced_tactics() if t.state_before != "no goals" and "·" not in t.tactic]
        records.append({"url": thm.repo.url, "commit": thm.repo.commit, "file_path": str(thm.theorem.file_path),
                        "full_name": thm.theorem.full_name, "start": list(thm.start), "end": list(thm.end),
                        "traced_tactics": tactics})
    return records


def traced_corpus(traced_repo: Any) -> list[dict]:
    import networkx as nx

    graph = traced_repo.traced_files_graph
    return [{"path": str(graph.nodes[n]["traced_file"].path), "imports": [str(m) for m in graph.successors(n)],
             "premises": graph.nodes[n]["traced_file"].get_premise_definitions()}
            for n in reversed(list(nx.topological_sort(graph)))]


def trace_repo(repo: str, out_dir: str, *, progress: bool = True, command: str = "") -> dict[str, Any]:
    why = missing_toolchain()
    if why:
        raise ProofsmithError(why)
    from lean_dojo import LeanGitRepo, trace

    from ..datasets.lean import benchmark_splits
    from ..outdir import claim

    root = Path(repo).resolve()
    if not (root / "lean-toolchain").is_file():
        raise ProofsmithError(f"{repo}: not a Lean project (no lean-toolchain file)")
    claim(Path(out_dir), "proofsmith extract lean", writes=("README.md",))
    traced = trace(LeanGitRepo.from_path(root))
    records = [{**r, "provenance": ld.provenance(r)} for r in traced_records(traced)]
    bench = Path(out_dir) / "raw" / "benchmark"
    metadata = {"dataset_name": f"{root.name} traced by proofsmith (LeanDojo Benchmark 4 format)",
                "from_repo": {"url": traced.repo.url, "commit": traced.repo.commit}}
    ld.write_benchmark(bench, benchmark_splits(records), metadata, corpus=traced_corpus(traced))
    return import_benchmark(str(bench), out_dir, progress=progress, command=command)

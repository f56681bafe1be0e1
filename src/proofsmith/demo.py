"""The end-to-end demo: a small standard-library corpus, its test theorems, the default model.

1. Build (or reuse) the corpus of the standard library's `Bool` directory under the
   cache (`proofsmith extract coq`; about 20 s the first time).
2. Prove the test theorems of its `random` split with best-first search and the
   offline default model, and with the automation baseline on the same theorems;
   every proof is re-checked by coqc in the sandbox before it counts.
3. Print and save the report (proved/attempted, pass@1 as `proofsmith eval` computes it, with
   the theorems that could not be opened counted as not proved and said, seconds per theorem, proofs).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

from .core import ProofsmithError
from .paths import cache_dir
from .provers.search.batch import prove_all
from .provers.search.runner import ProverConfig, summarize
from .provers.search.theorems import load_theorems, premises_path

DEMO_LIBRARY = "Bool"  # a directory of the standard library's theories/


def stdlib_theories() -> Path:
    try:
        where = subprocess.run(["coqc", "-where"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ProofsmithError("the demo needs Coq: apt-get install coq libcoq-stdlib") from exc
    return Path(where) / "theories"


def demo_corpus(progress: bool = True) -> Path:
    """The demo corpus directory, extracted once and reused."""
    out = cache_dir("demo", f"corpus-{DEMO_LIBRARY.lower()}")
    if not (out / "data" / "random").is_dir():
        from .extract.coq_run import extract_libraries

        source = stdlib_theories() / DEMO_LIBRARY
        extract_libraries([str(source)], str(out), jobs=2, progress=progress, command="proofsmith demo")
    return out


def run_demo(out_dir: str | Path, config: ProverConfig, *, retrieval: bool = False, baseline: bool = True,
             limit: int | None = None, progress: bool = True) -> dict[str, Any]:
    from .outdir import claim

    out = Path(out_dir)  # new, empty or an earlier demo's: checked before the corpus is built
    target = claim(out, "proofsmith demo", legacy=("report.json", "model.jsonl.run.json", "baseline.jsonl.run.json",
                                                   "model_retrieval.jsonl.run.json"), writes=("report.json",))
    corpus = demo_corpus(progress)
    tasks = load_theorems(corpus, "test", "random")[:limit]
    if retrieval:  # the corpus's own premises
        config = replace(config, retrieval=True, premises=premises_path(corpus))
    report: dict[str, Any] = {"corpus": str(corpus), "theorems": [t.id for t in tasks], "runs": {}}
    runs = [("model_retrieval" if retrieval else "model", config)] + ([("baseline", ProverConfig(mode="baseline", sandbox=config.sandbox))] if baseline else [])
    for name, run_config in runs:
        records = prove_all(tasks, run_config, out / f"{name}.jsonl", progress=progress)
        report["runs"][name] = {"config": run_config.to_dict(), **summarize(records).to_dict()}
    target.write_text("report.json", json.dumps(report, indent=2))
    return report


def report_text(report: dict[str, Any]) -> str:
    lines = [f"corpus: {report['corpus']}  ({len(report['theorems'])} test theorems)"]
    for name, run in report["runs"].items():
        label = {"model": "default model, best-first search", "baseline": "baseline, automation tactics",
                 "model_retrieval": "default model + retrieval, best-first search"}.get(name, name)
        lines.append(f"\n{label}: proved {run['proved']}/{run['attempted']}"
                     + "".join(f"   {k} = {v:.3f}" for k, v in run["pass_at"].items())
                     + (f" ({run['errors']} could not be opened, counted as not proved)" if run.get("errors") else "")
                     + f"   {run['seconds_per_theorem']:.1f} s per theorem")
        for task_id, proof in run["examples"]:
            lines.append(f"  {task_id}:  {' '.join(proof.split())}")
    return "\n".join(lines)

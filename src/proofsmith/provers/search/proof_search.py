"""Proof search: best-first over live proof states (as ReProver), and whole-proof sampling.

Best-first search keeps a frontier of open states ordered by the cumulative
log-probability of the tactics that reached them, ``priority(s) = Σ log p(tactic_i)``.
An expansion pops the best state, asks the generator for tactics (best first) and
runs each one; a state whose goals were already seen is merged (not queued again).
The search stops at the first proof that the `verify` callback accepts (a proof
counts only once the checker has re-checked it from scratch), when the frontier is
empty, or when a budget (expansions, wall seconds) runs out.

Nothing here knows about Coq or models: `env` is any `ProofEnvironment` and
`generate(state_text) -> [Completion]` any callable.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..decoding.completion import Completion
from .states import ProofEnvironment, ProofFinished, TacticError, TacticState

Generate = Callable[[str], Sequence[Completion]]
Verify = Callable[[list[str]], bool]


@dataclass
class SearchResult:
    status: str  # proved | failed (frontier empty) | budget (expansions) | timeout (wall time)
    proof: list[str] | None = None  # the tactics, in order
    logprob: float = 0.0  # the proof's cumulative log-probability, sum of its tactics'
    expansions: int = 0
    tactics_tried: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0
    env_seconds: float = 0.0
    rejected_proofs: int = 0  # proofs the environment finished but the checker refused
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def proved(self) -> bool:
        return self.status == "proved"


@dataclass(order=True)
class _Node:
    priority: float  # -cumulative log-probability (heapq pops the smallest)
    order: int
    state: TacticState = field(compare=False)
    tactics: tuple[str, ...] = field(compare=False, default=())


def best_first_search(
    env: ProofEnvironment,
    generate: Generate,
    *,
    max_expansions: int = 32,
    timeout_s: float = 60.0,
    verify: Verify | None = None,
) -> SearchResult:
    start = time.monotonic()
    result = SearchResult(status="failed")
    counter = itertools.count()
    root = env.initial_state()
    frontier = [_Node(0.0, next(counter), root)]
    seen = {root.pp}
    while frontier:
        if result.expansions >= max_expansions:
            result.status = "budget"
            break
        if time.monotonic() - start > timeout_s:
            result.status = "timeout"
            break
        node = heapq.heappop(frontier)
        result.expansions += 1
        t = time.monotonic()
        candidates = generate(node.state.pp)
        result.model_seconds += time.monotonic() - t
        for candidate in candidates:
            if time.monotonic() - start > timeout_s:
                break
            t = time.monotonic()
            outcome = env.run_tactic(node.state, candidate.text)
            result.env_seconds += time.monotonic() - t
            result.tactics_tried += 1
            tactics = node.tactics + (candidate.text,)
            if isinstance(outcome, ProofFinished):
                if verify is None or verify(list(tactics)):
                    result.status, result.proof = "proved", list(tactics)
                    result.logprob = -node.priority + candidate.logprob
                    result.seconds = time.monotonic() - start
                    return result
                result.rejected_proofs += 1
            elif isinstance(outcome, TacticError):
                kind = "timeout" if outcome.timeout else "error"
                result.errors[kind] = result.errors.get(kind, 0) + 1
            elif outcome.pp not in seen:  # merge states already reached by another path
                seen.add(outcome.pp)
                priority = node.priority - candidate.logprob
                heapq.heappush(frontier, _Node(priority, next(counter), outcome, tactics))
    result.seconds = time.monotonic() - start
    return result


@dataclass
class SampleResult:
    proof: str
    passed: bool
    status: str  # the checker's Verdict status
    logprob: float
    tokens: int
    seconds: float


def sample_whole_proofs(
    statement: str,
    sample: Callable[[str], Sequence[Completion]],
    verify: Callable[[Completion, float], tuple[bool, str]],
) -> list[SampleResult]:
    """N whole proofs for one statement, each checked from scratch (pass@N counts them all).

    `verify(completion, seconds)` gets each sample with the seconds spent making it."""
    t = time.monotonic()
    proofs = sample(statement)
    per_sample = (time.monotonic() - t) / max(1, len(proofs))
    results = []
    for gen in proofs:
        t = time.monotonic()
        passed, status = verify(gen, per_sample) if gen.text.strip() else (False, "failed")
        results.append(SampleResult(gen.text, passed, status, gen.logprob, gen.tokens,
                                    per_sample + time.monotonic() - t))
    return results

"""Proof search: best-first over live proof states (as ReProver), and whole-proof sampling.

Best-first search keeps a frontier of open states ordered by the cumulative
log-probability of the tactics that reached them, ``priority(s) = Σ log p(tactic_i)``.
An expansion pops the best state, asks the generator for tactics (best first) and
runs each one; a state whose goals were already seen is merged (not queued again).
The search stops at the first proof that the `verify` callback accepts (a proof
counts only once the checker has re-checked it from scratch), when the frontier is
empty, or when a budget (expansions, wall seconds) runs out.

A generator with `cheap(state)` (hybrid search: automation and structural tactics, no
model) has each state expanded twice: its cheap candidates when it is popped, and the
model's later, from a second frontier entry at priority(s) + log 2 (`MODEL_DEFER`), so
the model is asked only about states the cheap moves did not finish, best first.
With `batch` > 1 an expansion step pops the `batch` best entries and, when the generator
has `batch(states)`, asks for all their model tactics in one call (decoded together). States are merged on their normalised text (whitespace collapsed). Proofs in
`exclude` (found by earlier attempts) do not end the search: it goes on to a different one.

Nothing here knows about Coq or models: `env` is any `ProofEnvironment` and
`generate(state_text) -> [Completion]` any callable (with optional `batch(states)` and
`observe(tactic, error)`, told of each failed tactic).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace

from ..decoding.completion import Completion
from .states import ProofEnvironment, ProofFinished, TacticError, TacticState

Generate = Callable[[str], Sequence[Completion]]
Verify = Callable[[list[str]], bool]


@dataclass
class SearchResult:
    status: str  # proved | failed (frontier empty) | budget (expansions) | timeout (wall time)
    proof: list[str] | None = None  # the tactics, in order
    logprob: float = 0.0  # the proof's cumulative log-probability, sum of its tactics'
    expansions: int = 0  # frontier entries expanded (with `cheap`, a state's cheap and model expansions are two)
    model_expansions: int = 0  # of which the model proposed the tactics
    tactics_tried: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0
    env_seconds: float = 0.0
    rejected_proofs: int = 0  # proofs the environment finished but the checker refused
    repeated_proofs: int = 0  # proofs found again that were in `exclude`
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
    model: bool = field(compare=False, default=True)  # False: this entry runs the generator's `cheap` candidates


# Asking the model at a state is deferred behind that state's cheap candidates, as one more
# move with probability 1/2: its frontier entry has priority(s) + log 2
MODEL_DEFER = math.log(2.0)


def normalise(pp: str) -> str:
    """A state's text as merging sees it: whitespace collapsed."""
    return " ".join(pp.split())


def best_first_search(
    env: ProofEnvironment,
    generate: Generate,
    *,
    max_expansions: int = 32,
    timeout_s: float = 60.0,
    verify: Verify | None = None,
    batch: int = 1,
    exclude: Collection[tuple[str, ...]] = (),
) -> SearchResult:
    start = time.monotonic()
    deadline = start + timeout_s
    result = SearchResult(status="failed")
    counter = itertools.count()
    root = env.initial_state()
    many = getattr(generate, "batch", None) if batch > 1 else None
    cheap, observe = getattr(generate, "cheap", None), getattr(generate, "observe", None)
    uses_model = cheap is None or getattr(generate, "has_model", True)
    frontier = [_Node(0.0, next(counter), root, model=cheap is None)]
    seen = {normalise(root.pp)}

    def expand(node: _Node, candidates: Sequence[Completion]) -> bool:
        """Run each candidate on the node's state; True once a proof counts."""
        for candidate in candidates:
            if time.monotonic() > deadline:
                return False
            t = time.monotonic()
            outcome = env.run_tactic(node.state, candidate.text)
            result.env_seconds += time.monotonic() - t
            result.tactics_tried += 1
            tactics = node.tactics + (candidate.text,)
            if isinstance(outcome, ProofFinished):
                if tactics in exclude:
                    result.repeated_proofs += 1
                elif verify is None or verify(list(tactics)):
                    result.status, result.proof = "proved", list(tactics)
                    result.logprob = -node.priority + candidate.logprob
                    return True
                else:
                    result.rejected_proofs += 1
            elif isinstance(outcome, TacticError):
                kind = "timeout" if outcome.timeout else "error"
                result.errors[kind] = result.errors.get(kind, 0) + 1
                if observe is not None:
                    observe(candidate.text, outcome.message)
            elif (key := normalise(outcome.pp)) not in seen:  # merge states already reached by another path
                seen.add(key)
                priority = node.priority - candidate.logprob
                heapq.heappush(frontier, _Node(priority, next(counter), outcome, tactics, model=cheap is None))
        return False

    while frontier:
        if result.expansions >= max_expansions:
            result.status = "budget"
            break
        if time.monotonic() > deadline:
            result.status = "timeout"
            break
        popped = [heapq.heappop(frontier) for _ in range(min(batch, len(frontier), max_expansions - result.expansions))]
        result.expansions += len(popped)
        nodes = [n for n in popped if n.model]
        for node in (n for n in popped if not n.model):  # cheap candidates now, the model's later
            if expand(node, cheap(node.state.pp)):
                break
            if uses_model:
                heapq.heappush(frontier, replace(node, priority=node.priority + MODEL_DEFER, order=next(counter), model=True))
        if result.status == "proved":
            break
        if not nodes or time.monotonic() > deadline:
            continue
        result.model_expansions += len(nodes)
        t = time.monotonic()
        proposals = many([n.state.pp for n in nodes]) if many else [generate(n.state.pp) for n in nodes]
        result.model_seconds += time.monotonic() - t
        if any(expand(n, c) for n, c in zip(nodes, proposals)):
            break
    if result.status == "failed" and time.monotonic() > deadline:
        result.status = "timeout"
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

"""Proof search: best-first over live proof states (as ReProver), and whole-proof sampling.

Best-first search keeps a frontier of open states ordered by the cumulative
log-probability of the tactics that reached them, ``priority(s) = Σ log p(tactic_i)``.
An expansion pops the best state, asks the generator for tactics (best first) and
runs each one; a state whose goals were already seen is merged (not queued again).
The search stops at the first proof that the `verify` callback accepts (a proof
counts only once the checker has re-checked it from scratch), when the frontier is
empty, or when a budget (expansions, wall seconds) runs out.

A generator with `cheap(state)` (hybrid search: automation and structural tactics, no
model) has each state expanded twice: its cheap candidates, and the model's later, as a
second entry at priority(s) + log 2 (`MODEL_DEFER`), so the model is asked only about
states the cheap moves did not finish, best first. The two kinds of work run at once:
the model decodes the `batch` best model entries in a worker thread (`batch(states)`, one
call) while this thread goes on expanding the best cheap entries in the environment;
when the call returns, its tactics are run and the next call starts. On a machine
where the model and Coq each get a core (or the model a GPU), neither waits for the
other. `cancel()`, when the generator has it, stops a call in flight once the search
ends. States are merged on their normalised text (whitespace collapsed). Proofs in
`exclude` (found by earlier attempts) do not end the search: it goes on to a different one.

Nothing here knows about Coq or models: `env` is any `ProofEnvironment` and
`generate(state_text) -> [Completion]` any callable (with optional `batch(states)` and
`observe(tactic, error)`, told of each failed tactic, and `cancel()`).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
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
    search = _Search(env, generate, max_expansions, start + timeout_s, verify, exclude)
    if getattr(generate, "cheap", None) is not None:
        search.hybrid(max(1, batch))
    else:
        search.model_only(batch)
    result = search.result
    if result.status == "failed" and time.monotonic() > search.deadline:
        result.status = "timeout"
    result.seconds = time.monotonic() - start
    return result


class _Search:
    """One search's frontier, seen states and result; `model_only` and `hybrid` are its two loops."""

    def __init__(self, env, generate, max_expansions, deadline, verify, exclude):
        self.env, self.generate, self.max_expansions, self.deadline = env, generate, max_expansions, deadline
        self.verify, self.exclude = verify, exclude
        self.result = SearchResult(status="failed")
        self.counter = itertools.count()
        self.root = env.initial_state()
        self.seen = {normalise(self.root.pp)}
        self.observe = getattr(generate, "observe", None)

    def node(self, priority: float, state: TacticState, tactics: tuple[str, ...] = ()) -> _Node:
        return _Node(priority, next(self.counter), state, tactics)

    def expand(self, node: _Node, candidates: Sequence[Completion], frontier: list) -> bool:
        """Run each candidate on the node's state, new states onto `frontier`; True once a proof counts."""
        result = self.result
        for candidate in candidates:
            if time.monotonic() > self.deadline:
                return False
            t = time.monotonic()
            outcome = self.env.run_tactic(node.state, candidate.text)
            result.env_seconds += time.monotonic() - t
            result.tactics_tried += 1
            tactics = node.tactics + (candidate.text,)
            if isinstance(outcome, ProofFinished):
                if tactics in self.exclude:
                    result.repeated_proofs += 1
                elif self.verify is None or self.verify(list(tactics)):
                    result.status, result.proof = "proved", list(tactics)
                    result.logprob = -node.priority + candidate.logprob
                    return True
                else:
                    result.rejected_proofs += 1
            elif isinstance(outcome, TacticError):
                kind = "timeout" if outcome.timeout else "error"
                result.errors[kind] = result.errors.get(kind, 0) + 1
                if self.observe is not None:
                    self.observe(candidate.text, outcome.message)
            elif (key := normalise(outcome.pp)) not in self.seen:  # merge states already reached by another path
                self.seen.add(key)
                heapq.heappush(frontier, self.node(node.priority - candidate.logprob, outcome, tactics))
        return False

    def stopped(self) -> bool:
        """The budget or the deadline is spent (the status says which)."""
        if time.monotonic() > self.deadline:
            self.result.status = "timeout"
        elif self.result.expansions >= self.max_expansions:
            self.result.status = "budget"
        else:
            return False
        return True

    def model_only(self, batch: int) -> None:
        """Best-first over the generator's tactics: pop the `batch` best states, one call for all."""
        frontier, result = [self.node(0.0, self.root)], self.result
        many = getattr(self.generate, "batch", None) if batch > 1 else None
        while frontier and not self.stopped():
            nodes = [heapq.heappop(frontier) for _ in range(min(batch, len(frontier), self.max_expansions - result.expansions))]
            result.expansions += len(nodes)
            result.model_expansions += len(nodes)
            t = time.monotonic()
            proposals = many([n.state.pp for n in nodes]) if many else [self.generate(n.state.pp) for n in nodes]
            result.model_seconds += time.monotonic() - t
            if any(self.expand(n, c, frontier) for n, c in zip(nodes, proposals)):
                return

    def hybrid(self, batch: int) -> None:
        """Cheap entries here, model entries in a worker thread, both best first, at the same time."""
        generate, result = self.generate, self.result
        cheap_frontier, model_frontier = [self.node(0.0, self.root)], []
        uses_model = getattr(generate, "has_model", True)
        many = getattr(generate, "batch", None)
        worker = ThreadPoolExecutor(1, thread_name_prefix="proposals") if uses_model else None
        in_flight: tuple[Future, list[_Node]] | None = None

        def propose(states: list[str]):
            t = time.monotonic()
            proposals = many(states) if many else [generate(s) for s in states]
            return proposals, time.monotonic() - t

        try:
            while True:
                if in_flight is not None and in_flight[0].done():
                    (proposals, seconds), nodes = in_flight[0].result(), in_flight[1]
                    in_flight, result.model_seconds = None, result.model_seconds + seconds
                    if any(self.expand(n, c, cheap_frontier) for n, c in zip(nodes, proposals)):
                        return
                if self.stopped():
                    if in_flight is None or result.status == "timeout":
                        return
                    wait_for([in_flight[0]], timeout=max(0.0, self.deadline - time.monotonic()))
                    continue  # the budget is spent, but the call in flight was counted in it: use it
                if in_flight is None and model_frontier:
                    take = min(batch, len(model_frontier), self.max_expansions - result.expansions)
                    nodes = [heapq.heappop(model_frontier) for _ in range(take)]
                    result.expansions += take
                    result.model_expansions += take
                    in_flight = (worker.submit(propose, [n.state.pp for n in nodes]), nodes)
                elif cheap_frontier:
                    node = heapq.heappop(cheap_frontier)
                    result.expansions += 1
                    if self.expand(node, generate.cheap(node.state.pp), cheap_frontier):
                        return
                    if uses_model:
                        heapq.heappush(model_frontier, replace(node, priority=node.priority + MODEL_DEFER,
                                                               order=next(self.counter)))
                elif in_flight is not None:  # nothing to do here but wait for the model
                    wait_for([in_flight[0]], timeout=max(0.0, self.deadline - time.monotonic()))
                else:
                    return  # both frontiers empty: failed
        finally:
            if worker is not None:
                if in_flight is not None and (cancel := getattr(generate, "cancel", None)) is not None:
                    cancel()
                worker.shutdown(wait=True)


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

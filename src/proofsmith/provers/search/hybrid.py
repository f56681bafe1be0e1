"""Hybrid candidates: the model's tactics, the automation portfolio and structural tactics.

`HybridProposer` is a generator for `best_first_search`: `cheap(state)` gives the
candidates that cost no model call (search runs them first, and asks the model only
for states they did not finish), `batch(states)` the model's tactics for several
frontier states decoded at once (search calls it from a worker thread, beside the
cheap expansions), `cancel()` ends such a call when the search is over. Every candidate carries a score on one scale, a
natural-log probability:

- the model's tactics: their log-probability under the model (`TacticGenerator`);
- portfolio tactics (`portfolio.py`) and structural ones (`structural.py`): their fixed
  log priors.

A tactic proposed by more than one source keeps its best score. Search orders paths by
the sum of their tactics' scores, so a path of likely steps comes first whoever made
them. With `noise_seed` set (attempts after the first), each prior gets Gumbel noise,
``score = log p + G, G ~ Gumbel(0, noise)`` (the Gumbel-max trick: the order it gives is
a sample from the priors' distribution), so every attempt explores in its own order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..decoding.completion import Completion
from . import structural
from .portfolio import Portfolio


@dataclass
class HybridProposer:
    model: Callable[[str], Sequence[Completion]] | None  # a TacticGenerator, or None: no model
    portfolio: Portfolio = field(default_factory=Portfolio)
    is_inductive: Callable[[str], bool] = lambda head: False
    use_structural: bool = True
    noise_seed: int | None = None  # None: the priors as they are (the first attempt)
    noise: float = 1.0  # the Gumbel scale
    tokens: int = 0
    make_model: Callable[[], Callable[[str], Sequence[Completion]]] | None = None  # builds `model` when first needed

    def __post_init__(self) -> None:
        self._rng = random.Random(self.noise_seed)
        self._cancelled = False

    @property
    def has_model(self) -> bool:
        return self.model is not None or self.make_model is not None

    def __call__(self, state: str) -> list[Completion]:
        """All candidates for one state, best score first (a tactic keeps its best score)."""
        best: dict[str, Completion] = {}
        for c in [*self.cheap(state), *self.batch([state])[0]]:
            if c.text not in best or best[c.text].logprob < c.logprob:
                best[c.text] = c
        return sorted(best.values(), key=lambda c: -c.logprob)

    def cheap(self, state: str) -> list[Completion]:
        """The candidates that cost no model call: portfolio and structural tactics, by prior."""
        priors = self.portfolio.tactics() + (structural.propose(state, self.is_inductive) if self.use_structural else [])
        scored = [Completion(tactic, prior + self._gumbel()) for tactic, prior in priors]
        return sorted(scored, key=lambda c: -c.logprob)

    def batch(self, states: list[str]) -> list[list[Completion]]:
        """The model's tactics for each state, all states in one call (none without a model)."""
        if self.model is None and self.make_model is not None:  # loaded only when the cheap moves were not enough
            self.model = self.make_model()
        if self.model is None or self._cancelled:
            return [[] for _ in states]
        batch = getattr(self.model, "batch", None)
        suggested = batch(states) if batch else [self.model(s) for s in states]
        self.tokens = getattr(self.model, "tokens", 0)
        return [list(s) for s in suggested]

    def cancel(self) -> None:
        """The search is over: a model call in flight ends at its next step, and no new one starts."""
        self._cancelled = True
        if (cancel := getattr(self.model, "cancel", None)) is not None:
            cancel()

    def _gumbel(self) -> float:
        if self.noise_seed is None:
            return 0.0
        return -self.noise * math.log(-math.log(self._rng.uniform(1e-12, 1.0)))

    def observe(self, tactic: str, error: str) -> None:
        """A candidate failed with `error`: the portfolio drops tactics its context lacks."""
        self.portfolio.saw_error(tactic, error)

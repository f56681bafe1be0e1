"""What the engine and its draft sources share: draft trees, the draft-source protocol, the warp.

A draft source (drafts.py) proposes a `Proposal` tree per row; the engine (engine.py)
verifies it against the target's distribution under `Warp` (temperature, top-p).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch


@dataclass
class Proposal:
    """A draft tree for one row: node i holds `tokens[i]` and hangs under `parents[i]`.

    Parent -1 is the root (the pending token). Parents come before children. `q`, when
    given, is the draft distribution each token was sampled from (a chain only,
    shape (len(tokens), vocab)): verification then uses the Leviathan/Chen rule.
    """

    tokens: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    q: torch.Tensor | None = None

    @classmethod
    def chain(cls, tokens: Sequence[int], q: torch.Tensor | None = None) -> Proposal:
        return cls(list(tokens), list(range(-1, len(tokens) - 1)), q)


class DraftSource(Protocol):
    """Where drafts come from (see provers/decoding/drafts.py)."""

    name: str

    def propose(self, rows: list[int], contexts: list[list[int]], budgets: list[int], warp: Warp) -> list[Proposal]:
        """One proposal per active row: `rows[i]` is its index in the call's batch,
        `contexts[i]` its prompt + output so far; branches at most `budgets[i]` deep."""
        ...

    def observe(self, row: int, context: list[int], finished: bool) -> None:
        """The row's context after a step (drafts that learn from output use it)."""
        ...


@dataclass(frozen=True)
class Warp:
    """The sampling distribution: temperature 0 means greedy (argmax)."""

    temperature: float = 0.0
    top_p: float = 1.0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    def probs(self, logits: torch.Tensor) -> torch.Tensor:
        """softmax(logits / T) restricted to the top-p nucleus, renormalised; fp32; NaN-safe."""
        logits = torch.nan_to_num(logits.float(), nan=-math.inf)
        probs = torch.softmax(logits / max(self.temperature, 1e-6), dim=-1)
        if self.top_p < 1.0:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            # keep the smallest prefix whose mass reaches top_p (the first token always stays)
            drop = (sorted_p.cumsum(-1) - sorted_p) >= self.top_p
            sorted_p = sorted_p.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
            probs = probs / probs.sum(-1, keepdim=True)
        return _safe(probs)

    def nucleus(self, logits: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The tokens one row (logits of shape (V,)) may draw and their probabilities: the top-p
        nucleus in descending order, or every token (ids None) when top_p is 1. The same
        distribution as `probs`, found without sorting the vocabulary (6 ms for 49k tokens on
        the project's CPU, against 0.1-0.3 ms for `topk`) whenever the nucleus lies in the
        top few hundred or thousand tokens, as it almost always does."""
        probs = torch.softmax(logits.float() / max(self.temperature, 1e-6), dim=-1)
        if not math.isfinite(total := float(probs.sum())) or total <= 0:  # a NaN somewhere: the careful way
            probs = _safe(torch.softmax(torch.nan_to_num(logits.float(), nan=-math.inf) / max(self.temperature, 1e-6),
                                        dim=-1))
        if self.top_p >= 1.0:
            return None, probs
        vocab = probs.shape[-1]
        for k in (256, 4096, vocab):
            top, ids = probs.topk(min(k, vocab))  # descending; past k the mass already reached top_p
            if k >= vocab or float(top.sum()) >= self.top_p:
                break
        keep = (top.cumsum(-1) - top) < self.top_p  # the smallest prefix whose mass reaches top_p
        top = top[keep]
        return ids[keep], top / top.sum()

    def sample(self, logits: torch.Tensor, generator: torch.Generator | None = None) -> int:
        """One token from the warped distribution of one row: the inverse of the nucleus's CDF at
        one uniform draw (one random number per token, whatever the vocabulary)."""
        ids, probs = self.nucleus(logits)
        cdf = probs.cumsum(-1)
        u = torch.rand((), generator=generator, device=cdf.device, dtype=cdf.dtype) * cdf[-1]
        i = int(torch.searchsorted(cdf, u[None], right=True).clamp(max=cdf.shape[-1] - 1))
        return int(ids[i]) if ids is not None else i


def _safe(probs: torch.Tensor) -> torch.Tensor:
    """Rows that are NaN or all zero (0/0) become uniform rather than poisoning sampling."""
    bad = ~torch.isfinite(probs).all(-1, keepdim=True) | (probs.sum(-1, keepdim=True) <= 0)
    if bad.any():
        probs = torch.where(bad, torch.full_like(probs, 1.0 / probs.shape[-1]), torch.nan_to_num(probs, nan=0.0))
    return probs

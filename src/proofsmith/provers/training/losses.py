"""Training losses: cross-entropy, DCO and DCO-step (Chen et al., arXiv 2502.07154).

With p̂ the probability of a whole target (a proof, or one tactic for DCO-step) and
N the number of attempts it will get at test time:

    CE        ℓ = -log p̂
    DCO       ℓ = -log(1 - (1 - p̂)^N)              the chance that one of N samples is it
    gradient  ∇ℓ_DCO = F(N, p̂) · ∇ℓ_CE,   F = N p̂ (1-p̂)^(N-1) / (1 - (1-p̂)^N)

F ≈ 1 while p̂ ≪ 1/N and falls toward 0 once p̂ ≳ 1/N: an example the model already
finds within N attempts stops pulling ("done"). N = 1 gives F = 1, plain CE.
DCO-step applies the same per proof step (tactic) with an effective N_eff.

Everything is computed in log space from L = log p̂ = Σ_t log p_t, in float64.
The gradient goes through the fused LM-head loss as per-token weights F/normaliser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ...kernels.fused_linear_loss import fused_linear_weighted_nll, token_nll

LOSSES = ("ce", "dco", "dco-step")
# below this log p̂, float64 exp(L) underflows; there 1-(1-p̂)^N = N p̂ (1 + O(N p̂)) exactly enough
_TINY_LOGP = -700.0


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x <= 0, accurate everywhere (Mächler 2012)."""
    near_zero = x > -math.log(2)
    # each branch sees only inputs it is accurate on, so autograd gets no 0 * inf = nan
    cut = torch.full_like(x, -math.log(2))
    return torch.where(near_zero, torch.log(-torch.expm1(torch.where(near_zero, x, cut))),
                       torch.log1p(-torch.exp(torch.where(near_zero, cut, x))))


def dco_loss(log_p: torch.Tensor, n: float) -> torch.Tensor:
    """ℓ = -log(1 - (1 - p̂)^N) = -log1mexp(N · log1mexp(L)), elementwise over L = log p̂."""
    log_p = log_p.double().clamp(max=0.0)
    loss = -log1mexp(n * log1mexp(log_p.clamp(min=_TINY_LOGP)))
    return torch.where(log_p < _TINY_LOGP, -(math.log(n) + log_p), loss)


def dco_weight(log_p: torch.Tensor, n: float) -> torch.Tensor:
    """F(N, p̂) = N p̂ (1-p̂)^(N-1) / (1 - (1-p̂)^N), so that ∇ℓ_DCO = F ∇ℓ_CE."""
    log_p = log_p.double().clamp(max=0.0)
    if n == 1:
        return torch.ones_like(log_p)
    log_1m_p = log1mexp(log_p.clamp(min=_TINY_LOGP))
    log_f = math.log(n) + log_p + (n - 1) * log_1m_p - log1mexp(n * log_1m_p)
    return torch.where(log_p < _TINY_LOGP, torch.ones_like(log_p), torch.exp(log_f))


@dataclass(frozen=True)
class LossOutput:
    loss: torch.Tensor  # scalar to backpropagate: mean over examples of ℓ
    log_p: torch.Tensor  # [segments] log p̂ of each target (or step), float64, no grad
    weight: torch.Tensor  # [segments] F (all 1 for CE)
    n_examples: int


def sequence_loss(
    hidden: torch.Tensor,
    lm_head: torch.Tensor,
    targets: torch.Tensor,
    segment_ids: torch.Tensor,
    n_examples: int,
    kind: str = "ce",
    n: float = 1.0,
    backend: str = "auto",
    skip_below: float = 0.0,
) -> LossOutput:
    """Mean over examples of ℓ for target rows ``hidden`` [T, H], ``targets`` [T].

    ``segment_ids`` [T] say which target each row belongs to: the example for CE and DCO,
    the (example, tactic) step for DCO-step (numbered 0..S-1). Rows with target
    IGNORE_INDEX count nothing. The normaliser is the number of examples, so DCO with
    N = 1 equals CE exactly. Targets with F < ``skip_below`` ("done") get weight 0 and
    their rows skip the LM-head pass (the paper's ε; it does not give a value).
    """
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r} (one of {', '.join(LOSSES)})")
    n_segments = int(segment_ids.max()) + 1 if segment_ids.numel() else 0
    if kind == "ce":
        weights = torch.full(targets.shape, 1.0 / n_examples, device=hidden.device)
        loss, nll = fused_linear_weighted_nll(hidden, lm_head, targets, weights, backend=backend)
        log_p = -_segment_sum(nll, segment_ids, n_segments)
        return LossOutput(loss, log_p, torch.ones_like(log_p), n_examples)
    # first pass without gradient: log p̂ per target, hence F; then one weighted pass
    log_p = -_segment_sum(token_nll(hidden, lm_head, targets, backend=backend), segment_ids, n_segments)
    f = dco_weight(log_p, n)
    weights = (torch.where(f < skip_below, 0.0, f) / n_examples).float()[segment_ids]
    weighted, _ = fused_linear_weighted_nll(hidden, lm_head, targets, weights, backend=backend)
    value = dco_loss(log_p, n).sum() / n_examples
    # the value is ℓ_DCO; the gradient is that of Σ F ℓ_CE / n_examples, which is ∇ℓ_DCO
    loss = weighted + (value.float() - weighted).detach()
    return LossOutput(loss, log_p, f, n_examples)


def _segment_sum(values: torch.Tensor, segment_ids: torch.Tensor, n_segments: int) -> torch.Tensor:
    out = torch.zeros(n_segments, dtype=torch.float64, device=values.device)
    return out.index_add_(0, segment_ids, values.detach().double())


def naive_sequence_loss(logits: torch.Tensor, targets: torch.Tensor, segment_ids: torch.Tensor,
                        n_examples: int, kind: str = "ce", n: float = 1.0) -> torch.Tensor:
    """The formula straight from the paper on full logits; autograd differentiates it (tests)."""
    nll = torch.nn.functional.cross_entropy(logits.double(), targets, ignore_index=-100, reduction="none")
    n_segments = int(segment_ids.max()) + 1
    log_p = -torch.zeros(n_segments, dtype=torch.float64).index_add(0, segment_ids, nll)
    if kind == "ce":
        return -log_p.sum() / n_examples
    p = log_p.exp()
    return -torch.log(1 - (1 - p) ** n).sum() / n_examples

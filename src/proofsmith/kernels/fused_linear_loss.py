"""Fused, chunked LM head + token loss that never holds the (tokens x vocab) logits.

The loss of a causal LM is ``sum_t w_t * nll_t`` with ``nll_t = lse(h_t W^T) - (h_t W^T)[y_t]``.
The naive path materialises all logits (tokens x vocab floats: 800 MB for 4 x 1024 tokens
and a 49,152 vocabulary), their log-softmax and its gradient. Here rows are processed a
chunk at a time, and the gradient of each chunk is computed in the forward pass while its
logits are live (the idea of Liger's fused linear cross-entropy), so at most one chunk of
logits exists at once.

The per-token weights ``w_t`` are what let CE, DCO and DCO-step share this one path: the
DCO gradient is F times the CE gradient (F per sequence or per proof step), so those
losses only change the weights (see ``provers/training/losses.py``).

Two backends with one contract: ``torch`` (below; the reference, and the fast path on
CPU) and ``triton`` (``fused_linear_loss_triton.py``; CUDA, or the interpreter with
``TRITON_INTERPRET=1``). Tests compare both with the naive full-logits path.
"""

from __future__ import annotations

import torch

IGNORE_INDEX = -100
# one chunk of fp32 logits is at most this many bytes (96 rows at a 49,152 vocabulary):
# small next to the naive path's gigabytes, large enough that each chunk's matmuls still
# run near full speed (64 rows was 1.4x slower here, 128 rows peaked ~35 MB higher)
CHUNK_BYTES = 18 * 2**20


def default_chunk_rows(vocab_size: int) -> int:
    return max(16, CHUNK_BYTES // (4 * vocab_size) // 16 * 16)


@torch.no_grad()
def chunked_token_nll(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                      chunk_rows: int | None = None) -> torch.Tensor:
    """nll_t = logsumexp(h_t W^T) - (h_t W^T)[y_t] for each row, fp32, no gradient."""
    chunk_rows = chunk_rows or default_chunk_rows(weight.shape[0])
    nll = torch.empty(hidden.shape[0], dtype=torch.float32, device=hidden.device)
    for start in range(0, hidden.shape[0], chunk_rows):
        rows = slice(start, start + chunk_rows)
        logits = (hidden[rows] @ weight.T).float()
        target_logit = logits.gather(1, targets[rows, None]).squeeze(1)
        nll[rows] = torch.logsumexp(logits, dim=1) - target_logit
    return nll


class _ChunkedWeightedNLL(torch.autograd.Function):
    """loss = sum_t w_t nll_t; gradients for hidden and weight made chunk by chunk in forward."""

    @staticmethod
    def forward(ctx, hidden, weight, targets, token_weights, chunk_rows):
        n_rows = hidden.shape[0]
        nll = torch.empty(n_rows, dtype=torch.float32, device=hidden.device)
        grad_hidden = torch.empty_like(hidden)
        # a frozen head (LoRA) needs no [V, H] gradient: skip its buffer and matmuls
        want_weight = ctx.needs_input_grad[1]
        grad_weight = torch.zeros(weight.shape if want_weight else (0,), dtype=torch.float32, device=weight.device)
        for start in range(0, n_rows, chunk_rows):
            rows = slice(start, start + chunk_rows)
            h, y, w = hidden[rows], targets[rows], token_weights[rows].float()
            logits = (h @ weight.T).float()  # the only (chunk x vocab) buffer; reused in place below
            target_logit = logits.gather(1, y[:, None]).squeeze(1)
            row_max = logits.amax(dim=1, keepdim=True)
            probs = logits.sub_(row_max).exp_()
            total = probs.sum(dim=1, keepdim=True)
            nll[rows] = (row_max + total.log()).squeeze(1) - target_logit
            # d nll_t / d logits = softmax - onehot(y_t), times the token's weight
            probs.div_(total)
            probs[torch.arange(len(y), device=y.device), y] -= 1.0
            grad_logits = probs.mul_(w[:, None]).to(weight.dtype)
            grad_hidden[rows] = grad_logits @ weight
            if want_weight:
                grad_weight.addmm_(grad_logits.T.float(), h.float())
        # finished gradients, not inputs: kept on ctx (not save_for_backward) so that
        # backward may scale them in place instead of allocating another [V, H]
        ctx.grads = (grad_hidden, grad_weight.to(weight.dtype) if want_weight else None)
        ctx.mark_non_differentiable(nll)
        loss = (token_weights.float() * nll).sum()
        return loss, nll

    @staticmethod
    def backward(ctx, grad_loss, _grad_nll):
        grad_hidden, grad_weight = ctx.grads
        del ctx.grads  # once only: the graph is not kept for a second backward
        if grad_loss.item() != 1.0:
            grad_hidden.mul_(grad_loss)
            if grad_weight is not None:
                grad_weight.mul_(grad_loss)
        return grad_hidden, grad_weight, None, None, None


def fused_linear_weighted_nll(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    token_weights: torch.Tensor | None = None,
    backend: str = "auto",
    chunk_rows: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum_t w_t * nll_t, nll) for rows ``hidden`` [T, H] under the LM head ``weight`` [V, H].

    ``targets`` [T] holds token ids (IGNORE_INDEX rows count nothing); ``token_weights`` [T]
    are constants (default 1). The returned nll [T] carries no gradient (0 on ignored
    rows). Rows whose weight is 0 are skipped entirely (DCO's "done" examples cost nothing).
    backend: "torch", "triton" or "auto" (= torch for now; see _use_triton).
    """
    if hidden.dim() != 2 or weight.dim() != 2 or hidden.shape[1] != weight.shape[1]:
        raise ValueError(f"hidden [T, H] and weight [V, H] expected, got {tuple(hidden.shape)} and {tuple(weight.shape)}")
    if token_weights is None:
        token_weights = torch.ones(targets.shape, dtype=torch.float32, device=hidden.device)
    token_weights = token_weights.detach()
    live = (targets != IGNORE_INDEX) & (token_weights != 0)
    nll = torch.zeros(targets.shape, dtype=torch.float32, device=hidden.device)
    if not bool(live.any()):
        return (hidden.sum() + weight.sum()) * 0.0, nll
    all_live = bool(live.all())
    h = hidden if all_live else hidden[live]
    y = targets if all_live else targets[live]
    w = token_weights if all_live else token_weights[live]
    if _use_triton(backend, hidden):
        from .fused_linear_loss_triton import triton_linear_nll

        live_nll = triton_linear_nll(h, weight, y)
        loss = (w.float() * live_nll).sum()
        live_nll = live_nll.detach()
    else:
        loss, live_nll = _ChunkedWeightedNLL.apply(h, weight, y, w, chunk_rows or default_chunk_rows(weight.shape[0]))
    if all_live:
        return loss, live_nll
    nll[live] = live_nll
    return loss, nll


def token_nll(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """Per-token nll without gradient (0 on IGNORE_INDEX rows): DCO's first pass for p̂."""
    live = targets != IGNORE_INDEX
    nll = torch.zeros(targets.shape, dtype=torch.float32, device=hidden.device)
    if not bool(live.any()):
        return nll
    h, y = hidden.detach()[live], targets[live]
    if _use_triton(backend, hidden):
        from .fused_linear_loss_triton import triton_linear_nll

        with torch.no_grad():
            nll[live] = triton_linear_nll(h, weight.detach(), y)
    else:
        nll[live] = chunked_token_nll(h, weight.detach(), y)
    return nll


def naive_linear_weighted_nll(hidden, weight, targets, token_weights=None):
    """The baseline: full logits, then cross-entropy, as transformers computes it."""
    logits = (hidden @ weight.T).float()
    nll = torch.nn.functional.cross_entropy(logits, targets, ignore_index=IGNORE_INDEX, reduction="none")
    if token_weights is None:
        token_weights = torch.ones_like(nll)
    return (token_weights.detach().float() * nll).sum(), nll.detach()


def _use_triton(backend: str, hidden: torch.Tensor) -> bool:
    """Only on request: the Triton kernels are checked against the reference (interpreter)
    but not tuned or timed on a GPU yet (their backward recomputes logits once per
    hidden-dimension block), while the chunked torch path runs at matmul speed on both."""
    if backend not in ("auto", "torch", "triton"):
        raise ValueError(f"unknown backend {backend!r} (auto, torch, triton)")
    return backend == "triton"

"""Triton kernels for the fused linear + token NLL (the cut-cross-entropy layout).

Logits never reach global memory: each program computes a (rows x vocab) tile of
``h W^T`` on chip, and
  * ``_nll_forward``        keeps a running log-sum-exp over vocabulary tiles and picks
                            the target logit -> lse[T], nll[T];
  * ``_grad_hidden``        recomputes the tiles of one row block, turns them into
                            g = w_t (softmax - onehot) and accumulates g @ W;
  * ``_grad_weight``        does the same for one vocabulary block, accumulating g^T @ h.
The per-token weights w_t are the upstream gradient of nll (autograd's grad_output), so
CE, DCO and DCO-step all run through these kernels unchanged.

Runs on CUDA, or on the CPU under ``TRITON_INTERPRET=1`` (set before this module is
imported: triton reads it when the kernels are decorated). The plain-torch reference is
``fused_linear_loss.py``; tests compare the two.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK_T, BLOCK_V, BLOCK_H = 16, 64, 32  # tl.dot needs every tile side >= 16


@triton.jit
def _logits_tile(h_ptr, w_ptr, rows, vocab, n_rows, n_vocab, hidden_size,
                 BLOCK_T: tl.constexpr, BLOCK_V: tl.constexpr, BLOCK_H: tl.constexpr):
    """The (rows x vocab) tile of h @ W^T in fp32, looping over the hidden dimension."""
    acc = tl.zeros((BLOCK_T, BLOCK_V), dtype=tl.float32)
    for k0 in range(0, hidden_size, BLOCK_H):
        k = k0 + tl.arange(0, BLOCK_H)
        h = tl.load(h_ptr + rows[:, None] * hidden_size + k[None, :],
                    mask=(rows[:, None] < n_rows) & (k[None, :] < hidden_size), other=0.0)
        w = tl.load(w_ptr + vocab[:, None] * hidden_size + k[None, :],
                    mask=(vocab[:, None] < n_vocab) & (k[None, :] < hidden_size), other=0.0)
        acc += tl.dot(h, tl.trans(w), input_precision="ieee")
    return tl.where(vocab[None, :] < n_vocab, acc, float("-inf"))


@triton.jit
def _nll_forward(h_ptr, w_ptr, y_ptr, lse_ptr, nll_ptr, n_rows, n_vocab, hidden_size,
                 BLOCK_T: tl.constexpr, BLOCK_V: tl.constexpr, BLOCK_H: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_T + tl.arange(0, BLOCK_T)
    y = tl.load(y_ptr + rows, mask=rows < n_rows, other=0)
    running_max = tl.full((BLOCK_T,), float("-inf"), dtype=tl.float32)
    running_sum = tl.zeros((BLOCK_T,), dtype=tl.float32)
    target_logit = tl.zeros((BLOCK_T,), dtype=tl.float32)
    for v0 in range(0, n_vocab, BLOCK_V):
        vocab = v0 + tl.arange(0, BLOCK_V)
        logits = _logits_tile(h_ptr, w_ptr, rows, vocab, n_rows, n_vocab, hidden_size, BLOCK_T, BLOCK_V, BLOCK_H)
        new_max = tl.maximum(running_max, tl.max(logits, axis=1))
        running_sum = running_sum * tl.exp(running_max - new_max) + tl.sum(tl.exp(logits - new_max[:, None]), axis=1)
        running_max = new_max
        target_logit += tl.sum(tl.where(vocab[None, :] == y[:, None], logits, 0.0), axis=1)
    lse = running_max + tl.log(running_sum)
    tl.store(lse_ptr + rows, lse, mask=rows < n_rows)
    tl.store(nll_ptr + rows, lse - target_logit, mask=rows < n_rows)


@triton.jit
def _grad_logits_tile(h_ptr, w_ptr, y_ptr, lse_ptr, g_ptr, rows, vocab, n_rows, n_vocab, hidden_size,
                      BLOCK_T: tl.constexpr, BLOCK_V: tl.constexpr, BLOCK_H: tl.constexpr):
    """g = w_t * (softmax - onehot(y_t)) on one tile, recomputed from h and W."""
    logits = _logits_tile(h_ptr, w_ptr, rows, vocab, n_rows, n_vocab, hidden_size, BLOCK_T, BLOCK_V, BLOCK_H)
    y = tl.load(y_ptr + rows, mask=rows < n_rows, other=-1)
    lse = tl.load(lse_ptr + rows, mask=rows < n_rows, other=0.0)
    token_weight = tl.load(g_ptr + rows, mask=rows < n_rows, other=0.0)
    probs = tl.exp(logits - lse[:, None])
    onehot = tl.where(vocab[None, :] == y[:, None], 1.0, 0.0)
    return (probs - onehot) * token_weight[:, None]


@triton.jit
def _grad_hidden(h_ptr, w_ptr, y_ptr, lse_ptr, g_ptr, dh_ptr, n_rows, n_vocab, hidden_size,
                 BLOCK_T: tl.constexpr, BLOCK_V: tl.constexpr, BLOCK_H: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_T + tl.arange(0, BLOCK_T)
    cols = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    acc = tl.zeros((BLOCK_T, BLOCK_H), dtype=tl.float32)
    for v0 in range(0, n_vocab, BLOCK_V):
        vocab = v0 + tl.arange(0, BLOCK_V)
        g = _grad_logits_tile(h_ptr, w_ptr, y_ptr, lse_ptr, g_ptr, rows, vocab, n_rows, n_vocab, hidden_size,
                              BLOCK_T, BLOCK_V, BLOCK_H)
        w = tl.load(w_ptr + vocab[:, None] * hidden_size + cols[None, :],
                    mask=(vocab[:, None] < n_vocab) & (cols[None, :] < hidden_size), other=0.0)
        acc += tl.dot(g.to(w.dtype), w, input_precision="ieee")
    tl.store(dh_ptr + rows[:, None] * hidden_size + cols[None, :], acc,
             mask=(rows[:, None] < n_rows) & (cols[None, :] < hidden_size))


@triton.jit
def _grad_weight(h_ptr, w_ptr, y_ptr, lse_ptr, g_ptr, dw_ptr, n_rows, n_vocab, hidden_size,
                 BLOCK_T: tl.constexpr, BLOCK_V: tl.constexpr, BLOCK_H: tl.constexpr):
    vocab = tl.program_id(0) * BLOCK_V + tl.arange(0, BLOCK_V)
    cols = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    acc = tl.zeros((BLOCK_V, BLOCK_H), dtype=tl.float32)
    for r0 in range(0, n_rows, BLOCK_T):
        rows = r0 + tl.arange(0, BLOCK_T)
        g = _grad_logits_tile(h_ptr, w_ptr, y_ptr, lse_ptr, g_ptr, rows, vocab, n_rows, n_vocab, hidden_size,
                              BLOCK_T, BLOCK_V, BLOCK_H)
        h = tl.load(h_ptr + rows[:, None] * hidden_size + cols[None, :],
                    mask=(rows[:, None] < n_rows) & (cols[None, :] < hidden_size), other=0.0)
        acc += tl.dot(tl.trans(g).to(h.dtype), h, input_precision="ieee")
    tl.store(dw_ptr + vocab[:, None] * hidden_size + cols[None, :], acc,
             mask=(vocab[:, None] < n_vocab) & (cols[None, :] < hidden_size))


class _TritonLinearNLL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets):
        hidden, weight, targets = hidden.contiguous(), weight.contiguous(), targets.contiguous()
        n_rows, hidden_size = hidden.shape
        lse = torch.empty(n_rows, dtype=torch.float32, device=hidden.device)
        nll = torch.empty_like(lse)
        _nll_forward[(triton.cdiv(n_rows, BLOCK_T),)](
            hidden, weight, targets, lse, nll, n_rows, weight.shape[0], hidden_size,
            BLOCK_T=BLOCK_T, BLOCK_V=BLOCK_V, BLOCK_H=BLOCK_H)
        ctx.save_for_backward(hidden, weight, targets, lse)
        return nll

    @staticmethod
    def backward(ctx, grad_nll):
        hidden, weight, targets, lse = ctx.saved_tensors
        n_rows, hidden_size = hidden.shape
        n_vocab = weight.shape[0]
        token_weights = grad_nll.float().contiguous()
        grad_hidden = torch.empty(hidden.shape, dtype=torch.float32, device=hidden.device)
        grad_weight = torch.empty(weight.shape, dtype=torch.float32, device=weight.device)
        h_blocks = triton.cdiv(hidden_size, BLOCK_H)
        args = (n_rows, n_vocab, hidden_size)
        blocks = {"BLOCK_T": BLOCK_T, "BLOCK_V": BLOCK_V, "BLOCK_H": BLOCK_H}
        _grad_hidden[(triton.cdiv(n_rows, BLOCK_T), h_blocks)](
            hidden, weight, targets, lse, token_weights, grad_hidden, *args, **blocks)
        _grad_weight[(triton.cdiv(n_vocab, BLOCK_V), h_blocks)](
            hidden, weight, targets, lse, token_weights, grad_weight, *args, **blocks)
        return grad_hidden.to(hidden.dtype), grad_weight.to(weight.dtype), None


def triton_linear_nll(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """nll [T] (fp32) of rows under the LM head; differentiable in hidden and weight."""
    return _TritonLinearNLL.apply(hidden, weight, targets)

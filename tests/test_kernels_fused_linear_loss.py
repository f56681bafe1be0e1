"""The fused chunked linear + loss (torch and Triton) against the naive full-logits path."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton decorates the kernels

import pytest
import torch

from proofsmith.kernels.fused_linear_loss import (
    IGNORE_INDEX,
    fused_linear_weighted_nll,
    naive_linear_weighted_nll,
    token_nll,
)


def _problem(rows=45, hidden=40, vocab=150, seed=0):
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(rows, hidden, generator=gen)
    w = torch.randn(vocab, hidden, generator=gen) * 0.5
    y = torch.randint(0, vocab, (rows,), generator=gen)
    y[[2, 7]] = IGNORE_INDEX
    weights = torch.rand(rows, generator=gen) + 0.1
    weights[11] = 0.0  # a zero-weight row is skipped but must still come out right
    return h, w, y, weights


def _loss_and_grads(fn, h, w, y, weights, **kw):
    h = h.clone().requires_grad_()
    w = w.clone().requires_grad_()
    loss, nll = fn(h, w, y, weights, **kw)
    grad_h, grad_w = torch.autograd.grad(loss * 1.7, (h, w))  # a non-unit upstream gradient
    return loss.detach(), nll, grad_h, grad_w


def _assert_close(ours, ref):
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item() + 1e-7)


@pytest.mark.parametrize("chunk_rows", [7, 16, 1000])
def test_torch_chunked_matches_naive(chunk_rows):
    h, w, y, weights = _problem()
    ref = _loss_and_grads(naive_linear_weighted_nll, h, w, y, weights)
    ours = _loss_and_grads(fused_linear_weighted_nll, h, w, y, weights, backend="torch", chunk_rows=chunk_rows)
    _assert_close(ours[0], ref[0])
    live = weights != 0
    _assert_close(ours[1][live], ref[1][live])
    for got, want in zip(ours[2:], ref[2:]):
        _assert_close(got, want)
    assert ours[2][y == IGNORE_INDEX].abs().max() == 0


def test_triton_interpreted_matches_torch_reference():
    pytest.importorskip("triton")
    h, w, y, weights = _problem(rows=37, hidden=48, vocab=100, seed=1)
    ref = _loss_and_grads(fused_linear_weighted_nll, h, w, y, weights, backend="torch")
    ours = _loss_and_grads(fused_linear_weighted_nll, h, w, y, weights, backend="triton")
    for got, want in zip(ours, ref):
        _assert_close(got, want)
    want = torch.nn.functional.cross_entropy(h @ w.T, y, ignore_index=IGNORE_INDEX, reduction="none")
    _assert_close(token_nll(h, w, y, backend="triton"), want)


def test_token_nll_is_cross_entropy_per_row():
    h, w, y, _ = _problem(seed=2)
    want = torch.nn.functional.cross_entropy(h @ w.T, y, ignore_index=IGNORE_INDEX, reduction="none")
    _assert_close(token_nll(h, w, y, backend="torch"), want)


def test_large_logits_stay_finite():
    h, w, y, weights = _problem(seed=3)
    ref = _loss_and_grads(naive_linear_weighted_nll, h * 30, w, y, weights)
    ours = _loss_and_grads(fused_linear_weighted_nll, h * 30, w, y, weights, backend="torch", chunk_rows=8)
    assert torch.isfinite(ours[0]) and torch.isfinite(ours[2]).all()
    _assert_close(ours[2], ref[2])


def test_all_rows_ignored_gives_zero_loss_and_grads():
    h, w, y, weights = _problem()
    y[:] = IGNORE_INDEX
    loss, nll, grad_h, grad_w = _loss_and_grads(fused_linear_weighted_nll, h, w, y, weights)
    assert loss == 0 and nll.abs().sum() == 0 and grad_h.abs().sum() == 0 and grad_w.abs().sum() == 0

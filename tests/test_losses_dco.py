"""CE, DCO and DCO-step: values and gradients against the paper's formula under autograd."""

import math

import pytest
import torch

from proofsmith.provers.training.losses import dco_loss, dco_weight, naive_sequence_loss, sequence_loss


def _batch(seed=0, rows=24, hidden=32, vocab=16, segments=8):
    """2-4 tokens per target over a small vocabulary: p̂ from ~1e-5 up, where the naive
    formula is still exact in float64 (it rounds to -log(0) once p̂ < 1e-16)."""
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(rows, hidden, generator=gen, dtype=torch.float64) * 0.5
    w = torch.randn(vocab, hidden, generator=gen, dtype=torch.float64) * 0.5
    y = torch.randint(0, vocab, (rows,), generator=gen)
    seg = torch.arange(rows) * segments // rows
    confident = seg % 3 == 1  # some targets the model already finds: F spans (0, 1]
    h[confident] = w[y[confident]] * (0.4 * seg[confident, None].double())
    return h, w, y, seg


def _grads(loss_fn, h, w):
    h = h.clone().requires_grad_()
    w = w.clone().requires_grad_()
    loss = loss_fn(h, w)
    return (loss.detach(), *torch.autograd.grad(loss, (h, w)))


@pytest.mark.parametrize("kind,n", [("ce", 1), ("dco", 1), ("dco", 4), ("dco", 64), ("dco-step", 8)])
def test_fused_loss_and_gradients_match_autograd_of_the_formula(kind, n):
    h, w, y, seg = _batch()
    n_examples = 3
    ours = _grads(lambda h, w: sequence_loss(h.float(), w.float(), y, seg, n_examples, kind, n, backend="torch").loss,
                  h.float(), w.float())
    ref = _grads(lambda h, w: naive_sequence_loss(h @ w.T, y, seg, n_examples, "ce" if kind == "ce" else "dco", n),
                 h, w)
    for got, want in zip(ours, ref):
        torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-4 * want.abs().max().item())


def test_dco_with_n_1_is_cross_entropy():
    h, w, y, seg = _batch(seed=1)
    ce = sequence_loss(h.float(), w.float(), y, seg, 5, "ce", backend="torch").loss
    dco = sequence_loss(h.float(), w.float(), y, seg, 5, "dco", 1, backend="torch").loss
    torch.testing.assert_close(dco, ce, rtol=1e-6, atol=0)
    log_p = torch.linspace(-50, 0, 101, dtype=torch.float64)
    torch.testing.assert_close(dco_loss(log_p, 1), -log_p)
    assert (dco_weight(log_p, 1) == 1).all()


def test_weight_is_minus_derivative_of_the_loss_in_log_p():
    log_p = torch.tensor([-400.0, -30.0, -5.0, -2.0, -0.5, -1e-3, -1e-9], dtype=torch.float64, requires_grad=True)
    for n in (2, 8, 256):
        (grad,) = torch.autograd.grad(dco_loss(log_p, n).sum(), log_p)
        torch.testing.assert_close(dco_weight(log_p.detach(), n), -grad, rtol=1e-9, atol=1e-12)


def test_confidence_limit_shape():
    n = 16
    log_p = torch.log(torch.tensor([1e-6, 1 / n, 0.5, 0.999], dtype=torch.float64))
    f = dco_weight(log_p, n)
    assert f[0] == pytest.approx(1.0, abs=1e-4)  # p̂ ≪ 1/N: CE
    assert 0.2 < f[1] < 1  # p̂ ≈ 1/N: falling
    assert f[2] < 1e-3 and f[3] < 1e-40  # p̂ ≫ 1/N: done
    assert dco_weight(torch.tensor([0.0], dtype=torch.float64), n)[0] == 0


def test_extreme_log_p_is_finite_and_asymptotically_right():
    log_p = torch.tensor([-5000.0, -750.0, -701.0, -699.0, 0.0], dtype=torch.float64)
    loss = dco_loss(log_p, 32)
    assert torch.isfinite(loss).all() and loss[-1] == 0
    torch.testing.assert_close(loss[:4], -(math.log(32) + log_p[:4]), rtol=1e-12, atol=0)
    assert torch.isfinite(dco_weight(log_p, 32)).all()


def test_done_examples_are_skipped():
    h, w, y, seg = _batch(seed=2)
    out = sequence_loss(h.float(), w.float(), y, seg, 5, "dco", 4, backend="torch", skip_below=2.0)
    hh = h.float().clone().requires_grad_()
    loss = sequence_loss(hh, w.float(), y, seg, 5, "dco", 4, backend="torch", skip_below=2.0).loss
    (grad,) = torch.autograd.grad(loss, hh)
    assert (out.weight < 2.0).all() and grad.abs().sum() == 0  # every F < 2: all skipped

"""Speculative sampling is lossless: the distribution of generated tokens is the target's.

Two new tokens after a fixed prompt on a tiny model (vocabulary 8): the exact joint
distribution of (x1, x2) under the warped target is computed from full forwards, and a
chi-square goodness-of-fit test compares it with 4000 samples from each decoding path.
A deliberately different distribution (another temperature) must fail the same test,
which shows the test has power.
"""

import pytest
import torch
from test_decoding_greedy import noisy_copy, tiny_llama

from proofsmith.provers.decoding.engine import Warp, generate
from proofsmith.provers.decoding.drafts import Combined, DraftModel, NgramPool, PromptLookup

PROMPT = [1, 2, 3, 4, 1, 2, 3, 5, 1, 2, 3, 4, 1, 2]
SAMPLES = 4000


@pytest.fixture(scope="module")
def model():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tiny_llama(5, vocab=8, layers=2, scale=8.0)
    torch.set_num_threads(before)


def exact_joint(model, warp: Warp) -> torch.Tensor:
    """P(x1, x2 | prompt) under the warped target, shape (V, V)."""
    with torch.no_grad():
        first = warp.probs(model(torch.tensor([PROMPT])).logits[0, -1])
        vocab = first.shape[0]
        seqs = torch.tensor([PROMPT + [t] for t in range(vocab)])
        second = warp.probs(model(seqs).logits[:, -1])
    return first[:, None] * second


def chi_square_p(counts: torch.Tensor, probs: torch.Tensor) -> float:
    """Goodness-of-fit p-value; cells expecting fewer than 5 are pooled into one."""
    expected = probs.flatten().double() * counts.sum()
    observed = counts.flatten().double()
    small = expected < 5
    exp = torch.cat([expected[~small], expected[small].sum()[None]])
    obs = torch.cat([observed[~small], observed[small].sum()[None]])
    keep = exp > 0
    stat = ((obs[keep] - exp[keep]) ** 2 / exp[keep]).sum()
    dof = int(keep.sum()) - 1
    return float(torch.special.gammaincc(torch.tensor(dof / 2.0, dtype=torch.double), stat / 2))


def sample_counts(model, warp: Warp, draft, seed: int, samples: int = SAMPLES,
                  backend: str = "auto") -> tuple[torch.Tensor, object]:
    gen = torch.Generator().manual_seed(seed)
    # drafting forced on for every row (the adaptive budget would switch it off for a batch this wide)
    out = generate(model, [PROMPT] * samples, 2, temperature=warp.temperature, top_p=warp.top_p, draft=draft,
                   generator=gen, adaptive=False, max_draft_tokens=2, max_step_tokens=10**6, backend=backend)
    pairs = torch.tensor(out.tokens)
    vocab = model.config.vocab_size
    counts = torch.bincount(pairs[:, 0] * vocab + pairs[:, 1], minlength=vocab * vocab).reshape(vocab, vocab)
    return counts, out.stats


@pytest.mark.parametrize("temperature,top_p", [(1.0, 1.0), (0.7, 0.9)])
@pytest.mark.parametrize("source", ["plain", "prompt_lookup", "lookup_tree", "combined", "draft_model"])
def test_sampling_distribution_matches_the_target(model, source, temperature, top_p):
    warp = Warp(temperature, top_p)
    draft = {"plain": None, "prompt_lookup": PromptLookup(), "lookup_tree": PromptLookup(branches=3),
             "combined": Combined(PromptLookup(branches=3), NgramPool(key_len=2, branch_len=4)),
             "draft_model": DraftModel(noisy_copy(model, 0.5), generator=torch.Generator().manual_seed(7))}[source]
    # the draft model drafts row by row (its own cache per row): fewer samples keep it quick
    counts, stats = sample_counts(model, warp, draft, seed=11, samples=1500 if source == "draft_model" else SAMPLES)
    if draft is not None:  # acceptances and rejections both happened
        assert 0 < stats.accepted < stats.drafted
    assert chi_square_p(counts, exact_joint(model, warp)) > 1e-3


def test_sampling_through_transformers_forward_matches_the_target(model):
    """The engine's other target (any model, any device): the same exactness."""
    warp = Warp(0.7, 0.9)
    counts, stats = sample_counts(model, warp, PromptLookup(branches=3), seed=13, backend="hf")
    assert 0 < stats.accepted < stats.drafted
    assert chi_square_p(counts, exact_joint(model, warp)) > 1e-3


def test_the_chi_square_test_has_power(model):
    counts, _ = sample_counts(model, Warp(1.3, 1.0), PromptLookup(), seed=12)
    assert chi_square_p(counts, exact_joint(model, Warp(1.0, 1.0))) < 1e-6


def test_nan_and_zero_rows_do_not_poison_sampling():
    probs = Warp(1.0, 0.5).probs(torch.tensor([[float("nan")] * 4, [0.0, 1.0, 2.0, 3.0]]))
    assert torch.isfinite(probs).all()
    assert torch.allclose(probs.sum(-1), torch.ones(2))


def test_a_first_mask_constrains_the_first_token_and_keeps_the_models_logprob(model):
    """`stream(first_mask=...)`: first tokens follow the warped target restricted to the allowed
    tokens (chi-square), later tokens are free, and each row's first log-probability is the model's own."""
    from proofsmith.provers.decoding.engine import stream

    warp, allowed = Warp(0.8, 1.0), [2, 5, 6]
    vocab = model.config.vocab_size
    mask = torch.full((vocab,), float("-inf"))
    mask[allowed] = 0.0
    rows = list(stream(model, [PROMPT] * 2000, 2, temperature=warp.temperature, top_p=warp.top_p,
                       generator=torch.Generator().manual_seed(5), first_mask=mask))
    firsts = torch.tensor([r.tokens[0] for r in rows])
    with torch.no_grad():
        logits = model(torch.tensor([PROMPT])).logits[0, -1].float()
    assert set(firsts.tolist()) <= set(allowed)
    assert chi_square_p(torch.bincount(firsts, minlength=vocab), warp.probs(logits + mask)) > 1e-3
    model_logp = torch.log_softmax(logits, -1)
    assert all(abs(r.logprobs[0] - float(model_logp[r.tokens[0]])) < 1e-4 for r in rows[:50])
    assert len({r.tokens[1] for r in rows} - set(allowed)) > 0  # the mask held for the first token only

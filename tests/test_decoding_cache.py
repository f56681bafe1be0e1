"""Tree attention and KV-cache rollback of both targets (transformers' forward with a 4D
mask, and the packed static-cache target), against forwards without a cache."""

import pytest
import torch
from test_decoding_greedy import tiny_llama

from proofsmith.provers.decoding.engine import Proposal, _tree_tensors
from proofsmith.provers.decoding.drafts import _TreeBuilder
from proofsmith.provers.decoding.targets import open_target


@pytest.fixture(scope="module")
def model():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tiny_llama(3, vocab=40)
    torch.set_num_threads(before)


def no_cache_last_logits(model, tokens):
    with torch.no_grad():
        return model(torch.tensor([tokens])).logits[0, -1]


@pytest.fixture(params=["hf", "packed"])
def backend(request):
    return request.param


def prefilled(model, prompts, backend):
    """A target holding all but the last token of each prompt."""
    with torch.no_grad():
        return open_target(model, prompts, 64, 0, backend)


def tree(*branches):
    builder = _TreeBuilder(64)
    for branch in branches:
        builder.add(branch)
    return builder.proposal()


def path_to(prop: Proposal, node: int) -> list[int]:
    out = []
    while node >= 0:
        out.append(prop.tokens[node])
        node = prop.parents[node]
    return out[::-1]


PROMPTS = [[3, 9, 4, 12, 7, 7, 30, 2], [5, 6, 1, 8]]  # uneven: the rows' caches differ in length
TREES = [tree([11, 12, 13], [11, 20], [14, 15, 16, 17], [11, 12, 18]), tree([21], [22, 23])]


def test_tree_logits_equal_each_branch_run_alone(model, backend):
    cache = prefilled(model, PROMPTS, backend)
    pending = [p[-1] for p in PROMPTS]
    tokens, depth, ancestors, valid, _ = _tree_tensors(TREES, pending, 0, torch.device("cpu"))
    with torch.no_grad():
        logits = cache.forward(tokens, depth, ancestors, valid)
    for b, (prompt, prop) in enumerate(zip(PROMPTS, TREES)):
        torch.testing.assert_close(logits[b, 0], no_cache_last_logits(model, prompt), atol=1e-4, rtol=1e-4)
        for j in range(len(prop.tokens)):
            expected = no_cache_last_logits(model, prompt + path_to(prop, j))
            torch.testing.assert_close(logits[b, j + 1], expected, atol=1e-4, rtol=1e-4)


def test_rollback_keeps_only_the_accepted_path(model, backend):
    """Row 0 accepts the branch 11,20 (tree nodes 1, 4); row 1 accepts nothing; then one more step."""
    cache = prefilled(model, PROMPTS, backend)
    pending = [p[-1] for p in PROMPTS]
    tokens, depth, ancestors, valid, _ = _tree_tensors(TREES, pending, 0, torch.device("cpu"))
    with torch.no_grad():
        cache.forward(tokens, depth, ancestors, valid)
    width = tokens.shape[1]
    keep = torch.zeros(2, width, dtype=torch.long)
    keep[0, :3] = torch.tensor([0, 1, 4])
    counts = torch.tensor([3, 1])
    cache.keep(width, keep, counts)
    assert cache.lengths.tolist() == [len(PROMPTS[0]) + 2, len(PROMPTS[1])]
    if backend == "hf":  # holes of rows that accepted less are masked, not counted
        assert cache.valid.sum(1).tolist() == cache.lengths.tolist()
    # the next step: each row's pending token, one draft each, against the rolled-back cache
    history = [PROMPTS[0] + [11, 20], PROMPTS[1]]
    nxt = [Proposal.chain([25, 26]), Proposal.chain([27])]
    tokens, depth, ancestors, valid, _ = _tree_tensors(nxt, [9, 10], 0, torch.device("cpu"))
    with torch.no_grad():
        logits = cache.forward(tokens, depth, ancestors, valid)
    for b, (hist, prop) in enumerate(zip(history, nxt)):
        for j in range(len(prop.tokens) + 1):
            expected = no_cache_last_logits(model, hist + [[9, 10][b]] + prop.tokens[:j])
            torch.testing.assert_close(logits[b, j], expected, atol=1e-4, rtol=1e-4)


def test_select_rows_drops_finished_rows(model, backend):
    cache = prefilled(model, PROMPTS, backend)
    cache.select_rows(torch.tensor([1]))
    tokens, depth, ancestors, valid, _ = _tree_tensors([Proposal.chain([3])], [PROMPTS[1][-1]], 0,
                                                       torch.device("cpu"))
    with torch.no_grad():
        logits = cache.forward(tokens, depth, ancestors, valid)
    torch.testing.assert_close(logits[0, 1], no_cache_last_logits(model, PROMPTS[1] + [3]), atol=1e-4, rtol=1e-4)


def test_one_token_prompts_and_a_long_one_share_a_batch(model, backend):
    prompts = [[7], PROMPTS[0] * 3, [8, 9]]
    cache = prefilled(model, prompts, backend)
    tokens, depth, ancestors, valid, _ = _tree_tensors([Proposal.chain([5]), Proposal(), Proposal.chain([1, 2])],
                                                       [p[-1] for p in prompts], 0, torch.device("cpu"))
    with torch.no_grad():
        logits = cache.forward(tokens, depth, ancestors, valid)
    torch.testing.assert_close(logits[0, 1], no_cache_last_logits(model, [7, 5]), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logits[1, 0], no_cache_last_logits(model, prompts[1]), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logits[2, 2], no_cache_last_logits(model, [8, 9, 1, 2]), atol=1e-4, rtol=1e-4)

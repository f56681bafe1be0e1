"""Greedy speculative decoding is lossless: identical tokens to plain greedy decoding."""

import pytest
import torch

from proofsmith.core import ProofsmithError
from proofsmith.provers.decoding.engine import generate
from proofsmith.provers.decoding.drafts import Combined, DraftModel, NgramPool, PromptLookup, early_exit


def tiny_llama(seed: int, vocab: int = 48, layers: int = 3, scale: float = 6.0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=False)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # sharper logits: outputs that repeat themselves, as small LMs do
        model.lm_head.weight.mul_(scale)
    model.generation_config.eos_token_id = None  # plain greedy runs the full length, like ours without EOS
    return model


def hf_greedy(model, prompt, n, eos=None):
    x = torch.tensor([prompt])
    out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=n, do_sample=False,
                         eos_token_id=eos, pad_token_id=0)
    return out[0, len(prompt):].tolist()


PROMPTS = [
    [1, 5, 6, 7, 8, 5, 6, 7, 9, 3, 11, 12, 13],
    [4, 4, 2, 7, 8, 9, 10, 11, 7, 8, 9],
    [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 30, 31],
    [17, 2],
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread (and do not fight other work for cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def target():
    return tiny_llama(0)


def noisy_copy(model, noise: float = 0.02, seed: int = 1):
    """A draft model that mostly, not always, agrees with the target."""
    import copy

    draft = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in draft.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * noise * p.std())
    return draft


@pytest.fixture(scope="module")
def references(target):
    return [hf_greedy(target, p, 24) for p in PROMPTS]


def test_references_are_not_degenerate(references):
    assert any(len(set(ref)) > 3 for ref in references)


def drafts(target):
    return {
        "prompt_lookup": PromptLookup(),
        "lookup_tree": PromptLookup(branches=4),
        "ngram_pool": NgramPool(key_len=2, branch_len=6),
        "draft_model": DraftModel(noisy_copy(target, 0.3)),
        "early_exit": early_exit(target, layers=1),
        "combined": Combined(PromptLookup(branches=4), NgramPool(key_len=2, branch_len=6), DraftModel(noisy_copy(target, 0.3))),
    }


@pytest.mark.parametrize("backend", ["packed", "hf"])
@pytest.mark.parametrize("name", ["none", "prompt_lookup", "lookup_tree", "ngram_pool", "draft_model", "early_exit",
                                  "combined"])
def test_greedy_identical_to_plain(target, references, name, backend):
    source = None if name == "none" else drafts(target)[name]
    drafted = accepted = 0
    for prompt, ref in zip(PROMPTS, references):
        out = generate(target, [prompt], 24, draft=source, backend=backend)
        assert out.tokens[0] == ref
        assert len(out.logprobs[0]) == 24 and all(lp <= 0 for lp in out.logprobs[0])
        drafted += out.stats.drafted
        accepted += out.stats.accepted
    if source is not None:  # both accepting and rejecting (i.e. rolling back) happened
        assert 0 < accepted < drafted


def test_logprobs_match_a_full_forward(target):
    prompt = PROMPTS[0]
    out = generate(target, [prompt], 10, draft=PromptLookup(branches=3))
    seq = torch.tensor([prompt + out.tokens[0]])
    with torch.no_grad():
        logp = target(seq).logits[0].log_softmax(-1)
    expected = [float(logp[len(prompt) - 1 + i, t]) for i, t in enumerate(out.tokens[0])]
    assert out.logprobs[0] == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("backend", ["packed", "hf"])
@pytest.mark.parametrize("name", ["none", "lookup_tree", "draft_model", "combined"])
def test_batch_rows_equal_single_rows(target, name, backend):
    source = None if name == "none" else drafts(target)[name]
    single = [generate(target, [p], 20, draft=source, backend=backend).tokens[0] for p in PROMPTS]
    fresh = None if name == "none" else drafts(target)[name]
    batched = generate(target, PROMPTS, 20, draft=fresh, backend=backend)
    assert batched.tokens == single


def test_eos_stops_each_row(target, references):
    eos = references[0][5]
    out = generate(target, PROMPTS, 24, draft=PromptLookup(), eos_token_id=eos)
    for tokens, ref in zip(out.tokens, references):
        cut = ref.index(eos) + 1 if eos in ref else len(ref)
        assert tokens == ref[:cut]


def test_bad_input_is_a_user_error(target):
    with pytest.raises(ProofsmithError):
        generate(target, [[]], 4)
    with pytest.raises(ProofsmithError):
        generate(target, [[1, 2]], 0)


@pytest.fixture(scope="module")
def default_model():
    from proofsmith.provers.decoding.models import cached_model

    try:
        return cached_model()
    except ProofsmithError as exc:
        pytest.skip(str(exc))


DEFAULT_PROMPTS = [
    "Lemma app_nil_r : forall (A : Type) (l : list A), l ++ [] = l.\nProof.\n  induction l.\n",
    "def add(a: int, b: int) -> int:\n    \"\"\"Return a + b.\n    >>> add(2, 3)\n    5\n    \"\"\"\n",
]


@pytest.mark.model
def test_default_model_greedy_identical(default_model):
    model, tok = default_model.model, default_model.tokenizer
    ids = [tok(p).input_ids for p in DEFAULT_PROMPTS]
    eos = tok.eos_token_id
    refs = [hf_greedy(model, i, 10, eos) for i in ids]
    for source in (PromptLookup(branches=4), NgramPool()):
        for i, ref in zip(ids, refs):
            assert generate(model, [i], 10, draft=source, eos_token_id=eos).tokens[0] == ref
    assert generate(model, ids, 10, draft=PromptLookup(branches=4), eos_token_id=eos).tokens == refs

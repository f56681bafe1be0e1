"""Which target runs the model, and the packed target against transformers' own forward."""

import pytest
import torch
from test_decoding_greedy import hf_greedy, tiny_llama

from proofsmith.core import ProofsmithError
from proofsmith.provers.decoding import packed_llama
from proofsmith.provers.decoding.engine import generate
from proofsmith.provers.decoding.drafts import PromptLookup
from proofsmith.provers.decoding.targets import HFTarget, open_target

PROMPT = [1, 5, 6, 7, 8, 5, 6, 7, 9, 3, 11, 12, 13]


def tiny(model_type: str):
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    config = AutoConfig.for_model(model_type, vocab_size=48, hidden_size=64, intermediate_size=128,
                                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                  max_position_embeddings=256, tie_word_embeddings=False)
    if model_type == "mistral":
        config.sliding_window = 4096  # longer than anything generated here
    model = AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(6.0)
        for name, p in model.named_parameters():
            if name.endswith("bias"):  # qwen2's q/k/v biases: not zero, so they count
                p.normal_(0, 0.5)
    model.generation_config.eos_token_id = None
    return model


@pytest.mark.parametrize("model_type", ["llama", "qwen2", "mistral"])
def test_packed_target_equals_transformers(model_type):
    model = tiny(model_type)
    assert isinstance(open_target(model, [PROMPT], 64), packed_llama.PackedLlamaTarget)
    with torch.no_grad():
        full = model(torch.tensor([PROMPT])).logits[0, -1]
        target = open_target(model, [PROMPT], 64, backend="packed")
        one = torch.ones(1, 1, 1, dtype=torch.bool)
        step = target.forward(torch.tensor([[PROMPT[-1]]]), torch.zeros(1, 1, dtype=torch.long), one,
                              torch.ones(1, 1, dtype=torch.bool))
    torch.testing.assert_close(step[0, 0], full, atol=1e-4, rtol=1e-4)
    ref = hf_greedy(model, PROMPT, 16)
    assert generate(model, [PROMPT], 16, draft=PromptLookup(branches=3)).tokens[0] == ref


def test_other_models_and_dtypes_run_through_transformers():
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=48, n_embd=32, n_layer=1, n_head=2, n_positions=64)).eval()
    assert isinstance(open_target(gpt2, [PROMPT], 64), HFTarget)
    assert not packed_llama.supports(tiny_llama(0).to(torch.bfloat16))
    windowed = tiny("mistral")
    windowed.config.sliding_window = 16  # a window shorter than the generation: transformers handles it
    assert isinstance(open_target(windowed, [PROMPT], 64), HFTarget)
    with pytest.raises(ProofsmithError, match="packed backend"):
        open_target(gpt2, [PROMPT], 64, backend="packed")
    with pytest.raises(ProofsmithError, match="unknown decoding backend"):
        open_target(gpt2, [PROMPT], 64, backend="fast")


def test_weights_changed_in_place_are_repacked():
    """A training step updates parameters in place: the next generate must see the new weights."""
    model = tiny_llama(2)
    before = generate(model, [PROMPT], 12).tokens[0]
    with torch.no_grad():
        model.lm_head.weight.copy_(tiny_llama(3).lm_head.weight)
    after = generate(model, [PROMPT], 12).tokens[0]
    assert after == hf_greedy(model, PROMPT, 12) and after != before


@pytest.mark.parametrize("backend", ["packed", "hf"])
def test_a_prompt_sharing_the_previous_prefix_starts_from_it(backend, monkeypatch):
    """Prefix caching skips the shared tokens and changes nothing: outputs equal a fresh encoding."""
    from proofsmith.provers.decoding.prefix_store import PrefixStore

    model = tiny_llama(4)
    shots = [3, 9, 4, 12, 7, 7, 30, 2, 5, 6, 1, 8]  # a few-shot prefix shared by every prompt
    generate(model, [shots + [11, 12]], 4, backend=backend)
    reused = []
    lookup = PrefixStore.lookup
    monkeypatch.setattr(PrefixStore, "lookup", lambda self, heads: reused.append(lookup(self, heads)[0])
                        or lookup(self, heads))
    prompts = [shots + [20, 21, 22], shots + [23], shots[:5]]
    cached = generate(model, prompts, 10, draft=PromptLookup(branches=2), backend=backend)
    assert reused == [4]  # the shortest row's head, shots[:4], is all that every row shares with the store
    fresh = generate(model, prompts, 10, draft=PromptLookup(branches=2), backend=backend, prefix_cache=False)
    assert cached.tokens == fresh.tokens == [hf_greedy(model, p, 10) for p in prompts]
    for got, want in zip(cached.logprobs, fresh.logprobs):
        assert got == pytest.approx(want, abs=1e-4)
    generate(model, [shots + [20, 21]], 4, backend=backend)  # the store now holds row 0 of the last call
    assert reused[-1] == len(shots) + 1


def test_lora_layers_run_through_transformers():
    """An adapter's layers are not nn.Linear: packing their base weights would drop the adapter."""
    from peft import LoraConfig, get_peft_model

    model = tiny_llama(5)
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    assert not packed_llama.supports(peft_model) and not packed_llama.supports(peft_model.get_base_model())
    assert isinstance(open_target(peft_model.get_base_model(), [PROMPT], 64), HFTarget)

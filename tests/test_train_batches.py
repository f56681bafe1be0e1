"""Training batches: a shared prompt prefix runs once and gives the loss and gradient of the
unshared batch (a tiny randomly initialised Llama with the default model's tokenizer; the
prompts are the prove layout's real tactic prompts, which share ~330 tokens)."""

import pytest
import torch

from proofsmith.provers.decoding.models import resolve_model_path
from proofsmith.provers.training import batches
from proofsmith.provers.training.batches import hidden_states, make_batch, shared_prefix
from proofsmith.provers.training.data import tactic_example, tokenize
from proofsmith.provers.training.loop import TrainConfig, _decoder_and_head
from proofsmith.provers.training.losses import sequence_loss


@pytest.fixture(scope="module")
def tiny():
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(None))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=True)
    return LlamaForCausalLM(config), tokenizer


def _loss_and_grads(model, tokenizer, rows, config, minimum, monkeypatch):
    monkeypatch.setattr(batches, "SHARED_PREFIX_MIN", minimum)
    model.zero_grad()
    batch = make_batch(rows, 1, config, tokenizer.pad_token_id, "cpu")
    decoder, head = _decoder_and_head(model)
    hidden = hidden_states(decoder, batch)
    picked = hidden[batch["rows"][:, 0], batch["rows"][:, 1]]
    out = sequence_loss(picked, head, batch["targets"], batch["segments"], batch["n_examples"], config.loss,
                        config.n, backend="torch")
    out.loss.backward()
    return out.loss.item(), [p.grad.clone() for p in model.parameters()], batch["prefix_ids"].shape[1]


@pytest.mark.parametrize("loss", ["ce", "dco-step"])
def test_shared_prefix_gives_the_same_loss_and_gradient(tiny, loss, monkeypatch):
    model, tokenizer = tiny
    states = [f"n : nat\n============================\nn + {i} = {i} + n" + " /\\ True" * i for i in range(4)]
    rows = [tokenize(tokenizer, tactic_example(s, t)) for s, t in zip(states, ["lia.", "intros.", "auto.", "split. lia."])]
    config = TrainConfig(loss=loss, n=4, batch_size=4, backend="torch", lora=False)
    shared_loss, shared_grads, shared = _loss_and_grads(model, tokenizer, rows, config, 16, monkeypatch)
    plain_loss, plain_grads, none = _loss_and_grads(model, tokenizer, rows, config, 10**9, monkeypatch)
    assert shared > 300 and none == 0  # the worked examples ran once, then not at all
    assert shared_loss == pytest.approx(plain_loss, rel=1e-5)
    for a, b in zip(shared_grads, plain_grads):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)


def test_shared_prefix_leaves_every_prompt_its_last_token():
    assert shared_prefix([[1, 2, 3], [1, 2, 3, 4]]) == 2
    assert shared_prefix([[1, 2, 3], [1, 5]]) == 1
    assert shared_prefix([[7], [7, 8]]) == 0

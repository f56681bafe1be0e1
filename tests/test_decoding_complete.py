"""decoding.complete: the text level every sampler uses (stops, log-probs) on a tiny model."""

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from proofsmith.provers.decoding.engine import complete
from proofsmith.provers.decoding.models import LoadedModel, resolve_model_path


@pytest.fixture(scope="module")
def tiny():
    tok = AutoTokenizer.from_pretrained(resolve_model_path(None))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    model = LlamaForCausalLM(config).eval()
    return LoadedModel(model=model, tokenizer=tok, name="tiny", device="cpu")


def greedy_reference(lm, ids, n):
    out = lm.model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False, min_new_tokens=n,
                            pad_token_id=0)
    return out[0, len(ids):].tolist()


def test_greedy_equals_plain_and_stops_cut_text_and_logprobs(tiny):
    ids = tiny.tokenizer("Lemma x : forall n, n = n.\nProof.\n  intros n.")["input_ids"]
    reference = greedy_reference(tiny, ids, 24)
    text = tiny.tokenizer.decode(reference)
    stop = text[6:9]  # a stop string that really occurs in the greedy text
    [c] = complete(tiny, [ids], 24, temperature=0, stop=(stop,))
    assert c.finished and stop not in c.text and text.startswith(c.text)
    assert list(c.token_ids) == reference[: len(c.token_ids)]
    assert stop in tiny.tokenizer.decode(list(c.token_ids))
    # log-probabilities are the model's own along the path
    with torch.no_grad():
        logits = tiny.model(torch.tensor([ids + list(c.token_ids)])).logits[0].log_softmax(-1)
    expected = sum(float(logits[len(ids) - 1 + i, t]) for i, t in enumerate(c.token_ids))
    assert c.logprob == pytest.approx(expected, abs=1e-3)


def test_unfinished_rows_and_sampling_rows(tiny):
    ids = tiny.tokenizer("abc")["input_ids"]
    outs = complete(tiny, [ids] * 3, 5, temperature=1.0, top_p=0.9, stop=("never-there",),
                    generator=torch.Generator().manual_seed(1))
    assert len(outs) == 3 and all(len(c.token_ids) == 5 and not c.finished for c in outs)

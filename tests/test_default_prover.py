"""The default prover: the shipped Coq-tuned LoRA adapter on the default model, and the ways out of it.

The resolution tests read only which files exist; the `model` tests load the real
SmolLM2-135M with the real shipped adapter and generate with the engine.
"""

import json

import pytest

from proofsmith.provers.decoding import models
from proofsmith.provers.decoding.models import NO_ADAPTER, default_prover, shipped_adapter


def test_the_adapter_is_shipped_small_and_documented():
    path = shipped_adapter()
    assert path is not None, "provers/adapters/coq-smol must hold adapter_config.json and adapter_model.safetensors"
    sizes = {p.name: p.stat().st_size for p in path.iterdir() if p.is_file()}
    assert sum(sizes.values()) <= 4_000_000, sizes
    config = json.loads((path / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == models.DEFAULT_MODEL  # no machine path
    card = (path / "README.md").read_text()
    assert "proofsmith train" in card and "--lora-r" in card and "step_accuracy" in card


def test_default_prover_is_the_shipped_adapter_unless_the_user_says_otherwise():
    shipped = str(shipped_adapter())
    assert default_prover() == (None, shipped)
    assert default_prover(adapter=NO_ADAPTER) == (None, None)
    assert default_prover(adapter="None ") == (None, None)
    assert default_prover(model="org/other") == ("org/other", None)  # an explicit model runs as given
    assert default_prover(adapter="/my/adapter") == (None, "/my/adapter")
    assert default_prover(model="org/other", adapter="none") == ("org/other", None)


def test_without_shipped_files_the_default_is_the_plain_model(tmp_path, monkeypatch):
    (tmp_path / models.DEFAULT_ADAPTER).mkdir()
    (tmp_path / models.DEFAULT_ADAPTER / "adapter_config.json").write_text("{}")  # weights missing
    monkeypatch.setattr(models, "ADAPTERS_DIR", tmp_path)
    assert shipped_adapter() is None
    assert default_prover() == (None, None)


@pytest.mark.slow
@pytest.mark.model
def test_shipped_adapter_loads_merged_and_changes_what_the_model_writes():
    import torch

    from proofsmith.provers.decoding import packed_llama
    from proofsmith.provers.decoding.engine import complete
    from proofsmith.provers.search import prompts

    plain = models.load_model(*default_prover(adapter=NO_ADAPTER))
    tuned = models.load_model(*default_prover())
    assert not hasattr(tuned.model, "peft_config") and packed_llama.supports(tuned.model)  # merged: the fast path
    prompt = prompts.tactic_prompt("n : nat\n============================\nn + 0 = n")
    ids = tuned.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        a = plain.model(torch.tensor([ids])).logits[0, -1]
        b = tuned.model(torch.tensor([ids])).logits[0, -1]
    assert (a - b).abs().max() > 1e-3  # the adapter is in the weights
    out = complete(tuned, [ids], 24, temperature=0.0, stop=("\n",))[0]
    assert prompts.clean_tactic(out.text), out.text  # one tactic line

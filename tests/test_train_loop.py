"""`proofsmith train`: steps, resume after an interruption, LoRA, --merge, loading the result.

A tiny randomly initialised Llama with the default model's tokenizer keeps these fast;
the end-to-end test on the real default model is marked slow.
"""

import json
import os
import subprocess
import sys

import pytest
import torch

from proofsmith.provers.decoding.models import load_model, resolve_model_path
from proofsmith.provers.training.loop import TrainConfig, train

TASKS = [
    ("Lemma t{i} : {i} + 1 = S {i}.", "Proof. reflexivity. Qed."),
    ("Lemma u{i} : forall P : Prop, P -> P.", "Proof. intros P H. exact H. Qed."),
    ("Lemma v{i} : True /\\ True.", "Proof. split. exact I. exact I. Qed."),
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(None))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=True)
    path = tmp_path_factory.mktemp("tiny")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def tasks_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tasks.jsonl"
    lines = [{"task_id": f"{j}-{i}", "kind": "coq", "prelude": "", "statement": s.format(i=i), "reference": p}
             for i in range(4) for j, (s, p) in enumerate(TASKS)]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return str(path)


def _config(model, **kw):
    base = {"model": model, "loss": "dco", "n": 4, "lora": False, "steps": 4, "batch_size": 3, "lr": 1e-2,
            "checkpoint_every": 2, "log_every": 2, "backend": "torch", "layout": "bare"}
    return TrainConfig(**{**base, **kw})


def _weights(out):
    from safetensors.torch import load_file

    return load_file(os.path.join(out, "model.safetensors"))


def test_resumed_run_equals_uninterrupted_run(tiny_model, tasks_file, tmp_path):
    whole = train(tasks_file, tmp_path / "whole", _config(tiny_model), progress=False)
    assert whole["done"] and whole["steps"] == 4 and whole["examples"] == 12
    stopped = train(tasks_file, tmp_path / "resumed", _config(tiny_model), progress=False, stop_after=2)
    assert stopped == {"stopped_at": 2} and (tmp_path / "resumed" / "checkpoint" / "state.pt").exists()
    resumed = train(tasks_file, tmp_path / "resumed", _config(tiny_model), progress=False)
    assert resumed["final_loss"] == pytest.approx(whole["final_loss"], rel=1e-5)
    for name, tensor in _weights(tmp_path / "whole").items():
        torch.testing.assert_close(_weights(tmp_path / "resumed")[name], tensor, rtol=1e-5, atol=1e-6)
    log = [json.loads(line) for line in (tmp_path / "resumed" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4]
    assert set(log[0]["f_quantiles"]) == {"0", "10", "50", "90", "100"} and 0 <= log[0]["done_share"] <= 1
    assert not (tmp_path / "resumed" / "checkpoint").exists()
    lm = load_model(str(tmp_path / "resumed"), device="cpu")  # a full model dir loads as is
    assert lm.model.config.hidden_size == 32


def test_training_lowers_the_loss(tiny_model, tasks_file, tmp_path):
    summary = train(tasks_file, tmp_path / "ce", _config(tiny_model, loss="ce", steps=12, lr=3e-2), progress=False)
    log = [json.loads(line) for line in (tmp_path / "ce" / "train_log.jsonl").read_text().splitlines()]
    assert summary["final_loss"] < log[0]["loss"] * 0.8


def test_lora_adapter_and_merged_model_load_and_agree(tiny_model, tasks_file, tmp_path):
    from transformers import AutoModelForCausalLM

    config = _config(tiny_model, loss="dco-step", lora=True, lora_r=4, merge=True, steps=2, lr=5e-2)
    train(tasks_file, tmp_path / "out", config, progress=False)
    adapter = tmp_path / "out" / "adapter"
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == tiny_model
    with_adapter = load_model(str(adapter), device="cpu")
    merged = load_model(str(tmp_path / "out"), device="cpu")
    plain = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    ids = with_adapter.tokenizer("Lemma x : True.\nProof.", return_tensors="pt").input_ids
    with torch.no_grad():
        a = with_adapter.model(ids).logits
        torch.testing.assert_close(merged.model(ids).logits, a, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(plain(ids).logits, a, rtol=1e-4, atol=1e-4)
        base = load_model(tiny_model, device="cpu").model(ids).logits
    assert not torch.allclose(base, a)  # the adapter changed something


def test_finished_run_is_not_redone(tiny_model, tasks_file, tmp_path):
    first = train(tasks_file, tmp_path / "o", _config(tiny_model, steps=1), progress=False)
    again = train(tasks_file, tmp_path / "o", _config(tiny_model, steps=1, lr=1.0), progress=False)
    assert again == json.loads((tmp_path / "o" / "train_state.json").read_text())
    assert again["done"] and again["final_loss"] == first["final_loss"]


def test_cli_bad_loss_is_one_line(tasks_file, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "proofsmith", "train", tasks_file, "--out", str(tmp_path / "x"),
                           "--loss", "nope"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "unknown --loss" in proc.stderr


@pytest.mark.slow
@pytest.mark.model
def test_cli_trains_the_default_model_with_lora(tasks_file, tmp_path):
    out = tmp_path / "prover"
    proc = subprocess.run([sys.executable, "-m", "proofsmith", "train", tasks_file, "--out", str(out), "--loss",
                           "dco", "--n", "8", "--steps", "1", "--batch-size", "2", "--layout", "bare"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["done"]
    lm = load_model(str(out), device="cpu")
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()  # LoRA, not full weights
    # the adapter is merged into the default model's weights when loaded (models.load_model), so it runs on the fast path
    assert type(lm.model).__name__ == "LlamaForCausalLM" and lm.model.config.vocab_size == 49152

"""Fine-tune a causal LM prover with CE, DCO or DCO-step (LoRA via peft, or full).

One step: the decoder's last hidden states at target positions go through the fused
LM-head loss (kernels/fused_linear_loss.py) with the loss's per-token weights, so the
(tokens x vocab) logits never exist. Every ``checkpoint_every`` steps the trainable
weights, optimizer and RNG states land atomically in OUT/checkpoint; rerunning the same
command resumes there. OUT/train_log.jsonl gets one line per logged step (loss, the F
distribution and the share of "done" examples). Prompts of one batch that start with the
same tokens (prompts.py's worked examples: ~330 tokens before every tactic prompt) run
that shared prefix once and the rest of each example on its cached keys and values; the
gradient flows back through the cache, so the step is the same as without sharing
(`batches.py`). The result in OUT loads with
``load_model(OUT)``: a LoRA adapter, or with ``merge`` a plain transformers model.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ...core import ProofsmithError
from .batches import hidden_states, make_batch
from .data import Example, load_examples, tokenize
from .losses import LOSSES

DONE_F = 0.01  # F below this counts as a "done" example in the logs


@dataclass(frozen=True)
class TrainConfig:
    model: str | None = None  # hub id, local dir, or None for the offline default
    loss: str = "ce"  # ce | dco | dco-step
    n: float = 16.0  # DCO's N (the test-time attempts), or DCO-step's N_eff
    lora: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    lr: float = 2e-4
    steps: int = 100
    batch_size: int = 8
    max_len: int = 512  # longer examples are skipped (and counted)
    seed: int = 0
    checkpoint_every: int = 25
    log_every: int = 5
    skip_below: float = 0.0  # DCO: targets with F below this skip the LM-head pass
    merge: bool = False
    backend: str = "auto"  # fused loss backend: auto | torch | triton
    pairs: str = "both"
    layout: str = "prove"  # prove: prompts.py's layout (what `proofsmith prove` asks); bare: no examples
    split: str = "train"
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ProofsmithError(f"unknown --loss {self.loss!r} (one of {', '.join(LOSSES)})")
        if self.n < 1:
            raise ProofsmithError(f"--n must be at least 1, got {self.n}")
        if self.steps < 1 or self.batch_size < 1:
            raise ProofsmithError("--steps and --batch-size must be at least 1")


def train(dataset: str | Path, out: str | Path, config: TrainConfig, progress: bool = True,
          stop_after: int | None = None) -> dict:
    """Train (or resume) into OUT; returns a summary. ``stop_after`` ends the run early at
    that step, after its checkpoint, as a kill would (tests use it)."""
    import torch
    from tqdm import tqdm

    from ...outdir import claim

    out = Path(out)
    # new, empty or an earlier training's (else one line): the final files replace only ours
    target = claim(out, "proofsmith train", legacy=("train_state.json", "checkpoint/state.pt"),
                   writes=("README.md",))  # peft's model card
    if (out / "train_state.json").exists():
        state = json.loads((out / "train_state.json").read_text())
        if state.get("done"):
            return state
    _seed_everything(config.seed)
    examples = load_examples(dataset, config.split, config.pairs, limit=config.limit, layout=config.layout)
    lm = _load_trainable(config)
    rows, skipped = _tokenize_all(lm.tokenizer, examples, config.max_len)
    if not rows:
        raise ProofsmithError(f"every example is longer than --max-len {config.max_len}")
    params = [p for p in lm.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    start = _resume(out, lm.model, optimizer)
    log = _TrainLog(out / "train_log.jsonl", keep_until=start)
    bar = tqdm(total=config.steps, initial=start, desc=f"train {config.loss}", disable=not progress, unit="step")
    completed = start
    try:
        for step in range(start + 1, config.steps + 1):
            batch = make_batch(rows, step, config, lm.tokenizer.pad_token_id, lm.device)
            result = _train_step(lm.model, optimizer, params, batch, config)
            completed = step
            log.add(step, result)
            bar.set_postfix(loss=f"{result['loss']:.3f}", done=f"{result['done_share']:.2f}")
            bar.update()
            if step % config.log_every == 0 or step == config.steps:
                log.flush(step)
            if step % config.checkpoint_every == 0 and step < config.steps:
                _save_checkpoint(out, lm.model, optimizer, step, config)
            if stop_after is not None and step >= stop_after:
                return {"stopped_at": step}
    except KeyboardInterrupt:
        if completed > start:
            _save_checkpoint(out, lm.model, optimizer, completed, config)
        raise
    finally:
        bar.close()
    summary = {"done": True, "steps": config.steps, "examples": len(rows), "skipped_too_long": skipped,
               "final_loss": log.last_loss, "config": asdict(config)}
    _save_final(target, lm, config)
    target.write_text("train_state.json", json.dumps(summary, indent=2))
    shutil.rmtree(out / "checkpoint", ignore_errors=True)
    return summary


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _load_trainable(config: TrainConfig):
    from ..decoding.models import load_model

    lm = load_model(config.model, eval_mode=False)
    if config.lora:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, target_modules=list(config.lora_targets),
                          lora_dropout=0.0, task_type="CAUSAL_LM")
        try:
            model = get_peft_model(lm.model, lora)
        except ValueError as exc:
            raise ProofsmithError(f"LoRA: {exc}") from exc
        lm = type(lm)(model=model, tokenizer=lm.tokenizer, name=lm.name, device=lm.device)
    lm.model.train()
    return lm


def _tokenize_all(tokenizer, examples: list[Example], max_len: int) -> tuple[list[tuple], int]:
    rows = [tokenize(tokenizer, e) for e in examples]
    kept = [r for r in rows if len(r[0]) + len(r[1]) <= max_len and r[1]]
    return kept, len(rows) - len(kept)


def _decoder_and_head(model):
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = base.get_output_embeddings()
    if getattr(head, "bias", None) is not None:
        raise ProofsmithError("the fused loss needs an LM head without bias")
    return base.get_decoder(), head.weight


def _train_step(model, optimizer, params, batch: dict, config: TrainConfig) -> dict:
    import torch

    from .losses import sequence_loss

    decoder, head = _decoder_and_head(model)
    hidden = hidden_states(decoder, batch)
    rows = hidden[batch["rows"][:, 0], batch["rows"][:, 1]]
    out = sequence_loss(rows, head, batch["targets"], batch["segments"], batch["n_examples"],
                        config.loss, config.n, backend=config.backend, skip_below=config.skip_below)
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    f = out.weight.float().cpu()
    return {"loss": out.loss.item(), "tokens": int(batch["targets"].numel()), "f": f.tolist(),
            "done_share": float((f < DONE_F).float().mean()), "mean_log_p": float(out.log_p.mean())}


class _TrainLog:
    """Appends one JSON line per logged step, with the F distribution since the last line."""

    def __init__(self, path: Path, keep_until: int) -> None:
        self.path = path
        lines = path.read_text().splitlines() if path.exists() else []
        kept = [ln for ln in lines if ln.strip() and json.loads(ln)["step"] <= keep_until]
        path.write_text("".join(ln + "\n" for ln in kept))  # a resumed run rewrites what came after
        self.window: list[dict] = []
        self.last_loss = json.loads(kept[-1])["loss"] if kept else None  # a resumed run's last logged loss
        self.started = time.time()

    def add(self, step: int, result: dict) -> None:
        self.window.append(result)
        self.last_loss = result["loss"]

    def flush(self, step: int) -> None:
        import numpy as np

        f = np.array([x for r in self.window for x in r["f"]])
        record = {"step": step, "loss": float(np.mean([r["loss"] for r in self.window])),
                  "tokens": sum(r["tokens"] for r in self.window),
                  "mean_log_p": float(np.mean([r["mean_log_p"] for r in self.window])),
                  "f_quantiles": {q: round(float(np.quantile(f, q / 100)), 6) for q in (0, 10, 50, 90, 100)},
                  "done_share": round(float((f < DONE_F).mean()), 4), "seconds": round(time.time() - self.started, 2)}
        with self.path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
        self.window = []


def _trainable_state(model) -> dict:
    return {k: v.detach().cpu() for k, v in model.named_parameters() if v.requires_grad}


def _save_checkpoint(out: Path, model, optimizer, step: int, config: TrainConfig) -> None:
    import torch

    tmp = out / "checkpoint.tmp"
    tmp.mkdir(exist_ok=True)
    torch.save({"step": step, "trainable": _trainable_state(model), "optimizer": optimizer.state_dict(),
                "rng": torch.get_rng_state(), "config": asdict(config)}, tmp / "state.pt")
    shutil.rmtree(out / "checkpoint", ignore_errors=True)
    os.replace(tmp, out / "checkpoint")


def _resume(out: Path, model, optimizer) -> int:
    import torch

    path = out / "checkpoint" / "state.pt"
    if not path.exists():
        return 0
    state = torch.load(path, weights_only=False)
    missing = set(_trainable_state(model)) - set(state["trainable"])
    if missing:
        raise ProofsmithError(f"{out}/checkpoint was made with other settings; remove it or use another --out")
    model.load_state_dict(state["trainable"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    return int(state["step"])


def _save_final(target, lm, config: TrainConfig) -> None:
    """A LoRA adapter in OUT (or with merge: the merged model in OUT, the adapter in OUT/adapter).

    Saved into a staging directory first, then moved in file by file through `target`
    (outdir.OutDir): a file of the user's in OUT (a README.md, say) is refused, never replaced.
    """
    from ..decoding.models import DEFAULT_MODEL

    out = target.path
    staging = out / f".final.tmp{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    model = lm.model
    if config.lora:
        adapter_dir = staging / "adapter" if config.merge else staging
        model.save_pretrained(str(adapter_dir))
        # name the base as the user did (not this machine's cache path): the adapter then
        # finds it anywhere through load_model
        adapter_config = adapter_dir / "adapter_config.json"
        meta = json.loads(adapter_config.read_text())
        meta["base_model_name_or_path"] = config.model or DEFAULT_MODEL
        _atomic_write(adapter_config, json.dumps(meta, indent=2))
        if config.merge:
            model = model.merge_and_unload()
    if not config.lora or config.merge:
        model.save_pretrained(str(staging))
    lm.tokenizer.save_pretrained(str(staging))
    made = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
    target.check_writable(made)  # all or nothing: the staged model stays for the user to move
    for rel in made:
        target.adopt(rel, staging / rel)
    shutil.rmtree(staging, ignore_errors=True)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)

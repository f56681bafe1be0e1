from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def train(
        dataset: str = typer.Argument(..., help="A Coq corpus directory (proofsmith extract coq) or a Coq tasks JSONL."),
        out: str = typer.Option(..., "--out", help="Output directory: the adapter or model, checkpoints, train_log.jsonl."),
        loss: str = typer.Option("ce", "--loss", help="ce | dco | dco-step."),
        n: float = typer.Option(16.0, "--n", help="DCO: the attempts N at test time; dco-step: N_eff per tactic."),
        lora: bool = typer.Option(True, "--lora/--full", help="LoRA adapter (default) or full fine-tuning."),
        lora_r: int = typer.Option(16, "--lora-r", help="LoRA rank."),
        lora_alpha: int = typer.Option(32, "--lora-alpha", help="LoRA alpha."),
        lora_targets: str = typer.Option("q_proj,k_proj,v_proj,o_proj", "--lora-targets", help="Modules to adapt."),
        model: str | None = typer.Option(None, "--model", help="Hub id or local dir (default: offline SmolLM2-135M)."),
        steps: int = typer.Option(100, "--steps", help="Optimizer steps."),
        batch_size: int = typer.Option(8, "--batch-size", help="Examples per step."),
        lr: float = typer.Option(2e-4, "--lr", help="AdamW learning rate."),
        max_len: int = typer.Option(512, "--max-len", help="Skip examples with more tokens than this."),
        seed: int = typer.Option(0, "--seed"),
        pairs: str = typer.Option("both", "--pairs", help="both | tactics | proofs."),
        split: str = typer.Option("train", "--split"),
        layout: str = typer.Option("prove", "--layout", help="prove (the layout `proofsmith prove` uses) | bare."),
        limit: int | None = typer.Option(None, "--limit", help="Use at most this many pairs."),
        skip_below: float = typer.Option(0.0, "--skip-below", help="DCO: skip targets whose F is below this."),
        checkpoint_every: int = typer.Option(25, "--checkpoint-every"),
        log_every: int = typer.Option(5, "--log-every"),
        merge: bool = typer.Option(False, "--merge", help="Write the merged model to OUT (adapter to OUT/adapter)."),
        backend: str = typer.Option("auto", "--backend", help="Fused loss kernel: auto | torch | triton."),
    ) -> None:
        """Fine-tune a prover with CE, DCO or DCO-step; rerun the same command to resume."""
        from ._options import at_least, fraction, output_dir, positive

        at_least(1, n=n)  # DCO's N attempts: N = 1 is plain CE
        positive(lora_r=lora_r, lora_alpha=lora_alpha, steps=steps, batch_size=batch_size, lr=lr, max_len=max_len,
                 limit=limit, checkpoint_every=checkpoint_every, log_every=log_every)
        at_least(0, seed=seed)
        fraction(skip_below=skip_below)  # F is a probability
        output_dir(out)
        from ..provers.training.loop import TrainConfig
        from ..provers.training.loop import train as run_training

        config = TrainConfig(model=model, loss=loss, n=n, lora=lora, lora_r=lora_r, lora_alpha=lora_alpha,
                             lora_targets=tuple(t.strip() for t in lora_targets.split(",") if t.strip()),
                             lr=lr, steps=steps, batch_size=batch_size, max_len=max_len, seed=seed,
                             checkpoint_every=checkpoint_every, log_every=log_every, skip_below=skip_below,
                             merge=merge, backend=backend, pairs=pairs, split=split, limit=limit,
                             layout=layout)
        summary = run_training(dataset, out, config)
        print(json.dumps({k: v for k, v in summary.items() if k != "config"}))

"""`proofsmith sample TASKS --n N --out SAMPLES`: N candidates per task, for check and eval."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def sample(
        tasks: Path = typer.Argument(..., help="Tasks: HumanEval JSONL(.gz), or JSONL lines {task_id, kind: coq|mpi, ...}."),
        n: int = typer.Option(..., "--n", "-n", help="Samples per task."),
        out: Path = typer.Option(..., "--out", help="Samples JSONL (HumanEval's format plus how each was made); rerun to resume."),
        model: str = typer.Option(None, "--model", help="Hub id or local directory (default: offline SmolLM2-135M-Instruct)."),
        adapter: str = typer.Option(None, "--adapter", help="A LoRA adapter directory to load on top."),
        temperature: float = typer.Option(0.8, "--temperature", help="0 is greedy."),
        top_p: float = typer.Option(0.95, "--top-p"),
        max_new_tokens: int = typer.Option(512, "--max-new-tokens"),
        seed: int = typer.Option(0, "--seed", help="Sample j of task t is drawn from a generator seeded by (seed, t, j)."),
        batch: int = typer.Option(None, "--batch", help="Rows decoded at once (default: max(n, 16))."),
        backend: str = typer.Option("engine", "--backend", help="engine (ours: continuous batching, drafts) or vllm (a CUDA GPU and vllm)."),
        drafts: bool = typer.Option(True, "--drafts/--no-drafts", help="Speculative drafts where the engine's cost model says they pay (same distribution)."),
        limit: int = typer.Option(None, "--limit", help="Only the first N tasks."),
        threads: int = typer.Option(None, "--threads", help="Torch CPU threads (default: torch's)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Sample N completions per task with a model; rerunning resumes where it stopped."""
        from ..core import ProofsmithError
        from ._options import at_least, fraction, output_file, positive

        positive(n=n, top_p=top_p, max_new_tokens=max_new_tokens, batch=batch, limit=limit, threads=threads)
        at_least(0, temperature=temperature, seed=seed)
        fraction(top_p=top_p)
        output_file(out)
        if backend not in ("engine", "vllm"):
            raise ProofsmithError(f"--backend must be engine or vllm, not {backend!r}")
        if backend == "vllm":
            from ..provers.decoding.vllm_backend import check_vllm

            check_vllm()

        from ..io import load_tasks
        from ..provers.sampling import SampleStep, prompt_for, sample_tasks

        task_list = list(load_tasks(tasks).values())[:limit]
        for task in task_list:
            prompt_for(task)  # a kind without a prompt stops here, before the model loads
        if threads:
            import torch

            torch.set_num_threads(threads)
        step = SampleStep(n=n, model=model, adapter=adapter, temperature=temperature, top_p=top_p,
                          max_new_tokens=max_new_tokens, seed=seed, batch=batch, backend=backend, draft=drafts)
        done = sample_tasks(task_list, step, out, progress=not quiet, inputs=(tasks,))
        typer.echo(f"sampled {done['tasks']} tasks x {n} ({done['resumed']} already done), {done['tokens']} tokens "
                   f"in {done['seconds']} s ({done['tokens_per_s']} tokens/s) -> {out}", err=True)
        typer.echo(f"next: proofsmith check {tasks} {out} --out RESULTS.jsonl && proofsmith eval RESULTS.jsonl", err=True)

"""`proofsmith prove DATASET --out RUN`: search for proofs of every theorem, one result line each."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def prove(
        dataset: Path = typer.Argument(..., help="A Coq tasks JSONL (as `check` reads) or an extracted corpus directory."),
        out: Path = typer.Option(..., "--out", help="Results JSONL, one line per theorem; rerun to resume."),
        split: str = typer.Option("test", "--split", help="Corpus split (train, validation, test)."),
        config: str = typer.Option("random", "--config", help="Corpus splitting: random, novel_premises, by_file."),
        mode: str = typer.Option("hybrid", "--mode", help="hybrid (best-first over the model's tactics, automation and structural tactics), search (the model's tactics only), sample (whole proofs), baseline (automation tactics), sauto (CoqHammer's)."),
        attempts: int = typer.Option(1, "--attempts", "-n", help="hybrid/search: different searches (own seeds, each finds a new proof); sample: proofs sampled per theorem."),
        model: str = typer.Option(None, "--model", help="Hub id or local directory (default: offline SmolLM2-135M-Instruct)."),
        adapter: str = typer.Option(None, "--adapter", help="A LoRA adapter directory to load on top (default: the shipped Coq-tuned adapter when --model is not given; none: the plain model)."),
        method: str = typer.Option("sample", "--method", help="Tactic decoding: sample (batched over frontier states), beam, diverse."),
        num: int = typer.Option(8, "--num", help="Tactics per expansion (beams or samples)."),
        temperature: float = typer.Option(1.0, "--temperature"),
        top_p: float = typer.Option(0.95, "--top-p"),
        groups: int = typer.Option(4, "--groups", help="Diverse beam search: beam groups."),
        diversity_penalty: float = typer.Option(1.0, "--diversity-penalty", help="Diverse beam search: λ."),
        max_new_tokens: int = typer.Option(32, "--max-new-tokens"),
        expansions: int = typer.Option(16, "--expansions", help="Search budget: states expanded per attempt."),
        timeout: float = typer.Option(60.0, "--timeout", help="Search budget: wall seconds per theorem, from the moment it is open (its attempts share it)."),
        batch: int = typer.Option(4, "--batch", help="Frontier states whose tactics the model decodes in one call."),
        tactic_timeout: float = typer.Option(5.0, "--tactic-timeout", help="Seconds per tactic in Coq."),
        retrieval: bool = typer.Option(False, "--retrieval/--no-retrieval", help="Add retrieved premises to the prompt."),
        premises: Path = typer.Option(None, "--premises", help="Premises corpus.jsonl (default: the corpus's own)."),
        premises_k: int = typer.Option(4, "--premises-k"),
        workers: int = typer.Option(1, "--workers", "-j", help="Local worker processes (each loads the model once)."),
        ray: str = typer.Option(None, "--ray", help="Run on a Ray cluster at ADDR ('local' starts one)."),
        threads: int = typer.Option(1, "--threads", help="Torch threads per worker (1 is fastest on busy CPUs)."),
        limit: int = typer.Option(None, "--limit", help="Only the first N theorems."),
        sandbox: str = typer.Option("auto", "--sandbox", help="bwrap, docker, or none (Coq as a plain child process; the checker still uses the default)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Prove theorems with a model (best-first search or sampling), re-check every proof."""
        from ._options import at_least, fraction, output_file, positive

        positive(attempts=attempts, num=num, top_p=top_p, groups=groups, max_new_tokens=max_new_tokens,
                 expansions=expansions, timeout=timeout, batch=batch, tactic_timeout=tactic_timeout, premises_k=premises_k,
                 workers=workers, threads=threads, limit=limit)
        at_least(0, temperature=temperature, diversity_penalty=diversity_penalty)  # 0: greedy; plain beams
        fraction(top_p=top_p)
        output_file(out)

        from ..provers.search.batch import prove_all
        from ..provers.search.generator import DecodingConfig
        from ..provers.search.runner import ProverConfig, summarize
        from ..provers.search.theorems import load_theorems, premises_path

        tasks = load_theorems(dataset, split, config)[:limit]
        decoding = DecodingConfig(method=method, num=num, temperature=temperature, top_p=top_p, groups=groups,
                                  diversity_penalty=diversity_penalty, max_new_tokens=max_new_tokens)
        prover = ProverConfig(
            mode=mode, model=model, adapter=adapter, decoding=decoding, attempts=attempts, max_expansions=expansions, batch=batch,
            timeout_s=timeout, tactic_timeout=tactic_timeout, retrieval=retrieval,
            premises=str(premises) if premises else premises_path(dataset), premises_k=premises_k,
            sandbox=None if sandbox == "none" else sandbox, threads=threads)
        records = prove_all(tasks, prover, out, workers=workers, ray_address=ray, progress=not quiet,
                            inputs=[dataset])
        ids = {t.id for t in tasks}
        typer.echo(summarize([r for r in records if r["task_id"] in ids]).text(), err=True)
        typer.echo(f"results -> {out}   (pass@k: proofsmith eval {out} --k 1)", err=True)

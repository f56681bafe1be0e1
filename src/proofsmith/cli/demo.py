"""`proofsmith demo`: the main job end to end on embedded defaults."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        out: Path = typer.Option(None, "--out", help="Report directory (default: under the cache, one per setting)."),
        expansions: int = typer.Option(4, "--expansions", help="Search budget: states expanded per theorem."),
        timeout: float = typer.Option(30.0, "--timeout", help="Search budget: wall seconds per theorem."),
        method: str = typer.Option("beam", "--method", help="Tactic decoding: beam, diverse, sample."),
        num: int = typer.Option(8, "--num", help="Tactics per expansion."),
        retrieval: bool = typer.Option(False, "--retrieval/--no-retrieval", help="Add retrieved premises to the prompt."),
        baseline: bool = typer.Option(True, "--baseline/--no-baseline", help="Also run the automation baseline."),
        pass_at_n: bool = typer.Option(True, "--pass-at-n/--no-pass-at-n", help="Also sample, check and score 4 HumanEval problems x 4 (pass@1, pass@4, a plot)."),
        limit: int = typer.Option(None, "--limit", help="Only the first N test theorems."),
        threads: int = typer.Option(1, "--threads", help="Torch threads."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    ) -> None:
        """Build (or reuse) a small stdlib corpus, prove its test theorems with the default model, report."""
        from ._options import output_dir, positive

        positive(expansions=expansions, timeout=timeout, num=num, limit=limit, threads=threads)
        output_dir(out)
        from ..paths import cache_dir
        from ..demo import report_text, run_demo
        from ..provers.search.generator import DecodingConfig
        from ..provers.search.runner import ProverConfig

        import json

        from ..core import sha256_text

        config = ProverConfig(mode="search", decoding=DecodingConfig(method=method, num=num), max_expansions=expansions,
                              timeout_s=timeout, threads=threads)
        # one directory per setting: a rerun with the same flags reuses its results, others start afresh
        settings = json.dumps([{**config.to_dict(), "threads": None}, retrieval, limit], sort_keys=True)
        out = out or cache_dir("demo", f"run-{sha256_text(settings)[:10]}")
        report = run_demo(out, config, retrieval=retrieval, baseline=baseline, limit=limit, progress=not quiet,
                          pass_at_n=pass_at_n)
        print(report_text(report))
        typer.echo(f"\nreport -> {out / 'report.json'}  (result lines: {out}/*.jsonl)", err=True)

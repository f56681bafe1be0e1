from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def bench(
        name: str = typer.Argument(..., help="Benchmark: sandbox, extract, prove, loss, dco, specdec, sample, lintseq, refute, mpi, lean."),
        as_json: bool = typer.Option(False, "--json", help="End with one JSON line of the figures."),
        quick: bool = typer.Option(False, "--quick", help="A smaller run for a smoke test."),
    ) -> None:
        """Measure ours against the baseline, side by side in one run, and print the ratios."""
        from .. import bench as benchmarks

        figures = benchmarks.run(name, quick=quick)
        if as_json:
            print(json.dumps(figures, sort_keys=True))

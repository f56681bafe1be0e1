"""`proofsmith eval-mpirigen PREDICTIONS`: MPIrigen's location, function and argument scores."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("eval-mpirigen")
    def eval_mpirigen(
        predictions: Path = typer.Argument(..., help="JSONL(.gz) lines {program or task_id, mpi_labels (the truth), "
                                           "prediction}, or MPIrigen's own {label, pred} lines."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object: {var0, var1, var2, var0_mcc, ...: "
                                     "{rows: [{limit, programs, locations, functions, arguments}], overall}}."),
        per_limit: bool = typer.Option(False, "--per-limit", help="Also the tables by the most truth calls a program has."),
    ) -> None:
        """Location, function and argument scores with line tolerance 0, 1, 2, all calls and the common core (MCC).

        Text scores, computed exactly as MPIrigen's evaluation does (see docs/mpi.md); a program
        whose truth has no entry is left out and said on stderr.
        """
        import json

        from ..core import ProofsmithError
        from ..eval.mpirigen import all_scores, markdown, parse_labels, read_predictions

        pairs = read_predictions(predictions)
        empty = sum(1 for truth, _ in pairs if not parse_labels(truth))
        if empty == len(pairs):
            raise ProofsmithError(f"{predictions}: no line has a truth label with an (L k, MPI_...;) entry")
        if empty:
            typer.echo(f"{empty} of {len(pairs)} programs have no truth entry: left out", err=True)
        tables = all_scores(pairs)
        if as_json:
            print(json.dumps({name: {"rows": s.rows, "overall": s.overall} for name, s in tables.items()}))
        else:
            print(markdown(tables, per_limit=per_limit))

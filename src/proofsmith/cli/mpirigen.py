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
        tasks: Path = typer.Option(None, "--tasks", help="mpi tasks (with mpi_labels): PREDICTIONS is then `proofsmith "
                                   "check`'s results on whole programs; their calls are read back as labels and the "
                                   "text scores are shown beside execution pass@k."),
        k: str = typer.Option("1", "--k", help="With --tasks: comma-separated k for execution pass@k."),
    ) -> None:
        """Location, function and argument scores with line tolerance 0, 1, 2, all calls and the common core (MCC).

        Text scores, computed exactly as MPIrigen's evaluation does (see docs/mpi.md); a program
        whose truth has no entry is left out and said on stderr.
        """
        import json

        from ..core import ProofsmithError
        from ..eval.mpirigen import all_scores, markdown, parse_labels, read_predictions

        executed = None
        if tasks is not None:
            pairs, executed = _from_check_results(predictions, tasks, k)
        else:
            pairs = read_predictions(predictions)
        empty = sum(1 for truth, _ in pairs if not parse_labels(truth))
        if empty == len(pairs):
            raise ProofsmithError(f"{predictions}: no line has a truth label with an (L k, MPI_...;) entry")
        if empty:
            typer.echo(f"{empty} of {len(pairs)} programs have no truth entry: left out", err=True)
        tables = all_scores(pairs)
        if as_json:
            figures = {name: {"rows": s.rows, "overall": s.overall} for name, s in tables.items()}
            if executed is not None:
                figures["execution"] = executed
            print(json.dumps(figures))
        else:
            print(markdown(tables, per_limit=per_limit))
            if executed is not None:
                print("\nexecution (proofsmith check, the same programs): "
                      + "  ".join(f"{name} = {value:.3f}" for name, value in executed.items()))


def _from_check_results(results: Path, tasks_path: Path, k: str):
    """(truth, prediction) label pairs from check's results on whole programs, and their pass@k.

    A completed program's MPI calls are read back with the extractor's own parser, so the
    text scores and the execution verdicts judge the very same programs."""
    from ..core import ProofsmithError
    from ..eval.passk import score
    from ..eval.results import read_results
    from ..extract.mpi import strip_mpi_calls
    from ..io import load_tasks

    ks = sorted({int(x) for x in k.split(",") if x.strip().isdigit() and int(x) > 0})
    if not ks:
        raise ProofsmithError(f"--k must be comma-separated positive integers, got {k!r}")
    task_map = load_tasks(tasks_path)
    records = read_results(results)
    pairs = []
    for i, r in enumerate(records, 1):
        task = task_map.get(str(r["task_id"]))
        if task is None or task.kind != "mpi" or not isinstance(task.meta.get("mpi_labels"), str):
            raise ProofsmithError(f"{results}:{i}: {r['task_id']!r} is not an mpi task with mpi_labels in {tasks_path}")
        completion = r.get("completion")
        if not isinstance(completion, str):
            raise ProofsmithError(f"{results}:{i}: completion must be the whole program")
        try:
            predicted = strip_mpi_calls(completion, task.meta.get("lang", "c")).mpi_labels
        except ProofsmithError:
            predicted = ""  # a program the parser cannot read has no calls to score
        pairs.append((task.meta["mpi_labels"], predicted))
    return pairs, score(records, ks).pass_at


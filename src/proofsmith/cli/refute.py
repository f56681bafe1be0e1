from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def refute(
        problems: Path = typer.Argument(..., help="REFUTE problems JSONL (problem_id, statement, time_limit ms, "
                                                  "memory_limit MB, validator, wrong_code(_lang), correct_cpp/python)."),
        inputs: Path | None = typer.Argument(None, help="Counterexamples JSONL: {problem_id, input} or "
                                                           "{problem_id, generator: {code, lang}, seed}."),
        out: Path = typer.Option(..., "--out", help="Results JSONL (resumable): one verdict per line."),
        search: bool = typer.Option(False, "--search", help="Search a counterexample for every problem instead."),
        generator: list[Path] = typer.Option([], "--generator", "-g", help="Search: an input generator (.py or "
                                                                           ".cpp; argv[1] is the seed). Repeatable."),
        use_model: bool = typer.Option(False, "--use-model", help="Search: also ask a model for generators."),
        model: str | None = typer.Option(None, "--model", help="Search: HF id or local dir (implies "
                                                                  "--use-model; default: the offline SmolLM2)."),
        budget: int = typer.Option(200, "--budget", help="Search: inputs judged per problem at most."),
        seconds: float = typer.Option(300.0, "--seconds", help="Search: seconds per problem at most."),
        runs: int = typer.Option(3, "--runs", help="The wrong solution must fail in every one of these runs."),
        time_slack: float = typer.Option(2.0, "--time-slack", help="CPU limit = problem TL x this."),
        memory_slack: float = typer.Option(1.25, "--memory-slack", help="Memory limit = problem ML x this."),
        float_tolerance: float | None = typer.Option(None, "--float-tolerance", help="Compare numbers with "
                                                                                        "this abs/rel error."),
        workers: int = typer.Option(2, "--workers", "-j", help="Items judged in parallel."),
        sandbox: str | None = typer.Option(None, "--sandbox", help="bwrap (default) or docker."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Judge counterexamples for REFUTE problems in the sandbox, or search for them (--search)."""
        import json

        from ..checkers.refute.runner import (Program, RefuteRunner, RefuteSettings, check_counterexample,
                                               load_problems)
        from ..checkers.refute.batch import judge_inputs, search_problems
        from ..checkers.refute.search import SearchBudget
        from ..checkers.sandbox import get_sandbox
        from ..core import ProofsmithError
        from ..io import numbered_jsonl
        from ..provers.counterexamples import ModelProposer
        from ._options import at_least, output_file, positive

        positive(budget=budget, seconds=seconds, runs=runs, time_slack=time_slack, memory_slack=memory_slack,
                 workers=workers)
        at_least(0, float_tolerance=float_tolerance)
        output_file(out)
        problem_map = load_problems(str(problems))
        settings = RefuteSettings(runs=runs, time_slack=time_slack, memory_slack=memory_slack,
                                  float_tolerance=float_tolerance)
        runner = RefuteRunner(get_sandbox(sandbox), settings)
        if search:
            gens = [Program.of(_source(g), "cpp" if g.suffix in (".cpp", ".cc", ".cxx") else "python")
                    for g in generator]
            propose = ModelProposer(model) if use_model or model is not None else None
            summary = search_problems(problem_map, str(out), runner, gens, propose=propose,
                                      budget=SearchBudget(attempts=budget, seconds=seconds), workers=workers,
                                      progress=not quiet, input_paths=[str(problems), *map(str, generator)])
        else:
            if inputs is None:
                raise ProofsmithError("give an INPUTS file of counterexamples, or --search")
            records = []
            for i, r in numbered_jsonl(inputs):
                check_counterexample(r, f"{inputs}:{i}")
                records.append(r)
            if not records:
                raise ProofsmithError(f"{inputs}: no counterexamples")
            summary = judge_inputs(problem_map, records, str(out), runner, workers=workers, progress=not quiet,
                                   input_paths=[str(problems), str(inputs)])
        typer.echo(f"{summary['problems_refuted']}/{summary['problems']} problems refuted "
                   f"({summary['valid']} valid of {summary['results']} results) -> {out}", err=True)
        typer.echo(json.dumps(summary))


def _source(path: Path) -> str:
    """A --generator file's text, or one line saying why it cannot be read."""
    from ..core import ProofsmithError

    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProofsmithError(f"--generator {path}: unreadable ({getattr(exc, 'strerror', None) or exc})") from None

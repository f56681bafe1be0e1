from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    synth = typer.Typer(help="Corpora made by a generate-and-verify loop: LintSeq edit sequences, UnitCoder tests.",
                        no_args_is_help=True)
    app.add_typer(synth, name="synth")

    @synth.command("lintseq")
    def lintseq(
        source: str = typer.Argument("humaneval", metavar="INPUT",
                                     help="JSONL of (instruction, program) records, or 'humaneval' (the default)."),
        out: str = typer.Option(..., "--out", help="Output directory (records.jsonl, data/, README.md)."),
        samples: int = typer.Option(5, "--samples", help="Edit sequences sampled per program (K)."),
        seed: int = typer.Option(1, "--seed"),
        instruction_field: str = typer.Option("instruction", help="Instruction field of INPUT ('' for none)."),
        program_field: str = typer.Option("response", help="Program field of INPUT."),
        id_field: str = typer.Option("id", help="Record id field of INPUT (else the line number)."),
        limit: int | None = typer.Option(None, help="Only the first N programs."),
    ) -> None:
        """LintSeq: every program as insertion edits whose every state lints clean (pylintseq's filter)."""
        from ._options import at_least, output_dir, positive

        positive(samples=samples, limit=limit)
        at_least(0, seed=seed)
        output_dir(out)
        from ..synth.lintseq_corpus import build_lintseq_corpus

        summary = build_lintseq_corpus(source, out, samples=samples, seed=seed,
                                       instruction_field=instruction_field or None, program_field=program_field,
                                       id_field=id_field or None, limit=limit)
        print(json.dumps(summary, sort_keys=True))

    @synth.command("unitcoder")
    def unitcoder(
        corpus: str = typer.Argument("stdlib", metavar="CORPUS",
                                     help="A directory of .py files, a .py file, a JSONL of {id, content}, "
                                          "or 'stdlib' (this Python's standard library, the default)."),
        out: str = typer.Option(..., "--out", help="Output directory (records.jsonl, data/, README.md)."),
        model: str | None = typer.Option(None, "--model", help="HF id or local dir (default: offline SmolLM2-135M)."),
        samples: int = typer.Option(3, "--samples", "-k", help="Fix samples per round."),
        rounds: int = typer.Option(3, "--rounds", "-r", help="Fix rounds at most."),
        mutants: int = typer.Option(6, "--mutants", help="Mutants each passing suite is run against."),
        min_mutation_score: float = typer.Option(0.5, help="Share of mutants a suite must kill."),
        packages: str | None = typer.Option(None, help="Comma-separated import allowlist (default: stdlib)."),
        timeout: float = typer.Option(10.0, help="Seconds per sandboxed test run (wall and CPU)."),
        memory_mb: int = typer.Option(1024, help="Memory per sandboxed test run."),
        max_new_tokens: int = typer.Option(320, help="Tokens per model answer."),
        limit: int | None = typer.Option(None, help="Only the first N retrieved functions."),
        seed: int = typer.Option(0, "--seed"),
    ) -> None:
        """UnitCoder: model-written unit tests, a fix loop, the sandbox, and a mutation check on the tests."""
        from ._options import at_least, fraction, output_dir, positive

        positive(samples=samples, mutants=mutants, timeout=timeout, memory_mb=memory_mb, max_new_tokens=max_new_tokens,
                 limit=limit)
        at_least(0, rounds=rounds, seed=seed)
        fraction(min_mutation_score=min_mutation_score)
        output_dir(out)
        from ..checkers.sandbox import Limits
        from ..synth.unitcoder import UnitCoderSettings
        from ..synth.unitcoder_corpus import build_unitcoder_corpus

        settings = UnitCoderSettings(samples=samples, rounds=rounds, mutants=mutants,
                                     min_mutation_score=min_mutation_score,
                                     limits=Limits(wall_s=timeout, cpu_s=timeout, memory_mb=memory_mb, processes=16))
        summary = build_unitcoder_corpus(corpus, out, model=model, max_new_tokens=max_new_tokens, settings=settings,
                                         packages=packages.split(",") if packages else None, limit=limit, seed=seed)
        print(json.dumps(summary, sort_keys=True))

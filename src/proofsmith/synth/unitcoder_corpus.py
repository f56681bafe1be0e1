"""`proofsmith synth unitcoder`: a code corpus -> functions certified by tested, mutant-killing suites.

Every processed function is appended to ``OUT/records.jsonl`` (verified or not, with
its history; a `runs.run_resumable` run), so a killed run resumes with the next function; at the end the verified
ones become the HF dataset (``OUT/data``, ``OUT/README.md``).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from ..datasets.hub import Card
from ..io import read_jsonl
from ..runs import Jsonl, run_resumable
from .publish import claim_corpus_dir, command_line, package_version, save_corpus
from .retrieval import RetrievedFunction, in_stdlib, retrieve
from .unitcoder import Generator, UnitCoderSettings, process

UNITCODER_COLUMNS = ("id", "name", "module", "import_code", "original_function", "function", "repaired", "tests",
                     "tests_run", "mutants", "mutants_killed", "mutation_score", "rounds", "history", "model",
                     "provenance")


def function_seed(seed: int, function_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\0{function_id}".encode()).digest()[:4], "little")


class UnitCoderStep:
    """One retrieved function -> its record (verified or not, with its history).

    The model is loaded on the first call, so a run with nothing left to do loads none.
    """

    def __init__(self, generator: Generator | None, model: str | None, max_new_tokens: int, sandbox,
                 settings: UnitCoderSettings, seed: int) -> None:
        self.generator, self.model, self.max_new_tokens = generator, model, max_new_tokens
        self.sandbox, self.settings, self.seed = sandbox, settings, seed

    def __call__(self, fn: RetrievedFunction) -> dict:
        if self.generator is None:
            from .generators import ModelGenerator

            self.generator = ModelGenerator(self.model, max_new_tokens=self.max_new_tokens)
        return process(fn, self.generator, self.sandbox, self.settings, function_seed(self.seed, fn.id))


def build_unitcoder_corpus(corpus: str, out: str | os.PathLike, generator: Generator | None = None,
                           model: str | None = None, max_new_tokens: int = 320,
                           settings: UnitCoderSettings | None = None,
                           packages: list[str] | None = None, limit: int | None = None, seed: int = 0,
                           sandbox=None, progress: bool = True) -> dict:
    from ..checkers.sandbox import get_sandbox

    settings = settings or UnitCoderSettings()
    functions = retrieve(corpus, packages, limit=limit)
    out = claim_corpus_dir(out, "proofsmith synth unitcoder")
    step = UnitCoderStep(generator, model, max_new_tokens, sandbox or get_sandbox(), settings, seed)
    started = time.perf_counter()
    run = run_resumable(functions, step, Jsonl(out / "records.jsonl", match="key", key_field="id"),
                        key=lambda fn: fn.id, inputs=[corpus] if os.path.isfile(corpus) else [],
                        settings={"settings": settings, "seed": seed, "max_new_tokens": max_new_tokens,
                                  "model": generator.name if generator is not None else model},
                        progress=progress, desc="unitcoder", unit="function")
    processed = run.ran
    elapsed = time.perf_counter() - started
    records = [r for r in read_jsonl(out / "records.jsonl") if r["id"] in {f.id for f in functions}]
    verified = [r for r in records if r["verified"]]
    summary = {
        "functions": len(functions),
        "processed_now": processed,
        "functions_per_minute_now": round(processed / elapsed * 60, 2) if processed else None,
        "tests_passed": sum(r["tests_passed"] for r in records),
        "verified": len(verified),
        "share_verified": round(len(verified) / len(records), 4) if records else 0.0,
        "rejected_by_mutation_check": sum(r["tests_passed"] and not r["verified"] for r in records),
    }
    model_name = step.generator.name if step.generator is not None else (model or "smollm2-135m")
    save_corpus(verified, out, UNITCODER_COLUMNS, unitcoder_card(corpus, model_name, settings, summary))
    return summary


def unitcoder_card(corpus: str, model: str, settings: UnitCoderSettings, summary: dict) -> Card:
    stdlib = in_stdlib(corpus)
    return Card(
        pretty_name="UnitCoder functions with mutation-checked unit tests",
        license="PSF-2.0" if stdlib else "other",
        description=(
            "Top-level functions retrieved from a code corpus, each with a unittest suite written by a model that "
            "passes on the function in a sandbox and fails on mutants of it (UnitCoder, EMNLP 2025, plus a "
            "mutation check), made by `proofsmith synth unitcoder`."),
        command=command_line(),
        versions={"model": model, "proofsmith": package_version("proofsmith")},
        sources=("The Python standard library's own source files (PSF-2.0)." if stdlib
                 else f"`{Path(corpus).name}` (the user's corpus; its license applies)."),
        schema=(
            "- `function`: the function (as retrieved, or as repaired by the fix loop: `repaired`)\n"
            "- `import_code`: the imports it needs; `original_function`: as retrieved\n"
            "- `tests`: the unittest suite (`class TestCases`), run with `from solution import *`\n"
            "- `tests_run`, `mutants`, `mutants_killed`, `mutation_score`: the certificate\n"
            "- `history`: every test/fix sample and its verdict (round 0 is the first suite)\n"
            "- `provenance`: source file, version, license, hash and span of the original"),
        how_built=(
            f"Package-based retrieval (top-level, arguments, a return value, no nesting, imports within the "
            f"package list, UnitCoder's blocklist); the test agent writes one suite (T=0.2); while it fails, the "
            f"fix agent samples k={settings.samples} repairs of the function or the tests (T=0.5) for at most "
            f"r={settings.rounds} rounds; every run is in the sandbox (wall {settings.limits.wall_s}s, "
            f"{settings.limits.memory_mb} MB). A passing suite must then fail on at least "
            f"{settings.min_mutation_score:.0%} of up to {settings.mutants} one-site mutants (and on one at least)."),
        tags=["code", "unit-tests", "unitcoder", "synthetic", "proofsmith"],
        extra_statistics=summary,
    )

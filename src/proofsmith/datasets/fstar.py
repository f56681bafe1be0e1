"""FStarDataSet records as proofsmith tasks and as a Hugging Face dataset.

A record (from `extract.fstar.read_fstar_dataset`) becomes a `core.Task` of kind `fstar`:

- hidden: ``reference`` is ``source_definition``. What the card says must not be input
  (``source_definition``, ``ideal_premises``, ``completed_definiton`` (sic)) and what gives the
  answer away as well (``definition``, ``premises``: the body's free variables,
  ``expected_response``, ``partial_definition``, ``prompt``) are `HIDDEN`: they stay in
  the dataset rows, never in the task;
- visible, as the card allows (input is the type plus the context): ``statement`` is
  ``source_type`` (empty for ``<UNK>``), ``context`` is ``file_context``, and ``meta`` the
  rest a solver or the checker may use: ``name``, ``module_file``, ``opens_and_abbrevs``,
  ``vconfig``, ``original_source_type`` (the type the checker pushes), ``dependencies``,
  the flags and effect, ``problem_class`` and the ``split``/``test_split`` that `eval --by`
  groups verify@k by.

Problem classes, as the paper counts them: ``proofs`` (``is_proof`` or ``is_simple_lemma``,
or a ``Lemma`` type), ``simply typed`` (``is_simply_typed``), else ``dependently typed``.
Rows keep every field; nested values (``vconfig``, ``source``, ``opens_and_abbrevs``...)
are JSON text so that any shape of them fits one `Features`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from typing import Any

from ..core import Provenance, Task

HIDDEN = ("source_definition", "ideal_premises", "completed_definiton", "definition", "premises",
          "expected_response", "partial_definition", "prompt")
VISIBLE_META = ("name", "file_name", "original_source_type", "opens_and_abbrevs", "vconfig", "dependencies",
                "source_range", "interleaved", "verbose_type", "effect", "effect_flags", "mutual_with",
                "proof_features", "is_simple_lemma", "is_div", "is_proof", "is_simply_typed", "is_type", "type",
                "isa_cross_project_example")
CLASSES = ("simply typed", "dependently typed", "proofs")
_LEMMA = re.compile(r"(?<![A-Za-z0-9_'.])Lemma(?![A-Za-z0-9_'])")
TEXT_COLUMNS = ("name", "file_name", "source_type", "original_source_type", "source_definition", "file_context",
                "definition", "type", "verbose_type", "effect", "prompt", "expected_response", "partial_definition",
                "completed_definiton", "split", "test_split", "record_source", "license", "problem_class")


def problem_class(record: dict) -> str:
    if record.get("is_proof") or record.get("is_simple_lemma"):
        return "proofs"
    if record.get("is_simply_typed") is True:
        return "simply typed"
    text = str(record.get("original_source_type") or record.get("source_type") or record.get("type") or "")
    if _LEMMA.search(text):
        return "proofs"
    if record.get("is_simply_typed") is False or re.search(r"[{]|\(\s*[a-z_][A-Za-z0-9_']*\s*:", text):
        return "dependently typed"
    return "simply typed"


def to_task(record: dict, include_dirs: Iterable[str] = ()) -> Task:
    """The task a solver gets from one record (see the module's note for what is hidden)."""
    source = record.get("source") or {}
    file_name = str(record.get("file_name") or source.get("file_name") or "")
    span = record.get("source_range") or {}
    meta = {k: record[k] for k in VISIBLE_META if k in record}
    meta.update(name=record["name"], module_file=os.path.basename(file_name), problem_class=problem_class(record),
                split=record.get("split", ""), test_split=record.get("test_split"),
                include_dirs=list(include_dirs))
    statement = str(record.get("source_type") or "")
    provenance = Provenance(
        source=file_name, project=str(source.get("project_name", "")),
        version=str(source.get("git_rev") or source.get("git_sha") or ""), license=str(record.get("license", "")),
        span=tuple(span[k] for k in ("start_line", "start_col", "end_line", "end_col"))
        if all(isinstance(span.get(k), int) for k in ("start_line", "start_col", "end_line", "end_col")) else None)
    return Task(id=str(record["name"]), kind="fstar", statement="" if statement.strip() == "<UNK>" else statement,
                context=str(record.get("file_context") or ""), reference=record.get("source_definition"),
                provenance=provenance, meta=meta)


def to_row(record: dict) -> dict[str, str]:
    """One dataset row: every field, text as text and anything else as JSON text."""
    row = {k: "" for k in TEXT_COLUMNS}
    extra = {}
    for key, value in {**record, "problem_class": problem_class(record)}.items():
        if key in TEXT_COLUMNS:
            row[key] = value if isinstance(value, str) else ("" if value is None else json.dumps(value))
        else:
            extra[key] = value
    row["fields_json"] = json.dumps(extra, sort_keys=True)  # every other field, whatever its shape
    return row


def from_row(row: dict[str, str]) -> dict:
    """The record a row was made from (`to_row`'s inverse, up to None text fields read back as "")."""
    record = json.loads(row["fields_json"])
    record.update({k: row[k] for k in TEXT_COLUMNS if row.get(k) not in ("", None) and k != "problem_class"})
    return record


def features() -> Any:
    from datasets import Features, Value

    return Features({**{k: Value("string") for k in TEXT_COLUMNS}, "fields_json": Value("string")})


def save_records(records: list[dict], out_dir: str, command: str = "") -> None:
    """The records as a HF dataset (one config, their own splits) with its card."""
    from datasets import Dataset, DatasetDict

    from .hub import Card, save_dataset

    by_split: dict[str, list[dict]] = {}
    for r in records:
        name = r.get("split") or "train"
        name = f"test_{r['test_split'].replace('-', '_')}" if name == "test" and r.get("test_split") else name
        by_split.setdefault(name, []).append(to_row(r))
    feats = features()
    tables = DatasetDict({s: Dataset.from_list(rows, features=feats) for s, rows in by_split.items()})
    licenses = sorted({r.get("license") for r in records if r.get("license")}) or ["other"]
    card = Card(pretty_name="FStarDataSet records", license=" AND ".join(licenses), command=command,
                description="F* definitions (FStarDataSet / fstar_dataset), every field kept; "
                            "`fields_json` holds the fields that are not text.",
                tags=["fstar", "popai"])
    save_dataset(out_dir, {"default": tables}, card, default="default")

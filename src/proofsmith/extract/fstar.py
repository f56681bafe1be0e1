"""FStarDataSet on disk into records: every field kept, with its split, provenance and licence.

What is read (`read_fstar_dataset(path)`), whichever the user has:

- the Hub dataset ``microsoft/FStarDataSet`` (or ``-V2``) as files: a directory holding
  ``train.json``, ``valid.json``, ``test_intra_project.json``, ``test_cross_project.json``
  (each a JSON list, or JSON lines), or one of those files;
- that dataset saved with ``datasets``' ``save_to_disk`` (a directory with
  ``dataset_dict.json`` or ``dataset_info.json``);
- the per-module ``<Module>.fst.json`` files of the ``FStarLang/fstar_dataset`` tools
  (``{"defs": [...], "dependencies": {...}, "source": {...}}``), a directory of them or one:
  each def becomes a record carrying its module's ``dependencies`` and ``source``.

Each record is the dataset's own fields, unchanged, plus ``split`` (train, validation,
test or none), ``test_split`` (``intra-project`` / ``cross-project`` from the file name or
``isa_cross_project_example``; None outside the test split), ``record_source`` (the file
it came from) and ``license``: the dataset's (CDLA-Permissive-2.0, its card) for Hub records,
else the licence the project's own LICENSE says when the reader finds one above the file
(``extract.licenses``), else empty.

The harness's skip rules (`checkable`): interleaved defs (copied from the .fsti), defs whose
``definition`` starts with ``<`` (``<DECLARETYP>``), those with no ``=`` in
``source_definition``, and those of the file ``dummy``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..core import ProofsmithError

DATASET_LICENSE = "CDLA-Permissive-2.0"
SPLIT_FILES = {"train": ("train", None), "valid": ("validation", None), "validation": ("validation", None),
               "test_intra_project": ("test", "intra-project"), "test_cross_project": ("test", "cross-project"),
               "test": ("test", None)}


def read_fstar_dataset(path: str | Path) -> Iterator[dict[str, Any]]:
    """Every record of the FStarDataSet at `path` (see the module's note); ProofsmithError if it is none."""
    path = Path(path)
    if not path.exists():
        raise ProofsmithError(f"{path}: no such file or directory")
    if _is_saved_dataset(path):
        yield from _saved_dataset(path)
        return
    files = dataset_files(path)
    if not files:
        raise ProofsmithError(f"{path}: no FStarDataSet here (train.json/valid.json/test_*_project.json, a "
                              "save_to_disk directory, or <Module>.fst.json files)")
    for file in files:
        if file.name.endswith((".fst.json", ".fsti.json")):
            yield from _insight_file(file)
        else:
            split, test_split = SPLIT_FILES.get(file.stem, ("", None))
            for record in _json_records(file):
                yield _finish(record, split, test_split, str(file), DATASET_LICENSE)


def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "dataset_info.json").exists())


def dataset_files(path: Path) -> list[Path]:
    """The dataset's files at `path` (split files, else module files); [] when it holds none."""
    if path.is_file():
        return [path] if path.name.endswith((".json", ".jsonl")) else []
    if _is_saved_dataset(path):
        return [path]
    splits = sorted(p for p in path.iterdir() if p.stem in SPLIT_FILES and p.suffix in (".json", ".jsonl"))
    return splits or sorted(p for p in path.rglob("*.json") if p.name.endswith((".fst.json", ".fsti.json")))


def _json_records(file: Path) -> Iterator[dict]:
    text = file.read_text(encoding="utf-8")
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise ProofsmithError(f"{file}: not JSON or JSON lines: {exc}") from None
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or "name" not in row:
            raise ProofsmithError(f"{file}: record {i + 1} is not an FStarDataSet record (no name)")
        yield row


def _saved_dataset(path: Path) -> Iterator[dict]:
    from datasets import load_from_disk

    data = load_from_disk(str(path))
    splits = data.items() if hasattr(data, "items") else [("", data)]
    for name, table in splits:
        split, test_split = SPLIT_FILES.get(name, (name, None))
        for row in table:
            yield _finish(dict(row), split, test_split, f"{path}:{name}", DATASET_LICENSE)


def _insight_file(file: Path) -> Iterator[dict]:
    try:
        insight = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ProofsmithError(f"{file}: not JSON: {exc}") from None
    if not isinstance(insight, dict) or not isinstance(insight.get("defs"), list):
        raise ProofsmithError(f"{file}: not an fstar_dataset module file (no defs list)")
    source, dependencies = insight.get("source") or {}, insight.get("dependencies") or {}
    license = _project_license(file)
    for d in insight["defs"]:
        record = {"source": source, "dependencies": dependencies, **d}
        yield _finish(record, "", None, str(file), license)


def _project_license(file: Path) -> str:
    from .licenses import license_from_text

    for parent in list(file.resolve().parents)[:4]:  # the project's own, not some directory far above it
        for name in ("LICENSE", "LICENSE.md", "LICENSE.txt", "COPYING"):
            if (parent / name).is_file():
                return license_from_text((parent / name).read_text(errors="replace"))
        if (parent / ".git").exists():  # the project's root: no licence file in it
            break
    return ""


def _finish(record: dict, split: str, test_split: str | None, origin: str, license: str) -> dict:
    cross = record.get("isa_cross_project_example")
    if split == "test" and test_split is None and isinstance(cross, bool):
        test_split = "cross-project" if cross else "intra-project"
    return {**record, "split": split, "test_split": test_split if split == "test" else None,
            "record_source": origin, "license": record.get("license") or license}


def checkable(record: dict) -> str | None:
    """None when the dataset's harness would check this def; else why it skips it."""
    if record.get("interleaved"):
        return "interleaved (copied from the interface)"
    if str(record.get("definition", "")).startswith("<"):
        return f"definition is {str(record['definition'])[:20]}"
    if "=" not in str(record.get("source_definition", "")):
        return "no '=' in source_definition"
    if record.get("file_name") == "dummy":
        return "file dummy"
    return None

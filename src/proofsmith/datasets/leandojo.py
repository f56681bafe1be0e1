"""LeanDojo Benchmark 4, read and written: `{random,novel_premises}/{train,val,test}.json`,
`corpus.jsonl`, `metadata.json`, `licenses/`.

A split file is one JSON array of theorem records (`url`, `commit`, `file_path`,
`full_name`, `start`, `end`, `traced_tactics`: `tactic`, `annotated_tactic` =
`[text with <a>premise</a> marks, [{full_name, def_path, def_pos, def_end_pos}]]`,
`state_before`, `state_after`). It is read streamed (`iter_json_array`: `raw_decode` over a
sliding buffer), so memory does not grow with the file; every field is kept as it is
(theorems with no traced tactics, several goals in one state split by blank lines, the
premise annotations). Each record read gains a `provenance`: the dataset and its licence
(CC-BY-2.0), the source repository, commit and file and the code's licence, and the split.

Writing is the inverse: `read_split(write_split(records))` gives back `records`. A
provenance that is exactly what reading would derive is left out of the file, so a
benchmark read and written again is byte for byte LeanDojo's (Python's `json.dump`
layout, ASCII with `\\uXXXX` escapes); any other provenance (our Coq traces) stays in the
record, where LeanDojo's loaders ignore it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..core import ProofsmithError

DATASET = "LeanDojo Benchmark 4"
DATASET_LICENSE = "CC-BY-2.0"
SPLITS = ("random", "novel_premises")
PARTS = ("train", "val", "test")  # LeanDojo's names; the HF dataset says "validation" for "val"
CHUNK = 1 << 20
# The code the records quote: Lean 4 core, mathlib4 and their usual dependencies are Apache-2.0.
CODE_LICENSES = {"leanprover/lean4": "Apache-2.0", "leanprover-community/mathlib4": "Apache-2.0",
                 "leanprover-community/batteries": "Apache-2.0", "leanprover-community/aesop": "Apache-2.0",
                 "leanprover-community/quote4": "Apache-2.0", "leanprover-community/ProofWidgets4": "Apache-2.0",
                 "leanprover-community/plausible": "Apache-2.0", "leanprover-community/import-graph": "Apache-2.0"}
_PACKAGES = {"lean4": "leanprover/lean4", "batteries": "leanprover-community/batteries",
             "aesop": "leanprover-community/aesop", "Qq": "leanprover-community/quote4",
             "proofwidgets": "leanprover-community/ProofWidgets4", "plausible": "leanprover-community/plausible",
             "importGraph": "leanprover-community/import-graph"}


def iter_json_array(path: str | os.PathLike, chunk: int = CHUNK) -> Iterator[Any]:
    """The elements of the JSON array in `path`, one at a time; a broken file is one
    ProofsmithError naming the file and the character where it breaks."""
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8") as f:
        buf, pos, done, eof = f.read(chunk), 0, 0, False  # done: characters dropped before buf

        def more() -> bool:
            nonlocal buf, pos, done, eof
            if eof:
                return False
            data = f.read(max(chunk, len(buf) - pos))  # at least double what is left: linear overall
            eof = not data
            done += pos
            buf, pos = buf[pos:] + data, 0
            return not eof

        def skip() -> str:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or not more():
                    return buf[pos] if pos < len(buf) else ""

        def broken(why: str) -> ProofsmithError:
            return ProofsmithError(f"{path}: not a JSON array of records at character {done + pos}: {why}")

        if skip() != "[":
            raise broken("expected '['")
        pos += 1
        first = True
        while True:
            c = skip()
            if c == "]":
                pos += 1
                if skip():
                    raise broken("text after the array")
                return
            if not c:
                raise broken("the array is not closed")
            if not first:
                if c != ",":
                    raise broken("expected ',' or ']'")
                pos += 1
                skip()
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                    if end < len(buf) or eof or not more():  # a number cut at the buffer's end reads short
                        break
                except json.JSONDecodeError as exc:
                    if not more():
                        raise broken(exc.msg) from None
            first = False
            pos = end
            yield value


def provenance(record: dict, split: str = "") -> dict:
    """Where a benchmark record comes from and under which licences."""
    repo = record.get("url", "").removeprefix("https://github.com/").removesuffix(".git")
    path = record.get("file_path", "")
    if path.startswith(".lake/packages/"):
        repo = _PACKAGES.get(path.split("/")[2], repo)
    return {"dataset": DATASET, "dataset_license": DATASET_LICENSE, "source": record.get("url", ""),
            "commit": record.get("commit", ""), "file_path": path, "code_repo": repo,
            "code_license": CODE_LICENSES.get(repo, "unknown"), "split": split}


def read_split(path: str | os.PathLike, split: str = "") -> Iterator[dict]:
    """The records of one split file, each with its `provenance` (derived when the file has none;
    `split` is what it says, e.g. "random/test")."""
    for record in iter_json_array(path):
        if not isinstance(record, dict) or "full_name" not in record:
            raise ProofsmithError(f"{path}: a record is not a theorem (no full_name): {str(record)[:120]}")
        record.setdefault("provenance", provenance(record, split))
        yield record


def read_benchmark(root: str | os.PathLike) -> dict[str, dict[str, Iterator[dict]]]:
    """{split: {part: records}} of a Benchmark 4 directory, each part read streamed when iterated."""
    return {s: {p: read_split(path, f"{s}/{p}") for p, path in parts.items()} for s, parts in split_files(root).items()}


def split_files(root: str | os.PathLike) -> dict[str, dict[str, Path]]:
    """{split: {part: path}} of the split files present under a Benchmark 4 directory."""
    base = Path(root)
    found = {s: {p: base / s / f"{p}.json" for p in PARTS if (base / s / f"{p}.json").is_file()} for s in SPLITS}
    found = {s: parts for s, parts in found.items() if parts}
    if not found:
        raise ProofsmithError(f"{root}: no LeanDojo Benchmark 4 split files ({{random,novel_premises}}/{{train,val,test}}.json)")
    return found


def read_metadata(root: str | os.PathLike) -> dict:
    path = Path(root) / "metadata.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def read_corpus(root: str | os.PathLike) -> Iterator[dict]:
    """The premises, one file per line (`path`, `imports`, `premises`), when corpus.jsonl is there."""
    from ..io import read_jsonl

    path = Path(root) / "corpus.jsonl"
    if path.is_file():
        yield from read_jsonl(path)


def _atomic(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        write(f)
    tmp.replace(path)


def write_split(path: str | os.PathLike, records: Iterable[dict], split: str = "") -> int:
    """Write records as one split file (streamed, atomically); returns how many."""
    count = 0

    def write(f: Any) -> None:
        nonlocal count
        f.write("[")
        for record in records:
            if record.get("provenance") == provenance(record, split):
                record = {k: v for k, v in record.items() if k != "provenance"}
            f.write((", " if count else "") + json.dumps(record))
            count += 1
        f.write("]")

    _atomic(Path(path), write)
    return count


def write_benchmark(root: str | os.PathLike, splits: dict[str, dict[str, Iterable[dict]]], metadata: dict,
                    corpus: Iterable[dict] = (), licenses: str = "") -> dict[str, dict[str, int]]:
    """A Benchmark 4 directory: `splits[split][part]` records, metadata.json, corpus.jsonl, licenses/."""
    base = Path(root)
    counts = {s: {p: write_split(base / s / f"{p}.json", recs, f"{s}/{p}") for p, recs in parts.items()}
              for s, parts in splits.items()}
    lines = iter(json.dumps(c) + "\n" for c in corpus)
    if (first := next(lines, None)) is not None:  # no premises given: no corpus.jsonl (as LeanDojo's copies)
        _atomic(base / "corpus.jsonl", lambda f: f.writelines([first, *lines]))
    _atomic(base / "metadata.json", lambda f: f.write(json.dumps(metadata)))
    note = licenses or f"The dataset itself is released under {DATASET_LICENSE}; each record's provenance names its code's licence."
    _atomic(base / "licenses" / "README.md", lambda f: f.write(note + "\n"))
    return counts

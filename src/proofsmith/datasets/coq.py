"""The Coq corpus as a Hugging Face dataset: Features, splits, card.

Configs (see docs/coq-corpus.md): ``random`` (default), ``novel_premises`` and
``by_file`` hold theorems with their traced tactics in train/validation/test;
``tactics`` is the (state -> tactic) pairs of the ``random`` split; ``corpus`` the
premises (LeanDojo's corpus.jsonl, one row per file), ``facts`` the non-proof
definitions (coq-facts-props-proofs' shape), ``errors`` the files that failed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..coq.syntax import statement_head_removed, strip_comments
from ..core import ProofsmithError
from . import splits as sp
from .hub import Card, Streamed, save_dataset
from ..extract.state_store import theorems_file

RAW_FILES = ("theorems", "corpus", "facts", "tasks", "errors")


def features() -> dict[str, Any]:
    from datasets import Features, Sequence, Value

    pos = Sequence(Value("int32"))
    hyp = {"names": Sequence(Value("string")), "type": Value("string"), "body": Value("string"), "text": Value("string")}
    goal = {"hypotheses": [hyp], "conclusion": Value("string")}
    premise = {"name": Value("string"), "full_name": Value("string"), "kind": Value("string"),
               "def_module": Value("string"), "def_path": Value("string"), "def_pos": pos, "def_end_pos": pos}
    provenance = {"source": Value("string"), "project": Value("string"), "version": Value("string"),
                  "license": Value("string"), "sha256": Value("string"), "span": pos}
    tactic = {"tactic": Value("string"), "state_before": Value("string"), "state_after": Value("string"),
              "goals_before": [goal], "goals_after": [goal], "start": pos, "end": pos, "premises": [premise]}
    theorem = Features({
        "full_name": Value("string"), "name": Value("string"), "kind": Value("string"), "module": Value("string"),
        "file_path": Value("string"), "start": pos, "end": pos, "statement": Value("string"),
        "proof": Value("string"), "ending": Value("string"), "admitted": Value("bool"),
        "verified": Value("string"), "imports": Sequence(Value("string")), "in_section": Value("bool"),
        "prelude": Value("string"), "initial_goals": [goal], "traced_tactics": [tactic], "provenance": provenance})
    tactic_pair = Features({"full_name": Value("string"), "file_path": Value("string"), "step": Value("int32"),
                            "state_before": Value("string"), "tactic": Value("string"),
                            "state_after": Value("string"), "premises": Sequence(Value("string"))})
    corpus = Features({"path": Value("string"), "module": Value("string"), "project": Value("string"),
                       "imports": Sequence(Value("string")),
                       "premises": [{"full_name": Value("string"), "kind": Value("string"), "code": Value("string"),
                                     "start": pos, "end": pos}]})
    facts = Features({"fact": Value("string"), "imports": Sequence(Value("string")), "filename": Value("string"),
                      "symbolic_name": Value("string"), "kind": Value("string"), "start": pos, "end": pos,
                      "provenance": provenance})
    errors = Features({"file": Value("string"), "project": Value("string"), "reason": Value("string"),
                       "message": Value("string"), "line": Value("int32")})
    return {"theorems": theorem, "tactics": tactic_pair, "corpus": corpus, "facts": facts, "errors": errors}


def read_jsonl(path: Path) -> Iterator[dict]:
    """The records of a raw/*.jsonl file (none when it is absent); a torn or broken line is one
    ProofsmithError naming the file and line."""
    from ..io import read_jsonl as read_lines

    if path.is_file():
        yield from read_lines(path)


def statement_key(statement: str) -> str:
    """A statement without its name and layout: identical statements share a key."""
    text = strip_comments(statement)
    text = statement_head_removed(text)
    return " ".join(text.split())


def theorem_premises(theorem: dict) -> set[str]:
    return {p["full_name"] for t in theorem["traced_tactics"] for p in t["premises"]}


def build_dataset(out_dir: str | Path, card_info: dict[str, Any], seed: int = sp.SEED,
                  held_out: int | None = None) -> dict[str, dict[str, int]]:
    """Read out_dir/raw/*.jsonl, split, and save the dataset (Parquet + card) in out_dir, streamed:
    a first pass keeps each theorem's small keys (statement key, file, premises used) to split
    them, a second writes every split at once, one theorem in memory at a time (plus one row
    group per file, hub.Streamed): memory does not grow with the corpus's text."""
    out = Path(out_dir)
    raw = out / "raw"
    keys, files, premises, slim = [], [], [], []
    for t in read_jsonl(theorems_file(raw)):  # compact (states by id): nothing inflated
        keys.append(statement_key(t["statement"]))
        files.append(f"{t['provenance']['project']}/{t['file_path']}")
        premises.append(theorem_premises(t))
        slim.append(_slim_theorem(t))
    n = held_out if held_out is not None else sp.held_out_size(len(keys))
    if 2 * n > len(keys):
        raise ProofsmithError(f"--held-out {n} puts {2 * n} theorems in validation and test, but the corpus has "
                              f"{len(keys)} theorems")
    splittings = {"random": sp.random_split(keys, n, n, seed),
                  "novel_premises": sp.novel_premises_split(keys, premises, n, n, seed),
                  "by_file": sp.by_file_split(keys, files, n, n, seed)}
    del keys, files, premises
    split_of = {name: _split_of(split) for name, split in splittings.items()}
    feats = features()
    configs: dict[str, Any] = {name: {s: Streamed(feats["theorems"], THEOREM_BATCH_ROWS) for s in split}
                               for name, split in splittings.items()}
    configs["tactics"] = {s: Streamed(feats["tactics"], ROW_BATCH_ROWS) for s in splittings["random"]}
    for name in ("corpus", "facts", "errors"):
        configs[name] = {"train": Streamed(feats[name], ROW_BATCH_ROWS)}

    def fill(writers: dict[str, dict[str, Any]]) -> None:
        from ..extract.state_store import read_theorems

        for i, t in enumerate(read_theorems(out)):  # states inlined: the columns users expect
            row = _theorem_row(t)
            for name, where in split_of.items():
                writers[name][where[i]].add(row)
            for tactic in _tactic_rows([row]):
                writers["tactics"][split_of["random"][i]].add(tactic)
        for name in ("corpus", "facts", "errors"):
            for r in read_jsonl(raw / f"{name}.jsonl"):
                writers[name]["train"].add({k: r.get(k) for k in feats[name]})

    small = {"theorems": slim, "errors": list(read_jsonl(raw / "errors.jsonl")),
             "corpus": [{"project": c.get("project"), "path": c.get("path"), "premises": c.get("premises") or ()}
                        for c in read_jsonl(raw / "corpus.jsonl")]}
    stats = corpus_statistics({**small, "facts": read_jsonl(raw / "facts.jsonl"), "tasks": read_jsonl(raw / "tasks.jsonl")})
    info = dict(card_info)
    libraries = info.pop("libraries", [])  # one row each in the card (coq_card.py)
    if libraries:
        from .coq_card import library_rows, library_table

        info["sources"] = (info.get("sources", "") + "\n\n" + library_table(library_rows(small, libraries))).strip()
    card = Card(**info, extra_statistics=stats)
    save_dataset(out, configs, card, default="random", fill=fill)
    return {c: {s: _rows(out / "data" / c / f"{s}-00000-of-00001.parquet") for s in splits}
            for c, splits in configs.items()}


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


THEOREM_BATCH_ROWS, ROW_BATCH_ROWS = 64, 1024  # Python rows held per Parquet file (hub.ParquetRows)


def _split_of(split: sp.Split) -> dict[int, str]:
    return {i: name for name, members in split.items() for i in members}


def _slim_theorem(t: dict) -> dict:
    """What the statistics and the card's library table read of a theorem (coq_card.library_rows)."""
    return {"provenance": {"project": sys.intern((t.get("provenance") or {}).get("project", ""))},
            "ending": t.get("ending"), "admitted": t.get("admitted"),
            "initial": bool(t.get("initial_goals") or t.get("initial")),
            "traced_tactics": [{"premises": tuple(sys.intern(p["full_name"]) for p in s["premises"])}
                               for s in t["traced_tactics"]]}


def _theorem_row(t: dict) -> dict:
    row = dict(t)
    row.setdefault("verified", "")
    row["verified"] = str(row["verified"] or "")
    return row


def _tactic_rows(theorems: list[dict]) -> list[dict]:
    return [{"full_name": t["full_name"], "file_path": t["file_path"], "step": i, "state_before": s["state_before"],
             "tactic": s["tactic"], "state_after": s["state_after"],
             "premises": [p["full_name"] for p in s["premises"]]}
            for t in theorems if not t["admitted"] for i, s in enumerate(t["traced_tactics"])]


def corpus_statistics(raw: dict[str, Any]) -> dict[str, Any]:
    """Counts over the raw tables (lists, or iterables read once each)."""
    files: set[tuple] = set()
    premises_in_corpus = 0
    for c in raw["corpus"]:
        files.add((c["project"], c["path"]))
        premises_in_corpus += len(c["premises"])
    errors = 0
    for e in raw["errors"]:
        files.add((e["project"], e["file"]))
        errors += 1
    theorems = admitted = tactics = uses = 0
    for t in raw["theorems"]:
        theorems += 1
        admitted += bool(t["admitted"])
        tactics += len(t["traced_tactics"])
        uses += sum(len(s["premises"]) for s in t["traced_tactics"])
    return {
        "files": len(files), "files_failed": errors, "theorems": theorems, "admitted_or_aborted": admitted,
        "traced_tactics": tactics, "premises_in_corpus": premises_in_corpus, "premise_uses": uses,
        "facts": sum(1 for _ in raw["facts"]), "tasks": sum(1 for _ in raw["tasks"]),
    }

"""The Coq corpus as a Hugging Face dataset: Features, splits, card.

Configs (see docs/coq-corpus.md): ``random`` (default), ``novel_premises`` and
``by_file`` hold theorems with their traced tactics in train/validation/test;
``tactics`` is the (state -> tactic) pairs of the ``random`` split; ``corpus`` the
premises (LeanDojo's corpus.jsonl, one row per file), ``facts`` the non-proof
definitions (coq-facts-props-proofs' shape), ``errors`` the files that failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..coq.syntax import statement_head_removed, strip_comments
from ..core import ProofsmithError
from . import splits as sp
from .hub import Card, save_dataset

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


def _table(rows: list[dict], feats: Any) -> Any:
    from datasets import Dataset

    if not rows:  # from_list cannot infer columns from nothing
        return Dataset.from_dict({k: [] for k in feats}, features=feats)
    return Dataset.from_list(rows, features=feats)


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
    """Read out_dir/raw/*.jsonl, split, and save the dataset (Parquet + card) in out_dir."""
    from datasets import DatasetDict

    out = Path(out_dir)
    raw = {name: list(read_jsonl(out / "raw" / f"{name}.jsonl")) for name in RAW_FILES}
    feats = features()
    theorems = [_theorem_row(t) for t in raw["theorems"]]
    keys = [statement_key(t["statement"]) for t in theorems]
    n = held_out if held_out is not None else sp.held_out_size(len(theorems))
    if 2 * n > len(theorems):
        raise ProofsmithError(f"--held-out {n} puts {2 * n} theorems in validation and test, but the corpus has "
                              f"{len(theorems)} theorems")
    splittings = {
        "random": sp.random_split(keys, n, n, seed),
        "novel_premises": sp.novel_premises_split(keys, [theorem_premises(t) for t in theorems], n, n, seed),
        "by_file": sp.by_file_split(keys, [f"{t['provenance']['project']}/{t['file_path']}" for t in theorems], n, n, seed),
    }
    configs: dict[str, Any] = {}
    for name, split in splittings.items():
        configs[name] = DatasetDict({s: _table([theorems[i] for i in sorted(idx)], feats["theorems"])
                                     for s, idx in split.items()})
    configs["tactics"] = DatasetDict({s: _table(_tactic_rows([theorems[i] for i in sorted(idx)]), feats["tactics"])
                                      for s, idx in splittings["random"].items()})
    for name in ("corpus", "facts", "errors"):
        rows = [{k: r.get(k) for k in feats[name]} for r in raw[name]]
        configs[name] = DatasetDict(train=_table(rows, feats[name]))
    stats = corpus_statistics(raw)
    card = Card(**card_info, extra_statistics=stats)
    save_dataset(out, configs, card, default="random")
    return {c: {s: len(ds) for s, ds in dsd.items()} for c, dsd in configs.items()}


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


def corpus_statistics(raw: dict[str, list[dict]]) -> dict[str, Any]:
    theorems = raw["theorems"]
    return {
        "files": len({(c["project"], c["path"]) for c in raw["corpus"]} | {(e["project"], e["file"]) for e in raw["errors"]}),
        "files_failed": len(raw["errors"]),
        "theorems": len(theorems),
        "admitted_or_aborted": sum(1 for t in theorems if t["admitted"]),
        "traced_tactics": sum(len(t["traced_tactics"]) for t in theorems),
        "premises_in_corpus": sum(len(c["premises"]) for c in raw["corpus"]),
        "premise_uses": sum(len(s["premises"]) for t in theorems for s in t["traced_tactics"]),
        "facts": len(raw["facts"]),
        "tasks": len(raw["tasks"]),
    }

"""The MPI corpus as a Hugging Face dataset: Features, splits, card.

Configs (see docs/mpi.md): ``random`` (default) and ``by_project`` hold the programs
(MPIrigen's ``program``, ``code``, ``mpi_labels`` and our fields) in train/validation/test;
``errors`` the files the parser could not read. In ``by_project`` whole projects are held
out (test first, then validation), but never the last one: with a single project
everything is train, with two the second is test. Files whose code is the same (layout
aside) move together, so one program never sits on both sides.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from . import splits as sp
from .coq import read_jsonl
from .hub import Card, save_dataset


def features() -> dict[str, Any]:
    from datasets import Features, Sequence, Value

    call = {"name": Value("string"), "arguments": Sequence(Value("string")), "line": Value("int32"),
            "end_line": Value("int32"), "column": Value("int32"), "order": Value("int32"), "kind": Value("string"),
            "function": Value("string"), "L": Value("int32"), "k": Value("int32"), "text": Value("string")}
    provenance = {"source": Value("string"), "project": Value("string"), "version": Value("string"),
                  "license": Value("string"), "sha256": Value("string"), "span": Sequence(Value("int32"))}
    builds = {"checked": Value("bool"), "standalone": Value("bool"), "command": Value("string"), "error": Value("string")}
    program = Features({"program": Value("string"), "code": Value("string"), "mpi_labels": Value("string"),
                        "source": Value("string"), "lang": Value("string"), "calls": [call],
                        "functions": Sequence(Value("string")), "has_main": Value("bool"),
                        "parse_errors": Value("int32"), "builds": builds, "provenance": provenance})
    errors = Features({"file": Value("string"), "project": Value("string"), "reason": Value("string"),
                       "message": Value("string"), "line": Value("int32")})
    return {"programs": program, "errors": errors}


def code_key(record: dict) -> str:
    return " ".join(record["source"].split())


def by_project_split(keys: list[str], projects: list[str], n_val: int, n_test: int, seed: int = sp.SEED) -> sp.Split:
    """Whole projects into test, then validation, until each holds enough; the last project always trains."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(projects):
        members[p].append(i)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    out: sp.Split = {"train": [], "validation": [], "test": []}
    for position, project in enumerate(order):
        last = position == len(order) - 1
        target = ("test" if len(out["test"]) < n_test else "validation" if len(out["validation"]) < n_val
                  else "train") if not last else "train"
        out[target].extend(members[project])
    train_keys = {keys[i] for i in out["train"]}
    for split in ("validation", "test"):  # a program also in a training project stays in train
        moved = [i for i in out[split] if keys[i] in train_keys]
        out[split] = [i for i in out[split] if keys[i] not in train_keys]
        out["train"] += moved
    return out


def _table(rows: list[dict], feats: Any) -> Any:
    from datasets import Dataset

    if not rows:
        return Dataset.from_dict({k: [] for k in feats}, features=feats)
    return Dataset.from_list(rows, features=feats)


def build_dataset(out_dir: str | Path, card_info: dict[str, Any], seed: int = sp.SEED) -> dict[str, dict[str, int]]:
    """Read out_dir/raw/{programs,errors}.jsonl, split, and save the dataset (Parquet + card) in out_dir."""
    from datasets import DatasetDict

    out = Path(out_dir)
    programs = list(read_jsonl(out / "raw" / "programs.jsonl"))
    errors = list(read_jsonl(out / "raw" / "errors.jsonl"))
    feats = features()
    for p in programs:
        p["provenance"] = {**p["provenance"], "span": p["provenance"].get("span") or []}
    keys = [code_key(p) for p in programs]
    n = sp.held_out_size(len(programs))
    splittings = {"random": sp.random_split(keys, n, n, seed),
                  "by_project": by_project_split(keys, [p["provenance"]["project"] for p in programs], n, n, seed)}
    configs: dict[str, Any] = {
        name: DatasetDict({s: _table([programs[i] for i in sorted(idx)], feats["programs"]) for s, idx in split.items()})
        for name, split in splittings.items()}
    configs["errors"] = DatasetDict(train=_table([{k: e.get(k) for k in feats["errors"]} for e in errors],
                                                 feats["errors"]))
    card = Card(**card_info, extra_statistics=corpus_statistics(programs, errors))
    save_dataset(out, configs, card, default="random")
    return {c: {s: len(ds) for s, ds in dsd.items()} for c, dsd in configs.items()}


def corpus_statistics(programs: list[dict], errors: list[dict]) -> dict[str, Any]:
    calls = [c for p in programs for c in p["calls"]]
    names: dict[str, int] = defaultdict(int)
    for c in calls:
        names[c["name"]] += 1
    common = ", ".join(f"{k} {v}" for k, v in sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))[:10])
    return {
        "programs": len(programs),
        "with_main": sum(p["has_main"] for p in programs),
        "build_standalone": sum(p["builds"]["standalone"] for p in programs),
        "mpi_calls": len(calls),
        "most_common_calls": common,
        "files_failed": len(errors),
    }

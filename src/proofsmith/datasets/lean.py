"""Lean corpora as Hugging Face datasets, and any proofsmith corpus as LeanDojo Benchmark 4.

- `features()`: the HF `Features` of a Benchmark 4 theorem (`annotated_tactic`, a JSON pair
  `[text, premises]`, becomes the struct `{text, premises}`; `to_row`/`from_row` convert).
- `from_coq(theorem)`: one of our Coq theorems (datasets/coq.py's records) as a Benchmark 4
  record: each premise the tactic names is wrapped in `<a>...</a>` where it is written.
- `benchmark_splits(records)`: LeanDojo's `random` and `novel_premises` splits, by the same
  code as the Coq corpus (`splits.py`), premises read from the annotated tactics.
- `export_coq(corpus_dir, out)`: a Coq corpus written as a Benchmark 4 directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import leandojo as ld
from . import splits as sp

HF_PARTS = {"train": "train", "val": "validation", "test": "test"}


def features() -> Any:
    from datasets import Features, Sequence, Value

    pos = Sequence(Value("int32"))
    premise = {"full_name": Value("string"), "def_path": Value("string"), "def_pos": pos, "def_end_pos": pos}
    tactic = {"tactic": Value("string"), "annotated_tactic": {"text": Value("string"), "premises": [premise]},
              "state_before": Value("string"), "state_after": Value("string")}
    provenance = {k: Value("string") for k in ("dataset", "dataset_license", "source", "commit", "file_path",
                                                 "code_repo", "code_license", "split")}
    return Features({"url": Value("string"), "commit": Value("string"), "file_path": Value("string"),
                     "full_name": Value("string"), "start": pos, "end": pos, "traced_tactics": [tactic],
                     "provenance": provenance})


def to_row(record: dict) -> dict:
    tactics = [{**t, "annotated_tactic": {"text": t["annotated_tactic"][0], "premises": t["annotated_tactic"][1]}}
               for t in record["traced_tactics"]]
    prov = {k: str(record.get("provenance", {}).get(k, "")) for k in features()["provenance"]}
    return {**{k: record[k] for k in ("url", "commit", "file_path", "full_name", "start", "end")},
            "traced_tactics": tactics, "provenance": prov}


def from_row(row: dict) -> dict:
    tactics = [{"tactic": t["tactic"], "annotated_tactic": [t["annotated_tactic"]["text"],
                                                            list(t["annotated_tactic"]["premises"])],
                "state_before": t["state_before"], "state_after": t["state_after"]} for t in row["traced_tactics"]]
    return {**{k: row[k] for k in ("url", "commit", "file_path", "full_name")}, "start": list(row["start"]),
            "end": list(row["end"]), "traced_tactics": tactics, "provenance": dict(row["provenance"])}


def annotate(tactic: str, premises: list[dict]) -> list:
    """`[text, provenances]`: each premise's name wrapped in <a></a> where it is next written
    (in order; one provenance per mark, so a premise never found is left out)."""
    out, used, at = [], [], 0
    for p in premises:
        name = p.get("name") or p["full_name"]
        m = re.compile(rf"(?<![\w.']){re.escape(name)}(?![\w'])").search(tactic, at)
        if not m:
            continue
        out.append(tactic[at:m.start()] + f"<a>{name}</a>")
        at = m.end()
        used.append({"full_name": p["full_name"], "def_path": p.get("def_path", ""),
                     "def_pos": list(p.get("def_pos") or [0, 0]), "def_end_pos": list(p.get("def_end_pos") or [0, 0])})
    return ["".join(out) + tactic[at:], used]


def from_coq(theorem: dict) -> dict:
    prov = theorem.get("provenance", {})
    return {"url": prov.get("source", ""), "commit": prov.get("version", "") or prov.get("sha256", ""),
            "file_path": theorem["file_path"], "full_name": theorem["full_name"], "start": list(theorem["start"]),
            "end": list(theorem["end"]),
            "traced_tactics": [{"tactic": t["tactic"], "annotated_tactic": annotate(t["tactic"], t.get("premises", [])),
                                "state_before": t["state_before"], "state_after": t["state_after"]}
                               for t in theorem.get("traced_tactics", [])],
            "provenance": {"dataset": f"proofsmith Coq corpus ({prov.get('project', '')})",
                           "dataset_license": prov.get("license", ""), "source": prov.get("source", ""),
                           "commit": prov.get("version", ""), "file_path": theorem["file_path"],
                           "code_repo": prov.get("project", ""), "code_license": prov.get("license", ""),
                           "split": ""}}


def corpus_from_coq(row: dict) -> dict:
    return {"path": row["path"], "imports": list(row.get("imports", [])),
            "premises": [{k: p.get(k) for k in ("full_name", "code", "start", "end", "kind")}
                         for p in row.get("premises", [])]}


def record_premises(record: dict) -> set[str]:
    return {p["full_name"] for t in record["traced_tactics"] for p in t["annotated_tactic"][1]}


def benchmark_splits(records: list[dict], held_out: int | None = None, seed: int = sp.SEED) -> dict[str, dict[str, list[dict]]]:
    """{"random" | "novel_premises": {"train" | "val" | "test": records}} as LeanDojo makes them."""
    n = held_out if held_out is not None else sp.held_out_size(len(records))
    keys = [f"{r['file_path']}:{r['full_name']}" for r in records]
    made = {"random": sp.random_split(keys, n, n, seed),
            "novel_premises": sp.novel_premises_split(keys, [record_premises(r) for r in records], n, n, seed)}
    return {name: {part: [_in_split(records[i], f"{name}/{part}") for i in split[HF_PARTS[part]]] for part in ld.PARTS}
            for name, split in made.items()}


def _in_split(record: dict, split: str) -> dict:
    prov = record.get("provenance")
    return {**record, "provenance": {**prov, "split": split}} if prov else record


def export_coq(corpus_dir: str | Path, out: str | Path, held_out: int | None = None) -> dict[str, dict[str, int]]:
    """The Coq corpus in `corpus_dir` (what `proofsmith extract coq` wrote) as Benchmark 4 under `out`."""
    from ..extract.state_store import read_theorems  # the one reader of a Coq corpus's theorems
    from .coq import read_jsonl

    raw = Path(corpus_dir) / "raw"
    records = [from_coq(t) for t in read_theorems(corpus_dir) if not t.get("admitted")]
    metadata = {"dataset_name": "proofsmith Coq corpus in LeanDojo Benchmark 4 format",
                "from_repo": sorted({r["provenance"]["code_repo"] for r in records}), "format": ld.DATASET}
    return ld.write_benchmark(out, benchmark_splits(records, held_out), metadata,
                              corpus=(corpus_from_coq(c) for c in read_jsonl(raw / "corpus.jsonl")),
                              licenses="Each record's provenance names the licence of the Coq project it came from.")


def hf_tables(splits: dict[str, dict[str, Iterable[dict]]]) -> dict[str, Any]:
    """{config: DatasetDict} for `hub.save_dataset`: one config per split, LeanDojo's parts renamed."""
    from datasets import Dataset, DatasetDict

    feats = features()
    configs = {}
    for name, parts in splits.items():
        tables = {}
        for part, records in parts.items():
            rows = [to_row(r) for r in records]
            tables[HF_PARTS[part]] = (Dataset.from_list(rows, features=feats) if rows
                                      else Dataset.from_dict({k: [] for k in feats}, features=feats))
        configs[name] = DatasetDict(tables)
    return configs

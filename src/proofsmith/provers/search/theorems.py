"""What `proofsmith prove` proves: a Coq tasks JSONL, or a split of an extracted corpus.

A corpus directory (docs/coq-corpus.md) holds the theorems of each split under
``data/<config>/<split>-*.parquet`` and the tasks under ``raw/tasks.jsonl``; a theorem
row maps to its task by ``<project>:<full_name>``. Premises for retrieval come from the
same directory's ``raw/corpus.jsonl``.
"""

from __future__ import annotations

from pathlib import Path

from ...core import ProofsmithError, Provenance, Task


def load_theorems(dataset: str | Path, split: str = "test", config: str = "random") -> list[Task]:
    path = Path(dataset)
    if not path.exists():
        raise ProofsmithError(f"{path}: no such file or directory")
    if path.is_file():
        from ...io import load_tasks

        tasks = [t for t in load_tasks(path).values() if t.kind == "coq"]
        if not tasks:
            raise ProofsmithError(f"{path}: no coq tasks")
        return tasks
    return _corpus_split(path, split, config)


def premises_path(dataset: str | Path) -> str | None:
    """The corpus's premises (for retrieval), when the dataset is a corpus directory."""
    path = Path(dataset) / "raw" / "corpus.jsonl"
    return str(path) if path.is_file() else None


def _corpus_split(root: Path, split: str, config: str) -> list[Task]:
    from ...datasets.hub import parquet_rows

    files = sorted((root / "data" / config).glob(f"{split}-*.parquet"))
    if not files:
        available = sorted(p.name for p in (root / "data").glob("*")) if (root / "data").is_dir() else []
        raise ProofsmithError(f"{root}: no split {config}/{split} (is it an extracted corpus? configs: "
                              f"{', '.join(available) or 'none'})")
    rows = [r for f in files for r in parquet_rows(f) if not r.get("admitted")]
    tasks_file = root / "raw" / "tasks.jsonl"
    known = {}
    if tasks_file.is_file():
        from ...io import load_tasks

        known = load_tasks(tasks_file)
    tasks = []
    for row in rows:
        project = (row.get("provenance") or {}).get("project", "")
        task_id = f"{project}:{row['full_name']}"
        tasks.append(known.get(task_id) or Task(
            id=task_id, kind="coq", statement=row["statement"], context=row.get("prelude") or "",
            reference=row.get("proof"), provenance=Provenance.from_dict(row.get("provenance")),
            meta={"full_name": row["full_name"], "module": row.get("module", "")}))
    if not tasks:
        raise ProofsmithError(f"{root}: split {config}/{split} holds no provable theorem")
    return tasks

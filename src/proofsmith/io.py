"""Reading and writing the files users already have: JSONL(.gz) tasks, samples, results.

Runs that write results as they go (and resume) do so through `runs.run_resumable`.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .core import Candidate, ProofsmithError, Provenance, Task


def read_jsonl(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        raise ProofsmithError(f"{path}: no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ProofsmithError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise ProofsmithError(f"{path}:{lineno}: expected a JSON object per line")
                yield record
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise ProofsmithError(f"{path}: unreadable ({exc.__class__.__name__})") from None


def task_from_record(r: dict[str, Any], where: str = "") -> Task:
    """A HumanEval problem or a proofsmith task line, as a Task."""
    task_id = r.get("task_id") or r.get("id")
    if not task_id:
        raise ProofsmithError(f"{where}: task without task_id")
    kind = r.get("kind") or ("python" if "prompt" in r else "")
    if kind == "python":
        missing = [k for k in ("prompt", "test", "entry_point") if k not in r]
        if missing:
            raise ProofsmithError(f"{where}: python task {task_id} lacks {', '.join(missing)}")
        return Task(id=task_id, kind="python", statement=r["prompt"], reference=r.get("canonical_solution"),
                    tests=r["test"], entry_point=r["entry_point"],
                    provenance=Provenance.from_dict(r.get("provenance")))
    if kind == "coq":
        if "statement" not in r:
            raise ProofsmithError(f"{where}: coq task {task_id} lacks statement")
        extra = {k: v for k, v in r.items() if k not in ("task_id", "kind", "prelude", "context", "statement",
                                                           "reference", "provenance", "meta")}
        return Task(id=task_id, kind="coq", statement=r["statement"], context=r.get("prelude", r.get("context", "")),
                    reference=r.get("reference"), provenance=Provenance.from_dict(r.get("provenance")),
                    meta={**r.get("meta", {}), **extra})
    if not kind:
        raise ProofsmithError(f"{where}: task {task_id} has no kind and is not a HumanEval problem")
    return Task(id=task_id, kind=kind, statement=r.get("statement", ""), context=r.get("context", ""),
                reference=r.get("reference"), tests=r.get("tests", ""), entry_point=r.get("entry_point", ""),
                provenance=Provenance.from_dict(r.get("provenance")), meta=r.get("meta", {}))


def load_tasks(path: str | os.PathLike) -> dict[str, Task]:
    tasks: dict[str, Task] = {}
    for i, record in enumerate(read_jsonl(path), 1):
        task = task_from_record(record, f"{path}:{i}")
        tasks[task.id] = task
    if not tasks:
        raise ProofsmithError(f"{path}: no tasks")
    return tasks


def read_samples(path: str | os.PathLike) -> list[Candidate]:
    samples = []
    for i, r in enumerate(read_jsonl(path), 1):
        if "task_id" not in r or "completion" not in r:
            raise ProofsmithError(f"{path}:{i}: a sample needs task_id and completion")
        if not isinstance(r["completion"], str):
            raise ProofsmithError(f"{path}:{i}: completion must be a string")
        samples.append(candidate_from_sample(r))
    return samples


DECODING_FIELDS = ("method", "temperature", "top_p", "seed", "max_new_tokens")  # how a sample line says it was drawn


def candidate_from_sample(r: dict[str, Any]) -> Candidate:
    """A sample line as a Candidate: how it was made from the fields that say so, every field kept."""
    def number(name: str, integral: bool = False) -> float | int | None:
        value = r.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if integral:
            return int(value) if float(value).is_integer() else None
        return float(value)

    decoding = dict(r["decoding"]) if isinstance(r.get("decoding"), dict) else \
        {k: r[k] for k in DECODING_FIELDS if k in r}
    model = r.get("model") if isinstance(r.get("model"), str) else ""
    return Candidate(task_id=r["task_id"], text=r["completion"], model=model, decoding=decoding,
                     logprob=number("logprob"), tokens=number("tokens", integral=True), seconds=number("seconds"),
                     fields=r)


def write_jsonl_atomic(path: str | os.PathLike, records: Iterable[dict[str, Any]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    os.replace(tmp, path)

"""Reading and writing the files users already have: JSONL(.gz) tasks, samples, results.

Runs that write results as they go (and resume) do so through `runs.run_resumable`.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .core import Candidate, ProofsmithError, Provenance, Task
from .runs import json_line
from .text import not_unicode

MAX_DEPTH = 100  # of nesting in a line: deeper is no task or sample, and would exhaust the stack later


def read_jsonl(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    for _, record in numbered_jsonl(path):
        yield record


def numbered_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a UTF-8 JSONL file, gzipped or not (by its
    content, not its name); a BOM and CRLF line ends are fine. Anything else is one ProofsmithError."""
    path = Path(path)
    if not path.exists():
        raise ProofsmithError(f"{path}: no such file")
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        opener = gzip.open if gzipped else open
        with opener(path, "rt", encoding="utf-8-sig") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except RecursionError:
                    raise ProofsmithError(f"{path}:{lineno}: nested more than {MAX_DEPTH} deep") from None
                except ValueError as exc:  # JSONDecodeError, and integers too long to convert
                    raise ProofsmithError(f"{path}:{lineno}: not valid JSON ({getattr(exc, 'msg', exc)})") from None
                if not isinstance(record, dict):
                    raise ProofsmithError(f"{path}:{lineno}: expected a JSON object per line")
                if _too_deep(record):
                    raise ProofsmithError(f"{path}:{lineno}: nested more than {MAX_DEPTH} deep")
                yield lineno, record
    except (UnicodeDecodeError, EOFError, zlib.error) as exc:
        raise ProofsmithError(f"{path}: unreadable ({exc.__class__.__name__}: not UTF-8 JSONL, or a broken gzip)") \
            from None
    except OSError as exc:  # a directory, no permission, a bad gzip header
        raise ProofsmithError(f"{path}: unreadable ({exc.strerror or exc})") from None


def _too_deep(record: Any) -> bool:
    level = [record]
    for _ in range(MAX_DEPTH):
        level = [v for x in level for v in (x.values() if isinstance(x, dict) else x)
                 if isinstance(v, (dict, list))]
        if not level:
            return False
    return True


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if value == "":
        return "an empty string"
    return {int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}[type(value)]


def task_from_record(r: dict[str, Any], where: str = "") -> Task:
    """A HumanEval problem or a proofsmith task line, as a Task."""
    task_id = r.get("task_id") or r.get("id")
    if not task_id:
        raise ProofsmithError(f"{where}: task without task_id")
    if not isinstance(task_id, str):
        raise ProofsmithError(f"{where}: task_id must be a string, not {_json_type(task_id)}")
    if not_unicode(task_id):
        raise ProofsmithError(f"{where}: task_id {task_id!r} is not valid Unicode text ({not_unicode(task_id)})")
    kind = r.get("kind") or ("python" if "prompt" in r else "")
    if not isinstance(kind, str):
        raise ProofsmithError(f"{where}: task {task_id}: kind must be a string, not {_json_type(kind)}")
    _check_field_types(r, f"{where}: {kind + ' ' if kind else ''}task {task_id}")
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
    if kind == "mpi":  # docs/mpi.md: lang, np, inputs, compile_flags, compare at the top level or in meta
        if "statement" not in r:
            raise ProofsmithError(f"{where}: mpi task {task_id} lacks statement")
        extra = {k: v for k, v in r.items() if k not in ("task_id", "kind", "statement", "context", "reference",
                                                           "provenance", "meta")}
        meta = {**r.get("meta", {}), **extra}
        for name, types, said in (("lang", (str,), "a string"), ("np", (int,), "a number of ranks"),
                                  ("inputs", (list,), "a list"), ("compile_flags", (list, str), "a list")):
            if name in meta and (not isinstance(meta[name], types) or isinstance(meta[name], bool)):
                raise ProofsmithError(f"{where}: mpi task {task_id}: {name} must be {said}, "
                                      f"not {_json_type(meta[name])}")
        return Task(id=task_id, kind="mpi", statement=r["statement"], context=r.get("context", ""),
                    reference=r.get("reference"), provenance=Provenance.from_dict(r.get("provenance")), meta=meta)
    if not kind:
        raise ProofsmithError(f"{where}: task {task_id} has no kind and is not a HumanEval problem")
    return Task(id=task_id, kind=kind, statement=r.get("statement", ""), context=r.get("context", ""),
                reference=r.get("reference"), tests=r.get("tests", ""), entry_point=r.get("entry_point", ""),
                provenance=Provenance.from_dict(r.get("provenance")), meta=r.get("meta", {}))


_TEXT_FIELDS = ("prompt", "test", "entry_point", "statement", "prelude", "context", "tests")  # strings when given
_TEXT_OR_NULL = ("canonical_solution", "reference")


def _check_field_types(r: dict[str, Any], what: str) -> None:
    """A field of the wrong type is one clear line here, not a crash inside a checker."""
    for name in _TEXT_FIELDS:
        if name in r and not isinstance(r[name], str):
            raise ProofsmithError(f"{what}: {name} must be a string, not {_json_type(r[name])}")
    for name in _TEXT_OR_NULL:
        if r.get(name) is not None and not isinstance(r[name], str):
            raise ProofsmithError(f"{what}: {name} must be a string or null, not {_json_type(r[name])}")
    if "meta" in r and not isinstance(r["meta"], dict):
        raise ProofsmithError(f"{what}: meta must be an object, not {_json_type(r['meta'])}")
    if r.get("provenance") is not None and not isinstance(r["provenance"], dict):
        raise ProofsmithError(f"{what}: provenance must be an object or null, not {_json_type(r['provenance'])}")
    for args in (r.get("coq_args"), (r.get("meta") or {}).get("coq_args")):
        if args is not None and not (isinstance(args, list) and all(isinstance(a, str) for a in args)):
            raise ProofsmithError(f"{what}: coq_args must be a list of strings")
    if r.get("provenance"):
        try:
            Provenance.from_dict(r["provenance"])
        except (TypeError, ValueError) as exc:
            raise ProofsmithError(f"{what}: provenance does not fit ({exc})") from None


def resolve_prelude(r: dict[str, Any], base: Path, where: str = "", sources: dict | None = None) -> dict[str, Any]:
    """A task line whose prelude is a source file's prefix may say so instead of repeating it:
    ``"prelude_of": {"source": PATH, "chars": N, "sha256": DIGEST}``, PATH relative to the tasks
    file's directory (plain or gzipped text), DIGEST the sha256 of its bytes (by default the
    task's ``provenance.sha256``: the prelude is a prefix of the file the task comes from). The line with its
    ``prelude`` given back; a missing, changed or too short source is one ProofsmithError.
    `sources` caches the files read (one read per file per tasks file)."""
    ref = r.get("prelude_of")
    if ref is None:
        return r
    ref = ref if isinstance(ref, dict) else {}
    expected = ref.get("sha256") or (r.get("provenance") or {}).get("sha256")
    if not (isinstance(ref.get("source"), str) and isinstance(ref.get("chars"), int) and isinstance(expected, str)):
        raise ProofsmithError(f"{where}: prelude_of must be {{\"source\": path, \"chars\": n, \"sha256\": digest}} "
                              f"(the digest may be the task's provenance.sha256)")
    sources = {} if sources is None else sources
    path = base / ref["source"]
    if path not in sources:
        try:
            data = path.read_bytes()
            data = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        except (OSError, EOFError, zlib.error) as exc:
            raise ProofsmithError(f"{where}: the prelude's source {path} is unreadable "
                                  f"({getattr(exc, 'strerror', None) or exc}); extract again") from None
        import hashlib

        sources[path] = (hashlib.sha256(data).hexdigest(), data.decode("utf-8", "surrogateescape"))
    digest, text = sources[path]
    if digest != expected or len(text) < ref["chars"]:
        raise ProofsmithError(f"{where}: the prelude's source {path} changed since the tasks were written "
                              f"(sha256 {digest[:12]}, expected {expected[:12]}); extract again")
    return {**{k: v for k, v in r.items() if k != "prelude_of"}, "prelude": text[:ref["chars"]]}


def load_tasks(path: str | os.PathLike) -> dict[str, Task]:
    tasks: dict[str, Task] = {}
    line_of: dict[str, int] = {}
    sources: dict = {}
    for i, record in numbered_jsonl(path):
        record = resolve_prelude(record, Path(path).parent, f"{path}:{i}", sources)
        task = task_from_record(record, f"{path}:{i}")
        if task.id in line_of:  # a later line would silently replace the earlier task
            raise ProofsmithError(f"{path}:{i}: task_id {task.id!r} again (first on line {line_of[task.id]})")
        tasks[task.id], line_of[task.id] = task, i
    if not tasks:
        raise ProofsmithError(f"{path}: no tasks")
    return tasks


def read_samples(path: str | os.PathLike) -> list[Candidate]:
    """Every sample line as a Candidate. A completion is any string, even one that is not Unicode
    text (a lone surrogate, text.py): it gets its verdict from the checker, not here; a task_id
    that is not names no task."""
    samples = []
    for i, r in numbered_jsonl(path):
        if "task_id" not in r or "completion" not in r:
            raise ProofsmithError(f"{path}:{i}: a sample needs task_id and completion")
        if not isinstance(r["task_id"], str) or not r["task_id"]:
            raise ProofsmithError(f"{path}:{i}: task_id must be a non-empty string, not {_json_type(r['task_id'])}")
        if not_unicode(r["task_id"]):
            raise ProofsmithError(f"{path}:{i}: task_id {r['task_id']!r} is not valid Unicode text "
                                  f"({not_unicode(r['task_id'])})")
        if not isinstance(r["completion"], str):
            raise ProofsmithError(f"{path}:{i}: completion must be a string, not {_json_type(r['completion'])}")
        samples.append(candidate_from_sample(r))
    if not samples:
        raise ProofsmithError(f"{path}: no samples")
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
        f.writelines(json_line(r) for r in records)  # any record, lone surrogates too (runs.json_line)
    os.replace(tmp, path)

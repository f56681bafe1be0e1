"""Compact storage of traced Coq proofs, and `read_theorems`, the one reader of a corpus's theorems.

Stored in full, a traced proof repeats itself: the state after a tactic is the state before
the next, `state_before` (text) and `goals_before` (structured) say the same thing, and a
section's prelude is the file up to the statement. On disk (``OUT/raw/``) each distinct
thing is stored once, keyed by its content hash:

- ``states.sqlite``, the object store: ``objects(id, kind, chunk)`` indexes every object
  (a proof state, a source file, one file's records) by hash; ``chunks(id, data)`` holds
  them, as zlib-compressed JSON, up to `CHUNK_BYTES` of it per chunk.
- ``files/<key>.json``: one traced file's summary and the id of its records (runs/ resumes
  by these).
- ``theorems.jsonl.gz``: every theorem, compact (stored_records.py), gzipped (its per-theorem
  fields, imports, provenance, names, repeat from theorem to theorem): a tactic names its states
  by id (``before``, ``after``), a theorem its first goals (``initial``) and, where its
  prelude is the file up to the statement, that prefix's length (``prelude_chars``).

`read_theorems(corpus_dir)` yields the full records, states inlined (LeanDojo's shape:
``traced_tactics[]`` with ``state_before``, ``tactic``, ``state_after``, ``premises``, and the
structured ``goals_before``/``goals_after``); datasets, benches and exporters read through it.

Crash safety: `StoredResults.write` commits a file's objects (one sqlite transaction) before
it writes the file's result atomically, so a killed run leaves at most objects nothing names
yet, never a record naming a missing object. Memory: the index of hashes is sqlite's, on
disk (a Python set of every hash grows with the corpus); a writer holds one file's result,
a reader one theorem and at most `CACHED_CHUNKS` decompressed chunks.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from ..core import ProofsmithError
from ..runs import Directory
from .stored_records import canonical_json, compact_result, inflate_task, inflate_theorem

CHUNK_BYTES = 256 << 10  # of JSON per compressed chunk (zlib's window is 32 KiB: bigger gains little)
CACHED_CHUNKS = 8
STATE = 0  # the kind of a proof state (stored_records.py: states, sources, a file's records)
STORE_NAME = "states.sqlite"
THEOREMS = "theorems.jsonl.gz"  # raw/theorems.jsonl (plain) in outputs of earlier versions


def theorems_file(raw: str | Path) -> Path:
    """raw/theorems.jsonl.gz, or an earlier version's plain raw/theorems.jsonl where only that is there."""
    gz = Path(raw) / THEOREMS
    plain = Path(raw) / "theorems.jsonl"
    return plain if plain.is_file() and not gz.is_file() else gz


def raw_file(raw: str | Path, name: str) -> Path:
    """Where raw table `name` (theorems, corpus, facts, tasks, errors) of an extraction is."""
    return theorems_file(raw) if name == "theorems" else Path(raw) / f"{name}.jsonl"
_SCHEMA = ("CREATE TABLE IF NOT EXISTS chunks (id INTEGER PRIMARY KEY, data BLOB NOT NULL)",
           ("CREATE TABLE IF NOT EXISTS objects (id TEXT PRIMARY KEY, kind INTEGER NOT NULL, chunk INTEGER NOT NULL)"
            " WITHOUT ROWID"))


class StateStore:
    """Content-addressed objects in one sqlite file: `put` stores the new ones, `get` reads one back."""

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise ProofsmithError(f"{self.path}: no such state store (run `proofsmith extract coq` again)")
        self.db = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
        self.db.execute("PRAGMA synchronous=FULL")
        with self.db:
            for statement in _SCHEMA:
                self.db.execute(statement)
        self._cache: OrderedDict[int, dict[str, Any]] = OrderedDict()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def missing(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            batch = ids[i:i + 500]
            rows = self.db.execute(f"SELECT id FROM objects WHERE id IN ({','.join('?' * len(batch))})", batch)
            found.update(r[0] for r in rows)
        return set(ids) - found

    def put(self, objects: dict[str, tuple[int, Any]]) -> int:
        """Store the objects ({id: (kind, value)}) not stored yet, all or none (one transaction); how many."""
        new = self.missing(list(objects))
        chunks: list[list[tuple[str, int, Any]]] = [[]]
        size = 0
        for oid, (kind, value) in objects.items():
            if oid not in new:
                continue
            if size > CHUNK_BYTES:
                chunks.append([])
                size = 0
            chunks[-1].append((oid, kind, value))
            size += len(canonical_json(value))
        with self.db:  # commit, or roll back on any error: never an object without its chunk
            for chunk in filter(None, chunks):
                data = zlib.compress(canonical_json({oid: value for oid, _, value in chunk}).encode("utf-8",
                                                                                               "surrogatepass"), 9)
                cid = self.db.execute("INSERT INTO chunks (data) VALUES (?)", (data,)).lastrowid
                self.db.executemany("INSERT OR IGNORE INTO objects (id, kind, chunk) VALUES (?, ?, ?)",
                                    [(oid, kind, cid) for oid, kind, _ in chunk])
        return len(new)

    def get(self, oid: str) -> Any:
        row = self.db.execute("SELECT chunk FROM objects WHERE id = ?", (oid,)).fetchone()
        if row is None:
            raise ProofsmithError(f"{self.path}: no object {oid} (the store is not this corpus's; extract again)")
        chunk = self._cache.get(row[0])
        if chunk is None:
            data = self.db.execute("SELECT data FROM chunks WHERE id = ?", (row[0],)).fetchone()[0]
            chunk = json.loads(zlib.decompress(data).decode("utf-8", "surrogatepass"))
            self._cache[row[0]] = chunk
            if len(self._cache) > CACHED_CHUNKS:
                self._cache.popitem(last=False)
        self._cache.move_to_end(row[0])
        return chunk[oid]

    def count(self, kind: int = STATE) -> int:
        return self.db.execute("SELECT COUNT(*) FROM objects WHERE kind = ?", (kind,)).fetchone()[0]




def file_records(summary: dict, store: StateStore, inflate_tasks: bool = True) -> dict:
    """A files/<key>.json result -> its theorems (compact), tasks (full, or as stored: a file-prefix
    prelude by its length, ``prelude_chars``), facts and corpus entry."""
    if "records" not in summary:  # written whole, by an older proofsmith: compact it now
        summary, objects = compact_result(summary)
        store.put(objects)
    records = store.get(summary["records"])
    return {**records, "tasks": [inflate_task(t, store) if inflate_tasks else t for t in records["tasks"]]}


SOURCES_DIR = "sources"  # raw/sources/<sha256>.v.gz: each source a task's prelude is a prefix of, once


def task_line(task: dict, store: StateStore, raw_dir: Path) -> dict:
    """A stored task -> its line in raw/tasks.jsonl: a file-prefix prelude as a reference
    (``prelude_of``, resolved by io.load_tasks) to the source, written once under raw/sources/."""
    if "prelude_chars" not in task:
        return task
    sha = task["provenance"]["sha256"]
    name = f"{SOURCES_DIR}/{sha}.v.gz"
    path = raw_dir / name
    if not path.is_file():
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(gzip.compress(store.get(sha).encode("utf-8", "surrogatepass"), 9, mtime=0))
        tmp.replace(path)
    return {**{k: v for k, v in task.items() if k != "prelude_chars"},
            "prelude_of": {"source": name, "chars": task["prelude_chars"]}}


class StoredResults(Directory):
    """runs/'s Directory sink, compact: a file's objects go to the store (committed) before its result is written."""

    def __init__(self, path: str | Path, store_path: str | Path) -> None:
        super().__init__(path)
        self.store_path = Path(store_path)
        self.store: StateStore | None = None

    def open(self) -> None:
        super().open()
        self.store = StateStore(self.store_path)

    def write(self, key: str, record: dict) -> None:
        summary, objects = compact_result(record)
        self.store.put(objects)
        super().write(key, summary)

    def close(self) -> None:
        if self.store:
            self.store.close()
            self.store = None


def read_theorems(corpus_dir: str | Path) -> Iterator[dict]:
    """Every theorem of an extracted Coq corpus (`proofsmith extract coq --out DIR`), full:
    ``traced_tactics[]`` with ``tactic``, ``state_before``/``state_after`` (text, as coqtop
    prints them), ``goals_before``/``goals_after`` (structured), ``premises``; ``initial_goals``,
    ``prelude``, ``provenance``... In raw/theorems.jsonl.gz's order; one theorem in memory at a time.
    A torn or broken line is one ProofsmithError naming the file and line."""
    from ..io import read_jsonl

    raw = Path(corpus_dir) / "raw"
    path = theorems_file(raw)
    if not path.is_file():
        return
    store = StateStore(raw / STORE_NAME, create=False) if (raw / STORE_NAME).is_file() else None
    try:
        for t in read_jsonl(path):
            if store is None and "initial" in t:
                raise ProofsmithError(f"{path}: theorems stored by state id, but no {raw / STORE_NAME} beside it; "
                                      f"extract again")
            yield inflate_theorem(t, store)
    finally:
        if store:
            store.close()

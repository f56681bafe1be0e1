"""Where a run's records go: `Jsonl` (one flushed line per record) and `Directory` (one
atomically written file per item)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core import ProofsmithError
from .signals import shielded

Step = Callable[[Any], dict]


# ----------------------------------------------------------------------------- outputs


class Jsonl:
    """A JSONL output, appended one flushed line per record in input order."""

    def __init__(self, path: str | os.PathLike, match: str = "order", key_field: str = "task_id") -> None:
        if match not in ("order", "key"):
            raise ValueError(f"match must be 'order' or 'key', not {match!r}")
        self.path, self.match, self.key_field = Path(path), match, key_field
        self._f = None
        self._next = 0
        self._waiting: dict[int, dict] = {}

    def read(self) -> list[dict]:
        """The complete lines; a torn last line is cut off the file."""
        return read_complete_jsonl(self.path, repair=True)

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._next, self._waiting = 0, {}
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close(), after the run)

    def put(self, position: int, record: dict) -> list[dict]:
        """Hold `record` until every earlier one is written; returns those written now."""
        self._waiting[position] = record
        written = []
        while self._next in self._waiting:
            r = self._waiting.pop(self._next)
            line = json_line(r)
            with shielded():  # a signal waits for the line: the file stays a list of whole lines
                self._f.write(line)
                self._f.flush()
            written.append(r)
            self._next += 1
        return written

    def close(self) -> None:
        if self._f:
            self._f.close()
            self._f = None


class Directory:
    """One JSON file per item, named by its key's digest, written whole and atomically."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def file(self, key: str) -> Path:
        return self.path / (hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:20] + ".json")

    def open(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def write(self, key: str, record: dict) -> None:
        write_atomic(self.file(key), json.dumps(record))

    def close(self) -> None:
        pass


def json_line(record: dict) -> str:
    """`record` as one JSONL line. Text stays readable (UTF-8, not \\u escapes), but a record holding
    a lone surrogate, which JSON allows and UTF-8 cannot hold, is written all escaped: any line can
    be written, and it reads back exactly as it was."""
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(record)
    return line + "\n"


def read_complete_jsonl(path: str | os.PathLike, repair: bool = False) -> list[dict]:
    """Every complete line of a JSONL file (none if it does not exist); `repair` cuts a torn last line off."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):  # a kill mid-write
        data = data[: data.rfind(b"\n") + 1]
        if repair:
            with shielded():
                path.write_bytes(data)
    try:
        return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProofsmithError(f"{path}: not a results file ({exc.__class__.__name__}); use another --out") from None


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with shielded(), tmp.open("w", encoding="utf-8") as f:  # whole or not at all, signals too
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
        tmp.replace(path)

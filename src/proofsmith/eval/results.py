"""Reading a results file for `eval`: every line's fields are checked before anything is counted.

A line is a JSON object with
- `task_id`: a string or an integer;
- `passed`: true or false (a real JSON boolean; "false" is not false), or
- `n` and `c`: non-negative integers, c <= n (a line counting several attempts; with
  `passed` too, it must say c > 0);
- `status`, where present: a Verdict word (`passed`, `failed`, `timeout`, `memory`,
  `crashed`, `error`; on a REFUTE line, one with `problem_id`, REFUTE's words), agreeing
  with `passed`;
- `passed_after_refutation`, `refuted`, where present: true or false.
A bad line stops `eval` with one line naming the file, the line and the field.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

from ..core import STATUSES, ProofsmithError
from ..io import read_jsonl

MAX_COUNT = 2 ** 53  # JSON's safe integers: what every reader of the file can count exactly
_BOOLEANS = ("passed", "passed_after_refutation", "refuted")


def _refute_statuses() -> tuple[str, ...]:
    from ..checkers.refute.runner import STATUSES as REFUTE

    return tuple(REFUTE)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def line_problem(r: dict[str, Any]) -> str | None:
    """What is wrong with one results line (None when nothing is)."""
    task_id = r.get("task_id")
    if "task_id" not in r:
        return "no task_id"
    if isinstance(task_id, str):
        try:
            task_id.encode("utf-8")
        except UnicodeEncodeError:
            return "task_id is not valid Unicode (it holds a lone surrogate)"
    elif not _integer(task_id):
        return f"task_id must be a string or an integer, got {_show(task_id)}"
    for name in _BOOLEANS:
        if name in r and not isinstance(r[name], bool):
            return f"{name} must be true or false, got {_show(r[name])}"
    has_n, has_c = "n" in r, "c" in r
    if has_n != has_c:
        return f"a line with {'n' if has_n else 'c'} needs {'c' if has_n else 'n'} too (attempts and successes)"
    if has_n:
        for name in ("n", "c"):
            if not _integer(r[name]) or not 0 <= r[name] <= MAX_COUNT:
                return f"{name} must be an integer from 0 to 2**53, got {_show(r[name])}"
        if r["c"] > r["n"]:
            return f"c ({r['c']}) is more than n ({r['n']})"
        if "passed" in r and r["passed"] != (r["c"] > 0):
            return f"passed is {str(r['passed']).lower()} but c is {r['c']}"
    elif "passed" not in r:
        return "no passed (or n and c)"
    if "status" in r:
        status = r["status"]
        refute = "problem_id" in r
        words = _refute_statuses() if refute else STATUSES
        if not isinstance(status, str) or status not in words:
            return f"status must be one of {', '.join(words)}, got {_show(status)}"
        success = "valid" if refute else "passed"
        if "passed" in r and r["passed"] != (status == success):
            return f"status is {status!r} but passed is {str(r['passed']).lower()}"
    return None


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every line of a results JSONL(.gz), checked; ProofsmithError on the first bad one."""
    path = Path(path)
    if path.is_dir():
        raise ProofsmithError(f"{path}: is a directory, not a results file")
    records: list[dict[str, Any]] = []
    try:
        for record in read_jsonl(path):
            records.append(record)
            problem = line_problem(record)
            if problem:
                raise ProofsmithError(f"{path}:{_line_number(path, len(records))}: {problem}")
    except (RecursionError, ValueError, EOFError, OSError, zlib.error) as exc:
        # what reading itself raises on hostile bytes: nesting too deep, integers with too many
        # digits, a corrupt gzip stream, an unreadable file
        where = f"{path}:{_line_number(path, len(records) + 1)}"
        reason = "nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())[:120]
        raise ProofsmithError(f"{where}: unreadable ({reason or exc.__class__.__name__})") from None
    if not records:
        raise ProofsmithError(f"{path}: no results")
    return records


def _line_number(path: Path, record: int) -> int:
    """The file line of the record-th non-blank line (read_jsonl skips blank lines)."""
    import gzip

    seen = 0
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:  # the lines read_jsonl sees
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    seen += 1
                    if seen == record:
                        return lineno
    except (OSError, EOFError, zlib.error):
        pass
    return record

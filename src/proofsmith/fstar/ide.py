"""A client for `fstar.exe --ide`: JSON lines in, JSON lines out.

Usage::

    from proofsmith.fstar import FStarIde

    with FStarIde(["fstar.exe", "--ide", "Mod.fst", "--report_assumes", "warn"], timeout=60) as fstar:
        fstar.push_partial_checked_file("Mod.target")      # the checked state just before `target`
        reply = fstar.push("let target = 1", kind="full", line=0, column=0)
        reply.status, reply.issues                          # "success" | "failure", [Issue(...)]
        if reply.status == "success":
            fstar.pop()

Each request is ``{"query-id": "<n>", "query": NAME, "args": {...}}`` with ids that
increase; F* answers with any number of ``{"kind": "message", "query-id": n, ...}`` lines
(proof states, progress) and then one ``{"kind": "response", "query-id": n, "status",
"response"}``. Live F* writes compact JSON in its own key order, starts with a full
``protocol-info`` line and may print lines that are not JSON (debug output): the reader
accepts any key order, skips what is not a JSON object, and keeps messages of every level.

A query that takes longer than its timeout kills F* and raises `FStarTimeout`; F* exiting
(a crash, a memory limit, a line cut off mid-response) raises `FStarDied`. Either way
`restart()` (or the next query, which restarts by itself) gives a fresh process; what was
pushed is gone. With a `sandbox` (`checkers/sandbox`) F* runs inside it under `limits`.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import children
from ..core import ProofsmithError


class FStarError(ProofsmithError):
    """F* could not be talked to."""


class FStarTimeout(FStarError):
    """A query ran past its timeout; F* was killed."""


class FStarDied(FStarError):
    """F* exited, or stopped answering, before the response."""


@dataclass(frozen=True)
class Range:
    """Lines 1-based, columns 0-based, end exclusive; lines count from the document's start."""

    fname: str
    beg: tuple[int, int]
    end: tuple[int, int]

    @classmethod
    def from_json(cls, r: Mapping[str, Any]) -> Range:
        return cls(str(r.get("fname", "")), tuple(r.get("beg") or (0, 0)), tuple(r.get("end") or (0, 0)))

    def to_dict(self) -> dict[str, Any]:
        return {"fname": self.fname, "beg": list(self.beg), "end": list(self.end)}


@dataclass(frozen=True)
class Issue:
    """An error or warning; the first range is the main place, later ones are "see also" places."""

    level: str
    message: str
    number: int | None
    ranges: tuple[Range, ...] = ()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Issue:
        number = d.get("number")
        return cls(str(d.get("level", "")), str(d.get("message", "")),
                   number if isinstance(number, int) else None,
                   tuple(Range.from_json(r) for r in d.get("ranges") or () if isinstance(r, Mapping)))

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "message": self.message, "number": self.number,
                "ranges": [r.to_dict() for r in self.ranges]}


@dataclass(frozen=True)
class Response:
    """F*'s answer to one query and the messages that came before it."""

    query_id: str
    status: str  # "success" | "failure"
    response: Any
    messages: tuple[Mapping[str, Any], ...] = ()

    @property
    def issues(self) -> list[Issue]:
        """The issues of a push or peek (an empty list for other queries)."""
        if not isinstance(self.response, list):
            return []
        return [Issue.from_json(i) for i in self.response if isinstance(i, Mapping)]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def clean(self) -> bool:
        """Success and no error: a lax peek with errors still says `success`, so both are looked at."""
        return self.status == "success" and not self.errors

    def proof_states(self) -> list[Mapping[str, Any]]:
        return [m.get("contents") for m in self.messages if m.get("level") == "proof-state"]


@dataclass
class FStarIde:
    """One `fstar.exe --ide` process and its stack of pushed fragments. See the module docstring."""

    command: Sequence[str]
    timeout: float = 60.0
    sandbox: Any = None
    limits: Any = None
    files: Mapping[str, str | bytes] | None = None
    env: Mapping[str, str] | None = None
    cwd: str | None = None
    protocol_info: Mapping[str, Any] = field(default_factory=dict)
    noise: list[str] = field(default_factory=list)  # the last lines that were not JSON objects
    proc: subprocess.Popen | None = None
    _next_id: int = 0

    def __post_init__(self) -> None:
        self._start()

    # -- process ---------------------------------------------------------------------

    def _start(self) -> None:
        self._lines: queue.Queue = queue.Queue()
        self.noise = []
        if self.sandbox is not None:
            self.proc = self.sandbox.spawn(list(self.command), files=self.files, limits=self.limits, env=self.env)
        else:
            try:
                self.proc = children.popen(list(self.command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, cwd=self.cwd, bufsize=0,
                                           start_new_session=True, env=None if self.env is None else dict(self.env))
            except FileNotFoundError as exc:
                raise FStarError(f"{self.command[0]} not found: install F* (https://fstar-lang.org)") from exc
        threading.Thread(target=self._read, args=(self.proc, self._lines), daemon=True).start()
        first = self._next_object(time.monotonic() + self.timeout, wanted="protocol-info")
        self.protocol_info = first

    def _read(self, proc: subprocess.Popen, lines: queue.Queue) -> None:
        buffer = b""
        fd = proc.stdout.fileno()
        while data := os.read(fd, 1 << 16):
            buffer += data
            *complete, buffer = buffer.split(b"\n")
            for line in complete:
                lines.put(line)
        if buffer:  # a last line cut off: never a whole response
            lines.put(buffer + b"\0")
        lines.put(None)

    def _next_object(self, deadline: float, wanted: str = "") -> dict[str, Any]:
        """The next JSON object F* prints (lines that are not one are kept in `noise`)."""
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._kill()
                raise FStarTimeout(f"F* did not answer{' ' + wanted if wanted else ''} within {self.timeout:g}s") \
                    from None
            if line is None:
                code = self.proc.wait()
                said = "; ".join(self.noise[-3:])
                raise FStarDied(f"F* exited (status {code}) before {wanted or 'the response'}"
                                + (f": {said[-500:]}" if said else ""))
            text = line.decode("utf-8", errors="replace").strip()
            try:
                obj = json.loads(text) if text.startswith("{") else None
            except json.JSONDecodeError:
                obj = None
            if isinstance(obj, dict):
                return obj
            if text:
                self.noise = (self.noise + [text[:300]])[-20:]

    def _kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def restart(self) -> None:
        self._kill()
        self._start()

    def close(self) -> None:
        if self.alive:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def __enter__(self) -> FStarIde:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries ---------------------------------------------------------------------

    def query(self, name: str, args: Mapping[str, Any], timeout: float | None = None) -> Response:
        """Send one query; read its messages until its response."""
        if not self.alive:
            self.restart()
        self._next_id += 1
        qid = str(self._next_id)
        request = json.dumps({"query-id": qid, "query": name, "args": dict(args)}) + "\n"
        try:
            self.proc.stdin.write(request.encode("utf-8"))
            self.proc.stdin.flush()
        except OSError:
            pass  # it died: the reader sees the end and says so
        deadline = time.monotonic() + (timeout or self.timeout)
        messages = []
        while True:
            obj = self._next_object(deadline, wanted=f"the response to {name} (query {qid})")
            if str(obj.get("query-id")) != qid:
                continue  # an earlier query's late line
            if obj.get("kind") == "message":
                messages.append(obj)
            elif obj.get("kind") == "response":
                return Response(qid, str(obj.get("status")), obj.get("response"), tuple(messages))

    def push(self, code: str, kind: str = "full", line: int = 1, column: int = 0,
             timeout: float | None = None) -> Response:
        return self.query("push", {"kind": kind, "code": code, "line": line, "column": column}, timeout)

    def peek(self, code: str, kind: str = "lax", line: int = 1, column: int = 0,
             timeout: float | None = None) -> Response:
        return self.query("peek", {"kind": kind, "code": code, "line": line, "column": column}, timeout)

    def pop(self, args: Mapping[str, Any] | None = None) -> Response:
        return self.query("pop", args or {})

    def push_partial_checked_file(self, until_lid: str, timeout: float | None = None) -> Response:
        return self.query("push-partial-checked-file", {"until-lid": until_lid}, timeout)

    def vfs_add(self, filename: str | None, contents: str) -> Response:
        return self.query("vfs-add", {"filename": filename, "contents": contents})

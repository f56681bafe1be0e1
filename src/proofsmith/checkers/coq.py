"""Coq checker: a candidate proof counts only if coqc proves the original statement.

The file is prelude + statement + proof, compiled by coqc in the sandbox as module
`PSCheck.Candidate`, followed by `Check` and `Print Assumptions` of the theorem's
full name (its short name, the newest definition, when the prelude leaves a Section or
Module open, as a statement taken from inside a section does; `End` sentences then
close them). First, without the candidate, the task itself is compiled: prelude + statement +
`Admitted.` (cached per task; a task's first check runs it beside the candidate's
file, two coqc processes at once). When that fails the task is broken and the verdict is
`error` with the prelude's first error, whatever the candidate; when it compiles, every
failure of the candidate's file is the candidate's (`failed`): no proof can turn its own
failure into `error` (which `eval` leaves out of pass@k). It passes only when

1. the proof uses no escape: admit / Admitted / Abort / give_up, no new axiom,
   parameter, hypothesis or variable, no environment rewinding (Reset, Back, Undo),
   no unsafe checking flag, no plugin or extraction command (`coq.syntax.forbidden_use`,
   on the text with comments and strings blanked by the lexer that splits sentences);
2. coqc compiles the file;
3. the theorem's type, as Coq prints it, equals its type in a reference run where
   the statement is merely admitted (so a redefined or different statement fails);
4. `Print Assumptions` lists no axiom but those the context already had.

A proof that is not Unicode text (a lone surrogate, see text.py) fails before coqc
runs; a task that is not is an `error`.
"""

from __future__ import annotations

import functools
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..coq.sentences import SentenceError, split_sentences
from ..coq.syntax import (
    GOAL_RE,
    PROOF_END_RE,
    PROOF_START_RE,
    STATEMENT_NAME_RE,
    Scope,
    forbidden_use,  # the lexical filter (check() looks it up here)
)
from ..coq.syntax import blank_comments_and_strings as strip_comments_and_strings
from ..core import Candidate, Task, Verdict
from ..text import first_not_unicode
from .sandbox import Limits, RunResult, Sandbox, get_sandbox

_ERROR_RE = re.compile(r'File "[^"]*", line (\d+), characters (\d+)-(\d+):\n(?:Warning[^\n]*\n)*((?:Error|Syntax error)[\s\S]*)')
MODULE = "PSCheck.Candidate"
CLOSED = "Closed under the global context"


def theorem_name(statement: str) -> tuple[str, str]:
    """(name, statement) — a `Goal` is renamed so that it can be referred to."""
    clean = strip_comments_and_strings(statement)
    if GOAL_RE.match(clean):
        return "proofsmith_goal", GOAL_RE.sub("Theorem proofsmith_goal :", statement, count=1)
    m = STATEMENT_NAME_RE.match(clean)
    if not m:
        raise ValueError(f"cannot find the theorem name in statement: {statement[:80]!r}")
    return m.group(2), statement


def normalize_proof(proof: str) -> str:
    """Accept a bare tactic script, or one with Proof. ... Qed./Defined."""
    body = proof.strip()
    clean = strip_comments_and_strings(body)
    if not PROOF_START_RE.match(clean):
        body = "Proof.\n" + body
    if not PROOF_END_RE.search(strip_comments_and_strings(body)):
        body += "\nQed."
    return body


@dataclass
class CoqChecker:
    sandbox: Sandbox | None = None
    limits: Limits = Limits(wall_s=60.0, cpu_s=60.0, memory_mb=2048, processes=8, file_bytes=256 << 20)
    coqc: str = "coqc"
    _reference_cache: dict = field(default_factory=dict)
    _reference_locks: dict = field(default_factory=dict)
    _reference_lock: threading.Lock = field(default_factory=threading.Lock)
    _sandboxes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sandbox = self.sandbox or get_sandbox()
        self._sandboxes[()] = self.sandbox

    def check(self, task: Task, candidate: Candidate) -> Verdict:
        broken = first_not_unicode([("the task's statement", task.statement), ("the task's prelude", task.context),
                                    ("the task's meta", task.meta)])
        if broken:
            return Verdict("error", broken, details={"task_error": True})
        try:
            name, statement = theorem_name(task.statement)
        except ValueError as exc:
            return Verdict("error", f"the task is broken: {exc}", details={"task_error": True})
        head = (task.context.rstrip() + "\n" if task.context.strip() else "") + statement.strip() + "\n"
        ends = open_scopes(task.context)
        # inside a Section or Module the full name does not resolve yet: the short name is
        # the newest definition, the candidate's; the types compare before generalisation
        full = name if ends else f"{MODULE}.{name}"
        proof = normalize_proof(candidate.text)
        refused, source = self._refusal(candidate.text, proof), None
        if refused is None:
            source = head + proof + f"\nCheck {full}.\nPrint Assumptions {full}.\n{ends}"
        run = None
        if source is not None and self._reference_key(task, head, ends) not in self._reference_cache:
            with ThreadPoolExecutor(1) as pool:  # a task's first check: its reference run and the candidate's at once
                pending = pool.submit(self._coqc, source, task)
                reference = self._reference_type(task, head, ends, full)
                run = pending.result()
        else:
            reference = self._reference_type(task, head, ends, full)
        if isinstance(reference, Verdict):  # the task is broken, whatever the candidate
            return reference
        if refused is not None:
            return refused
        run = run or self._coqc(source, task)
        limited = run.limit_verdict("coqc")
        if limited:
            return limited
        res = run.resources()
        if run.returncode != 0:  # the task compiled alone: the candidate broke the file
            message, line = first_error(run.stdout + run.stderr, head.count("\n"))
            return Verdict("failed", message, run.wall_s, res, details={"error_line": line})
        check_out, assumptions = _split_outputs(run.stdout, name)
        if _normalize_ws(check_out) != _normalize_ws(reference):
            return Verdict("failed", "the proof changes the theorem's statement", run.wall_s, res,
                           details={"expected": reference, "got": check_out})
        new_axioms = [a for a in assumptions if a.split(":")[0].strip() == name]
        if new_axioms:
            return Verdict("failed", "the theorem is assumed, not proved", run.wall_s, res)
        return Verdict("passed", "proved", run.wall_s, res, details={"axioms": assumptions})

    @staticmethod
    def _refusal(text: str, proof: str) -> Verdict | None:
        """The verdict on a proof (`text`, normalised: `proof`) that fails before coqc runs (not Unicode
        text, an escape), or None."""
        why = first_not_unicode([("proof", text)])
        if why:
            return Verdict("failed", why)
        bad = forbidden_use(proof)
        if bad:
            return Verdict("failed", f"proof uses {bad!r}, which is not allowed", details={"forbidden": bad})
        return None

    def _coqc(self, source: str, task: Task) -> RunResult:
        coq_args = list(task.meta.get("coq_args", []))
        args = [self.coqc, "-q", *coq_args, "-Q", ".", "PSCheck", "Candidate.v"]
        dirs = load_path_dirs(coq_args)
        if dirs not in self._sandboxes:  # a project's own library, shown read-only
            self._sandboxes[dirs] = self.sandbox.seeing(dirs)
        return self._sandboxes[dirs].run(args, files={"Candidate.v": source}, limits=self.limits)

    def _reference_type(self, task: Task, head: str, ends: str, full: str) -> str | Verdict:
        """The theorem's type when the statement is merely admitted (no candidate in the file),
        or the `error` Verdict saying why the task does not compile on its own. Once per task."""
        key = self._reference_key(task, head, ends)
        with self._reference_lock:
            lock = self._reference_locks.setdefault(key, threading.Lock())
        with lock:  # one reference run per task, however many samples check it at once
            if key not in self._reference_cache:
                self._reference_cache[key] = self._reference_run(task, head, ends, full)
        return self._reference_cache[key]

    @staticmethod
    def _reference_key(task: Task, head: str, ends: str) -> tuple:
        return head, ends, tuple(task.meta.get("coq_args", []))

    def _reference_run(self, task: Task, head: str, ends: str, full: str) -> str | Verdict:
        run = self._coqc(head + f"Admitted.\nCheck {full}.\n{ends}", task)
        broken = "the task does not compile on its own (prelude and statement, without any proof)"
        limited = run.limit_verdict("coqc")
        if limited:
            return Verdict("error", f"{broken}: {limited.message}", run.wall_s, run.resources(),
                           details={"task_error": True})
        if run.returncode != 0:
            message, line = first_error(run.stdout + run.stderr, head.count("\n"))
            if line is not None and line > head.count("\n"):  # in the checker's own Admitted/Check lines
                message = f"after the statement: {message.split(': ', 1)[-1]}"
            return Verdict("error", f"{broken}: {message}", run.wall_s, run.resources(),
                           details={"task_error": True, "error_line": line})
        return run.stdout.strip()


@functools.lru_cache(maxsize=256)
def open_scopes(context: str) -> str:
    """The `End` sentences closing the Sections and Modules that `context` leaves open
    (innermost first): coqc refuses a file that ends inside one."""
    scope = Scope("")
    try:
        for sentence in split_sentences(context):
            scope.update(sentence.text)
    except SentenceError:
        return ""  # coqc will report the prelude's own error
    return "".join(f"End {name}.\n" for _, name in reversed(scope.stack))


def load_path_dirs(coq_args: list[str]) -> tuple[str, ...]:
    """The directories named by -Q/-R/-I load-path arguments."""
    dirs, i = [], 0
    while i < len(coq_args):
        if coq_args[i] in ("-Q", "-R") and i + 1 < len(coq_args):
            dirs.append(coq_args[i + 1])
            i += 3
        elif coq_args[i] == "-I" and i + 1 < len(coq_args):
            dirs.append(coq_args[i + 1])
            i += 2
        else:
            i += 1
    return tuple(sorted({d for d in dirs if d != "."}))


def _split_outputs(stdout: str, name: str) -> tuple[str, list[str]]:
    """coqc's output of the appended `Check` and `Print Assumptions` sentences."""
    marker = stdout.rfind("Axioms:")
    closed = stdout.rfind(CLOSED)
    section = stdout.rfind("Section Variables:")  # inside a section, listed before the axioms
    cut = section if section > closed and (marker < 0 or section < marker) else max(marker, closed)
    check_out = stdout[:cut].strip() if cut >= 0 else stdout.strip()
    assumptions: list[str] = []
    if marker >= 0 and marker > closed:
        for line in stdout[marker + len("Axioms:"):].splitlines():
            if line.strip() and not line.startswith((" ", "\t")):
                assumptions.append(line.strip())
            elif line.strip() and assumptions:
                assumptions[-1] += " " + line.strip()
    return check_out, assumptions


def _normalize_ws(text: str) -> str:
    return " ".join(text.split())


def first_error(output: str, head_lines: int) -> tuple[str, int | None]:
    """Coq's first error, with its line counted within the candidate proof."""
    m = _ERROR_RE.search(output)
    if not m:
        tail = [line for line in output.strip().splitlines() if line.strip()]
        return (tail[-1][:500] if tail else "coqc failed"), None
    line = int(m.group(1))
    text = " ".join(m.group(4).split())[:500]
    where = f"line {line - head_lines} of the proof" if line > head_lines else f"line {line} of the prelude/statement"
    return f"{where}: {text}", line


@functools.lru_cache(maxsize=1)
def coq_version() -> str:
    import subprocess

    try:
        out = subprocess.run(["coqc", "--print-version"], capture_output=True, text=True, timeout=30).stdout
        return out.split()[0] if out else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""

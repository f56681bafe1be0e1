"""Lean 4 checker: a candidate counts only if Lean proves the original statement.

The file is prelude + statement + proof, then (the namespaces and sections the prelude
left open closed) `#check @NAME` and `#print axioms NAME`, compiled by `lean` in the
sandbox with the environment `lake env` gives the task's project (`meta["lean_project"]`:
its LEAN_PATH, so `import Mathlib` resolves; without a project plain `lean`). First,
without the candidate, the task itself is compiled with `:= by sorry` (cached per task):
when that fails the task is broken (`error`); otherwise every failure is the candidate's.
It passes only when

1. the proof uses no escape (`lean.syntax.forbidden_use`, on the text with comments and
   strings blanked): sorry, admit, axiom, unsafe, implemented_by, extern, native_decide,
   a kernel-skipping option (`set_option debug.skipKernelTC`), any `#` command, any new
   declaration, namespace, macro or elaborator code;
2. Lean reports no error and no "declaration uses sorry" (messages parsed from Lean's
   own `FILE:LINE:COL: SEVERITY: TEXT` output, `lean/messages.py`);
3. `#check @NAME` prints the type the reference run printed (the statement is the original);
4. `#print axioms NAME` lists only propext, Classical.choice and Quot.sound.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field

from ..core import Candidate, Task, Verdict
from ..lean.messages import Message, Output, parse_output
from ..lean.syntax import (
    blank_comments_and_strings,
    declaration_name,
    disallowed_axioms,
    forbidden_use,
    open_namespaces,
    open_scopes,
    print_axioms,
    without_axiom_reports,
)
from ..text import first_not_unicode
from .sandbox import Limits, Sandbox, get_sandbox

FILE = "Candidate.lean"
_SORRY_RE = re.compile(r"declaration uses ['`]sorry['`]")


def proof_text(statement: str, candidate: str) -> str:
    """The candidate as what follows the statement: `:= ...`, `| ...` equations kept, `by ...`
    given its `:=`, a bare tactic script put under `:= by`; a candidate that repeats the
    statement first has it removed."""
    body = candidate.strip()
    if " ".join(body.split()).startswith(" ".join(statement.split())):
        body = _drop_prefix_ws(body, statement).strip()
    if body.startswith((":=", "|")):
        return body
    if re.match(r"by\b", body):
        return ":= " + body
    return ":= by\n" + "\n".join("  " + line for line in body.splitlines())


def _drop_prefix_ws(text: str, prefix: str) -> str:
    """`text` after `prefix`, whitespace ignored in the comparison."""
    want = "".join(prefix.split())
    got = 0
    for i, ch in enumerate(text):
        if got == len(want):
            return text[i:]
        if not ch.isspace():
            got += 1
    return ""


def judge(output: Output, *, head_lines: int, check_line: int, reference: str | None, name: str,
          statement_line: int = 1) -> Verdict:
    """The verdict on Lean's messages about a candidate's file (see the module docstring, 2-4).
    `statement_line`: where the statement starts (a sorry the prelude's own lemmas hold is no
    concern of this rule: `#print axioms` shows `sorryAx` where the proof uses one of them)."""
    errors = output.errors
    if errors:
        return Verdict("failed", where(errors[0], head_lines), details={"error_line": errors[0].line})
    sorry = [m for m in output.messages if _SORRY_RE.search(m.text) and m.line >= statement_line]
    if sorry:
        return Verdict("failed", f"{where(sorry[0], head_lines)} (the proof is not complete)")
    checked = _info_at(output, check_line)
    if reference is not None and _ws(checked) != _ws(reference):
        return Verdict("failed", "the proof changes the theorem's statement",
                       details={"expected": reference, "got": checked})
    axioms = print_axioms("\n".join([output.unheaded] + [m.text for m in output.messages if m.line >= check_line]),
                          name)
    if axioms is None:
        return Verdict("failed", f"Lean printed no axioms of {name} (the file did not reach #print axioms)")
    bad = disallowed_axioms(axioms)
    if bad:
        return Verdict("failed", f"the proof depends on axioms beyond the standard ones: {', '.join(bad)}",
                       details={"axioms": axioms})
    return Verdict("passed", "proved", details={"axioms": axioms})


def where(message: Message, head_lines: int) -> str:
    line = message.line - head_lines
    place = f"line {line} of the proof" if line > 0 else f"line {message.line} of the prelude/statement"
    return f"{place}: {message.severity}: {' '.join(message.text.split())[:500]}"


def _info_at(output: Output, line: int) -> str:
    texts = [m.text for m in output.messages if m.severity == "info" and m.line == line]
    if texts:
        return texts[0]
    return without_axiom_reports(output.unheaded)  # old toolchains print info messages with no header


def _ws(text: str) -> str:
    return " ".join(text.split())


@dataclass
class LeanChecker:
    sandbox: Sandbox | None = None
    # address space: `import Mathlib` maps every .olean file (several GB) before any proof runs
    limits: Limits = Limits(wall_s=300.0, cpu_s=300.0, memory_mb=16384, processes=64, file_bytes=256 << 20)
    lean: str = "lean"
    _references: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.sandbox = self.sandbox or get_sandbox()

    def check(self, task: Task, candidate: Candidate) -> Verdict:
        broken = first_not_unicode([("the task's statement", task.statement), ("the task's prelude", task.context)])
        if broken:
            return Verdict("error", broken, details={"task_error": True})
        try:
            keyword, name = declaration_name(task.statement)
        except ValueError as exc:
            return Verdict("error", f"the task is broken: {exc}", details={"task_error": True})
        statement = task.statement.strip()
        if keyword == "example" or not name:  # an example has no name to print: give it one
            name = "proofsmith_goal"
            statement = re.sub(r"\bexample\b", f"theorem {name}", statement, count=1)
        statement = re.sub(r"\s*:=\s*(by\s+sorry|sorry)?\s*$", "", statement)
        ends, full = open_scopes(task.context), _full_name(task.context, name)
        head = (task.context.rstrip() + "\n\n" if task.context.strip() else "") + statement + " "
        head_lines = head.count("\n")
        reference = self._reference(task, head, ends, full)
        if isinstance(reference, Verdict):
            return reference
        why = first_not_unicode([("proof", candidate.text)])
        if why:
            return Verdict("failed", why)
        proof = proof_text(statement, candidate.text)
        bad = forbidden_use(proof)
        if bad:
            return Verdict("failed", f"proof uses {bad!r}, which is not allowed", details={"forbidden": bad})
        body = head + proof + "\n\n" + ends
        check_line = body.count("\n") + 1
        run = self._lean(body + f"#check @{full}\n#print axioms {full}\n", task)
        limited = run.limit_verdict("lean")
        if limited:
            return limited
        verdict = judge(parse_output(run.stdout + run.stderr), head_lines=head_lines, check_line=check_line,
                        reference=reference, name=full, statement_line=head.count("\n") - statement.count("\n") + 1)
        if verdict.status == "passed" and run.returncode != 0:
            verdict = Verdict("failed", f"lean exited with status {run.returncode}: {run.stdout[-300:]}")
        return Verdict(verdict.status, verdict.message, run.wall_s, run.resources(), details=verdict.details)

    def _reference(self, task: Task, head: str, ends: str, full: str) -> str | Verdict:
        key = (head, ends, task.meta.get("lean_project"))
        with self._lock:  # one reference run per task (a lock per checker: tasks are few)
            if key not in self._references:
                self._references[key] = self._reference_run(task, head, ends, full)
        return self._references[key]

    def _reference_run(self, task: Task, head: str, ends: str, full: str) -> str | Verdict:
        body = head + ":= by sorry\n\n" + ends
        run = self._lean(body + f"#check @{full}\n", task)
        broken = "the task does not compile on its own (prelude and statement, `by sorry` for the proof)"
        limited = run.limit_verdict("lean")
        if limited:
            return Verdict("error", f"{broken}: {limited.message}", details={"task_error": True})
        out = parse_output(run.stdout + run.stderr)
        if out.errors or run.returncode != 0:
            said = where(out.errors[0], 0) if out.errors else (run.stdout + run.stderr).strip()[-300:]
            return Verdict("error", f"{broken}: {said}", details={"task_error": True})
        return _info_at(out, body.count("\n") + 1)

    def _lean(self, source: str, task: Task):
        project = task.meta.get("lean_project")
        prefix = toolchain_prefix(self.lean, project)
        env = lake_env(project) if project else {}
        dirs = [prefix] + ([project] if project else []) + [d for d in env.get("LEAN_PATH", "").split(":") if d]
        binary = os.path.join(prefix, "bin", "lean") if prefix else self.lean
        sandbox = self.sandbox.seeing(sorted({d for d in dirs if d and os.path.isdir(d)}))
        return sandbox.run([binary, FILE], files={FILE: source}, limits=self.limits, env=env)


def _full_name(context: str, name: str) -> str:
    if name.startswith("_root_."):
        return name[len("_root_."):]
    return ".".join([*[n for n in open_namespaces(context) if n], name])


@functools.lru_cache(maxsize=16)
def toolchain_prefix(lean: str = "lean", project: str | None = None) -> str:
    """The Lean toolchain's directory (`lean --print-prefix`, through elan's proxy in the project)."""
    if not shutil.which(lean):
        return ""
    try:
        done = subprocess.run([lean, "--print-prefix"], check=False, capture_output=True, text=True, timeout=120, cwd=project)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


@functools.lru_cache(maxsize=16)
def lake_env(project: str) -> dict[str, str]:
    """LEAN_PATH and LEAN_SRC_PATH as `lake env` sets them for `project` (run outside the sandbox,
    where lake may read its manifest; the candidate's `lean` then runs inside with them)."""
    try:
        done = subprocess.run(["lake", "env", "printenv", "LEAN_PATH"], check=False, capture_output=True, text=True,
                              timeout=300, cwd=project)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {"LEAN_PATH": done.stdout.strip()} if done.returncode == 0 else {}


__all__ = ["LeanChecker", "blank_comments_and_strings", "judge", "proof_text"]

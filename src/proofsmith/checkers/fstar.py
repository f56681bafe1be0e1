"""F* checker: a candidate definition counts only if F* checks it in place, with no escape.

A task (kind `fstar`, made by `extract/fstar.py` from FStarDataSet) names a definition
(`meta.name`, fully qualified) of a module (`meta.module_file`); its `statement` is the
definition's `val` (empty when the dataset has none, `<UNK>`; `meta.original_source_type`,
when there, is the one pushed, as the dataset card says), and `meta` holds the
module's `opens_and_abbrevs`, the definition's `vconfig` and where the checked files are
(`meta.include_dirs`). As FStarDataSet's harness does, the checker

1. keeps one `fstar.exe --ide <Module>.fst --report_assumes warn --include ...` per module,
   in the sandbox, with Z3 from the `z3-solver` wheel (`fstar/z3.py`: ``--smt``,
   ``--z3version``; the version is the task's `meta.z3version`, else `$PROOFSMITH_Z3_VERSION`,
   else the installed wheel's), reused across candidates (restarted after a timeout, a crash, or
   `RESTART_AFTER` checks, which bounds the CPU one process may use, and when a task names
   another definition of the module: the process holds the checked file up to one definition);
2. restores the checked state just before the definition (`push-partial-checked-file`
   until its name; a failure there is the task's: `error`, whatever the candidate);
3. pushes, as `full`, the scaffold (opens and abbreviations in reverse order, `open
   <Module>`, `#push-options` with the vconfig's fuel, ifuel, z3rlimit ...), the `val`, and
   the candidate, and reads messages until the response; pops after a success.

The candidate passes only when the push says `success` with no error, no issue is warning
335 (an admit or assume used, `--report_assumes warn`), and, before F* runs, the
`fstar.syntax` rules hold: it defines the requested name exactly once with no `val` of its
own, uses no escape (admit, assume, magic, expect_failure, option pragmas...), and, when
the task has no `val` to pin its type, its header (binders and annotation) is the
reference's. A query running past the wall limit kills F* (`timeout`); F* dying mid-response
is `crashed`.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..core import Candidate, Task, Verdict
from ..fstar import syntax
from ..fstar.ide import FStarDied, FStarIde, FStarTimeout, Response
from ..fstar.z3 import find_z3
from ..text import first_not_unicode
from .sandbox import Limits, Sandbox, get_sandbox

LIMITS = Limits(wall_s=120.0, cpu_s=300.0, memory_mb=8192, processes=64, output_bytes=64 << 20,
                file_bytes=1 << 30)
RESTART_AFTER = 64  # checks per F* process (its CPU limit is this many checks' worth)


@dataclass(frozen=True)
class FStarSetup:
    """What a task asks F* to do, from its statement and meta."""

    name: str
    module: str
    module_file: str
    val: str
    opens_and_abbrevs: tuple
    vconfig: Mapping | None
    include_dirs: tuple[str, ...]
    z3version: str | None

    @classmethod
    def of(cls, task: Task) -> FStarSetup:
        meta = task.meta
        name = meta.get("name") or task.id
        module_file = meta.get("module_file") or ""
        if not isinstance(name, str) or "." not in name:
            raise ValueError(f"meta.name must be the definition's full name (Module.name), not {name!r:.60}")
        if not isinstance(module_file, str) or not module_file.endswith((".fst", ".fsti")):
            raise ValueError(f"meta.module_file must name the module's .fst file, not {module_file!r:.60}")
        opens = meta.get("opens_and_abbrevs") or []
        if not isinstance(opens, list) or not all(isinstance(o, Mapping) for o in opens):
            raise ValueError("meta.opens_and_abbrevs must be a list of {open} or {abbrev, full_module}")
        vconfig = meta.get("vconfig")
        if vconfig is not None and not isinstance(vconfig, Mapping):
            raise ValueError("meta.vconfig must be an object or null")
        dirs = meta.get("include_dirs") or []
        if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
            raise ValueError("meta.include_dirs must be a list of directories")
        val = meta.get("original_source_type") or task.statement  # the card: the original is for checking
        if not isinstance(val, str):
            raise ValueError("meta.original_source_type must be text")
        val = "" if val.strip() in ("", "<UNK>") else val
        module = os.path.basename(module_file).rsplit(".", 1)[0]
        return cls(name, module, module_file, val, tuple(opens), vconfig, tuple(dirs), meta.get("z3version"))


def judge(reply: Response) -> Verdict:
    """The verdict of one full push's response (the rules F* decides)."""
    issues = [i.to_dict() for i in reply.issues]
    assumed = [i for i in reply.issues if i.number == syntax.ASSUME_WARNING]
    errors = reply.errors
    if reply.status != "success" or errors:
        first = errors[0] if errors else (reply.issues[0] if reply.issues else None)
        where = ""
        if first and first.ranges:
            r = first.ranges[0]
            where = f" at {r.fname or '<input>'}:{r.beg[0]}:{r.beg[1]}-{r.end[0]}:{r.end[1]}"
        said = first.message.strip().replace("\n", " ")[:300] if first else f"status {reply.status}"
        number = f" (error {first.number})" if first and first.number is not None else ""
        return Verdict("failed", f"F* rejects it{where}{number}: {said}",
                       details={"issues": issues, "error_ranges": [r.to_dict() for r in (first.ranges if first else ())]})
    if assumed:
        return Verdict("failed", f"uses an admit or assume (warning {syntax.ASSUME_WARNING}): "
                       f"{assumed[0].message.strip()[:200]}", details={"issues": issues})
    return Verdict("passed", "F* checked it", details={"issues": issues})


def candidate_problem(setup: FStarSetup, task: Task, text: str) -> str | None:
    """Why the candidate fails the syntax rules before F* sees it, or None."""
    why = syntax.forbidden_use(text) or syntax.defines(text, setup.name)
    if why:
        return why
    if not setup.val and task.reference:  # no val pins the type: the header must
        want, got = syntax.header_of(task.reference, setup.name), syntax.header_of(text, setup.name)
        if want is not None and got != want:
            return f"changes the type of {syntax.short_name(setup.name)}: {got!r:.120} instead of {want!r:.120}"
    return None


@dataclass
class _Session:
    ide: FStarIde | None = None
    loaded_until: str | None = None
    checks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class FStarChecker:
    """Checks F* definitions through persistent `fstar.exe --ide` sessions; thread-safe.

    `fstar` is the command that starts F* (default: `fstar.exe` on PATH); `visible` are
    extra host paths the sandbox shows read-only (besides F*'s installation and the
    tasks' include dirs).
    """

    sandbox: Sandbox | None = None
    limits: Limits = LIMITS
    fstar: Sequence[str] | None = None
    visible: Sequence[str] = ()
    _sessions: dict = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.sandbox = self.sandbox or get_sandbox()
        if self.fstar is None:
            exe = shutil.which("fstar.exe") or "fstar.exe"
            self.fstar = [exe]
            prefix = os.path.dirname(os.path.dirname(os.path.realpath(exe)))
            self.visible = (*self.visible, prefix)

    def check(self, task: Task, candidate: Candidate) -> Verdict:
        broken = first_not_unicode([("the task's statement", task.statement), ("the task's meta", task.meta)])
        try:
            if broken:
                raise ValueError(broken)
            setup = FStarSetup.of(task)
        except ValueError as exc:
            return Verdict("error", f"the task is broken: {exc}", details={"task_error": True})
        why = first_not_unicode([("the definition", candidate.text)]) or candidate_problem(setup, task, candidate.text)
        if why:
            return Verdict("failed", why, details=_groups(task))
        code = syntax.scaffold(setup.module, setup.opens_and_abbrevs, setup.vconfig)
        code += (setup.val.rstrip() + "\n" if setup.val else "") + candidate.text
        session = self._session(setup)
        with session.lock:
            try:
                ready = self._ready(session, setup)
                if ready is not None:
                    return ready
                reply = session.ide.push(code, kind="full", line=0, column=0, timeout=self.limits.wall_s)
                verdict = judge(reply)
                if reply.status == "success":
                    session.ide.pop()
            except FStarTimeout as exc:
                self._drop(session)
                return Verdict("timeout", str(exc), self.limits.wall_s, details=_groups(task))
            except FStarDied as exc:
                self._drop(session)
                return Verdict("crashed", str(exc), details=_groups(task))
        return replace(verdict, details={**verdict.details, **_groups(task)})

    def _ready(self, session: _Session, setup: FStarSetup) -> Verdict | None:
        """A live process holding the checked state before `setup.name`; or the `error` saying why not."""
        if session.ide is not None and (not session.ide.alive or session.checks >= RESTART_AFTER
                                        or session.loaded_until != setup.name):
            self._drop(session)
        if session.ide is None:
            try:  # no candidate is involved yet: what goes wrong here is F*'s or the task's
                session.ide = self._start(setup)
                reply = session.ide.push_partial_checked_file(setup.name, timeout=self.limits.wall_s)
            except (FStarDied, FStarTimeout) as exc:
                self._drop(session)
                return Verdict("error", f"F* did not start on {setup.module_file}: {exc}", details={"task_error": True})
            if not reply.clean:
                self._drop(session)
                said = reply.errors[0].message.strip()[:300] if reply.errors else f"status {reply.status}"
                return Verdict("error", f"the task is broken: F* cannot load {setup.module_file} up to "
                               f"{setup.name}: {said}", details={"task_error": True})
            session.loaded_until = setup.name
        session.checks += 1
        return None

    def _start(self, setup: FStarSetup) -> FStarIde:
        z3 = find_z3(setup.z3version or os.environ.get("PROOFSMITH_Z3_VERSION"))
        command = [*self.fstar, "--ide", os.path.basename(setup.module_file), "--report_assumes", "warn"]
        for d in setup.include_dirs:
            command += ["--include", d]
        command += z3.fstar_options()
        shown = [*self.visible, *setup.include_dirs, os.path.dirname(z3.path)]
        box = self.sandbox.seeing([p for p in shown if os.path.exists(p)])
        limits = replace(self.limits, cpu_s=self.limits.cpu_s * RESTART_AFTER)
        return FStarIde(command, timeout=self.limits.wall_s, sandbox=box, limits=limits)

    def _session(self, setup: FStarSetup) -> _Session:
        key = (setup.module_file, setup.include_dirs, setup.z3version)
        with self._guard:
            return self._sessions.setdefault(key, _Session())

    @staticmethod
    def _drop(session: _Session) -> None:
        if session.ide is not None:
            session.ide.close()
        session.ide, session.loaded_until, session.checks = None, None, 0

    def close(self) -> None:
        for session in list(self._sessions.values()):
            with session.lock:
                self._drop(session)


def _groups(task: Task) -> dict:
    """What `eval --by` groups verify@k by: the problem class and the test split."""
    return {k: task.meta[k] for k in ("problem_class", "split", "test_split") if task.meta.get(k) is not None}

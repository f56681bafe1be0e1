"""Trace one Coq file through coqidetop: every proof with the goals around each tactic.

`extract_file(job)` is one step of the pipeline: it knows nothing about where it runs
(thread, process, Ray worker) and returns one JSON-able result for the file::

    {"file", "module", "sha256", "seconds", "sentences", "error": None | {reason, message, line},
     "theorems": [...], "facts": [...], "corpus": {path, module, imports, premises}, "tasks": [...],
     "source": the file's text (absent where it is not UTF-8)}

The run stores it compactly (extract/state_store.py: each distinct state once, a prelude that
is the file's prefix as its length); `state_store.read_theorems` gives the full records back.

Every sentence is added and executed in order; Coq's `Goal` answer after each one
says whether a proof is open (a statement opened one: None -> goals; a closer ended
it: goals -> None). Inside a proof each sentence is a traced tactic with the goals
before and after it and the premises it names (identifiers that are not hypotheses,
resolved with `Locate` to full names, then placed in their file with `coq_defs`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..coq.goals import Goals
from ..coq.idetop import CoqDied, CoqError, CoqIdeTop, CoqTimeout
from ..coq.sentences import SentenceError, split_sentences
from ..coq.syntax import (
    CLOSERS,
    FACT_KINDS,
    GIVE_UP_CLOSERS,
    TACTIC_SYNTAX_WORDS,
    THEOREM_KINDS,
    Scope,
    blank_comments_and_strings,
    command,
    defined_name,
    strip_comments,
)
from ..core import Provenance, Task, sha256_bytes
from .coq_defs import definitions, module_definitions
from .coq_libraries import error_reason
from .coq_project import CoqLibrary, coqlib


@dataclass(frozen=True)
class ExtractOptions:
    file_timeout_s: float = 600.0  # the whole file
    call_timeout_s: float = 60.0  # one sentence
    memory_mb: int = 4096
    max_bytes: int = 2 << 20  # larger files are refused as "enormous"
    premises: bool = True


@dataclass(frozen=True)
class FileJob:
    library: CoqLibrary
    path: Path
    options: ExtractOptions = ExtractOptions()


# Words that are tactic syntax, not names: no need to ask Coq where they are defined.
TACTIC_WORDS = TACTIC_SYNTAX_WORDS
# Outside installed libraries a task's prelude is the file's prefix (self-contained for a
# checker that cannot see the project's directories) unless it is longer than this.
MAX_PREFIX = 64 << 10
# `Module M (X : T).`, `Module Type T.`: a statement inside is stated with the file's prefix
_FUNCTOR = re.compile(r"\s*(?:Declare\s+)?Module\s+(?:Type\b|(?:Import\s+|Export\s+)?[\w']+\s*[(\[!])")
_IDENT = re.compile(r"(?<![\w'.])[A-Za-z_][\w']*(?:\.[A-Za-z_][\w']*)*")
_LOCATED = re.compile(r"^(Constant|Inductive|Constructor)\s+(\S+)", re.MULTILINE)


def _goal_dicts(goals: Goals | None) -> list[dict]:
    return [g.to_dict() for g in goals.foreground] if goals else []


class PremiseResolver:
    """Short names in a tactic -> full names and definition sites, cached per scope."""

    def __init__(self, coq: CoqIdeTop, library: CoqLibrary):
        self.coq, self.library = coq, library
        self.cache: dict[str, tuple[str, str] | None] = {}
        roots = [(lg, Path(p)) for _f, p, lg in library.load_paths]
        roots.append(("Coq", coqlib() / "theories"))
        self.roots = sorted(roots, key=lambda r: -len(r[0]))

    def forget(self, name: str | None = None) -> None:
        """A new definition shadows `name` (None: a scope change, forget all)."""
        if name is None:
            self.cache.clear()
        else:
            self.cache.pop(name, None)

    def premises(self, tactic: str, hypotheses: set[str]) -> list[dict]:
        names = dict.fromkeys(_IDENT.findall(blank_comments_and_strings(tactic)))
        out = []
        for name in names:
            if name in TACTIC_WORDS or name in hypotheses:
                continue
            if name not in self.cache:
                try:
                    m = _LOCATED.search(self.coq.query(f"Locate {name}."))
                except (CoqTimeout, CoqDied):
                    raise
                except CoqError:
                    m = None
                self.cache[name] = (m[1], m[2]) if m else None
            found = self.cache[name]
            if found:
                out.append({"name": name, "full_name": found[1], "kind": found[0], **self.locate_definition(found[1])})
        return out

    def locate_definition(self, full_name: str) -> dict:
        """The file (relative to its library root) and position where a name is defined."""
        parts = full_name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:cut])
            for logical, root in self.roots:
                if module != logical and not module.startswith(logical + "."):
                    continue
                rel = Path(*module[len(logical):].lstrip(".").split(".")).with_suffix(".v") if module != logical else None
                if rel is None or not (root / rel).is_file():
                    continue
                found = module_definitions(str(root / rel), module).get(full_name)
                return {"def_module": module, "def_path": str(rel),
                        "def_pos": found["start"] if found else None, "def_end_pos": found["end"] if found else None}
        return {"def_module": "", "def_path": "", "def_pos": None, "def_end_pos": None}


def extract_file(job: FileJob) -> dict[str, Any]:
    lib, path, opt = job.library, job.path, job.options
    t0 = time.monotonic()
    rel = lib.source_path(path)
    result: dict[str, Any] = {"file": rel, "project": lib.name, "module": "", "sha256": "", "seconds": 0.0,
                              "sentences": 0, "error": None, "theorems": [], "facts": [], "tasks": [], "corpus": None}

    def fail(reason: str, message: str, line: int | None = None) -> dict[str, Any]:
        result["error"] = {"reason": reason, "message": message.strip()[:2000], "line": line}
        result["seconds"] = round(time.monotonic() - t0, 3)
        return result

    data = path.read_bytes()
    result["sha256"] = sha256_bytes(data)
    if len(data) > opt.max_bytes:
        return fail("enormous", f"{len(data)} bytes > limit {opt.max_bytes}")
    try:
        src = data.decode("utf-8")
        result["source"] = src
        sentences = split_sentences(src)
        module = lib.logical_module(path)
    except UnicodeDecodeError as exc:
        return fail("not-utf8", f"not UTF-8: {exc}")
    except SentenceError as exc:
        return fail("syntax", str(exc))
    except Exception as exc:  # outside every load path, ...
        return fail("setup", str(exc))
    result["module"], result["sentences"] = module, len(sentences)
    provenance = {"source": rel, "project": lib.name, "version": lib.version, "license": lib.license,
                  "sha256": result["sha256"]}
    result["corpus"] = {"path": rel, "module": module, "imports": [],
                        "premises": definitions(src, module, sentences)}
    imports: list[str] = result["corpus"]["imports"]
    deadline = t0 + opt.file_timeout_s
    scope = Scope(module)
    context: list[str] = []  # top-level sentences a statement may need: Require, Import, Open Scope, Set
    functors: list[int] = []  # depths of the open functors / module types: nothing there can be Imported
    try:
        coq = CoqIdeTop(args=lib.coq_flags(), topfile=str(lib.work_path(path)), noinit=module.startswith("Coq.Init."),
                        timeout=opt.call_timeout_s, memory_mb=opt.memory_mb)
    except CoqError as exc:
        return fail(error_reason(exc.message, "coq-start"), exc.message)
    resolver = PremiseResolver(coq, lib)
    goals: Goals | None = None
    proof: dict[str, Any] | None = None
    try:
        for s in sentences:
            if time.monotonic() > deadline:
                return fail("timeout", f"file took longer than {opt.file_timeout_s:.0f} s", s.line)
            coq.timeout = max(1.0, min(opt.call_timeout_s, deadline - time.monotonic()))
            coq.add(s.text)
            after = coq.goals()
            cmd = command(s.text)
            if proof is None and after is not None:  # a statement opened a proof
                named = defined_name(s.text)
                kind, name = named if named else (cmd, f"{cmd}@{s.line}")  # Goal, Next Obligation, ...
                proof = {"full_name": scope.qualify(name), "name": name, "kind": kind, "module": module,
                         "file_path": rel, "start": [s.line, s.column], "statement": s.text, "proof_start": s.end,
                         "imports": list(imports), "in_section": scope.in_section,
                         "prelude": _prelude(context, module, scope)
                         if (lib.builtin and not scope.in_section and not functors) or s.start > MAX_PREFIX
                         else src[:s.start].rstrip(),  # the file so far: a section's variables too
                         "initial_goals": _goal_dicts(after), "traced_tactics": []}
                resolver.forget(name)
            elif proof is not None and after is not None:  # a tactic
                hyps = {n for g in (goals.foreground if goals else ()) for h in g.hypotheses for n in h.names}
                step = {"tactic": s.text, "state_before": str(goals), "state_after": str(after),
                        "goals_before": _goal_dicts(goals), "goals_after": _goal_dicts(after),
                        "start": [s.line, s.column], "end": [s.end_line, s.end_column],
                        "premises": resolver.premises(s.text, hyps) if opt.premises else []}
                proof["traced_tactics"].append(step)
            elif proof is not None:  # a closer (or a one-sentence `Proof term.`)
                ending = cmd if cmd in CLOSERS else ("Proof term" if cmd == "Proof" else cmd)
                proof.update(end=[s.end_line, s.end_column], ending=ending,
                             proof=src[proof.pop("proof_start"):s.end].strip())
                _finish(result, proof, lib, provenance)
                proof = None
            else:  # top level
                depth = len(scope.stack)
                if scope.update(s.text) or cmd in ("Import", "Export", "Open", "Require", "Include"):
                    resolver.forget()
                functors[:] = [d for d in functors if d <= len(scope.stack)]
                if len(scope.stack) > depth and _FUNCTOR.match(strip_comments(s.text)):
                    functors.append(len(scope.stack))
                if cmd in ("Require", "Import", "Export"):
                    imports.append(strip_comments(s.text))
                if cmd in ("Require", "Import", "Export", "Open", "Set", "Unset") and not scope.stack:
                    context.append(strip_comments(s.text))
                named = defined_name(s.text)
                if named:
                    resolver.forget(named[1])
                if cmd in FACT_KINDS:
                    result["facts"].append({"fact": s.text, "imports": list(imports), "filename": rel,
                                            "symbolic_name": scope.qualify(named[1]) if named else "",
                                            "kind": cmd, "start": [s.line, s.column], "end": [s.end_line, s.end_column],
                                            "provenance": provenance})
            goals = after
    except CoqTimeout as exc:
        return fail("timeout", exc.message, s.line)
    except CoqDied as exc:
        return fail("crashed", exc.message, s.line)
    except CoqError as exc:  # missing-library, missing-plugin, parse, ... (coq_libraries.error_reason)
        return fail(error_reason(exc.message), exc.message, s.line)
    finally:
        coq.close()
    result["seconds"] = round(time.monotonic() - t0, 3)
    return result


def _prelude(context: list[str], module: str, scope: Scope) -> str:
    """What a statement needs to be stated again in a fresh file: the file's own imports,
    scopes and flags, then its compiled module and the modules around the statement."""
    requires = [c for c in context if command(c) == "Require"]
    lines = [*requires, f"Require Import {module}."]  # before the scopes it declares are opened
    path = module
    for kind, name in scope.stack:
        if kind == "Module":
            path += "." + name
            lines.append(f"Import {path}.")
    return "\n".join(lines + [c for c in context if command(c) != "Require"])


def _finish(result: dict, proof: dict, lib: CoqLibrary, provenance: dict) -> None:
    """A closed proof becomes a theorem record and, unless Admitted/Aborted, a task."""
    span = (*proof["start"], *proof["end"])
    prov = Provenance(**provenance, span=span).to_dict()
    proof["provenance"] = prov
    proof["admitted"] = proof["ending"] in GIVE_UP_CLOSERS
    prelude = proof["prelude"]
    result["theorems"].append(proof)
    if proof["admitted"] or proof["kind"] not in THEOREM_KINDS | {"Definition", "Instance", "Fixpoint", "Goal"}:
        return  # admitted proofs are never references; obligations have no statement of their own
    coq_args = lib.coq_flags()
    task = Task(id=f"{lib.name}:{proof['full_name']}", kind="coq", statement=proof["statement"], context=prelude,
                reference=proof["proof"], provenance=Provenance.from_dict(prov),
                meta={"full_name": proof["full_name"], "module": proof["module"], "coq_args": coq_args,
                      "in_section": proof["in_section"]})
    record = task.to_dict()
    record["prelude"] = record.pop("context")  # a Coq task file's name for it (io.task_from_record), once
    result["tasks"].append(record)

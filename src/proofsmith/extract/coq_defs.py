"""What a Coq sentence is, syntactically: its command, the name it defines, its scope.

Used for the facts table and the premises corpus (every name a proof may use, with
its text and position) without running Coq, and to place the premises a tactic uses:
`module_definitions(path, module)` lists the definitions of any library file.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from ..coq.sentences import Sentence, SentenceError, split_sentences, strip_comments

FACT_KINDS = {"Definition", "Fixpoint", "CoFixpoint", "Inductive", "CoInductive", "Variant", "Record", "Structure",
              "Class", "Instance", "Axiom", "Axioms", "Parameter", "Parameters", "Conjecture", "Notation", "Infix",
              "Ltac", "Canonical", "Coercion", "Scheme", "Let", "Function", "Existing", "Declare", "Hint",
              "Variable", "Variables", "Hypothesis", "Hypotheses", "Context", "Tactic", "Reserved"}
THEOREM_KINDS = {"Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Property", "Example"}
NAMED_KINDS = THEOREM_KINDS | {"Definition", "Fixpoint", "CoFixpoint", "Inductive", "CoInductive", "Variant",
                               "Record", "Structure", "Class", "Instance", "Axiom", "Parameter", "Conjecture",
                               "Let", "Function", "Ltac", "Canonical", "Coercion"}
CLOSERS = {"Qed", "Defined", "Admitted", "Abort", "Save"}

_PREFIX = re.compile(r"^(?:#\[[^\]]*\]\s*)*((?:(?:Local|Global|Polymorphic|Monomorphic|Program|Private|Cumulative|"
                     r"NonCumulative|Export|Time|Fail|Succeed|Redirect\s+\"[^\"]*\")\s+)*)")
_WORD = re.compile(r"[A-Za-z_][\w']*")
_NAME = re.compile(r"\s*([A-Za-z_][\w'.]*)")


def command(text: str) -> str:
    """The vernacular command of a sentence: 'Lemma', 'Require', 'Qed', '-' (a bullet)..."""
    plain = strip_comments(text)
    rest = plain[_PREFIX.match(plain).end():]
    m = _WORD.match(rest)
    if m and m[0] == "From":  # From X Require ...
        return "Require"
    return m[0] if m else plain[:2].strip()


def defined_name(text: str) -> tuple[str, str] | None:
    """(kind, short name) of a sentence that names something, else None."""
    plain = strip_comments(text)
    rest = plain[_PREFIX.match(plain).end():]
    kind_match = _WORD.match(rest)
    if not kind_match or kind_match[0] not in NAMED_KINDS:
        return None
    kind = kind_match[0]
    after = rest[kind_match.end():]
    if kind == "Instance" and after.lstrip().startswith(":"):
        return None  # anonymous instance
    m = _NAME.match(after)
    return (kind, m[1]) if m else None


def statement_code(text: str) -> str:
    """The statement without a := body for theorems; the whole text for the rest."""
    return strip_comments(text)


class Scope:
    """Module / Section nesting, for full names (sections add nothing to a name)."""

    def __init__(self, module: str):
        self.module = module
        self.stack: list[tuple[str, str]] = []  # ("Module" | "Section", name)

    def qualify(self, name: str) -> str:
        parts = [self.module, *(n for kind, n in self.stack if kind == "Module"), name]
        return ".".join(p for p in parts if p)

    @property
    def in_section(self) -> bool:
        return any(kind == "Section" for kind, _ in self.stack)

    def update(self, text: str) -> bool:
        """Follow Module/Section/End; True when the scope changed."""
        plain = strip_comments(text)
        rest = plain[_PREFIX.match(plain).end():]
        m = re.match(r"(Module(?:\s+Type)?|Section|End)\s+([A-Za-z_][\w']*)(.*)$", rest, re.DOTALL)
        if not m:
            return False
        word, name, tail = m.groups()
        if word == "End":
            for i in range(len(self.stack) - 1, -1, -1):
                if self.stack[i][1] == name:
                    del self.stack[i:]
                    break
            return True
        if word.startswith("Module") and ":=" in tail:
            return False  # Module M := N. defines, does not open
        self.stack.append(("Section" if word == "Section" else "Module", name))
        return True


def definitions(src: str, module: str, sentences: list[Sentence] | None = None) -> list[dict]:
    """Every named top-level definition of a file: full name, kind, code, span."""
    scope, out = Scope(module), []
    for s in sentences if sentences is not None else split_sentences(src):
        if scope.update(s.text):
            continue
        named = defined_name(s.text)
        if named:
            kind, name = named
            where = {"start": [s.line, s.column], "end": [s.end_line, s.end_column]}
            code = statement_code(s.text)
            out.append({"full_name": scope.qualify(name), "kind": kind, "code": code, **where})
            for member, member_kind in constructors(kind, code):
                out.append({"full_name": scope.qualify(member), "kind": member_kind, "code": code, **where})
    return out


def constructors(kind: str, code: str) -> list[tuple[str, str]]:
    """Constructors (and record fields) an inductive definition also defines."""
    if kind in ("Inductive", "CoInductive", "Variant"):
        found = []
        for body in code.split(":=")[1:]:
            body = body.split(" with ")[0]
            found += re.findall(r"(?:^|\|)\s*([A-Za-z_][\w']*)", body)
        return [(c, "Constructor") for c in found]
    if kind in ("Record", "Structure", "Class") and ":=" in code:
        body = code.split(":=", 1)[1]
        out = [(m, "Constructor") for m in re.findall(r"^\s*([A-Za-z_][\w']*)\s*\{", body)]
        fields = re.findall(r"(?:\{|;)\s*([A-Za-z_][\w']*)\s*:(?!=)", body)
        return out + [(f, "Projection") for f in fields]
    return []


@functools.lru_cache(maxsize=512)
def module_definitions(path: str, module: str) -> dict[str, dict]:
    """full name -> definition, for a library file (cached: read once per process)."""
    try:
        return {d["full_name"]: d for d in definitions(Path(path).read_text(errors="replace"), module)}
    except (OSError, SentenceError):
        return {}

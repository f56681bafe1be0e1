"""The definitions of a Coq file, read without running Coq (the syntax rules they rest on,
a sentence's command, the name it defines, its Module/Section scope, are `coq.syntax`'s).

Used for the facts table and the premises corpus (every name a proof may use, with
its text and position) without running Coq, and to place the premises a tactic uses:
`module_definitions(path, module)` lists the definitions of any library file.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from ..coq.sentences import Sentence, SentenceError, split_sentences, strip_comments
from ..coq.syntax import CLOSERS, FACT_KINDS, NAMED_KINDS, THEOREM_KINDS, Scope, command, defined_name

__all__ = ["CLOSERS", "FACT_KINDS", "NAMED_KINDS", "THEOREM_KINDS", "Scope", "command", "constructors",
           "defined_name", "definitions", "module_definitions", "statement_code"]


def statement_code(text: str) -> str:
    """The statement without a := body for theorems; the whole text for the rest."""
    return strip_comments(text)


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

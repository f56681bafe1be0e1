"""F* syntax rules for checking candidates: comments, names defined, escapes, types, scaffolds.

- Comments: ``(* ... *)`` nest, ``//`` runs to the end of the line; string literals
  (``"..."`` with backslash escapes) are blanked too, so that no rule looks inside them.
  Blanking keeps every offset (each character becomes a space, newlines stay).
- Top-level definitions: ``let [rec] NAME``, ``and NAME`` (mutual recursion), ``val NAME``
  at the start of a line, after any ``[@@ ...]`` attributes and qualifiers
  (``inline_for_extraction``, ``private``...); an indented ``let`` is a local one (``let .. in``).
- Escapes a candidate may not use (`forbidden_use`): ``admit``/``admit_smt_queries``,
  ``assume`` (``assume val``, ``assume (p)``), ``magic``, ``tadmit``, ``Obj.magic``,
  ``unsafe_coerce``, the ``expect_failure`` and ``expect_lax_failure`` attributes (a failing
  definition then "succeeds"), options that weaken checking (``--lax``, ``--admit_smt_queries``,
  ``--admit_except``, ``--no_smt``...), option pragmas (they could pop the task's own options),
  and ``friend``. F* itself reports every admit/assume it meets with
  ``--report_assumes warn`` (warning 335); the checker needs both to say nothing.
- The type: the candidate's header (binders and annotation, up to the ``=`` of the
  definition of NAME) is what fixes its type when the task has no ``val``; it must equal the
  reference's header token for token (whitespace and comments aside).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

IDENT = r"[A-Za-z_][A-Za-z0-9_']*"
_QUALIFIERS = ("inline_for_extraction", "noextract", "private", "irreducible", "unfold", "abstract", "noeq",
               "unopteq", "total", "opaque_to_smt", "ghost", "reifiable", "reflectable", "new", "override", "visible")
_QUAL_RE = "(?:(?:" + "|".join(_QUALIFIERS) + r")\s+)*"
_ATTR_RE = r"(?:\[@@?[^\]]*\]\s*)*"
_DEF_RE = re.compile(rf"(?m)^{_ATTR_RE}{_QUAL_RE}(let(?:\s+rec)?|and|val)\s+(\(\s*[^)\s]+\s*\)|{IDENT})")
_TOKEN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_'.]*|\d+|[-+*/<>=!:|&^%$#@~?]+|\S")
FORBIDDEN_WORDS = ("admit", "admit_smt_queries", "assume", "magic", "tadmit", "unsafe_coerce", "expect_failure",
                   "expect_lax_failure", "friend", "admitP", "admit_dump", "tadmit_t")
FORBIDDEN_OPTIONS = ("--lax", "--admit_smt_queries", "--admit_except", "--no_smt", "--unsafe_tactic_exec",
                     "--warn_error", "--report_assumes", "--MLish", "--tactics_failhard")
_WORD_RE = re.compile(r"(?<![A-Za-z0-9_'.])(?:[A-Z][A-Za-z0-9_']*\.)*(" + "|".join(FORBIDDEN_WORDS) + r")(?![A-Za-z0-9_'])")
_PRAGMA_RE = re.compile(r"(?<![A-Za-z0-9_'])#(set-options|reset-options|push-options|pop-options|restart-solver|"
                        r"light|lang-\S+|print-effects-graph)")
ASSUME_WARNING = 335  # what `--report_assumes warn` reports for each admit/assume


def blank_comments_and_strings(text: str) -> str:
    """`text` with comments and string literals as spaces (newlines kept, offsets unchanged)."""
    out = list(text)
    i, n, depth = 0, len(text), 0
    while i < n:
        if depth:
            if text.startswith("(*", i):
                depth += 1
                out[i] = out[i + 1] = " "
                i += 2
            elif text.startswith("*)", i):
                depth -= 1
                out[i] = out[i + 1] = " "
                i += 2
            else:
                out[i] = out[i] if text[i] == "\n" else " "
                i += 1
        elif text.startswith("(*", i) and not text.startswith("(*)", i):
            depth = 1
            out[i] = out[i + 1] = " "
            i += 2
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
        elif text[i] == '"':
            out[i] = " "
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    out[i] = " "
                    i += 1
                out[i] = text[i] if text[i] == "\n" else " "
                i += 1
            if i < n:
                out[i] = " "
                i += 1
        elif text[i] == "'" and i + 2 < n and text[i + 2] == "'" and (i == 0 or not text[i - 1].isalnum()):
            out[i + 1] = " "  # a character literal such as '"'
            i += 3
        else:
            i += 1
    return "".join(out)


def short_name(name: str) -> str:
    """`FStar.Seq.Base.length` -> `length`."""
    return name.rsplit(".", 1)[-1]


def definitions(code: str) -> list[tuple[str, str, int]]:
    """Top-level definitions in `code`: (keyword: let/let rec/and/val, name, offset of the keyword)."""
    clean = blank_comments_and_strings(code)
    found = []
    for m in _DEF_RE.finditer(clean):
        name = m.group(2).replace(" ", "")
        found.append((" ".join(m.group(1).split()), name, m.start(1)))
    return found


def forbidden_use(code: str) -> str | None:
    """What escape the code uses (outside comments and strings), or None."""
    clean = blank_comments_and_strings(code)
    m = _WORD_RE.search(clean)
    if m:
        return f"uses {m.group(0)!r} at line {clean.count(chr(10), 0, m.start()) + 1}"
    m = _PRAGMA_RE.search(clean)
    if m:
        return f"sets options (#{m.group(1)}) at line {clean.count(chr(10), 0, m.start()) + 1}"
    for option in FORBIDDEN_OPTIONS:
        if re.search(re.escape(option) + r"(?![A-Za-z0-9_])", code):  # inside a string too: options are strings
            return f"names the option {option}"
    return None


def header_of(code: str, name: str) -> str | None:
    """The header of the definition of `name` (binders and type, up to its `=`), normalised; None if absent."""
    clean = blank_comments_and_strings(code)
    short = short_name(name)
    for keyword, found, offset in definitions(code):
        if found != short or keyword == "val":
            continue
        start = clean.index(short, offset) + len(short)
        depth, i = 0, start
        while i < len(clean):
            c = clean[i]
            if c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
            elif c == "=" and depth == 0 and clean[i - 1] not in "=<>!:" and clean[i + 1: i + 2] not in ("=", ">"):
                return " ".join(_TOKEN_RE.findall(clean[start:i]))
            i += 1
        return None
    return None


def defines(code: str, name: str) -> str | None:
    """None when `code` defines `name` exactly once with `let`/`and` and has no `val` of it; else why not."""
    short = short_name(name)
    found = [(kw, n) for kw, n, _ in definitions(code) if n == short]
    lets = [kw for kw, _ in found if kw != "val"]
    if not lets:
        return f"does not define {short} (no top-level let {short} ... = ...)"
    if len(lets) > 1:
        return f"defines {short} {len(lets)} times"
    if any(kw == "val" for kw, _ in found):
        return f"declares its own val {short} (the type is the task's)"
    return None


def scaffold(module: str, opens_and_abbrevs: Sequence[Mapping[str, Any]], vconfig: Mapping[str, Any] | None) -> str:
    """The lines pushed before the type and the candidate, as FStarDataSet's harness builds them:
    the opens and abbreviations in reverse order, `open <Module>` (not for Prims), then the options."""
    lines = []
    for item in reversed(list(opens_and_abbrevs or ())):
        if "abbrev" in item and "full_module" in item:
            lines.append(f"module {item['abbrev']} = {item['full_module']}")
        elif "key" in item and "value" in item:  # the older shape: {abbrev: true, key, value}
            lines.append(f"module {item['key']} = {item['value']}")
        elif "open" in item:
            lines.append(f"open {item['open']}")
    if module != "Prims":
        lines.append(f"open {module}")
    options = options_of(vconfig)
    if options:
        lines.append(f'#push-options "{options}"')
    return "\n".join(lines) + "\n"


def options_of(vconfig: Mapping[str, Any] | None) -> str:
    """F* command-line options that give a definition the solver settings it was checked with."""
    if not vconfig:
        return ""
    flags = []
    simple = {"initial_fuel": "--initial_fuel", "max_fuel": "--max_fuel", "initial_ifuel": "--initial_ifuel",
              "max_ifuel": "--max_ifuel", "z3rlimit": "--z3rlimit", "z3rlimit_factor": "--z3rlimit_factor",
              "z3seed": "--z3seed", "smtencoding_nl_arith_repr": "--smtencoding.nl_arith_repr",
              "smtencoding_l_arith_repr": "--smtencoding.l_arith_repr"}
    for key, option in simple.items():
        if vconfig.get(key) is not None:
            flags.append(f"{option} {vconfig[key]}")
    for key, option in (("smtencoding_elim_box", "--smtencoding.elim_box"), ("z3refresh", "--z3refresh"),
                        ("detail_errors", "--detail_errors"), ("retry", "--retry")):
        if vconfig.get(key) is True:
            flags.append(option if key != "smtencoding_elim_box" else f"{option} true")
    for opt in vconfig.get("z3cliopt") or ():
        flags.append(f"--z3cliopt '{opt}'")
    for opt in vconfig.get("z3smtopt") or ():
        flags.append(f"--z3smtopt '{opt}'")
    return " ".join(flags).replace('"', '\\"')

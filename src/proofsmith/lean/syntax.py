"""Lean 4 syntax rules: comments and strings, what a proof may not use, `#print axioms`.

Every rule runs on the text with comments and strings blanked (`blank_comments_and_strings`),
so a `sorry` inside a comment neither fails a proof nor does a comment opener inside a
string hide the code after it. Lean's comments nest (`/- /- -/ still comment -/`); `--`
runs to the end of the line; strings are `"..."` with backslash escapes (also `s!"..."`,
`m!"..."`), raw strings `r"..."`, `r#"..."#`, and character literals `'a'`, `'\n'`.
"""

from __future__ import annotations

import re

# The axioms a Lean proof may depend on (Lean's own three; `sorryAx`, `Lean.ofReduceBool`
# (native_decide) and anything declared with `axiom` are not among them).
ALLOWED_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})

_LETTERS = r"\w'!?"  # Lean's identifier characters after the first (\w: Unicode letters, digits, subscripts)
_IDENT_CHAR = f"[{_LETTERS}.]"


def _word(words: str) -> re.Pattern:
    return re.compile(rf"(?<![{_LETTERS}.])({words})(?![{_LETTERS}])")


# Escapes from proving: a hole, an unchecked or untrusted definition, new assumptions, code that
# runs in the elaborator (and could add declarations or print fake output), other declarations.
FORBIDDEN_WORDS_RE = _word(
    r"sorry|admit|axiom|axioms|unsafe|implemented_by|extern|opaque|native_decide"
    r"|theorem|lemma|def|abbrev|instance|example|structure|class|inductive|constant|noncomputable"
    r"|namespace|section|end|mutual|universe|variable|import|initialize|builtin_initialize"
    r"|macro|macro_rules|syntax|elab|elab_rules|notation|infix|infixl|infixr|prefix|postfix"
    r"|run_cmd|run_tac|run_elab|run_meta|by_elab|declare_syntax_cat|register_option|attribute"
)
# `#` commands: `#eval` and friends run code, `#exit` would end the file before the checker's own
# `#print axioms`. Known ones anywhere; any other `#word` that starts a line (mid-line `#s` is Mathlib's
# Finset.card notation, and `#[...]` an array).
_HASH_COMMANDS = ("eval|exit|print|check|check_failure|reduce|synth|guard_msgs|guard_expr|guard|help|lint|find|where"
                  "|version|simp|norm_num|conv|widget|html|time|count_heartbeats|explode|run_cmd|kernel|compile|output")
FORBIDDEN_COMMANDS_RE = re.compile(rf"(#(?:{_HASH_COMMANDS})(?![\w'])|^[ \t]*#[A-Za-z_][\w']+)", re.M)
# Options that switch the kernel (or elaboration) off: never allowed in a proof
FORBIDDEN_OPTIONS_RE = re.compile(r"\bset_option\s+((?:debug|compiler|interpreter|Elab\.async|trust)\S*)")

_PRINT_AXIOMS_RE = re.compile(
    r"'(?P<name>[^'\n]+)' (?:depends on axioms: \[(?P<axioms>[^\]]*)\]|(?P<none>does not depend on any axioms))")


def blank_comments_and_strings(text: str) -> str:
    """`text` with every comment and string literal replaced by spaces (newlines kept), so
    positions stay put. An unterminated comment or string is blanked to the end."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "-" and text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif c == "/" and text.startswith("/-", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/-", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("-/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 64]) and not _ident_before(text, i):
            hashes = len(re.match(r"r(#*)", text[i:]).group(1))
            close = '"' + "#" * hashes
            j = text.find(close, i + 2 + hashes)
            j = n if j < 0 else j + len(close)
            blank(i, j)
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        elif c == "'" and not _ident_before(text, i) and (m := re.match(r"'(?:\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)|[^\\'\n])'", text[i:i + 12])):
            blank(i, i + m.end())
            i += m.end()
        else:
            i += 1
    return "".join(out)


def _ident_before(text: str, i: int) -> bool:
    return i > 0 and re.match(_IDENT_CHAR, text[i - 1]) is not None


def unterminated_comment(text: str) -> bool:
    """Whether a `/-` comment stays open to the end (it would swallow what follows the proof)."""
    depth, i, clean = 0, 0, blank_strings_only(text)
    while i < len(clean):
        if clean.startswith("--", i) and depth == 0:
            j = clean.find("\n", i)
            i = len(clean) if j < 0 else j
        elif clean.startswith("/-", i):
            depth, i = depth + 1, i + 2
        elif clean.startswith("-/", i) and depth:
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return depth > 0


def blank_strings_only(text: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\])*"', lambda m: " " * len(m.group(0)), text)


def forbidden_use(proof: str) -> str | None:
    """The first thing in `proof` (outside comments and strings) that a proof may not use, else None."""
    if unterminated_comment(proof):
        return "/- (a comment left open)"
    clean = blank_comments_and_strings(proof)
    for pattern in (FORBIDDEN_OPTIONS_RE, FORBIDDEN_COMMANDS_RE, FORBIDDEN_WORDS_RE):
        if m := pattern.search(clean):
            return m.group(1).strip()
    return None


def print_axioms(text: str, name: str | None = None) -> list[str] | None:
    """The axioms `#print axioms NAME` reported in `text` (its last report for `name`), or None."""
    found = None
    for m in _PRINT_AXIOMS_RE.finditer(text):
        if name is None or _strip_guillemets(m.group("name")) == _strip_guillemets(name):
            found = [] if m.group("none") else [a.strip() for a in m.group("axioms").split(",") if a.strip()]
    return found


def disallowed_axioms(axioms: list[str]) -> list[str]:
    return [a for a in axioms if _strip_guillemets(a) not in ALLOWED_AXIOMS]


def _strip_guillemets(name: str) -> str:
    return name.replace("«", "").replace("»", "")


_DECL_RE = re.compile(r"(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|noncomputable|nonrec)\s+)*"
                      r"(theorem|lemma|def|abbrev|example|instance)\b\s*([^\s:({\[⦃]*)")


def declaration_name(statement: str) -> tuple[str, str]:
    """(keyword, name) of the declaration `statement` opens (name "" for an `example`)."""
    m = _DECL_RE.search(blank_comments_and_strings(statement))
    if not m:
        raise ValueError(f"no theorem, lemma or def in the statement: {statement.strip()[:80]!r}")
    return m.group(1), m.group(2)


_SCOPE_RE = re.compile(r"^[ \t]*(namespace|section|end)\b[ \t]*([^\s-]*)", re.MULTILINE)


def _scopes(context: str) -> list[tuple[str, str]]:
    stack: list[tuple[str, str]] = []
    for kind, name in _SCOPE_RE.findall(blank_comments_and_strings(context)):
        if kind == "end":
            if stack:
                stack.pop()
        else:
            stack.append((kind, name))
    return stack


def open_namespaces(context: str) -> list[str]:
    """The namespaces `context` leaves open, outermost first (`namespace A.B` counts as "A.B")."""
    return [name for kind, name in _scopes(context) if kind == "namespace"]


def open_scopes(context: str) -> str:
    """The `end` lines closing the namespaces and sections `context` leaves open, innermost first."""
    return "".join(f"end {name}\n".replace(" \n", "\n") for _, name in reversed(_scopes(context)))


def without_axiom_reports(text: str) -> str:
    return _PRINT_AXIOMS_RE.sub("", text).strip()

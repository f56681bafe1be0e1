"""Coq's syntax rules, in one place: everyone who reads Coq text without Coq asks here.

- the lexer rules: comments ``(* .. *)`` nest and may hold strings (as in Coq's own
  lexer, so ``(* "*)" *)`` is one comment); strings ``".."`` escape ``"`` as ``""``
  (`skip_comment`, `skip_string`, `skip_blank`, `strip_comments`,
  `blank_comments_and_strings`);
- bullets (``-``, ``+``, ``*``, repeated) and braces (``{``, ``}``, ``2: {``,
  ``[x]: {``), the sentences that focus goals (`focus_end`);
- keywords: theorem, statement, fact and named kinds, the qualifiers and attributes
  before them, proof openers and closers (`command`, `defined_name`, `STATEMENT_NAME_RE`,
  `statement_head_removed`, `PROOF_START_RE`, `PROOF_END_RE`);
- Module / Section nesting (`Scope`);
- what a checked proof or a search tactic may not contain (`forbidden_use`,
  `TACTIC_FORBIDDEN_WORDS_RE`, `TACTIC_FORBIDDEN_COMMANDS_RE`);
- tactic words (`TACTIC_START_WORDS`, `TACTIC_SYNTAX_WORDS`, `starts_with_tactic_word`).

The forbidden-command rules are a security boundary of the Coq checker: a proof that
uses admit / Admitted / Axiom / ... must fail. They match text with comments and strings
blanked by the same lexer that splits sentences, so nothing Coq runs is hidden from them.
"""

from __future__ import annotations

import re


class SentenceError(ValueError):
    """Source that cannot be split (an unterminated comment or string)."""


# -- lexer: comments and strings ---------------------------------------------------------

IDENT = r"[A-Za-z_][\w']*"  # a Coq identifier (one component of a qualified name)
_IDENT_RE = re.compile(IDENT)


def skip_comment(src: str, i: int) -> int:
    """`i` is at "(*"; returns the index after the matching "*)" (strings inside count)."""
    depth, n = 0, len(src)
    while i < n:
        if src.startswith("(*", i):
            depth, i = depth + 1, i + 2
        elif src.startswith("*)", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        elif src[i] == '"':
            i = skip_string(src, i)
        else:
            i += 1
    raise SentenceError("unterminated comment")


def skip_string(src: str, i: int) -> int:
    """`i` is at a double quote; returns the index after the closing one (``""`` escapes)."""
    i += 1
    while True:
        j = src.find('"', i)
        if j == -1:
            raise SentenceError("unterminated string")
        if src.startswith('""', j):
            i = j + 2
            continue
        return j + 1


def skip_blank(src: str, i: int) -> int:
    """The index of the first character at or after `i` that is neither space nor comment."""
    n = len(src)
    while i < n:
        if src[i].isspace():
            i += 1
        elif src.startswith("(*", i):
            i = skip_comment(src, i)
        else:
            break
    return i


def strip_comments(text: str) -> str:
    """The text without its comments, white space collapsed (for keys and display)."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("(*", i):
            i = skip_comment(text, i)
            out.append(" ")
        elif text[i] == '"':
            j = skip_string(text, i)
            out.append(text[i:j])
            i = j
        else:
            out.append(text[i])
            i += 1
    return " ".join("".join(out).split())


def blank_comments_and_strings(text: str) -> str:
    """`text` with comments and string literals blanked, character positions kept.

    A comment becomes spaces (its newlines kept); a string becomes ``""`` and spaces. An
    unterminated comment or string is blanked to the end (Coq itself refuses the text)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("(*", i):
            try:
                j = skip_comment(text, i)
            except SentenceError:
                j = n
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text[i] == '"':
            try:
                j = skip_string(text, i) - 1  # the closing quote
            except SentenceError:
                j = n
            out.append('""' + " " * max(0, j - i - 1))
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


# -- bullets and braces ------------------------------------------------------------------

BULLETS = "-+*"
BRACES = "{}"
SELECTOR_BRACE_RE = re.compile(r"(?:\d+|\[[\w']+\])\s*:\s*\{")  # 2: {   [x]: {


def focus_end(src: str, i: int) -> int | None:
    """When a bullet or brace sentence starts at `i`, the index after it; else None."""
    if i < len(src) and src[i] in BULLETS:
        j = i
        while j < len(src) and src[j] == src[i]:
            j += 1
        return j
    if i < len(src) and src[i] in BRACES:
        return i + 1
    m = SELECTOR_BRACE_RE.match(src, i)
    return m.end() if m else None


# -- keywords ----------------------------------------------------------------------------

THEOREM_KINDS = frozenset({"Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Property", "Example"})
# what the checker takes as a statement to prove (besides `Goal`)
STATEMENT_KINDS = ("Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Property", "Example",
                   "Definition", "Fixpoint", "CoFixpoint", "Instance", "Let")
FACT_KINDS = frozenset({"Definition", "Fixpoint", "CoFixpoint", "Inductive", "CoInductive", "Variant", "Record",
                        "Structure", "Class", "Instance", "Axiom", "Axioms", "Parameter", "Parameters", "Conjecture",
                        "Notation", "Infix", "Ltac", "Canonical", "Coercion", "Scheme", "Let", "Function", "Existing",
                        "Declare", "Hint", "Variable", "Variables", "Hypothesis", "Hypotheses", "Context", "Tactic",
                        "Reserved"})
NAMED_KINDS = THEOREM_KINDS | {"Definition", "Fixpoint", "CoFixpoint", "Inductive", "CoInductive", "Variant",
                               "Record", "Structure", "Class", "Instance", "Axiom", "Parameter", "Conjecture",
                               "Let", "Function", "Ltac", "Canonical", "Coercion"}
CLOSERS = frozenset({"Qed", "Defined", "Admitted", "Abort", "Save"})  # sentences that end a proof
GIVE_UP_CLOSERS = ("Admitted", "Abort")  # ... without proving it
PROOF_START_RE = re.compile(r"^Proof\b")
PROOF_END_RE = re.compile(r"\b(Qed|Defined)\s*\.\s*$")

ATTRIBUTE = r"#\[[^\]]*\]"  # #[local], #[universes(polymorphic)], ...
# qualifiers a checked statement may carry before its keyword
STATEMENT_QUALIFIERS = ("Local", "Global", "Polymorphic", "Monomorphic", "Program")
# ... and any command (control words such as Time and Fail included)
COMMAND_QUALIFIERS = STATEMENT_QUALIFIERS + ("Private", "Cumulative", "NonCumulative", "Export", "Time", "Fail",
                                             "Succeed")
_STATEMENT_ALT = "|".join(STATEMENT_KINDS)
# (keyword, name) of a statement: one attribute, statement qualifiers, then the keyword
STATEMENT_NAME_RE = re.compile(rf"^\s*(?:{ATTRIBUTE}\s*)?(?:(?:{'|'.join(STATEMENT_QUALIFIERS)})\s+)*"
                               rf"({_STATEMENT_ALT})\s+({IDENT})", re.DOTALL)
GOAL_RE = re.compile(r"^\s*Goal\b", re.DOTALL)
# a statement's head for its key: attributes, any words, the keyword and the (qualified) name
_STATEMENT_HEAD_RE = re.compile(rf"^(?:{ATTRIBUTE}\s*)*(?:\w+\s+)*?(?:{_STATEMENT_ALT})\s+[\w'.]+")
_COMMAND_PREFIX_RE = re.compile(rf"^(?:{ATTRIBUTE}\s*)*((?:(?:{'|'.join(COMMAND_QUALIFIERS)}|"
                                r"Redirect\s+\"[^\"]*\")\s+)*)")
_NAME = re.compile(r"\s*([A-Za-z_][\w'.]*)")
_SCOPE_RE = re.compile(rf"(Module(?:\s+Type)?|Section|End)\s+({IDENT})(.*)$", re.DOTALL)


_WITH_RE = re.compile(r"\bwith\s+(?:Definition|Module)\b")


def _module_body_given(tail: str) -> bool:
    """`Module M ... := N.`: a `:=` beyond those of the `with Definition|Module x := y`
    constraints (`Module F (X : S) <: T with Module E := X.E.` still opens a functor)."""
    return tail.count(":=") > len(_WITH_RE.findall(tail))


def statement_head_removed(text: str) -> str:
    """Comment-free statement text without its head (``Lemma foo``): what it states."""
    return _STATEMENT_HEAD_RE.sub("", text)


def _unqualified(plain: str) -> str:
    return plain[_COMMAND_PREFIX_RE.match(plain).end():]


def command(text: str) -> str:
    """The vernacular command of a sentence: 'Lemma', 'Require', 'Qed', '-' (a bullet)..."""
    plain = strip_comments(text)
    m = _IDENT_RE.match(_unqualified(plain))
    if m and m[0] == "From":  # From X Require ...
        return "Require"
    return m[0] if m else plain[:2].strip()


def defined_name(text: str) -> tuple[str, str] | None:
    """(kind, short name) of a sentence that names something, else None."""
    rest = _unqualified(strip_comments(text))
    kind_match = _IDENT_RE.match(rest)
    if not kind_match or kind_match[0] not in NAMED_KINDS:
        return None
    kind = kind_match[0]
    after = rest[kind_match.end():]
    if kind == "Instance" and after.lstrip().startswith(":"):
        return None  # anonymous instance
    m = _NAME.match(after)
    return (kind, m[1]) if m else None


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
        m = _SCOPE_RE.match(_unqualified(strip_comments(text)))
        if not m:
            return False
        word, name, tail = m.groups()
        if word == "End":
            for i in range(len(self.stack) - 1, -1, -1):
                if self.stack[i][1] == name:
                    del self.stack[i:]
                    break
            return True
        if word.startswith("Module") and _module_body_given(tail):
            return False  # Module M := N. defines, does not open
        self.stack.append(("Section" if word == "Section" else "Module", name))
        return True


# -- what a proof may not contain --------------------------------------------------------

# In a checked proof (comments and strings blanked): escapes, new assumptions, rewinding,
# plugins and extraction, and turning the kernel's checks off.
FORBIDDEN_RE = re.compile(
    r"\b(admit|Admitted|Abort|give_up|Axioms?|Parameters?|Conjectures?|Hypothes[ie]s|Variables?|Context|"
    r"Reset|Back|BackTo|Undo|Restart|Drop|Declare|Extraction|Extract|Load|Require|"
    r"bypass_check|Typing\s+Flags)\b")
UNSAFE_FLAG_RE = re.compile(r"\b(Unset|Set)\s+(Guard|Positivity|Universe)\s+Checking\b")


def forbidden_use(proof: str) -> str | None:
    """The first forbidden word or unsafe flag a proof uses outside comments and strings."""
    clean = blank_comments_and_strings(proof)
    m = UNSAFE_FLAG_RE.search(clean) or FORBIDDEN_RE.search(clean)
    return m.group(0) if m else None


# In one search tactic (the raw sentence, strings and comments included): ending,
# abandoning or cheating the proof anywhere, or a vernacular command that rewinds, adds
# assumptions or changes the environment.
TACTIC_FORBIDDEN_WORDS_RE = re.compile(r"\b(admit|Admitted|Abort|give_up|Qed|Defined|Save)\b")
TACTIC_FORBIDDEN_COMMANDS_RE = re.compile(
    r"^\s*(Undo|Restart|Back|BackTo|Reset|Axiom|Parameter|Hypothesis|Variable|Conjecture|Drop|Quit|Set|Unset"
    r"|Require|Load|Declare|Time|Redirect|Fail|Succeed|Timeout|Local|Global)\b"
)


# -- tactic words ------------------------------------------------------------------------

# Words a Coq tactic starts with: decoding may only start a tactic with one of them
TACTIC_START_WORDS = (
    "intros", "intro", "apply", "eapply", "exact", "destruct", "induction", "case", "elim", "inversion", "simpl",
    "cbn", "unfold", "rewrite", "reflexivity", "symmetry", "transitivity", "split", "left", "right", "exists",
    "constructor", "econstructor", "assumption", "auto", "eauto", "trivial", "easy", "tauto", "intuition",
    "firstorder", "congruence", "discriminate", "injection", "subst", "f_equal", "lia", "ring", "field", "now",
    "assert", "pose", "specialize", "generalize", "revert", "clear", "repeat", "try", "contradiction", "exfalso",
)
# Words that are tactic syntax, not names: no need to ask Coq where they are defined.
_OTHER_SYNTAX_WORDS = """eexact erewrite destruct inversion_clear
eexists fold red compute cbv lazy vm_compute native_compute omega lra nia clearbody dependent set cut change
pattern replace by in at with as using into fun forall let match end if then else do first solve idtac fail
progress absurd decide equality remember case_eq refine sauto hnf instantiate unshelve shelve all Proof Qed
Defined Admitted Abort eq_refl True False and or not Type Prop Set rename move after before only lazymatch
multimatch goal context type of Hint Resolve Immediate core arith zarith setoid_rewrite autorewrite autounfold
info_auto elimtype casetype intuition_solver exact_no_check vm_cast_no_check native_cast_no_check enough epose
eset edestruct einduction cofix fix abstract"""
TACTIC_SYNTAX_WORDS = frozenset(TACTIC_START_WORDS) | frozenset(_OTHER_SYNTAX_WORDS.split())


def starts_with_tactic_word(tactic: str) -> bool:
    """Whether the tactic's first word is one of TACTIC_START_WORDS (a token-level constraint
    on the first token cannot see that "un" went on to "uni_A" instead of "unfold")."""
    match = _IDENT_RE.match(tactic.strip())
    return bool(match) and match.group(0) in TACTIC_START_WORDS

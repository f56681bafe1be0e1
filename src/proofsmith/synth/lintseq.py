"""LintSeq (Piterbarg et al., ICLR'25): programs as sequences of lint-clean insertions.

Backward sampling, one path per call, with the reference's defaults (children per
round 1, top-k 1, population 1, max depth 512, indent bias 1):

    while candidate lines remain:
        pick a line l with P(l) ∝ w(l),  w(l) = 1 at indent 0, else indent(l) / tab_width
        D ← {l} ∪ block_children(l)
        repeat: lint(program − deleted − D); D ← D ∪ error lines ∪ their children
        until the linted state is clean; deleted ← deleted ∪ D

Reversed, the visited states are insertion-only edits from "" to the program. Each edit
is a unified diff with no context (``difflib.unified_diff(n=0)``, 2 header lines dropped)
between the whitespace-stripped states, as pylintseq's `inflate_edit_path` writes them;
the training text is ``instruction + "\\n" + "\\n<|diff|>".join(["", *edits, "", ""])``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np

from .lint_filter import PylintFilter

DIFF_SEPARATOR = "<|diff|>"
MAX_DEPTH = 512
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class EditSequence:
    states: list[str]  # "" first, the program last; each one lint-clean except the program itself
    edits: list[str]  # edits[i] turns states[i] into states[i + 1]


def strip_chain_of_thought(response: str, language: str = "python") -> str:
    """The code blocks of a Markdown answer, joined; the answer itself if it has none."""
    fence = f"```{language}"
    chunks, rest = [], response
    while fence in rest:
        rest = rest[rest.find(fence) + len(fence):]
        chunks.append(rest[: rest.find("```")])
        rest = rest[rest.find("```") + 3:]
    return "\n".join(chunks).strip() if chunks else response


def candidate_lines(lines: list[str]) -> list[int]:
    """Lines that may be picked: not blank, not comments, not inside an UPPER = ( / [ literal."""
    candidates, open_kind = [], None
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if not stripped or stripped[0] == "#":
            continue
        if open_kind is None:
            candidates.append(i)
            name = line[: line.find("=")].replace(" ", "")
            if "=" in line and name.isupper() and line.rstrip()[-1] in "([":
                open_kind = line.rstrip()[-1]
        elif line.rstrip()[-1] == {"(": ")", "[": "]"}[open_kind]:
            open_kind = None
    return candidates


def line_indents(lines: list[str]) -> tuple[list[int], int | None]:
    """Indent of each line (a line of at most one visible character keeps the one before)
    and the tab width: the first positive indent."""
    indents, indent, tab_width = [], 0, None
    for line in lines:
        if len(line.lstrip()) > 1:
            indent = len(line) - len(line.lstrip())
        indents.append(indent)
        if tab_width is None and indent > 0:
            tab_width = indent
    return indents, tab_width


def sampling_weights(lines: list[str], candidates: list[int], indent_bias: float = 1.0) -> np.ndarray:
    indents, tab_width = line_indents(lines)
    weights = np.zeros(len(lines))
    for i in candidates:
        weights[i] = 1.0 if indents[i] == 0 else indents[i] / tab_width * indent_bias
    return weights


def block_children(target: int, indents: list[int]) -> list[int]:
    """The lines after `target` indented deeper than it, up to the first that is not."""
    children = []
    for i in range(target + 1, len(indents)):
        if indents[i] <= indents[target]:
            break
        children.append(i)
    return children


def induced_deletion(
    picked: int, deleted: set[int], lines: list[str], indents: list[int], lint: PylintFilter
) -> set[int] | None:
    """Delete `picked` with its block, then every line the linter blames, until clean."""
    step: set[int] = set()
    affected = [picked]
    while affected:
        for line in list(affected):
            affected += [c for c in block_children(line, indents) if c not in step and c not in affected]
        step.update(affected)
        remaining = [i for i in range(len(lines)) if i not in deleted and i not in step]
        errors = lint.errors("\n".join(lines[i] for i in remaining))
        if not errors:
            return step
        if not remaining:
            return None  # an error no deletion can remove
        # pylintseq maps error line L to remaining[L - 1]; line 0 or one past the end
        # land on the last line (the reference's negative index; it would crash past the end)
        affected = []
        for error in errors:
            index = int(error.line) - 1 if error.line.isdigit() else -1
            affected.append(remaining[index if 0 <= index < len(remaining) else -1])
        affected = list(dict.fromkeys(affected))
    return step


def sample_deletion_path(program: str, lint: PylintFilter, rng: np.random.Generator) -> list[set[int]] | None:
    """One backward-sampled path: the set of line indices deleted at each step."""
    lines = program.split("\n")
    remaining = candidate_lines(lines)
    if not remaining:
        return None
    weights = sampling_weights(lines, remaining)
    indents, _ = line_indents(lines)
    deleted: set[int] = set()
    path = []
    while remaining and len(path) < MAX_DEPTH:
        w = weights[remaining]
        picked = int(rng.choice(remaining, p=w / w.sum()))
        step = induced_deletion(picked, deleted, lines, indents, lint)
        if step is None:
            return None
        path.append(step)
        deleted |= step
        remaining = [i for i in remaining if i not in step]
    return path


def diff(before: str, after: str) -> str:
    """pylintseq's `get_diff`: no context, headers dropped, states stripped first."""
    hunks = difflib.unified_diff(before.strip().splitlines(), after.strip().splitlines(), n=0, lineterm="")
    return "\n".join(line for i, line in enumerate(hunks) if i > 1)


def apply_diff(text: str, edit: str) -> str:
    """Replay one n=0 unified diff (as `diff` writes it) on the stripped `text`."""
    old = text.strip().splitlines()
    new, cursor = [], 0
    rows = edit.split("\n")
    i = 0
    while i < len(rows):
        match = _HUNK.match(rows[i])
        if not match:
            raise ValueError(f"not a hunk header: {rows[i]!r}")
        start, length = int(match.group(1)), int(match.group(2) or 1)
        first = start if length == 0 else start - 1  # a pure insertion goes after line `start`
        new += old[cursor:first]
        cursor = first + length
        i += 1
        while i < len(rows) and not _HUNK.match(rows[i]):
            if rows[i].startswith("+"):
                new.append(rows[i][1:])
            i += 1
    new += old[cursor:]
    return "\n".join(new)


def replay(edits: list[str]) -> str:
    text = ""
    for edit in edits:
        text = apply_diff(text, edit)
    return text


def edit_sequence(program: str, path: list[set[int]]) -> EditSequence:
    """States from "" to the program (stripped, as the diffs see them) and the edits between."""
    lines = program.split("\n")
    backward, deleted = [program], set()
    for step in path:
        deleted |= step
        backward.append("\n".join(line for i, line in enumerate(lines) if i not in deleted))
    backward.append("")
    states, edits = [""], []
    for state in reversed(backward):
        edit = diff(states[-1], state)
        if edit:  # the reference drops empty diffs (states equal up to surrounding blanks)
            states.append(state.strip())
            edits.append(edit)
    return EditSequence(states=states, edits=edits)


def training_text(instruction: str, edits: list[str]) -> str:
    """The reference's format (the tokenizer's EOS is added at training time)."""
    return instruction + "\n" + ("\n" + DIFF_SEPARATOR).join(["", *edits, "", ""])


def lintseq(program: str, lint: PylintFilter, rng: np.random.Generator) -> EditSequence | None:
    """One LintSeq edit sequence for `program` (None when sampling fails, as the reference)."""
    path = sample_deletion_path(program, lint, rng)
    return None if path is None else edit_sequence(program, path)

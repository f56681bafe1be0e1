"""Split Coq source into sentences, the units Coq's `Add` takes, with their positions.

A sentence ends at a ``.`` followed by white space or the end of the file (so
``Nat.add``, ``1.5`` and ``[t | .. ]`` do not end one, and ``auto...`` ends after
the last dot). Comments ``(* .. *)`` nest and may hold strings; strings ``".."`` escape ``"``
as ``""``. At the start of a sentence, bullets (``-``, ``+``, ``*``, repeated) and
braces (``{``, ``}``, ``2: {``, ``[x]: {``) are sentences of their own. These lexer
rules live in `syntax`, with Coq's other syntax rules.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from .syntax import SentenceError, focus_end, skip_blank, skip_comment, skip_string, strip_comments

__all__ = ["Sentence", "SentenceError", "split_sentences", "strip_comments"]


@dataclass(frozen=True)
class Sentence:
    text: str  # exactly as in the file (inner comments kept)
    start: int  # character offsets in the file, end exclusive
    end: int
    line: int  # 1-based line and column of the first and last character + 1
    column: int
    end_line: int
    end_column: int

    @property
    def span(self) -> tuple[int, int, int, int]:
        return (self.line, self.column, self.end_line, self.end_column)


def _sentence_end(src: str, i: int) -> int:
    """`i` is at the first character of a sentence; returns the index after its end."""
    n = len(src)
    focus = focus_end(src, i)  # a bullet or a brace is a sentence of its own
    if focus is not None:
        return focus
    while i < n:
        c = src[i]
        if src.startswith("(*", i):
            i = skip_comment(src, i)
        elif c == '"':
            i = skip_string(src, i)
        elif c == ".":
            j = i
            while j < n and src[j] == ".":
                j += 1
            if j - i != 2 and (j == n or src[j].isspace()):  # "..", as in [tac | .. ], never ends one
                return j
            i = j
        else:
            i += 1
    raise SentenceError("the last sentence has no final '.'")


def split_sentences(src: str) -> list[Sentence]:
    """Every sentence of `src`, in order, with 1-based line/column spans."""
    line_starts = [0] + [m.end() for m in re.finditer("\n", src)]

    def where(offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(line_starts, offset)
        return line, offset - line_starts[line - 1] + 1

    out: list[Sentence] = []
    i = skip_blank(src, 0)
    while i < len(src):
        end = _sentence_end(src, i)
        (l0, c0), (l1, c1) = where(i), where(end - 1)
        out.append(Sentence(src[i:end], i, end, l0, c0, l1, c1 + 1))
        i = skip_blank(src, end)
    return out

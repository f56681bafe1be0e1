"""Split Coq source into sentences, the units Coq's `Add` takes, with their positions.

A sentence ends at a ``.`` followed by white space or the end of the file (so
``Nat.add``, ``1.5`` and ``[t | .. ]`` do not end one, and ``auto...`` ends after
the last dot). Comments ``(* .. *)`` nest and may hold strings; strings ``".."`` escape ``"``
as ``""``. At the start of a sentence, bullets (``-``, ``+``, ``*``, repeated) and
braces (``{``, ``}``, ``2: {``, ``[x]: {``) are sentences of their own.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass


class SentenceError(ValueError):
    """Source that cannot be split (an unterminated comment or string)."""


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


_SELECTOR_BRACE = re.compile(r"(?:\d+|\[[\w']+\])\s*:\s*\{")


def _skip_comment(src: str, i: int) -> int:
    """`i` is at "(*"; returns the index after the matching "*)"."""
    depth, n = 0, len(src)
    while i < n:
        if src.startswith("(*", i):
            depth, i = depth + 1, i + 2
        elif src.startswith("*)", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        elif src[i] == '"':
            i = _skip_string(src, i)
        else:
            i += 1
    raise SentenceError("unterminated comment")


def _skip_string(src: str, i: int) -> int:
    """`i` is at a double quote; returns the index after the closing one."""
    i += 1
    while True:
        j = src.find('"', i)
        if j == -1:
            raise SentenceError("unterminated string")
        if src.startswith('""', j):
            i = j + 2
            continue
        return j + 1


def _skip_blank(src: str, i: int) -> int:
    n = len(src)
    while i < n:
        if src[i].isspace():
            i += 1
        elif src.startswith("(*", i):
            i = _skip_comment(src, i)
        else:
            break
    return i


def _sentence_end(src: str, i: int) -> int:
    """`i` is at the first character of a sentence; returns the index after its end."""
    n = len(src)
    if src[i] in "-+*":
        j = i
        while j < n and src[j] == src[i]:
            j += 1
        return j
    if src[i] in "{}":
        return i + 1
    m = _SELECTOR_BRACE.match(src, i)
    if m:
        return m.end()
    while i < n:
        c = src[i]
        if src.startswith("(*", i):
            i = _skip_comment(src, i)
        elif c == '"':
            i = _skip_string(src, i)
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
    i = _skip_blank(src, 0)
    while i < len(src):
        end = _sentence_end(src, i)
        (l0, c0), (l1, c1) = where(i), where(end - 1)
        out.append(Sentence(src[i:end], i, end, l0, c0, l1, c1 + 1))
        i = _skip_blank(src, end)
    return out


def strip_comments(text: str) -> str:
    """The sentence without its comments, white space collapsed (for keys and display)."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("(*", i):
            i = _skip_comment(text, i)
            out.append(" ")
        elif text[i] == '"':
            j = _skip_string(text, i)
            out.append(text[i:j])
            i = j
        else:
            out.append(text[i])
            i += 1
    return " ".join("".join(out).split())

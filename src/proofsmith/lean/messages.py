"""Lean's messages, from either place they come: the command line and the REPL.

The command line (`lean FILE`, `lake env lean FILE`) prints each message as
``FILE:LINE:COL: SEVERITY: TEXT`` (severity `error`, `warning` or `info`; the text may run
over several lines, up to the next header); older toolchains print `info` messages with no
header at all (they land in the text of no message: `unheaded`). With `--json` each
message is one JSON object per line, the REPL's shape: ``{"severity", "pos": {"line",
"column"}, "endPos", "data"}``. Lines are 1-based, columns 0-based, as Lean counts them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_HEADER_RE = re.compile(r"^(?P<file>[^\n:]+(?::[\\/][^\n:]*)?):(?P<line>\d+):(?P<col>\d+): "
                        r"(?P<severity>error|warning|info|information)(?:\([^)\n]*\))?: ?", re.MULTILINE)


@dataclass(frozen=True)
class Message:
    severity: str  # "error", "warning" or "info"
    line: int
    column: int
    text: str
    end_line: int | None = None
    end_column: int | None = None
    file: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.severity}: {self.text}"


def from_repl(message: dict) -> Message:
    """One message of a REPL reply (or one line of `lean --json`)."""
    pos, end = message.get("pos") or {}, message.get("endPos") or {}
    severity = message.get("severity", "error")
    return Message("info" if severity == "information" else severity, int(pos.get("line", 0)),
                   int(pos.get("column", 0)), str(message.get("data", "")),
                   end.get("line"), end.get("column"), message.get("fileName", ""))


@dataclass(frozen=True)
class Output:
    messages: list[Message]
    unheaded: str  # text before the first header (old toolchains' info messages, lake's own lines)

    @property
    def errors(self) -> list[Message]:
        return [m for m in self.messages if m.is_error]


def parse_output(output: str) -> Output:
    """Every message of what `lean` printed, in order (JSON lines and headed text both)."""
    messages: list[Message] = []
    loose: list[str] = []
    text_lines: list[str] = []
    for line in output.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("{") and stripped.endswith("}") and '"severity"' in stripped:
            try:
                messages.append(from_repl(json.loads(stripped)))
                continue
            except (ValueError, TypeError, AttributeError):
                pass
        text_lines.append(line)
    text = "".join(text_lines)
    heads = list(_HEADER_RE.finditer(text))
    loose.append(text[:heads[0].start()] if heads else text)
    for h, nxt in zip(heads, heads[1:] + [None]):
        body = text[h.end():nxt.start() if nxt else len(text)].rstrip("\n")
        severity = "info" if h.group("severity") == "information" else h.group("severity")
        messages.append(Message(severity, int(h.group("line")), int(h.group("col")), body, file=h.group("file")))
    return Output(messages, "".join(loose).strip())

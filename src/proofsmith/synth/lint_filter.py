"""The LintSeq error filter: pylintseq's exact rule, run in-process on a reused linter.

pylintseq (the LintSeq authors' reference) lints every state by calling
``pylint.run_pylint(["--disable=C,R", ..., "--msg-template={C}|{msg_id}|{line}|{column}|{msg}", FILE])``
on a temporary file and counts every reported line except W messages other than
W0311 (bad-indentation) and W0231 (super-init-not-called). Building a linter, loading
every checker and discovering the file costs ~45 ms a call; the check itself a few ms.

`PylintFilter` makes the same linter once (same options), keeps the checkers open
and the AST walker built, and feeds each state as a string. Only messages the rule
counts are enabled, so checkers that could only emit ignored W messages never run.
Reports go through the same template and the same parsing as the reference
(`parse_report`), quirks included (a message with a ``|`` in it is not counted;
for a syntax error "... on line N" the error is put on line N). Results are
memoised by program text: the filter is a pure function of the text.
"""

from __future__ import annotations

import os
import tempfile
from typing import NamedTuple

from ..core import ProofsmithError

# The reference's command line (pylintseq.utils.file_linter), minus the file.
REFERENCE_ARGS = (
    "--disable=C,R",
    "--reports=n",
    "--score=n",
    "--unsafe-load-any-extension=y",
    "--generated-members=cv2.*",
    "--msg-template={C}|{msg_id}|{line}|{column}|{msg}",
)
COUNTED_WARNINGS = ("W0311", "W0231")  # treated as errors by the reference
_MODULE_NAME = "lintseq_state"
MEMO_SIZE = 20_000


class LintError(NamedTuple):
    msg_id: str
    line: str  # as the reference keeps it: the text of the line number
    column: str
    msg: str


def parse_report(report: str) -> list[LintError]:
    """pylintseq's parsing of pylint's output, verbatim in effect."""
    errors = []
    for row in report.split("\n"):
        parts = row.split("|")
        if len(parts) != 5:
            continue
        category, msg_id, line, column, msg = parts
        if category == "W" and msg_id not in COUNTED_WARNINGS:
            continue
        if msg_id == "E0001" and "on line" in msg:
            line = msg[: msg.rfind("(")].rstrip().split(" ")[-1]
        errors.append(LintError(msg_id, line, column, msg))
    return errors


def counted_message_ids(linter) -> set[str]:
    """Messages the reference configuration emits and its parsing counts."""
    counted = set()
    for message in linter.msgs_store.messages:
        if not linter.is_message_enabled(message.msgid):
            continue
        if message.msgid[0] == "W" and message.msgid not in COUNTED_WARNINGS:
            continue
        counted.add(message.msgid)
    return counted


class PylintFilter:
    """`errors(text)` returns what pylintseq's `file_linter` would for `text` in a file."""

    def __init__(self) -> None:
        try:
            from pylint.lint import PyLinter, Run
            from pylint.reporters import CollectingReporter
        except ImportError:
            raise ProofsmithError("LintSeq needs pylint: pip install 'proofsmith[lintseq]'") from None
        if not all(hasattr(PyLinter, name) for name in ("_astroid_module_checker", "_lint_file", "get_ast")):
            raise ProofsmithError("this pylint version lacks the linter internals PylintFilter reuses (tested: 3.x, 4.x)")

        self._reporter = CollectingReporter()
        # Run builds and configures the linter exactly as the reference's call does; it
        # refuses to run without a file, so it lints an empty one once.
        with tempfile.TemporaryDirectory() as empty_dir:
            empty = os.path.join(empty_dir, "empty.py")
            open(empty, "w").close()
            run = Run([*REFERENCE_ARGS, empty], reporter=self._reporter, exit=False)
        linter = run.linter
        counted = counted_message_ids(linter)
        linter.disable("all")
        for msgid in sorted(counted):
            linter.enable(msgid)
        linter.initialize()
        linter.open()
        self.linter = linter
        self.counted = frozenset(counted)
        self._path = os.path.join(tempfile.gettempdir(), _MODULE_NAME + ".py")
        self._checker_context = linter._astroid_module_checker()
        self._check_module = self._checker_context.__enter__()
        self._memo: dict[str, tuple[LintError, ...]] = {}
        self.calls = 0  # pylint runs (memo misses)

    def errors(self, text: str) -> list[LintError]:
        hit = self._memo.get(text)
        if hit is None:
            if len(self._memo) >= MEMO_SIZE:  # hits come from the K paths of one program: recent states
                self._memo.clear()
            hit = self._memo[text] = tuple(parse_report(self._report(text)))
            self.calls += 1
        return list(hit)

    def is_clean(self, text: str) -> bool:
        return not self.errors(text)

    def _report(self, text: str) -> str:
        import astroid
        from pylint.lint.pylinter import FileItem

        linter = self.linter
        self._reporter.messages.clear()
        linter.set_current_module(_MODULE_NAME, self._path)
        try:
            module = linter.get_ast(self._path, _MODULE_NAME, text)
            if module is not None:
                linter._lint_file(FileItem(_MODULE_NAME, self._path, _MODULE_NAME), module, self._check_module)
        except astroid.AstroidError as exc:  # the reference reports these as a fatal message too
            linter.add_message("astroid-error", args=(self._path, str(exc)))
        finally:
            astroid.MANAGER.astroid_cache.pop(_MODULE_NAME, None)
        return "\n".join(
            f"{m.C}|{m.msg_id}|{m.line}|{m.column}|{m.msg}" for m in self._reporter.messages
        )

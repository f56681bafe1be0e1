"""Checkers: every candidate is verified by the real tool inside a sandbox.

`get_checker(kind)` gives the checker for a task kind; each has
`check(task, candidate) -> Verdict`.
"""

from __future__ import annotations

from ..core import ProofsmithError
from .sandbox import Limits, RunResult, Sandbox, get_sandbox  # noqa: F401


def get_checker(kind: str, sandbox: Sandbox | None = None, timeout: float | None = None):
    if kind == "python":
        from .python import PythonChecker

        checker = PythonChecker(sandbox)
    elif kind == "coq":
        from .coq import CoqChecker

        checker = CoqChecker(sandbox)
    else:
        raise ProofsmithError(f"no checker for task kind {kind!r} here (python and coq are checked)")
    if timeout:
        checker.limits = Limits(**{**checker.limits.__dict__, "wall_s": timeout, "cpu_s": timeout})
    return checker

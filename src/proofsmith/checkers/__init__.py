"""Checkers: every candidate is verified by the real tool inside a sandbox.

One module per task kind (python.py, coq.py, ...), each registered in `core.CHECKERS`;
`get_checker(kind)` gives the checker for a kind, with `check(task, candidate) -> Verdict`.
"""

from __future__ import annotations

from ..core import Checker, check_many, get_checker  # noqa: F401
from .sandbox import Limits, RunResult, Sandbox, get_sandbox  # noqa: F401

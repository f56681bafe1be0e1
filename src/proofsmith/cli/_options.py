"""The checks a command makes of its options before it starts: one line and exit 2 on a bad one.

Each command calls these once, at its top, for all its options (keyword names are the
options' names: ``held_out`` is ``--held-out``); an option not given (None) passes.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..core import ProofsmithError


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _finite(name: str, value: float) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ProofsmithError(f"{_flag(name)} must be a finite number, got {value}")


def positive(**options: float | None) -> None:
    """Counts, sizes, budgets and timeouts: above 0."""
    for name, value in options.items():
        if value is not None:
            _finite(name, value)
            if not value > 0:
                raise ProofsmithError(f"{_flag(name)} must be positive, got {value}")


def at_least(minimum: float, **options: float | None) -> None:
    """Where `minimum` still means something (0 rounds, temperature 0 = greedy, seeds from 0)."""
    for name, value in options.items():
        if value is not None:
            _finite(name, value)
            if not value >= minimum:
                raise ProofsmithError(f"{_flag(name)} must be at least {minimum}, got {value}")


def fraction(**options: float | None) -> None:
    """Shares and probabilities: between 0 and 1."""
    for name, value in options.items():
        if value is not None and not 0 <= value <= 1:
            raise ProofsmithError(f"{_flag(name)} must be between 0 and 1, got {value}")


def _parent_is_a_directory(path: Path, flag: str) -> None:
    for parent in path.parents:  # the nearest one that exists must be a directory to write under
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise ProofsmithError(f"{flag} {path}: {parent} is not a directory")
            return


def output_file(path: str | Path | None, flag: str = "--out") -> None:
    """A file the command writes (results JSONL): not a directory, and somewhere a file can go."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise ProofsmithError(f"{flag} {path} is a directory; give a file path")
    _parent_is_a_directory(path, flag)


def output_dir(path: str | Path | None, flag: str = "--out") -> None:
    """A directory the command writes into: not an existing file, and somewhere a directory can go."""
    if path is None:
        return
    path = Path(path)
    if (path.exists() or path.is_symlink()) and not path.is_dir():
        raise ProofsmithError(f"{flag} {path} is a file, not a directory; use another --out")
    _parent_is_a_directory(path, flag)

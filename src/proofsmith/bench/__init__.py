"""Benchmarks: `proofsmith bench NAME` runs module NAME here.

Each module defines ``run(quick: bool) -> dict`` that measures ours and the baseline
side by side in the same run, prints a readable table as it goes, and returns the
figures (ratios included); the CLI prints them as one JSON line with --json.
"""

from __future__ import annotations

import importlib
import pkgutil


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def run(name: str, quick: bool = False) -> dict:
    from ..core import ProofsmithError

    if name not in names():
        raise ProofsmithError(f"unknown benchmark {name!r}; available: {', '.join(names()) or 'none'}")
    return importlib.import_module(f"{__name__}.{name}").run(quick=quick)

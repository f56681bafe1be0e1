"""Where proofsmith keeps what it makes at run time (never inside the repository)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """$PROOFSMITH_CACHE, else $XDG_CACHE_HOME/proofsmith, else ~/.cache/proofsmith."""
    root = os.environ.get("PROOFSMITH_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "proofsmith")
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path

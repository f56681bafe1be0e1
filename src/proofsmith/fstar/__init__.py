"""Talking to F*: `ide.py` (the `fstar.exe --ide` JSON-lines client), `syntax.py` (the F* rules the
checker applies: comments, definitions, escapes, headers, the dataset's scaffold), `z3.py` (Z3 at the
version F* asks for, from the `z3-solver` wheel)."""

from .ide import FStarDied, FStarError, FStarIde, FStarTimeout, Issue, Range, Response  # noqa: F401

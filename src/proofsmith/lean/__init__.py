"""Talking to Lean 4: the REPL's JSON protocol (`repl.py`), Lean's messages (`messages.py`)
and every Lean syntax rule the checker and the session use (`syntax.py`)."""

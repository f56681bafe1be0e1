"""Talking to Coq: the coqidetop XML protocol client, the sentence splitter, goal states,
and Coq's syntax rules (`syntax`: comments, keywords, forbidden commands)."""

from .goals import Goal, Goals, Hypothesis
from .idetop import CoqDied, CoqError, CoqIdeTop, CoqTimeout

__all__ = ["CoqDied", "CoqError", "CoqIdeTop", "CoqTimeout", "Goal", "Goals", "Hypothesis"]

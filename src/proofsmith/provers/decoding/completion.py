"""The one completion type: what every decoding method returns, whatever the method.

`complete` (the engine's text level), sampling, beam and diverse beam search, tactic
generators and whole-proof samplers all give `Completion`s; search scores them by
`logprob`, and `candidate()` turns one into the `core.Candidate` a checker judges,
with how it was made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...core import Candidate


@dataclass(frozen=True)
class Completion:
    text: str  # the continuation, cut before the first stop string
    logprob: float = 0.0  # sum of the model's token log-probabilities (untempered, unpenalised)
    token_ids: tuple[int, ...] = ()  # up to and including the token that completed a stop
    finished: bool = True  # False when it ran into max_new_tokens
    token_logprobs: tuple[float, ...] = ()  # per token, where the method keeps them

    @property
    def tokens(self) -> int:
        return len(self.token_ids)

    def candidate(self, task_id: str, model: str = "", decoding: Mapping[str, Any] | None = None,
                  seconds: float | None = None, text: str | None = None) -> Candidate:
        """The Candidate for a checker, with how it was made; `text` overrides (e.g. a cleaned proof)."""
        return Candidate(task_id=task_id, text=self.text if text is None else text, model=model,
                         decoding=dict(decoding or {}), logprob=self.logprob, tokens=self.tokens, seconds=seconds)


def with_text(completion: Completion, text: str) -> Completion:
    """The same completion with its text rewritten (cleaned tactics, proofs)."""
    from dataclasses import replace

    return replace(completion, text=text)


__all__ = ["Completion", "with_text"]

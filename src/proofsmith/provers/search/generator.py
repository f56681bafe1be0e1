"""From a proof state (or a theorem) to candidate tactics (or whole proofs) with a model.

`TacticGenerator` is what best-first search calls: state text in, de-duplicated tactics
with their log-probabilities out, best first. `ProofSampler` writes whole proofs for
pass@N sampling. Both take an optional premise index whose top-k hits join the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..decoding import strategies
from ..decoding.completion import Completion, with_text
from . import prompts

METHODS = ("sample", "beam", "diverse")


@dataclass(frozen=True)
class DecodingConfig:
    method: str = "beam"  # sample | beam | diverse
    num: int = 8  # samples or beams per call
    temperature: float = 1.0  # sampling
    top_p: float = 0.95  # sampling
    groups: int = 4  # diverse beam search
    diversity_penalty: float = 1.0  # diverse beam search
    max_new_tokens: int = 32

    def __post_init__(self) -> None:
        from ...core import ProofsmithError

        if self.method not in METHODS:
            raise ProofsmithError(f"unknown decoding method {self.method!r} (one of {', '.join(METHODS)})")
        if self.method == "diverse" and self.num % self.groups:
            raise ProofsmithError(f"--num {self.num} must be a multiple of --groups {self.groups}")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def generate(
    lm, prompt: str, config: DecodingConfig, stop=("\n",), first_mask=None
) -> list[Completion]:
    """Run one decoding method: the single place that dispatches on the method's name."""
    common = {"max_new_tokens": config.max_new_tokens, "stop": stop, "first_mask": first_mask}
    if config.method == "sample":
        return strategies.sample(lm, prompt, config.num, config.temperature, config.top_p, **common)
    if config.method == "beam":
        return strategies.beam_search(lm, prompt, config.num, **common)
    return strategies.diverse_beam_search(lm, prompt, config.num, config.groups, config.diversity_penalty, **common)


@dataclass
class TacticGenerator:
    lm: Any  # models.LoadedModel
    config: DecodingConfig = field(default_factory=DecodingConfig)
    premises: Any = None  # retrieval.PremiseIndex, or None for no retrieval
    premises_k: int = 4
    tokens: int = 0  # tokens generated so far (for the run's accounting)
    constrained: bool = True  # a tactic must start with a tactic word (prompts.TACTIC_WORDS)

    def __call__(self, state: str) -> list[Completion]:
        hits = self.premises.retrieve(state, self.premises_k) if self.premises is not None else []
        prompt = prompts.tactic_prompt(state, [p.code for p in hits])
        if self.constrained and not hasattr(self, "_mask"):
            self._mask = strategies.first_token_mask(self.lm, prompts.TACTIC_WORDS)
        raw = generate(self.lm, prompt, self.config, stop=("\n",),
                       first_mask=self._mask if self.constrained else None)
        self.tokens += sum(g.tokens for g in raw)
        best: dict[str, Completion] = {}
        for g in raw:
            text = prompts.clean_tactic(g.text)
            if self.constrained and not prompts.starts_with_tactic_word(text):
                continue
            if g.finished and text and (text not in best or best[text].logprob < g.logprob):
                best[text] = with_text(g, text)
        return sorted(best.values(), key=lambda g: -g.logprob)


@dataclass
class ProofSampler:
    """Whole proofs for a statement: n samples, duplicates kept (pass@N counts samples)."""

    lm: Any
    config: DecodingConfig = field(default_factory=lambda: DecodingConfig(method="sample", num=8, max_new_tokens=96))
    premises: Any = None
    premises_k: int = 4
    tokens: int = 0

    def __call__(self, statement: str) -> list[Completion]:
        hits = self.premises.retrieve(statement, self.premises_k) if self.premises is not None else []
        prompt = prompts.proof_prompt(statement, [p.code for p in hits])
        raw = generate(self.lm, prompt, self.config, stop=("Qed.", "\n"))
        self.tokens += sum(g.tokens for g in raw)
        return [with_text(g, prompts.clean_proof(g.text)) for g in raw]

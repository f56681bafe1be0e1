"""From a proof state (or a theorem) to candidate tactics (or whole proofs) with a model.

`TacticGenerator` is what best-first search calls: state text in, de-duplicated tactics
with their log-probabilities out, best first. `ProofSampler` writes whole proofs for
pass@N sampling. Both take an optional premise index whose top-k hits join the prompt.
"""

from __future__ import annotations

import threading
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
    seed: int | None = None  # sampling: the seed of this search's generator (attempts differ by it)
    cache: dict[str, list[Completion]] = field(default_factory=dict)  # suggestions per state, this seed's
    deadline: float | None = None  # time.monotonic() after which sampling stops (what it has so far counts)
    stopping: threading.Event = field(default_factory=threading.Event)  # cancel(): a call in flight ends

    def _prompt(self, state: str) -> str:
        hits = self.premises.retrieve(state, self.premises_k) if self.premises is not None else []
        return prompts.tactic_prompt(state, [p.code for p in hits])

    def __call__(self, state: str) -> list[Completion]:
        return self.batch([state])[0]

    def cancel(self) -> None:
        """End a sampling call in flight (from another thread) at its next decoding step."""
        self.stopping.set()

    def batch(self, states: list[str]) -> list[list[Completion]]:
        """Tactics for several states. Sampling decodes all their prompts in one engine call
        (continuous batching, the few-shot prefix prefilled once from the prefix store); beam
        methods decode state by state. States asked before (same text) come from the cache."""
        todo = [s for s in dict.fromkeys(states) if s not in self.cache]
        if todo and self.config.method == "sample":
            for state, raw in zip(todo, self._sample_many(todo)):
                self.cache[state] = self._clean(raw)
        for state in todo if self.config.method != "sample" else ():
            if self.constrained and not hasattr(self, "_mask"):
                self._mask = strategies.first_token_mask(self.lm, prompts.TACTIC_WORDS)
            raw = generate(self.lm, self._prompt(state), self.config, stop=("\n",),
                           first_mask=self._mask if self.constrained else None)
            self.cache[state] = self._clean(raw)
        return [self.cache[s] for s in states]

    def _sample_many(self, states: list[str]) -> list[list[Completion]]:
        """`num` samples per state, every state's rows in one engine stream (each prompt prefilled
        once, its few-shot prefix from the prefix store); constrained, a row's first token is drawn
        under the tactic-word mask (as `strategies.sample`). At `deadline` or `cancel()` every row
        ends at its next step, unfinished rows are dropped (a search's wall budget holds while
        the model decodes)."""
        import time

        import torch

        from ..decoding.engine import cut, stop_rule, stream

        n, tok = self.config.num, self.lm.tokenizer
        ids = [tok(self._prompt(s), add_special_tokens=False).input_ids for s in states]
        generator = torch.Generator().manual_seed(self.seed if self.seed is not None else 0)
        if self.constrained and not hasattr(self, "_mask"):
            self._mask = strategies.first_token_mask(self.lm, prompts.TACTIC_WORDS)
        eos, stop_text = stop_rule(tok, ("\n",))

        def stop_fn(tokens: list[int]) -> bool:
            return (self.stopping.is_set() or (self.deadline is not None and time.monotonic() > self.deadline)
                    or (stop_text is not None and stop_text(tokens)))

        rows = stream(self.lm.model, [ids[i // n] for i in range(len(ids) * n)], self.config.max_new_tokens,
                      temperature=self.config.temperature, top_p=self.config.top_p, eos_token_id=eos,
                      generator=generator, pad_token_id=tok.pad_token_id or 0, stop_fn=stop_fn,
                      first_mask=self._mask if self.constrained else None)
        found: list[list[Completion]] = [[] for _ in states]
        with torch.no_grad():
            for row in rows:
                found[row.index // n].append(cut(tok, list(row.tokens), list(row.logprobs), ("\n",)))
        return found

    def _clean(self, raw: list[Completion]) -> list[Completion]:
        """Cleaned, de-duplicated tactics (each with its best log-probability), best first."""
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

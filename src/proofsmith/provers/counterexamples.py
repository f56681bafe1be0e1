"""Generator programs a model proposes for REFUTE's counterexample search.

`ModelProposer(model)` is the `propose` callable that checkers/refute/search.py asks
once its cheaper sources (the example, small exhaustive inputs, the user's generators)
are spent; every input a proposed generator prints is still judged by the runner.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..checkers.refute.runner import Program, RefuteProblem

_MODEL_LOCK = threading.Lock()
PROMPT = """Write a Python program that prints one random valid input for this problem.
Read the seed from sys.argv[1]. Print only the input.

{statement}

Input format:
{input_format}

Example input:
{example}
"""


@dataclass(frozen=True)
class ModelProposer:
    """`n` sampled generator programs from a causal LM (the offline default when model is None)."""

    model: str | None = None

    def __call__(self, problem: RefuteProblem, n: int, max_new_tokens: int = 160) -> list[Program]:
        from .decoding.models import cached_model

        with _MODEL_LOCK:  # workers share one model; loading or generating twice at once gains nothing on a CPU
            return _propose(problem, cached_model(self.model), n, max_new_tokens)


def _propose(problem: RefuteProblem, loaded, n: int, max_new_tokens: int) -> list[Program]:
    import torch

    from .decoding.engine import complete

    tok = loaded.tokenizer
    prompt = PROMPT.format(statement=problem.statement[:2000], input_format=problem.input_format[:1000],
                           example=problem.example_input[:500])
    if getattr(tok, "chat_template", None):
        prompt = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)
    prefix = "```python\nimport random, sys\nrandom.seed(int(sys.argv[1]))\n"
    ids = tok(prompt + prefix)["input_ids"]
    outs = complete(loaded, [ids] * n, max_new_tokens, temperature=0.8, top_p=0.95, stop=("```",),
                    generator=torch.Generator(device=loaded.device).manual_seed(0))
    return [Program(code=prefix.split("\n", 1)[1] + c.text, lang="python") for c in outs]

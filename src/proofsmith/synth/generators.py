"""Text generators for the synth loops: a causal LM (any HF model or the offline default)."""

from __future__ import annotations


class ModelGenerator:
    """Samples answers from a chat model through proofsmith's decoding engine."""

    def __init__(self, spec: str | None = None, max_new_tokens: int = 320) -> None:
        from ..provers.decoding.models import cached_model

        self.loaded = cached_model(spec)
        self.name = self.loaded.name
        self.max_new_tokens = max_new_tokens

    def _prompt_ids(self, prompt: str) -> list[int]:
        tokenizer = self.loaded.tokenizer
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                                 add_generation_prompt=True)
            return tokenizer(text, add_special_tokens=False)["input_ids"]
        return tokenizer(prompt)["input_ids"]

    def generate(self, prompt: str, n: int, temperature: float, seed: int) -> list[str]:
        import torch

        from ..provers.decoding.engine import complete

        generator = torch.Generator(device=self.loaded.device).manual_seed(seed)
        outs = complete(self.loaded, [self._prompt_ids(prompt)] * n, self.max_new_tokens, temperature=temperature,
                        generator=generator)
        return [c.text for c in outs]

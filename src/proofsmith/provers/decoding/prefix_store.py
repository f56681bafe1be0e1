"""Automatic prefix caching for the decoding targets.

Tactic and proof prompts start with the same few-shot examples (hundreds of tokens);
sampling the same prompt n ways, or proof search over many states, would encode them
again on every call. A target remembers the keys and values of the last prompt it
prefilled and starts the next call from the longest token prefix every new prompt shares
with it. The store belongs to one model and one version of its weights: a training step
that changes them in place empties it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch


class PrefixStore:
    """The keys and values (per layer, each (1, heads, tokens, head_dim)) of one prompt."""

    def __init__(self):
        self.entry: tuple[list[int], list[torch.Tensor]] = ([], [])  # replaced whole: safe across threads

    def lookup(self, heads: list[list[int]]) -> tuple[int, list[torch.Tensor]]:
        """How many leading tokens every row shares with the stored prompt, and the stored tensors."""
        tokens, tensors = self.entry
        shared = len(tokens)
        for head in heads:
            shared = min(shared, len(head))
            shared = next((i for i in range(shared) if head[i] != tokens[i]), shared)
        return shared, tensors

    def remember(self, tokens: list[int], tensors: list[torch.Tensor]) -> None:
        """Store `tokens` and their tensors (already cut to them, one row, copied)."""
        if tokens != self.entry[0]:
            self.entry = (list(tokens), tensors)


def weights_version(model) -> tuple:
    """Changes whenever a parameter is replaced or updated in place."""
    return tuple((p.data_ptr(), p._version) for p in model.parameters())


def per_model(table: weakref.WeakKeyDictionary, model, build: Callable):
    """`build(model)` once per model and weights version, kept in `table`."""
    version = weights_version(model)
    cached = table.get(model)
    if cached is None or cached[0] != version:
        cached = (version, build(model))
        table[model] = cached
    return cached[1]

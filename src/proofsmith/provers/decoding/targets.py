"""Where the decoding engine runs the target model: one object per generate call.

A target holds the rows' KV cache and offers three operations (decoding.py drives them):

    forward(tokens, depth, ancestors, valid) -> logits  one step over each row's draft tree
    keep(width, keep, counts)                            roll the cache back to the accepted nodes
    select_rows(rows)                                    drop finished rows (or repeat rows: beams)
    replace_rows(slots, prompts)                         finished rows' slots start new prompts

`open_target` picks `PackedLlamaTarget` (packed_llama.py: prepacked CPU weights, a
static cache) where it applies and `HFTarget` (transformers' own forward and
DynamicCache, any causal LM, any device) everywhere else.
"""

from __future__ import annotations

import inspect
import weakref

import torch

from ...core import ProofsmithError
from . import packed_llama
from .prefix_store import PrefixStore, per_model

BACKENDS = ("auto", "packed", "hf")
_HF_PREFIXES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def open_target(model, prompts: list[list[int]], capacity: int, pad_token_id: int = 0, backend: str = "auto",
                prefix_cache: bool = True):
    """Prefill all but each prompt's last token; `capacity` bounds any row's final length;
    `prefix_cache` starts from the tokens shared with the model's previous prompt."""
    if backend not in BACKENDS:
        raise ProofsmithError(f"unknown decoding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "packed" or (backend == "auto" and packed_llama.supports(model, capacity)):
        if not packed_llama.supports(model, capacity):
            raise ProofsmithError("the packed backend needs a Llama-family model in fp32 on a CPU with oneDNN")
        return packed_llama.PackedLlamaTarget(model, prompts, capacity, pad_token_id, prefix_cache)
    return HFTarget(model, prompts, pad_token_id, prefix_cache)


class HFTarget:
    """transformers' forward over an HF DynamicCache, plus which cache columns hold real
    tokens per row (rows that accepted fewer tokens than others leave masked holes).

    `step_cost`: a forward over M > 1 query tokens costs about 1 + a + b M single-token
    steps; measured with SmolLM2-135M in fp32 on 2 CPU cores (a = 0.5: the GEMMs repack
    their weights past one row) and assumed for a GPU (a = 0.1).
    """

    def __init__(self, model, prompts: list[list[int]], pad_token_id: int = 0, prefix_cache: bool = True,
                 store: PrefixStore | None = None, remember: int = 0):
        from transformers import DynamicCache

        self.model, self.pad_token_id = model, pad_token_id
        device = next(model.parameters()).device
        self.step_cost = (0.5, 0.06) if device.type == "cpu" else (0.1, 0.06)
        # identical prompts (n samples of one prompt) are prefilled once, then copied into each row
        distinct = list(dict.fromkeys(tuple(p[:-1]) for p in prompts))
        heads = [list(h) for h in distinct]
        batch = len(heads)
        self.hf = DynamicCache()
        self.kwarg = _cache_kwarg(model)  # "cache" in transformers 5, "past_key_values" before
        self.valid = torch.zeros(batch, 0, dtype=torch.bool, device=device)
        self.lengths = torch.zeros(batch, dtype=torch.long, device=device)  # real tokens per row
        # prefill all but each prompt's last token (the last one is pending): the part every
        # row shares with the store's prompt (the model's previous one) is copied from it
        self.store = store or (per_model(_HF_PREFIXES, model, lambda _: PrefixStore()) if prefix_cache
                               else PrefixStore())
        reused, stored = self.store.lookup(heads)
        if reused:
            layers = len(stored) // 2
            for i, (k, v) in enumerate(zip(stored[:layers], stored[layers:])):
                self.hf.update(k[..., :reused, :].repeat(batch, 1, 1, 1), v[..., :reused, :].repeat(batch, 1, 1, 1), i)
            self.valid = torch.ones(batch, reused, dtype=torch.bool, device=device)
            self.lengths += reused
        rest = [h[reused:] for h in heads]
        width = max(len(r) for r in rest)
        if width > 0:  # left padded: the padding leaves masked holes
            padded = torch.tensor([[pad_token_id] * (width - len(r)) + r for r in rest], device=device)
            real = torch.tensor([[False] * (width - len(r)) + [True] * len(r) for r in rest], device=device)
            depth = (real.long().cumsum(1) - 1).clamp_min(0)
            causal = torch.ones(width, width, dtype=torch.bool, device=device).tril()
            self._run(padded, depth, causal.expand(batch, -1, -1), real, logits_to_keep=1)
            self.lengths += real.sum(1)
        # the store keeps one prompt: the first (the next call likely shares its few-shot prefix) or,
        # admitting rows (remember=-1), the last, whose further copies are admitted next
        mine = heads[remember]
        columns = self.valid[remember].nonzero()[:, 0][: len(mine)]  # its real columns, in order
        self.store.remember(mine, [t[remember:][:1, :, columns].clone()
                                   for t in (*self._tensors("keys"), *self._tensors("values"))])
        if batch < len(prompts):
            index = {h: i for i, h in enumerate(distinct)}
            self.select_rows(torch.tensor([index[tuple(p[:-1])] for p in prompts], device=device))

    def replace_rows(self, slots: torch.Tensor, prompts: list[list[int]]) -> None:
        """Rows `slots` start afresh from `prompts` (continuous batching: a finished row's slot
        goes to a waiting prompt). The prompts are prefilled apart, once each; whichever cache
        is narrower gets masked columns so that the rows fit side by side."""
        fresh = HFTarget(self.model, prompts, self.pad_token_id, store=self.store, remember=-1)
        width = max(self.valid.shape[1], fresh.valid.shape[1])
        self._widen(width)
        fresh._widen(width)
        if fresh.hf.layers and not self.hf.layers:  # every earlier prompt was a single token: no cache yet
            for i, layer in enumerate(fresh.hf.layers):
                blank = layer.keys.new_zeros(len(self.lengths), *layer.keys.shape[1:])
                self.hf.update(blank, blank.clone(), i)
        for mine, theirs in zip(self.hf.layers, fresh.hf.layers):
            mine.keys[slots], mine.values[slots] = theirs.keys, theirs.values
        self.valid[slots], self.lengths[slots] = fresh.valid, fresh.lengths

    def _widen(self, width: int) -> None:
        """Masked (invalid) columns on the right up to `width`: positions come from `lengths`, not columns."""
        extra = width - self.valid.shape[1]
        if extra <= 0:
            return
        for layer in self.hf.layers:
            for name in ("keys", "values"):
                t = getattr(layer, name)
                setattr(layer, name, torch.cat([t, t.new_zeros(*t.shape[:2], extra, t.shape[3])], dim=2))
        self.valid = torch.cat([self.valid, self.valid.new_zeros(self.valid.shape[0], extra)], dim=1)

    def _tensors(self, name: str) -> list[torch.Tensor]:
        return [getattr(layer, name) for layer in self.hf.layers]

    def forward(self, tokens: torch.Tensor, depth: torch.Tensor, ancestors: torch.Tensor,
                valid: torch.Tensor) -> torch.Tensor:
        return self._run(tokens, depth, ancestors, valid)

    def _run(self, tokens, depth, ancestors, new_valid, logits_to_keep: int = 0) -> torch.Tensor:
        """`ancestors[b, i, j]`: node j is node i or one of its ancestors; `depth` their
        offsets from each row's length; `new_valid` (B, N) the real (non-padding) nodes."""
        model = self.model
        batch, n = tokens.shape
        causal = torch.ones(n, n, dtype=torch.bool, device=tokens.device).tril()
        positions = self.lengths[:, None] + depth
        if bool(self.valid.all()) and bool(new_valid.all()) and bool((ancestors == causal).all()):
            # a plain causal chain without holes: let the model build its own mask (HF's exact path)
            out = model(input_ids=tokens, position_ids=positions, use_cache=True, logits_to_keep=logits_to_keep,
                        **{self.kwarg: self.hf})
        else:
            see_cache = self.valid[:, None, :].expand(batch, n, self.valid.shape[1])
            allowed = torch.cat([see_cache, ancestors & new_valid[:, None, :]], dim=2)
            dtype = next(model.parameters()).dtype
            mask = torch.zeros(allowed.shape, dtype=dtype, device=tokens.device)
            mask.masked_fill_(~allowed, torch.finfo(dtype).min)
            out = model(input_ids=tokens, attention_mask=mask[:, None], position_ids=positions,
                        use_cache=True, logits_to_keep=logits_to_keep, **{self.kwarg: self.hf})
        self.valid = torch.cat([self.valid, new_valid], dim=1)
        return out.logits

    def keep(self, width: int, keep: torch.Tensor, counts: torch.Tensor) -> None:
        """Of the last `width` columns, row b keeps columns keep[b, :counts[b]] in that order."""
        old = self.valid.shape[1] - width
        kmax = int(counts.max())
        identity = bool((keep[:, :kmax] == torch.arange(kmax, device=keep.device)).all())
        for layer in self.hf.layers:
            for name in ("keys", "values"):
                t = getattr(layer, name)
                if identity:  # every row kept a prefix: a plain crop (the common batch-1 chain case)
                    t = t[..., : old + kmax, :]
                else:
                    idx = keep[:, None, :kmax, None].expand(t.shape[0], t.shape[1], kmax, t.shape[3])
                    t = torch.cat([t[..., :old, :], t[..., old:, :].gather(2, idx)], dim=2)
                setattr(layer, name, t)
        kept = torch.arange(kmax, device=keep.device)[None, :] < counts[:, None]
        self.valid = torch.cat([self.valid[:, :old], kept], dim=1)
        self.lengths = self.lengths + counts

    def select_rows(self, rows: torch.Tensor) -> None:
        for layer in self.hf.layers:
            layer.keys, layer.values = layer.keys[rows], layer.values[rows]
        self.valid, self.lengths = self.valid[rows], self.lengths[rows]


def _cache_kwarg(model) -> str:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"

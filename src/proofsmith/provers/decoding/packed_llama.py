"""The decoding engine's CPU target for Llama-family models: prepacked weights, a static KV cache.

Decoding a small model on a CPU is bound by reading its weights: each step reads every
matrix once. Through nn.Linear a matrix product over two query rows costs about twice
one over a single row (0.24 against 0.11 ms for a 1536x576 matrix, 28 against 14 ms for
the 49152x576 head, on the project's 2-core machine), so transformers' forward over 2-16
draft tokens cost 1.7-1.8 single-token steps and speculation paid for itself barely.
oneDNN's GEMM on a matrix packed once into its own layout (`_reorder_linear_weight`)
costs about the same from one to eight rows (0.06-0.10 ms and 6-6.8 ms there), so a
verification forward over a few tokens costs little more than a plain step. The matrices of one input are fused
(q|k|v, gate|up), and each row's keys and values live in a preallocated cache: a step
writes its tree nodes at the row's next slots, and rollback moves the accepted ones
down in place, so nothing is concatenated per step and rows never leave holes.

Everything but the matrix products is the model's own modules (embedding, RMSNorm,
rotary tables, activation), so the arithmetic is the model's up to the GEMM's summation
order. Used by decoding.generate on CPU in fp32 for model types in `SUPPORTED`; any
other model runs through transformers' forward (targets.HFTarget).
"""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F

from .prefix_store import PrefixStore, per_model

SUPPORTED = ("llama", "mistral", "qwen2")  # the same layer layout (qwen2: q/k/v biases)


def supports(model, capacity: int = 0) -> bool:
    """A plain (non-adapter) Llama-layout causal LM in fp32 on a CPU with oneDNN, whose
    sliding attention window (if any) is no shorter than `capacity` tokens."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) not in SUPPORTED or hasattr(model, "peft_config"):
        return False
    base = getattr(model, "model", None)
    layers = getattr(base, "layers", None)
    if not layers or not _plain_linears(model.lm_head, layers[0].self_attn, layers[0].mlp):
        return False  # adapters (LoRA), quantised layers: their own forward, not ours
    window = getattr(config, "sliding_window", None)
    sliding = config.model_type == "mistral" or getattr(config, "use_sliding_window", False)
    if sliding and window is not None and window < capacity:
        return False
    param = next(model.parameters())
    return param.device.type == "cpu" and param.dtype == torch.float32 and torch.backends.mkldnn.is_available()


def _plain_linears(head, attn, mlp) -> bool:
    names = [(attn, n) for n in ("q_proj", "k_proj", "v_proj", "o_proj")]
    names += [(mlp, n) for n in ("gate_proj", "up_proj", "down_proj")]
    return type(head) is torch.nn.Linear and all(type(getattr(m, n, None)) is torch.nn.Linear for m, n in names)


class PackedLinear:
    """y = x W^T + b for the row-wise concatenation of several nn.Linear layers."""

    def __init__(self, *layers: torch.nn.Linear):
        weight = torch.cat([layer.weight.detach() for layer in layers]).contiguous()
        biases = [layer.bias.detach() if layer.bias is not None else torch.zeros(layer.out_features)
                  for layer in layers]
        self.bias = torch.cat(biases) if any(layer.bias is not None for layer in layers) else None
        self.out_features = weight.shape[0]
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        y = torch.ops.mkldnn._linear_pointwise(flat, self.packed, self.bias, "none", [], "")
        return y.view(*x.shape[:-1], self.out_features)


class _Layer:
    def __init__(self, layer, config):
        attn, mlp = layer.self_attn, layer.mlp
        self.qkv = PackedLinear(attn.q_proj, attn.k_proj, attn.v_proj)
        self.o = PackedLinear(attn.o_proj)
        self.gate_up = PackedLinear(mlp.gate_proj, mlp.up_proj)
        self.down = PackedLinear(mlp.down_proj)
        self.norm_attn, self.norm_mlp, self.act = layer.input_layernorm, layer.post_attention_layernorm, mlp.act_fn
        self.scaling = attn.scaling


class PackedWeights:
    """The packed matrices of one model (built once per model and weight version)."""

    def __init__(self, model):
        config = model.config
        self.config = config
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.intermediate = config.intermediate_size
        base = model.model
        self.embed, self.norm, self.rotary = base.embed_tokens, base.norm, base.rotary_emb
        self.layers = [_Layer(layer, config) for layer in base.layers]
        self.head = PackedLinear(model.lm_head)
        self.prefix = PrefixStore()


_PACKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def packed_weights(model) -> PackedWeights:
    """The model's packed weights, repacked when any parameter changed (training steps)."""
    return per_model(_PACKED, model, PackedWeights)


class PackedLlamaTarget:
    """The target of one generate call: rows of a static KV cache behind packed weights.

    Row b holds `lengths[b]` real tokens in slots [0, lengths[b]). `forward` writes the
    step's node j at slot lengths[b] + j; `keep` moves the accepted nodes down and
    advances the lengths; `select_rows` drops finished rows (or repeats rows);
    `replace_rows` gives finished rows' places to new prompts.

    `step_cost` (see decoding.AdaptiveLength): a forward over M > 1 query tokens costs
    about 1 + 0.1 + 0.035 M single-token steps (SmolLM2-135M, fp32, 2 CPU cores:
    1.13 at M = 2, 1.43 at 8, 1.71 at 16, 2.05 at 32; transformers' forward: 1.78,
    1.74, 1.81, 2.54).
    """

    step_cost = (0.1, 0.035)

    def __init__(self, model, prompts: list[list[int]], capacity: int, pad_token_id: int = 0,
                 prefix_cache: bool = True, store: PrefixStore | None = None, remember: int = 0):
        self.model, self.pad_token_id = model, pad_token_id
        self.w = packed_weights(model)
        # `store`: the prefix store of the call that admits these rows (replace_rows)
        self.store = store or (self.w.prefix if prefix_cache else PrefixStore())
        # identical prompts (n samples of one prompt) are prefilled once, then copied into each row
        heads = [p[:-1] for p in prompts]
        distinct = list(dict.fromkeys(map(tuple, heads)))
        heads = [list(h) for h in distinct]
        batch = len(heads)
        shape = (batch, self.w.kv_heads, capacity, self.w.head_dim)
        self.keys = [torch.zeros(shape) for _ in self.w.layers]  # masked slots still meet V: no NaN garbage
        self.values = [torch.zeros(shape) for _ in self.w.layers]
        # prefill all but each prompt's last token (the last one is pending): the part every
        # row shares with the store's prompt (the model's previous one) is copied from it
        reused, stored = self.store.lookup(heads)
        for t, known in zip((*self.keys, *self.values), stored):
            t[:, :, :reused] = known[:, :, :reused]
        self.lengths = torch.full((batch,), reused, dtype=torch.long)
        rest = [h[reused:] for h in heads]
        width = max(len(r) for r in rest)
        if width > 0:  # right padded; a padding node sees the cache and itself only
            tokens = torch.tensor([r + [pad_token_id] * (width - len(r)) for r in rest])
            real = torch.arange(width)[None, :] < torch.tensor([len(r) for r in rest])[:, None]
            sees = torch.ones(width, width, dtype=torch.bool).tril() & real[:, None, :]
            sees |= torch.eye(width, dtype=torch.bool)
            self.forward(tokens, torch.arange(width).expand(batch, width), sees, real, logits=False)
            self.lengths += real.sum(1)
        # the store keeps one prompt: the first (the next call likely shares its few-shot prefix) or,
        # admitting rows (remember=-1), the last, whose further copies are admitted next
        mine = heads[remember]
        self.store.remember(mine, [t[remember:][:1, :, :len(mine)].clone() for t in (*self.keys, *self.values)])
        if batch < len(prompts):
            index = {h: i for i, h in enumerate(distinct)}
            self.select_rows(torch.tensor([index[tuple(p[:-1])] for p in prompts]))

    def replace_rows(self, slots: torch.Tensor, prompts: list[list[int]]) -> None:
        """Rows `slots` start afresh from `prompts` (continuous batching: a finished row's slot
        goes to a waiting prompt). The prompts are prefilled apart, once each, then copied in."""
        fresh = PackedLlamaTarget(self.model, prompts, max(map(len, prompts)), self.pad_token_id, store=self.store,
                                  remember=-1)
        used = int(fresh.lengths.max())
        slots = slots.cpu()
        for t, new in zip((*self.keys, *self.values), (*fresh.keys, *fresh.values)):
            t[slots, :, :used] = new[:, :, :used]
        self.lengths[slots] = fresh.lengths

    def forward(self, tokens: torch.Tensor, depth: torch.Tensor, ancestors: torch.Tensor,
                valid: torch.Tensor, logits: bool = True) -> torch.Tensor | None:
        """Logits (B, N, V) of each row's tree nodes; node i sees the row's cache and its
        ancestors (`ancestors[b, i, j]`), at position lengths[b] + depth[b, i]. Padding
        nodes (`valid` False) have only themselves as ancestors; their logits mean nothing."""
        batch, n = tokens.shape
        span = int(self.lengths.max()) + n
        slot = torch.arange(span)[None, None, :]
        start = self.lengths[:, None, None]
        offset = (slot - start).clamp(0, n - 1).expand(batch, n, span)
        sees = (slot < start) | ((slot < start + n) & ancestors.gather(2, offset))  # its cache, its ancestors
        if batch == 1 and n == 1:
            sees = None  # one query row sees all of its cache: no mask
        return self._run(tokens, self.lengths[:, None] + depth, sees, logits)

    def _run(self, tokens, positions, sees, logits: bool):
        w = self.w
        batch, n = tokens.shape
        slots = self.lengths[:, None] + torch.arange(n)[None, :]
        span = int(slots.max()) + 1
        uniform = bool((self.lengths == self.lengths[0]).all())
        index = slots[:, None, :, None].expand(batch, w.kv_heads, n, w.head_dim)
        mask = sees[:, None] if sees is not None else None
        x = w.embed(tokens)
        cos, sin = w.rotary(x, positions)
        cos, sin = cos[:, None], sin[:, None]
        q_size, kv_size = w.heads * w.head_dim, w.kv_heads * w.head_dim
        for layer, keys, values in zip(w.layers, self.keys, self.values):
            h = layer.norm_attn(x)
            q, k, v = layer.qkv(h).split([q_size, kv_size, kv_size], dim=-1)
            q = q.view(batch, n, w.heads, w.head_dim).transpose(1, 2)
            k = k.view(batch, n, w.kv_heads, w.head_dim).transpose(1, 2)
            v = v.view(batch, n, w.kv_heads, w.head_dim).transpose(1, 2)
            q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
            if uniform:
                start = int(self.lengths[0])
                keys[:, :, start:start + n] = k
                values[:, :, start:start + n] = v
            else:
                keys.scatter_(2, index, k)
                values.scatter_(2, index, v)
            attn = F.scaled_dot_product_attention(q, keys[:, :, :span], values[:, :, :span], attn_mask=mask,
                                                  scale=layer.scaling, enable_gqa=w.heads != w.kv_heads)
            x = x + layer.o(attn.transpose(1, 2).reshape(batch, n, q_size))
            gate, up = layer.gate_up(layer.norm_mlp(x)).split([w.intermediate, w.intermediate], dim=-1)
            x = x + layer.down(layer.act(gate) * up)
        return w.head(w.norm(x)) if logits else None

    def keep(self, width: int, keep: torch.Tensor, counts: torch.Tensor) -> None:
        """Of the step's `width` nodes, row b keeps nodes keep[b, :counts[b]] in that order."""
        kmax = int(counts.max())
        keep, counts = keep.cpu(), counts.cpu()
        if not bool((keep[:, :kmax] == torch.arange(kmax)).all()):  # some row kept a tree branch, not a prefix
            src = (self.lengths[:, None] + keep[:, :kmax])[:, None, :, None]
            dst = (self.lengths[:, None] + torch.arange(kmax))[:, None, :, None]
            for t in (*self.keys, *self.values):
                src_i = src.expand(t.shape[0], t.shape[1], kmax, t.shape[3])
                t.scatter_(2, dst.expand_as(src_i), t.gather(2, src_i))
        self.lengths = self.lengths + counts

    def select_rows(self, rows: torch.Tensor) -> None:
        rows = rows.cpu()
        self.keys = [t[rows] for t in self.keys]
        self.values = [t[rows] for t in self.values]
        self.lengths = self.lengths[rows]


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

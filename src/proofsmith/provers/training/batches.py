"""Training batches: the seeded order of examples, padding, and the shared prompt prefix.

Prompts of one batch that start with the same tokens (prompts.py's worked examples:
~330 tokens before every tactic prompt of the prove layout) run that prefix once; each
example's remaining tokens run on the prefix's cached keys and values, expanded to every
row. The backward pass goes through the cache, so the loss and the gradient are those of
the unshared batch (tests/test_train_batches.py) at a fraction of the tokens.
"""

from __future__ import annotations

import inspect

SHARED_PREFIX_MIN = 16  # prompts of a batch sharing at least this many first tokens run them once


def make_batch(rows: list[tuple], step: int, config, pad_id: int, device: str) -> dict:
    """Step s takes its slice of a seeded shuffle of epoch (s-1) // batches_per_epoch: the
    same batches whether or not the run was resumed. `config`: a loop.TrainConfig."""
    import torch

    per_epoch = max(1, len(rows) // config.batch_size)
    epoch, index = divmod(step - 1, per_epoch)
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch))
    picked = [rows[i] for i in order[index * config.batch_size:(index + 1) * config.batch_size].tolist()]
    shared = shared_prefix([p for p, _, _ in picked])
    if shared < SHARED_PREFIX_MIN:
        shared = 0
    length = max(len(p) + len(t) for p, t, _ in picked) - shared
    input_ids = torch.full((len(picked), length), pad_id, dtype=torch.long)
    attention = torch.zeros((len(picked), length), dtype=torch.long)
    positions, targets, segments = [], [], []
    n_steps = 0
    for b, (prompt, target, step_of_token) in enumerate(picked):
        ids = (prompt + target)[shared:]
        input_ids[b, :len(ids)] = torch.tensor(ids)
        attention[b, :len(ids)] = 1
        for j, token in enumerate(target):  # the hidden state before a target token predicts it
            positions.append((b, len(prompt) - shared + j - 1))
            targets.append(token)
            segments.append(n_steps + step_of_token[j] if config.loss == "dco-step" else b)
        n_steps += max(step_of_token) + 1
    pos = torch.tensor(positions)
    return {"input_ids": input_ids.to(device), "attention_mask": attention.to(device), "rows": pos.to(device),
            "targets": torch.tensor(targets, device=device), "segments": torch.tensor(segments, device=device),
            "n_examples": len(picked), "prefix_ids": torch.tensor([picked[0][0][:shared]], device=device)}


def shared_prefix(prompts: list[list[int]]) -> int:
    """Tokens every prompt starts with, leaving each at least its last token (which predicts the target)."""
    limit = min(len(p) for p in prompts) - 1
    n = 0
    while n < limit and all(p[n] == prompts[0][n] for p in prompts):
        n += 1
    return n


def hidden_states(decoder, batch: dict):
    """Last hidden states of the batch's (suffix) tokens; a shared prefix runs once, its cache is
    expanded to every row, and the backward pass goes through it (the same gradient)."""
    import torch

    prefix = batch["prefix_ids"]
    if prefix.shape[1] == 0:
        return decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    from transformers import DynamicCache

    kwarg = "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
    cache = DynamicCache()
    decoder(input_ids=prefix, use_cache=True, **{kwarg: cache})
    rows, shared = batch["input_ids"].shape[0], prefix.shape[1]
    for layer in cache.layers:
        layer.keys = layer.keys.expand(rows, -1, -1, -1)
        layer.values = layer.values.expand(rows, -1, -1, -1)
    mask = torch.cat([batch["attention_mask"].new_ones(rows, shared), batch["attention_mask"]], dim=1)
    positions = torch.arange(shared, shared + batch["input_ids"].shape[1], device=prefix.device).expand(rows, -1)
    return decoder(input_ids=batch["input_ids"], attention_mask=mask, position_ids=positions, use_cache=True,
                   **{kwarg: cache}).last_hidden_state

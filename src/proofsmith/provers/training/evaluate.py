"""What a tuned prover buys, measured on held-out proof steps (teacher forcing, one forward pass).

For each (state, gold tactic) pair in the layout `proofsmith prove` asks in:
  * ``step_accuracy``: greedy decoding writes exactly the gold tactic. Greedy decoding
    stops at the newline the target ends with, so it equals the gold tactic exactly when
    every gold token (the newline included) is the argmax after the gold tokens before
    it: read off the same forward pass, no generation needed;
  * ``logprob_per_token``: the mean log-probability of the gold tokens;
  * ``first_token_accuracy``: the argmax at the first gold token is right (the tactic word).
Batches share the worked-examples prefix (batches.py), so a pair costs its own tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

from .data import Example, tokenize


def step_metrics(lm, examples: Sequence[Example], batch_size: int = 8, max_len: int = 1024) -> dict:
    import torch

    from .batches import hidden_states, make_batch
    from .loop import TrainConfig, _decoder_and_head

    rows = [r for r in (tokenize(lm.tokenizer, e) for e in examples) if r[1] and len(r[0]) + len(r[1]) <= max_len]
    exact, first, logprob, tokens = 0, 0, 0.0, 0
    decoder, head = _decoder_and_head(lm.model)
    lm.model.eval()
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        config = TrainConfig(loss="ce", batch_size=len(chunk))
        batch = make_batch(chunk, 1, config, lm.tokenizer.pad_token_id, lm.device)
        with torch.no_grad():
            hidden = hidden_states(decoder, batch)
            logits = hidden[batch["rows"][:, 0], batch["rows"][:, 1]] @ head.T
        logp = torch.log_softmax(logits.float(), dim=-1)
        gold = batch["targets"]
        right = logp.argmax(-1) == gold
        token_logp = logp.gather(1, gold[:, None])[:, 0]
        for b in range(len(chunk)):
            mine = batch["segments"] == b
            exact += int(right[mine].all())
            first += int(right[mine][0])
        logprob += float(token_logp.sum())
        tokens += int(gold.numel())
    n = max(1, len(rows))
    return {"pairs": len(rows), "step_accuracy": round(exact / n, 4), "first_token_accuracy": round(first / n, 4),
            "logprob_per_token": round(logprob / max(1, tokens), 4)}

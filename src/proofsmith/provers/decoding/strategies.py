"""Generating candidates with a causal LM: sampling, beam search, diverse beam search.

Each method is one function with the same shape of signature,
``method(lm, prompt, n, ..., max_new_tokens, stop, first_mask) -> list[Completion]``,
running the model through the decoding engine's targets (targets.py): sampling through
`decoding.complete`, beam search step by step on a target whose rows are the beams. The
prompt is encoded once for all rows, and a few-shot prefix shared with the previous
prompt not at all (the targets' prefix store). Every Completion
carries its log-probability under the model itself (untempered, unpenalised), which
is what best-first search uses as priority.

Diverse beam search is Vijayakumar et al. (2016, arXiv 1610.02424): the beams are split
into G groups decoded in turn at each step; group g scores token v as
``log p(v | y) - λ · (number of times v was chosen at this step by groups < g)``
(Hamming diversity). Transformers 5 moved it out of its core, so it lives here.
Plain beam search is the same algorithm with one group and λ = 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .completion import Completion


def _encode(lm, text: str) -> list[int]:
    return lm.tokenizer(text, add_special_tokens=False).input_ids


def _open(lm, ids: list[int], rows: int, max_new_tokens: int):
    """A decoding target (targets.py) holding the prompt for `rows` rows, and the logits
    after the prompt (rows, vocab). The prompt is encoded once, whatever `rows`; its
    shared few-shot prefix comes from the target's prefix store."""
    from .targets import open_target

    target = open_target(lm.model, [ids], len(ids) + max_new_tokens + 1, lm.tokenizer.pad_token_id or 0)
    logits = _advance(target, [ids[-1]], lm.device)
    if rows > 1:
        target.select_rows(torch.zeros(rows, dtype=torch.long, device=lm.device))
    return target, logits.expand(rows, -1)


def _advance(target, tokens: list[int], device) -> torch.Tensor:
    """Feed one token per row; the next-token logits (rows, vocab), fp32."""
    n = len(tokens)
    one = torch.ones(n, 1, dtype=torch.bool, device=device)
    logits = target.forward(torch.tensor(tokens, device=device)[:, None], torch.zeros(n, 1, dtype=torch.long,
                            device=device), one[:, :, None], one)
    target.keep(1, torch.zeros(n, 1, dtype=torch.long, device=device), torch.ones(n, dtype=torch.long, device=device))
    return logits[:, 0].float()


def first_token_mask(lm, words: Sequence[str]) -> torch.Tensor:
    """An additive mask allowing only the first tokens of `words` (a constrained start)."""
    mask = torch.full((lm.model.config.vocab_size,), float("-inf"))
    for word in words:
        mask[_encode(lm, word)[0]] = 0.0
    return mask


def _stopped(lm, token_ids: list[int], stop: Sequence[str]) -> tuple[bool, str]:
    """Whether this continuation is complete, and its text cut before the stop."""
    if token_ids and token_ids[-1] == lm.tokenizer.eos_token_id:
        return True, lm.tokenizer.decode(token_ids[:-1], skip_special_tokens=True)
    text = lm.tokenizer.decode(token_ids, skip_special_tokens=True)
    cuts = [text.find(s) for s in stop if s in text]
    return (True, text[: min(cuts)]) if cuts else (False, text)


@torch.no_grad()
def sample(
    lm,
    prompt: str,
    n: int,
    temperature: float = 1.0,
    top_p: float = 0.95,
    max_new_tokens: int = 32,
    stop: Sequence[str] = ("\n",),
    first_mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> list[Completion]:
    """n independent samples (temperature, top-p); all n returned, duplicates included.

    Decoded by the speculative engine (decoding.complete). `first_mask` (additive, over
    the vocabulary) constrains the first token, which is drawn here from the masked
    prompt logits; the engine continues each row from it.
    """
    from .engine import Warp, complete

    ids = _encode(lm, prompt)
    firsts: list[int] = []
    first_logp = [0.0] * n
    if first_mask is not None:
        _, logits = _open(lm, ids, 1, 1)
        warped = Warp(temperature, top_p).probs(logits[0] + first_mask.to(logits.device))  # the engine's own warp
        firsts = torch.multinomial(warped, n, replacement=True, generator=generator).tolist()
        model_logp = torch.log_softmax(logits[0], dim=-1)
        first_logp = [float(model_logp[t]) for t in firsts]
    rows = [ids + [t] for t in firsts] if firsts else [ids] * n
    outs = complete(lm, rows, max_new_tokens - (1 if firsts else 0), temperature=temperature, top_p=top_p,
                    stop=stop, generator=generator) if max_new_tokens > len(firsts[:1]) else []
    generations = []
    for r in range(n):
        token_ids = firsts[r:r + 1] + (list(outs[r].token_ids) if outs else [])
        finished, text = _stopped(lm, token_ids, stop)
        logprob = first_logp[r] + (outs[r].logprob if outs else 0.0)
        generations.append(Completion(text, logprob, tuple(token_ids), finished))
    return generations


def beam_search(
    lm,
    prompt: str,
    n: int,
    max_new_tokens: int = 32,
    stop: Sequence[str] = ("\n",),
    first_mask: torch.Tensor | None = None,
) -> list[Completion]:
    """The n most likely finished continuations found by beam search with n beams."""
    return diverse_beam_search(lm, prompt, n, 1, 0.0, max_new_tokens, stop, first_mask)


@torch.no_grad()
def diverse_beam_search(
    lm,
    prompt: str,
    n: int,
    groups: int = 4,
    diversity_penalty: float = 1.0,
    max_new_tokens: int = 32,
    stop: Sequence[str] = ("\n",),
    first_mask: torch.Tensor | None = None,
) -> list[Completion]:
    """Finished continuations of n beams in `groups` groups, best log-probability first."""
    if n % groups:
        raise ValueError(f"num beams {n} must be a multiple of groups {groups}")
    k = n // groups
    target, logits = _open(lm, _encode(lm, prompt), n, max_new_tokens)
    if first_mask is not None:
        logits = logits + first_mask.to(logits.device)
    seqs: list[list[int]] = [[] for _ in range(n)]
    true_logp = torch.zeros(n)  # the model's log-probability of each beam
    # rank = log-probability with the diversity penalties; only one live beam per group at first
    rank = torch.full((n,), float("-inf"))
    rank[::k] = 0.0
    finished: list[list[tuple[float, Completion]]] = [[] for _ in range(groups)]
    group_done = [False] * groups
    for step in range(max_new_tokens):
        model_logp = torch.log_softmax(logits, dim=-1).cpu()
        chosen_counts = torch.zeros(model_logp.shape[-1])  # tokens chosen at this step so far
        next_rows, next_tokens = list(range(n)), [lm.tokenizer.eos_token_id or 0] * n
        new_seqs, new_rank, new_logp = list(seqs), rank.clone(), true_logp.clone()
        for g in range(groups):
            if group_done[g]:
                continue
            rows = slice(g * k, (g + 1) * k)
            penalised = model_logp[rows] - diversity_penalty * chosen_counts
            candidates = (rank[rows].unsqueeze(1) + penalised).view(-1)
            top = torch.topk(candidates, min(2 * k, candidates.numel()))
            live = 0
            for position, (score, flat) in enumerate(zip(top.values.tolist(), top.indices.tolist())):
                if score == float("-inf") or live == k:
                    break
                beam, token = g * k + flat // model_logp.shape[-1], flat % model_logp.shape[-1]
                tokens = seqs[beam] + [token]
                logp = float(true_logp[beam] + model_logp[beam, token])
                stopped, text = _stopped(lm, tokens, stop)
                if stopped:
                    if position < k:  # as in HF: a finished beam counts only if it ranks among the top k
                        finished[g].append((score, Completion(text, logp, tuple(tokens))))
                    continue
                row = g * k + live
                next_rows[row], next_tokens[row] = beam, token
                new_seqs[row], new_rank[row], new_logp[row] = tokens, score, logp
                chosen_counts[token] += 1
                live += 1
            for row in range(g * k + live, (g + 1) * k):  # fewer live candidates than beams
                new_rank[row] = float("-inf")
            best_finished = sorted((s for s, _ in finished[g]), reverse=True)[:k]
            # scores only fall as beams grow (no length normalisation): stop once none can beat the k-th
            if len(best_finished) >= k and float(new_rank[rows].max()) < best_finished[-1]:
                group_done[g] = True
            if live == 0:
                group_done[g] = True
        seqs, rank, true_logp = new_seqs, new_rank, new_logp
        if all(group_done) or step == max_new_tokens - 1:
            break
        target.select_rows(torch.tensor(next_rows, device=lm.device))
        logits = _advance(target, next_tokens, lm.device)
    results = [gen for group in finished for _, gen in sorted(group, key=lambda x: -x[0])[:k]]
    return sorted(results, key=lambda gen: -gen.logprob)

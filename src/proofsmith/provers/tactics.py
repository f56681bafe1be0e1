"""Generating candidates with a causal LM: sampling, beam search, diverse beam search.

Each method is one function over plain tensors with the same shape of signature,
``method(lm, prompt, n, ..., max_new_tokens, stop, shared_prefix, first_mask) ->
list[Generation]``, sharing the prompt's KV cache across all rows (the prompt is encoded
once; a `shared_prefix` such as the few-shot examples once per model). Every Generation
carries its log-probability under the model itself (untempered, unpenalised), which
is what best-first search uses as priority.

Diverse beam search is Vijayakumar et al. (2016, arXiv 1610.02424): the beams are split
into G groups decoded in turn at each step; group g scores token v as
``log p(v | y) - λ · (number of times v was chosen at this step by groups < g)``
(Hamming diversity). Transformers 5 moved it out of its core, so it lives here.
Plain beam search is the same algorithm with one group and λ = 0.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Generation:
    text: str  # the continuation, cut before the first stop string
    logprob: float  # sum of the model's token log-probabilities (untempered)
    tokens: int  # tokens generated for it
    finished: bool = True  # False when it ran into max_new_tokens


_PREFIX_CACHES: dict[tuple[int, str], object] = {}


@torch.no_grad()
def _forward(lm, ids: torch.Tensor, cache=None):
    """One forward pass with a KV cache; returns (cache, logits of the last position)."""
    base = lm.model.get_base_model() if hasattr(lm.model, "get_base_model") else lm.model
    # transformers 5.2x renamed past_key_values to cache (in and out); accept both
    key = "cache" if "cache" in inspect.signature(type(base).forward).parameters else "past_key_values"
    out = lm.model(input_ids=ids, use_cache=True, logits_to_keep=1, **({key: cache} if cache is not None else {}))
    new_cache = out.cache if key == "cache" else out.past_key_values
    return new_cache, out.logits[:, -1, :].float()


def _encode(lm, text: str) -> torch.Tensor:
    return lm.tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids.to(lm.device)


def _prefix_cache(lm, prefix: str):
    """The KV cache of a prompt prefix shared by many calls (the few-shot examples), made once."""
    key = (id(lm.model), prefix)
    if key not in _PREFIX_CACHES:
        if len(_PREFIX_CACHES) > 8:
            _PREFIX_CACHES.clear()
        _PREFIX_CACHES[key] = _forward(lm, _encode(lm, prefix))[0]
    return copy.deepcopy(_PREFIX_CACHES[key])


def _prefill(lm, prompt: str, rows: int, shared_prefix: str = ""):
    """Encode the prompt once; return its KV cache repeated for `rows` and the last logits.

    When the prompt starts with `shared_prefix`, that prefix is encoded once per model and
    its cache reused: with a few-shot prompt it is most of the prompt.
    """
    # cut before the prefix's trailing white space: the tokenizer splits white space before a word
    # differently from white space that ends a string, so only a cut at a non-space character gives
    # the same tokens as encoding the whole prompt (a test checks the two agree)
    shared_prefix = shared_prefix.rstrip()
    if shared_prefix and prompt.startswith(shared_prefix) and len(prompt) > len(shared_prefix):
        cache, logits = _forward(lm, _encode(lm, prompt[len(shared_prefix) :]), _prefix_cache(lm, shared_prefix))
    else:
        cache, logits = _forward(lm, _encode(lm, prompt))
    if rows > 1:
        cache.batch_repeat_interleave(rows)
    return cache, logits.expand(rows, -1)


def first_token_mask(lm, words: Sequence[str]) -> torch.Tensor:
    """An additive mask allowing only the first tokens of `words` (a constrained start)."""
    mask = torch.full((lm.model.config.vocab_size,), float("-inf"))
    for word in words:
        mask[_encode(lm, word)[0, 0]] = 0.0
    return mask


def _step(lm, cache, tokens: torch.Tensor) -> torch.Tensor:
    return _forward(lm, tokens.view(-1, 1), cache)[1]


def _stopped(lm, token_ids: list[int], stop: Sequence[str]) -> tuple[bool, str]:
    """Whether this continuation is complete, and its text cut before the stop."""
    if token_ids and token_ids[-1] == lm.tokenizer.eos_token_id:
        return True, lm.tokenizer.decode(token_ids[:-1], skip_special_tokens=True)
    text = lm.tokenizer.decode(token_ids, skip_special_tokens=True)
    cuts = [text.find(s) for s in stop if s in text]
    return (True, text[: min(cuts)]) if cuts else (False, text)


def _top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p."""
    if top_p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    drop = cumulative - torch.softmax(sorted_logits, dim=-1) > top_p  # the first token always stays
    sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)


@torch.no_grad()
def sample(
    lm,
    prompt: str,
    n: int,
    temperature: float = 1.0,
    top_p: float = 0.95,
    max_new_tokens: int = 32,
    stop: Sequence[str] = ("\n",),
    shared_prefix: str = "",
    first_mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> list[Generation]:
    """n independent samples (temperature, top-p); all n returned, duplicates included.

    Decoded by the speculative engine (decoding.complete). `first_mask` (additive, over
    the vocabulary) constrains the first token, which is drawn here from the masked
    prompt logits; the engine continues each row from it.
    """
    from .decoding import complete

    ids = _encode(lm, prompt)[0].tolist()
    firsts: list[int] = []
    first_logp = [0.0] * n
    if first_mask is not None:
        _, logits = _prefill(lm, prompt, 1, shared_prefix)
        warped = _top_p_filter((logits[0] + first_mask.to(logits.device)) / max(temperature, 1e-5), top_p)
        firsts = torch.multinomial(torch.softmax(warped, dim=-1), n, replacement=True, generator=generator).tolist()
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
        generations.append(Generation(text, logprob, len(token_ids), finished))
    return generations


def beam_search(
    lm,
    prompt: str,
    n: int,
    max_new_tokens: int = 32,
    stop: Sequence[str] = ("\n",),
    shared_prefix: str = "",
    first_mask: torch.Tensor | None = None,
) -> list[Generation]:
    """The n most likely finished continuations found by beam search with n beams."""
    return diverse_beam_search(lm, prompt, n, 1, 0.0, max_new_tokens, stop, shared_prefix, first_mask)


@torch.no_grad()
def diverse_beam_search(
    lm,
    prompt: str,
    n: int,
    groups: int = 4,
    diversity_penalty: float = 1.0,
    max_new_tokens: int = 32,
    stop: Sequence[str] = ("\n",),
    shared_prefix: str = "",
    first_mask: torch.Tensor | None = None,
) -> list[Generation]:
    """Finished continuations of n beams in `groups` groups, best log-probability first."""
    if n % groups:
        raise ValueError(f"num beams {n} must be a multiple of groups {groups}")
    k = n // groups
    cache, logits = _prefill(lm, prompt, n, shared_prefix)
    if first_mask is not None:
        logits = logits + first_mask.to(logits.device)
    seqs: list[list[int]] = [[] for _ in range(n)]
    true_logp = torch.zeros(n)  # the model's log-probability of each beam
    # rank = log-probability with the diversity penalties; only one live beam per group at first
    rank = torch.full((n,), float("-inf"))
    rank[::k] = 0.0
    finished: list[list[tuple[float, Generation]]] = [[] for _ in range(groups)]
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
                        finished[g].append((score, Generation(text, logp, len(tokens))))
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
        cache.reorder_cache(torch.tensor(next_rows, device=lm.device))
        logits = _step(lm, cache, torch.tensor(next_tokens, device=lm.device))
    results = [gen for group in finished for _, gen in sorted(group, key=lambda x: -x[0])[:k]]
    return sorted(results, key=lambda gen: -gen.logprob)

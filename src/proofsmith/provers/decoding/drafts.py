"""Draft sources for speculative decoding (see decoding.py for how drafts are verified).

- PromptLookup: copy what followed the latest earlier occurrence of the context's
  suffix (Aggressive Decoding's input-guided copying, HF prompt lookup). Longest
  suffix first; with `branches` > 1, the continuations of several occurrences form a tree.
- NgramPool: Lookahead's trie of n-grams from prompts, earlier outputs (the pool lives
  across calls, e.g. one per proof search) and optionally a corpus; proposes the most
  frequent branches below the context's suffix as a tree.
- DraftModel: any smaller causal LM with the target's tokenizer, drafting a chain
  (greedy, or sampled from its warped q for the Leviathan rule).
- early_exit(model, layers): the target's first layers + its norm and head, as a
  DraftModel (self-speculation, Kangaroo/LayerSkip style, no second model).

The deterministic sources never need q: verification samples from p and accepts on
equality, which is exact.
"""

from __future__ import annotations

import copy
from collections import defaultdict

import torch

from .proposal import Proposal, Warp
from .targets import _cache_kwarg


class _TreeBuilder:
    """Merge token sequences into one tree (shared prefixes share nodes), up to a node budget.
    A source asked for depth k builds at most `nodes_per_depth * k` nodes."""

    def __init__(self, budget: int):
        self.budget, self.tokens, self.parents, self.index = budget, [], [], {}

    def add(self, seq) -> None:
        parent = -1
        for tok in seq:
            key = (parent, tok)
            if key not in self.index:
                if len(self.tokens) >= self.budget:
                    return
                self.index[key] = len(self.tokens)
                self.tokens.append(int(tok))
                self.parents.append(parent)
            parent = self.index[key]

    def proposal(self) -> Proposal:
        return Proposal(self.tokens, self.parents)


class PromptLookup:
    """Copy the continuation of the most recent earlier match of the context's last n tokens."""

    name = "prompt_lookup"

    def __init__(self, max_ngram: int = 3, min_ngram: int = 1, branches: int = 1):
        self.max_ngram, self.min_ngram, self.branches = max_ngram, min_ngram, branches

    def continuations(self, context: list[int], length: int) -> list[list[int]]:
        """Up to `branches` distinct continuations, longest suffix match first, latest first."""
        found: list[list[int]] = []
        end = len(context)
        for n in range(min(self.max_ngram, end - 1), self.min_ngram - 1, -1):
            suffix = context[end - n:]
            first = suffix[0]
            for start in range(end - n - 1, -1, -1):  # latest occurrence first, never the suffix itself
                if context[start] == first and context[start:start + n] == suffix:
                    cont = context[start + n:start + n + length]
                    if cont and cont not in found:
                        found.append(cont)
                        if len(found) >= self.branches:
                            return found
            if found:
                return found
        return found

    def propose(self, rows, contexts, budgets, warp: Warp) -> list[Proposal]:
        out = []
        for context, budget in zip(contexts, budgets):
            tree = _TreeBuilder(budget * min(self.branches, 2))  # later branches mostly share a prefix
            for cont in self.continuations(context, budget):
                tree.add(cont)
            out.append(tree.proposal())
        return out

    def observe(self, row, context, finished) -> None:
        pass


class NgramPool:
    """A frequency trie of n-grams (Lookahead): key = the last `key_len` tokens, value =
    counts of the `branch_len` tokens that followed them in anything added to the pool."""

    name = "ngram_pool"

    def __init__(self, key_len: int = 2, branch_len: int = 12):
        self.key_len, self.branch_len = key_len, branch_len
        # trie[key] is a nested dict {token: [count, children]} of continuations
        self.trie: dict[tuple, dict] = defaultdict(dict)
        self._seen: dict[int, int] = {}  # row -> how far its context has been added

    def add(self, tokens: list[int], start: int = 0) -> None:
        """Add every window of `tokens` whose continuation starts at or after `start`."""
        for end_key in range(max(start, 1), len(tokens)):
            for k in range(1, self.key_len + 1):
                if end_key - k < 0:
                    break
                node = self.trie[tuple(tokens[end_key - k:end_key])]
                for tok in tokens[end_key:end_key + self.branch_len]:
                    entry = node.setdefault(tok, [0, {}])
                    entry[0] += 1
                    node = entry[1]

    def add_corpus(self, sequences) -> None:
        for seq in sequences:
            self.add(list(seq))

    def _sync(self, row: int, context: list[int]) -> None:
        """Add the row's new tokens (windows are re-added once the tail grows past them)."""
        seen = self._seen.get(row, 0)
        if len(context) - seen >= self.branch_len or seen == 0:
            self.add(context, start=max(seen - self.branch_len, 0) if seen else 0)
            self._seen[row] = len(context)

    def propose(self, rows, contexts, budgets, warp: Warp) -> list[Proposal]:
        out = []
        for row, context, budget in zip(rows, contexts, budgets):
            self._sync(row, context)
            tree = _TreeBuilder(2 * budget)
            for k in range(min(self.key_len, len(context)), 0, -1):
                node = self.trie.get(tuple(context[-k:]))
                if node:
                    for branch in _best_branches(node, 2 * budget):
                        tree.add(branch)
                    break
            out.append(tree.proposal())
        return out

    def observe(self, row, context, finished) -> None:
        if finished:  # the whole output joins the pool for later calls
            self.add(context, start=max(self._seen.get(row, 0) - self.branch_len, 0))
            self._seen.pop(row, None)


def _best_branches(node: dict, budget: int) -> list[list[int]]:
    """Greedy most-frequent-first expansion of a count trie into at most `budget` nodes."""
    import heapq

    heap = [(-entry[0], i, [tok], entry[1]) for i, (tok, entry) in enumerate(node.items())]
    heapq.heapify(heap)
    leaves: list[list[int]] = []
    taken, counter = 0, len(heap)
    while heap and taken < budget:
        _, _, seq, children = heapq.heappop(heap)
        taken += 1
        if not children:
            leaves.append(seq)
        for tok, entry in children.items():
            counter += 1
            heapq.heappush(heap, (-entry[0], counter, seq + [tok], entry[1]))
    # partially expanded paths are branches too
    leaves.extend(item[2][:-1] for item in heap if len(item[2]) > 1)
    leaves.sort(key=len, reverse=True)
    return leaves


class Combined:
    """Several sources merged into one tree, earlier sources' branches first."""

    def __init__(self, *sources):
        self.sources = sources
        self.name = "+".join(s.name for s in sources)

    def propose(self, rows, contexts, budgets, warp: Warp) -> list[Proposal]:
        merged = [_TreeBuilder(2 * b) for b in budgets]
        for source in self.sources:
            for tree, prop in zip(merged, source.propose(rows, contexts, budgets, warp)):
                for branch in _branches(prop):
                    tree.add(branch)
        return [tree.proposal() for tree in merged]

    def observe(self, row, context, finished) -> None:
        for source in self.sources:
            source.observe(row, context, finished)


def _branches(prop: Proposal) -> list[list[int]]:
    """Root-to-leaf token paths of a proposal tree, in node order."""
    paths: list[list[int]] = []
    has_child = set(prop.parents)
    for i in range(len(prop.tokens)):
        if i not in has_child:
            path, node = [], i
            while node >= 0:
                path.append(prop.tokens[node])
                node = prop.parents[node]
            paths.append(path[::-1])
    return paths


class DraftModel:
    """A smaller causal LM with the same tokenizer drafting a chain of tokens, one row at
    a time with its own KV cache per row. Greedy targets get its argmax; sampling
    targets get tokens sampled from its warped q (returned for the Leviathan rule).
    Drafting stops early when its top probability falls below `min_confidence`."""

    name = "draft_model"

    def __init__(self, model, min_confidence: float = 0.0, generator: torch.Generator | None = None):
        self.model, self.min_confidence, self.generator = model, min_confidence, generator
        self._caches: dict[int, tuple] = {}  # row -> (DynamicCache, tokens in it)
        self._kw = _cache_kwarg(model)

    def _logits(self, row: int, context: list[int]) -> torch.Tensor:
        """Next-token logits after `context`, reusing the row's cache for the shared prefix."""
        from transformers import DynamicCache

        cache, cached = self._caches.get(row, (None, []))
        same = 0
        for a, b in zip(cached, context[:-1]):
            if a != b:
                break
            same += 1
        if cache is None:
            cache = DynamicCache()
        elif same < len(cached):
            for layer in cache.layers:
                layer.keys, layer.values = layer.keys[..., :same, :], layer.values[..., :same, :]
        device = next(self.model.parameters()).device
        new = torch.tensor([context[same:]], device=device)
        positions = torch.arange(same, len(context), device=device)[None]
        out = self.model(input_ids=new, position_ids=positions, use_cache=True, **{self._kw: cache})
        self._caches[row] = (cache, list(context))
        return out.logits[0, -1]

    @torch.no_grad()
    def propose(self, rows, contexts, budgets, warp: Warp) -> list[Proposal]:
        out = []
        for row, context, budget in zip(rows, contexts, budgets):
            context, tokens, qs = list(context), [], []
            for _ in range(budget):
                logits = self._logits(row, context)
                if warp.greedy:
                    probs = torch.softmax(logits.float(), -1)
                    tok = int(probs.argmax())
                    if float(probs[tok]) < self.min_confidence and tokens:
                        break
                else:
                    q = warp.probs(logits)
                    tok = int(torch.multinomial(q, 1, generator=self.generator))
                    qs.append(q)
                tokens.append(tok)
                context.append(tok)
            out.append(Proposal.chain(tokens, torch.stack(qs) if qs else None))
        return out

    def observe(self, row, context, finished) -> None:
        if finished:
            self._caches.pop(row, None)


def early_exit(model, layers: int, min_confidence: float = 0.0) -> DraftModel:
    """The target's first `layers` decoder layers + its final norm and LM head as a draft
    (weights shared, nothing copied)."""
    draft = copy.copy(model)
    draft._modules = dict(model._modules)
    inner = copy.copy(model.model)
    inner._modules = dict(model.model._modules)
    inner.layers = torch.nn.ModuleList(list(model.model.layers)[:layers])
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = layers
    if getattr(config, "layer_types", None):
        config.layer_types = config.layer_types[:layers]
    inner.config = draft.config = config
    draft.model = inner
    source = DraftModel(draft, min_confidence=min_confidence)
    source.name = f"early_exit_{layers}"
    return source

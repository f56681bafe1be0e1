"""The decoding engine every generation in proofsmith goes through.

One KV-cached loop over plain tensors (gpt-fast style), with optional speculative
drafts that never change what is generated:

    generate(model, prompts, max_new_tokens, temperature=0, top_p=1, draft=None)

Each step feeds the pending token (the last one emitted, not yet in the cache) and a
*tree* of drafted tokens through the target in one forward pass. A draft chain is a
tree whose every node has one child; no draft is a tree of just the root. The 4D
attention mask lets each node see its row's cache and its own ancestors; explicit
position ids put each node at the depth it would have in a plain decode.

Verification walks the tree from the root. At node v the target's next token is
    greedy:   y = argmax p_v
    sampling: y ~ p_v  (p_v warped by temperature and top-p)
and the walk goes on to v's child labelled y if there is one. Otherwise y is emitted
and the step ends. This is exact: every emitted token is the target's own choice
given exactly the tokens before it ("deterministic drafts: sample from p, accept on
equality"). A draft model that samples its tokens from q instead uses the
Leviathan/Chen rule: accept x with probability min(1, p(x)/q(x)), on rejection draw
from norm(max(0, p - q)), a bonus token from p when every draft token is accepted.

After verification the cache keeps, per row, the root and the accepted nodes (moved
left into order) and drops the rest, so batch rows advance independently. The model
runs behind a *target* (targets.py): a packed static-cache forward for Llama-family
models on CPU (packed_llama.py) or transformers' own forward for any other.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from ...core import ProofsmithError
from .completion import Completion
from .proposal import DraftSource, Proposal, Warp, _safe  # noqa: F401 (engine's API)
from .targets import open_target

# -------------------------------------------------------------------------- results


@dataclass
class DecodeStats:
    steps: int = 0  # target forward passes after the prefill
    drafted: int = 0  # draft nodes verified
    accepted: int = 0  # draft tokens accepted
    emitted: int = 0  # new tokens returned
    seconds: float = 0.0

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.drafted if self.drafted else 0.0

    @property
    def tokens_per_step(self) -> float:
        return self.emitted / self.steps if self.steps else 0.0


@dataclass
class Decoded:
    """The raw output of one `generate` call, token level: `tokens[b]`, the new tokens of
    row b (an EOS included); `logprobs[b]`, log p(token) under the target's unwarped
    distribution (temperature 1, no top-p), as search priorities use. `complete` turns
    rows into Completions."""

    tokens: list[list[int]]
    logprobs: list[list[float]]
    stats: DecodeStats


# -------------------------------------------------------------------------- the loop


class AdaptiveLength:
    """Draft length from the recent acceptance rate alpha (an exponential average).

    With k drafts a row yields 1 + sum_{i<=k} alpha^i tokens per step on average. A
    forward pass over M query tokens costs about c(M) = 1 for M = 1 and
    1 + width_penalty + verify_cost * M beyond, constants the target measured for itself
    (targets.py: `step_cost`). A batch drafts one depth for all its rows
    (`batch_budget`: its forward is as wide as its widest row): the k that maximises the
    rows' expected tokens per cost, or 0 (a plain step) when no k beats plain decoding;
    every `probe_every` plain steps a short probe refreshes the rates.
    """

    def __init__(self, max_tokens: int, width_penalty: float = 0.5, verify_cost: float = 0.06,
                 start_rate: float = 0.7, decay: float = 0.5, probe_every: int = 6):
        self.max_tokens, self.width_penalty, self.verify_cost = max_tokens, width_penalty, verify_cost
        self.rate, self.decay, self.probe_every, self.idle = start_rate, decay, probe_every, 0

    def cost(self, tokens: int) -> float:
        return 1.0 if tokens <= 1 else 1.0 + self.width_penalty + self.verify_cost * tokens

    def budget(self, batch: int = 1) -> int:
        return self.batch_budget([self.rate] * batch)

    def batch_budget(self, rates: Sequence[float], max_depth: int | None = None) -> int:
        """One draft depth for a whole batch, whose forward is B x (1 + k) tokens wide whichever
        rows draft: the k (at most `max_depth`) that maximises the expected tokens of all rows,
        sum_r (1 + sum_{i<=k} rate_r^i), per cost c(B (1 + k)) / c(B); 0 when none beats a plain
        step, with a probe of every row every `probe_every` plain steps."""
        batch, most = len(rates), min(self.max_tokens, max_depth or self.max_tokens)
        best_k, best_ratio = 0, float(batch)
        gains = [0.0] * batch
        for k in range(1, most + 1):
            gains = [g + rate**k for g, rate in zip(gains, rates)]
            ratio = (batch + sum(gains)) / (self.cost(batch * (1 + k)) / self.cost(batch))
            if ratio > best_ratio:
                best_k, best_ratio = k, ratio
        if best_k == 0:
            self.idle += 1
            if self.idle >= self.probe_every:
                self.idle, best_k = 0, min(2, most)
        return best_k

    def update(self, drafted_depth: int, accepted: int) -> None:
        if drafted_depth:
            self.rate = self.decay * self.rate + (1 - self.decay) * (accepted / drafted_depth)


def _tree_tensors(proposals: list[Proposal], pending: list[int], pad: int, device) -> tuple:
    """tokens, depth, ancestors, valid (B, 1+N) and per-row children maps of the trees."""
    batch = len(proposals)
    n = 1 + max((len(p.tokens) for p in proposals), default=0)
    tokens = torch.full((batch, n), pad, dtype=torch.long)
    depth = torch.zeros(batch, n, dtype=torch.long)
    valid = torch.zeros(batch, n, dtype=torch.bool)
    ancestors = torch.eye(n, dtype=torch.bool).repeat(batch, 1, 1)
    children: list[list[dict[int, int]]] = []
    for b, prop in enumerate(proposals):
        tokens[b, 0], valid[b, 0] = pending[b], True
        kids: list[dict[int, int]] = [{} for _ in range(n)]
        for j, (tok, parent) in enumerate(zip(prop.tokens, prop.parents)):
            i, par = j + 1, parent + 1  # tree index: 0 is the root
            tokens[b, i], valid[b, i], depth[b, i] = tok, True, depth[b, par] + 1
            ancestors[b, i] |= ancestors[b, par]
            kids[par].setdefault(tok, i)
        children.append(kids)
    return tokens.to(device), depth.to(device), ancestors.to(device), valid.to(device), children


class _TargetChoices:
    """The target's next token after each tree node of one row, drawn when first asked:
    argmax p (greedy) or one independent sample from the warped p (sampling: one uniform
    draw from the row's generator per token). Only the nodes the walk visits pay for a
    softmax and top-p's nucleus; the Leviathan rule also reads the dense p (`probs`)."""

    def __init__(self, logits: torch.Tensor, warp: Warp, generator):
        self.logits, self.warp, self.generator = logits, warp, generator
        self.argmax = logits.argmax(-1).tolist() if warp.greedy else None
        self._probs: dict[int, torch.Tensor] = {}

    def probs(self, node: int) -> torch.Tensor:
        if node not in self._probs:
            self._probs[node] = self.warp.probs(self.logits[node])
        return self._probs[node]

    def __getitem__(self, node: int) -> int:
        if self.argmax is not None:
            return self.argmax[node]
        return self.warp.sample(self.logits[node], self.generator)


def _verify_row(choices: _TargetChoices, prop: Proposal, kids: list[dict[int, int]]
                ) -> tuple[list[int], list[int], list[int]]:
    """Walk one row's tree. Returns (kept tree indices, emitted tokens, the node whose
    logits gave each emitted token)."""
    path, emitted, source = [0], [], []
    if prop.q is not None and choices.argmax is None:  # Leviathan/Chen rule on a chain sampled from q
        for j, x in enumerate(prop.tokens):
            p, q = choices.probs(j), prop.q[j].to(choices.logits.device, torch.float32)
            if float(torch.rand((), generator=choices.generator)) < min(1.0, float(p[x] / q[x].clamp_min(1e-20))):
                path.append(j + 1)
                emitted.append(x)
                source.append(j)
                continue
            residual = (p - q).clamp_min(0)
            residual = residual / residual.sum() if residual.sum() > 0 else p  # no 0/0 when p == q
            emitted.append(int(torch.multinomial(residual, 1, generator=choices.generator)))
            source.append(j)
            return path, emitted, source
        node = len(prop.tokens)
    else:  # deterministic drafts: follow the target's own choice while the tree has it
        node = 0
        while (child := kids[node].get(y := choices[node])) is not None:
            path.append(child)
            emitted.append(y)
            source.append(node)
            node = child
        emitted.append(y)  # the target's own token where the tree ends or disagrees
        source.append(node)
        return path, emitted, source
    emitted.append(choices[node])  # the bonus token: every draft was accepted
    source.append(node)
    return path, emitted, source


@dataclass
class Row:
    """One finished row of `stream`: `index`, its prompt's position in the call; `tokens` and
    `logprobs` as in `Decoded`; `seconds`, its share of the wall time (each step's time split
    evenly among the rows in it, a prefill among the rows it admitted)."""

    index: int
    tokens: list[int]
    logprobs: list[float]
    seconds: float


@torch.no_grad()
def generate(
    model,
    prompts: Sequence[Sequence[int]] | torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 0.0,
    top_p: float = 1.0,
    draft: DraftSource | None = None,
    eos_token_id: int | Sequence[int] | None = None,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    max_draft_tokens: int = 16,
    max_tree_nodes: int = 32,
    max_step_tokens: int | None = None,
    adaptive: bool = True,
    pad_token_id: int = 0,
    backend: str = "auto",
    prefix_cache: bool = True,
    stop_fn: Callable[[list[int]], bool] | None = None,
    max_rows: int | None = None,
) -> Decoded:
    """Generate up to `max_new_tokens` after each prompt (a list of token lists, or a
    (B, T) tensor without padding). Greedy when temperature == 0; with a `draft` the
    output is the same (greedy) or has the same distribution (sampling). The arguments
    are `stream`'s; this collects its rows in prompt order."""
    stats = DecodeStats()
    rows = sorted(stream(model, prompts, max_new_tokens, temperature=temperature, top_p=top_p, draft=draft,
                         eos_token_id=eos_token_id, generator=generator, max_draft_tokens=max_draft_tokens,
                         max_tree_nodes=max_tree_nodes, max_step_tokens=max_step_tokens, adaptive=adaptive,
                         pad_token_id=pad_token_id, backend=backend, prefix_cache=prefix_cache, stop_fn=stop_fn,
                         max_rows=max_rows, stats=stats), key=lambda row: row.index)
    return Decoded([r.tokens for r in rows], [r.logprobs for r in rows], stats)


@torch.no_grad()
def stream(
    model,
    prompts: Sequence[Sequence[int]] | torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 0.0,
    top_p: float = 1.0,
    draft: DraftSource | None = None,
    eos_token_id: int | Sequence[int] | None = None,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    max_draft_tokens: int = 16,
    max_tree_nodes: int = 32,
    max_step_tokens: int | None = None,
    adaptive: bool = True,
    pad_token_id: int = 0,
    backend: str = "auto",
    prefix_cache: bool = True,
    stop_fn: Callable[[list[int]], bool] | None = None,
    max_rows: int | None = None,
    stats: DecodeStats | None = None,
    first_mask: torch.Tensor | None = None,
) -> Iterator[Row]:
    """Each prompt's row as it finishes (continuous batching).

    At most `max_rows` rows (default: all) decode at once; the other prompts wait, in
    order, and each row that finishes hands its cache slot to the next one
    (`target.replace_rows`), so the batch stays full until the prompts run out.
    Identical prompts are prefilled once and their cache copied into each row. With one
    generator per prompt (`generator` a sequence) a row's tokens do not depend on which
    rows it shares the batch with, nor (deterministic drafts) on the drafts: each of its
    tokens is one draw from its own generator.
    `first_mask` (vocab,), additive: each row's first token is drawn from its logits plus
    the mask (a constrained start); its log-probability stays the model's own.
    """
    if isinstance(prompts, torch.Tensor):
        prompts = prompts.tolist()
    prompts = [list(map(int, p)) for p in prompts]
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ProofsmithError("generate needs at least one non-empty prompt")
    if max_new_tokens < 1:
        raise ProofsmithError("max_new_tokens must be at least 1")
    if max_rows is not None and max_rows < 1:
        raise ProofsmithError("max_rows must be at least 1")
    if generator is not None and not isinstance(generator, torch.Generator) and len(generator) != len(prompts):
        raise ProofsmithError(f"{len(generator)} generators for {len(prompts)} prompts")
    generators = generator if generator is not None and not isinstance(generator, torch.Generator) else None
    eos = set([eos_token_id] if isinstance(eos_token_id, int) else (eos_token_id or []))
    warp = Warp(temperature, top_p)
    device = next(model.parameters()).device
    started = time.perf_counter()
    stats = stats if stats is not None else DecodeStats()

    waiting = deque(range(len(prompts)))  # prompts not yet given a row, in order
    rows = [waiting.popleft() for _ in range(min(max_rows or len(prompts), len(prompts)))]  # prompt of each slot
    capacity = max(len(p) for p in prompts) + max_new_tokens + max_tree_nodes + 1
    target = open_target(model, [prompts[r] for r in rows], capacity, pad_token_id, backend, prefix_cache)

    contexts = {r: list(prompts[r]) for r in rows}
    out_tokens: dict[int, list[int]] = {r: [] for r in rows}
    out_logprobs: dict[int, list[float]] = {r: [] for r in rows}
    seconds = dict.fromkeys(rows, (time.perf_counter() - started) / len(rows))
    max_step_tokens = max_step_tokens or (32 if device.type == "cpu" else 512)  # CPU forwards slow down beyond
    width_penalty, verify_cost = target.step_cost
    lengths = {r: AdaptiveLength(max_draft_tokens, width_penalty, verify_cost) for r in rows}
    schedule = AdaptiveLength(max_draft_tokens, width_penalty, verify_cost)  # the batch's probes
    while rows:
        step_started = time.perf_counter()
        # the whole step verifies at most max_step_tokens (a batch shares them)
        per_row = min(max_tree_nodes, max(max_step_tokens // len(rows) - 1, 1))
        depth_now = schedule.batch_budget([lengths[r].rate for r in rows], per_row) if adaptive else max_draft_tokens
        budgets = [min(depth_now, max_new_tokens - len(out_tokens[r]) - 1) for r in rows]
        if draft is not None and max(budgets) > 0:
            proposals = draft.propose(list(rows), [contexts[r] for r in rows], budgets, warp)
            proposals = [_clip(p, per_row) for p in proposals]
        else:
            proposals = [Proposal() for _ in rows]
        tokens, depth, ancestors, valid, children = _tree_tensors(
            proposals, [contexts[r][-1] for r in rows], pad_token_id, device)
        logits = target.forward(tokens, depth, ancestors, valid)
        stats.steps += 1

        keep = torch.zeros(len(rows), tokens.shape[1], dtype=torch.long)
        counts = torch.zeros(len(rows), dtype=torch.long)
        ended = []
        for i, r in enumerate(rows):
            row_generator = generators[r] if generators is not None else generator
            choose = logits[i]
            if first_mask is not None and not out_tokens[r]:  # node 0 gives the row's first token
                choose = choose.clone()
                choose[0] += first_mask.to(choose.device, choose.dtype)
            path, emitted, source = _verify_row(_TargetChoices(choose, warp, row_generator), proposals[i],
                                                children[i])
            drafted_depth = int(depth[i].max())
            lengths[r].update(drafted_depth, len(path) - 1)
            stats.drafted += len(proposals[i].tokens)
            stats.accepted += len(path) - 1
            logp = logits[i, source].float().log_softmax(-1).gather(1, torch.tensor(emitted, device=device)[:, None])
            done = False
            for tok, lp in zip(emitted, logp[:, 0].tolist()):
                out_tokens[r].append(tok)
                out_logprobs[r].append(lp)
                contexts[r].append(tok)
                if tok in eos or len(out_tokens[r]) >= max_new_tokens or (stop_fn and stop_fn(out_tokens[r])):
                    done = True
                    break
            if draft is not None:
                draft.observe(r, contexts[r], done)
            keep[i, : len(path)] = torch.tensor(path)
            counts[i] = len(path)
            if done:
                ended.append(i)
        target.keep(tokens.shape[1], keep.to(device), counts.to(device))
        share = (time.perf_counter() - step_started) / len(rows)
        for r in rows:
            seconds[r] += share
        finished = [rows[i] for i in ended]

        # the finished rows' slots go to waiting prompts; slots left over leave the batch
        refill = ended[: len(waiting)]
        if refill:
            admit_started = time.perf_counter()
            new = [waiting.popleft() for _ in refill]
            target.replace_rows(torch.tensor(refill, dtype=torch.long, device=device), [prompts[r] for r in new])
            admitted = (time.perf_counter() - admit_started) / len(new)
            for i, r in zip(refill, new):
                rows[i] = r
                contexts[r], out_tokens[r], out_logprobs[r], seconds[r] = list(prompts[r]), [], [], admitted
                lengths[r] = AdaptiveLength(max_draft_tokens, width_penalty, verify_cost)
        if len(ended) > len(refill):
            leaving = set(ended[len(refill):])
            still = [i for i in range(len(rows)) if i not in leaving]
            target.select_rows(torch.tensor(still, dtype=torch.long, device=device))
            rows = [rows[i] for i in still]
        for r in finished:
            stats.emitted += len(out_tokens[r])
            stats.seconds = time.perf_counter() - started
            contexts.pop(r), lengths.pop(r)
            yield Row(r, out_tokens.pop(r), out_logprobs.pop(r), seconds.pop(r))
    stats.seconds = time.perf_counter() - started


def _clip(prop: Proposal, budget: int) -> Proposal:
    """At most `budget` nodes (parents precede children, so a prefix is still a tree).
    Depth is the source's business (it was asked for at most the row's budget)."""
    if len(prop.tokens) <= budget:
        return prop
    q = prop.q[:budget] if prop.q is not None else None
    return Proposal(prop.tokens[:budget], prop.parents[:budget], q)


# -------------------------------------------------------------------------- text level


def default_draft(rows: int) -> DraftSource | None:
    """Copying drafts for a single row; none for batches, where they were measured to cost
    more than they gain on CPU (docs/decoding.md)."""
    from .drafts import Combined, NgramPool, PromptLookup

    return Combined(PromptLookup(branches=4), NgramPool()) if rows == 1 else None


def complete(lm, prompts: Sequence[Sequence[int]], max_new_tokens: int, *, temperature: float = 1.0,
             top_p: float = 1.0, stop: Sequence[str] = (), generator: torch.Generator | None = None,
             draft: DraftSource | None | str = "default") -> list[Completion]:
    """One text continuation per prompt (token lists) through the engine; greedy at temperature 0.

    A row ends at EOS, at a token holding a newline when "\n" is a stop, or is cut after
    the token that completes any other stop string. `lm` is a models.LoadedModel.
    """
    tok = lm.tokenizer
    if draft == "default":
        draft = default_draft(len(prompts))
    eos, stop_fn = stop_rule(tok, stop)
    with torch.no_grad():
        out = generate(lm.model, [list(p) for p in prompts], max_new_tokens, temperature=temperature, top_p=top_p,
                       draft=draft, eos_token_id=eos, generator=generator, pad_token_id=tok.pad_token_id or 0,
                       stop_fn=stop_fn)
    return [cut(tok, tokens, logprobs, stop) for tokens, logprobs in zip(out.tokens, out.logprobs)]


def stop_rule(tok, stop: Sequence[str]) -> tuple[list[int], Callable[[list[int]], bool] | None]:
    """The engine's `eos_token_id` and `stop_fn` for text stops: EOS, any token holding a newline
    when "\n" is a stop, and a check of the row's last tokens for each longer stop string."""
    eos = [tok.eos_token_id] + (_newline_tokens(tok) if "\n" in stop else [])
    longer = [s for s in stop if s != "\n"]
    if not longer:
        return eos, None
    width = max(len(s) for s in longer) + 2  # tokens enough to hold a stop string

    def stop_fn(tokens: list[int]) -> bool:
        return any(s in tok.decode(tokens[-width:], skip_special_tokens=True) for s in longer)

    return eos, stop_fn


def cut(tok, tokens: list[int], logprobs: list[float], stop: Sequence[str]) -> Completion:
    """The completion up to the first stop: shortest token prefix whose text holds one."""
    if not stop:  # only EOS ends it, and generate stopped right there
        ended = bool(tokens) and tokens[-1] == tok.eos_token_id
        return _completion(tok.decode(tokens, skip_special_tokens=True), tokens, logprobs, ended)
    for k in range(1, len(tokens) + 1):
        text = tok.decode(tokens[:k], skip_special_tokens=True)
        cuts = [text.find(s) for s in stop if s in text]
        if cuts or tokens[k - 1] == tok.eos_token_id:
            return _completion(text[: min(cuts)] if cuts else text, tokens[:k], logprobs[:k], True)
    return _completion(tok.decode(tokens, skip_special_tokens=True), tokens, logprobs, False)


def _completion(text: str, tokens: list[int], logprobs: list[float], finished: bool) -> Completion:
    return Completion(text, float(sum(logprobs)), tuple(tokens), finished, tuple(logprobs))


_NEWLINE_TOKENS: dict[int, list[int]] = {}


def _newline_tokens(tok) -> list[int]:
    """Vocabulary ids whose text holds a newline (found once per tokenizer)."""
    if id(tok) not in _NEWLINE_TOKENS:
        pieces = tok.convert_ids_to_tokens(list(range(len(tok))))
        _NEWLINE_TOKENS[id(tok)] = [i for i, piece in enumerate(pieces)
                                    if piece and "\n" in tok.convert_tokens_to_string([piece])]
    return _NEWLINE_TOKENS[id(tok)]

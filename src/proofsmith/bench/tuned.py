"""`proofsmith bench tuned`: the default prover (shipped Coq-tuned adapter) against the plain model.

Side by side in one run, on held-out proof steps of a corpus the adapter was not trained
on: the test split's (state, tactic) pairs of the standard library's `Lists` corpus (the
one `bench prove` proves; the adapter's training data, provers/adapters/coq-smol/README.md,
leaves Lists and Bool out), or of $PROOFSMITH_TUNED_CORPUS (a `proofsmith extract coq`
directory). Both models see the prompt `proofsmith prove` asks with (the prove layout);
metrics in provers/training/evaluate.py. The ratios: step and first-token accuracy, tuned
over plain, and the gold tactics' perplexity, plain over tuned.
"""

from __future__ import annotations

import math
import os
import time

FULL_PAIRS, QUICK_PAIRS = 120, 8  # Lists has 117 held-out steps: all of them
BENCH_LIBRARY = "Lists"


def run(quick: bool = False) -> dict:
    import torch

    from ..core import ProofsmithError
    from ..demo import stdlib_corpus
    from ..provers.decoding.models import default_prover, load_model
    from ..provers.training.data import load_examples
    from ..provers.training.evaluate import step_metrics

    corpus = os.environ.get("PROOFSMITH_TUNED_CORPUS") or str(stdlib_corpus(BENCH_LIBRARY, progress=False))
    model, adapter = default_prover()
    if adapter is None:
        raise ProofsmithError("bench tuned: no shipped adapter (provers/adapters/coq-smol) to compare")
    examples = load_examples(corpus, "test", "tactics", layout="prove")
    examples = examples[:: max(1, len(examples) // (QUICK_PAIRS if quick else FULL_PAIRS))]
    examples = examples[:QUICK_PAIRS if quick else FULL_PAIRS]
    print(f"bench tuned: {len(examples)} held-out proof steps of {corpus}; plain model vs {adapter}", flush=True)
    results = {}
    for label, spec in (("plain", (model, None)), ("tuned", (model, adapter))):
        start = time.time()
        lm = load_model(*spec)
        torch.manual_seed(0)
        results[label] = {**step_metrics(lm, examples), "seconds": round(time.time() - start, 1)}
        print(f"  {label:<6} {results[label]}", flush=True)
    plain, tuned = results["plain"], results["tuned"]
    return {"corpus": corpus, "adapter": adapter, "pairs": len(examples), **results,
            "tuned_over_plain_step_accuracy": _ratio(tuned["step_accuracy"], plain["step_accuracy"]),
            "tuned_over_plain_first_token_accuracy": _ratio(tuned["first_token_accuracy"],
                                                            plain["first_token_accuracy"]),
            "plain_over_tuned_gold_perplexity": round(math.exp(tuned["logprob_per_token"] - plain["logprob_per_token"]), 3),
            "tuned_minus_plain_logprob_per_token": round(tuned["logprob_per_token"] - plain["logprob_per_token"], 4)}


def _ratio(ours: float, base: float) -> float | None:
    """ours / base; None when the base is 0 (no finite ratio: the two figures say it)."""
    return None if base == 0 else round(ours / base, 3)

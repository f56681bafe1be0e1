"""LintSeq: ours vs the `pylintseq` reference on the same HumanEval programs and K.

Both run single-threaded in this process, after one untimed warm-up program each
(pylint/astroid import and inference caches). Every state ours produces, except the
program itself, is then checked with the reference's own `file_linter` on a real
temporary file (`all_states_valid`), and every edit list is replayed (`replay_exact`).
"""

from __future__ import annotations

import tempfile
import time

import numpy as np


def reference_errors(text: str) -> list:
    from pylintseq.utils import file_linter

    with tempfile.NamedTemporaryFile(suffix=".py", mode="r+") as fp:
        fp.write(text)
        fp.seek(0)
        return file_linter(fp.name)


def reference_sequence(program: str) -> list[str] | None:
    from pylintseq.utils import inflate_edit_path, lintseq_backward_sampling_pythonic

    path = lintseq_backward_sampling_pythonic(
        program, children_per_round=1, top_k=1, max_population_size=1, max_depth=512,
        indent_bias_sampling_factor=1, ignore_imports=False, ignore_comments=True,
        ignore_global_defs=True, ignore_init_errors=False,
    )
    if path is None:
        return None
    return inflate_edit_path(program, path[0][0])[1]


def run(quick: bool = False) -> dict:
    import warnings

    from ..synth.lint_filter import PylintFilter
    from ..synth.lintseq import lintseq, replay
    from ..synth.lintseq_corpus import humaneval_programs, normalise

    warnings.filterwarnings("ignore")
    n_programs, k = (4, 2) if quick else (16, 3)
    sources = list(humaneval_programs())
    warmup, programs = normalise(sources[-1].program), [normalise(s.program) for s in sources[:n_programs]]
    print(f"LintSeq on {n_programs} HumanEval programs x K={k} sequences (one process each)")

    np.random.seed(1)
    reference_sequence(warmup)
    start = time.perf_counter()
    ref_edits = [len(reference_sequence(p) or []) for p in programs for _ in range(k)]
    ref_s = time.perf_counter() - start

    lintseq(warmup, PylintFilter(), np.random.default_rng(0))
    start = time.perf_counter()
    lint = PylintFilter()  # a fresh linter and memo: its set-up is timed too
    rng = np.random.default_rng(1)
    ours = [lintseq(p, lint, rng) for p in programs for _ in range(k)]
    ours_s = time.perf_counter() - start

    replay_exact = all(s is not None and replay(s.edits) == p for s, p in zip(ours, [p for p in programs for _ in range(k)]))
    states = [state for s in ours if s for state in s.states[:-1] if state]
    invalid = sum(1 for state in set(states) if reference_errors(state))
    samples = n_programs * k
    figures = {
        "programs": n_programs,
        "samples_per_program": k,
        "pylintseq_sequences_per_s": round(samples / ref_s, 3),
        "ours_sequences_per_s": round(samples / ours_s, 3),
        "pylintseq_mean_edits": round(float(np.mean(ref_edits)), 2),
        "ours_mean_edits": round(float(np.mean([len(s.edits) for s in ours if s])), 2),
        "ours_pylint_runs": lint.calls,
        "states_checked_with_reference": len(set(states)),
        "invalid_states": invalid,
        "replay_exact": replay_exact,
        "all_states_valid": invalid == 0 and all(s is not None for s in ours),
        "speedup_vs_pylintseq": round(ref_s / ours_s, 2),
    }
    print(f"{'':24}{'pylintseq':>12}{'ours':>12}")
    print(f"{'sequences / s':24}{figures['pylintseq_sequences_per_s']:>12}{figures['ours_sequences_per_s']:>12}")
    print(f"{'mean edits / sequence':24}{figures['pylintseq_mean_edits']:>12}{figures['ours_mean_edits']:>12}")
    print(f"speedup {figures['speedup_vs_pylintseq']}x; {len(set(states))} distinct states re-checked with "
          f"pylintseq's file_linter: {invalid} invalid; replay exact: {replay_exact}")
    return figures

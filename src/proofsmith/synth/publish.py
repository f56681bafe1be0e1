"""Saving a synth corpus as a Hugging Face dataset with a card (through `datasets.hub`).

OUT holds ``records.jsonl`` (the resumable work log: every item, kept or not) beside the
dataset proper: ``data/default/train-*.parquet`` and ``README.md``, which
``proofsmith dataset info|publish OUT`` and ``datasets.load_dataset(OUT)`` read.
OUT must be new, empty or proofsmith's; a file of the user's there is never replaced.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..datasets.hub import LEGACY_MANIFESTS, Card, save_dataset


def claim_corpus_dir(out: str | os.PathLike, command: str) -> Path:
    """OUT before anything is written: new, empty or an earlier synth run's (else one line, exit 2)."""
    from ..outdir import claim

    claim(out, command, legacy=LEGACY_MANIFESTS, writes=("README.md",))
    return Path(out)


def save_corpus(records: list[dict], out: str | os.PathLike, columns: Sequence[str], card: Card,
                features=None) -> Path:
    """Write `records` (only `columns`) as the dataset's default config, train split."""
    import datasets

    rows = [{c: r[c] for c in columns} for r in records]
    if rows:
        table = datasets.Dataset.from_list(rows, features=features)
    else:
        table = datasets.Dataset.from_dict({c: [] for c in columns}, features=features)
    return save_dataset(out, {"default": datasets.DatasetDict(train=table)}, card, default="default")


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def command_line(argv: Sequence[str] | None = None) -> str:
    import shlex
    import sys

    args = list(argv if argv is not None else sys.argv[1:])
    return "proofsmith " + " ".join(shlex.quote(a) for a in args)

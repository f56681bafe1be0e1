"""`proofsmith dataset info|split|publish DIR`."""

from __future__ import annotations

import json

import typer

dataset_app = typer.Typer(help="Inspect, re-split and publish datasets saved by proofsmith.", no_args_is_help=True)


@dataset_app.command("info")
def info(directory: str = typer.Argument(..., help="A dataset directory (README.md + data/).")) -> None:
    """Rows per config and split (from the Parquet footers), then the corpus statistics when present."""
    from ..datasets.hub import dataset_info

    counts = dataset_info(directory)
    for config, splits in counts.items():
        print(f"{config:16s} " + "  ".join(f"{s}={n}" for s, n in splits.items()))
    from pathlib import Path

    from ..extract.state_store import theorems_file

    if theorems_file(Path(directory, "raw")).is_file():
        from ..extract.coq_run import merged_statistics

        print(json.dumps(merged_statistics(Path(directory)), sort_keys=True))


@dataset_app.command("split")
def split(
    directory: str = typer.Argument(..., help="An extraction output directory (with raw/)."),
    seed: int = typer.Option(3407, "--seed"),
    held_out: int | None = typer.Option(None, "--held-out", help="Theorems in validation and in test (default 5%, at most 2000)."),
) -> None:
    """Rebuild the splits (random, novel_premises, by_file) and the card from raw/."""
    from pathlib import Path

    from ..core import ProofsmithError
    from ..datasets.coq import build_dataset
    from ._options import at_least

    at_least(0, seed=seed, held_out=held_out)
    from ..extract.state_store import theorems_file

    if not theorems_file(Path(directory, "raw")).is_file():
        raise ProofsmithError(f"{directory}: no raw/theorems.jsonl.gz (run `proofsmith extract coq` first)")
    info_path = Path(directory, "raw", "card.json")
    card_info = json.loads(info_path.read_text()) if info_path.is_file() else None
    if card_info is None:
        raise ProofsmithError(f"{directory}: no raw/card.json")
    print(json.dumps(build_dataset(directory, card_info, seed=seed, held_out=held_out), sort_keys=True))


@dataset_app.command("publish")
def publish(
    directory: str = typer.Argument(...),
    repo: str = typer.Option(..., "--repo", help="ORG/NAME on the Hugging Face Hub."),
    private: bool = typer.Option(False, "--private"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be uploaded; no network."),
) -> None:
    """Push README.md and data/ to a Hub dataset repo (token: HF_TOKEN or your login)."""
    from ..datasets.hub import publish as push

    files = push(directory, repo, private=private, dry_run=dry_run)
    verb = "would upload" if dry_run else "uploaded"
    for path, size in files:
        print(f"{verb} {path} ({size} bytes) -> datasets/{repo}")
    print(f"{len(files)} files, {sum(s for _, s in files)} bytes{' (dry run)' if dry_run else ''}")


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")

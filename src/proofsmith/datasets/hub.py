"""Save, describe and publish a Hugging Face dataset made of several configs. Generic:
any corpus (Coq traces, LintSeq, UnitCoder...) goes through the same four calls::

    from proofsmith.datasets.hub import Card, save_dataset, dataset_info, publish

    card = Card(pretty_name="My corpus", license="MIT", description="...", command="proofsmith ...",
                versions={"coq": "8.16.1"}, sources="...", task_categories=["text-generation"])
    save_dataset(out_dir, {"default": DatasetDict(train=ds)}, card, default="default")
    dataset_info(out_dir)            # {config: {split: rows}} from the Parquet metadata
    publish(out_dir, "org/name", private=False, dry_run=True)   # what would be uploaded

On disk: ``data/<config>/<split>-00000-of-00001.parquet`` and a ``README.md`` whose
YAML header (license, task categories, size category, configs and splits) is what the
Hub and ``datasets.load_dataset(out_dir[, config])`` read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import ProofsmithError
from .parquet_stream import ParquetRows, Streamed

# SPDX id -> the Hub's license key (the Hub has its own short list; the rest is "other").
_HUB_LICENSES = {
    "MIT": "mit", "Apache-2.0": "apache-2.0", "BSD-2-Clause": "bsd-2-clause", "BSD-3-Clause": "bsd-3-clause",
    "LGPL-2.1-only": "lgpl-2.1", "LGPL-2.1-or-later": "lgpl-2.1", "LGPL-3.0-only": "lgpl-3.0",
    "LGPL-3.0-or-later": "lgpl-3.0", "GPL-2.0-only": "gpl-2.0", "GPL-2.0-or-later": "gpl-2.0",
    "GPL-3.0-only": "gpl-3.0", "GPL-3.0-or-later": "gpl-3.0", "MPL-2.0": "mpl-2.0", "CC-BY-4.0": "cc-by-4.0",
    "CECILL-B": "cecill-b", "CECILL-C": "cecill-c", "CECILL-2.1": "cecill-2.1",
}


@dataclass
class Card:
    pretty_name: str
    license: str  # SPDX id (or several joined by " AND ")
    description: str
    command: str = ""  # the exact command that built it
    versions: Mapping[str, str] = field(default_factory=dict)
    sources: str = ""  # markdown: where the data came from
    schema: str = ""  # markdown: what the columns mean
    how_built: str = ""
    task_categories: list[str] = field(default_factory=lambda: ["text-generation"])
    tags: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=lambda: ["en"])
    extra_statistics: Mapping[str, Any] = field(default_factory=dict)


def hub_license(spdx: str) -> str:
    ids = {s.strip() for s in spdx.replace(" OR ", " AND ").split(" AND ") if s.strip()}
    keys = {_HUB_LICENSES.get(i, "other") for i in ids}
    return keys.pop() if len(keys) == 1 else "other"


def size_category(n: int) -> str:
    for bound, name in [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]:
        if n < bound:
            return name
    return "n>10M"


# zstd: a quarter of snappy's size on proof states (repeated contexts), read by every Parquet reader;
# without dictionaries (zstd finds the repeats), min/max statistics (long strings, in every footer) or
# the Arrow schema's copy in the footer (the Parquet schema gives the same types back; the HF features are kept)
PARQUET_COMPRESSION, PARQUET_LEVEL = "zstd", 9
PARQUET_OPTIONS = {"compression": PARQUET_COMPRESSION, "compression_level": PARQUET_LEVEL, "use_dictionary": False,
                   "write_statistics": False, "store_schema": False}


def open_parquet(path: Path, schema: Any, **options: Any) -> Any:
    import pyarrow.parquet as pq

    return pq.ParquetWriter(str(path), schema, **PARQUET_OPTIONS, **options)


def close_parquet(writer: Any, schema: Any) -> None:
    """The schema's metadata (the HF features) into the footer, then the file closed."""
    if schema.metadata:
        writer.add_key_value_metadata({k.decode(): v.decode() for k, v in schema.metadata.items()})
    writer.close()


def _write_parquet(ds: Any, path: Path) -> None:
    """`ds` as one Parquet file, zstd-compressed (datasets' to_parquet fixes snappy), features kept in its schema."""
    table = ds.with_format("arrow")[:]
    writer = open_parquet(path, table.schema)
    writer.write_table(table, row_group_size=10_000)
    close_parquet(writer, table.schema)


def save_dataset(out_dir: str | os.PathLike, configs: Mapping[str, Any], card: Card, default: str | None = None,
                 fill: Any = None) -> Path:
    """Write every config's splits as Parquet under out_dir/data and the card README.md.

    A split is a `datasets.Dataset`, or `Streamed(features)`: then `fill(writers)` writes
    the rows of every streamed split in one pass, ``writers[config][split].add(row)``, each
    file holding at most `batch_rows` rows and `ROW_GROUP_BYTES` of columns in memory.
    out_dir must be new, empty or proofsmith's (outdir.py): only the Parquet files and the
    card proofsmith wrote there are replaced or removed, never a file of the user's.
    """
    import tempfile

    import datasets

    from ..outdir import claim

    datasets.disable_progress_bars()
    out = Path(out_dir)
    target = claim(out, legacy=LEGACY_MANIFESTS)
    with tempfile.TemporaryDirectory(dir=out, prefix=".streamed-") as staging:
        counts = {c: {s: len(ds) for s, ds in dsd.items() if not isinstance(ds, Streamed)} for c, dsd in configs.items()}
        writers = {c: {s: ParquetRows(Path(staging) / f"{c}-{s}.parquet", ds.features, ds.batch_rows)
                       for s, ds in dsd.items() if isinstance(ds, Streamed)} for c, dsd in configs.items()}
        if any(writers.values()):
            fill(writers)
            for c, by_split in writers.items():
                for s, w in by_split.items():
                    w.close()
                    counts[c][s] = w.written
        files: dict[str, Any] = {}
        for config, dsd in configs.items():
            for split, ds in dsd.items():
                name = f"data/{config}/{split}-00000-of-00001.parquet"
                if isinstance(ds, Streamed):
                    files[name] = lambda tmp, f=Path(staging) / f"{config}-{split}.parquet": os.replace(f, tmp)
                else:
                    files[name] = lambda tmp, ds=ds: _write_parquet(ds, tmp)
        counts = {c: {s: counts[c][s] for s in dsd} for c, dsd in configs.items()}  # the splits' order, as given
        text = dataset_card(counts, card, default or next(iter(configs)))
        files["README.md"] = lambda tmp: tmp.write_text(text)
        target.replace(files, stale_under="data/")  # the previous build's files that this one does not write go
    return out


# Files only proofsmith writes in a dataset directory: one made before the .proofsmith marker is recognised by them.
LEGACY_MANIFESTS = ("raw/files.run.json", "records.jsonl.run.json")


def dataset_card(counts: Mapping[str, Mapping[str, int]], card: Card, default: str) -> str:
    """README.md: the Hub's YAML header, then sources, statistics, schema, build, loading."""
    largest = max((sum(s.values()) for s in counts.values()), default=0)
    yaml = ["---", f"license: {hub_license(card.license)}", f"pretty_name: {card.pretty_name}",
            "language:", *(f"- {lang}" for lang in card.language),
            "task_categories:", *(f"- {t}" for t in card.task_categories),
            "tags:", *(f"- {t}" for t in (card.tags or ["proofsmith"])),
            "size_categories:", f"- {size_category(largest)}", "configs:"]
    for config, splits in counts.items():
        yaml.append(f"- config_name: {config}")
        if config == default:
            yaml.append("  default: true")
        yaml.append("  data_files:")
        for split in splits:
            yaml += [f"  - split: {split}", f"    path: data/{config}/{split}-*.parquet"]
    yaml.append("---")
    stats = ["| config | split | rows |", "|---|---|---:|"]
    stats += [f"| {c} | {s} | {n} |" for c, splits in counts.items() for s, n in splits.items()]
    stats += [f"\n- {k}: {v}" for k, v in card.extra_statistics.items()]
    versions = "\n".join(f"- {k}: {v}" for k, v in card.versions.items())
    body = f"""
# {card.pretty_name}

{card.description}

License of the data: `{card.license}` (SPDX).

## Sources

{card.sources}

## Statistics

{chr(10).join(stats)}

## Schema

{card.schema}

## How it was built

{card.how_built}

```
{card.command}
```

Versions:
{versions}

## How to load it

```python
from datasets import load_dataset
ds = load_dataset("PATH_OR_REPO", "{default}")   # configs: {", ".join(counts)}
```
"""
    return "\n".join(yaml) + "\n" + body


def dataset_info(out_dir: str | os.PathLike) -> dict[str, dict[str, int]]:
    """{config: {split: rows}} read from the Parquet footers (no data loaded); a file that is no
    Parquet (cut short, overwritten) is one ProofsmithError naming it."""
    import pyarrow.parquet as pq

    data = Path(out_dir) / "data"
    if not data.is_dir():
        raise ProofsmithError(f"{out_dir}: no data/ directory (not a dataset saved by proofsmith)")
    info: dict[str, dict[str, int]] = {}
    for f in sorted(data.glob("*/*.parquet")):
        split = f.name.split("-", 1)[0]
        info.setdefault(f.parent.name, {}).setdefault(split, 0)
        with _readable_parquet(f):
            info[f.parent.name][split] += pq.ParquetFile(f).metadata.num_rows
    return info


def parquet_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every row of one Parquet file of a saved dataset, or one ProofsmithError naming a broken file."""
    import pyarrow.parquet as pq

    with _readable_parquet(Path(path)):
        return pq.read_table(path).to_pylist()


@contextmanager
def _readable_parquet(path: Path) -> Iterator[None]:
    """A file that is no Parquet (cut short, overwritten, not one at all) as one line naming it."""
    import pyarrow as pa

    try:
        yield
    except (OSError, ValueError, pa.ArrowException) as exc:  # ArrowInvalid is a ValueError
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ProofsmithError(f"{path}: not a readable Parquet file ({reason[:200]}); rebuild it "
                              f"(`proofsmith dataset split`, or the command that made it)") from None


def publish(out_dir: str | os.PathLike, repo: str, private: bool = False, dry_run: bool = False,
            token: str | None = None) -> list[tuple[str, int]]:
    """Upload README.md and data/ to the Hub dataset repo; returns (path, bytes) uploaded."""
    out = Path(out_dir)
    if not (out / "README.md").is_file() or not (out / "data").is_dir():
        raise ProofsmithError(f"{out_dir}: not a saved dataset (README.md and data/ needed)")
    if "/" not in repo:
        raise ProofsmithError(f"--repo must be ORG/NAME, got {repo!r}")
    files = [(str(p.relative_to(out)), p.stat().st_size) for p in [out / "README.md", *sorted((out / "data").rglob("*.parquet"))]]
    if dry_run:
        return files
    from huggingface_hub import HfApi, get_token

    token = token or os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise ProofsmithError("no Hugging Face token: set HF_TOKEN or run `huggingface-cli login`")
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        raise ProofsmithError("HF_HUB_OFFLINE is set: cannot publish without network")
    api = HfApi(token=token)
    try:
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(out), repo_id=repo, repo_type="dataset",
                          allow_patterns=[path for path, _ in files], commit_message="proofsmith dataset publish")
    except Exception as exc:  # network, auth, permissions: one line for the user
        raise ProofsmithError(f"publishing to {repo} failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    return files

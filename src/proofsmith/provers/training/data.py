"""Training pairs for provers, in the layout `proofsmith prove` asks in (provers/search/prompts.py).

Two kinds of pair, both read from the Coq corpus (docs/coq-corpus.md) or a tasks JSONL:
  * tactic: ``tactic_prompt(state_before)`` -> ``"<tactic>\\n"`` (one proof step)
  * proof:  ``proof_prompt(statement)``    -> ``" <tactic> <tactic> ... Qed."`` (whole proof;
            each sentence is one step for DCO-step)
The ``bare`` layout drops prompts.py's worked examples (statement + "\nProof.", or the
state block alone): several times fewer tokens per pair, for provers that will be
sampled in that same layout (``bench dco``). Only target tokens are trained on (the prompt is masked); targets are tokenised on their
own and appended to the prompt's tokens, exactly as generation sees them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ...coq.sentences import SentenceError, split_sentences
from ...coq.syntax import PROOF_END_RE, PROOF_START_RE, strip_comments
from ...core import ProofsmithError
from ..search import prompts

PAIRS = ("both", "tactics", "proofs")
LAYOUTS = ("prove", "bare")
_PROOF_OPENER = PROOF_START_RE
_CLOSER = PROOF_END_RE


@dataclass(frozen=True)
class Example:
    prompt: str
    target: str
    steps: tuple[tuple[int, int], ...]  # character spans of the proof steps inside target


def proof_body(proof: str) -> str | None:
    """'Proof. tac1. tac2. Qed.' -> 'tac1. tac2.' on one line; None if nothing is left."""
    body = " ".join(strip_comments(proof).split())
    body = _CLOSER.sub("", body).strip()
    if _PROOF_OPENER.match(body):
        body = body.split(".", 1)[1].strip() if "." in body else ""
    return body or None


def proof_prompt(statement: str, layout: str = "prove") -> str:
    if layout == "bare":
        return f"{' '.join(statement.split())}\nProof."
    return prompts.proof_prompt(statement)


def tactic_prompt(state: str, layout: str = "prove") -> str:
    if layout == "bare":
        return prompts.tactic_prompt(state)[len(prompts.TACTIC_PREFIX):]
    return prompts.tactic_prompt(state)


def proof_example(statement: str, proof: str, layout: str = "prove") -> Example | None:
    body = proof_body(proof)
    if body is None:
        return None
    target = f" {body} Qed."
    try:
        steps = tuple((s.start, s.end) for s in split_sentences(target))
    except SentenceError:
        return None
    return Example(proof_prompt(statement, layout), target, steps)


def tactic_example(state_before: str, tactic: str, layout: str = "prove") -> Example | None:
    tactic = " ".join(tactic.split())
    if not tactic or _PROOF_OPENER.match(tactic):  # `Proof.` changes no goal: not a step to learn
        return None
    target = f"{tactic}\n"
    return Example(tactic_prompt(state_before, layout), target, ((0, len(target)),))


def load_examples(path: str | Path, split: str = "train", pairs: str = "both", config: str = "random",
                  limit: int | None = None, layout: str = "prove") -> list[Example]:
    """Pairs from a corpus directory (data/<config>/<split>-*.parquet) or a Coq tasks JSONL."""
    if pairs not in PAIRS:
        raise ProofsmithError(f"unknown --pairs {pairs!r} (one of {', '.join(PAIRS)})")
    if layout not in LAYOUTS:
        raise ProofsmithError(f"unknown --layout {layout!r} (one of {', '.join(LAYOUTS)})")
    path = Path(path)
    if not path.exists():
        raise ProofsmithError(f"no such dataset: {path}")
    if path.is_file():
        examples = [e for e in (_task_example(t, path, layout) for t in _read_jsonl(path)) if e]
    else:
        examples = []
        if pairs in ("both", "proofs"):
            examples += [e for row in _parquet_rows(path, config, split) if not row.get("admitted")
                         for e in [proof_example(row["statement"], row["proof"], layout)] if e]
        if pairs in ("both", "tactics"):
            examples += [e for row in _parquet_rows(path, "tactics", split)
                         for e in [tactic_example(row["state_before"], row["tactic"], layout)] if e]
    if not examples:
        raise ProofsmithError(f"{path}: no training pairs found (split {split!r}, pairs {pairs!r})")
    return examples[:limit] if limit else examples


def _task_example(task: dict, path: Path, layout: str) -> Example | None:
    if task.get("kind", "coq") != "coq" or "statement" not in task or not task.get("reference"):
        raise ProofsmithError(f"{path}: each line must be a Coq task with statement and reference")
    return proof_example(task["statement"], task["reference"], layout)


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ProofsmithError(f"{path}:{number}: not JSON: {exc.msg}") from exc
    return rows


def corpus_rows(root: str | Path, split: str = "train", config: str = "random") -> list[dict]:
    """The rows of one split of a Coq corpus directory (`proofsmith extract coq`)."""
    return _parquet_rows(Path(root), config, split)


def _parquet_rows(root: Path, config: str, split: str) -> list[dict]:
    from ...datasets.hub import parquet_rows

    files = sorted((root / "data" / config).glob(f"{split}-*.parquet"))
    if not files:
        raise ProofsmithError(f"{root}: no data/{config}/{split}-*.parquet (is it a proofsmith Coq corpus?)")
    return [row for f in files for row in parquet_rows(f)]


def tokenize(tokenizer, example: Example) -> tuple[list[int], list[int], list[int]]:
    """(prompt ids, target ids, step index of each target token)."""
    prompt_ids = tokenizer(example.prompt, add_special_tokens=False)["input_ids"]
    enc = tokenizer(example.target, add_special_tokens=False, return_offsets_mapping=True)
    starts = [start for start, _ in enc["offset_mapping"]]
    step_of_token = [_step_at(example.steps, start) for start in starts]
    return prompt_ids, enc["input_ids"], step_of_token


def _step_at(steps: tuple[tuple[int, int], ...], char: int) -> int:
    """The step a character belongs to: the last one starting at or before it."""
    index = 0
    for i, (start, _) in enumerate(steps):
        if start <= char:
            index = i
    return index

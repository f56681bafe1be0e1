"""N candidates per task from a model: `proofsmith sample TASKS --n N --out SAMPLES`.

Every task kind gets its prompt and its stop strings here (`prompt_for`); the samples
are HumanEval's sample lines (`task_id`, `completion`) plus how each was made, which
`check` and `eval` read as they are:

    {"task_id", "completion", "model", "adapter", "temperature", "top_p", "seed", "sample",
     "max_new_tokens", "tokens", "logprob", "finished", "seconds"}

The N samples of a task share their prompt: it is encoded once and its KV cache copied
into N rows, and rows that finish hand their slot to the next task's rows (the engine's
`stream`), so the batch stays full. Sample j of task t draws every token from its own
generator, seeded from (seed, t, j): a task's samples do not depend on the batch, the
order of the tasks, a resumed run or the drafts (deterministic drafts sample each token
from the target once), so a seed reproduces the file (all but the wall-clock `seconds`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core import ProofsmithError, Task
from ..runs import Jsonl, json_line, read_complete_jsonl, shielded

# Codex's stop sequences for HumanEval (Chen et al. 2021, section 2.3): a line at column 0
# starting a class, a def, an if, a print or a comment ends the function body
PYTHON_STOPS = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
COQ_STOPS = ("Qed.", "Defined.")  # the completion is the script before it (check accepts it without Qed.)
MPI_STOPS = ("\n```",)  # a whole C program: it ends at EOS, or where the model closes its code block
MPI_PROMPT = ("Complete this {language} MPI program: add the MPI calls it needs, and write the whole program.\n\n"
              "```{lang}\n{statement}\n```\n\nThe complete program:\n\n```{lang}\n")


@dataclass(frozen=True)
class Prompt:
    text: str
    stop: tuple[str, ...]


def prompt_for(task: Task) -> Prompt:
    """The text a model continues for `task`, and the strings that end its completion."""
    if task.kind == "python":  # HumanEval: the signature and docstring; the completion is the body
        return Prompt(task.statement, PYTHON_STOPS)
    if task.kind == "coq":  # the prelude, the few-shot proofs, the statement, "Proof."
        from .search.prompts import proof_prompt

        prelude = task.context.strip()
        return Prompt((prelude + "\n\n" if prelude else "") + proof_prompt(task.statement), COQ_STOPS)
    if task.kind == "mpi":  # docs/mpi.md: the statement is the program without its MPI calls (or a
        # prompt); a candidate is the whole completed program, so the model writes it in a code block
        lang = "cpp" if str(task.meta.get("lang", "c")) == "cpp" else "c"
        return Prompt(MPI_PROMPT.format(lang=lang, language="C++" if lang == "cpp" else "C",
                                        statement=task.statement.strip()), MPI_STOPS)
    raise ProofsmithError(f"task {task.id}: sample has no prompt for kind {task.kind!r} (python, coq, mpi)")


def row_seed(seed: int, task_id: str, sample: int) -> int:
    """The seed of sample `sample` of `task_id`: independent of every other task and sample."""
    digest = hashlib.sha256(f"{seed}\0{task_id}\0{sample}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


@dataclass(frozen=True)
class SampleStep:
    """Task -> {"task_id", "samples": [n sample lines]}. Called on one task it samples that
    task alone; `stream(tasks)` samples many with continuous batching (the `Batched` executor).
    Only settings live here (picklable); the model loads once per process."""

    n: int
    model: str | None = None
    adapter: str | None = None
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 512
    seed: int = 0
    batch: int | None = None  # rows decoded at once (default: max(n, 16))
    backend: str = "engine"  # or "vllm"
    draft: bool = True  # drafts where the engine's cost model says they pay

    def __call__(self, task: Task) -> dict:
        return next(self.stream([task]))[1]

    def stream(self, tasks: Sequence[Task]) -> Iterator[tuple[int, dict]]:
        """(position in `tasks`, record) for each task, as its last sample finishes."""
        if self.backend == "vllm":
            from .decoding.vllm_backend import sample_with_vllm

            yield from sample_with_vllm(self, tasks, [prompt_for(t) for t in tasks], row_seed)
            return
        from .decoding.models import cached_model

        lm = cached_model(self.model, self.adapter)
        prompts = [prompt_for(t) for t in tasks]
        by_stop: dict[tuple[str, ...], list[int]] = {}  # one engine stream per stop rule (per kind)
        for i, p in enumerate(prompts):
            by_stop.setdefault(p.stop, []).append(i)
        for stop, positions in by_stop.items():
            yield from self._stream_group(lm, [tasks[i] for i in positions], [prompts[i] for i in positions],
                                          stop, positions)

    def _stream_group(self, lm, tasks: list[Task], prompts: list[Prompt], stop: tuple[str, ...],
                      positions: list[int]) -> Iterator[tuple[int, dict]]:
        from .decoding.engine import cut, stop_rule

        tok = lm.tokenizer
        ids = [tok(p.text)["input_ids"] for p in prompts]
        for task, row in zip(tasks, ids):
            if not row:
                raise ProofsmithError(f"task {task.id}: its prompt is empty")
        eos, stop_fn = stop_rule(tok, stop)
        pending: list[dict[int, dict]] = [{} for _ in tasks]  # sample index -> line, per task
        for t, j, row in sample_rows(lm.model, ids, [task.id for task in tasks], self.n, seed=self.seed,
                                     temperature=self.temperature, top_p=self.top_p,
                                     max_new_tokens=self.max_new_tokens, eos_token_id=eos, stop_fn=stop_fn,
                                     pad_token_id=tok.pad_token_id or 0, batch=self.batch, draft=self.draft):
            completion = cut(tok, row.tokens, row.logprobs, stop)
            pending[t][j] = self.line(tasks[t].id, j, completion.text, completion.tokens, completion.logprob,
                                      completion.finished, row.seconds, lm.name)
            if len(pending[t]) == self.n:
                samples, pending[t] = [pending[t][k] for k in range(self.n)], {}
                yield positions[t], {"task_id": tasks[t].id, "samples": samples}

    def line(self, task_id: str, sample: int, text: str, tokens: int, logprob: float, finished: bool,
             seconds: float, model: str) -> dict:
        """One sample line (every backend writes the same fields)."""
        return {"task_id": task_id, "completion": text, "model": model, "adapter": self.adapter,
                "temperature": self.temperature, "top_p": self.top_p, "seed": self.seed, "sample": sample,
                "max_new_tokens": self.max_new_tokens, "tokens": tokens, "logprob": round(logprob, 6),
                "finished": finished, "seconds": round(seconds, 4)}

    def settings(self) -> dict:
        """What a resumed run must share (speed-only settings, batch and draft, are left out)."""
        return {"model": self.model, "adapter": self.adapter, "n": self.n, "temperature": self.temperature,
                "top_p": self.top_p, "max_new_tokens": self.max_new_tokens, "seed": self.seed,
                "backend": self.backend}


def sample_rows(model, prompts: Sequence[Sequence[int]], keys: Sequence[str], n: int, *, seed: int = 0,
                temperature: float = 0.8, top_p: float = 0.95, max_new_tokens: int = 512, eos_token_id=None,
                stop_fn=None, pad_token_id: int = 0, batch: int | None = None, draft: bool = True,
                backend: str = "auto", prefix_cache: bool = True):
    """(task t, sample j, engine Row) for n samples of each token prompt, as each finishes: the
    token level of `sample` (a tiny model without a tokenizer runs it too).

    Task t's n rows share its prompt (prefilled once); at most `batch` rows (default
    max(n, 16)) decode at once and a finished row's slot goes to the next waiting row. Row
    (t, j) draws from a generator seeded by row_seed(seed, keys[t], j). Drafts: the copying
    sources, at lengths the engine's cost model picks per row (none where they would not pay).
    """
    import torch

    from .decoding.drafts import Combined, NgramPool, PromptLookup
    from .decoding.engine import stream

    device = next(model.parameters()).device
    rows = [(t, j) for t in range(len(prompts)) for j in range(n)]  # task t's rows are consecutive
    generators = [torch.Generator(device=device).manual_seed(row_seed(seed, keys[t], j)) for t, j in rows]
    for row in stream(model, [prompts[t] for t, _ in rows], max_new_tokens, temperature=temperature, top_p=top_p,
                      draft=Combined(PromptLookup(branches=4), NgramPool()) if draft else None,
                      eos_token_id=eos_token_id, generator=generators, pad_token_id=pad_token_id, stop_fn=stop_fn,
                      max_rows=batch or max(n, 16), backend=backend, prefix_cache=prefix_cache):
        t, j = rows[row.index]
        yield t, j, row


class Batched:
    """An executor for a step that takes many items at once (`step.stream(items)`), in this process."""

    def map(self, step: SampleStep, items: Sequence[Task]) -> Iterator[tuple[int, dict]]:
        return step.stream(items)


class SampleLines(Jsonl):
    """The samples file: a task's record is its n lines, written together, in task order.

    A task is done when its n lines are there; a kill that tore a task's lines (or a line)
    leaves it out, and the reopened file is cut back to the last whole task.
    """

    def __init__(self, path, n: int):
        super().__init__(path, match="key")
        self.n = n

    def read(self) -> list[dict]:
        lines = read_complete_jsonl(self.path, repair=True)
        n = self._written_n()  # a resume with another --n is refused by the run, and cuts nothing here
        records: list[dict] = []
        for start in range(0, len(lines), n):
            group = lines[start:start + n]
            ids = {str(line.get("task_id")) for line in group}
            if len(group) < n and start + len(group) == len(lines) and len(ids) == 1:
                self._cut_to(len(records) * n)  # the last task's lines were torn
                break
            if len(ids) != 1 or len(group) < n:
                raise ProofsmithError(f"{self.path}: lines {start + 1}-{start + len(group)} are not {n} "
                                      f"samples of one task; use another --out")
            records.append({"task_id": group[0].get("task_id"), "samples": group})
        return records

    def _written_n(self) -> int:
        """The n of the run that wrote the file (its manifest), else this run's."""
        try:
            n = json.loads(Path(f"{self.path}.run.json").read_text(encoding="utf-8"))["settings"]["n"]
        except (OSError, ValueError, KeyError, TypeError):
            return self.n
        return n if isinstance(n, int) and n > 0 else self.n

    def _cut_to(self, keep_lines: int) -> None:
        data = self.path.read_bytes()
        end = 0
        for _ in range(keep_lines):
            end = data.index(b"\n", end) + 1
        with shielded():
            self.path.write_bytes(data[:end])

    def put(self, position: int, record: dict) -> list[dict]:
        self._waiting[position] = record
        written = []
        while self._next in self._waiting:
            r = self._waiting.pop(self._next)
            with shielded():  # a signal waits for the task's lines: whole tasks only
                self._f.write("".join(json_line(line) for line in r["samples"]))
                self._f.flush()
            written.append(r)
            self._next += 1
        return written


def sample_tasks(tasks: Sequence[Task], step: SampleStep, out, *, progress: bool = True, inputs=()) -> dict:
    """Sample every task not yet in `out` (resumable); returns counts and throughput."""
    from ..runs import run_resumable

    started = time.perf_counter()
    outcome = run_resumable(tasks, step, SampleLines(out, step.n), key=lambda t: t.id, executor=Batched(),
                            settings=step.settings(), inputs=inputs, progress=progress, desc="sample",
                            unit="task", postfix=lambda r: {"tokens": sum(s["tokens"] for s in r["samples"])})
    new = outcome.records[len(outcome.records) - outcome.ran:] if outcome.ran else []
    tokens = sum(s["tokens"] for r in new for s in r["samples"])
    seconds = time.perf_counter() - started
    return {"tasks": outcome.ran, "resumed": outcome.resumed, "samples": outcome.ran * step.n, "tokens": tokens,
            "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 2) if seconds else 0.0}

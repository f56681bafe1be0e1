"""Batch proving: map `prove_task` over theorems with an executor, append results as they come.

The step (`runner.prove_task`) does not know where it runs; an executor only decides
that: in this process, a local pool of worker processes (each loads the model once),
or Ray tasks on a cluster (`ray.init(address)`). Results are appended one flushed
JSONL line per theorem; theorems already in the file are skipped, so a killed run
resumes where it stopped.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from ...core import Task
from ...io import JsonlAppender
from .runner import ProverConfig, prove_task

Job = tuple[Task, ProverConfig]


def _run_job(job: Job) -> dict[str, Any]:
    return prove_task(*job)


def run_in_process(jobs: Sequence[Job]) -> Iterator[dict[str, Any]]:
    for job in jobs:
        yield _run_job(job)


def run_in_pool(jobs: Sequence[Job], workers: int) -> Iterator[dict[str, Any]]:
    """Worker processes ('spawn': no forked torch state), each with its share of the cores."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    jobs = [(task, _with_threads(config, threads)) for task, config in jobs]
    with multiprocessing.get_context("spawn").Pool(workers, maxtasksperchild=None) as pool:
        yield from pool.imap_unordered(_run_job, jobs)


def run_on_ray(jobs: Sequence[Job], address: str) -> Iterator[dict[str, Any]]:
    """Ray tasks: the same step, scheduled on whatever cluster `address` names ('local' starts one)."""
    try:
        import ray
    except ImportError as exc:
        from ...core import ProofsmithError

        raise ProofsmithError("--ray needs: pip install 'proofsmith[ray]'") from exc
    if not ray.is_initialized():
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(_run_job)
    pending = [remote.remote(job) for job in jobs]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])


def _with_threads(config: ProverConfig, threads: int) -> ProverConfig:
    from dataclasses import replace

    return config if config.threads else replace(config, threads=threads)


def _same_settings(out: str | os.PathLike, config: ProverConfig) -> None:
    """A run resumes only with the settings it started with (kept beside it as RUN.config.json)."""
    import json
    from pathlib import Path

    from ...core import ProofsmithError

    path = Path(f"{out}.config.json")
    settings = {k: v for k, v in config.to_dict().items() if k != "threads"}  # threads change speed, not results
    if path.exists():
        if json.loads(path.read_text()) != json.loads(json.dumps(settings)):
            raise ProofsmithError(f"{out} was started with other settings (see {path}); use another --out")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(settings, indent=1, sort_keys=True))
    os.replace(tmp, path)


def prove_all(
    tasks: Iterable[Task],
    config: ProverConfig,
    out: str | os.PathLike,
    *,
    workers: int = 1,
    ray_address: str | None = None,
    progress: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Prove every task not yet in `out`; returns all result lines (old and new)."""
    from tqdm import tqdm

    _same_settings(out, config)
    with JsonlAppender(out) as sink:
        done = {r["task_id"] for r in sink.done}
        todo = [t for t in tasks if t.id not in done]
        jobs = [(task, config) for task in todo]
        if ray_address:
            results = run_on_ray(jobs, ray_address)
        elif workers > 1 and len(jobs) > 1:
            results = run_in_pool(jobs, min(workers, len(jobs)))
        else:
            results = run_in_process(jobs)
        records = list(sink.done)
        bar = tqdm(total=len(todo) + len(done), initial=len(done), disable=not progress, desc="prove", unit="thm")
        proved = sum(bool(r.get("passed")) for r in records)
        for line in results:
            sink.write(line)
            records.append(line)
            proved += bool(line["passed"])
            bar.set_postfix(proved=proved)
            bar.update(1)
            if on_result:
                on_result(line)
        bar.close()
    return records

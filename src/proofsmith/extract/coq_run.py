"""`proofsmith extract coq`: run `extract_file` over libraries, resumably, then build the dataset.

Each file's result is written whole and atomically to ``OUT/raw/files/<key>.json``, after
its states and records are committed to ``OUT/raw/states.sqlite`` (state_store.py: each distinct
state once, by content hash): a file is done exactly when its result exists, so a killed run resumes with the files
left (none done twice, none lost). The merged tables (``OUT/raw/*.jsonl``) and the
dataset (``OUT/data``, ``OUT/README.md``) are rebuilt from those results at the end.
OUT is new, empty or an earlier extract's (see outdir.py): files of the user's are never touched.
The executor is a thread pool (each step mostly waits on its own coqidetop) or Ray.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core import ProofsmithError
from ..outdir import claim
from ..runs import Jsonl, Ray, Threads, read_complete_jsonl, run_resumable, write_atomic
from .coq import ExtractOptions, FileJob, extract_file
from .coq_project import CoqLibrary, coq_version, ensure_built, find_library, installed_libraries
from .state_store import SOURCES_DIR, STORE_NAME, THEOREMS, StateStore, raw_file, StoredResults, file_records, task_line


def job_key(job: FileJob) -> str:
    return f"{job.library.name}/{job.path.relative_to(job.library.root)}"


def job_fingerprint(job: FileJob) -> dict:
    """What a file's result depends on besides the options: its name and its bytes (not where SRC lies)."""
    return {"file": job_key(job), "sha256": hashlib.sha256(job.path.read_bytes()).hexdigest()}


def result_sink(out: Path) -> StoredResults:
    """Each file's result in raw/files/, its states and records in raw/states.sqlite (state_store.py)."""
    return StoredResults(out / "raw" / "files", out / "raw" / STORE_NAME)


def result_path(out: Path, job: FileJob) -> Path:
    return result_sink(out).file(job_key(job))


def extract_installed(out_dir: str, names: list[str] | None = None, **kw: Any) -> dict[str, Any]:
    """`extract coq --installed`: the standard library and every library under user-contrib
    (or the `names` given), one corpus; see `extract_libraries` for the rest."""
    return extract_libraries(installed_libraries(names), out_dir, **kw)


def extract_libraries(
    sources: Sequence[str | CoqLibrary], out_dir: str, *, jobs: int = 2, ray_address: str | None = None, name: str | None = None,
    options: ExtractOptions = ExtractOptions(), verify: bool = False, progress: bool = True,
    on_result: Callable[[dict], None] | None = None, build: bool = True, command: str = "",
) -> dict[str, Any]:
    out = Path(out_dir)
    # a new, empty or earlier extract's directory only; its card is checked now, not after the work
    claim(out, "proofsmith extract coq", legacy=("raw/files.run.json",), writes=("README.md",) if build else ())
    (out / "raw" / "files").mkdir(parents=True, exist_ok=True)
    libraries: list[CoqLibrary] = [ensure_built(src if isinstance(src, CoqLibrary) else find_library(src, name), jobs,
                                                options.file_timeout_s) for src in sources]
    all_jobs = [FileJob(lib, f, options) for lib in libraries for f in lib.files()]
    if not all_jobs:
        raise ProofsmithError(f"no .v files under {', '.join(map(str, sources))}")
    t0 = time.monotonic()
    run = run_resumable(all_jobs, extract_file, result_sink(out), key=job_key, fingerprint=job_fingerprint,
                        executor=Ray(ray_address) if ray_address else Threads(jobs), settings=options,
                        progress=progress, desc="extract coq", unit="file", on_record=on_result,
                        postfix=lambda result: result["file"][-40:])
    seconds = time.monotonic() - t0
    merge(out, all_jobs)
    if verify:
        verify_tasks(out, progress=progress)
        merge(out, all_jobs)  # again, with the verdicts
    summary: dict[str, Any] = {"files": len(all_jobs), "files_this_run": run.ran, "seconds": round(seconds, 2)}
    if build:
        from ..datasets.coq import build_dataset

        info = card_info(libraries, command)
        write_atomic(out / "raw" / "card.json", json.dumps(info))
        summary["dataset"] = build_dataset(out, info)
    summary.update(merged_statistics(out))
    return summary


def merge(out: Path, jobs: list[FileJob]) -> None:
    """Concatenate the per-file results into OUT/raw/{corpus,facts,tasks,errors}.jsonl and
    raw/theorems.jsonl.gz (state_store.THEOREMS)."""
    final = {n: out / "raw" / f"{n}.jsonl" for n in ("corpus", "facts", "tasks", "errors")}
    final["theorems"] = out / "raw" / THEOREMS
    handles = {n: (gzip.open(p.with_name(p.name + ".tmp"), "wt", encoding="utf-8", compresslevel=6) if n == "theorems"
                   else p.with_name(p.name + ".tmp").open("w")) for n, p in final.items()}
    verdicts = _read_verdicts(out)
    store = StateStore(out / "raw" / STORE_NAME)
    sources: set[str | None] = set()
    for job in sorted(jobs, key=lambda j: (j.library.name, str(j.path))):
        path = result_path(out, job)
        if not path.is_file():
            continue
        r = json.loads(path.read_text())
        r.update(file_records(r, store, inflate_tasks=False))  # theorems compact (states by id), tasks as stored
        for t in r["theorems"]:
            t["verified"] = verdicts.get(f"{r['project']}:{t['full_name']}", "")
            handles["theorems"].write(json.dumps(t) + "\n")
        for f in r["facts"]:
            handles["facts"].write(json.dumps(f) + "\n")
        for t in r["tasks"]:
            t = task_line(t, store, out / "raw")  # a file-prefix prelude by reference to raw/sources/ (io.py)
            t["meta"]["verified"] = verdicts.get(t["task_id"], "")
            sources.add(t.get("prelude_of", {}).get("source"))
            handles["tasks"].write(json.dumps(t) + "\n")
        if r["corpus"]:
            handles["corpus"].write(json.dumps({**r["corpus"], "project": r["project"]}) + "\n")
        if r["error"]:
            handles["errors"].write(json.dumps({"file": r["file"], "project": r["project"], **r["error"]}) + "\n")
    store.close()
    for n, h in handles.items():
        h.close()
        final[n].with_name(final[n].name + ".tmp").replace(final[n])
    (out / "raw" / "theorems.jsonl").unlink(missing_ok=True)  # an earlier version's plain file, now in THEOREMS
    for stale in (out / "raw" / SOURCES_DIR).glob("*"):  # an earlier merge's, that no task names now
        if f"{SOURCES_DIR}/{stale.name}" not in sources:
            stale.unlink()


def _read_verdicts(out: Path) -> dict[str, str]:
    return {r["task_id"]: r["status"] for r in read_complete_jsonl(out / "raw" / "verify.jsonl")}


class VerifyStep:
    """One task line of raw/tasks.jsonl -> the Coq checker's verdict on its reference proof."""

    def __init__(self) -> None:
        self.checker = None

    def __call__(self, t: dict) -> dict:
        from ..core import Candidate, Provenance, Task, get_checker

        self.checker = self.checker or get_checker("coq")
        task = Task(id=t["task_id"], kind="coq", statement=t["statement"], context=t["prelude"],
                    reference=t["reference"], provenance=Provenance.from_dict(t["provenance"]), meta=t["meta"])
        verdict = self.checker.check(task, Candidate(task_id=task.id, text=t["reference"]))
        return {"task_id": task.id, "status": verdict.status, "message": verdict.message[:500]}


def _task_fingerprint(t: dict) -> dict:
    """A task line as extracted: the verdict merge() writes into it is no part of it."""
    return {**t, "meta": {k: v for k, v in t["meta"].items() if k != "verified"}}


def verify_tasks(out: Path, progress: bool = True) -> None:
    """Re-check each task's reference proof with the Coq checker; verdicts in raw/verify.jsonl."""
    from ..io import resolve_prelude

    cache: dict = {}
    tasks = [resolve_prelude(t, out / "raw", f"{out / 'raw' / 'tasks.jsonl'}: {t.get('task_id')}", cache)
             for t in read_complete_jsonl(out / "raw" / "tasks.jsonl")]
    run_resumable(tasks, VerifyStep(), Jsonl(out / "raw" / "verify.jsonl", match="key"), key=lambda t: t["task_id"],
                  fingerprint=_task_fingerprint, progress=progress, desc="verify", unit="task")


def merged_statistics(out: Path) -> dict[str, Any]:
    from ..datasets.coq import RAW_FILES, corpus_statistics, read_jsonl

    raw = out / "raw"
    stats = corpus_statistics({n: read_jsonl(raw_file(raw, n)) for n in RAW_FILES})  # each table streamed once
    if (out / "raw" / STORE_NAME).is_file():
        with StateStore(out / "raw" / STORE_NAME, create=False) as store:
            stats["distinct_states"] = store.count()
    return stats


def card_info(libraries: list[CoqLibrary], command: str) -> dict[str, Any]:
    licenses = sorted({lib.license for lib in libraries if lib.license}) or ["other"]
    from .coq_libraries import describe

    sources = "\n".join(f"- `{lib.name}` {lib.version} ({lib.license or 'license unknown'}), from "
                        f"{('Debian package `' + lib.package + '`') if lib.package else '`' + lib.root.name + '`'}"
                        for lib in libraries)
    return {
        "pretty_name": "Coq proofs with per-tactic proof states (" + ", ".join(lib.name for lib in libraries) + ")",
        "license": " AND ".join(licenses),
        "description": "Every proof of the sources traced through the real Coq (coqidetop's XML protocol): "
                       "statements, proof scripts, the goals before and after each tactic, the premises each "
                       "tactic names, a premises corpus and a facts table, with provenance on every record.",
        "sources": sources,
        "schema": "See docs/coq-corpus.md in proofsmith. `traced_tactics[].state_before/state_after` are the goals "
                  "as coqtop prints them; `goals_before/goals_after` the same, structured; `premises` are the "
                  "constants a tactic names, with full name, defining module, file and position.",
        "how_built": "Traced with `proofsmith extract coq`.",
        "command": command,
        "versions": {"coq": coq_version(), **{lib.name: lib.version for lib in libraries}},
        "task_categories": ["text-generation"],
        "tags": ["coq", "theorem-proving", "formal-methods", "proofsmith"],
        "libraries": [describe(lib) for lib in libraries],
    }

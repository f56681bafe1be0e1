"""`proofsmith extract mpi`: every C/C++ file of the sources, resumably, into MPIrigen records and `mpi` tasks.

Each file's result is written whole and atomically to ``OUT/raw/files/<key>.json`` (a
`runs.Directory`): a killed run resumes with the files left. Then ``OUT/raw/programs.jsonl``
(the records), ``OUT/raw/errors.jsonl`` (files the parser could not read), and
``OUT/raw/tasks.jsonl`` (one `mpi` task per program that has a `main` and builds standalone)
are rebuilt from those results, and the dataset (``OUT/data``, ``OUT/README.md``) from them.

A file is a program when it makes MPI calls (`extract.mpi`); files without any are
counted, not kept. Whether a program builds standalone is asked of the real ``mpicc`` /
``mpicxx`` in the sandbox, the file alone in an empty directory: linked when it has a
`main`, compiled to an object otherwise.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import ProofsmithError
from ..outdir import claim
from ..runs import Directory, Ray, Threads, run_resumable, write_atomic
from .mpi import ParseError, lang_of, strip_mpi_calls
from .mpi_project import MpiProject, find_project

RAW_FILES = ("programs", "errors", "tasks")


@dataclass(frozen=True)
class MpiOptions:
    build: bool = True  # ask mpicc whether each program builds standalone
    max_bytes: int = 1 << 20  # larger files are refused as "enormous"
    build_timeout_s: float = 120.0
    np: int = 2  # ranks of the tasks made from the programs


@dataclass(frozen=True)
class MpiFileJob:
    project: MpiProject
    path: Path
    options: MpiOptions = MpiOptions()

    @property
    def relative(self) -> str:
        return str(self.path.relative_to(self.project.root))


def job_key(job: MpiFileJob) -> str:
    return f"{job.project.name}/{job.relative}"


def job_fingerprint(job: MpiFileJob) -> dict:
    return {"file": job_key(job), "sha256": hashlib.sha256(job.path.read_bytes()).hexdigest()}


def extract_mpi_file(job: MpiFileJob) -> dict[str, Any]:
    """One file -> {"file", "project", "sha256", "seconds", "record": None | {...}, "error": None | {...}}."""
    t0 = time.monotonic()
    data = job.path.read_bytes()
    result: dict[str, Any] = {"file": job.relative, "project": job.project.name,
                              "sha256": hashlib.sha256(data).hexdigest(), "record": None, "error": None}
    lang = lang_of(job.path.name) or "c"
    if len(data) > job.options.max_bytes:
        result["error"] = {"reason": "enormous", "message": f"{len(data)} bytes", "line": 0}
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")  # old sources: every byte is one character, nothing is lost
        try:
            stripped = strip_mpi_calls(text, lang)
        except ParseError as exc:
            result["error"] = {"reason": "parse", "message": str(exc), "line": exc.line}
        else:
            if stripped.calls:
                result["record"] = _record(job, text, lang, stripped, result["sha256"])
    result["seconds"] = round(time.monotonic() - t0, 3)
    return result


def _record(job: MpiFileJob, text: str, lang: str, stripped, sha256: str) -> dict[str, Any]:
    project = job.project
    record = {
        "program": f"{project.name}/{job.relative}",
        "code": stripped.code,
        "mpi_labels": stripped.mpi_labels,
        "source": text,
        "lang": lang,
        "calls": [c.to_dict() for c in stripped.calls],
        "functions": sorted({c.function for c in stripped.calls if c.function}),
        "has_main": stripped.has_main,
        "parse_errors": stripped.parse_errors,
        "builds": (build_standalone(text, job.path.name, lang, stripped.has_main, job.options.build_timeout_s)
                   if job.options.build else {"checked": False, "standalone": False, "command": "", "error": ""}),
        "provenance": {"source": job.relative, "project": project.name, "version": project.version,
                       "license": project.license, "sha256": sha256, "span": None},
    }
    return record


@functools.lru_cache(maxsize=1)
def _sandbox():
    from ..checkers.sandbox import get_sandbox

    return get_sandbox()


def build_standalone(source: str, filename: str, lang: str, has_main: bool, timeout_s: float = 120.0) -> dict:
    """Does the file build alone (no other file of its project beside it)? mpicc/mpicxx in the sandbox."""
    from ..checkers.sandbox import Limits

    compiler = "mpicc" if lang == "c" else "mpicxx"
    command = [compiler, filename, "-o", "a.out", "-lm"] if has_main else [compiler, "-c", filename, "-o", "a.o"]
    limits = Limits(wall_s=timeout_s, cpu_s=timeout_s, memory_mb=4096, processes=32, output_bytes=1 << 20,
                    file_bytes=256 << 20)
    run = _sandbox().run(command, files={filename: source}, limits=limits)
    error = ""
    if not run.ok:
        lines = [line for line in run.stderr.splitlines() if "error" in line.lower()] or run.stderr.splitlines()
        error = (lines[0] if lines else f"exit status {run.returncode}")[:300]
        if run.timed_out:
            error = f"{compiler} exceeded {timeout_s:.0f}s"
    return {"checked": True, "standalone": run.ok, "command": " ".join(command), "error": error}


def result_sink(out: Path) -> Directory:
    return Directory(out / "raw" / "files")


def extract_sources(
    sources: Sequence[str], out_dir: str, *, jobs: int = 2, ray_address: str | None = None, name: str | None = None,
    options: MpiOptions = MpiOptions(), progress: bool = True, dataset: bool = True, command: str = "",
    on_result: Callable[[dict], None] | None = None,
) -> dict[str, Any]:
    out = Path(out_dir)
    claim(out, "proofsmith extract mpi", writes=("README.md",) if dataset else ())
    if name and len(sources) > 1:
        raise ProofsmithError("--name names one source; give one SRC with it")
    projects = [find_project(src, name) for src in sources]
    if len({p.name for p in projects}) < len(projects):
        raise ProofsmithError("two sources have the same project name; extract them into separate --out directories")
    all_jobs = [MpiFileJob(p, f, options) for p in projects for f in p.files()]
    if not all_jobs:
        raise ProofsmithError(f"no C/C++ source files under {', '.join(sources)}")
    (out / "raw" / "files").mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    run = run_resumable(all_jobs, extract_mpi_file, result_sink(out), key=job_key, fingerprint=job_fingerprint,
                        executor=Ray(ray_address) if ray_address else Threads(jobs), settings=options,
                        progress=progress, desc="extract mpi", unit="file", on_record=on_result,
                        postfix=lambda result: result["file"][-40:])
    seconds = time.monotonic() - t0
    counts = merge(out, all_jobs, options)
    summary: dict[str, Any] = {"files": len(all_jobs), "files_this_run": run.ran, "seconds": round(seconds, 2),
                               "files_per_second": round(run.ran / seconds, 2) if seconds > 0 and run.ran else None,
                               **counts}
    if dataset:
        from ..datasets.mpi import build_dataset

        info = card_info(projects, command)
        write_atomic(out / "raw" / "card.json", json.dumps(info))
        summary["dataset"] = build_dataset(out, info)
    return summary


def merge(out: Path, jobs: list[MpiFileJob], options: MpiOptions) -> dict[str, Any]:
    """The per-file results into OUT/raw/{programs,errors,tasks}.jsonl; returns the counts."""
    handles = {n: (out / "raw" / f"{n}.jsonl.tmp").open("w", encoding="utf-8") for n in RAW_FILES}
    counts = {"programs": 0, "calls": 0, "with_main": 0, "builds_standalone": 0, "tasks": 0, "files_failed": 0,
              "files_without_mpi": 0}
    sink = result_sink(out)
    for job in sorted(jobs, key=job_key):
        path = sink.file(job_key(job))
        if not path.is_file():
            continue
        r = json.loads(path.read_text(encoding="utf-8"))
        if r["error"]:
            counts["files_failed"] += 1
            handles["errors"].write(json.dumps({"file": r["file"], "project": r["project"], **r["error"]}) + "\n")
            continue
        record = r["record"]
        if record is None:
            counts["files_without_mpi"] += 1
            continue
        counts["programs"] += 1
        counts["calls"] += len(record["calls"])
        counts["with_main"] += record["has_main"]
        counts["builds_standalone"] += record["builds"]["standalone"]
        handles["programs"].write(json.dumps(record) + "\n")
        if record["has_main"] and record["builds"]["standalone"]:
            counts["tasks"] += 1
            handles["tasks"].write(json.dumps(task_line(record, options.np)) + "\n")
    for n, h in handles.items():
        h.close()
        (out / "raw" / f"{n}.jsonl.tmp").replace(out / "raw" / f"{n}.jsonl")
    counts["share_builds_standalone"] = round(counts["builds_standalone"] / counts["programs"], 3) if counts["programs"] else 0.0
    return counts


def task_line(record: dict, np: int) -> dict[str, Any]:
    """An `mpi` task (docs/mpi.md): put the removed MPI calls back; the reference is the program itself."""
    return {"task_id": f"mpi/{record['program']}", "kind": "mpi", "statement": record["code"],
            "reference": record["source"], "lang": record["lang"], "np": np, "inputs": [""],
            "mpi_labels": record["mpi_labels"], "provenance": record["provenance"]}


@functools.lru_cache(maxsize=1)
def tool_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("tree-sitter", "tree-sitter-c", "tree-sitter-cpp"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    try:
        out = subprocess.run(["mpicc", "--showme:version"], capture_output=True, text=True, timeout=30, check=False)
        versions["mpicc"] = (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""
    except (OSError, subprocess.TimeoutExpired):
        versions["mpicc"] = "not installed"
    return versions


def card_info(projects: list[MpiProject], command: str) -> dict[str, Any]:
    licenses = sorted({p.license for p in projects if p.license}) or ["other"]
    sources = "\n".join(f"- `{p.name}` {p.version} ({p.license or 'license unknown'}), from `{Path(p.origin).name}`"
                        for p in projects)
    return {
        "pretty_name": "MPI programs with their MPI calls removed and labelled (" + ", ".join(p.name for p in projects) + ")",
        "license": " AND ".join(licenses),
        "description": "C and C++ files that make MPI calls, found with tree-sitter's C/C++ parsers, in MPIrigen's "
                       "shape (HPCorpusMPI): `code` is the file with its MPI calls removed, `mpi_labels` the removed "
                       "calls as `(L k, call;)` entries; with the calls as structured data, whether the file builds "
                       "standalone with the real mpicc/mpicxx, and provenance with licence on every record.",
        "sources": sources,
        "schema": "See docs/mpi.md in proofsmith. `calls[]`: name, arguments (source text), line/end_line/column in "
                  "`source`, order, kind (statement: its lines were removed; inline: cut out of a line that stays), "
                  "function, and L/k, the label's place in `code`. `builds`: the mpicc/mpicxx command run in the "
                  "sandbox on the file alone and its first error.",
        "how_built": "Extracted with `proofsmith extract mpi`.",
        "command": command,
        "versions": {**tool_versions(), **{p.name: p.version for p in projects}},
        "task_categories": ["text-generation"],
        "tags": ["mpi", "hpc", "parallel-programming", "code", "proofsmith"],
    }

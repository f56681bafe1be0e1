"""`proofsmith extract coq SRC... --out DIR` (other systems add their commands to `extract_app`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

extract_app = typer.Typer(help="Extract records with provenance from sources (coq, ...).", no_args_is_help=True)


@extract_app.command("coq")
def extract_coq(
    sources: list[str] = typer.Argument(None, help="Directories of .v files (a project, the stdlib, a libcoq-* package)."),
    out: str = typer.Option(..., "--out", help="Output directory (resumes when it exists)."),
    installed: bool = typer.Option(False, "--installed", help="The standard library and every library installed "
                                   "under $(coqc -where)/user-contrib (libcoq-* packages), one corpus."),
    libraries: str | None = typer.Option(None, "--libraries", help="With --installed: only these (logical names, "
                                         "comma-separated; Coq is the standard library)."),
    jobs: int = typer.Option(2, "--jobs", "-j", help="Files traced in parallel."),
    ray: str | None = typer.Option(None, "--ray", help="Run the per-file steps on a Ray cluster (ADDR or 'local')."),
    name: str | None = typer.Option(None, "--name", help="Logical name bound to SRC with -R (default: _CoqProject, else the directory name)."),
    verify: bool = typer.Option(False, "--verify", help="Re-check every extracted proof with the Coq checker in the sandbox."),
    file_timeout: float = typer.Option(600.0, "--file-timeout", help="Seconds per file."),
    call_timeout: float = typer.Option(60.0, "--call-timeout", help="Seconds per sentence."),
    memory_mb: int = typer.Option(4096, "--memory-mb", help="Address-space limit of each coqidetop."),
    max_bytes: int = typer.Option(2 << 20, "--max-bytes", help="Larger files are refused as 'enormous'."),
    no_premises: bool = typer.Option(False, "--no-premises", help="Skip resolving the premises of each tactic."),
) -> None:
    """Trace every proof of Coq sources (goals before/after each tactic, premises) into a HF dataset."""
    from ._options import output_dir, positive

    positive(jobs=jobs, file_timeout=file_timeout, call_timeout=call_timeout, memory_mb=memory_mb,
             max_bytes=max_bytes)
    output_dir(out)
    from ..core import ProofsmithError

    if installed == bool(sources):
        raise ProofsmithError("give directories of .v files or --installed (not both)" if installed
                              else "give directories of .v files, or --installed for every installed library")
    if libraries is not None and not installed:
        raise ProofsmithError("--libraries chooses among the installed libraries: use it with --installed")
    names = [n.strip() for n in libraries.split(",") if n.strip()] if libraries is not None else None
    if names == []:
        raise ProofsmithError("--libraries: give at least one library name")
    from ..extract.coq import ExtractOptions
    from ..extract.coq_project import installed_libraries
    from ..extract.coq_run import extract_libraries

    if installed:
        sources = installed_libraries(names)  # an unknown name: one line listing the installed ones

    options = ExtractOptions(file_timeout_s=file_timeout, call_timeout_s=call_timeout, memory_mb=memory_mb,
                             max_bytes=max_bytes, premises=not no_premises)
    summary = extract_libraries(sources, out, jobs=jobs, ray_address=ray, name=name, options=options, verify=verify,
                                progress=True, command="proofsmith " + " ".join(sys.argv[1:]))
    print(json.dumps(summary, sort_keys=True))


@extract_app.command("mpi")
def extract_mpi(
    sources: list[str] = typer.Argument(..., help="C/C++ source trees: directories, source archives (.tar.gz, .tar.xz: "
                                        "a pip sdist) or Debian .dsc files (apt-get source --download-only PKG)."),
    out: str = typer.Option(..., "--out", help="Output directory (resumes when it exists)."),
    jobs: int = typer.Option(2, "--jobs", "-j", help="Files in parallel."),
    ray: str | None = typer.Option(None, "--ray", help="Run the per-file steps on a Ray cluster (ADDR or 'local')."),
    name: str | None = typer.Option(None, "--name", help="Project name (default: debian/changelog, PKG-INFO or NAME-VERSION directory)."),
    no_build: bool = typer.Option(False, "--no-build", help="Skip asking mpicc whether each program builds standalone (no tasks then)."),
    np: int = typer.Option(2, "--np", help="Ranks of the mpi tasks made from the programs."),
    build_timeout: float = typer.Option(120.0, "--build-timeout", help="Seconds per mpicc run."),
    max_bytes: int = typer.Option(1 << 20, "--max-bytes", help="Larger files are refused as 'enormous'."),
) -> None:
    """MPI programs of C/C++ sources in MPIrigen's shape (code without its MPI calls, (L k, call;) labels) into a HF dataset."""
    from ._options import output_dir, positive

    positive(jobs=jobs, np=np, build_timeout=build_timeout, max_bytes=max_bytes)
    output_dir(out)
    from ..extract.mpi_run import MpiOptions, extract_sources

    options = MpiOptions(build=not no_build, max_bytes=max_bytes, build_timeout_s=build_timeout, np=np)
    summary = extract_sources(sources, out, jobs=jobs, ray_address=ray, name=name, options=options, progress=True,
                              command="proofsmith " + " ".join(sys.argv[1:]))
    print(json.dumps(summary, sort_keys=True))


@extract_app.command("lean")
def extract_lean(
    repo: str | None = typer.Argument(None, help="A local Lean 4 repository (lean-toolchain, lakefile), traced through lean-dojo."),
    out: str = typer.Option(..., "--out", help="Output directory (resumes when it exists)."),
    benchmark: str | None = typer.Option(None, "--benchmark", help="Import a downloaded LeanDojo Benchmark 4 directory instead."),
) -> None:
    """Lean theorems with their traced tactics (LeanDojo Benchmark 4's records) into a HF dataset."""
    from ..core import ProofsmithError
    from ._options import output_dir

    if bool(repo) == bool(benchmark):
        raise ProofsmithError("give a Lean repository or --benchmark DIR (one of them)")
    where = benchmark or repo
    if not Path(where).is_dir():
        raise ProofsmithError(f"{where}: not a directory")
    output_dir(out)
    from ..extract.lean import import_benchmark, trace_repo

    command = "proofsmith " + " ".join(sys.argv[1:])
    summary = (import_benchmark(benchmark, out, command=command) if benchmark
               else trace_repo(repo, out, command=command))
    print(json.dumps(summary, sort_keys=True))


@extract_app.command("fstar")
def extract_fstar(
    path: str = typer.Argument(..., help="An FStarDataSet on disk (train.json/valid.json/test_*_project.json, a "
                               "save_to_disk directory, or <Module>.fst.json files), or an F* project to build with F*."),
    out: str = typer.Option(..., "--out", help="Output directory: the HF dataset and tasks.jsonl (resumes when it exists)."),
    include: list[str] = typer.Option(None, "--include", help="Where F* finds the modules' sources and .checked files "
                                      "when checking the tasks (repeatable; default: the dataset's directory)."),
    jobs: int = typer.Option(2, "--jobs", "-j", help="Modules read in parallel (a project)."),
) -> None:
    """F* definitions (FStarDataSet's fields, every one kept) into a HF dataset and `fstar` tasks."""
    from ..core import ProofsmithError
    from ._options import output_dir, positive

    positive(jobs=jobs)
    if not Path(path).exists():
        raise ProofsmithError(f"{path}: no such file or directory")
    output_dir(out)
    from ..extract.fstar_run import extract_project, import_dataset, is_dataset

    command = "proofsmith " + " ".join(sys.argv[1:])
    summary = (import_dataset(path, out, list(include or []), command=command) if is_dataset(Path(path))
               else extract_project(path, out, jobs=jobs, command=command))
    print(json.dumps(summary, sort_keys=True))


def register(app: typer.Typer) -> None:
    app.add_typer(extract_app, name="extract")

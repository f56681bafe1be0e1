"""Compiling a Coq project's missing .vo files: in dependency order, in the sandbox, cached.

A project whose files Require each other needs the .vo of each file Required before
coqidetop can trace the files that Require it. `ensure_built` copies the project
under the cache (``$PROOFSMITH_CACHE/coq-build/KEY``, never in the source tree) and
compiles there, each file by ``coqc`` in the sandbox (checkers/sandbox), which sees the
copy read-only and hands the .vo back.
"""

from __future__ import annotations

import hashlib
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from .. import children
from ..paths import cache_dir
from .coq_project import CoqLibrary, _inside


def is_compiled(library: CoqLibrary) -> bool:
    return all((f.with_suffix(".vo")).is_file() and f.with_suffix(".vo").stat().st_mtime >= f.stat().st_mtime
               for f in library.files())


def ensure_built(library: CoqLibrary, jobs: int = 1, timeout_s: float = 600) -> CoqLibrary:
    """A library whose every Required file has a .vo: as is, or compiled into a cached copy.

    Only files that another file Requires are compiled (coqidetop checks the rest
    itself), in dependency order (coqdep), each by ``coqc`` in the sandbox, which sees the
    copy read-only and hands the .vo back. A file whose dependency was compiled again is
    compiled again. Files that fail to compile are left without a .vo; extraction reports
    why (Coq's own message on the files that Require them).
    """
    if library.builtin or is_compiled(library):
        return library
    key = hashlib.sha256(str(library.root).encode()).hexdigest()[:16]
    build = cache_dir("coq-build", key)
    shutil.copytree(library.root, build, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.vo", "*.vok", "*.vos", "*.glob", ".*", "_build"))
    built = replace(library, build_root=build)
    files = [built.work_path(f) for f in library.files()]
    deps = _dependencies(built, files)
    pending = set().union(*deps.values()) if deps else set()  # only what some file Requires needs a .vo
    # everything a dependency on a file Required needs must be built first, though no file Requires it directly
    todo = list(pending)
    while todo:
        for d in deps.get(todo.pop(), set()):
            if d not in pending:
                pending.add(d)
                todo.append(d)
    compiled: set[Path] = set()
    sandbox = _build_sandbox(built)
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        while pending:
            ready = [f for f in pending if deps.get(f, set()) & pending == set()]
            if not ready:  # a cycle: give up on the rest, extraction reports each file
                break
            pending.difference_update(ready)
            stale = [f for f in ready if _stale(f, deps.get(f, set()) & compiled)]
            compiled.update(f for f, ok in zip(stale, pool.map(
                lambda f: _compile(sandbox, built, f, timeout_s), stale)) if ok)
    return built


def _stale(f: Path, recompiled_deps: set[Path]) -> bool:
    vo = f.with_suffix(".vo")
    return bool(recompiled_deps) or not vo.is_file() or vo.stat().st_mtime < f.stat().st_mtime


def _build_sandbox(library: CoqLibrary):
    from ..checkers.sandbox import get_sandbox

    seen = [library.build_root] + [p for _f, p, _lg in library.coq_args()] + list(library.ml_paths)
    return get_sandbox().seeing([str(p) for p in dict.fromkeys(seen) if p and Path(p).exists()])


def _compile(sandbox, library: CoqLibrary, f: Path, timeout_s: float) -> bool:
    """coqc on one file of the built copy, in the sandbox; its .vo written beside it. Compiled?

    coqc names a library after where its .vo goes: the scratch directory is bound to the
    file's logical name too, and the .vo written there at the file's relative place.
    """
    from ..checkers.sandbox import Limits
    from ..checkers.sandbox.base import SCRATCH

    homes = [(flag, Path(p), lg) for flag, p, lg in library.coq_args() if _inside(str(f), Path(p).resolve())]
    if not homes:
        return False
    flag, home, logical = max(homes, key=lambda h: len(h[1].parts))
    rel = f.resolve().relative_to(home.resolve()).with_suffix(".vo").as_posix()
    staged = {str(Path(rel).parent / ".dir"): ""} if "/" in rel else {}
    limits = Limits(wall_s=timeout_s, cpu_s=timeout_s, memory_mb=4096, processes=64, output_bytes=1 << 20,
                    file_bytes=512 << 20)
    command = ["coqc", "-q", *library.coq_flags(), flag, SCRATCH, logical, "-noglob", str(f), "-o", f"{SCRATCH}/{rel}"]
    run = sandbox.run(command, files=staged, limits=limits, collect=[rel])
    data = run.files.get(rel) if run.ok else None
    if not data:
        return False
    tmp = f.with_suffix(".vo.tmp")
    tmp.write_bytes(data)
    tmp.replace(f.with_suffix(".vo"))
    return True


def _dependencies(library: CoqLibrary, files: list[Path]) -> dict[Path, set[Path]]:
    """file -> the library files it Requires (coqdep)."""
    args = [a for lp in library.coq_args() for a in lp]
    out = children.run(["coqdep", *args, *map(str, files)], capture_output=True, text=True, timeout=600, check=False)
    known = {f.with_suffix(".vo").resolve(): f for f in files}
    deps: dict[Path, set[Path]] = {}
    for line in out.stdout.splitlines():
        if ":" not in line:
            continue
        targets, sources = line.split(":", 1)
        target = Path(targets.split()[0]).resolve()
        if target in known:
            deps[known[target]] = {known[Path(s).resolve()] for s in sources.split() if Path(s).resolve() in known}
    return deps

"""A Coq library on disk: its .v files, logical names (-Q/-R), provenance, build.

`find_library(src)` works out how Coq names the files under `src`: the standard
library (``$(coqc -where)/theories``) is the ``Coq`` namespace, ``user-contrib/X`` is
``X``, a ``_CoqProject`` gives its own ``-Q``/``-R`` lines, and otherwise `--name`
(default: the directory's name) is bound to `src` with ``-R``. Libraries without
compiled ``.vo`` files are first compiled with ``coqc`` into a copy under the cache
(`ensure_built`), so a project's own files can ``Require`` each other.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shlex
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from .. import children
from ..core import ProofsmithError
from ..paths import cache_dir
from .licenses import debian_package, library_license

LoadPath = tuple[str, str, str]


@functools.lru_cache(maxsize=1)
def coqlib() -> Path:
    try:
        out = children.run(["coqc", "-where"], capture_output=True, text=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ProofsmithError("coqc not found: install Coq (apt-get install coq libcoq-stdlib)") from exc
    return Path(out.stdout.strip()).resolve()


@functools.lru_cache(maxsize=1)
def coq_version() -> str:
    out = children.run(["coqc", "-print-version"], capture_output=True, text=True, timeout=60, check=False)
    return out.stdout.split()[0] if out.stdout else ""


@dataclass(frozen=True)
class CoqLibrary:
    root: Path  # the SRC directory as given (resolved)
    load_paths: tuple[LoadPath, ...]  # as coqc takes them; physical dirs absolute
    name: str  # project / library name for provenance
    version: str
    license: str
    builtin: bool = False  # the stdlib or user-contrib: Coq binds it already
    build_root: Path | None = None  # where compiled copies live, when we built them

    def files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*.v") if p.is_file())

    def source_path(self, file: Path) -> str:
        """The path recorded in provenance: relative to the library's top directory."""
        top = Path(self.load_paths[0][1]) if self.builtin else self.root
        return str(file.relative_to(top))

    def work_path(self, file: Path) -> Path:
        """The copy coqidetop should read (the built copy, when there is one)."""
        return self.build_root / file.relative_to(self.root) if self.build_root else file

    def logical_module(self, file: Path) -> str:
        """Coq's module path for a file, e.g. ``Coq.Arith.PeanoNat``."""
        best: tuple[int, str] | None = None
        for _flag, physical, logical in self.load_paths:
            try:
                rel = file.resolve().relative_to(Path(physical).resolve())
            except ValueError:
                continue
            parts = [p for p in (logical.split(".") if logical else [])] + list(rel.with_suffix("").parts)
            if best is None or len(physical) > best[0]:
                best = (len(physical), ".".join(parts))
        if best is None:
            raise ProofsmithError(f"{file} is outside every load path of {self.root}")
        return best[1]

    def coq_args(self) -> tuple[LoadPath, ...]:
        """Load paths to give coqidetop (none for builtin libraries; built copies else)."""
        if self.builtin:
            return ()
        if not self.build_root:
            return self.load_paths
        return tuple((f, str(self.build_root / Path(p).relative_to(self.root)) if _inside(p, self.root) else p, lg)
                     for f, p, lg in self.load_paths)


def _inside(path: str, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(root)
        return True
    except ValueError:
        return False


def read_coq_project(path: Path) -> list[LoadPath]:
    """The -Q/-R lines of a _CoqProject (other options are ignored)."""
    words = shlex.split(path.read_text(errors="replace"), comments=True)
    out: list[LoadPath] = []
    for i, w in enumerate(words):
        if w in ("-Q", "-R") and i + 2 < len(words):
            out.append((w, str((path.parent / words[i + 1]).resolve()), words[i + 2]))
    return out


def find_library(src: str | os.PathLike, name: str | None = None) -> CoqLibrary:
    root = Path(src).resolve()
    if not root.is_dir():
        raise ProofsmithError(f"{src}: not a directory of .v files")
    lib = coqlib()
    package, version = debian_package(str(root))
    theories, contrib = lib / "theories", lib / "user-contrib"
    if root == theories or theories in root.parents:
        # Files under theories/Arith are Coq.Arith.*: bind the whole theories dir.
        return CoqLibrary(root, (("-R", str(theories), "Coq"),), "coq-stdlib", version or coq_version(),
                          library_license(root, package) or "LGPL-2.1-only", builtin=True)
    if contrib in root.parents:
        top = contrib / root.relative_to(contrib).parts[0]
        return CoqLibrary(root, (("-R", str(top), top.name),), name or top.name, version or coq_version(),
                          library_license(top, package), builtin=True)
    project = root / "_CoqProject"
    load_paths = read_coq_project(project) if project.is_file() else []
    if name or not load_paths:
        load_paths = [("-R", str(root), name or re.sub(r"\W", "_", root.name))]
    return CoqLibrary(root, tuple(load_paths), name or root.name, version, library_license(root, package))


def is_compiled(library: CoqLibrary) -> bool:
    return all((f.with_suffix(".vo")).is_file() and f.with_suffix(".vo").stat().st_mtime >= f.stat().st_mtime
               for f in library.files())


def ensure_built(library: CoqLibrary, jobs: int = 1, timeout_s: float = 600) -> CoqLibrary:
    """A library whose every file has a .vo: as is, or compiled into a cached copy.

    Only files that another file Requires are compiled (coqidetop checks the rest
    itself). Files that fail to compile are left without a .vo; extraction reports why.
    """
    if library.builtin or is_compiled(library):
        return library
    key = hashlib.sha256(str(library.root).encode()).hexdigest()[:16]
    build = cache_dir("coq-build", key)
    shutil.copytree(library.root, build, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.vo", "*.vok", "*.vos", "*.glob", ".*"))
    built = replace(library, build_root=build)
    files = [built.work_path(f) for f in library.files()]
    deps = _dependencies(built, files)
    args = [a for lp in built.coq_args() for a in lp]
    pending = set().union(*deps.values()) if deps else set()  # only what some file Requires needs a .vo
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        while pending:
            ready = [f for f in pending if deps.get(f, set()) & pending == set()]
            if not ready:  # a cycle: give up on the rest, extraction reports each file
                break
            for f in ready:
                pending.discard(f)

            def compile_one(f: Path) -> None:
                vo = f.with_suffix(".vo")
                if vo.is_file() and vo.stat().st_mtime >= f.stat().st_mtime:
                    return
                try:
                    children.run(["coqc", *args, f.name], cwd=f.parent, capture_output=True, timeout=timeout_s, check=False)
                except subprocess.TimeoutExpired:
                    pass  # no .vo: the files that Require it fail with Coq's own message

            list(pool.map(compile_one, ready))
    return built


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

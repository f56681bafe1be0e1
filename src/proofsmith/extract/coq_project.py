"""A Coq library on disk: its .v files, logical names (-Q/-R/-I), provenance, build.

`find_library(src)` works out how Coq names the files under `src` (coq_loadpath.py):
the standard library (``$(coqc -where)/theories``) is the ``Coq`` namespace, an
installed library ``user-contrib/X`` is ``-R .../X X`` with its plugins' directories on
the ML path, a ``_CoqProject`` or dune project gives its own load paths (and file
list), and otherwise `--name` (default: the directory's name) is bound to `src` with
``-R``. `installed_library(NAME)` is the same for a library named as Coq names it.
Provenance comes from provenance.py. Libraries without compiled ``.vo`` files are first
compiled with ``coqc`` in the sandbox into a copy under the cache (`ensure_built`,
coq_build.py), in dependency order, so a project's own files can ``Require`` each other.
"""

from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from .. import children
from ..core import ProofsmithError
from .coq_loadpath import (
    LoadPath,
    installed_dependencies,
    installed_resolution,
    installed_root,
    installed_units,
    resolve_project,
)
from .licenses import library_license, package_version
from .provenance import Origin, installed_origin, project_origin

STDLIB = "coq-stdlib"


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
    builtin: bool = False  # installed (the stdlib or user-contrib): compiled, its .vo used as they are
    build_root: Path | None = None  # where compiled copies live, when we built them
    ml_paths: tuple[str, ...] = ()  # -I: directories of the plugins (.cmxs) it loads
    extra_args: tuple[str, ...] = ()  # coqc options a _CoqProject gives with -arg
    listed: tuple[Path, ...] = ()  # the project's own file list (_CoqProject); empty: every .v under root
    logical: str = ""  # its own logical name (Coq, MenhirLib, ...)
    package: str = ""  # the Debian package that installed it
    depends: tuple[str, ...] = ()  # the installed libraries it needs

    def files(self) -> list[Path]:
        if self.listed:
            return sorted(p for p in self.listed if p.is_file())
        return sorted(p for p in self.root.rglob("*.v") if p.is_file() and "_build" not in p.relative_to(self.root).parts)

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
        """Load paths to give coqidetop (none for the stdlib, which Coq binds; built copies else)."""
        if self.name == STDLIB and self.builtin:
            return ()
        if not self.build_root:
            return self.load_paths
        return tuple((f, str(self.build_root / Path(p).relative_to(self.root)) if _inside(p, self.root) else p, lg)
                     for f, p, lg in self.load_paths)

    def coq_flags(self) -> list[str]:
        """Everything coqc/coqidetop need beyond the file: load paths, -I plugin dirs, -arg options."""
        out = [a for lp in self.coq_args() for a in lp]
        for d in self.ml_paths:
            out += ["-I", str(self.build_root / Path(d).relative_to(self.root)) if self.build_root and
                    _inside(d, self.root) else d]
        return out + list(self.extra_args)


def _inside(path: str, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(root)
        return True
    except ValueError:
        return False


def stdlib() -> CoqLibrary:
    theories = coqlib() / "theories"
    origin = installed_origin(theories)
    return CoqLibrary(theories, (("-R", str(theories), "Coq"),), STDLIB, origin.version or coq_version(),
                      origin.license or "LGPL-2.1-only", builtin=True, logical="Coq", package=origin.package)


def installed_library(name: str, root: Path | None = None) -> CoqLibrary:
    """The installed library `name`: a user-contrib directory (Coq's logical name), or one
    package's part of a shared one (``mathcomp-fingroup``). `root`: only a part of it."""
    lib = coqlib()
    units = {u.name: u for u in installed_units(lib)}
    unit = units.get(name)
    if unit is None and not (installed_root(lib) / name).is_dir():
        known = ", ".join(units) or "none"
        raise ProofsmithError(f"no installed Coq library {name!r} under {installed_root(lib)} (installed: {known})")
    top = unit.top if unit else name
    found = installed_resolution(lib, top)
    if unit and unit.package:
        origin = Origin(name, package_version(unit.package), library_license(lib, unit.package), unit.package)
    else:
        origin = installed_origin(installed_root(lib) / top)
    return CoqLibrary(root or installed_root(lib) / top, found.load_paths, name, origin.version or coq_version(),
                      origin.license, builtin=True, ml_paths=found.ml_paths, logical=top, package=origin.package,
                      depends=installed_dependencies(lib, name), listed=unit.files if unit and not root else ())


def installed_libraries(names: list[str] | None = None) -> list[CoqLibrary]:
    """The standard library and every installed library (or those named: a library's name, a
    user-contrib directory for all its libraries, Coq for the standard library)."""
    units = installed_units(coqlib())
    known = [u.name for u in units]
    if names is None:
        return [stdlib()] + [installed_library(n) for n in known]
    chosen: list[str] = []
    for n in names:
        matches = [n] if n in known or n in ("Coq", STDLIB) else [u.name for u in units if u.top == n]
        if not matches:
            raise ProofsmithError(f"--libraries: no installed Coq library {n} (installed: Coq, {', '.join(known)})")
        chosen += matches
    return [stdlib() if n in ("Coq", STDLIB) else installed_library(n) for n in dict.fromkeys(chosen)]


def find_library(src: str | os.PathLike, name: str | None = None) -> CoqLibrary:
    root = Path(src).resolve()
    if not root.is_dir():
        raise ProofsmithError(f"{src}: not a directory of .v files")
    lib = coqlib()
    theories, contrib = lib / "theories", installed_root(lib)
    if root == theories or theories in root.parents:
        # Files under theories/Arith are Coq.Arith.*: bind the whole theories dir.
        return replace(stdlib(), root=root)
    if contrib in root.parents:
        library = installed_library(root.relative_to(contrib).parts[0], root)
        return replace(library, name=name) if name else library
    found = resolve_project(root, name)
    origin = project_origin(root, name)
    return CoqLibrary(root, found.load_paths, origin.name, origin.version, origin.license or library_license(root),
                      ml_paths=found.ml_paths, extra_args=found.extra_args, listed=found.files,
                      logical=found.logical, package=origin.package)


def ensure_built(library: CoqLibrary, jobs: int = 1, timeout_s: float = 600) -> CoqLibrary:
    """The library with a .vo for every file another Requires (coq_build.py: coqc in the sandbox, cached)."""
    from .coq_build import ensure_built as build

    return build(library, jobs, timeout_s)

"""Load paths as Coq resolves them, for each shape a Coq library comes in.

- **installed** (``$(coqc -where)/user-contrib/NAME``, what every ``libcoq-*`` package
  installs): Coq binds ``user-contrib`` itself, but like ``-Q``: a file's short
  ``Require Import Grammar.`` of its own library only resolves under ``-R``, as the
  library was built. So the library is bound again with ``-R DIR NAME``; its ``.vo``
  files are used as they are; the directories holding ``.cmxs`` plugins go on the ML
  path (``-I``); the installed libraries it needs are the ``user-contrib`` names its
  files' ``.vo`` dependencies lie under (coqdep), transitively.
- **_CoqProject**: its ``-R``/``-Q``/``-I`` lines, ``-arg`` options, and its file list.
- **dune** (``coq.theory`` stanzas in ``dune`` files): each theory's directory is
  ``-R DIR NAME`` (dune binds a theory's own files that way; with
  ``(include_subdirs unqualified)`` each subdirectory too, so ``sub/B.v`` is ``NAME.B``);
  the theories it lists in ``(theories ...)`` are the project's other stanzas or
  installed libraries (which Coq finds itself).
- **plain directory**: ``-R DIR NAME``.
"""

from __future__ import annotations

import functools
import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from .. import children
from .licenses import debian_owners, package_files

LoadPath = tuple[str, str, str]


@dataclass(frozen=True)
class Resolution:
    """What coqc needs to see a library's files under the names they were written for."""

    load_paths: tuple[LoadPath, ...]  # (-R|-Q, physical dir, logical name)
    ml_paths: tuple[str, ...] = ()  # -I dirs (plugins)
    extra_args: tuple[str, ...] = ()  # _CoqProject's -arg values
    files: tuple[Path, ...] = ()  # the project's own list of files; empty: every .v under the root
    logical: str = ""  # the library's own logical name


def logical_name(name: str) -> str:
    """A directory name as a Coq identifier (what -R binds it to)."""
    name = re.sub(r"\W", "_", name)
    return name if re.match(r"[A-Za-z_]", name) else "_" + name


def plugin_dirs(root: Path) -> tuple[str, ...]:
    """Directories under root holding compiled plugins (.cmxs)."""
    return tuple(sorted({str(p.parent) for p in root.rglob("*.cmxs")}))


# -- installed libraries --------------------------------------------------------------

def installed_root(coqlib: Path) -> Path:
    return coqlib / "user-contrib"


def installed_names(coqlib: Path) -> list[str]:
    """Every library installed under user-contrib (a directory holding .vo files)."""
    contrib = installed_root(coqlib)
    if not contrib.is_dir():
        return []
    return sorted(d.name for d in contrib.iterdir() if d.is_dir() and next(d.rglob("*.vo"), None) is not None)


def installed_resolution(coqlib: Path, top: str) -> Resolution:
    d = installed_root(coqlib) / top
    return Resolution((("-R", str(d), top),), ml_paths=plugin_dirs(d), logical=top)


@dataclass(frozen=True)
class InstalledUnit:
    """One installed library: a user-contrib directory, or one Debian package's part of it
    where several packages install into the same directory (mathcomp-ssreflect, -fingroup...)."""

    name: str  # the directory's name, or the package's without "libcoq-" when it shares the directory
    top: str  # the user-contrib directory: its logical name
    package: str
    files: tuple[Path, ...] = ()  # the package's .v files; empty: every .v under the directory

    def sources(self, coqlib: Path) -> list[Path]:
        return list(self.files) or sorted((installed_root(coqlib) / self.top).rglob("*.v"))


@functools.lru_cache(maxsize=4)
def installed_units(coqlib: Path) -> tuple[InstalledUnit, ...]:
    units: list[InstalledUnit] = []
    for top in installed_names(coqlib):
        d = installed_root(coqlib) / top
        owners = debian_owners(str(d))
        if len(owners) <= 1:
            units.append(InstalledUnit(top, top, owners[0] if owners else ""))
            continue
        for package in owners:
            files = tuple(sorted(Path(p) for p in package_files(package) if p.endswith(".v") and p.startswith(f"{d}/")))
            if files:
                units.append(InstalledUnit(package.removeprefix("libcoq-"), top, package, files))
    return tuple(units)


def _owner(coqlib: Path, path: Path) -> str:
    """The installed library a file under user-contrib belongs to."""
    units = installed_units(coqlib)
    source = path.with_suffix(".v")
    for u in units:
        if u.files and source in u.files:
            return u.name
    try:
        return path.relative_to(installed_root(coqlib)).parts[0]
    except ValueError:
        return ""


@functools.lru_cache(maxsize=128)
def installed_dependencies(coqlib: Path, name: str) -> tuple[str, ...]:
    """The other installed libraries `name` needs, transitively (from coqdep over its files)."""
    seen: list[str] = []
    todo = [name]
    while todo:
        for dep in _direct_dependencies(coqlib, todo.pop()):
            if dep != name and dep not in seen:
                seen.append(dep)
                todo.append(dep)
    return tuple(sorted(seen))


@functools.lru_cache(maxsize=128)
def _direct_dependencies(coqlib: Path, name: str) -> tuple[str, ...]:
    unit = next((u for u in installed_units(coqlib) if u.name == name), None)
    if unit is None:
        return ()
    contrib = installed_root(coqlib)
    files = [str(p) for p in unit.sources(coqlib)]
    if not files:
        return ()
    others = [a for n in installed_names(coqlib) if n != unit.top for a in ("-Q", str(contrib / n), n)]
    out = children.run(["coqdep", *others, "-R", str(contrib / unit.top), unit.top, *files], capture_output=True,
                       text=True, timeout=600, check=False)  # coqdep, unlike coqc, does not see user-contrib by itself
    found = set()
    for line in out.stdout.splitlines():
        for word in line.partition(":")[2].split():
            if word.endswith(".vo") and (owner := _owner(coqlib, Path(word).resolve())) and owner != name:
                found.add(owner)
    return tuple(sorted(found))


# -- _CoqProject -------------------------------------------------------------------------

def read_coq_project(path: Path) -> Resolution:
    """-R/-Q (load paths), -I (ML path), -arg (coqc options) and the .v files of a _CoqProject."""
    words = shlex.split(path.read_text(errors="replace"), comments=True)
    base = path.parent
    load_paths: list[LoadPath] = []
    ml: list[str] = []
    args: list[str] = []
    files: list[Path] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("-Q", "-R") and i + 2 < len(words):
            load_paths.append((w, str((base / words[i + 1]).resolve()), words[i + 2]))
            i += 3
            continue
        if w == "-I" and i + 1 < len(words):
            ml.append(str((base / words[i + 1]).resolve()))
        elif w == "-arg" and i + 1 < len(words):
            args += shlex.split(words[i + 1])
        elif w.endswith(".v") and not w.startswith("-") and (base / w).is_file():
            files.append((base / w).resolve())
        i += 2 if w in ("-I", "-arg") else 1
    own = next((lg for _f, p, lg in load_paths if Path(p) == base.resolve()), load_paths[0][2] if load_paths else "")
    return Resolution(tuple(load_paths), tuple(ml), tuple(args), tuple(files), own)


# -- dune ------------------------------------------------------------------------------------

def _sexps(text: str) -> list:
    """A dune file as nested lists of atoms (comments dropped; strings kept as atoms)."""
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|[()]|[^\s()";]+', re.sub(r";[^\n]*", "", text))
    stack: list[list] = [[]]
    for tok in tokens:
        if tok == "(":
            stack.append([])
        elif tok == ")":
            if len(stack) > 1:
                done = stack.pop()
                stack[-1].append(done)
        else:
            stack[-1].append(tok.strip('"'))
    return stack[0]


def _field(stanza: list, key: str) -> list[str]:
    for item in stanza[1:]:
        if isinstance(item, list) and item and item[0] == key:
            return [a for a in item[1:] if isinstance(a, str)]
    return []


def dune_theories(root: Path) -> dict[str, dict]:
    """name -> {dir, subdirs} for every coq.theory stanza under root (not _build)."""
    found: dict[str, dict] = {}
    for dune in sorted(root.rglob("dune")):
        if "_build" in dune.relative_to(root).parts or not dune.is_file():
            continue
        stanzas = [x for x in _sexps(dune.read_text(errors="replace")) if isinstance(x, list) and x]
        subdirs = next((x[1] for x in stanzas if x[0] == "include_subdirs" and len(x) > 1), "no")
        for stanza in stanzas:
            if stanza[0] == "coq.theory":
                name = (_field(stanza, "name") or [""])[0]
                if name:
                    # (theories ...) are this project's stanzas (all bound) or installed ones; (plugins ...)
                    # are findlib names: Coq finds both itself
                    found[name] = {"dir": dune.parent.resolve(), "subdirs": subdirs}
    return found


def read_dune_project(root: Path) -> Resolution | None:
    """The load paths of the dune theories under root (None when there is none)."""
    theories = dune_theories(root)
    if not theories:
        return None
    load_paths: list[LoadPath] = []
    for name, t in theories.items():
        load_paths.append(("-R", str(t["dir"]), name))
        if t["subdirs"] == "unqualified":  # sub/B.v is Name.B, not Name.sub.B
            load_paths += [("-R", str(d), name) for d in sorted({p.parent for p in t["dir"].rglob("*.v")})
                           if d != t["dir"] and "_build" not in d.parts]
    ml = [d for t in theories.values() for d in plugin_dirs(t["dir"])]
    build = root / "_build" / "default"  # a dune-built project's plugins
    if build.is_dir():
        ml += plugin_dirs(build)
    own = min(theories, key=lambda n: len(theories[n]["dir"].parts))
    return Resolution(tuple(load_paths), tuple(dict.fromkeys(ml)), (), (), own)


def plain_resolution(root: Path, name: str | None = None) -> Resolution:
    logical = name or logical_name(root.name)
    return Resolution((("-R", str(root), logical),), ml_paths=plugin_dirs(root), logical=logical)


def resolve_project(root: Path, name: str | None = None) -> Resolution:
    """A project directory's load paths: `--name` wins, then _CoqProject, then dune, then -R ROOT NAME."""
    if name:
        return plain_resolution(root, name)
    if (root / "_CoqProject").is_file():
        found = read_coq_project(root / "_CoqProject")
        if found.load_paths:
            return found
        plain = plain_resolution(root)  # only -I/-arg/files: the directory itself is the library
        return replace(found, load_paths=plain.load_paths, logical=plain.logical,
                       ml_paths=tuple(dict.fromkeys(found.ml_paths + plain.ml_paths)))
    return read_dune_project(root) or plain_resolution(root)

"""UnitCoder's package-based retrieval: self-contained top-level functions from a code corpus.

A function is kept when it is defined at module level, takes arguments, returns a
value, has no nested function, class or import, has no decorator, uses no module
global other than what the module imported, and every module it imports is on the
package list (UnitCoder: BigCodeBench's libraries; default here: the standard
library). Functions whose text mentions a blocked call (UnitCoder's string
blocklist: `kill`, `os.system`, `rmtree`, `input(` ...) are dropped.

The default corpus is the standard library's own source on this machine, so no
download is needed. A corpus is a directory of .py files, one .py file, or a JSONL
file of ``{"id", "content"}`` records (UnitCoder's input).
"""

from __future__ import annotations

import ast
import builtins
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..core import ProofsmithError, Provenance, sha256_text

STDLIB = "stdlib"
BLOCKLIST = ("kill", "os.system", "rmtree", "input(", "subprocess", "shutil.move", "os.remove", "os.unlink",
             "exit(", "fork", "socket", "urlopen", "sleep(", "signal", "threading", "multiprocessing")
_SKIP_STDLIB_DIRS = {"test", "tests", "idlelib", "tkinter", "turtledemo", "site-packages", "lib2to3", "ensurepip",
                     "__pycache__", "distutils", "venv", "pydoc_data"}
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class RetrievedFunction:
    id: str  # module:name
    name: str
    module: str
    source: str  # the function alone
    import_code: tuple[str, ...]  # the module's import statements it needs
    provenance: Provenance = field(default_factory=Provenance)

    @property
    def program(self) -> str:
        """The function as a runnable module: its imports, then the function."""
        return "".join(line + "\n" for line in self.import_code) + ("\n" if self.import_code else "") + self.source


def stdlib_sources() -> Iterator[tuple[str, str]]:
    """(module name, path) of the standard library's .py files, test suites and GUIs left out."""
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part in _SKIP_STDLIB_DIRS for part in rel.parts[:-1]) or rel.name.startswith("test_"):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            yield ".".join(parts), str(path)


def corpus_sources(corpus: str) -> Iterator[tuple[str, str, str]]:
    """(module id, text, origin) for every file of the corpus."""
    if corpus == STDLIB:
        for module, path in stdlib_sources():
            yield module, Path(path).read_text(encoding="utf-8", errors="replace"), f"python-stdlib:{module}"
        return
    path = Path(corpus)
    if not path.exists():
        raise ProofsmithError(f"{corpus}: no such file or directory (give a directory, a .py, a JSONL or '{STDLIB}')")
    prefix = "python-stdlib:" if in_stdlib(corpus) else ""
    if path.is_dir():
        for file in sorted(path.rglob("*.py")):
            rel = file.relative_to(path).with_suffix("")
            text = file.read_text(encoding="utf-8", errors="replace")
            yield ".".join(rel.parts), text, prefix + str(file.relative_to(path))
    elif path.suffix == ".py":
        yield path.stem, path.read_text(encoding="utf-8", errors="replace"), prefix + path.name
    else:
        from ..io import read_jsonl

        for i, record in enumerate(read_jsonl(path)):
            if "content" not in record:
                raise ProofsmithError(f"{corpus}:{i + 1}: a corpus record needs a 'content' field")
            yield str(record.get("id", i)), record["content"], f"{path.name}:{i + 1}"


def in_stdlib(corpus: str) -> bool:
    """Whether the corpus is the standard library or a part of it (for license and provenance)."""
    if corpus == STDLIB:
        return True
    root = Path(sysconfig.get_paths()["stdlib"]).resolve()
    return Path(corpus).resolve().is_relative_to(root)


def _import_bindings(tree: ast.Module) -> dict[str, tuple[str, str]]:
    """Name bound by each module-level import -> (root package, the import statement for it)."""
    bound = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                stmt = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                bound[name] = (alias.name.split(".")[0], stmt)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if alias.name == "*":
                    continue
                name = alias.asname or alias.name
                stmt = f"from {node.module} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                bound[name] = (node.module.split(".")[0], stmt)
    return bound


def _free_names(func: ast.FunctionDef) -> set[str]:
    """Names the function reads that it does not bind itself."""
    bound = {a.arg for a in ast.walk(func.args) if isinstance(a, ast.arg)}
    loaded = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            loaded.update(node.names)  # touching module state: not self-contained
    return loaded - bound


def _returns_value(func: ast.FunctionDef) -> bool:
    return any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(func))


def _nested(func: ast.FunctionDef) -> bool:
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.Import,
                              ast.ImportFrom, ast.Yield, ast.YieldFrom, ast.Await))
               for n in ast.walk(func) if n is not func)


def functions_in(module: str, text: str, packages: frozenset[str], origin: str = "",
                 max_lines: int = 40) -> Iterator[RetrievedFunction]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return
    imports = _import_bindings(tree)
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.decorator_list or node.name.startswith("__"):
            continue
        has_args = node.args.args or node.args.posonlyargs or node.args.kwonlyargs or node.args.vararg
        if not has_args or not _returns_value(node) or _nested(node):
            continue
        source = ast.get_source_segment(text, node)
        if not source or source.count("\n") + 1 > max_lines or any(word in source for word in BLOCKLIST):
            continue
        free = _free_names(node) - _BUILTINS - {node.name}
        if any(name not in imports for name in free):
            continue  # needs module globals or helpers: not self-contained
        needed = sorted({imports[name][1] for name in free})
        if any(imports[name][0] not in packages for name in free):
            continue
        yield RetrievedFunction(
            id=f"{module}:{node.name}", name=node.name, module=module, source=source, import_code=tuple(needed),
            provenance=Provenance(source=origin, project="python-stdlib" if origin.startswith("python-stdlib") else "",
                                  version=sys.version.split()[0] if origin.startswith("python-stdlib") else "",
                                  license="PSF-2.0" if origin.startswith("python-stdlib") else "",
                                  sha256=sha256_text(source),
                                  span=(node.lineno, node.col_offset, node.end_lineno or node.lineno,
                                        node.end_col_offset or 0)),
        )


def default_packages() -> frozenset[str]:
    return frozenset(sys.stdlib_module_names)


def retrieve(corpus: str = STDLIB, packages: Iterable[str] | None = None, limit: int | None = None) -> list[RetrievedFunction]:
    """Package-based retrieval over the corpus, in corpus order, duplicates (same text) once."""
    allowed = frozenset(packages) if packages else default_packages()
    found, seen = [], set()
    for module, text, origin in corpus_sources(corpus):
        for function in functions_in(module, text, allowed, origin):
            if function.source in seen:
                continue
            seen.add(function.source)
            found.append(function)
            if limit and len(found) >= limit:
                return found
    return found

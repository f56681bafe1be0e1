"""Where a Coq library came from: name, version and licence from its own metadata.

An installed library (``user-contrib/NAME``) is described by the Debian package that
installed it (`dpkg -S`): package, version, the licence of its ``debian/copyright``.
A project that no package installed is described by what it says of itself, first
found wins, field by field:

- name: the ``*.opam`` file (``coq-huffman.opam`` -> ``coq-huffman``; an ``opam`` file's
  ``name:``), ``dune-project``'s ``(name ...)``, ``meta.yml``'s ``opam_name`` or
  ``shortname``, else the directory's name;
- version: opam's ``version:`` (unless ``dev``), ``dune-project``'s ``(version ...)``,
  ``git describe --tags --always`` where the project is a repository, opam's ``dev``;
- licence: opam's ``license:``, ``dune-project``'s ``(license ...)``, ``meta.yml``'s
  ``license: identifier:`` (all SPDX ids already), else its LICENSE/COPYING file read
  by `licenses.library_license` ("or later" included).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .. import children
from .licenses import debian_package, library_license


@dataclass(frozen=True)
class Origin:
    name: str
    version: str
    license: str
    package: str = ""  # the Debian package that installed it, when one did


def _opam(root: Path) -> dict[str, str]:
    files = sorted(root.glob("*.opam"))
    if (root / "opam").is_file():
        files.append(root / "opam")
    if not files:
        return {}
    # several packages in one repository: the shortest name is the main one (coq-x before coq-x-extra)
    best = min(files, key=lambda f: (f.name == "opam", len(f.stem)))
    text = best.read_text(errors="replace")
    found = {k: m[1] for k in ("name", "version", "license")
             if (m := re.search(rf'^{k}:\s*"([^"]*)"', text, re.MULTILINE))}
    if best.name != "opam":
        found["name"] = best.stem
    return found


def _dune_project(root: Path) -> dict[str, str]:
    f = root / "dune-project"
    if not f.is_file():
        return {}
    text = f.read_text(errors="replace")
    return {k: m[1] for k in ("name", "version", "license")
            if (m := re.search(rf'^\({k}\s+"?([^")\s]+)"?\)', text, re.MULTILINE))}


def _meta_yml(root: Path) -> dict[str, str]:
    f = root / "meta.yml"
    if not f.is_file():
        return {}
    text = f.read_text(errors="replace")
    found = {}
    if m := re.search(r"^opam_name:\s*['\"]?([\w.-]+)", text, re.MULTILINE):
        found["name"] = m[1]
    elif m := re.search(r"^shortname:\s*['\"]?([\w.-]+)", text, re.MULTILINE):
        found["name"] = f"coq-{m[1]}"  # coq-community's templates name the opam package coq-SHORTNAME
    if m := re.search(r"^license:\s*\n(?:\s+.*\n)*?\s+identifier:\s*['\"]?([\w.+-]+)", text, re.MULTILINE):
        found["license"] = m[1]
    return found


def git_describe(root: Path) -> str:
    """`git describe --tags --always --dirty` where root is inside a repository, else ''."""
    if not any((p / ".git").exists() for p in [root, *root.parents]):
        return ""
    try:
        out = children.run(["git", "-C", str(root), "describe", "--tags", "--always", "--dirty"],
                           capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def project_origin(root: Path, name: str | None = None) -> Origin:
    """A project's name, version and licence from its own metadata (see the module docstring)."""
    package, deb_version = debian_package(str(root))
    if package:
        return Origin(name or root.name, deb_version, library_license(root, package), package)
    sources = [_opam(root), _dune_project(root), _meta_yml(root)]

    def first(key: str) -> str:
        return next((s[key] for s in sources if s.get(key)), "")

    version = next((s["version"] for s in sources if s.get("version") and s["version"] != "dev"), "")
    version = version or git_describe(root) or first("version")
    return Origin(name or first("name") or root.name, version, first("license") or library_license(root))


def installed_origin(top: Path) -> Origin:
    """An installed library (user-contrib/NAME or the standard library): its Debian package."""
    package, version = debian_package(str(top))
    return Origin(top.name, version, library_license(top, package), package)

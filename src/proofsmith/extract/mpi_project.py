"""Where MPI programs come from: a source tree, a source archive, or a Debian source package.

`find_project(src)` takes what a user has after `apt-get source --download-only PKG` (the
``.dsc`` with its ``.orig.tar.*`` and ``.debian.tar.*`` beside it), `pip download
--no-binary :all: PKG` (an sdist ``.tar.gz``), any ``.tar.*``/``.tgz`` archive, or a
directory, and gives the tree with its name, version and SPDX licence. Archives are
unpacked once (safely: no links out, no absolute paths) under
``paths.cache_dir("mpi-sources")``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ..core import ProofsmithError
from ..paths import cache_dir
from .licenses import library_license, license_from_debian_copyright
from .mpi import lang_of

_ARCHIVE = re.compile(r"\.(tar(\.(gz|xz|bz2|zst))?|tgz|tbz2|txz)$")
_NAME_VERSION = re.compile(r"^(?P<name>.+?)[-_](?P<version>\d[\w.+~]*)$")
_CHANGELOG = re.compile(r"^(?P<name>[a-z0-9][a-z0-9+.-]+) \((?P<version>[^)]+)\)")


@dataclass(frozen=True)
class MpiProject:
    name: str
    version: str
    license: str  # SPDX id, "" when unknown
    root: Path  # the tree files are taken from
    origin: str  # what the user gave (a path), for the card

    def files(self) -> list[Path]:
        """Every C/C++ source file under the root (headers are no translation units), in a fixed order."""
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                path = Path(dirpath, name)
                if lang_of(name) and path.is_file() and not path.is_symlink():
                    found.append(path)
        return found


def find_project(src: str, name: str | None = None) -> MpiProject:
    path = Path(src)
    if not path.exists():
        raise ProofsmithError(f"{src}: no such file or directory")
    if path.is_dir():
        root = path
    elif path.suffix == ".dsc":
        root = _unpack_dsc(path)
    elif _ARCHIVE.search(path.name):
        root = _unpack([path])
    else:
        raise ProofsmithError(f"{src}: not a directory, a source archive (.tar.gz, .tar.xz, ...) or a Debian .dsc")
    found_name, version = _name_and_version(root.resolve())
    return MpiProject(name=name or found_name, version=version, license=project_license(root.resolve()),
                      root=root, origin=str(src))


def project_license(root: Path) -> str:
    """A Debian source tree's debian/copyright (its ``Files: *``), else the tree's LICENSE/COPYING."""
    for directory in [root, *root.parents][:4]:
        copyright_file = directory / "debian" / "copyright"
        if copyright_file.is_file():
            spdx = license_from_debian_copyright(copyright_file.read_text(errors="replace"))
            if spdx:
                return spdx
    return library_license(root)


def _name_and_version(root: Path) -> tuple[str, str]:
    for directory in [root, *root.parents][:4]:
        changelog = directory / "debian" / "changelog"
        if changelog.is_file() and (m := _CHANGELOG.match(changelog.read_text(errors="replace"))):
            return m["name"], m["version"]
        pkg_info = directory / "PKG-INFO"
        if pkg_info.is_file():
            fields = dict(re.findall(r"^(Name|Version):\s*(\S+)", pkg_info.read_text(errors="replace"), re.MULTILINE))
            if "Name" in fields:
                return fields["Name"].lower(), fields.get("Version", "")
        if m := _NAME_VERSION.match(directory.name):
            return m["name"].lower(), m["version"]
    return root.name, ""


def _unpack_dsc(dsc: Path) -> Path:
    """A Debian source package as `apt-get source --download-only` leaves it: the upstream tree with debian/ in it."""
    text = dsc.read_text(errors="replace")
    files = re.search(r"^Files:\s*\n((?:[ \t]+\S+.*\n?)+)", text, re.MULTILINE)
    names = [line.split()[-1] for line in files[1].splitlines() if line.strip()] if files else []
    tarballs = [dsc.parent / n for n in names if _ARCHIVE.search(n)]
    missing = [str(t) for t in tarballs if not t.is_file()]
    if not tarballs or missing:
        raise ProofsmithError(f"{dsc}: its tarballs are not beside it ({', '.join(missing) or 'none listed'}); "
                              f"fetch them with `apt-get source --download-only PACKAGE`")
    tarballs.sort(key=lambda t: ".debian." in t.name)  # upstream first, then debian/ over it
    return _unpack(tarballs)


def _unpack(archives: list[Path]) -> Path:
    """Unpack into the cache (once per set of archives' contents); the tree's top directory."""
    digest = hashlib.sha256()
    for a in archives:
        digest.update(a.name.encode())
        with a.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    target = cache_dir("mpi-sources") / digest.hexdigest()[:16]
    if not target.is_dir():
        tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        top = None
        for a in archives:
            try:
                with tarfile.open(a) as tar:
                    names = [m.name.split("/", 1)[0] for m in tar.getmembers() if m.name not in ("", ".")]
                    first = names[0] if names else ""
                    # a Debian .debian.tar.* holds debian/ and goes inside the upstream top directory
                    into = tmp / top if top and first == "debian" else tmp
                    tar.extractall(into, filter="data")
                    if top is None and first and first != "debian":
                        top = first
            except (tarfile.TarError, OSError, EOFError) as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                raise ProofsmithError(f"{a}: cannot unpack ({exc})") from None
        (tmp / ".top").write_text(top or "")
        os.replace(tmp, target)
    top = (target / ".top").read_text()
    return target / top if top and (target / top).is_dir() else target

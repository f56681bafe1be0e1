"""Z3 at the version F* asks for, from the `z3-solver` wheel, without the user placing it on PATH.

F* runs the solver it is given with ``--smt PATH`` and checks that it reports the version
given with ``--z3version X.Y.Z`` (F* is tested with 4.8.5 and 4.13.3). The `z3-solver`
wheel ships the `z3` executable among its data files (``z3_solver-V.data/data/bin/z3``,
installed as ``<prefix>/bin/z3``); its RECORD names it, so `find_z3` reads the
distribution's file list rather than searching PATH. Where:

1. the `z3-solver` installed in this Python, when its version is the one asked for;
2. a copy installed for that version alone under the cache,
   ``$PROOFSMITH_CACHE/z3/<version>`` (``pip install --target DIR z3-solver==<version>.0``,
   which `install_command` spells out), so that two versions can be had side by side.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..core import ProofsmithError
from ..paths import cache_dir

DEFAULT_VERSION = "4.13.3"


@dataclass(frozen=True)
class Z3:
    path: str  # the executable
    version: str  # X.Y.Z, as F*'s --z3version takes it

    def fstar_options(self) -> list[str]:
        return ["--smt", self.path, "--z3version", self.version]


def short_version(version: str) -> str:
    """`4.13.3.0` (the wheel's) -> `4.13.3` (F*'s)."""
    return ".".join(version.split(".")[:3])


def _from_distribution(dist: importlib.metadata.Distribution) -> str | None:
    for f in dist.files or ():
        if str(f).replace("\\", "/").endswith("bin/z3"):
            path = Path(dist.locate_file(f)).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    return None


def versioned_dir(version: str) -> Path:
    return cache_dir("z3") / short_version(version)


def install_command(version: str) -> list[str]:
    return [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(versioned_dir(version)),
            f"z3-solver=={short_version(version)}.0"]


def find_z3(version: str | None = None) -> Z3:
    """The z3 executable of the asked version (default: the installed wheel's, else DEFAULT_VERSION)."""
    try:
        installed = importlib.metadata.distribution("z3-solver")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    wanted = short_version(version) if version else (short_version(installed.version) if installed
                                                       else DEFAULT_VERSION)
    if installed and short_version(installed.version) == wanted:
        path = _from_distribution(installed)
        if path:
            return Z3(path, wanted)
    target = versioned_dir(wanted)
    for dist in importlib.metadata.distributions(path=[str(target)]):
        if dist.metadata["Name"].lower().replace("_", "-") == "z3-solver":
            # pip --target moves the data files to DIR/bin, while RECORD still says ../../bin/z3
            here = target / "bin" / "z3"
            path = str(here) if here.is_file() and os.access(here, os.X_OK) else _from_distribution(dist)
            if path:
                return Z3(path, wanted)
    raise ProofsmithError(f"F* needs Z3 {wanted}, which is not installed: pip install 'proofsmith[fstar]' "
                          f"(z3-solver=={wanted}.0), or for this version beside another: "
                          + " ".join(install_command(wanted)))


def reported_version(z3: Z3) -> str:
    """What the executable itself says (`Z3 version 4.13.3 - 64 bit` -> `4.13.3`)."""
    out = subprocess.run([z3.path, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    words = out.split()
    return words[2] if len(words) > 2 and words[:2] == ["Z3", "version"] else out.strip()

"""Output directories: proofsmith writes only into its own, and replaces only its own files.

A directory is ours when it holds ``OUT/.proofsmith``, written when proofsmith claims a
new or empty directory: JSON naming the command that made it and every file proofsmith
wrote there, with its sha256. Then

- `claim(path, made_by)` makes a new or empty directory ours, accepts one of ours, and
  refuses anything else with one line (a user's directory is never written into);
- `OutDir.replace(files)` writes files atomically, each only where nothing is or where
  proofsmith's own file still is (one the user edited is theirs now: refused, untouched);
  `stale_under` removes the files proofsmith wrote there before that this write does
  not repeat, never a file of the user's that sits beside them.

Directories made before the marker existed are recognised by a file only proofsmith
writes there (a run manifest, say: `legacy`); their card and Parquet files are adopted.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from .core import ProofsmithError

MARKER = ".proofsmith"
LEGACY_FILES = ("README.md", "data/*/*-of-*.parquet")  # what old versions wrote beside their manifests


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class OutDir:
    """A directory proofsmith made, and the files it wrote there (relative path -> sha256 or None)."""

    def __init__(self, path: Path, made_by: str, files: dict[str, str | None]) -> None:
        self.path, self.made_by, self.files = path, made_by, files

    def owns(self, rel: str) -> bool:
        """Whether `rel` may be replaced: absent, or still the file proofsmith wrote there."""
        target = self.path / rel
        if not target.exists() and not target.is_symlink():
            return True
        if rel not in self.files or not target.is_file() or target.is_symlink():
            return False
        digest = self.files[rel]
        return digest is None or file_sha256(target) == digest  # None: being written, or adopted

    def check_writable(self, names: Iterable[str]) -> None:
        for rel in names:
            if not self.owns(rel):
                what = "was changed since proofsmith wrote it" if rel in self.files else "is not proofsmith's"
                raise ProofsmithError(f"{self.path / rel} {what}; move it away or use another --out")

    def replace(self, files: Mapping[str, Callable[[Path], None]], stale_under: str | None = None) -> None:
        """Write each `rel` with `produce(tmp_path)`, then swap them all in; drop our old files under `stale_under`."""
        self.check_writable(files)
        self.files.update({rel: None for rel in files})
        self.save()  # the names first: a kill mid-write leaves files we still know as ours
        staged = []
        for rel, produce in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
            produce(tmp)
            staged.append((tmp, target, rel))
        for tmp, target, rel in staged:  # after the slow part: readers see old or new files, briefly both
            os.replace(tmp, target)
            self.files[rel] = file_sha256(target)
        if stale_under is not None:
            for rel in sorted(r for r in self.files if r.startswith(stale_under) and r not in files):
                if self.owns(rel):
                    (self.path / rel).unlink(missing_ok=True)
                    _remove_empty_parents(self.path / rel, self.path)
                del self.files[rel]  # removed, or the user's now
        self.save()

    def write_text(self, rel: str, text: str) -> None:
        self.replace({rel: lambda tmp: tmp.write_text(text, encoding="utf-8")})

    def adopt(self, rel: str, source: Path) -> None:
        """Move a file proofsmith made elsewhere (a library's save_pretrained) into place as `rel`."""
        self.replace({rel: lambda tmp: os.replace(source, tmp)})

    def save(self) -> None:
        from .runs import write_atomic

        write_atomic(self.path / MARKER, json.dumps({"made_by": self.made_by, "files": self.files}, indent=1,
                                                    sort_keys=True))


def claim(path: str | os.PathLike, made_by: str = "proofsmith", legacy: Sequence[str] = (),
          writes: Iterable[str] = ()) -> OutDir:
    """`path` as a directory of ours (made now if new or empty); refuses a directory proofsmith did not make.

    `writes`: names the command will replace, checked now rather than after the work.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ProofsmithError(f"--out {out} is a file, not a directory; use another --out")
    marker = out / MARKER
    if marker.is_file():
        try:
            data = json.loads(marker.read_text())
            outdir = OutDir(out, str(data["made_by"]), dict(data["files"]))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise ProofsmithError(f"{marker}: unreadable; use another --out") from None
    elif out.is_dir() and any(out.iterdir()):
        if not any((out / name).is_file() for name in legacy):
            raise ProofsmithError(f"--out {out} is not empty and was not made by proofsmith; "
                                  f"use an empty or new directory")
        adopted = {str(p.relative_to(out)): None for pattern in LEGACY_FILES for p in out.glob(pattern) if p.is_file()}
        outdir = OutDir(out, made_by, adopted)
        outdir.save()
    else:
        out.mkdir(parents=True, exist_ok=True)
        outdir = OutDir(out, made_by, {})
        outdir.save()
    outdir.check_writable(writes)
    return outdir


def _remove_empty_parents(path: Path, root: Path) -> None:
    parent = path.parent
    while parent != root and root in parent.parents:
        try:
            parent.rmdir()
        except OSError:  # not empty: something else (perhaps the user's) is there
            return
        parent = parent.parent

"""The Sandbox contract: run an untrusted command with limits, get a RunResult.

Backends (`bwrap`, `docker`) enforce the same Limits and report the same RunResult,
so checkers never know which one they run on. Every run gets a private writable
scratch directory (the working directory, ``/scratch``), a read-only system, no
network, and an environment holding only what the run was given.
"""

from __future__ import annotations

import abc
import functools
import os
import shutil
import sys
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

from ...core import ProofsmithError, Verdict

SCRATCH = "/scratch"


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0
    cpu_s: float = 10.0
    memory_mb: int = 1024  # address space and (where cgroups allow) resident memory
    processes: int = 64  # processes and threads
    output_bytes: int = 1 << 20  # per stream; beyond it the run is killed and flagged
    file_bytes: int = 64 << 20  # largest file and whole scratch directory
    network: bool = False

    def scaled(self, factor: float) -> Limits:
        return replace(self, wall_s=self.wall_s * factor, cpu_s=self.cpu_s * factor)


@dataclass(frozen=True)
class RunResult:
    returncode: int | None  # None when killed by us; 128 + n when the program died of signal n
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float = 0.0
    max_rss_kb: int = 0
    timed_out: bool = False  # wall or CPU limit
    memory_exceeded: bool = False
    output_truncated: bool = False
    files: Mapping[str, bytes] = field(default_factory=dict)  # collected outputs

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not (self.timed_out or self.memory_exceeded or self.output_truncated)

    def resources(self) -> dict:
        return {"wall_s": round(self.wall_s, 4), "cpu_s": round(self.cpu_s, 4), "max_rss_kb": self.max_rss_kb}

    def limit_verdict(self, what: str = "the program") -> Verdict | None:
        """The verdict when a limit stopped the run, else None."""
        res = self.resources()
        if self.timed_out:
            return Verdict("timeout", f"{what} exceeded the time limit ({self.wall_s:.1f}s)", self.wall_s, res)
        if self.memory_exceeded:
            return Verdict("memory", f"{what} exceeded the memory limit", self.wall_s, res)
        if self.output_truncated:
            return Verdict("failed", f"{what} exceeded the output limit", self.wall_s, res)
        return None


# What every backend shows a run of the host, read-only.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
# /etc holds secrets (shadow, keys): only what programs need to start and resolve names.
ETC_FILES = ("/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
              "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/openmpi",
              "/etc/ocamlfind.conf", "/etc/ocamlfind.conf.d", "/etc/findlib.conf")
MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "Out of memory", "std::bad_alloc", "out of memory")


def interpreter_paths() -> list[str]:
    """The paths this interpreter is known by, as given (symlinks and all): what runs name."""
    return list(_interpreter_paths())


@functools.lru_cache(maxsize=1)
def _interpreter_paths() -> tuple[str, ...]:
    paths = [sys.executable, sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *_site_packages()]
    return tuple(sorted({os.path.abspath(p) for p in paths if p}))


def interpreter_dirs() -> list[str]:
    """Python installations outside /usr (pyenv, conda, venvs) are bound read-only too: their real
    directories; `symlink_hops` recreates the symlinks a run reaches them through."""
    return list(_interpreter_dirs())


@functools.lru_cache(maxsize=1)
def _interpreter_dirs() -> tuple[str, ...]:
    dirs = set()
    for path in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *_site_packages()):
        real = os.path.realpath(path)
        if os.path.isdir(real) and not _under(real, ("/usr",)):
            dirs.add(real)
    return tuple(sorted(d for d in dirs if not any(_under(d, (other,)) for other in dirs - {d})))


def _site_packages() -> list[str]:
    try:
        import site

        return site.getsitepackages()
    except (AttributeError, ImportError):  # a stripped-down site module
        return []


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


@functools.lru_cache(maxsize=256)
def _hops(path: str) -> tuple[tuple[str, str], ...]:
    hops: list[tuple[str, str]] = []
    current, parts = "/", [p for p in os.path.abspath(path).split("/") if p]
    while parts and len(hops) < 40:  # 40: the kernel's own limit on symlinks in one lookup
        part = parts.pop(0)
        if part == "..":
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, part)
        try:
            target = os.readlink(candidate)
        except OSError:  # not a link (or not there): a plain step
            current = candidate
            continue
        hops.append((candidate, target))
        parts = [p for p in target.split("/") if p and p != "."] + parts
        if os.path.isabs(target):
            current = "/"
    return tuple(hops)


def symlink_hops(paths: Sequence[str]) -> list[tuple[str, str]]:
    """Every symlink met on the way to each of `paths`: (where it is, with real parents; its target).

    A sandbox that binds only real directories recreates these so that a path given through a
    link (a venv reached through a symlinked directory, a project dir that is a symlink) still
    resolves inside it.
    """
    seen: dict[str, str] = {}
    for path in paths:
        for where, target in _hops(path):
            seen.setdefault(where, target)
    return sorted(seen.items())


def is_executable_content(data: bytes) -> bool:
    return data.startswith(b"\x7fELF") or data.startswith(b"#!")


class SandboxUnavailable(ProofsmithError):
    pass


class SandboxStartError(ProofsmithError):
    """The sandbox itself did not start (bwrap refused a bind, an executable is missing...)."""


def start_error(what: str, stderr: bytes | str, returncode: int | None) -> SandboxStartError:
    """One line: what failed and the sandbox's own words (its stderr), never an empty message."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    said = "; ".join(line.strip() for line in text.strip().splitlines() if line.strip())[-800:]
    if not said:
        said = "no message" + (f", exit status {returncode}" if returncode is not None else "")
    return SandboxStartError(f"{what} failed to start: {said}")


class Sandbox(abc.ABC):
    """Base class. `run` is the whole contract; `spawn` serves long-lived sessions."""

    name = "base"

    @abc.abstractmethod
    def run(
        self,
        command: Sequence[str],
        files: Mapping[str, str | bytes] | None = None,
        limits: Limits = Limits(),
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        collect: Sequence[str] = (),
    ) -> RunResult:
        """Run `command` in a fresh scratch dir holding `files` (name -> content).

        `collect` names scratch files to hand back in RunResult.files.
        """

    @abc.abstractmethod
    def seeing(self, paths: Sequence[str]) -> Sandbox:
        """The same backend, also showing `paths` read-only (e.g. a project's sources)."""

    def close(self) -> None:
        pass


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment a sandboxed program sees: nothing inherited."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": SCRATCH,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    env.update(extra or {})
    return env


def check_relative(name: str) -> str:
    """Scratch file names are relative and stay inside the scratch dir."""
    norm = os.path.normpath(name)
    if os.path.isabs(norm) or norm.startswith(".."):
        raise ValueError(f"sandbox file name must be relative and inside the scratch dir: {name!r}")
    return norm


def require_binary(binary: str, how: str) -> str:
    path = shutil.which(binary)
    if not path:
        raise SandboxUnavailable(f"{binary} not found: {how}")
    return path

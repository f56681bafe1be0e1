"""Programs compiled once per source: the compiler in the sandbox, binaries cached by content hash.

Competitive-programming sources take seconds to compile (``bits/stdc++.h``) and run
in milliseconds, and a sampler proposes the same MPI program many times over, so a
runner that recompiles per run spends much of its time in the compiler. The key covers
the compiler's identity (its version, and for wrappers such as ``mpicc`` what they run)
and the flags as well as the source, so a cached binary is exactly what compiling now
would give. Compile errors are cached too: a broken source fails fast the second time.
`CompileCache` is the one cache; `CppCompileCache` is its g++ configuration (REFUTE),
`checkers/mpi.py` makes the ``mpicc``/``mpicxx`` ones.

Flags are portable Linux ones (no ``-march=native``, no Windows stack switches): the
binary runs wherever the cache directory is shared between machines of one kind.
"""

from __future__ import annotations

import functools
import os
import subprocess
import threading
from pathlib import Path

from ..core import ProofsmithError, sha256_text
from ..paths import cache_dir
from .sandbox import Limits, Sandbox, get_sandbox

CPP_FLAGS = ("-O2", "-std=gnu++20", "-DONLINE_JUDGE", "-pipe")
COMPILE_LIMITS = Limits(wall_s=120.0, cpu_s=120.0, memory_mb=4096, processes=32, output_bytes=1 << 20,
                        file_bytes=256 << 20)


class CompileError(ProofsmithError):
    """The source does not compile; `log` holds the compiler's messages."""

    def __init__(self, log: str, language: str = "C++") -> None:
        super().__init__(f"{language} compile error: " + (log.strip().splitlines() or ["(no message)"])[0][:300])
        self.log = log


@functools.lru_cache(maxsize=16)
def compiler_id(*probes: tuple[str, ...]) -> str:
    """The first line each probe command (`g++ --version`, `mpicc --showme`) prints: part of the cache key."""
    lines = []
    for probe in probes:
        try:
            out = subprocess.run(list(probe), check=False, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ProofsmithError(f"{probe[0]} not available ({exc})") from exc
        lines.append(out.splitlines()[0] if out else probe[0])
    return "\n".join(lines)


class CompileCache:
    """`binary(source) -> bytes`, compiling in the sandbox on a miss: `compiler *flags -o a.out SOURCE_NAME`.

    `probes` are the commands whose output identifies the compiler (its version; for a
    wrapper, also the command it runs), `language` names it in compile errors.
    """

    def __init__(self, sandbox: Sandbox | None, directory: Path, compiler: str, flags: tuple[str, ...],
                 source_name: str, probes: tuple[tuple[str, ...], ...] = (), language: str = "C++",
                 limits: Limits = COMPILE_LIMITS) -> None:
        self.sandbox = sandbox or get_sandbox()
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.compiler, self.flags, self.source_name = compiler, tuple(flags), source_name
        self.probes = tuple(probes) or ((compiler, "--version"),)
        self.language, self.limits = language, limits
        self.hits = self.misses = 0
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def key(self, source: str, extra_flags: tuple[str, ...] = ()) -> str:
        return sha256_text("\0".join((compiler_id(*self.probes), self.compiler, *self.flags, self.source_name,
                                       *extra_flags, source)))

    def binary(self, source: str, extra_flags: tuple[str, ...] = ()) -> bytes:
        """The compiled program; `extra_flags` (a task's own, such as `-lm`) come after the source."""
        extra_flags = tuple(extra_flags)
        key = self.key(source, extra_flags)
        with self._lock_for(key):  # two workers asking for one source compile it once
            cached = self._read(key)
            if cached is None:
                self.misses += 1
                cached = self._compile(source, extra_flags)
                self._write(key, cached)
            else:
                self.hits += 1
        ok, payload = cached
        if not ok:
            raise CompileError(payload.decode("utf-8", errors="replace"), self.language)
        return payload

    def _compile(self, source: str, extra_flags: tuple[str, ...]) -> tuple[bool, bytes]:
        command = [self.compiler, *self.flags, "-o", "a.out", self.source_name, *extra_flags]
        result = self.sandbox.run(command, files={self.source_name: source}, limits=self.limits, collect=["a.out"])
        binary = result.files.get("a.out")
        if result.ok and binary:
            return True, binary
        why = " (compiler timed out)" if result.timed_out else ""
        return False, (result.stderr + why).encode()

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _read(self, key: str) -> tuple[bool, bytes] | None:
        for ok, suffix in ((True, ".bin"), (False, ".err")):
            path = self.directory / (key + suffix)
            if path.exists():
                return ok, path.read_bytes()
        return None

    def _write(self, key: str, entry: tuple[bool, bytes]) -> None:
        ok, payload = entry
        path = self.directory / (key + (".bin" if ok else ".err"))
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}.{threading.get_ident()}")
        tmp.write_bytes(payload)
        os.replace(tmp, path)  # whole files only: a killed run never leaves half a binary


class CppCompileCache(CompileCache):
    """g++ with portable competitive-programming flags, cached under `cache_dir("cpp")` (REFUTE)."""

    def __init__(self, sandbox: Sandbox | None = None, directory: Path | None = None,
                 flags: tuple[str, ...] = CPP_FLAGS, limits: Limits = COMPILE_LIMITS) -> None:
        super().__init__(sandbox, Path(directory) if directory else cache_dir("cpp"), "g++", flags, "main.cpp",
                         limits=limits)

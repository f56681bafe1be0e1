"""C++ compiled once per source: g++ in the sandbox, binaries cached by content hash.

Competitive-programming sources take seconds to compile (``bits/stdc++.h``) and run
in milliseconds, so a runner that recompiles per run spends nearly all its time in
g++. The key covers the compiler's version and the flags as well as the source, so a
cached binary is exactly what compiling now would give. Compile errors are cached
too: a broken source fails fast the second time.

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

    def __init__(self, log: str) -> None:
        super().__init__("C++ compile error: " + (log.strip().splitlines() or ["(no message)"])[0][:300])
        self.log = log


@functools.lru_cache(maxsize=1)
def compiler_id() -> str:
    """The first line of `g++ --version`: part of the cache key."""
    try:
        out = subprocess.run(["g++", "--version"], check=False, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProofsmithError(f"g++ not available ({exc}): apt-get install g++") from exc
    return out.splitlines()[0] if out else "g++"


class CppCompileCache:
    """`binary(source) -> bytes`, compiling in the sandbox on a miss."""

    def __init__(self, sandbox: Sandbox | None = None, directory: Path | None = None,
                 flags: tuple[str, ...] = CPP_FLAGS, limits: Limits = COMPILE_LIMITS) -> None:
        self.sandbox = sandbox or get_sandbox()
        self.directory = Path(directory) if directory else cache_dir("cpp")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.flags, self.limits = tuple(flags), limits
        self.hits = self.misses = 0
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def key(self, source: str) -> str:
        return sha256_text("\0".join((compiler_id(), *self.flags, source)))

    def binary(self, source: str) -> bytes:
        key = self.key(source)
        with self._lock_for(key):  # two workers asking for one source compile it once
            cached = self._read(key)
            if cached is None:
                self.misses += 1
                cached = self._compile(source)
                self._write(key, cached)
            else:
                self.hits += 1
        ok, payload = cached
        if not ok:
            raise CompileError(payload.decode("utf-8", errors="replace"))
        return payload

    def _compile(self, source: str) -> tuple[bool, bytes]:
        command = ["g++", *self.flags, "-o", "a.out", "main.cpp"]
        result = self.sandbox.run(command, files={"main.cpp": source}, limits=self.limits, collect=["a.out"])
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

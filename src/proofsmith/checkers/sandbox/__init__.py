"""Sandboxes: run an untrusted command with limits, get a RunResult.

`base.py` is the contract (Limits, RunResult, Sandbox and what backends share);
`bwrap.py` (default) and `docker.py` (with `docker_boot.py`, `docker_stream.py`) are
the backends; `warm.py` forks Python runs from warm sandboxed interpreters; `cgroups.py`
gives each run its cgroup. `get_sandbox(name)` picks a backend.
"""

from __future__ import annotations

import os

from ...core import ProofsmithError
from .base import (  # noqa: F401 (the contract, imported from here by every checker)
    ETC_FILES,
    MEMORY_MARKERS,
    SCRATCH,
    SYSTEM_DIRS,
    Limits,
    RunResult,
    Sandbox,
    SandboxStartError,
    SandboxUnavailable,
    base_env,
    check_relative,
    interpreter_dirs,
    interpreter_paths,
    is_executable_content,
    require_binary,
    start_error,
    symlink_hops,
)


def get_sandbox(name: str | None = None) -> Sandbox:
    """The sandbox backend by name; default from PROOFSMITH_SANDBOX, else bwrap."""
    name = name or os.environ.get("PROOFSMITH_SANDBOX", "bwrap")
    if name == "bwrap":
        from .bwrap import BwrapSandbox

        return BwrapSandbox()
    if name == "docker":
        from .docker import DockerSandbox

        return DockerSandbox()
    raise ProofsmithError(f"unknown sandbox backend {name!r} (bwrap or docker)")

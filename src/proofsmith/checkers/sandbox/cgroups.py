"""One cgroup per sandboxed run, for pids and memory limits that also bind root.

Works on cgroup v1 (separate `pids` and `memory` hierarchies) and v2 (unified).
Where the tree is not writable (non-root, or a container), `RunCgroup.create`
returns None and the sandbox relies on rlimits alone.
"""

from __future__ import annotations

import os
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path

from .base import Limits

ROOT = Path("/sys/fs/cgroup")
GROUP = "proofsmith"


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _v2() -> bool:
    return (ROOT / "cgroup.controllers").exists()


def _v2_parent() -> Path | None:
    """A v2 parent with pids and memory delegated to its children."""
    parent = ROOT / GROUP
    try:
        wanted = {"pids", "memory"}
        if not wanted <= set((ROOT / "cgroup.controllers").read_text().split()):
            return None
        _write(ROOT / "cgroup.subtree_control", "+pids +memory")
        parent.mkdir(exist_ok=True)
        _write(parent / "cgroup.subtree_control", "+pids +memory")
        return parent
    except OSError:
        return None


@dataclass
class RunCgroup:
    dirs: list[Path]  # v1: one per controller; v2: one
    v2: bool

    @classmethod
    def create(cls, limits: Limits) -> RunCgroup | None:
        if os.environ.get("PROOFSMITH_NO_CGROUPS"):
            return None
        name = uuid.uuid4().hex[:16]
        try:
            if _v2():
                parent = _v2_parent()
                if parent is None:
                    return None
                d = parent / name
                d.mkdir()
                _write(d / "pids.max", str(limits.processes))
                _write(d / "memory.max", str(limits.memory_mb << 20))
                if (d / "memory.swap.max").exists():
                    _write(d / "memory.swap.max", "0")
                return cls([d], True)
            pids, mem = ROOT / "pids" / GROUP / name, ROOT / "memory" / GROUP / name
            if not os.access(ROOT / "pids", os.W_OK) or not os.access(ROOT / "memory", os.W_OK):
                return None
            pids.mkdir(parents=True)
            mem.mkdir(parents=True)
            _write(pids / "pids.max", str(limits.processes))
            _write(mem / "memory.limit_in_bytes", str(limits.memory_mb << 20))
            if (mem / "memory.memsw.limit_in_bytes").exists():
                _write(mem / "memory.memsw.limit_in_bytes", str(limits.memory_mb << 20))
            dirs = [pids, mem]
            if os.access(ROOT / "cpuacct", os.W_OK):  # CPU seconds of the whole tree
                cpu = ROOT / "cpuacct" / GROUP / name
                cpu.mkdir(parents=True)
                dirs.append(cpu)
            return cls(dirs, False)
        except OSError:
            return None

    @property
    def procs_files(self) -> str:
        """Shell redirection targets: `echo $$ > a` joins each hierarchy."""
        return " && echo $$ > ".join(str(d / "cgroup.procs") for d in self.dirs)

    def pids(self) -> set[int]:
        found: set[int] = set()
        for d in self.dirs:
            try:
                found.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return found

    def kill_all(self) -> None:
        if self.v2 and (self.dirs[0] / "cgroup.kill").exists():
            try:
                _write(self.dirs[0] / "cgroup.kill", "1")
            except OSError:
                pass
        for _ in range(100):
            alive = self.pids()
            if not alive:
                return
            for pid in alive:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def cpu_seconds(self) -> float | None:
        """CPU time of every process the run had, children included (None if unknown)."""
        try:
            if self.v2:
                for line in (self.dirs[0] / "cpu.stat").read_text().splitlines():
                    if line.startswith("usage_usec "):
                        return int(line.split()[1]) / 1e6
                return None
            if len(self.dirs) > 2:
                return int((self.dirs[2] / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            pass
        return None

    def oom_killed(self) -> bool:
        try:
            if self.v2:
                events = (self.dirs[0] / "memory.events").read_text()
                return any(line.split()[0] == "oom_kill" and int(line.split()[1]) > 0 for line in events.splitlines())
            mem = self.dirs[1]
            control = (mem / "memory.oom_control").read_text()
            for line in control.splitlines():
                if line.startswith("oom_kill ") and int(line.split()[1]) > 0:
                    return True
            return int((mem / "memory.failcnt").read_text()) > 0 and "under_oom 1" in control
        except (OSError, ValueError, IndexError):
            return False

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    self.kill_all()

"""The bubblewrap backend: Linux namespaces, rlimits and (where writable) cgroups.

Each run gets fresh user, pid, net, ipc, uts and cgroup namespaces, a read-only view of
the system directories, a size-limited tmpfs scratch directory as its working
directory, and nothing else of the host. Limits are enforced by the kernel:
rlimits (address space, CPU seconds, file size, processes for non-root users) set
through `prlimit`, and a cgroup (pids, memory) when the cgroup tree is writable, as it
is for root. When the wall clock runs out, killing bwrap kills the pid namespace's
init and with it every process the run started, daemons included.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Mapping, Sequence

from ... import children
from ...text import encode_text
from .base import (
    ETC_FILES,
    MEMORY_MARKERS,
    SCRATCH,
    SYSTEM_DIRS,
    Limits,
    RunResult,
    Sandbox,
    base_env,
    check_relative,
    interpreter_dirs,
    interpreter_paths,
    is_executable_content,
    require_binary,
    start_error,
    symlink_hops,
)
from .cgroups import RunCgroup


class _StreamReader(threading.Thread):
    """Reads a pipe into memory up to `cap` bytes; past it, flags and calls `on_overflow`."""

    def __init__(self, pipe, cap: int, on_overflow) -> None:
        super().__init__(daemon=True)
        self.pipe, self.cap, self.on_overflow = pipe, cap, on_overflow
        self.chunks: list[bytes] = []
        self.size = 0
        self.overflow = False

    def run(self) -> None:
        while chunk := self.pipe.read1(65536):
            if self.size < self.cap:
                self.chunks.append(chunk[: self.cap - self.size])
            self.size += len(chunk)
            if self.size > self.cap and not self.overflow:
                self.overflow = True
                self.on_overflow()
        self.pipe.close()

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", errors="replace")


class BwrapSandbox(Sandbox):
    name = "bwrap"

    def __init__(self, ro_paths: Sequence[str] = ()) -> None:
        self.bwrap = require_binary("bwrap", "install bubblewrap (apt-get install bubblewrap)")
        self.prlimit = require_binary("prlimit", "install util-linux (apt-get install util-linux)")
        self.ro_paths = tuple(ro_paths)

    def seeing(self, paths: Sequence[str]) -> BwrapSandbox:
        """Bound at their real paths; the paths as given (through symlinks) resolve there too."""
        return BwrapSandbox(self.ro_paths + tuple(os.path.abspath(p) for p in paths))

    # -- command line -------------------------------------------------------------------

    def _bwrap_args(self, limits: Limits, env: Mapping[str, str], host_scratch: str | None,
                    command: Sequence[str] = ()) -> list[str]:
        args = [self.bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--hostname", "sandbox", "--clearenv"]
        if limits.network:
            args.append("--share-net")
        for d in SYSTEM_DIRS:
            if os.path.islink(d):
                args += ["--symlink", os.readlink(d), d]
            elif os.path.isdir(d):
                args += ["--ro-bind", d, d]
        for p in ETC_FILES:
            if os.path.exists(p):
                args += ["--ro-bind", p, p]
        args += ["--dev", "/dev", "--proc", "/proc"]
        args += ["--size", str(limits.file_bytes), "--tmpfs", "/tmp"]
        if host_scratch:
            args += ["--bind", host_scratch, SCRATCH]
        else:
            args += ["--size", str(limits.file_bytes), "--tmpfs", SCRATCH]
        # Real paths only, after /tmp (a path under it stays visible); then the symlinks that the
        # interpreter's and these paths' names go through, where no bind already shows them.
        binds = list(dict.fromkeys(os.path.realpath(p) for p in interpreter_dirs() + list(self.ro_paths)))
        binds = [p for p in binds if os.path.exists(p)]
        for p in binds:
            args += ["--ro-bind", p, p]
        named = interpreter_paths() + list(self.ro_paths) + [c for c in command[:1] if os.path.isabs(c)]
        shown = binds + [d for d in SYSTEM_DIRS if os.path.lexists(d)] + ["/proc", "/dev"]
        for where, target in symlink_hops(named):
            if where not in ("/tmp", SCRATCH) and not any(where == d or where.startswith(d + "/") for d in shown):
                args += ["--symlink", target, where]
        for key, value in env.items():
            args += ["--setenv", key, value]
        args += ["--chdir", SCRATCH]
        return args

    def _prlimit_args(self, limits: Limits) -> list[str]:
        cpu = max(1, int(limits.cpu_s + 0.999))
        args = [self.prlimit, f"--as={limits.memory_mb << 20}", f"--cpu={cpu}:{cpu + 1}",
                f"--fsize={limits.file_bytes}", "--core=0", "--nofile=1024"]
        if os.geteuid() != 0:  # RLIMIT_NPROC counts all of this user's tasks; root ignores it
            args.append(f"--nproc={_user_task_count() + limits.processes}")
        return args + ["--"]

    # -- running --------------------------------------------------------------------------

    def run(self, command, files=None, limits=Limits(), stdin=None, env=None, collect=()):
        files = {check_relative(k): encode_text(v, f"file {k!r}") for k, v in (files or {}).items()}
        stdin = None if stdin is None else encode_text(stdin, "stdin")
        host_scratch = tempfile.mkdtemp(prefix="proofsmith-scratch-") if collect else None
        fds: list[int] = []
        status = os.pipe() if _json_status_supported(self.bwrap) else None
        try:
            file_args = self._stage_files(files, host_scratch, fds)
            argv = self._bwrap_args(limits, base_env(env), host_scratch, command) + file_args + ["--", *command]
            if status:  # bwrap reports an exit code there only once the command was really executed
                fds.append(status[1])
                argv = [argv[0], "--json-status-fd", str(status[1])] + argv[1:]
            result = self._execute(argv, limits, stdin, fds, status[0] if status else None)
            if host_scratch:
                result = _with_collected(result, host_scratch, collect, limits.file_bytes)
            return result
        finally:
            for fd in fds:
                os.close(fd)
            if status:
                os.close(status[0])
            if host_scratch:
                shutil.rmtree(host_scratch, ignore_errors=True)

    def spawn(self, command: Sequence[str], files=None, limits: Limits = Limits(), env=None,
              stderr=subprocess.STDOUT) -> subprocess.Popen:
        """A long-lived sandboxed process with binary stdin/stdout pipes (stderr merged by default).

        CPU, memory, process and file limits hold; wall time is the caller's business.
        Kill it with `proc.kill()`: the pid namespace takes every child with it, and the
        run's cgroup goes when the process object does.
        """
        files = {check_relative(k): encode_text(v, f"file {k!r}") for k, v in (files or {}).items()}
        fds: list[int] = []
        try:
            argv = self._bwrap_args(limits, base_env(env), None, command) + self._stage_files(files, None, fds)
            argv, cgroup = self._limited(argv + ["--", *command], limits)
            try:
                proc = children.popen(argv, dies_by_itself=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=stderr, pass_fds=fds, start_new_session=True, bufsize=0)
            except OSError as exc:
                if cgroup:
                    cgroup.remove()
                raise start_error("the bwrap sandbox", f"{argv[0]}: {exc.strerror or exc}", None) from None
        finally:
            for fd in fds:
                os.close(fd)
        if cgroup:
            weakref.finalize(proc, cgroup.remove)
        return proc

    def _limited(self, argv: list[str], limits: Limits) -> tuple[list[str], RunCgroup | None]:
        """argv under rlimits and, where cgroups are writable, in a fresh cgroup joined before exec."""
        cgroup = RunCgroup.create(limits)
        argv = self._prlimit_args(limits) + argv
        if cgroup:
            argv = ["/bin/sh", "-c", f'echo $$ > {cgroup.procs_files} && exec "$@"', "sh"] + argv
        return argv, cgroup

    def _stage_files(self, files: Mapping[str, bytes], host_scratch: str | None, fds: list[int]) -> list[str]:
        args: list[str] = []
        dirs = sorted({str(Path(name).parent) for name in files} - {"."})
        if host_scratch:
            for name, data in files.items():
                path = Path(host_scratch, name)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                path.chmod(0o755 if is_executable_content(data) else 0o644)
            return args
        for d in dirs:
            args += ["--dir", f"{SCRATCH}/{d}"]
        for name, data in files.items():
            fd = os.memfd_create("proofsmith-file")
            os.write(fd, data) if len(data) < (1 << 16) else _write_all(fd, data)
            os.lseek(fd, 0, os.SEEK_SET)
            fds.append(fd)
            args += ["--perms", "0755" if is_executable_content(data) else "0644", "--file", str(fd), f"{SCRATCH}/{name}"]
        return args

    def _execute(self, argv: list[str], limits: Limits, stdin, fds: list[int], status_fd: int | None = None) -> RunResult:
        argv, cgroup = self._limited(argv, limits)
        start = time.monotonic()
        try:
            proc = children.popen(argv, dies_by_itself=True,  # --die-with-parent
                                  stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=fds, start_new_session=True)
        except OSError as exc:  # bwrap, prlimit or sh could not be executed at all
            if cgroup:
                cgroup.remove()
            raise start_error("the bwrap sandbox", f"{argv[0]}: {exc.strerror or exc}", None) from None
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            _killpg(proc.pid)
            if cgroup:
                cgroup.kill_all()

        out = _StreamReader(proc.stdout, limits.output_bytes, kill)
        err = _StreamReader(proc.stderr, limits.output_bytes, kill)
        out.start(), err.start()
        if stdin is not None:
            threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
        status, rusage = _wait4_with_timeout(proc.pid, limits.wall_s, on_timeout=kill)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        if cgroup:  # nothing outlives the run, even what escaped the pid namespace's reach
            cgroup.kill_all()
        out.join(5), err.join(5)
        oom = cgroup.oom_killed() if cgroup else False
        cpu = rusage.ru_utime + rusage.ru_stime
        if cgroup:
            cpu = cgroup.cpu_seconds() or cpu
            cgroup.remove()
        wall_timeout = killed.is_set() and not (out.overflow or err.overflow)
        rc = 128 - proc.returncode if proc.returncode < 0 else proc.returncode  # as the shell reports signals
        cpu_timeout = rc == 128 + signal.SIGXCPU or (rc == 128 + signal.SIGKILL and cpu >= limits.cpu_s * 0.95)
        stderr = err.text()
        if (status_fd is not None and rc != 0 and not (killed.is_set() or oom or _transient(stderr))
                and b'"exit-code"' not in _available(status_fd)):
            # the command never ran: bwrap (or prlimit before it) failed, and its stderr says why
            raise start_error("the bwrap sandbox", stderr, rc)
        memory = oom or (rc != 0 and any(m in stderr[-4000:] for m in MEMORY_MARKERS))
        return RunResult(
            returncode=None if killed.is_set() else rc,
            stdout=out.text(), stderr=stderr, wall_s=wall, cpu_s=cpu, max_rss_kb=rusage.ru_maxrss,
            timed_out=wall_timeout or cpu_timeout, memory_exceeded=memory,
            output_truncated=out.overflow or err.overflow,
        )


@functools.lru_cache(maxsize=8)
def _json_status_supported(bwrap: str) -> bool:
    """bwrap >= 0.5 writes {"exit-code": N} to --json-status-fd only when the command was executed."""
    try:
        done = children.run([bwrap, "--help"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise start_error("the bwrap sandbox", f"{bwrap}: {getattr(exc, 'strerror', None) or exc}", None) from None
    return b"--json-status-fd" in done.stdout + done.stderr


def _transient(stderr: str) -> bool:
    """Out of processes or memory at start (a neighbour's fork bomb under RLIMIT_NPROC): this run's
    failure, not a broken sandbox; it stays a failed run."""
    return "Resource temporarily unavailable" in stderr or "Cannot allocate memory" in stderr


def _available(fd: int) -> bytes:
    """What a pipe holds now, without waiting (our own copy of its write end may still be open)."""
    os.set_blocking(fd, False)
    data = b""
    try:
        while chunk := os.read(fd, 65536):
            data += chunk
    except BlockingIOError:
        pass
    return data


def _wait4_with_timeout(pid: int, timeout: float, on_timeout):
    done = threading.Event()
    box: dict = {}

    def waiter() -> None:
        box["status"] = os.wait4(pid, 0)
        done.set()

    threading.Thread(target=waiter, daemon=True).start()
    if not done.wait(timeout):
        on_timeout()
        done.wait()
    _, status, rusage = box["status"]
    return status, rusage


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _feed(pipe, data) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, OSError):
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _with_collected(result: RunResult, host_scratch: str, names: Sequence[str], cap: int) -> RunResult:
    from dataclasses import replace

    files = {}
    for name in names:
        path = Path(host_scratch, check_relative(name))
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= cap:
            files[name] = path.read_bytes()
    return replace(result, files=files)


def _user_task_count() -> int:
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count

"""Reading a docker sandbox container's attach stream (see docker.py, docker_boot.py).

Without a TTY the engine multiplexes stdout and stderr on one socket in frames: a byte
saying which stream, three zero bytes, a 4-byte big-endian length, then the payload.
`RunStream` keeps at most `cap` bytes of each stream and finds the first process's
trailer (after the run's nonce) on stdout; `DockerProcess` is what `spawn` returns.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import struct
import subprocess
import threading
from typing import Callable

from .base import MEMORY_MARKERS, Limits, RunResult

STDOUT, STDERR = 1, 2


class Frames:
    """Turns socket chunks into (stream, payload) pairs."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, data: bytes):
        self.pending += data
        while len(self.pending) >= 8:
            size = struct.unpack(">I", self.pending[4:8])[0]
            if len(self.pending) < 8 + size:
                return
            yield self.pending[0], self.pending[8:8 + size]
            self.pending = self.pending[8 + size:]


class RunStream:
    """One run's output: bounded stdout and stderr, and the trailer that follows the nonce."""

    def __init__(self, nonce: bytes, cap: int) -> None:
        self.nonce, self.cap = nonce, cap
        self.frames = Frames()
        self.out, self.err = bytearray(), bytearray()
        self.err_size = 0
        self.trailer: bytearray | None = None
        self.overflow = self.timed_out = False

    def feed(self, data: bytes) -> None:
        for kind, chunk in self.frames.feed(data):
            self._stdout(chunk) if kind == STDOUT else self._stderr(chunk)

    def _stderr(self, chunk: bytes) -> None:
        self.err += chunk[: max(0, self.cap - len(self.err))]
        self.err_size += len(chunk)
        self.overflow |= self.err_size > self.cap

    def _stdout(self, chunk: bytes) -> None:
        if self.trailer is not None:
            self.trailer += chunk
            return
        searched_to = max(0, len(self.out) - len(self.nonce))  # the nonce may straddle two chunks
        self.out += chunk
        at = self.out.find(self.nonce, searched_to)
        if at >= 0:
            self.trailer = self.out[at + len(self.nonce):]
            del self.out[at:]
        if len(self.out) > self.cap + len(self.nonce):  # past the cap whatever the last bytes turn out to be
            self.overflow = True
            del self.out[self.cap + len(self.nonce):]
        if self.trailer is not None and len(self.out) > self.cap:
            self.overflow = True

    def report(self) -> dict | None:
        """The first process's report, once it has arrived whole."""
        if self.trailer is None or len(self.trailer) < 8:
            return None
        size = struct.unpack(">Q", self.trailer[:8])[0]
        if len(self.trailer) < 8 + size:
            return None
        return json.loads(bytes(self.trailer[8:8 + size]))


def run_result(stream: RunStream, limits: Limits, wall: float, killed: bool) -> RunResult:
    """The same RunResult the bwrap backend gives for the same outcome."""
    report = stream.report() if not killed else None
    stdout = bytes(stream.out[: limits.output_bytes]).decode("utf-8", errors="replace")
    stderr = bytes(stream.err).decode("utf-8", errors="replace")
    if report is None:
        if not killed:  # the first process died before reporting (it should not): never a pass
            stderr += "\nsandbox: the container ended without reporting the job's exit status\n"
        return RunResult(returncode=None, stdout=stdout, stderr=stderr, wall_s=wall,
                         timed_out=stream.timed_out, output_truncated=stream.overflow)
    code = os.waitstatus_to_exitcode(report["status"])
    returncode = 128 - code if code < 0 else code  # killed by a signal: 128 + signal, as bwrap reports it
    cpu = report["cpu_s"]
    cpu_timeout = returncode == 128 + signal.SIGXCPU or (
        returncode == 128 + signal.SIGKILL and cpu >= limits.cpu_s * 0.95)
    memory = bool(report["oom_kill"]) or (returncode != 0 and any(m in stderr[-4000:] for m in MEMORY_MARKERS))
    return RunResult(
        returncode=None if stream.overflow else returncode, stdout=stdout, stderr=stderr, wall_s=wall,
        cpu_s=cpu, max_rss_kb=report["max_rss_kb"], timed_out=cpu_timeout, memory_exceeded=memory,
        output_truncated=stream.overflow,
        files={name: base64.b64decode(data) for name, data in report["files"].items()},
    )


class _SocketWriter:
    """The session's stdin: writes go to the container; close() sends end-of-file."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.closed = False

    def write(self, data: bytes) -> int:
        self.sock.sendall(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass


class DockerProcess:
    """A long-lived sandboxed process: the parts of `subprocess.Popen` that sessions use.

    `stdout` is a pipe like `Popen(..., stdout=PIPE, bufsize=0)`; `stderr` is
    `subprocess.STDOUT` (merged into stdout), `DEVNULL` or `PIPE` (its own pipe).
    `kill()` kills the whole container.
    """

    def __init__(self, sock: socket.socket, kill: Callable[[], None], wait_exit: Callable[[], int],
                 stderr: int = subprocess.STDOUT) -> None:
        self.args, self.pid, self.stderr, self.returncode = None, None, None, None
        self.stdin = _SocketWriter(sock)
        out_read, out_write = os.pipe()
        self.stdout = os.fdopen(out_read, "rb", buffering=0)
        targets = {STDOUT: out_write, STDERR: out_write if stderr == subprocess.STDOUT else None}
        if stderr == subprocess.PIPE:
            err_read, targets[STDERR] = os.pipe()
            self.stderr = os.fdopen(err_read, "rb", buffering=0)
        self._sock, self._kill, self._exited = sock, kill, threading.Event()
        threading.Thread(target=self._copy_out, args=(targets,), daemon=True).start()
        threading.Thread(target=self._wait, args=(wait_exit,), daemon=True).start()

    def _copy_out(self, targets: dict[int, int | None]) -> None:
        frames, gone = Frames(), set()
        while True:
            try:
                data = self._sock.recv(1 << 16)
            except OSError:
                break
            if not data:
                break
            for kind, chunk in frames.feed(data):
                fd = targets.get(kind)
                if fd is not None and fd not in gone:  # else keep draining: the engine must never wait on us
                    try:
                        _write_all(fd, chunk)
                    except OSError:
                        gone.add(fd)
        for fd in {fd for fd in targets.values() if fd is not None}:
            os.close(fd)

    def _wait(self, wait_exit: Callable[[], int]) -> None:
        try:
            self.returncode = wait_exit()
        finally:
            self.returncode = 137 if self.returncode is None else self.returncode
            self._exited.set()

    def poll(self) -> int | None:
        return self.returncode if self._exited.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired("docker sandbox session", timeout)
        return self.returncode

    def kill(self) -> None:
        if not self._exited.is_set():
            self._kill()

    terminate = kill


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

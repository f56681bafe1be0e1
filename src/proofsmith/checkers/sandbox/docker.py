"""The Docker backend: one throw-away container per run, started ahead of demand.

Same limits and RunResult as the bwrap backend. The engine enforces what belongs to the
container (memory and pids cgroups, no network, read-only root, size-limited tmpfs for
/scratch and /tmp, no capabilities, an unprivileged user); the container's first
process (`docker_boot.py`) applies the per-process rlimits (address space, CPU seconds,
file size), runs the job with only the job's environment and, when the job ends, kills
every process left in the container before it reports. A container serves exactly one
run, so nothing a job starts can reach the next one; on timeout or output overflow the
whole container is killed.

The image is empty: the host's system directories and Python are bind-mounted read-only,
so nothing has to be pulled (no registry needed) and vfs storage copies nothing.
`ensure_image` builds it on first use; `scripts/docker-image.sh` does the same by hand.

The pool: `pool_size` containers per set of limits are created, attached and started
in a background thread, each waiting for its one job on stdin. A run takes a ready one
(or makes one on the spot when none is ready) and the pool refills behind it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import select
import socket
import struct
import subprocess
import sys
import tarfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ...text import encode_text
from .base import (
    ETC_FILES,
    SCRATCH,
    SYSTEM_DIRS,
    Limits,
    Sandbox,
    SandboxUnavailable,
    base_env,
    check_relative,
    interpreter_dirs,
    interpreter_paths,
    is_executable_content,
    symlink_hops,
)
from .docker_stream import DockerProcess, RunStream, run_result

IMAGE = "proofsmith-sandbox:latest"
LABEL = "proofsmith.sandbox"
SANDBOX_USER = "65534:65534"  # nobody: owns the scratch dir, nothing else
_BOOT_SOURCE = Path(__file__).with_name("docker_boot.py").read_text()
DRAIN_S = 2.0  # how long output may trail the first process's report
_HOW_TO_START = "start one with scripts/start-docker.sh (or `sudo dockerd &`), or point DOCKER_HOST at one"


def docker_client():
    """A client of a running engine, or SandboxUnavailable saying how to get one."""
    try:
        import docker
    except ImportError as exc:
        raise SandboxUnavailable("the docker backend needs the docker Python package: pip install docker") from exc
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # any failure here means the same thing to the user
        raise SandboxUnavailable(f"no Docker engine answers ({type(exc).__name__}): {_HOW_TO_START}") from exc
    return client


def ensure_image(client, image: str = IMAGE) -> None:
    """Our default image is an empty file system: build it locally when it is missing."""
    import docker

    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        if image != IMAGE:
            raise SandboxUnavailable(f"docker image {image!r} not found: docker pull {image} (or build it)") from None
    empty = io.BytesIO()
    tarfile.open(fileobj=empty, mode="w").close()
    repository, tag = IMAGE.split(":")
    try:
        client.api.import_image_from_data(empty.getvalue(), repository=repository, tag=tag)
        client.images.get(image)
        print(f"proofsmith: built the docker image {IMAGE} (empty; the host's system is mounted read-only)",
              file=sys.stderr)
    except Exception as exc:
        raise SandboxUnavailable(f"cannot build the docker image {IMAGE}: run scripts/docker-image.sh ({exc})") from exc


@dataclass(frozen=True)
class _Shape:
    """The limits fixed when a container is created; containers are pooled per shape."""

    memory_mb: int
    processes: int
    file_bytes: int
    network: bool

    @classmethod
    def of(cls, limits: Limits) -> _Shape:
        return cls(limits.memory_mb, limits.processes, limits.file_bytes, limits.network)


@dataclass
class _Container:
    id: str
    sock: socket.socket  # attached stdin/stdout/stderr, docker's multiplexed frames
    keepalive: object  # the SDK object owning the socket


class DockerSandbox(Sandbox):
    name = "docker"
    POOLED_SHAPES = 2  # warm containers are kept for the limits of the last two kinds of run

    def __init__(self, image: str = IMAGE, pool_size: int = 2, host_system: bool = True,
                 ro_paths: Sequence[str] = ()) -> None:
        """`host_system=False` runs an image that brings its own system and python3."""
        self.image, self.pool_size, self.host_system, self.ro_paths = image, pool_size, host_system, tuple(ro_paths)
        self._local = threading.local()
        ensure_image(self._client(), image)
        self._owner_pid = os.getpid()
        self._ready: dict[_Shape, deque[_Container]] = {}
        self._lock = threading.Lock()
        self._starting = 0  # containers being made for the pool right now
        self._filler = ThreadPoolExecutor(max_workers=max(1, self.pool_size), thread_name_prefix="docker-pool")
        self._closed = False
        _remove_orphans(self._client())


    def seeing(self, paths: Sequence[str]) -> DockerSandbox:
        return DockerSandbox(self.image, self.pool_size, self.host_system,
                             self.ro_paths + tuple(os.path.abspath(p) for p in paths))
    def _client(self):
        """One API client per thread: the SDK's HTTP session is not meant to be shared."""
        if getattr(self._local, "client", None) is None:
            self._local.client = docker_client()
        return self._local.client

    # -- containers ------------------------------------------------------------------------

    def _python(self) -> str:
        return sys.executable if self.host_system else "python3"

    def _binds(self) -> list[str]:
        """Docker's "HOST:CONTAINER:ro" binds (a list: one host directory may show at two places)."""
        if not self.host_system:
            return []
        paths = [d for d in SYSTEM_DIRS if os.path.exists(d)] + [p for p in ETC_FILES if os.path.exists(p)]
        paths += interpreter_dirs() + [os.path.realpath(p) for p in self.ro_paths if os.path.exists(p)]
        binds = {p: os.path.realpath(p) for p in paths}  # where it shows -> what of the host it shows
        # A venv or project named through a symlink (sys.executable, sys.prefix, a seen path): the real
        # directory shows at the link's place too, as bwrap recreates the link itself.
        named = interpreter_paths() + list(self.ro_paths)
        for where, _ in symlink_hops(named):
            if os.path.exists(where) and not any(where == d or where.startswith(d + "/") for d in binds):
                binds[where] = os.path.realpath(where)
        return [f"{real}:{where}:ro" for where, real in binds.items()]

    def _create(self, shape: _Shape) -> _Container:
        client = self._client()
        memory = shape.memory_mb << 20
        tmpfs_opts = f"size={shape.file_bytes},exec,nosuid,nodev"
        host_config = client.api.create_host_config(
            binds=self._binds(),
            tmpfs={SCRATCH: f"{tmpfs_opts},uid=65534,gid=65534", "/tmp": f"{tmpfs_opts},mode=1777"},
            read_only=True,
            network_mode="host" if shape.network else "none",  # network=True: the host's, as bwrap --share-net
            mem_limit=memory, memswap_limit=memory,
            pids_limit=shape.processes + 1,  # + the container's first process
            shm_size=min(shape.file_bytes, 64 << 20),
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            ipc_mode="private",
            log_config={"type": "none"},  # output comes through the attach stream only, never to disk
            auto_remove=True,  # exits after its one job (or when we go away) and disappears
        )
        created = client.api.create_container(
            self.image, command=[self._python(), "-I", "-S", "-c", _BOOT_SOURCE], user=SANDBOX_USER,
            # stdin_open also sets StdinOnce: when our end of the socket closes, the container ends
            working_dir=SCRATCH, environment=base_env(), stdin_open=True, tty=False,
            network_disabled=not shape.network, host_config=host_config,
            labels={LABEL: "1", f"{LABEL}.owner": f"{socket.gethostname()}:{os.getpid()}"},
        )
        cid = created["Id"]
        try:
            attached = client.api.attach_socket(cid, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            raw = getattr(attached, "_sock", attached)
            client.api.start(cid)
        except Exception:
            _remove_quietly(client, cid)
            raise
        return _Container(cid, raw, attached)

    def _take(self, shape: _Shape) -> _Container:
        if os.getpid() != self._owner_pid:  # a forked worker: the parent's pool is not ours
            self._forget_parent_pool()
        with self._lock:
            ready = self._ready.pop(shape, deque())
            container = ready.popleft() if ready else None
            self._ready[shape] = ready  # most recently used last
            evicted = [c for old in list(self._ready)[:-self.POOLED_SHAPES] for c in self._ready.pop(old)]
        for idle in evicted:
            self._submit(self._discard, idle)
        return container or self._create(shape)

    def _replenish(self, shape: _Shape) -> None:
        """After a run, not during it: making containers costs the engine CPU the run could use."""
        for _ in range(self.pool_size):
            self._submit(self._refill_one, shape)

    def _submit(self, fn, *args) -> None:
        if not self._closed:
            try:
                self._filler.submit(fn, *args)
            except RuntimeError:  # shut down meanwhile
                pass

    def _refill_one(self, shape: _Shape) -> None:
        with self._lock:
            if shape not in self._ready or len(self._ready[shape]) + self._starting >= self.pool_size:
                return
            self._starting += 1
        try:
            container = self._create(shape)
        except Exception:  # a run that finds no warm container makes one and reports the error
            return
        finally:
            with self._lock:
                self._starting -= 1
        with self._lock:
            keep = shape in self._ready and not self._closed
            if keep:
                self._ready[shape].append(container)
        if not keep:  # its shape was evicted meanwhile
            self._discard(container)

    def _forget_parent_pool(self) -> None:
        for container in (c for ready in self._ready.values() for c in ready):
            container.sock.close()  # our copy of the fd only; the parent keeps its container
        self._owner_pid = os.getpid()
        self._local = threading.local()
        self._ready, self._lock, self._starting = {}, threading.Lock(), 0
        self._filler = ThreadPoolExecutor(max_workers=max(1, self.pool_size), thread_name_prefix="docker-pool")

    def _discard(self, container: _Container) -> None:
        container.sock.close()  # its stdin closes, its first process exits, auto_remove cleans up
        _remove_quietly(self._client(), container.id)

    def close(self) -> None:
        self._closed = True
        self._filler.shutdown(wait=True)
        with self._lock:
            idle = [c for ready in self._ready.values() for c in ready]
            self._ready.clear()
        for container in idle:
            self._discard(container)

    # -- running ---------------------------------------------------------------------------

    def run(self, command, files=None, limits=Limits(), stdin=None, env=None, collect=()):
        nonce = secrets.token_hex(16)
        job = _job(command, files, limits, env, nonce=nonce, stdin=stdin, collect=collect)
        container = self._take(_Shape.of(limits))
        try:
            container = self._send(container, job, _Shape.of(limits))
            start = time.monotonic()
            stream = RunStream(nonce.encode(), limits.output_bytes)
            killed = self._pump(container, stream, start + limits.wall_s)
            wall = time.monotonic() - start
        finally:
            container.sock.close()
            self._replenish(_Shape.of(limits))
        if killed:  # return only once every process of the run is gone
            _wait_gone(self._client(), container.id)
        return run_result(stream, limits, wall, killed)

    def spawn(self, command: Sequence[str], files=None, limits: Limits = Limits(), env=None,
              stderr: int = subprocess.STDOUT) -> DockerProcess:
        """A long-lived sandboxed process, like BwrapSandbox.spawn: binary stdin and stdout
        pipes (stderr merged by default). CPU, memory, process and file limits hold; wall
        time is the caller's business. `kill()` kills the container and everything in it."""
        job = _job(command, files, limits, env, nonce="", stdin=None, collect=(), interactive=True)
        container = self._send(self._take(_Shape.of(limits)), job, _Shape.of(limits))
        container.sock.setblocking(True)
        self._replenish(_Shape.of(limits))

        def wait_exit() -> int:
            try:
                return docker_client().api.wait(container.id, timeout=None, condition="removed")["StatusCode"]
            except Exception:  # removed before we asked: it was killed
                return 137

        return DockerProcess(container.sock, kill=lambda: self._kill(container), wait_exit=wait_exit, stderr=stderr)

    def _send(self, container: _Container, job: bytes, shape: _Shape) -> _Container:
        try:
            container.sock.sendall(job)
        except OSError:  # a pooled container that died while idle: use a fresh one
            container.sock.close()
            container = self._create(shape)
            container.sock.sendall(job)
        return container

    def _pump(self, container: _Container, stream: RunStream, deadline: float) -> bool:
        """Read the attach stream to its end; kill the container at the deadline or on overflow."""
        killed = False
        drain_until = None  # set once the report is in: stderr frames may still follow it
        container.sock.setblocking(False)
        while True:
            now = time.monotonic()
            if drain_until is not None and now >= drain_until:
                return killed
            remaining = deadline - now
            if remaining <= 0 and not killed and drain_until is None:
                stream.timed_out = True
                killed = self._kill(container)
                deadline = time.monotonic() + 30  # the engine closes the stream once the container is gone
                continue
            wait = max(remaining, 0.0) if drain_until is None else drain_until - now
            readable, _, _ = select.select([container.sock], [], [], wait)
            if not readable:
                if killed and time.monotonic() >= deadline:
                    return killed
                continue
            try:
                data = container.sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return killed
            if not data:
                return killed
            stream.feed(data)
            if drain_until is None and stream.report() is not None:
                # every process of the run is dead, but docker copies stdout and stderr separately:
                # the job's last stderr frames can come after the report on stdout. Read on to the
                # stream's end (PID 1 exits after the report), at most DRAIN_S.
                drain_until = time.monotonic() + DRAIN_S
            if stream.overflow and not killed:
                killed = self._kill(container)
                deadline = time.monotonic() + 30

    def _kill(self, container: _Container) -> bool:
        """Kill from another thread: the engine may wait for us to drain the stream first."""

        def kill() -> None:
            try:
                self._client().api.kill(container.id, signal="SIGKILL")
            except Exception:  # it may have ended on its own a moment ago
                pass

        threading.Thread(target=kill, daemon=True).start()
        return True


def _job(command, files, limits: Limits, env, nonce: str, stdin, collect, interactive: bool = False) -> bytes:
    """The one message the container's first process reads: length, then JSON."""
    files = {check_relative(k): encode_text(v, f"file {k!r}") for k, v in (files or {}).items()}
    stdin = None if stdin is None else encode_text(stdin, "stdin")
    payload = json.dumps({
        "nonce": nonce, "command": list(command), "env": base_env(env), "scratch": SCRATCH,
        "files": {k: [base64.b64encode(v).decode(), 0o755 if is_executable_content(v) else 0o644]
                  for k, v in files.items()},
        "stdin": None if stdin is None else base64.b64encode(stdin).decode(),
        "rlimits": _rlimits(limits), "collect": [check_relative(n) for n in collect], "file_cap": limits.file_bytes,
        "interactive": interactive,
    }).encode()
    return struct.pack(">Q", len(payload)) + payload


def _rlimits(limits: Limits) -> dict[str, list[int]]:
    """The per-process limits bwrap sets with prlimit, applied by the first process."""
    cpu = max(1, int(limits.cpu_s + 0.999))
    return {"RLIMIT_AS": [limits.memory_mb << 20] * 2, "RLIMIT_CPU": [cpu, cpu + 1],
            "RLIMIT_FSIZE": [limits.file_bytes] * 2, "RLIMIT_CORE": [0, 0], "RLIMIT_NOFILE": [1024, 1024]}


def _remove_quietly(client, cid: str) -> None:
    try:
        client.api.remove_container(cid, force=True)
    except Exception:  # already gone (auto_remove) is the usual case
        pass


def _wait_gone(client, cid: str) -> None:
    try:
        client.api.wait(cid, timeout=30, condition="not-running")
    except Exception:  # NotFound: stopped and auto-removed already
        pass
    _remove_quietly(client, cid)


def _remove_orphans(client) -> None:
    """Containers pooled by a proofsmith process of this host that no longer exists."""
    host = socket.gethostname()
    try:
        containers = client.api.containers(all=True, filters={"label": LABEL})
    except Exception:  # noqa: BLE001
        return
    for c in containers:
        owner_host, _, pid = c.get("Labels", {}).get(f"{LABEL}.owner", "").rpartition(":")
        if owner_host == host and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            _remove_quietly(client, c["Id"])

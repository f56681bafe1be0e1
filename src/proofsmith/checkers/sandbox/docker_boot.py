"""The first process of every docker sandbox container (its PID 1), standard library only.

A container is started ahead of demand with this program waiting on its stdin, so the
cost of creating and starting it is off the critical path. For exactly one run it:

1. reads one job: an 8-byte big-endian length, then JSON
   `{nonce, command, env, files: {name: [base64, mode]}, stdin: base64|null,
   rlimits: {name: [soft, hard]}, collect: [names], file_cap, scratch, interactive}`;
   an interactive job (a long-lived session) reads the rest of this stdin itself;
2. writes the files into the scratch directory, forks the job with the job's
   environment only, its rlimits, the scratch dir as cwd, stdin from a memfd,
   stdout and stderr straight to the container's (no copy, docker frames them);
3. waits for the job (killing it at once if the host's end of stdin closes: a killed
   host leaves no container running), then SIGKILLs every process left in the container's pid
   namespace (daemons included) and reaps them, so that nothing writes after it;
4. writes a trailer to stdout: nonce, 8-byte length, JSON `{status, cpu_s, max_rss_kb,
   oom_kill, files}`. The nonce came over stdin and the job replaced its copy of this
   process's memory with exec, so the job cannot forge the trailer; and PID 1 exits, so
   the kernel kills whatever might still be there. An interactive job gets no trailer:
   the container's exit status is the job's.

Run as `python3 -I -S -c SOURCE`: this file must not import anything of proofsmith.
"""

import base64
import json
import os
import resource
import signal
import struct
import sys


def read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise SystemExit(0)  # the host went away before sending a job: nothing to run
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def stage_files(scratch, files):
    for name, (data, mode) in files.items():
        path = os.path.join(scratch, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        write_all(fd, base64.b64decode(data))
        os.close(fd)


def stdin_fd(data):
    if data is None:
        return os.open("/dev/null", os.O_RDONLY)
    fd = os.memfd_create("stdin")
    write_all(fd, base64.b64decode(data))
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def run_job(job):
    stdin = 0 if job["interactive"] else stdin_fd(job["stdin"])
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(stdin, 0)
            os.set_inheritable(0, True)  # memfd and open() give close-on-exec fds
            os.setsid()
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            for name, (soft, hard) in job["rlimits"].items():
                resource.setrlimit(getattr(resource, name), (soft, hard))
            os.chdir(job["scratch"])
            os.execvpe(job["command"][0], job["command"], job["env"])
        except BaseException as exc:  # noqa: BLE001 - the job could not start: say why, like a shell
            os.write(2, f"sandbox: cannot run {job['command'][0]!r}: {exc}\n".encode())
        os._exit(127)
    if stdin != 0:
        os.close(stdin)
        wait_or_host_gone(pid)
    _, status, usage = os.wait4(pid, 0)
    return status, usage


def wait_or_host_gone(pid):
    """Until the job exits; if the host goes away first (its end of our stdin closes: it
    was killed), kill the job so that nothing of a dead run lives on."""
    import select

    pidfd = os.pidfd_open(pid)
    while True:
        ready, _, _ = select.select([pidfd, 0], [], [])
        if pidfd in ready:
            os.close(pidfd)
            return
        if not os.read(0, 1 << 16):  # EOF: the host is gone
            kill_everything_else()
            os._exit(137)


def kill_everything_else():
    """PID 1 signalling -1 reaches every other process of the namespace."""
    for _ in range(100):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            break
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def oom_kills():
    """The container's OOM-kill count from its cgroup (v2 or v1), None where unreadable."""
    for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def collect(scratch, names, cap):
    found = {}
    for name in names:
        path = os.path.join(scratch, name)
        try:
            if not os.path.islink(path) and os.path.isfile(path) and os.path.getsize(path) <= cap:
                with open(path, "rb") as f:
                    found[name] = base64.b64encode(f.read()).decode()
        except OSError:
            continue
    return found


def hide_memory():
    """Not dumpable: a job of the same uid cannot read this process's memory (the nonce)."""
    import ctypes

    pr_set_dumpable = 4
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_dumpable, 0, 0, 0, 0)


def main():
    hide_memory()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    (size,) = struct.unpack(">Q", read_exact(0, 8))
    job = json.loads(read_exact(0, size))
    stage_files(job["scratch"], job["files"])
    del job["files"]
    status, usage = run_job(job)
    kill_everything_else()
    if job["interactive"]:  # a long-lived session: its exit status is the container's
        code = os.waitstatus_to_exitcode(status)
        sys.exit(128 - code if code < 0 else code)
    trailer = json.dumps({
        "status": status,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "max_rss_kb": usage.ru_maxrss,
        "oom_kill": oom_kills(),
        "files": collect(job["scratch"], job["collect"], job["file_cap"]),
    }).encode()
    try:
        write_all(1, job["nonce"].encode() + struct.pack(">Q", len(trailer)) + trailer)
    except OSError:
        pass  # the host stopped listening (it killed the run for its output)
    sys.exit(0)


if __name__ == "__main__":
    main()

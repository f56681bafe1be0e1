"""The Docker backend against hostile programs, on a real engine (scripts/start-docker.sh).

Each hostile program must end with a definite non-pass result within its limits, and
leave nothing behind: no process on the host, no container beyond the warm pool.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from proofsmith.checkers.sandbox import Limits, SandboxUnavailable

PY = sys.executable
FAST = Limits(wall_s=5.0, cpu_s=2.0, memory_mb=256, processes=32, output_bytes=64 << 10, file_bytes=4 << 20)


@pytest.fixture(scope="module")
def sandbox():
    try:
        from proofsmith.checkers.sandbox.docker import DockerSandbox

        box = DockerSandbox(pool_size=2)
    except SandboxUnavailable as exc:
        pytest.skip(f"docker backend unavailable: {exc}")
    yield box
    box.close()


def py(sandbox, code: str, limits: Limits = FAST, **kwargs):
    return sandbox.run([PY, "-S", "-c", code], limits=limits, **kwargs)


def host_processes_with(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.docker
def test_honest_program_passes_with_files_stdin_env_and_collect(sandbox):
    code = ("import os, sys; data = sys.stdin.read(); open('out.txt', 'w').write(data.upper());"
            "print(os.getcwd(), open('in/a.txt').read(), os.environ['EXTRA'])")
    run = py(sandbox, code, files={"in/a.txt": "hello"}, stdin="abc", env={"EXTRA": "x"}, collect=["out.txt", "nope"])
    assert run.ok, run
    assert run.stdout == "/scratch hello x\n"
    assert run.files == {"out.txt": b"ABC"}
    script = sandbox.run(["./hello.sh"], files={"hello.sh": "#!/bin/sh\necho $((6 * 7))\n"}, limits=FAST)
    assert script.ok and script.stdout == "42\n", script  # executable bit set from the shebang
    failing = py(sandbox, "raise SystemExit(3)")
    assert failing.returncode == 3 and not failing.ok


@pytest.mark.docker
def test_infinite_loop_hits_the_cpu_limit(sandbox):
    run = py(sandbox, "while True: pass", limits=Limits(wall_s=20, cpu_s=1))
    assert run.timed_out and not run.ok
    assert run.returncode == 128 + 24 and run.wall_s < 20  # SIGXCPU, long before the wall limit


@pytest.mark.docker
def test_sleeper_hits_the_wall_limit_and_dies(sandbox):
    run = py(sandbox, "import time; time.sleep(60.12345)", limits=Limits(wall_s=1, cpu_s=5))
    assert run.timed_out and run.returncode is None and not run.ok
    assert run.wall_s < 5
    time.sleep(0.5)
    assert host_processes_with("time.sleep(60.12345)") == []


@pytest.mark.docker
def test_fork_bomb_is_contained(sandbox):
    bomb = ("import os  # docker-fork-bomb-5521\n"
            "while True:\n    try:\n        os.fork()\n    except OSError:\n        pass")
    start = time.monotonic()
    run = py(sandbox, bomb, limits=Limits(wall_s=2, cpu_s=2, processes=16))
    assert not run.ok and run.timed_out
    assert time.monotonic() - start < 15
    time.sleep(0.5)
    assert host_processes_with("docker-fork-bomb-5521") == []


@pytest.mark.docker
def test_memory_bomb_is_memory_exceeded(sandbox):
    one_process = py(sandbox, "x = bytearray(1 << 30)")  # beyond the address-space limit
    assert one_process.memory_exceeded and not one_process.ok, one_process
    # four processes of 100 MB each stay under the per-process limit: the cgroup OOM-kills
    many = ("import os, time\nfor _ in range(3):\n    os.fork()\n"
            "x = bytearray(100 << 20)\nfor i in range(0, len(x), 4096): x[i] = 1\ntime.sleep(2)\n")
    run = py(sandbox, many, limits=Limits(wall_s=10, cpu_s=5, memory_mb=256, processes=32))
    assert run.memory_exceeded and not run.ok, run


@pytest.mark.docker
def test_output_flood_is_truncated_and_killed(sandbox):
    run = py(sandbox, "import sys\nwhile True: sys.stdout.write('x' * 65536)")
    assert run.output_truncated and not run.ok and run.returncode is None
    assert len(run.stdout) <= FAST.output_bytes
    flood_err = py(sandbox, "import sys\nwhile True: sys.stderr.write('y' * 65536)")
    assert flood_err.output_truncated and len(flood_err.stderr) <= FAST.output_bytes
    assert not (run.timed_out or flood_err.timed_out)  # killed for its output, before its time was up


@pytest.mark.docker
def test_disk_fill_fails_within_the_scratch_limit(sandbox):
    one_file = py(sandbox, "open('big', 'wb').write(b'0' * (64 << 20))")
    assert not one_file.ok  # the file-size rlimit: SIGXFSZ or EFBIG
    many_files = py(sandbox, "i = 0\nwhile True:\n    open(f'f{i}', 'wb').write(b'0' * (1 << 20)); i += 1")
    assert not many_files.ok and "No space left" in many_files.stderr, many_files
    tmp = py(sandbox, "i = 0\nwhile True:\n    open(f'/tmp/f{i}', 'wb').write(b'0' * (1 << 20)); i += 1")
    assert not tmp.ok and "No space left" in tmp.stderr


@pytest.mark.docker
def test_no_network(sandbox):
    code = ("import socket, os\nprint(sorted(os.listdir('/sys/class/net')))\nconnected = False\n"
            "for addr in [('1.1.1.1', 53), ('172.17.0.1', 2375), ('127.0.0.1', 22)]:\n"
            "    try:\n        socket.create_connection(addr, timeout=1)\n        print('connected', addr)\n"
            "        connected = True\n"
            "    except OSError as e:\n        print('blocked', addr, e)\n"
            "raise SystemExit(0 if connected else 1)")
    run = py(sandbox, code)
    assert not run.ok and "connected" not in run.stdout and run.stdout.count("blocked") == 3, run
    assert run.stdout.splitlines()[0] == "['lo']"


@pytest.mark.docker
def test_cannot_write_outside_scratch(sandbox, tmp_path):
    targets = ["/usr/proofsmith-escape", "/etc/proofsmith-escape", "/proofsmith-escape", sys.base_prefix + "/escape",
               "/root/escape", "/dev/shm/../escape"]
    code = ("import sys\nescaped = []\nfor t in sys.argv[1:]:\n    try:\n        open(t, 'w').write('x')\n"
            "        escaped.append(t)\n    except OSError:\n        pass\nprint(escaped)\n"
            "raise SystemExit(0 if escaped else 1)")
    run = sandbox.run([PY, "-S", "-c", code, *targets], limits=FAST)
    assert run.stdout.strip() == "[]" and not run.ok, run
    assert not any(os.path.exists(t) for t in targets)


@pytest.mark.docker
def test_secrets_are_not_visible(sandbox, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_supersecret_4242")
    code = ("import os\nprint(dict(os.environ))\nfor d in ['/root', '/home', '/var/run', '/run']:\n"
            "    try:\n        print(d, sorted(os.listdir(d)))\n    except OSError as e:\n        print(d, 'absent')\n"
            "print(os.path.exists('/var/run/docker.sock'), os.path.exists('/etc/shadow'))")
    run = py(sandbox, code)
    assert run.ok, run
    assert "hf_supersecret_4242" not in run.stdout and "HF_TOKEN" not in run.stdout
    assert "False False" in run.stdout
    root_line = next(line for line in run.stdout.splitlines() if line.startswith("/root "))
    assert ".cache" not in root_line and ".ssh" not in root_line


@pytest.mark.docker
def test_daemon_does_not_outlive_its_run(sandbox):
    daemon = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
              "        os.close(1); os.close(2)\n        time.sleep(77.7789)\n    os._exit(0)\nprint('parent done')")
    run = py(sandbox, daemon)
    assert run.ok and run.stdout == "parent done\n"  # the run ends when its program does
    time.sleep(0.5)
    assert host_processes_with("time.sleep(77.7789)") == []


@pytest.mark.docker
def test_early_exit_status_zero_does_not_pass_the_python_checker(sandbox):
    from proofsmith.checkers.python import PythonChecker
    from proofsmith.core import Candidate, Task

    task = Task(id="t/0", kind="python", statement="def add(a, b):\n", tests="def check(f):\n    assert f(1, 2) == 3\n",
                entry_point="add")
    checker = PythonChecker(sandbox=sandbox)
    assert checker.check(task, Candidate(task_id="t/0", text="    return a + b\n")).status == "passed"
    for cheat in ["    return 0\nimport os\nos._exit(0)\n", "    return 0\nraise SystemExit(0)\n",
                  "    return 0\nprint('passed')\nimport os\nos._exit(0)\n"]:
        verdict = checker.check(task, Candidate(task_id="t/0", text=cheat))
        assert verdict.status != "passed", cheat
    if checker._pool is not None:  # its warm interpreters live in long-lived containers
        checker._pool.close()


@pytest.mark.docker
def test_no_container_left_behind(sandbox):
    from proofsmith.checkers.sandbox.docker import LABEL

    for _ in range(3):
        assert py(sandbox, "print(1)").ok
    time.sleep(1.0)
    mine = [c for c in sandbox._client().api.containers(all=True, filters={"label": LABEL})
            if c["Labels"].get(f"{LABEL}.owner", "").endswith(f":{os.getpid()}")]
    assert len(mine) <= sandbox.POOLED_SHAPES * sandbox.pool_size  # only the warm ones waiting for a job


@pytest.mark.docker
def test_spawned_session_talks_and_dies_whole(sandbox):
    echo = ("import os, sys, time\nif os.fork() == 0:\n    os.setsid(); time.sleep(88.8123); os._exit(0)\n"
            "for line in sys.stdin:\n    print(line.strip().upper(), flush=True)")
    proc = sandbox.spawn([PY, "-S", "-u", "-c", echo], limits=FAST)
    try:
        proc.stdin.write(b"hello\n")
        reply = b""
        while not reply.endswith(b"\n"):  # a pipe read may return part of a line
            reply += proc.stdout.read(6 - len(reply)) or b"\n"
        assert reply == b"HELLO\n"
        assert proc.poll() is None
    finally:
        proc.kill()
    assert proc.wait(20) != 0
    time.sleep(0.5)
    assert host_processes_with("time.sleep(88.8123)") == []


@pytest.mark.docker
def test_coq_checker_runs_in_docker(sandbox):
    from proofsmith.checkers.coq import CoqChecker
    from proofsmith.core import Candidate, Task

    task = Task(id="c/0", kind="coq", statement="Theorem plus_zero : forall n : nat, n + 0 = n.")
    checker = CoqChecker(sandbox=sandbox)
    honest = checker.check(task, Candidate(task_id="c/0", text="Proof. induction n; simpl; auto. Qed."))
    assert honest.status == "passed", honest
    wrong = checker.check(task, Candidate(task_id="c/0", text="Proof. reflexivity. Qed."))
    assert wrong.status == "failed", wrong


def test_missing_engine_is_one_clear_line(monkeypatch):
    pytest.importorskip("docker")
    from proofsmith.checkers.sandbox.docker import docker_client

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(SandboxUnavailable) as err:
        docker_client()
    message = str(err.value)
    assert "\n" not in message and "scripts/start-docker.sh" in message


def test_a_killed_host_leaves_no_container_running(sandbox, tmp_path):
    """SIGKILL of the process that runs a job: the job's container goes too (its first
    process sees the host's end of stdin close and kills everything), not at job end."""
    import signal
    import subprocess

    from proofsmith.checkers.sandbox.docker import LABEL, docker_client

    script = tmp_path / "host.py"
    script.write_text(
        "from proofsmith.checkers.sandbox.docker import DockerSandbox\n"
        "from proofsmith.checkers.sandbox import Limits\n"
        "print('ready', flush=True)\n"
        "DockerSandbox(pool_size=1).run(['sleep', '120'], limits=Limits(wall_s=200, cpu_s=10))\n")
    host = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert host.stdout.readline().strip() == "ready"
    owner = f"{LABEL}.owner"
    client = docker_client()

    def mine() -> list[dict]:
        return [c for c in client.api.containers(filters={"label": LABEL})
                if c.get("Labels", {}).get(owner, "").endswith(f":{host.pid}")]

    deadline = time.monotonic() + 60
    while not any("sleep" in (c.get("Command") or "") or c.get("State") == "running" for c in mine()):
        assert time.monotonic() < deadline, "the job's container never started"
        time.sleep(0.5)
    time.sleep(2)  # the job is running inside it now
    host.send_signal(signal.SIGKILL)
    host.wait()
    deadline = time.monotonic() + 30
    while mine():
        assert time.monotonic() < deadline, f"containers outlived their host: {[c['Id'][:12] for c in mine()]}"
        time.sleep(0.5)

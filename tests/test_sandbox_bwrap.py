"""Hostile programs in the real bwrap sandbox: each gets a definite verdict within its
limit, and nothing of it survives the run or touches the host."""

import os
import subprocess
import sys
import time
import uuid

import pytest

from proofsmith.checkers.sandbox import Limits, get_sandbox

PY = [sys.executable, "-I", "-S", "-c"]


@pytest.fixture(scope="module")
def box():
    return get_sandbox("bwrap")


def test_honest_program_runs_in_private_scratch(box):
    r = box.run(PY + ["import os; print(os.getcwd(), sorted(os.listdir('.')), open('data.txt').read())"],
                files={"data.txt": "hello", "sub/x.txt": "x"})
    assert r.ok, r.stderr
    assert r.stdout.strip() == "/scratch ['data.txt', 'sub'] hello"


def test_stdin_and_collected_files(box):
    r = box.run(["/bin/sh", "-c", "cat > out.bin; echo written"], stdin="payload", collect=["out.bin", "missing"])
    assert r.ok and r.stdout.strip() == "written"
    assert r.files == {"out.bin": b"payload"}


def test_infinite_loop_hits_cpu_limit(box):
    start = time.monotonic()
    r = box.run(PY + ["while True: pass"], limits=Limits(wall_s=5, cpu_s=1))
    assert r.timed_out and not r.ok
    assert time.monotonic() - start < 5


def test_sleeping_program_hits_wall_limit(box):
    r = box.run(PY + ["import time; time.sleep(60)"], limits=Limits(wall_s=1, cpu_s=1))
    assert r.timed_out and r.wall_s < 3


def test_memory_bomb(box):
    r = box.run(PY + ["x = bytearray(3 << 30)"], limits=Limits(memory_mb=256))
    assert r.memory_exceeded and not r.ok


def test_output_flood_is_truncated_and_flagged(box):
    r = box.run(PY + ["import sys\nwhile True: sys.stdout.write('x' * 65536)"], limits=Limits(output_bytes=100_000))
    assert r.output_truncated and not r.ok
    assert len(r.stdout) <= 100_000


def test_disk_fill_is_bounded(box):
    r = box.run(["/bin/sh", "-c", "dd if=/dev/zero of=big bs=1M count=500 2>/dev/null; ls -l big | awk '{print $5}'"],
                limits=Limits(file_bytes=8 << 20))
    assert int(r.stdout.split()[-1]) <= 8 << 20


def test_fork_bomb_is_contained(box):
    tag = uuid.uuid4().hex
    code = f"import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass  # {tag}"
    r = box.run(PY + [code], limits=Limits(wall_s=3, cpu_s=3, processes=32))
    assert not r.ok
    # the host still forks fine and no bomb process is left behind
    assert subprocess.run(["/bin/true"]).returncode == 0
    left = subprocess.run(["pgrep", "-f", tag], capture_output=True, text=True).stdout.split()
    assert left == []


def test_no_network(box):
    r = box.run(PY + ["import socket; socket.create_connection(('127.0.0.1', 22), timeout=2); print('connected')"])
    assert "connected" not in r.stdout and r.returncode != 0


def test_system_is_read_only_and_host_dirs_are_absent(box, tmp_path):
    marker = tmp_path / "secret.txt"
    marker.write_text("top secret")
    r = box.run(["/bin/sh", "-c", f"echo x > /usr/evil; cat {marker}; ls /root /home /etc/shadow; echo x > /tmp/ok && echo tmp-ok"])
    assert "top secret" not in r.stdout
    assert "tmp-ok" in r.stdout
    assert not os.path.exists("/usr/evil")


def test_environment_is_scrubbed(box, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws_secret_value")
    r = box.run(["/usr/bin/env"], env={"WANTED": "1"})
    assert "secret_value" not in r.stdout
    assert "WANTED=1" in r.stdout and "HOME=/scratch" in r.stdout


def test_daemon_does_not_outlive_the_run(box):
    tag = uuid.uuid4().hex
    code = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        time.sleep(120)  # {tag}\n    os._exit(0)\nprint('parent done')")
    r = box.run(PY + [code + f"\n# {tag}"])
    assert r.ok
    time.sleep(0.3)
    assert subprocess.run(["pgrep", "-f", tag], capture_output=True).stdout == b""


def test_timeout_kills_the_whole_tree(box):
    tag = uuid.uuid4().hex
    code = f"import os, time\nfor _ in range(3):\n    os.fork()\ntime.sleep(120)  # {tag}"
    r = box.run(PY + [code], limits=Limits(wall_s=1, cpu_s=1))
    assert r.timed_out
    time.sleep(0.3)
    assert subprocess.run(["pgrep", "-f", tag], capture_output=True).stdout == b""


def test_missing_backend_is_one_clear_line():
    from proofsmith.core import ProofsmithError

    with pytest.raises(ProofsmithError, match="unknown sandbox backend"):
        get_sandbox("nonesuch")

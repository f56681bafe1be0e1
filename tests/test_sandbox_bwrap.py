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


def _linked_prefix(tmp_path):
    """A symlink to this interpreter's prefix under /tmp (a tmpfs inside the sandbox): a venv reached
    through a link, and the interpreter named through it."""
    link = tmp_path / "linkvenv"
    link.symlink_to(os.path.realpath(sys.prefix))
    rel = os.path.relpath(sys.executable, sys.prefix)
    assert not rel.startswith(".."), "the interpreter lives under its prefix"
    return link, link / rel


def test_interpreter_through_a_symlinked_prefix_runs(box, tmp_path):
    _, python = _linked_prefix(tmp_path)
    r = box.run([str(python), "-I", "-S", "-c", "import sys; print('ok', sys.version_info[0])"])
    assert r.ok, r.stderr
    assert r.stdout.split() == ["ok", "3"]


def test_symlinked_read_only_path_resolves(tmp_path):
    real = tmp_path / "real-project"
    real.mkdir()
    (real / "data.txt").write_text("through the link")
    link = tmp_path / "project-link"
    link.symlink_to(real)
    seen = get_sandbox("bwrap").seeing([str(link)])
    r = seen.run(["/bin/cat", str(link / "data.txt"), str(real / "data.txt")])
    assert r.ok, r.stderr
    assert r.stdout == "through the link" * 2


def test_symlink_hops_follow_relative_and_absolute_links(tmp_path):
    from proofsmith.checkers.sandbox import symlink_hops

    (tmp_path / "a" / "bin").mkdir(parents=True)
    (tmp_path / "a" / "bin" / "tool").write_text("")
    (tmp_path / "b").symlink_to(tmp_path / "a")  # absolute
    (tmp_path / "a" / "bin" / "alias").symlink_to("tool")  # relative
    hops = dict(symlink_hops([str(tmp_path / "b" / "bin" / "alias")]))
    real = os.path.realpath(tmp_path)
    assert hops == {os.path.join(real, "b"): str(tmp_path / "a"), os.path.join(real, "a", "bin", "alias"): "tool"}


def test_a_sandbox_that_cannot_start_says_why_in_one_line(box, monkeypatch):
    """bwrap refusing to start (a bind of a missing path) is a ProofsmithError holding bwrap's own stderr."""
    from proofsmith.checkers.sandbox.bwrap import BwrapSandbox
    from proofsmith.checkers.sandbox.warm import WarmPython
    from proofsmith.core import ProofsmithError

    broken = BwrapSandbox()
    args = broken._bwrap_args
    monkeypatch.setattr(broken, "_bwrap_args", lambda *a, **k: args(*a, **k) + ["--ro-bind", "/nonexistent-proofsmith", "/x"])
    pool = WarmPython(broken, size=1)
    with pytest.raises(ProofsmithError) as err:
        pool.run("p.py", {"p.py": "print(1)"}, Limits())
    message = str(err.value)
    assert "failed to start" in message and "/nonexistent-proofsmith" in message and "bwrap" in message
    assert "\n" not in message
    pool.close()


def test_a_missing_interpreter_or_bwrap_is_a_clear_error():
    from proofsmith.checkers.sandbox.bwrap import BwrapSandbox
    from proofsmith.checkers.sandbox.warm import WarmPython
    from proofsmith.core import ProofsmithError

    with pytest.raises(ProofsmithError, match=r"execvp /nonexistent/python3: No such file"):
        WarmPython(BwrapSandbox(), python="/nonexistent/python3").run("p.py", {"p.py": "pass"}, Limits())
    with pytest.raises(ProofsmithError, match=r"bwrap sandbox failed to start: bwrap: execvp /nonexistent/python3"):
        BwrapSandbox().run(["/nonexistent/python3", "-c", "pass"])
    bogus = BwrapSandbox()
    bogus.bwrap = "/nonexistent/bwrap"
    with pytest.raises(ProofsmithError, match="failed to start: .+"):
        bogus.run(["/bin/true"])
    with pytest.raises(ProofsmithError, match="failed to start: .+"):
        WarmPython(bogus).run("p.py", {"p.py": "pass"}, Limits())
    silent = BwrapSandbox()
    silent.bwrap = "/bin/false"  # starts, says nothing, exits 1
    with pytest.raises(ProofsmithError, match="failed to start: no message, exit status 1"):
        WarmPython(silent).run("p.py", {"p.py": "pass"}, Limits())


def test_a_program_that_fails_like_bwrap_is_still_only_a_failed_run(box):
    """Only bwrap's own report (an exit code once the command really ran) tells a start failure apart."""
    r = box.run(["/bin/sh", "-c", "echo 'bwrap: execvp x: No such file or directory' >&2; exit 1"])
    assert r.returncode == 1 and "bwrap:" in r.stderr

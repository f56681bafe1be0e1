"""`proofsmith bench docker_sandbox`: the Docker backend's warm pool against cold `docker run`.

The baseline is what a plain Docker backend does for every run: `docker run --rm` of
the same image, mounts and limits (create, start, wait, read the logs, remove), through
the same SDK. Ours is `DockerSandbox.run`, which takes a container that the pool has
already created and started, and hands the removal to the engine (auto-remove). A bare
subprocess of the program (no sandbox) shows what the program itself costs. All run
the same program; medians of interleaved runs, with a pause after each so that
the pool has refilled (per-run latency); then back-to-back runs (throughput, the pool
refilling while jobs run).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

PROGRAM = "print(sum(range(1000)))"


def _cold_docker_run(client, box, command: list[str]) -> bytes:
    """`docker run --rm` with the same image, mounts and limits as the sandbox's containers."""
    from ..checkers.sandbox import SCRATCH, Limits, base_env

    limits = Limits()
    memory = limits.memory_mb << 20
    tmpfs = f"size={limits.file_bytes},exec,nosuid,nodev"
    return client.containers.run(
        box.image, command, remove=True, user="65534:65534", working_dir=SCRATCH, environment=base_env(),
        volumes=box._binds(), tmpfs={SCRATCH: f"{tmpfs},uid=65534,gid=65534", "/tmp": f"{tmpfs},mode=1777"},
        read_only=True, network_mode="none", mem_limit=memory, memswap_limit=memory,
        pids_limit=limits.processes + 1, cap_drop=["ALL"], security_opt=["no-new-privileges"],
    )


def docker_pool_vs_cold(n: int = 10, pause_s: float = 1.0) -> dict:
    """Per-run milliseconds of cold `docker run`, our cold path and our warm pool, side by side."""
    from ..checkers.sandbox.docker import DockerSandbox, docker_client

    client = docker_client()
    command = [sys.executable, "-S", "-c", PROGRAM]
    pooled, unpooled = DockerSandbox(pool_size=2), DockerSandbox(pool_size=0)
    expected = f"{sum(range(1000))}\n"
    timings: dict[str, list[float]] = {"bare": [], "docker run": [], "ours, cold": [], "ours, pool": []}
    try:
        pooled.run(command)  # the pool fills for these limits
        time.sleep(pause_s * 2)
        runs = {"bare": lambda: subprocess.run(command, capture_output=True, text=True).stdout,
                "docker run": lambda: _cold_docker_run(client, pooled, command).decode(),
                "ours, cold": lambda: unpooled.run(command).stdout,
                "ours, pool": lambda: pooled.run(command).stdout}
        for _ in range(n):
            for label, run in runs.items():
                start = time.perf_counter()
                out = run()
                timings[label].append(time.perf_counter() - start)
                assert out == expected, (label, out)
                time.sleep(pause_s)  # lets the pool refill and the engine settle
        back_to_back = {}
        for label in ("docker run", "ours, pool"):
            start = time.perf_counter()
            for _ in range(n):
                runs[label]()
            back_to_back[label] = n / (time.perf_counter() - start)
    finally:
        pooled.close()
        unpooled.close()
    ms = {label: statistics.median(t) * 1e3 for label, t in timings.items()}
    for label, value in ms.items():
        print(f"  {label:<11} {value:7.1f} ms per run (median of {n}, pool refilled between runs)"
              + ("  [no sandbox: the program's own cost]" if label == "bare" else ""))
    for label, rate in back_to_back.items():
        print(f"  {label:<11} {rate:7.2f} runs/s back to back ({n} runs)")
    speedup = ms["docker run"] / ms["ours, pool"]
    print(f"  warm pool: {speedup:.1f}x faster per run than cold docker run; "
          f"{back_to_back['ours, pool'] / back_to_back['docker run']:.1f}x the throughput back to back")
    return {
        "docker_cold_run_ms": round(ms["docker run"], 1),
        "docker_ours_cold_ms": round(ms["ours, cold"], 1),
        "docker_pool_run_ms": round(ms["ours, pool"], 1),
        "docker_pool_overhead_ms": round(ms["ours, pool"] - ms["bare"], 1),
        "docker_pool_speedup": round(speedup, 2),
        "docker_cold_runs_per_s": round(back_to_back["docker run"], 2),
        "docker_pool_runs_per_s": round(back_to_back["ours, pool"], 2),
        "docker_pool_throughput_ratio": round(back_to_back["ours, pool"] / back_to_back["docker run"], 2),
    }


def run(quick: bool = False) -> dict:
    print("Docker backend, per run of `python -S -c ...` (same image, mounts and limits):")
    return docker_pool_vs_cold(n=5 if quick else 15, pause_s=0.5 if quick else 1.0)

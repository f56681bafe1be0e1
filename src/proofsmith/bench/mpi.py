"""`proofsmith bench mpi`: checking MPI candidates, ours against plain mpicc + mpirun.

The same 20 candidates over 4 tasks (C and C++, 2 to 4 ranks, 2 inputs each; some
candidates repeated, as a sampler proposes them) are checked

- by us, the way a user checks them: `proofsmith check` as a subprocess (start-up
  included), in the sandbox, with a cold compile cache (a fresh cache directory) and
  then a warm one (the same directory, a new process);
- by the baseline: per candidate, `mpicc`/`mpicxx -O2` and `mpirun -np N --oversubscribe`
  on each input, outside any sandbox, the reference compiled and run once per task, the
  output compared as sorted lines; with Open MPI's default settings (what a user types),
  and again with our transport settings (shared memory, loopback), for an honest second row.

Both sides use 2 workers. `check_throughput_ratio` is the plain (default settings) time
over ours with a cold cache; the other ratios are printed beside it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

WORKERS = 2

SUM = r"""#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
  int rank, size, n = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0 && scanf("%d", &n) != 1) n = 0;
  MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD);
  int mine = rank * rank + n, sum = 0;
  MPI_Reduce(&mine, &sum, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
  printf("rank %d of %d: n=%d\n", rank, size, n);
  if (rank == 0) printf("sum %d\n", sum);
  MPI_Finalize();
  return 0;
}
"""
RING = r"""#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  int rank, size, laps = argc > 1 ? atoi(argv[1]) : 1, token = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  for (int lap = 0; lap < laps; lap++) {
    if (rank == 0) {
      MPI_Send(&token, 1, MPI_INT, 1 % size, 0, MPI_COMM_WORLD);
      MPI_Recv(&token, 1, MPI_INT, size - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      MPI_Recv(&token, 1, MPI_INT, rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      token += rank;
      MPI_Send(&token, 1, MPI_INT, (rank + 1) % size, 0, MPI_COMM_WORLD);
    }
  }
  if (rank == 0) printf("token %d after %d laps\n", token, laps);
  MPI_Finalize();
  return 0;
}
"""
PI = r"""#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  int rank, size;
  long n = argc > 1 ? atol(argv[1]) : 1000;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  double h = 1.0 / n, part = 0.0, pi = 0.0;
  for (long i = rank; i < n; i += size) {
    double x = h * (i + 0.5);
    part += 4.0 / (1.0 + x * x);
  }
  part *= h;
  MPI_Reduce(&part, &pi, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0) printf("pi %.8f\n", pi);
  MPI_Finalize();
  return 0;
}
"""
GATHER = r"""#include <mpi.h>
#include <iostream>
#include <numeric>
#include <vector>
int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size, base = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0) std::cin >> base;
  MPI_Bcast(&base, 1, MPI_INT, 0, MPI_COMM_WORLD);
  int mine = base + 10 * rank;
  std::vector<int> all(size);
  MPI_Gather(&mine, 1, MPI_INT, all.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    for (int v : all) std::cout << v << ' ';
    std::cout << "| " << std::accumulate(all.begin(), all.end(), 0) << std::endl;
  }
  MPI_Finalize();
}
"""
TASKS = [
    {"task_id": "bench/sum", "kind": "mpi", "statement": "", "reference": SUM, "lang": "c", "np": 3,
     "inputs": ["5\n", "-2\n"],
     "candidates": [SUM, SUM, SUM.replace("int mine = rank * rank + n, sum = 0;",
                                          "int sum = 0, mine = n + rank * rank;"),
                    SUM.replace("MPI_SUM", "MPI_MAX"), SUM]},
    {"task_id": "bench/ring", "kind": "mpi", "statement": "", "reference": RING, "lang": "c", "np": 4,
     "inputs": [["1"], ["3"]],
     "candidates": [RING, RING.replace("token += rank;", "token = token + rank;"), RING,
                    RING.replace("token += rank;", "token += 1;"), RING.replace("token += rank;", "token += 1;")]},
    {"task_id": "bench/pi", "kind": "mpi", "statement": "", "reference": PI, "lang": "c", "np": 2,
     "inputs": [["1000"], ["200000"]],
     "candidates": [PI, PI, PI.replace("part *= h;", "part = part * h;"), PI.replace("i + 0.5", "i + 0.4"), PI]},
    {"task_id": "bench/gather", "kind": "mpi", "statement": "", "reference": GATHER, "lang": "cpp", "np": 2,
     "inputs": ["7\n", "0\n"],
     "candidates": [GATHER, GATHER, GATHER.replace("base + 10 * rank", "10 * rank + base"),
                    GATHER.replace("base + 10 * rank", "base + rank"), GATHER]},
]
ROOT_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def _proofsmith_cli() -> list[str]:
    script = Path(sys.executable).parent / "proofsmith"
    return [str(script)] if script.exists() else [sys.executable, "-m", "proofsmith"]


def _lines(text: str) -> list[str]:
    return sorted(line.rstrip() for line in text.splitlines() if line.strip())


class PlainChecker:
    """The baseline: compile each candidate with mpicc/mpicxx, mpirun it on each input, no sandbox."""

    def __init__(self, workdir: Path, env: dict) -> None:
        self.workdir, self.env = workdir, env
        self.compile_s: list[float] = []  # list.append is atomic: the workers share these
        self.run_s: list[float] = []

    def build(self, source: str, lang: str) -> Path:
        where = Path(tempfile.mkdtemp(dir=self.workdir))
        src = where / ("main.c" if lang == "c" else "main.cpp")
        src.write_text(source)
        start = time.perf_counter()
        try:
            subprocess.run(["mpicc" if lang == "c" else "mpicxx", "-O2", "-o", str(where / "prog"), str(src)],
                           check=True, capture_output=True, timeout=120)
        finally:
            self.compile_s.append(time.perf_counter() - start)
        return where / "prog"

    def run(self, prog: Path, task: dict, inp) -> tuple[int, str]:
        argv = inp if isinstance(inp, list) else []
        stdin = inp if isinstance(inp, str) else ""
        start = time.perf_counter()
        done = subprocess.run(["mpirun", "-np", str(task["np"]), "--oversubscribe", str(prog), *argv],
                              input=stdin, capture_output=True, text=True, env=self.env, timeout=60, check=False)
        self.run_s.append(time.perf_counter() - start)
        return done.returncode, done.stdout

    def outputs(self, source: str, task: dict) -> list[tuple[int, str]] | None:
        try:
            prog = self.build(source, task["lang"])
        except subprocess.CalledProcessError:
            return None
        return [self.run(prog, task, inp) for inp in task["inputs"]]

    def check_all(self, tasks: list[dict], samples: list[dict]) -> list[bool]:
        by_id = {t["task_id"]: t for t in tasks}
        with ThreadPoolExecutor(WORKERS) as pool:
            expected = dict(zip(by_id, pool.map(lambda t: self.outputs(t["reference"], t), tasks)))

            def passed(sample: dict) -> bool:
                got = self.outputs(sample["completion"], by_id[sample["task_id"]])
                want = expected[sample["task_id"]]
                return got is not None and all(rc == 0 and _lines(out) == _lines(ref)
                                               for (rc, out), (_, ref) in zip(got, want))

            return list(pool.map(passed, samples))


def _write_inputs(tmp: Path) -> tuple[Path, Path, list[dict]]:
    tasks = [{k: v for k, v in t.items() if k != "candidates"} for t in TASKS]
    samples = [{"task_id": t["task_id"], "completion": c} for t in TASKS for c in t["candidates"]]
    tasks_file, samples_file = tmp / "tasks.jsonl", tmp / "samples.jsonl"
    tasks_file.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    samples_file.write_text("".join(json.dumps(s) + "\n" for s in samples))
    return tasks_file, samples_file, tasks


def _ours(tasks_file: Path, samples_file: Path, out: Path, cache: Path) -> tuple[float, list[dict]]:
    env = {**os.environ, "PROOFSMITH_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    done = subprocess.run(_proofsmith_cli() + ["check", str(tasks_file), str(samples_file), "--out", str(out),
                                               "--workers", str(WORKERS), "--quiet"],
                          capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"proofsmith check failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return seconds, [json.loads(line) for line in out.read_text().splitlines()]


def _plain(tasks: list[dict], samples: list[dict], env: dict, tmp: Path) -> tuple[float, list[bool], PlainChecker]:
    plain = PlainChecker(Path(tempfile.mkdtemp(dir=tmp)), env)
    start = time.perf_counter()
    verdicts = plain.check_all(tasks, samples)
    return time.perf_counter() - start, verdicts, plain


def run(quick: bool = False) -> dict:
    from ..checkers.mpi import MPI_ENV

    repeats = 1 if quick else 3
    tuned_env = {**os.environ, **{k: v for k, v in MPI_ENV.items() if k != "TMPDIR"}}
    default_env = {**os.environ, **ROOT_ENV}
    times: dict[str, list[float]] = {"cold": [], "warm": [], "plain": [], "plain_tuned": []}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tasks_file, samples_file, tasks = _write_inputs(tmp)
        samples = [json.loads(line) for line in samples_file.read_text().splitlines()]
        for i in range(repeats):  # interleaved, so that machine noise hits every side alike
            cache = tmp / f"cache-{i}"
            seconds, ours = _ours(tasks_file, samples_file, tmp / f"cold-{i}.jsonl", cache)
            times["cold"].append(seconds)
            seconds, _ = _ours(tasks_file, samples_file, tmp / f"warm-{i}.jsonl", cache)
            times["warm"].append(seconds)
            seconds, plain, baseline = _plain(tasks, samples, default_env, tmp)
            times["plain"].append(seconds)
            seconds, _, _ = _plain(tasks, samples, tuned_env, tmp)
            times["plain_tuned"].append(seconds)
    med = {k: statistics.median(v) for k, v in times.items()}
    n = len(samples)
    distinct = len({(s["task_id"], s["completion"]) for s in samples})
    agree = sum(r["passed"] == p for r, p in zip(ours, plain))
    print(f"MPI checking: {n} candidates ({distinct} distinct) over {len(tasks)} tasks, 2 inputs each, "
          f"{WORKERS} workers, median of {repeats}")
    rows = [("ours, `proofsmith check`, sandboxed, compile cache cold", med["cold"]),
            ("ours, compile cache warm", med["warm"]),
            ("plain mpicc + mpirun per candidate, no sandbox, default settings", med["plain"]),
            ("plain mpicc + mpirun per candidate, no sandbox, our transport settings", med["plain_tuned"])]
    for label, seconds in rows:
        print(f"  {label:<72} {seconds:6.2f} s  {n / seconds:5.2f} candidates/s")
    runs = sum(len(t["inputs"]) * len(t["candidates"]) for t in TASKS)
    ours_run = sum(r["seconds"] for r in ours) / runs  # the verdict's seconds: its mpiruns in the sandbox
    plain_run = statistics.mean(baseline.run_s)
    print(f"  where the time goes (last repeat, summed over workers): plain {len(baseline.compile_s)} compiles "
          f"{sum(baseline.compile_s):.1f} s, {len(baseline.run_s)} mpiruns {sum(baseline.run_s):.1f} s "
          f"({plain_run:.2f} s each); ours {runs} candidate mpiruns {ours_run:.2f} s each, in the sandbox")
    statuses = sorted({r["status"] for r in ours})
    print(f"  verdicts: ours {sum(r['passed'] for r in ours)}/{n} passed ({', '.join(statuses)}), "
          f"plain {sum(plain)}/{n} passed; same pass/fail on {agree}/{n}")
    figures = {
        "candidates": n, "distinct_candidates": distinct, "tasks": len(tasks),
        "ours_s": round(med["cold"], 3), "ours_warm_s": round(med["warm"], 3),
        "plain_s": round(med["plain"], 3), "plain_tuned_s": round(med["plain_tuned"], 3),
        "candidates_per_s": round(n / med["cold"], 3), "plain_candidates_per_s": round(n / med["plain"], 3),
        "check_throughput_ratio": round(med["plain"] / med["cold"], 3),
        "check_throughput_ratio_warm": round(med["plain"] / med["warm"], 3),
        "check_throughput_ratio_vs_tuned_plain": round(med["plain_tuned"] / med["cold"], 3),
        "plain_compile_s_sum": round(sum(baseline.compile_s), 3), "plain_mpirun_s_mean": round(plain_run, 3),
        "ours_mpirun_s_mean": round(ours_run, 3),
        "ours_passed": sum(r["passed"] for r in ours), "plain_passed": sum(plain), "same_verdicts": agree,
    }
    print(f"check throughput ratio {figures['check_throughput_ratio']:.2f}x plain mpicc + mpirun (goal >= 1.0); "
          f"warm cache {figures['check_throughput_ratio_warm']:.2f}x; "
          f"against plain with our transport settings {figures['check_throughput_ratio_vs_tuned_plain']:.2f}x")
    return figures

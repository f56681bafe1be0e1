"""The MPI checker on real programs through the real mpicc and mpirun in the real sandbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from proofsmith.checkers.mpi import MpiChecker, MpiSetup, compare_outputs, first_compile_error
from proofsmith.checkers.sandbox import Limits, get_sandbox
from proofsmith.checkers.sandbox.cgroups import RunCgroup
from proofsmith.core import Candidate, Task, get_checker
from proofsmith.io import task_from_record

pytestmark = pytest.mark.skipif(not (shutil.which("mpicc") and shutil.which("mpirun")),
                                reason="needs Open MPI: apt-get install openmpi-bin libopenmpi-dev")

# Rank r sends r*r to rank 0, which prints the sum; every rank prints its own line; rank 0
# reads n from stdin (mpirun forwards stdin to rank 0) and adds it.
REFERENCE = r"""#include <mpi.h>
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
# With MPI calls removed, as a task statement shows it.
STATEMENT = REFERENCE.replace("  MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD);\n", "") \
    .replace("  MPI_Reduce(&mine, &sum, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);\n", "")
# Point-to-point instead of the collectives: another program, the same behaviour.
CORRECT = r"""#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
  int rank, size, n = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0) {
    if (scanf("%d", &n) != 1) n = 0;
    for (int r = 1; r < size; r++) MPI_Send(&n, 1, MPI_INT, r, 0, MPI_COMM_WORLD);
  } else {
    MPI_Recv(&n, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
  int mine = rank * rank + n, sum = mine;
  if (rank == 0) {
    for (int r = 1; r < size; r++) {
      int v;
      MPI_Recv(&v, 1, MPI_INT, r, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      sum += v;
    }
  } else {
    MPI_Send(&mine, 1, MPI_INT, 0, 1, MPI_COMM_WORLD);
  }
  printf("rank %d of %d: n=%d   \n", rank, size, n);
  if (rank == 0) printf("sum %d\n", sum);
  MPI_Finalize();
  return 0;
}
"""
WRONG = REFERENCE.replace("rank * rank + n", "rank * rank + (rank ? 0 : n)")  # right when n is 0
DEADLOCK = REFERENCE.replace("  if (rank == 0 && scanf", """  int x = 0;
  MPI_Recv(&x, 1, MPI_INT, 1 - rank, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  MPI_Send(&x, 1, MPI_INT, 1 - rank, 0, MPI_COMM_WORLD);
  if (rank == 0 && scanf""")
SEGFAULT = REFERENCE.replace("  MPI_Reduce(", "  if (rank == 1) *(volatile int *)0 = 1;\n  MPI_Reduce(")
ABORT = REFERENCE.replace("  MPI_Reduce(", "  if (rank == 1) MPI_Abort(MPI_COMM_WORLD, 7);\n  MPI_Reduce(")
EXIT_3 = REFERENCE.replace("  MPI_Finalize();\n  return 0;", "  MPI_Finalize();\n  return rank == 1 ? 3 : 0;")
NO_FINALIZE = REFERENCE.replace("  MPI_Finalize();", "  if (rank) MPI_Finalize();")
# Rank 1 leaves a daemon behind: it double-forks, detaches, closes its pipes and sleeps; the
# program itself then finishes and prints exactly what the reference does.
DAEMON = REFERENCE.replace("#include <stdio.h>", "#include <stdio.h>\n#include <unistd.h>\n#include <sys/prctl.h>") \
    .replace("  MPI_Finalize();", """  if (rank == 1 && fork() == 0) {
    setsid();
    if (fork() == 0) {
      prctl(PR_SET_NAME, "psmpi-daemon");
      close(0); close(1); close(2);
      for (;;) sleep(1);
    }
    _exit(0);
  }
  MPI_Finalize();""")
# Rank 0 forks a child that keeps the rank's stdout open and never ends.
FORKER = REFERENCE.replace("#include <stdio.h>", "#include <stdio.h>\n#include <unistd.h>\n#include <sys/prctl.h>") \
    .replace("  MPI_Finalize();", """  fflush(stdout);
  if (rank == 0 && fork() == 0) {
    prctl(PR_SET_NAME, "psmpi-forked");
    for (;;) sleep(1);
  }
  MPI_Finalize();""")
FLOOD = REFERENCE.replace("  MPI_Finalize();", "  for (;;) printf(\"flood flood flood flood flood\\n\");")
NO_COMPILE = REFERENCE.replace("MPI_Comm_size(MPI_COMM_WORLD, &size);", "MPI_Comm_size(MPI_COMM_WORLD, &size)")
NOT_LINKED = REFERENCE.replace("MPI_Bcast(", "MPI_Bcastt(")
CPP_REFERENCE = r"""#include <mpi.h>
#include <iostream>
int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int value = argc > 1 ? std::atoi(argv[1]) : 1, total = 0;
  MPI_Allreduce(&value, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  std::cout << "rank " << rank << " total " << total << std::endl;
  MPI_Finalize();
}
"""

INPUTS = [None, "5\n", "-2"]


def mpi_task(reference: str = REFERENCE, task_id: str = "mpi/sum", np: int = 3, inputs=INPUTS, **meta) -> Task:
    return Task(id=task_id, kind="mpi", statement=STATEMENT, reference=reference,
                meta={"lang": "c", "np": np, "inputs": inputs, **meta})


@pytest.fixture(scope="module")
def checker(tmp_path_factory) -> MpiChecker:
    limits = Limits(wall_s=8.0, cpu_s=20.0, memory_mb=1024, processes=128, output_bytes=64 << 10)
    return MpiChecker(get_sandbox(), limits, cache_directory=str(tmp_path_factory.mktemp("mpi-cache")))


@pytest.fixture(scope="module")
def impatient(checker) -> MpiChecker:
    """The same, with a 3 s wall limit: for the runs that never end."""
    return MpiChecker(checker.sandbox, replace(checker.limits, wall_s=3.0), checker.cache_directory)


def check(checker: MpiChecker, program: str, task: Task | None = None):
    return checker.check(task or mpi_task(), Candidate("mpi/sum", program))


def processes_named(*names: str) -> set[int]:
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                comm = Path(entry.path, "comm").read_text().strip()
            except OSError:
                continue
            if comm in names:
                found.add(int(entry.name))
    return found


def test_the_reference_itself_and_another_correct_program_pass(checker):
    verdict = check(checker, REFERENCE)
    assert verdict.status == "passed", verdict
    assert verdict.details["np"] == 3 and verdict.resources["wall_s"] > 0
    verdict = check(checker, CORRECT)  # other MPI calls; trailing spaces do not count
    assert verdict.status == "passed", verdict


def test_a_wrong_result_fails_naming_rank_input_and_line(checker):
    verdict = check(checker, WRONG)
    assert verdict.status == "failed", verdict
    assert "rank 0's output differs" in verdict.message and "input 1 (stdin '5\\n')" in verdict.message
    assert verdict.details["line"] == 2 and verdict.details["expected"] == "sum 20"
    assert verdict.details["got"] == "sum 10"


def test_a_deadlock_is_a_timeout(impatient):
    start = time.monotonic()
    verdict = check(impatient, DEADLOCK, mpi_task(np=2))
    assert verdict.status == "timeout", verdict
    assert "deadlock" in verdict.message and "input 0" in verdict.message
    assert time.monotonic() - start < impatient.limits.wall_s + 5


@pytest.mark.parametrize("program, said", [
    (SEGFAULT, "rank 1 died of signal 11 (SIGSEGV)"),
    (ABORT, "rank 1 "),  # "called MPI_Abort (error code 7)", or when mpirun fails to say so, "exited with status 7"
    (EXIT_3, "rank 1 exited with status 3"),
    (NO_FINALIZE, "rank 0 exited without calling MPI_Finalize"),
], ids=["segfault", "abort", "exit-status", "no-finalize"])
def test_a_rank_that_crashes_is_crashed(checker, program, said):
    verdict = check(checker, program)
    assert verdict.status == "crashed", verdict
    assert said in verdict.message and "input 0" in verdict.message


def test_a_daemon_left_behind_fails_and_nothing_survives_the_check(checker, impatient):
    before = processes_named("psmpi-daemon", "psmpi-forked", "mpirun", "orted")
    verdict = check(checker, DAEMON, mpi_task(np=2, inputs=[None]))
    assert verdict.status == "failed" and "still ran after mpirun ended" in verdict.message, verdict
    verdict = check(impatient, FORKER, mpi_task(np=2, inputs=[None]))  # it holds rank 0's stdout open
    assert verdict.status == "timeout", verdict
    time.sleep(0.2)
    assert processes_named("psmpi-daemon", "psmpi-forked", "mpirun", "orted") - before == set()


# Each rank alone stays far below the limit; three together do not.
HOG = REFERENCE.replace("#include <stdio.h>", "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>") \
    .replace("  MPI_Finalize();", """  char *p = malloc(400u << 20);
  if (p) { memset(p, rank, 400u << 20); printf("%d\\n", p[rank << 20]); }
  MPI_Barrier(MPI_COMM_WORLD);
  MPI_Finalize();""")


def cgroups_writable() -> bool:
    cgroup = RunCgroup.create(Limits())
    if cgroup:
        cgroup.remove()
    return cgroup is not None


@pytest.mark.skipif(not cgroups_writable(), reason="needs a writable cgroup tree (root)")
def test_the_memory_limit_holds_for_all_ranks_together(checker):
    verdict = check(checker, HOG, mpi_task(inputs=[None]))
    assert verdict.status == "memory", verdict


def test_output_flood_is_truncated_and_flagged_not_a_hang(checker):
    start = time.monotonic()
    verdict = check(checker, FLOOD, mpi_task(inputs=[None]))
    assert verdict.status == "failed" and verdict.details["output_truncated"], verdict
    assert f"more than {checker.limits.output_bytes} bytes" in verdict.message
    assert time.monotonic() - start < checker.limits.wall_s


def test_compile_errors_fail_with_the_first_error_and_its_line(checker):
    verdict = check(checker, NO_COMPILE)
    assert verdict.status == "failed", verdict
    line = REFERENCE.splitlines().index("  MPI_Comm_size(MPI_COMM_WORLD, &size);") + 1
    assert verdict.details["error_line"] == line and f"line {line}: expected" in verdict.message
    verdict = check(checker, NOT_LINKED)
    assert verdict.status == "failed" and "MPI_Bcastt" in verdict.message, verdict
    assert check(checker, "int main( {").status == "failed"


def test_a_broken_reference_is_the_tasks_error_whatever_the_candidate(checker):
    for reference, said in [(NO_COMPILE, "does not compile: line"), (SEGFAULT, "died of signal 11"),
                            (None, "program is missing")]:
        verdict = check(checker, REFERENCE, mpi_task(reference, task_id=f"broken-{said}"))
        assert verdict.status == "error" and said in verdict.message, verdict
        assert verdict.details["task_error"]
    bad_meta = check(checker, REFERENCE, mpi_task(np=0))
    assert bad_meta.status == "error" and "np must be" in bad_meta.message


def test_cpp_program_with_argv_inputs(checker):
    task = Task(id="mpi/cpp", kind="mpi", statement="", reference=CPP_REFERENCE,
                meta={"lang": "cpp", "np": 4, "inputs": [["3"], {"argv": ["5"]}]})
    assert checker.check(task, Candidate("mpi/cpp", CPP_REFERENCE)).status == "passed"
    off_by_one = CPP_REFERENCE.replace("MPI_SUM", "MPI_MAX")
    verdict = checker.check(task, Candidate("mpi/cpp", off_by_one))
    assert verdict.status == "failed" and "input 0 (argv ['3'])" in verdict.message, verdict


def test_reference_and_repeated_candidates_are_compiled_once(checker):
    c_cache = checker.compiler("c")
    task = mpi_task(task_id="mpi/once", inputs=["1\n"])
    check(checker, REFERENCE, task)
    misses = c_cache.misses
    check(checker, CORRECT, task)
    check(checker, CORRECT, task)
    assert c_cache.misses <= misses + 1 and c_cache.hits >= 2


def test_comparing_outputs():
    assert compare_outputs([b"a\nb\n"], [b"a  \nb"]) is None  # trailing whitespace and newline
    assert compare_outputs([b"x\n", b"y\n"], [b"y\n", b"x\n"], "sorted") is None
    assert compare_outputs([b"x\n", b"y\n"], [b"y\n", b"x\n"])["rank"] == 0
    assert compare_outputs([b"a\n"], [b"a\nb\n"]) == {"message": "rank 0's output differs from the reference's",
                                                      "rank": 0, "line": 2, "expected": None, "got": "b"}
    assert first_compile_error("main.c: In function 'main':\nmain.c:7:3: error: expected ';' before 'x'\n") == \
        ("line 7: expected ';' before 'x'", 7)


def test_task_lines_and_setup():
    line = {"task_id": "t", "kind": "mpi", "statement": "s", "reference": REFERENCE, "lang": "cpp", "np": 4,
            "inputs": ["1\n", ["-v"]], "compile_flags": ["-lm"]}
    task = task_from_record(line)
    setup = MpiSetup.of(task)
    assert (setup.lang, setup.np, setup.compile_flags) == ("cpp", 4, ("-lm",))
    assert [(i.stdin, i.argv) for i in setup.inputs] == [("1\n", ()), (None, ("-v",))]
    assert MpiSetup.of(Task(id="d", kind="mpi", statement="")).np == 2  # the default
    for bad in ({"np": "4"}, {"lang": "fortran"}, {"inputs": [3]}, {"compare": "fuzzy"}):
        with pytest.raises(ValueError):
            MpiSetup.of(Task(id="b", kind="mpi", statement="", meta=bad))


def test_registered_with_what_it_needs():
    checker = get_checker("mpi", get_sandbox(), timeout=5)
    assert isinstance(checker, MpiChecker) and checker.limits.wall_s == 5


def test_check_and_eval_on_an_mpi_tasks_file_end_to_end(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    from proofsmith.extract.mpi import strip_mpi_calls

    truth = strip_mpi_calls(REFERENCE, "c").mpi_labels
    tasks.write_text(json.dumps({"task_id": "mpi/sum", "kind": "mpi", "statement": STATEMENT, "mpi_labels": truth,
                                 "reference": REFERENCE, "lang": "c", "np": 2, "inputs": ["4\n"]}) + "\n")
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "mpi/sum", "completion": c, "sample": i}) + "\n"
                               for i, c in enumerate([REFERENCE, WRONG, CORRECT, NO_COMPILE])))
    results = tmp_path / "results.jsonl"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PROOFSMITH_CACHE": str(tmp_path / "cache")}
    cli = [sys.executable, "-m", "proofsmith"]
    done = subprocess.run(cli + ["check", str(tasks), str(samples), "--out", str(results), "-q"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["sample"], r["status"]) for r in lines] == [(0, "passed"), (1, "failed"), (2, "passed"), (3, "failed")]
    done = subprocess.run(cli + ["eval", str(results), "--k", "1", "--json"], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["pass@1"] == pytest.approx(0.5)
    # MPIrigen's text scores of the same programs, beside their execution pass@1
    done = subprocess.run(cli + ["eval-mpirigen", str(results), "--tasks", str(tasks), "--json"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["execution"]["pass@1"] == pytest.approx(0.5)
    text = figures["var0"]["overall"]
    assert 0 < text["locations"] < 1  # the reference's own calls score 1, the others less

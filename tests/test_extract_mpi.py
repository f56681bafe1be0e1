"""`proofsmith extract mpi`: real tree-sitter parsing, the real mpicc/mpicxx in the sandbox, a real run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("tree_sitter_c", reason="extract mpi needs pip install 'proofsmith[mpi]'")

from proofsmith.eval.mpirigen import parse_labels, score
from proofsmith.extract.mpi import ParseError, strip_mpi_calls
from proofsmith.extract.mpi_run import MpiOptions, extract_sources

needs_mpicc = pytest.mark.skipif(not shutil.which("mpicc") or not shutil.which("bwrap"),
                                 reason="needs mpicc (apt-get install openmpi-bin libopenmpi-dev) and bubblewrap")

PROGRAM_C = textwrap.dedent("""\
    #include <mpi.h>
    #include <stdio.h>
    #define BARRIER() MPI_Barrier(MPI_COMM_WORLD)

    /* MPI_Abort(MPI_COMM_WORLD, 1); is only a comment */
    int main(int argc, char **argv) {
        int rank, size;
        double t0;
        MPI_Init(&argc, &argv);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank); // which one am I
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        t0 = MPI_Wtime();
        printf("MPI_Finalize(); is only a string\\n");
        if (rank == 0)
            printf("%d ranks\\n", size);
        MPI_Bcast(&size, 1,
                  MPI_INT, 0,
                  MPI_COMM_WORLD);
        BARRIER();
        MPI_Finalize();
        return t0 < 0;
    }
    """)

LIBRARY_C = textwrap.dedent("""\
    #include <mpi.h>

    double global_sum(double x, MPI_Comm comm) {
        double total = 0;
        MPI_Allreduce(&x, &total, 1, MPI_DOUBLE, MPI_SUM, comm);
        return total;
    }
    """)

PROGRAM_CPP = textwrap.dedent("""\
    #include <mpi.h>
    #include <iostream>
    #include <vector>

    int main(int argc, char **argv) {
        MPI_Init(&argc, &argv);
        int rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        std::vector<int> v(4, rank);
        MPI_Allreduce(MPI_IN_PLACE, v.data(), 4, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        if (rank == 0) std::cout << v[0] << std::endl;
        MPI_Finalize();
        return 0;
    }
    """)

NO_MPI_C = "int add(int a, int b) { return a + b; }\n"
BROKEN_C = "int main(int argc, char **argv) {\n    MPI_Init(&argc, &argv;\n    return )) 0 {{\n"


def test_calls_removed_and_labelled_as_mpirigen_does():
    s = strip_mpi_calls(PROGRAM_C, "c")
    lines = s.code.splitlines()
    # the calls are gone, whole lines and all (no blank line left), the comment and the string stay
    assert "MPI_Init" not in s.code and "MPI_Bcast" not in s.code and "MPI_COMM_WORLD);" not in s.code
    assert "/* MPI_Abort(MPI_COMM_WORLD, 1); is only a comment */" in s.code
    assert 'printf("MPI_Finalize(); is only a string\\n");' in s.code
    assert "#define BARRIER() MPI_Barrier(MPI_COMM_WORLD)" in s.code and "    BARRIER();" in lines  # a macro: no call
    assert "which one am I" not in s.code  # the comment on the removed call's line went with it
    assert lines[8] == "    t0 = ;"  # the value is used: cut out of its line, which stays (line 9)
    assert len(lines) == len(PROGRAM_C.splitlines()) - 7  # Init, rank, size, Bcast (3 lines), Finalize
    assert [(c.name, c.L, c.k, c.kind) for c in s.calls] == [
        ("MPI_Init", 9, 1, "statement"), ("MPI_Comm_rank", 9, 2, "statement"), ("MPI_Comm_size", 9, 3, "statement"),
        ("MPI_Wtime", 9, 0, "inline"), ("MPI_Bcast", 13, 1, "statement"), ("MPI_Finalize", 14, 1, "statement")]
    assert lines[12] == "    BARRIER();"  # what the Bcast now stands before: line 13
    assert s.mpi_labels == (
        "(9 1,     MPI_Init(&argc, &argv);) (9 2,     MPI_Comm_rank(MPI_COMM_WORLD, &rank);) "
        "(9 3,     MPI_Comm_size(MPI_COMM_WORLD, &size);) (9 0, MPI_Wtime();) "
        "(13 1,     MPI_Bcast(&size, 1, MPI_INT, 0, MPI_COMM_WORLD);) (14 1,     MPI_Finalize();)")
    bcast = s.calls[4]
    assert (bcast.arguments, bcast.line, bcast.end_line, bcast.order, bcast.function) == (
        ["&size", "1", "MPI_INT", "0", "MPI_COMM_WORLD"], 16, 18, 4, "main")
    assert s.has_main and s.parse_errors == 0


def test_labels_read_back_by_the_mpirigen_scorer():
    s = strip_mpi_calls(PROGRAM_C, "c")
    entries = parse_labels(s.mpi_labels)
    assert [(e.location, e.name) for e in entries.values()] == [(c.L + c.k / 10, c.name) for c in s.calls]
    assert entries[13.1].arguments == ("&size", " 1", " MPI_INT", " 0", " MPI_COMM_WORLD")
    perfect = score([(s.mpi_labels, s.mpi_labels)], tolerance=0).overall
    assert (perfect["locations"], perfect["functions"], perfect["arguments"]) == (1.0, 1.0, 1.0)


def test_putting_the_calls_back_gives_the_program():
    """Each label says where its call goes: inserting them gives the source back (calls on one line, and without
    the comment that shared a removed call's line)."""
    s = strip_mpi_calls(PROGRAM_C, "c")
    rebuilt = s.code.splitlines()
    for c in sorted(s.calls, key=lambda c: (-c.L, c.k != 0, -c.k)):  # a line's own call before those above it
        if c.k == 0:
            rebuilt[c.L - 1] = rebuilt[c.L - 1].replace("= ;", "= " + c.text)
        else:
            rebuilt.insert(c.L - 1, c.text)
    expected = (PROGRAM_C.replace(" // which one am I", "")
                .replace("MPI_Bcast(&size, 1,\n              MPI_INT, 0,\n              MPI_COMM_WORLD);",
                         "MPI_Bcast(&size, 1, MPI_INT, 0, MPI_COMM_WORLD);"))
    assert "\n".join(rebuilt) + "\n" == expected


def test_a_file_that_does_not_parse_and_one_without_mpi():
    with pytest.raises(ParseError) as info:
        strip_mpi_calls(BROKEN_C, "c")
    assert "MPI_Init" in str(info.value) and info.value.line >= 1
    assert strip_mpi_calls(NO_MPI_C, "c").calls == []
    assert [c.name for c in strip_mpi_calls(PROGRAM_CPP, "cpp").calls] == [
        "MPI_Init", "MPI_Comm_rank", "MPI_Allreduce", "MPI_Finalize"]
    cxx = strip_mpi_calls("int main() { MPI::Init(); int r = MPI::COMM_WORLD.Get_rank(); MPI::Finalize(); }", "cpp")
    assert [(c.name, c.kind) for c in cxx.calls] == [("MPI::Init", "inline"), ("MPI::COMM_WORLD.Get_rank", "inline"),
                                                     ("MPI::Finalize", "inline")]  # one line: cut out, k = 0
    assert cxx.code == "int main() {  int r = ;  }"
    assert [c.name for c in strip_mpi_calls("void f(void) { MPI_calculateJacobi(1); MPI_Barrier(c); }", "c").calls] \
        == ["MPI_Barrier"]  # a user's function named MPI_... is no MPI call


def _tree(root: Path) -> Path:
    project = root / "demo-1.2"
    (project / "src").mkdir(parents=True)
    (project / "LICENSE").write_text("Permission is hereby granted, free of charge, to any person ...\n")
    for name, text in [("src/hello.c", PROGRAM_C), ("src/lib.c", LIBRARY_C), ("src/sum.cpp", PROGRAM_CPP),
                       ("src/plain.c", NO_MPI_C), ("src/broken.c", BROKEN_C), ("src/notes.txt", "MPI_Init(0, 0);")]:
        (project / name).write_text(text)
    return project


@needs_mpicc
def test_extract_run_records_tasks_dataset_and_resume(tmp_path):
    project = _tree(tmp_path)
    out = tmp_path / "out"
    summary = extract_sources([str(project)], str(out), jobs=2, progress=False, command="test")
    assert (summary["files"], summary["programs"], summary["files_failed"], summary["files_without_mpi"]) == (5, 3, 1, 1)
    assert (summary["with_main"], summary["builds_standalone"], summary["tasks"]) == (2, 3, 2)
    programs = {r["program"]: r for r in map(json.loads, (out / "raw" / "programs.jsonl").read_text().splitlines())}
    assert set(programs) == {"demo/src/hello.c", "demo/src/lib.c", "demo/src/sum.cpp"}
    hello = programs["demo/src/hello.c"]
    assert hello["builds"] == {"checked": True, "standalone": True, "command": "mpicc hello.c -o a.out -lm", "error": ""}
    assert programs["demo/src/lib.c"]["builds"]["command"] == "mpicc -c lib.c -o a.o"
    assert programs["demo/src/sum.cpp"]["lang"] == "cpp"
    assert hello["provenance"]["project"] == "demo" and hello["provenance"]["version"] == "1.2"
    assert hello["provenance"]["license"] == "MIT" and hello["provenance"]["source"] == "src/hello.c"
    assert hello["code"] == strip_mpi_calls(PROGRAM_C, "c").code and hello["source"] == PROGRAM_C
    errors = [json.loads(line) for line in (out / "raw" / "errors.jsonl").read_text().splitlines()]
    assert [(e["file"], e["reason"]) for e in errors] == [("src/broken.c", "parse")]
    tasks = [json.loads(line) for line in (out / "raw" / "tasks.jsonl").read_text().splitlines()]
    assert [t["task_id"] for t in tasks] == ["mpi/demo/src/hello.c", "mpi/demo/src/sum.cpp"]
    assert tasks[0]["kind"] == "mpi" and tasks[0]["statement"] == hello["code"] and tasks[0]["reference"] == PROGRAM_C
    assert tasks[0]["np"] == 2 and tasks[1]["lang"] == "cpp"
    assert summary["dataset"]["random"] == {"train": 1, "validation": 1, "test": 1}
    assert summary["dataset"]["by_project"] == {"train": 3, "validation": 0, "test": 0}  # one project: never held out
    assert "configs:" in (out / "README.md").read_text()

    again = extract_sources([str(project)], str(out), jobs=2, progress=False, command="test")
    assert again["files_this_run"] == 0 and again["programs"] == 3  # every file already done: nothing redone


@needs_mpicc
def test_a_program_that_needs_its_project_does_not_build_standalone(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    (project / "main.c").write_text('#include <mpi.h>\n#include "local.h"\nint main(int c, char **v) '
                                    '{ MPI_Init(&c, &v); MPI_Finalize(); return LOCAL; }\n')
    summary = extract_sources([str(project)], str(tmp_path / "out"), progress=False, dataset=False)
    record = json.loads((tmp_path / "out" / "raw" / "programs.jsonl").read_text())
    assert summary["tasks"] == 0 and record["builds"]["standalone"] is False
    assert "local.h" in record["builds"]["error"]


def test_cli_extract_mpi_bad_source_is_one_line(tmp_path):
    from proofsmith.cli import main

    assert main(["extract", "mpi", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["extract", "mpi", str(tmp_path / "empty"), "--out", str(tmp_path / "o2"), "--no-build"]) == 2


# ----------------------------------------------------------------------------- real trees (slow)


def _fetch(command: list[str], cwd: Path, what: str) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"could not fetch {what}: {exc}")
    if done.returncode != 0:
        pytest.skip(f"could not fetch {what} ({' '.join(command)}): {(done.stderr or done.stdout).strip()[-300:]}")


def _report(name: str, summary: dict, seconds: float) -> None:
    print(f"\n{name}: files {summary['files']}, programs {summary['programs']}, calls {summary['calls']}, "
          f"with main {summary['with_main']}, build standalone {summary['builds_standalone']} "
          f"({summary['share_builds_standalone']:.0%}), tasks {summary['tasks']}, failed {summary['files_failed']}, "
          f"{seconds:.1f} s, {summary['files'] / seconds:.1f} files/s")


@pytest.mark.slow
@needs_mpicc
def test_open_mpi_examples_from_apt_get_source(tmp_path):
    """Open MPI's own examples, from `apt-get source --download-only openmpi` (needs a deb-src entry)."""
    if not shutil.which("apt-get"):
        pytest.skip("no apt-get here")
    _fetch(["apt-get", "source", "--download-only", "openmpi"], tmp_path, "openmpi's Debian source package")
    dsc = next(tmp_path.glob("openmpi_*.dsc"), None)
    assert dsc is not None
    from proofsmith.extract.mpi_project import find_project

    examples = find_project(str(dsc)).root / "examples"
    t0 = time.monotonic()
    summary = extract_sources([str(examples)], str(tmp_path / "out"), jobs=2, progress=False, name="openmpi")
    _report("Open MPI examples", summary, time.monotonic() - t0)
    programs = {r["program"]: r for r in map(json.loads, (tmp_path / "out/raw/programs.jsonl").read_text().splitlines())}
    assert {"openmpi/hello_c.c", "openmpi/ring_c.c", "openmpi/connectivity_c.c", "openmpi/hello_cxx.cc",
            "openmpi/ring_cxx.cc"} <= set(programs)
    ring = programs["openmpi/ring_c.c"]
    assert [c["name"] for c in ring["calls"]][:3] == ["MPI_Init", "MPI_Comm_rank", "MPI_Comm_size"]
    assert ring["builds"]["standalone"] and ring["provenance"]["license"].startswith("BSD-3-Clause")
    assert summary["tasks"] >= 5


@pytest.mark.slow
@needs_mpicc
def test_petsc_sdist_from_pypi(tmp_path):
    """PETSc's source distribution (17 MB, thousands of C files, over a hundred with raw MPI calls)."""
    _fetch([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(tmp_path),
            "petsc"], tmp_path, "petsc's sdist from PyPI")
    sdist = next(tmp_path.glob("petsc-*.tar.gz"), None)
    assert sdist is not None
    t0 = time.monotonic()
    summary = extract_sources([str(sdist)], str(tmp_path / "out"), jobs=2, progress=False,
                              options=MpiOptions(build=False), dataset=False)
    _report("PETSc sdist (no builds)", summary, time.monotonic() - t0)
    assert summary["files"] > 2000 and summary["programs"] > 100 and summary["calls"] > 500
    assert summary["files_failed"] < summary["files"] * 0.05

"""MPI checker: a candidate program passes when it behaves as the reference program does.

A task (kind `mpi`, see docs/mpi.md) holds the reference program and, in `meta`, its
language (`c` or `cpp`), the number of ranks `np` and the inputs it runs on. Both the
reference and the candidate are compiled with `mpicc`/`mpicxx` in the sandbox (cached by
content hash, `compile_cache.CompileCache`) and run as `mpirun -np N --oversubscribe` in
the sandbox, one run per input: the run's limits hold for every rank and mpirun together
(one cgroup, one pid namespace that dies with the run), the ranks talk over shared
memory and loopback only, and Open MPI's session directory is in the run's private /tmp.

Each rank's stdout is kept apart (a file per rank, not mpirun's interleaving), so the
comparison is per rank, line by line, trailing whitespace ignored; a task whose ranks'
line order is not deterministic says `"compare": "sorted"` (all lines of all ranks,
sorted). The reference runs once per task and must succeed on every input (every rank
exits 0), or the task is broken (`error`). The candidate then gets:

- `passed`: on every input, every rank exited 0 and printed what the reference's did;
- `timeout`: the run passed the wall limit (a deadlock) or the CPU limit of all ranks;
- `memory`: the run's memory limit was hit;
- `crashed`: a rank died of a signal, called MPI_Abort, or exited non-zero, or mpirun failed
  (also when mpirun had said so and then hung until the wall limit);
- `failed`: it does not compile (the first error and its line), printed something else,
  printed more than the output limit, or left processes running after mpirun ended.
"""

from __future__ import annotations

import base64
import binascii
import re
import signal
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..core import Candidate, Task, Verdict
from ..paths import cache_dir
from ..text import first_not_unicode
from .compile_cache import CompileCache, CompileError
from .sandbox import Limits, RunResult, Sandbox, get_sandbox

# The whole run as one shell script (sh run.sh NP CAP ARG...). Each rank's own shell keeps
# its stdout in a file (CAP bytes, one more to see an overflow) and its exit status (128 + n
# for signal n) beside it, and exits with that status so that mpirun sees every failure and
# stops the other ranks; when mpirun kills that shell, the program dies with it (pdeathsig),
# instead of spinning on as an orphan that keeps mpirun waiting. Then the report on stdout: mpirun's status, the processes still
# alive in the sandbox, and per rank its exit status and its stdout in base64 (exact bytes).
RUN_SCRIPT = r"""np=$1
keep=$(($2 + 1))
shift 2
ranks=/tmp/proofsmith-ranks
mkdir -p "$TMPDIR" "$ranks"
pipes= r=0
while [ "$r" -lt "$np" ]; do pipes="$pipes $ranks/$r.pipe"; r=$((r + 1)); done
mkfifo $pipes
mpirun -np "$np" --oversubscribe /bin/sh -c '
at='"$ranks"'/$OMPI_COMM_WORLD_RANK
head -c '"$keep"' < "$at.pipe" > "$at.out" 2>/dev/null &
setpriv --pdeathsig KILL ./prog "$@" > "$at.pipe"
status=$?
echo "$status" > "$at.exit"
wait
exit "$status"' rank "$@" >&2
status=$?
leftover=
for p in /proc/[0-9]*; do
  p=${p#/proc/}
  [ "$p" = 1 ] || [ "$p" = $$ ] || [ ! -e "/proc/$p/comm" ] || leftover="$leftover $p"
done
echo "proofsmith-mpirun $status"
echo "proofsmith-leftover$leftover"
r=0
while [ "$r" -lt "$np" ]; do
  code=-
  read code 2>/dev/null < "$ranks/$r.exit"
  echo "proofsmith-rank $r ${code:--}"
  [ -f "$ranks/$r.out" ] && base64 -w0 "$ranks/$r.out"
  echo
  r=$((r + 1))
done
"""

# Open MPI inside the sandbox: root allowed (the sandbox's root is no one outside it),
# ranks over shared memory (vader; no single-copy mechanism, which needs ptrace rights a
# sandbox lacks), mpirun's own channel on loopback (the only interface there is), no
# probing of fabrics that are not there, no hwloc reading of the absent /sys.
MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_pml": "ob1",
    "OMPI_MCA_btl": "self,vader",
    "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
    "OMPI_MCA_oob_tcp_if_include": "lo",
    "OMPI_MCA_osc": "^ucx",
    # MPI_Abort's message printed at once, not aggregated by mpirun: its show_help could fail ("Out of
    # resource") and leave no trace of the abort when mpirun then hung (about 1 aborting run in 15)
    "OMPI_MCA_orte_base_help_aggregate": "0",
    "HWLOC_COMPONENTS": "-linux",
    "TMPDIR": "/tmp/mpi",  # the session directory, in the run's private tmpfs
}
COMPILERS = {"c": ("mpicc", "main.c", "MPI C"), "cpp": ("mpicxx", "main.cpp", "MPI C++")}
COMPILE_FLAGS = ("-O2", "-pipe")
LINK_FLAGS = ("-lm",)  # after the source and the task's own flags, as `extract mpi` builds programs
DEFAULT_NP = 2
LIMITS = Limits(wall_s=30.0, cpu_s=60.0, memory_mb=2048, processes=128, output_bytes=1 << 20)
MAX_NP = 16
COMPARES = ("ranks", "sorted")
_ABORT_RE = re.compile(r"MPI_ABORT was invoked on rank (\d+) in communicator \S+\s+with errorcode (-?\d+)")
# mpirun names the first rank that failed; the others may only have been stopped by it
_FIRST_FAILED_RE = re.compile(r"Process name:\s*\[\[\d+,\d+\],(\d+)\]\s*Exit code:\s*(\d+)")
_IMPROPER_RE = re.compile(r"process rank (\d+) with PID \d+ on\s+node \S+ exiting improperly")
_COMPILE_ERROR_RE = re.compile(r"^main\.(?:c|cpp):(\d+):(?:(\d+):)? (?:fatal )?error: (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class MpiInput:
    """One input a program runs on: stdin (rank 0 reads it, as mpirun forwards it) and argv."""

    stdin: str | None = None
    argv: tuple[str, ...] = ()

    def describe(self, index: int) -> str:
        said = [f"stdin {self.stdin[:40]!r}"] if self.stdin is not None else []
        said += [f"argv {list(self.argv)!r}"[:60]] if self.argv else []
        return f"input {index}" + (f" ({', '.join(said)})" if said else "")


@dataclass(frozen=True)
class MpiSetup:
    """How a task's programs are built and run, from its `meta`."""

    lang: str = "c"
    np: int = DEFAULT_NP
    inputs: tuple[MpiInput, ...] = (MpiInput(),)
    compile_flags: tuple[str, ...] = ()
    compare: str = "ranks"

    @classmethod
    def of(cls, task: Task) -> MpiSetup:
        """The setup a task asks for; ValueError saying what is wrong with its meta."""
        meta = task.meta
        lang = meta.get("lang", "c")
        if lang not in COMPILERS:
            raise ValueError(f"lang must be one of {', '.join(COMPILERS)}, not {lang!r}")
        np = meta.get("np", DEFAULT_NP)
        if isinstance(np, bool) or not isinstance(np, int) or not 1 <= np <= MAX_NP:
            raise ValueError(f"np must be a whole number of ranks from 1 to {MAX_NP}, not {np!r}")
        inputs = tuple(_input(x) for x in meta.get("inputs") or [None])
        flags = meta.get("compile_flags", [])
        if isinstance(flags, str):
            flags = flags.split()
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            raise ValueError("compile_flags must be a list of strings")
        compare = meta.get("compare", "ranks")
        if compare not in COMPARES:
            raise ValueError(f"compare must be one of {', '.join(COMPARES)}, not {compare!r}")
        return cls(lang, np, inputs, tuple(flags), compare)


def _input(value: object) -> MpiInput:
    """An input as a task gives it: stdin text, an argv list, or {"stdin", "argv"}."""
    if value is None:
        return MpiInput()
    if isinstance(value, str):
        return MpiInput(stdin=value)
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return MpiInput(argv=tuple(value))
    if isinstance(value, Mapping) and set(value) <= {"stdin", "argv"}:
        stdin, argv = value.get("stdin"), value.get("argv", [])
        if (stdin is None or isinstance(stdin, str)) and isinstance(argv, list) and all(isinstance(a, str) for a in argv):
            return MpiInput(stdin, tuple(argv))
    raise ValueError(f"an input is stdin text, a list of argv strings or {{stdin, argv}}, not {value!r:.60}")


@dataclass(frozen=True)
class MpiRun:
    """One mpirun of a program on one input, as the run script reported it."""

    result: RunResult  # the sandbox's, for limits and stderr
    status: int | None = None  # mpirun's exit status; None when there was no report
    exits: tuple[int | None, ...] = ()  # per rank; None when it was killed before it could say
    outputs: tuple[bytes, ...] = ()  # per rank, at most the cap + 1 bytes
    leftover: tuple[str, ...] = ()  # pids alive in the sandbox after mpirun ended

    @classmethod
    def parse(cls, result: RunResult, np: int) -> MpiRun:
        lines = result.stdout.split("\n")
        heads = [i for i, line in enumerate(lines) if line.startswith("proofsmith-mpirun ")]
        if not heads:
            return cls(result)
        i = heads[-1]
        try:
            status = int(lines[i].split()[1])
            leftover = tuple(lines[i + 1].split()[1:])
            exits, outputs = [], []
            for r in range(np):
                head = lines[i + 2 + 2 * r].split()
                if head[:2] != ["proofsmith-rank", str(r)]:
                    return cls(result)
                exits.append(int(head[2]) if head[2].lstrip("-").isdigit() else None)
                outputs.append(base64.b64decode(lines[i + 3 + 2 * r], validate=True))
        except (IndexError, ValueError, binascii.Error):
            return cls(result)
        return cls(result, status, tuple(exits), tuple(outputs), leftover)

    @property
    def reported(self) -> bool:
        return self.status is not None

    def failure(self) -> str | None:
        """Why the run failed as an MPI run (a rank's crash, abort, exit status, or mpirun's), or None."""
        abort = _ABORT_RE.search(self.result.stderr)
        if abort:
            return f"rank {abort.group(1)} called MPI_Abort (error code {abort.group(2)})"
        first = _FIRST_FAILED_RE.search(self.result.stderr)
        failed = [(int(first.group(1)), int(first.group(2)))] if first else []
        failed += [(rank, code) for rank, code in enumerate(self.exits) if code]
        for rank, code in failed:
            return f"rank {rank} died of {_signal_name(code - 128)}" if 128 < code < 128 + 65 else \
                f"rank {rank} exited with status {code}"
        improper = _IMPROPER_RE.search(self.result.stderr)
        if improper:
            return f"rank {improper.group(1)} exited without calling MPI_Finalize (or without MPI_Init while the others called it)"
        if self.status:
            said = _first_line(self.result.stderr)
            return f"mpirun exited with status {self.status}" + (f": {said}" if said else "")
        if None in self.exits:
            return f"rank {self.exits.index(None)} was killed before it exited"
        return None


@dataclass
class MpiChecker:
    """Compiles and runs MPI programs in the sandbox; thread-safe (share one across workers).

    `limits` hold for one run (every rank and mpirun together): wall seconds, CPU seconds
    of all ranks, memory of all ranks, processes and threads; `output_bytes` is each
    rank's stdout.
    """

    sandbox: Sandbox | None = None
    limits: Limits = LIMITS
    cache_directory: str | None = None
    _compilers: dict = field(default_factory=dict)
    _references: dict = field(default_factory=dict)
    _reference_locks: dict = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.sandbox = self.sandbox or get_sandbox()

    def compiler(self, lang: str) -> CompileCache:
        with self._guard:
            if lang not in self._compilers:
                tool, source_name, language = COMPILERS[lang]
                directory = self.cache_directory or cache_dir("mpi")
                self._compilers[lang] = CompileCache(self.sandbox, directory, tool, COMPILE_FLAGS, source_name,
                                                     probes=((tool, "--version"), (tool, "--showme")),
                                                     language=language)
            return self._compilers[lang]

    def check(self, task: Task, candidate: Candidate) -> Verdict:
        broken = first_not_unicode([("the task's reference", task.reference or ""), ("the task's meta", task.meta)])
        if broken:
            return Verdict("error", broken, details={"task_error": True})
        try:
            setup = MpiSetup.of(task)
        except ValueError as exc:
            return Verdict("error", f"the task is broken: {exc}", details={"task_error": True})
        expected = self._reference(task, setup)
        if isinstance(expected, Verdict):  # the task is broken, whatever the candidate
            return expected
        why = first_not_unicode([("the program", candidate.text)])
        if why:
            return Verdict("failed", why)
        try:
            binary = self.compiler(setup.lang).binary(candidate.text, setup.compile_flags + LINK_FLAGS)
        except CompileError as exc:
            message, line = first_compile_error(exc.log)
            return Verdict("failed", f"does not compile: {message}", details={"error_line": line,
                                                                              "compiler_output": exc.log[-2000:]})
        seconds, resources = 0.0, {}
        for index, (inp, reference) in enumerate(zip(setup.inputs, expected)):
            run = self.run(binary, setup, inp)
            seconds += run.result.wall_s
            resources = _summed(resources, run.result.resources())
            verdict = self._judge(run, reference, setup, inp.describe(index), seconds, resources)
            if verdict is not None:
                return verdict
        return Verdict("passed", f"every rank printed what the reference's did on {len(setup.inputs)} input(s)",
                       seconds, resources, details={"np": setup.np})

    def run(self, binary: bytes, setup: MpiSetup, inp: MpiInput) -> MpiRun:
        """One mpirun of `binary` on one input in the sandbox."""
        cap = self.limits.output_bytes
        report = setup.np * (4 * (cap + 3) // 3 + 64) + 4096  # base64 of every rank's stdout
        limits = replace(self.limits, output_bytes=max(report, cap))
        result = self.sandbox.run(["/bin/sh", "run.sh", str(setup.np), str(cap), *inp.argv],
                                  files={"run.sh": RUN_SCRIPT, "prog": binary}, limits=limits,
                                  stdin=inp.stdin, env=MPI_ENV)
        return MpiRun.parse(result, setup.np)

    def _judge(self, run: MpiRun, reference: MpiRun, setup: MpiSetup, where: str, seconds: float,
               resources: dict) -> Verdict | None:
        """The candidate's verdict from one run, or None when it behaved as the reference did."""
        result = run.result
        if result.timed_out and (_ABORT_RE.search(result.stderr) or _FIRST_FAILED_RE.search(result.stderr)):
            # mpirun had said a rank aborted or died, then hung tearing the run down (Open MPI 4.1): a crash
            return Verdict("crashed", f"{run.failure()} on {where} (mpirun then hung)", seconds, resources,
                           details={"stderr": result.stderr[-2000:]})
        limited = result.limit_verdict(f"the MPI run on {where}")
        if limited:
            if result.timed_out and not result.output_truncated:
                limited = replace(limited, message=limited.message + " (a deadlock, or too slow)")
            details = {"output_truncated": True} if result.output_truncated else {}
            return replace(limited, seconds=seconds, resources=resources, details=details)
        if result.cpu_s > self.limits.cpu_s:
            return Verdict("timeout", f"the ranks used {result.cpu_s:.1f} CPU seconds together on {where} "
                           f"(limit {self.limits.cpu_s:g})", seconds, resources)
        over = [r for r, out in enumerate(run.outputs) if len(out) > self.limits.output_bytes]
        if over:
            return Verdict("failed", f"rank {over[0]} printed more than {self.limits.output_bytes} bytes on {where}",
                           seconds, resources, details={"output_truncated": True})
        if not run.reported:
            return Verdict("crashed", f"the MPI run on {where} ended without a report: {_first_line(result.stderr)}",
                           seconds, resources, details={"stderr": result.stderr[-2000:]})
        failure = run.failure()
        if failure:
            return Verdict("crashed", f"{failure} on {where}", seconds, resources,
                           details={"exits": list(run.exits), "mpirun_status": run.status,
                                    "stderr": result.stderr[-2000:]})
        difference = compare_outputs(reference.outputs, run.outputs, setup.compare)
        if difference:
            return Verdict("failed", f"{difference['message']} on {where}", seconds, resources, details=difference)
        if run.leftover:
            return Verdict("failed", f"{len(run.leftover)} process(es) still ran after mpirun ended on {where}",
                           seconds, resources)
        return None

    def _reference(self, task: Task, setup: MpiSetup) -> list[MpiRun] | Verdict:
        """The reference's runs on every input, or the `error` Verdict saying why it fails. Once per task."""
        key = (task.reference, setup)
        with self._guard:
            lock = self._reference_locks.setdefault(key, threading.Lock())
        with lock:  # one reference run per task, however many samples check it at once
            if key not in self._references:
                self._references[key] = self._reference_runs(task, setup)
        return self._references[key]

    def _reference_runs(self, task: Task, setup: MpiSetup) -> list[MpiRun] | Verdict:
        def broken(message: str, **details) -> Verdict:
            return Verdict("error", f"the task is broken: the reference {message}", details={"task_error": True,
                                                                                                  **details})

        if not task.reference or not task.reference.strip():
            return broken("program is missing")
        try:
            binary = self.compiler(setup.lang).binary(task.reference, setup.compile_flags + LINK_FLAGS)
        except CompileError as exc:
            message, line = first_compile_error(exc.log)
            return broken(f"does not compile: {message}", error_line=line)
        runs = []
        for index, inp in enumerate(setup.inputs):
            run = self.run(binary, setup, inp)
            where = inp.describe(index)
            limited = run.result.limit_verdict("it")
            if limited:
                return broken(f"fails on {where}: {limited.message}")
            failure = run.failure() if run.reported else "ended without a report"
            if failure:
                return broken(f"fails on {where}: {failure}", stderr=run.result.stderr[-2000:])
            if any(len(out) > self.limits.output_bytes for out in run.outputs):
                return broken(f"prints more than {self.limits.output_bytes} bytes on {where}")
            runs.append(run)
        return runs


def compare_outputs(expected: Sequence[bytes], got: Sequence[bytes], how: str = "ranks") -> dict | None:
    """None when the outputs agree (per rank, or all lines sorted), else what differs first."""
    if how == "sorted":
        want = sorted(line for out in expected for line in _lines(out))
        have = sorted(line for out in got for line in _lines(out))
        if want == have:
            return None
        return {"message": "the ranks' output lines (sorted) differ from the reference's",
                **_first_difference(want, have)}
    for rank, (want, have) in enumerate(zip(expected, got)):
        want_lines, have_lines = _lines(want), _lines(have)
        if want_lines != have_lines:
            return {"message": f"rank {rank}'s output differs from the reference's", "rank": rank,
                    **_first_difference(want_lines, have_lines)}
    return None


def first_compile_error(log: str) -> tuple[str, int | None]:
    """The compiler's first error and its line in the program (None for a link error)."""
    m = _COMPILE_ERROR_RE.search(log)
    if m:
        return f"line {m.group(1)}: {m.group(3).strip()}"[:300], int(m.group(1))
    for line in log.splitlines():
        if "error" in line or "undefined reference" in line:
            return line.strip()[:300], None
    return _first_line(log) or "(no message)", None


def _lines(output: bytes) -> list[str]:
    lines = [line.rstrip() for line in output.decode("utf-8", errors="replace").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _first_difference(want: list[str], have: list[str]) -> dict:
    line = next((i for i, (a, b) in enumerate(zip(want, have)) if a != b), min(len(want), len(have)))
    return {"line": line + 1, "expected": want[line][:200] if line < len(want) else None,
            "got": have[line][:200] if line < len(have) else None}


def _signal_name(number: int) -> str:
    try:
        return f"signal {number} ({signal.Signals(number).name})"
    except ValueError:
        return f"signal {number}"


def _first_line(text: str) -> str:
    """The first line that says something (Open MPI frames its messages in lines of dashes)."""
    return next((line.strip() for line in text.splitlines() if line.strip(" -")), "")[:300]


def _summed(total: dict, more: dict) -> dict:
    return {"wall_s": round(total.get("wall_s", 0) + more["wall_s"], 4),
            "cpu_s": round(total.get("cpu_s", 0) + more["cpu_s"], 4),
            "max_rss_kb": max(total.get("max_rss_kb", 0), more["max_rss_kb"])}

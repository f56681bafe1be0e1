"""MPIrigen's scores (Schneider et al., "MPIrigen: MPI Code Generation through Domain-Specific
Language Models", 2024): the only place they are computed.

Truth and prediction are label strings of ``(L k, call;)`` entries. They are read as the
paper's evaluation reads them (MonoCoder/eval/finetune/evaluation_monocoder.py):

- an entry is the text from a ``(`` to the next ``;``; it counts when it holds
  ``L k,`` then (after any spaces) ``MPI_name(``; its location is ``float("L.k")`` rounded
  to 2 places (so ``11 10`` is 11.1, the same place as ``11 1``); its arguments are the
  text after ``MPI_name(`` up to the last character before ``;``, split at every comma,
  spaces kept; a later entry at the same location replaces an earlier one;
- with line tolerance V, a predicted entry at p covers the locations
  ``p - V, ..., p + V`` (whole lines, same k) and ``p - V/10, ..., p + V/10`` (k off by up
  to V), each rounded to 2 places, exactly as numpy's ``arange`` steps them;
- **location** of a program: the truth entries some predicted entry covers, over all its
  truth entries;
- **function**: of the truth entries some prediction covers, those for which a covering
  prediction has the same name; a program none of whose entries is covered has no
  function score;
- **arguments**: for each truth entry whose function matched (the first covering
  prediction with its name), the share of its positional arguments equal to the
  prediction's, averaged over the program; no matched function, no argument score;
- **MCC** (the common core: Init, Comm_rank, Comm_size, Send, Recv, Reduce, Bcast,
  Finalize): only truth entries calling one of them can be matched, but location is
  still divided by all truth entries, as the paper's script does;
- scores are means over programs, reported per limit: programs with at most N truth
  entries, N = 1 .. the most any program has (the paper's "Limit Functions" axis).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MCC = ("MPI_Init", "MPI_Comm_rank", "MPI_Comm_size", "MPI_Send", "MPI_Recv", "MPI_Reduce", "MPI_Bcast", "MPI_Finalize")
TOLERANCES = (0, 1, 2)
_ENTRY = re.compile(r"[(](.*?)[;]")
_HEAD = re.compile(r"([0-9]+ [0-9]+),\s*(MPI_\w*)[(]")
_END_OF_TEXT = re.compile(r"<[|]endoftext[|]>_*")  # MonoCoder's end-of-text in a prediction reads as "("


@dataclass(frozen=True)
class Entry:
    location: float
    name: str
    arguments: tuple[str, ...]


def location(line_and_order: str) -> float:
    """ "11 2" -> 11.2 (MPIrigen's "L.k" as a float, 2 places)."""
    return round(float(".".join(line_and_order.split(" "))), 2)


def parse_labels(text: str) -> dict[float, Entry]:
    """The entries of a label string, by location (a later one at the same location wins)."""
    entries: dict[float, Entry] = {}
    for segment in _ENTRY.findall(_END_OF_TEXT.sub("(", text or "")):
        if m := _HEAD.search(segment):
            where = location(m[1])
            entries[where] = Entry(where, m[2].strip(), tuple(segment[m.end():-1].split(",")))
    return entries


def covered(prediction: float, tolerance: int) -> set[float]:
    """The truth locations a predicted entry at `prediction` matches with line tolerance V."""
    if tolerance == 0:
        return {prediction}
    import numpy as np

    lines = np.arange(prediction - tolerance, prediction + tolerance + 1)
    orders = np.arange(prediction - tolerance / 10, prediction + 0.1 + tolerance / 10, 0.1)
    return {round(float(x), 2) for x in np.concatenate((lines, orders))}


@dataclass(frozen=True)
class ProgramScore:
    truth_entries: int
    location: float
    function: float | None  # None: no truth entry was located
    arguments: float | None  # None: no function matched


def score_program(truth: dict[float, Entry], prediction: dict[float, Entry], tolerance: int,
                  common_core: bool = False) -> ProgramScore:
    if not truth:
        raise ValueError("a program needs at least one truth entry")
    coverage = [(p, covered(p.location, tolerance)) for p in prediction.values()]
    located = named = 0
    argument_shares = []
    for t in truth.values():
        if common_core and t.name not in MCC:
            continue
        covering = [p for p, where in coverage if t.location in where]
        if not covering:
            continue
        located += 1
        same = next((p for p in covering if p.name == t.name), None)
        if same is not None:
            named += 1
            equal = sum(a == b for a, b in zip(t.arguments, same.arguments))
            argument_shares.append(equal / len(t.arguments))
    return ProgramScore(truth_entries=len(truth), location=located / len(truth),
                        function=named / located if located else None,
                        arguments=sum(argument_shares) / len(argument_shares) if argument_shares else None)


@dataclass
class Scores:
    tolerance: int
    common_core: bool
    rows: list[dict] = field(default_factory=list)  # per limit: limit, programs, locations, functions, arguments

    @property
    def overall(self) -> dict:
        return self.rows[-1] if self.rows else {}


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return sum(kept) / len(kept) if kept else None


def score(pairs: Sequence[tuple[str, str]], tolerance: int, common_core: bool = False) -> Scores:
    """MPIrigen's table for (truth, prediction) label strings; programs without a truth entry are left out."""
    parsed = [(t, parse_labels(p)) for t, p in ((parse_labels(t), p) for t, p in pairs) if t]
    programs = [(len(t), score_program(t, p, tolerance, common_core)) for t, p in parsed]
    result = Scores(tolerance, common_core)
    for limit in range(1, max((n for n, _ in programs), default=0) + 1):
        chosen = [s for n, s in programs if n <= limit]
        result.rows.append({"limit": limit, "programs": len(chosen),
                            "locations": _mean(s.location for s in chosen),
                            "functions": _mean(s.function for s in chosen),
                            "arguments": _mean(s.arguments for s in chosen)})
    return result


def all_scores(pairs: Sequence[tuple[str, str]]) -> dict[str, Scores]:
    """Every table the paper reports: tolerance 0, 1, 2, all calls and the common core."""
    return {f"var{v}{'_mcc' if mcc else ''}": score(pairs, v, mcc) for mcc in (False, True) for v in TOLERANCES}


def markdown(tables: dict[str, Scores], per_limit: bool = False) -> str:
    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    lines = ["| calls | tolerance | programs | locations | functions | arguments |", "|---|---:|---:|---:|---:|---:|"]
    for s in tables.values():
        o = s.overall
        if o:
            lines.append(f"| {'MCC' if s.common_core else 'all'} | {s.tolerance} | {o['programs']} | "
                         f"{f(o['locations'])} | {f(o['functions'])} | {f(o['arguments'])} |")
    if per_limit:
        for s in tables.values():
            lines += ["", f"{'MCC' if s.common_core else 'all calls'}, tolerance {s.tolerance}, by the most truth "
                      f"calls a program has:", "", "| limit | programs | locations | functions | arguments |",
                      "|---:|---:|---:|---:|---:|"]
            lines += [f"| {r['limit']} | {r['programs']} | {f(r['locations'])} | {f(r['functions'])} | "
                      f"{f(r['arguments'])} |" for r in s.rows]
    return "\n".join(lines)


def read_predictions(path) -> list[tuple[str, str]]:
    """(truth, prediction) label strings of a JSONL file: lines {program|task_id, mpi_labels, prediction}, or
    MPIrigen's own result lines {label, pred}. A line without both is one ProofsmithError naming it."""
    from ..core import ProofsmithError
    from ..io import numbered_jsonl

    pairs = []
    for lineno, r in numbered_jsonl(path):
        truth = r.get("mpi_labels", r.get("label"))
        prediction = r.get("prediction", r.get("pred"))
        for name, value in (("mpi_labels", truth), ("prediction", prediction)):
            if not isinstance(value, str):
                raise ProofsmithError(f"{path}:{lineno}: {name} must be a label string, got "
                                      f"{'nothing' if value is None else type(value).__name__}")
        pairs.append((truth, prediction))
    if not pairs:
        raise ProofsmithError(f"{path}: no predictions")
    return pairs

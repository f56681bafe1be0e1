"""The F* checker and its cheat rules, on recorded real F* output.

F* cannot be installed here. `judge` is tested on the real responses recorded in
`tests/recorded/fstar/ide/` (F*'s own test suite); the one 335 warning (admit/assume,
`--report_assumes warn`) is not in any transcript, so that response is the recorded error's
shape with the number and level changed, and says so. The whole checker runs in the real
bwrap sandbox against `tests/fstar_replay.py --serve`, which answers each push with the
recorded response of the recorded push that the candidate matches (see its docstring:
`push-partial-checked-file` and `pop` answers are synthesised there).
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from proofsmith.checkers.fstar import LIMITS, FStarChecker, judge
from proofsmith.core import Candidate, Task
from proofsmith.fstar import syntax
from proofsmith.fstar.ide import Response

RECORDED = Path(__file__).resolve().parent / "recorded" / "fstar" / "ide"  # copied from the team's recordings (see its README)
REPLAY = Path(__file__).with_name("fstar_replay.py")


def recorded(name: str, qid: str) -> Response:
    for line in (RECORDED / f"{name}.ideout.expected").read_text().splitlines():
        o = json.loads(line)
        if o.get("kind") == "response" and o["query-id"] == qid:
            return Response(qid, o["status"], o["response"])
    raise KeyError(qid)


def test_judge_on_recorded_responses():
    ok = judge(recorded("Integration.push-pop", "108"))  # let xx : nat = 1
    assert ok.status == "passed"
    smt = judge(recorded("Integration.push-pop", "101"))  # let xx : nat = -1: SMT failure, error 19
    assert smt.status == "failed" and "(error 19)" in smt.message
    assert smt.details["error_ranges"][0]["beg"] == [11, 15]
    tactic = judge(recorded("FailRange", "2"))
    assert tactic.status == "failed" and "<input>:5:2-5:18" in tactic.message
    lax_peek = judge(recorded("FStarMode_GH73", "2"))  # status success, but an error in the list
    assert lax_peek.status == "failed" and "(error 189)" in lax_peek.message


def test_judge_fails_the_assume_warning():
    """Not recorded: the recorded error 19 issue, made the 335 warning --report_assumes gives."""
    issue = dict(recorded("Integration.push-pop", "101").response[0], level="warning", number=335,
                 message="- Admitting this term")
    verdict = judge(Response("1", "success", [issue]))
    assert verdict.status == "failed" and "335" in verdict.message


@pytest.mark.parametrize("text, why", [
    ("let xx : nat = admit ()", "admit"),
    ("let xx : nat = FStar.Tactics.tadmit ()", "tadmit"),
    ("assume val xx : nat", "assume"),
    ('[@@expect_failure]\nlet xx : nat = -1', "expect_failure"),
    ('#push-options "--admit_smt_queries true"\nlet xx : nat = 1', "options"),
    ("let xx : nat = Obj.magic 0", "magic"),
    ("let yy : nat = 1", "does not define xx"),
    ("(* let xx : nat = 1 *)\nlet yy = 2", "does not define xx"),
    ("let xx : nat = 1\nlet xx : nat = 2", "2 times"),
    ("val xx : int\nlet xx : int = -1", "val"),
])
def test_syntax_rules(text, why):
    problem = syntax.forbidden_use(text) or syntax.defines(text, "Integration.xx")
    assert problem and why in problem


def test_comments_and_strings_do_not_count():
    text = '// admit here\nlet xx : nat = (* assume (* nested admit *) *) let s = "admit ()" in 1'
    assert syntax.forbidden_use(text) is None and syntax.defines(text, "Integration.xx") is None
    assert syntax.header_of(text, "Integration.xx") == syntax.header_of("let xx:nat = 1", "Integration.xx") == ": nat"
    assert syntax.header_of("let rec f (x:nat) : Tot (y:int{y == x}) (decreases x) = x", "M.f") == \
        syntax.header_of("let rec f ( x : nat ) :Tot (y: int{y==x})\n  (decreases x) = x", "M.f")
    assert syntax.header_of("let f (xy:int) = xy", "M.f") != syntax.header_of("let f (x y:int) = x", "M.f")
    local = "let xx : nat =\n  let xx = 1 in\n  xx"  # an indented let is local, not a second definition
    assert syntax.defines(local, "Integration.xx") is None


def test_scaffold_follows_the_dataset_harness():
    code = syntax.scaffold("FStar.Seq.Base", [{"open": "FStar.Pervasives"}, {"abbrev": "L", "full_module": "FStar.List.Tot"}],
                           {"z3rlimit": 20, "initial_fuel": 2, "max_fuel": 8, "z3cliopt": ["smt.arith.nl=false"]})
    assert code.splitlines() == ["module L = FStar.List.Tot", "open FStar.Pervasives", "open FStar.Seq.Base",
                                 ("#push-options \"--initial_fuel 2 --max_fuel 8 --z3rlimit 20 --z3cliopt "
                                  "'smt.arith.nl=false'\"")]


def task(**meta) -> Task:
    return Task("Integration.xx", "fstar", statement="", reference="let xx : nat = 1",
                meta={"name": "Integration.xx", "module_file": "Integration.fst", "opens_and_abbrevs": [],
                      "vconfig": {"z3rlimit": 5}, "problem_class": "simply typed", "split": "intra-project", **meta})


def checker(*flags: str, wall_s: float = 30.0) -> FStarChecker:
    from proofsmith.checkers.sandbox import get_sandbox

    command = [sys.executable, str(REPLAY), str(RECORDED / "Integration.push-pop"), "--serve", *flags]
    return FStarChecker(get_sandbox("bwrap"), replace(LIMITS, wall_s=wall_s), fstar=command,
                        visible=[str(REPLAY.parent), str(RECORDED)])


needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bwrap not installed")


@needs_bwrap
def test_checker_in_the_sandbox_reuses_one_process():
    box = checker()
    try:
        good = box.check(task(), Candidate("Integration.xx", "let xx : nat = 1"))
        assert good.status == "passed", good.message
        assert good.details["problem_class"] == "simply typed" and good.details["split"] == "intra-project"
        pid = box._sessions[("Integration.fst", (), None)].ide.proc.pid
        bad = box.check(task(), Candidate("Integration.xx", "let xx : nat = -1"))
        assert bad.status == "failed" and "(error 19)" in bad.message and bad.details["error_ranges"]
        assert box._sessions[("Integration.fst", (), None)].ide.proc.pid == pid  # reused across candidates
        typed = box.check(task(), Candidate("Integration.xx", "let xx : int = -1"))
        assert typed.status == "failed" and "changes the type" in typed.message
        broken = box.check(replace(task(), meta={"name": "xx"}), Candidate("Integration.xx", "let xx = 1"))
        assert broken.status == "error"
    finally:
        box.close()


@needs_bwrap
def test_checker_crash_and_timeout_then_restart():
    crashing = checker("--crash-at", "108")  # dies mid-response to the push of `let xx : nat = 1`
    try:
        assert crashing.check(task(), Candidate("Integration.xx", "let xx : nat = 1")).status == "crashed"
        again = crashing.check(task(), Candidate("Integration.xx", "let xx : nat = -1"))
        assert again.status == "failed" and "(error 19)" in again.message  # a fresh process answered
    finally:
        crashing.close()
    hanging = checker("--hang-at", "101", wall_s=2.0)
    try:
        assert hanging.check(task(), Candidate("Integration.xx", "let xx : nat = -1")).status == "timeout"
        assert hanging.check(task(), Candidate("Integration.xx", "let xx : nat = 1")).status == "passed"
    finally:
        hanging.close()

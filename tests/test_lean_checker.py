"""The Lean checker's rules: on recorded Lean messages (the REPL transcripts in
tests/recorded/lean/repl/, whose `messages` are Lean's own, as `lean --json` prints them)
and on `#print axioms` reports quoted from Lean's own test expectations (`#guard_msgs`
blocks of leanprover/lean4 tests/lean/run/collectAxioms.lean and lean-by-example). The
last tests run the real checker where a `lean` is installed."""

import json
import shutil
from pathlib import Path

import pytest

from proofsmith.checkers.lean import judge, proof_text
from proofsmith.lean.messages import Output, parse_output
from proofsmith.lean.syntax import (
    blank_comments_and_strings,
    declaration_name,
    disallowed_axioms,
    forbidden_use,
    open_namespaces,
    open_scopes,
    print_axioms,
)

RECORDED = Path(__file__).resolve().parent / "recorded" / "lean" / "repl"
# As Lean's test suite records them (#guard_msgs expectations):
EM = "'Classical.em' depends on axioms: [Classical.choice, propext, Quot.sound]"
NATIVE = "'one_add_one' depends on axioms: [Lean.ofReduceBool, Lean.trustCompiler]"
SORRY = "'contra' depends on axioms: [sorryAx]"
NEW_AXIOM = "'A2' depends on axioms: [A0, A1, A2]"


def replies(name: str) -> list[dict]:
    return [json.loads(c) for c in (RECORDED / f"{name}.expected.out").read_bytes().split(b"\n\n") if c.strip()]


def recorded_output(name: str, index: int = 0, extra: str = "") -> Output:
    """A recorded reply's messages, as `lean --json` would print them, one per line (and `extra` text)."""
    lines = [json.dumps(m, ensure_ascii=False) for m in replies(name)[index].get("messages", [])]
    return parse_output("\n".join(lines) + ("\n" + extra if extra else ""))


@pytest.mark.parametrize("name", ["proof_branching", "dup_sorries", "tactic_mode_sorry", "have_by_sorry",
                                  "incomplete", "app_type_mismatch", "no_goal_sorry", "self_proof_check"])
def test_recorded_sorries_and_errors_fail(name):
    """Every recorded command reply holding a sorry warning or an error fails the candidate (recorded output)."""
    out = recorded_output(name, extra=EM.replace("Classical.em", "t"))
    verdict = judge(out, head_lines=0, check_line=1, reference=None, name="t")
    assert verdict.status == "failed"
    first = replies(name)[0]["messages"][0]
    assert " ".join(first["data"].split())[:40] in verdict.message


def test_recorded_messages_parse_with_severity_and_place():
    """Lean's messages keep severity, 1-based line and 0-based column (recorded output)."""
    out = recorded_output("incomplete", 1)
    assert [(m.severity, m.line, m.column, m.end_line) for m in out.messages] == [("error", 3, 19, 3), ("error", 1, 26, 3)]
    assert out.messages[0].text.startswith("unsolved goals\ncase pos")
    info = recorded_output("root_goals").messages[0]
    assert info.severity == "info" and info.text.startswith("Try this:")


def test_an_info_message_and_the_standard_axioms_pass():
    """A recorded info message (exact?'s suggestion) is no failure; Lean's three axioms are allowed (recorded output)."""
    out = recorded_output("root_goals", extra=f"Candidate.lean:9:0: info: {EM.replace('Classical.em', 'bb')}")
    verdict = judge(out, head_lines=0, check_line=9, reference=None, name="bb")
    assert verdict.status == "passed" and verdict.details["axioms"] == ["Classical.choice", "propext", "Quot.sound"]


@pytest.mark.parametrize("report,bad", [(NATIVE, ["Lean.ofReduceBool", "Lean.trustCompiler"]), (SORRY, ["sorryAx"]),
                                        (NEW_AXIOM, ["A0", "A1", "A2"])])
def test_axioms_beyond_the_standard_ones_fail(report, bad):
    """`#print axioms` as Lean's tests record it: native_decide, sorry and new axioms all fail."""
    name = report.split("'")[1]
    assert disallowed_axioms(print_axioms(report, name)) == bad
    out = parse_output(f"Candidate.lean:5:0: info: {report}\n")
    verdict = judge(out, head_lines=0, check_line=5, reference=None, name=name)
    assert verdict.status == "failed" and bad[0] in verdict.message


def test_print_axioms_forms():
    assert print_axioms("'f' does not depend on any axioms", "f") == []
    assert print_axioms(EM, "Classical.em") == ["Classical.choice", "propext", "Quot.sound"]
    assert print_axioms(EM, "other") is None
    assert print_axioms("'«my thm»' depends on axioms: [propext]", "my thm") == ["propext"]


def test_the_command_line_format_parses():
    """FILE:LINE:COL: SEVERITY: TEXT, a text running over several lines, and old toolchains' headerless info."""
    text = ("Candidate.lean:3:2: error: unsolved goals\nx : Nat\n⊢ x = x\n"
            "Candidate.lean:1:8: warning: declaration uses `sorry`\nt : True\n't' does not depend on any axioms\n")
    out = parse_output(text)
    assert [(m.severity, m.line, m.column) for m in out.messages] == [("error", 3, 2), ("warning", 1, 8)]
    assert out.messages[0].text == "unsolved goals\nx : Nat\n⊢ x = x"
    assert out.messages[1].text.startswith("declaration uses `sorry`")


def test_statement_change_fails():
    out = parse_output("C.lean:4:0: info: t : 1 = 2\nC.lean:5:0: info: 't' does not depend on any axioms\n")
    assert judge(out, head_lines=0, check_line=4, reference="t : 1 = 1", name="t").status == "failed"
    assert judge(out, head_lines=0, check_line=4, reference="t :  1 = 2", name="t").status == "passed"


@pytest.mark.parametrize("proof,bad", [
    ("by sorry", "sorry"), ("by\n  admit", "admit"), ("by exact ⟨sorry, h⟩", "sorry"),
    ("by\n  set_option debug.skipKernelTC true in\n  decide", "debug.skipKernelTC"), ("by native_decide", "native_decide"),
    ("by simp\n\naxiom cheat : False", "axiom"), ("by simp\n#exit", "#exit"), ("by simp #exit", "#exit"), ("by simp\n  #my_command", "#my_command"), ("by simp\n#eval IO.println \"x\"", "#eval"),
    ("by simp\n@[implemented_by foo] def g := 1", "implemented_by"), ("by simp\nunsafe def g : Nat := 1", "unsafe"),
    ("by simp\n@[extern \"f\"] opaque g : Nat", "extern"), ("by simp\nend Foo\ntheorem x : True := trivial", "end"),
    ("by simp /- open comment", "/- (a comment left open)"), ('by exact ("/-", sorry)', "sorry"),
    ("by simp\nmacro \"cheat\" : tactic => `(tactic| sorry)", "macro"), ("by run_tac pure ()", "run_tac"),
])
def test_escapes_are_found(proof, bad):
    assert forbidden_use(proof) == bad


@pytest.mark.parametrize("proof", [
    "by simp -- sorry later", "by\n  /- admit /- nested -/ sorry -/\n  rfl", 'by exact "sorry"', "by exact h'sorry",
    "by simp [Nat.add_comm, h.sorry_free]", "by\n  set_option maxHeartbeats 400000 in\n  omega",
    "by exact ('\"', 1).2", "by exact #[1, 2].size_pos", "by\n  decide",
    "by\n  calc #s ≤ #t := Finset.card_le_card h\n    _ = 3 := ht",  # Mathlib's Finset.card notation
])
def test_comments_strings_and_longer_names_do_not_fool_the_rules(proof):
    assert forbidden_use(proof) is None


def test_blanking_keeps_positions():
    text = 'a /- x /- y -/ z -/ b -- c\n"d\\"e" r#"f"# \'g\' h'
    blank = blank_comments_and_strings(text)
    assert len(blank) == len(text) and blank.split() == ["a", "b", "h"] and blank.count("\n") == 1


def test_names_and_scopes():
    assert declaration_name("@[simp] protected theorem Foo.bar (n : ℕ) : n = n") == ("theorem", "Foo.bar")
    assert declaration_name("/-- doc theorem no -/ lemma x : True") == ("lemma", "x")
    context = "namespace A\nsection S\nvariable (n : Nat)\nnamespace B\nend B\n"
    assert open_namespaces(context) == ["A"] and open_scopes(context) == "end S\nend A\n"


def test_proof_text_forms():
    st = "theorem t (p : Prop) (h : p) : p"
    assert proof_text(st, "exact h") == ":= by\n  exact h"
    assert proof_text(st, "by exact h") == ":= by exact h"
    assert proof_text(st, ":= h") == ":= h"
    assert proof_text(st, "theorem t (p : Prop)\n  (h : p) : p := by\n  exact h") == ":= by\n  exact h"


@pytest.mark.skipif(not shutil.which("lean"), reason="needs a real `lean` (a Lean 4 toolchain)")
def test_real_lean_proves_and_refuses():
    """With a real Lean: a proof passes; sorry, a changed statement, native_decide and a wrong proof fail."""
    from proofsmith.core import Candidate, Task, get_checker

    checker = get_checker("lean")
    task = Task(id="t", kind="lean", statement="theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q")
    assert checker.check(task, Candidate("t", "exact ⟨hp, hq⟩")).status == "passed"
    for bad in ("exact ⟨hp, sorry⟩", "exact hp", "exact absurd"):
        assert checker.check(task, Candidate("t", bad)).status == "failed"
    classic = Task(id="em", kind="lean", statement="theorem em' (p : Prop) : p ∨ ¬p")
    assert checker.check(classic, Candidate("em", "exact Classical.em p")).status == "passed"
    decide = Task(id="d", kind="lean", statement="theorem d : 2 + 2 = 4")
    assert checker.check(decide, Candidate("d", "native_decide")).status == "failed"
    assert checker.check(decide, Candidate("d", "decide")).status == "passed"

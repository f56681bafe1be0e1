"""The Lean REPL client and the Lean proof session, on recorded output of the real REPL.

No Lean toolchain can be installed here. Every test drives the real client
(`proofsmith.lean.repl`) and the real session (`provers/search/lean_session.py`) through
`lean_repl_replay.py` (in the bwrap sandbox, as a real REPL runs), a fixture process that checks each request against the one recorded
in tests/recorded/lean/repl/ (leanprover-community/repl's own test transcripts, toolchain
v4.33.0-rc2) and answers with the recorded reply, byte for byte. The test at the end runs
a real `repl` where one is installed.
"""

import json
import shutil
import sys
from pathlib import Path

import pytest

from proofsmith.lean.repl import LeanDied, LeanRepl, LeanTimeout, ReplError, ReplyStream
from proofsmith.provers.search.lean_session import LeanSession, ReplBackend
from proofsmith.provers.search.states import ProofFinished, TacticError, TacticState

RECORDED = Path(__file__).resolve().parent / "recorded" / "lean" / "repl"
REPLAY = Path(__file__).with_name("lean_repl_replay.py")
NAMES = sorted(p.name[:-3] for p in RECORDED.glob("*.in"))



def chunks(path: Path) -> list[dict]:
    return [json.loads(c) for c in path.read_bytes().split(b"\n\n") if c.strip()]


def replay(name: str, *extra: str) -> list[str]:
    return [sys.executable, "-S", str(REPLAY), str(RECORDED / name), *extra]  # -S: no site, a quick start


@pytest.mark.parametrize("name", NAMES)
def test_client_reads_every_recorded_reply(name):
    """Each recorded request, sent by the client, gets back the recorded reply as a dict (recorded output)."""
    requests, replies = chunks(RECORDED / f"{name}.in"), chunks(RECORDED / f"{name}.expected.out")
    with LeanRepl(replay(name), timeout=20) as repl:
        for request, reply in zip(requests, replies):
            if set(reply) == {"message"}:
                with pytest.raises(ReplError, match=reply["message"].splitlines()[0][:20]):
                    repl.request(request)
            else:
                assert repl.request(request) == reply


def test_reply_stream_splits_on_blank_lines_in_any_chunking():
    """The recorded bytes of a transcript, fed one byte at a time, give the same replies (recorded output)."""
    data = (RECORDED / "proof_branching.expected.out").read_bytes()
    stream = ReplyStream()
    got = [r for i in range(len(data)) for r in stream.feed(data[i:i + 1])] + stream.close()
    assert got == chunks(RECORDED / "proof_branching.expected.out")


def test_command_and_tactic_replies_are_typed():
    """Command mode: env, sorries with their proofState, the sorry warning; tactic mode: goals,
    proofStatus, errors; the REPL's own refusal is ReplError (recorded output)."""
    with LeanRepl(replay("invalid_tactic"), timeout=20) as repl:
        r = repl.command("theorem my_theorem (x : Nat) : x = x := by sorry")
        assert r.env == 0 and r.sorries[0].proof_state == 0 and r.sorries[0].goal == "x : Nat\n⊢ x = x"
        assert [(m.severity, m.line, m.column) for m in r.messages] == [("warning", 1, 8)] and not r.errors
        t = repl.tactic("exact my_fake_premise", 0)
        assert t.errors[0].text == "Unknown identifier `my_fake_premise`" and not t.finished
        assert t.proof_status == "Incomplete: contains sorry"
    with LeanRepl(replay("tactic_mode_sorry"), timeout=20) as repl:
        repl.command("def f : Nat := by sorry")
        t = repl.tactic("sorry", 0)
        assert t.goals == [] and t.sorries and not t.finished  # no goals left, but by a sorry
    with LeanRepl(replay("unknown_proof_state"), timeout=20) as repl:
        repl.command("def f : Nat := by sorry")
        with pytest.raises(ReplError, match="Unknown proof state"):
            repl.tactic("exact 42", 1)


def test_a_request_off_the_transcript_ends_the_replay():
    """The fixture really checks what the client sends: another request gets no reply (recorded output)."""
    with LeanRepl(replay("proof_step"), timeout=20) as repl, pytest.raises(LeanDied):
        repl.command("def g : Nat := by sorry")


def test_session_branches_by_proof_state():
    """Two tactics on the root state, then the proof finished from the second branch (recorded output)."""
    with LeanSession("", "def f : Nat", repl_command=replay("proof_step"), tactic_timeout=20) as lean:
        s0 = lean.initial_state()
        assert s0.pp == "⊢ Nat" and s0.goals == 1
        s1 = lean.run_tactic(s0, "apply Int.natAbs")
        assert isinstance(s1, TacticState) and s1.pp == "⊢ Int"
        s2 = lean.run_tactic(s0, "have t : Nat := 42")
        assert isinstance(s2, TacticState) and s2.pp == "t : Nat\n⊢ Nat"
        done = lean.run_tactic(s2, "exact t")
        assert isinstance(done, ProofFinished) and lean.proof(done.id) == ["have t : Nat := 42", "exact t"]


def test_session_reports_errors_and_several_goals():
    """Two goals printed as LeanDojo prints them (a blank line between); an unknown identifier is an error
    (recorded output)."""
    with LeanSession("", "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r",
                     repl_command=replay("proof_branching"), tactic_timeout=20) as lean:
        s1 = lean.run_tactic(lean.initial_state(), "apply And.intro")
        assert s1.goals == 2 and s1.pp.count("\n\ncase right") == 1
    with LeanSession("", "theorem my_theorem (x : Nat) : x = x", repl_command=replay("invalid_tactic"),
                     tactic_timeout=20) as lean:
        r = lean.run_tactic(lean.initial_state(), "exact my_fake_premise")
        assert isinstance(r, TacticError) and "my_fake_premise" in r.message and not r.timeout


def test_session_refuses_cheats_before_lean_sees_them():
    """sorry/admit/native_decide are refused by the rules, not sent (the replay would end on them)."""
    with LeanSession("", "def f : Nat", repl_command=replay("proof_step"), tactic_timeout=20) as lean:
        for tactic in ("sorry", "admit", "exact (sorry : Nat)", "set_option debug.skipKernelTC true in exact 1"):
            r = lean.run_tactic(lean.initial_state(), tactic)
            assert isinstance(r, TacticError) and r.message.startswith("forbidden")
        assert isinstance(lean.run_tactic(lean.initial_state(), "apply Int.natAbs"), TacticState)


def test_a_timeout_restarts_the_repl_and_replays_to_the_state(tmp_path):
    """LeanDojo's issue #218: the tactic that hangs is a timeout; the REPL is killed and restarted, and the
    same tactic on the same state then works, the path replayed in a fresh REPL (recorded output). Out of the
    sandbox: the replay writes a file to hang once only, and the sandbox is read-only (the other session tests
    run the replay in bwrap)."""
    marker = tmp_path / "hung"
    command = replay("proof_branching", "--hang-at", "2", "--marker", str(marker))
    with LeanSession("", "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r",
                     repl_command=command, tactic_timeout=1.5, sandbox=None) as lean:
        s1 = lean.run_tactic(lean.initial_state(), "apply And.intro")
        hung = lean.run_tactic(s1, "exact h1.left")
        assert isinstance(hung, TacticError) and hung.timeout and marker.exists() and lean.restarts == 1
        s2 = lean.run_tactic(s1, "exact h1.left")  # statement, apply And.intro replayed, then this
        assert isinstance(s2, TacticState) and s2.pp.startswith("case right") and s2.goals == 1
        s3 = lean.run_tactic(s2, "apply h2")
        assert isinstance(lean.run_tactic(s3, "exact h1.right"), ProofFinished)


def test_a_sorry_that_slips_past_the_rules_is_still_an_error():
    """The backend itself: a tactic whose reply holds a sorry is an error, not a state (recorded output)."""
    backend = ReplBackend("", "theorem foo (x : Int) : x = x", replay("sorry_hypotheses"), timeout=20)
    try:
        handle, goals = backend.open()
        assert (handle, goals) == (0, ["x : Int\n⊢ x = x"])
        step = backend.step(handle, "have h : x = 1 := sorry", 20)
        assert step.error == "the tactic leaves a sorry" and not step.finished
    finally:
        backend.close()


def test_client_timeout_kills_and_restart_starts_fresh(tmp_path):
    """A request that gets no answer is LeanTimeout; after restart() the transcript starts again (recorded output)."""
    with LeanRepl(replay("import_lean", "--hang-at", "0", "--marker", str(tmp_path / "m")), timeout=1.0) as repl:
        with pytest.raises(LeanTimeout):
            repl.command("import Lean")
        repl.restart()
        assert repl.command("import Lean").env == 0


@pytest.mark.skipif(not shutil.which("repl"), reason="needs a real Lean REPL (`repl` on PATH)")
def test_real_repl_proves_and_branches():
    """With a real Lean REPL: branching, an error and a finished proof."""
    with LeanSession("", "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q", tactic_timeout=60) as lean:
        s1 = lean.run_tactic(lean.initial_state(), "constructor")
        assert isinstance(s1, TacticState) and s1.goals == 2
        assert isinstance(lean.run_tactic(s1, "exact hq"), TacticError)
        assert isinstance(lean.run_tactic(lean.initial_state(), "exact ⟨hp, hq⟩"), ProofFinished)

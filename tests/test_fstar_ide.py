"""The `fstar.exe --ide` client on recorded real F* output.

F* cannot be installed here. These tests drive the real client (`proofsmith.fstar.ide`)
against `tests/fstar_replay.py`, a fixture process that replays the real F* transcripts in
`tests/recorded/fstar/ide/` (from F*'s own test suite) and undoes the normalisation F*'s
`cleanup.py` applied to them (full protocol-info, compact JSON in F*'s key order, progress
messages, full paths, `u<digits>`, a non-JSON debug line). Every response the client reads
is compared with the recorded one, normalised back the way `cleanup.py` does.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from proofsmith.fstar import FStarDied, FStarIde, FStarTimeout, Range

RECORDED = Path(__file__).resolve().parent / "recorded" / "fstar" / "ide"  # copied from the team's recordings (see its README)
REPLAY = str(Path(__file__).with_name("fstar_replay.py"))
PAIRS = sorted(p.name[: -len(".in")] for p in RECORDED.glob("*.in")) if RECORDED.is_dir() else []
pytestmark = pytest.mark.skipif(not PAIRS, reason=f"no recorded F* transcripts at {RECORDED}")


def replay(name: str, *flags: str, timeout: float = 20.0) -> FStarIde:
    return FStarIde([sys.executable, REPLAY, str(RECORDED / name), *flags], timeout=timeout)


def requests(name: str) -> list[dict]:
    return [json.loads(line) for line in (RECORDED / f"{name}.in").read_text().splitlines() if line.strip()]


def recorded_responses(name: str) -> dict[str, dict]:
    lines = [json.loads(line) for line in (RECORDED / f"{name}.ideout.expected").read_text().splitlines()]
    return {o["query-id"]: o for o in lines if o.get("kind") == "response"}


def cleanup(value):
    """What F*'s cleanup.py does to a response: `u<digits>` -> `u[...]`, file names cut to their basename."""
    if isinstance(value, dict):
        return {k: (os.path.basename(v) if k == "fname" and isinstance(v, str) else cleanup(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [cleanup(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"\bu\d+\b", "u[...]", value)
    return value


@pytest.mark.parametrize("name", PAIRS)
def test_every_recorded_response_is_read_back(name):
    """Each recorded request, sent by the client, gets exactly the recorded response back."""
    recorded = recorded_responses(name)
    with replay(name) as fstar:
        assert fstar.protocol_info["kind"] == "protocol-info" and "push" in fstar.protocol_info["features"]
        for request in requests(name):
            reply = fstar.query(request["query"], request["args"])
            want = recorded[request["query-id"]]
            assert reply.status == want["status"], request
            assert cleanup(reply.response) == want["response"], request
            assert all(m["kind"] == "message" for m in reply.messages)
        assert "(debug) F* replay started" in fstar.noise  # the non-JSON line was skipped, not fatal


def test_full_push_failure_has_error_ranges_and_lax_push_succeeds():
    """FailRange: the full push of a failing tactic fails (error 228, two ranges); its lax push succeeds."""
    with replay("FailRange") as fstar:
        assert fstar.push("module FailRange\nopen FStar.Tactics.V2\n").clean
        code = '\nlet a : unit =\n  assert_by_tactic (True /\\ True)\n    (fun () -> split (); fail "A")\n'
        full = fstar.push(code, kind="full", line=3)
        assert full.status == "failure" and not full.clean
        (issue,) = full.errors
        assert issue.number == 228 and "Tactic failed" in issue.message
        assert issue.ranges[0] == Range("<input>", (5, 2), (5, 18))
        assert issue.ranges[1].fname.endswith("/FStar.Tactics.V2.Derived.fst")  # a full path, as live F* says
        assert full.proof_states()[0]["label"] == "at the time of failure"
        assert any(m["level"] == "progress" for m in full.messages)
        lax = fstar.push(code, kind="lax", line=3)
        assert lax.status == "success" and lax.issues == [] and lax.clean


def test_lax_peek_with_errors_is_success_but_not_clean():
    """GH73 qid 2: a lax peek with a type error says `success` and lists the error."""
    with replay("FStarMode_GH73") as fstar:
        fstar.push("module FStarMode_GH73\nopen FStar.Tactics.V2\n")
        code = '\nlet x: bool = synth_by_tactic (fun () -> exact ("A" + 1))\n'
        peek = fstar.peek(code, line=3)
        assert peek.status == "success" and not peek.clean and peek.errors[0].number == 189
        full = fstar.push(code, line=3)
        assert full.status == "failure" and full.errors[0].ranges[0] == Range("<input>", (4, 48), (4, 51))


def test_push_and_pop():
    """Integration: pushes then pops, each pop answering null with success."""
    with replay("Integration.push-pop") as fstar:
        for code, line in [("module Integration\n", 1), ("\nlet xxxxxx = 1\n", 2), ("\nlet yyyyyy = xxxxxx\n", 4),
                           ("\nlet aaaaaa = yyyyyy\n", 6), ("\nlet aaaaaaaaaaaaaaaaaaaaaaaa = yyyyyy\n", 8)]:
            assert fstar.push(code, line=line).clean
        for _ in range(3):
            pop = fstar.pop()
            assert pop.status == "success" and pop.response is None
        assert fstar.push("\nlet yyyyyy = xxxxxx\n", line=4).clean


def test_crash_mid_response_raises_and_restart_works():
    """The replay dies after half of the response line to the failing push: FStarDied; restart starts over."""
    with replay("FailRange", "--crash-at", "2") as fstar:
        first = requests("FailRange")[0]["args"]
        fstar.query("push", first)
        code = requests("FailRange")[1]["args"]
        with pytest.raises(FStarDied, match="exited"):
            fstar.query("push", code)
        assert not fstar.alive
        assert fstar.query("push", first).clean  # the next query restarts F* by itself


def test_timeout_kills_and_restarts():
    """A query with no answer within the timeout kills F* (FStarTimeout); the next query gets a fresh one."""
    with replay("Missing", "--hang-at", "2", timeout=1.0) as fstar:
        args = requests("Missing")
        assert fstar.query("vfs-add", args[0]["args"]).status == "success"
        with pytest.raises(FStarTimeout):
            fstar.query("push", args[1]["args"])
        assert not fstar.alive
        assert fstar.query("vfs-add", args[0]["args"]).response is None


def test_a_wrongly_encoded_request_is_not_answered():
    """The fixture is strict: a request that is not the recorded one stops it (so this client cannot pass by luck)."""
    with replay("Missing") as fstar, pytest.raises(FStarDied, match="not the recorded"):
        fstar.query("vfs-add", {"filename": "/Missing.fst", "contents": "something else"})

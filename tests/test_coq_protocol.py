"""The coqidetop client against the real coqidetop.opt, and the XML codec."""

import pytest

from proofsmith.coq import CoqError, CoqIdeTop, CoqTimeout
from proofsmith.coq import xml_protocol as xp
from proofsmith.coq.goals import Hypothesis


def test_encode_add_has_the_816_shape():
    msg = xp.call("Add", (((("intro.", 0), (xp.StateId(3), False)), 0), (0, 0)))
    assert msg == (b'<call val="Add"><pair><pair><pair><pair><string>intro.</string><int>0</int></pair>'
                   b'<pair><state_id val="3"/><bool val="false"/></pair></pair><int>0</int></pair>'
                   b'<pair><int>0</int><int>0</int></pair></pair></call>')


def test_stream_cuts_elements_and_nbsp_split_across_chunks():
    stream = xp.XmlStream()
    data = b'<value val="good"><string>a&nbsp;b</string></value><feedback object="state" route="0">'
    got = []
    for i in range(0, len(data), 7):  # entities and tags cut anywhere
        got += list(stream.feed(data[i:i + 7]))
    assert len(got) == 1 and xp.decode(got[0][0]) == "a b"


def test_hypothesis_parse():
    h = Hypothesis.parse("n, m : nat")
    assert h.names == ("n", "m") and h.type == "nat"
    h = Hypothesis.parse("x := 3 : nat")
    assert h.names == ("x",) and h.body == "3" and h.type == "nat"


@pytest.fixture(scope="module")
def coq():
    with CoqIdeTop(timeout=20) as session:
        yield session


def test_goals_before_and_after_tactics(coq):
    start = coq.add("Lemma plus_zero (n : nat) (H : n = 0) : n + 0 = 0.")
    goals = coq.goals()
    assert str(goals) == "n : nat\nH : n = 0\n============================\nn + 0 = 0"
    assert goals.foreground[0].hypotheses[1].names == ("H",)
    after = coq.run("rewrite <- plus_n_O.")
    assert after.foreground[0].conclusion == "n = 0"
    with pytest.raises(CoqError) as err:
        coq.run("reflexivity.")
    assert "Unable to unify" in err.value.message and err.value.loc == (0, 11)
    assert str(coq.run("exact H.")) == "no goals"
    assert coq.run("Qed.") is None
    assert coq.query("Locate plus_zero.") == "Constant Top.plus_zero"
    assert "Coq.Init.Peano.plus_n_O" in coq.query("Locate plus_n_O.")
    assert start < coq.tip


def test_edit_at_backtracks(coq):
    coq.add("Lemma two_goals : True /\\ True.")
    sid = coq.tip
    coq.run("split.")
    assert len(coq.goals().foreground) == 2
    coq.edit_at(sid)
    assert len(coq.goals().foreground) == 1
    coq.run("now split.")
    coq.run("Qed.")


def test_parse_error_is_a_coq_error(coq):
    with pytest.raises(CoqError):
        coq.run("Lemma broken : (1 + .")


def test_timeout_kills_and_restart_works():
    with CoqIdeTop(timeout=3) as coq:
        coq.add("Goal True.")
        coq.add("repeat (assert True by trivial).")
        with pytest.raises(CoqTimeout):
            coq.goals()
        root = coq.restart()
        assert coq.tip == root
        coq.add("Goal 1 = 1.")
        assert coq.goals().foreground[0].conclusion == "1 = 1"


def test_runs_inside_the_bwrap_sandbox():
    from proofsmith.checkers.sandbox import Limits, get_sandbox

    limits = Limits(wall_s=60, cpu_s=60, memory_mb=2048)
    with CoqIdeTop(sandbox=get_sandbox("bwrap"), limits=limits, timeout=30) as coq:
        coq.add("Lemma refl_n (n : nat) : n = n.")
        assert str(coq.goals()) == "n : nat\n============================\nn = n"
        assert coq.run("reflexivity.").foreground == ()

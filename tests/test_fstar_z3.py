"""Z3 from the `z3-solver` wheel, found without PATH, really runs in the sandbox (no recorded output here)."""

from __future__ import annotations

import os
import shutil

import pytest

from proofsmith.core import ProofsmithError
from proofsmith.fstar import z3 as fz3

pytest.importorskip("z3", reason="the z3-solver wheel is not installed (pip install 'proofsmith[fstar]')")

QUERY = """(set-option :produce-models true)
(declare-const x Int)
(declare-const y Int)
(assert (and (> x 2) (< y 10) (= (+ x y) 15)))
(check-sat)
(get-value (x))
(push 1)
(assert (< x 0))
(check-sat)
"""


def test_found_in_the_wheel_not_on_path(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    found = fz3.find_z3()
    assert os.path.basename(found.path) == "z3" and os.access(found.path, os.X_OK)
    assert fz3.reported_version(found) == found.version
    assert found.fstar_options() == ["--smt", found.path, "--z3version", found.version]


def test_another_version_is_asked_for_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFSMITH_CACHE", str(tmp_path))
    other = "4.8.5" if fz3.find_z3().version != "4.8.5" else "4.13.3"
    with pytest.raises(ProofsmithError, match=rf"F\* needs Z3 {other}.*z3-solver=={other}\.0"):
        fz3.find_z3(other)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bwrap not installed")
def test_z3_answers_an_smtlib_query_in_the_sandbox():
    from proofsmith.checkers.sandbox import Limits, get_sandbox

    found = fz3.find_z3()
    box = get_sandbox("bwrap").seeing([os.path.dirname(found.path)])
    result = box.run([found.path, "-smt2", "query.smt2"], files={"query.smt2": QUERY},
                     limits=Limits(wall_s=30, cpu_s=30, memory_mb=2048))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[0] == "sat" and lines[-1] == "unsat"
    x = int(result.stdout.split("(x ")[1].split(")")[0])
    assert x > 2 and 15 - x < 10

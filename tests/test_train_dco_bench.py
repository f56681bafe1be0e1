"""`bench dco`'s built-in theorem family: held-out statements, proofs that coqc accepts."""

import pytest

from proofsmith.bench.dco import FAMILY, _validate_family, family_data
from proofsmith.eval.passk import pass_at_k
from proofsmith.provers.training.data import proof_example


def test_family_is_deterministic_and_test_statements_are_unseen():
    train, test = family_data(60, 12, seed=3)
    assert (train, test) == family_data(60, 12, seed=3)
    assert len(train) == 60 and len(test) == 12
    assert not {t["statement"] for t in train} & {t["statement"] for t in test}
    assert len({t["task_id"] for t in train + test}) == 72
    assert all(proof_example(t["statement"], t["reference"]) for t in train)


def test_training_proofs_follow_the_style_weights():
    train, _ = family_data(600, 0, seed=0)
    shares = [sum(t["style"] == s for t in train) / len(train) for s in range(3)]
    assert shares[0] == pytest.approx(0.6, abs=0.07) and shares[2] == pytest.approx(0.1, abs=0.05)
    assert all(len(proofs) == 3 for _, _, proofs in FAMILY)


def test_pass_at_k_is_the_unbiased_estimator():
    assert pass_at_k(8, 0, 8) == 0 and pass_at_k(8, 1, 8) == 1
    assert pass_at_k(8, 2, 1) == pytest.approx(0.25)


@pytest.mark.slow
def test_every_family_proof_style_checks_with_coqc():
    _validate_family()  # raises on the first style coqc rejects


def test_judge_screens_in_a_live_session_and_lets_coqc_decide():
    """Real coqidetop and coqc: duplicates judged once, bullets finish, escapes and wrong proofs fail."""
    from proofsmith.bench.dco_eval import judge
    from proofsmith.checkers.coq import CoqChecker

    test = {"task_id": "t", "prelude": "Require Import Arith.",
            "statement": "Lemma t : forall n : nat, n + 0 = n /\\ 0 + n = n."}
    proofs = ["intros n. split. - auto with arith. - reflexivity.", "intros n. split; auto with arith.",
              "intros n. split; auto with arith.", "intros. reflexivity.", "admit.", "intros n. split. auto.",
              "intros n. split; auto with arith. reflexivity.", ""]
    verdicts = judge(test, proofs, CoqChecker())
    assert len(verdicts) == 7  # the duplicate is judged once
    assert verdicts == {proofs[0]: True, proofs[1]: True, proofs[3]: False, proofs[4]: False, proofs[5]: False,
                        proofs[6]: False, "": False}


@pytest.mark.slow
@pytest.mark.model
def test_bench_dco_quick_runs_on_the_cli(tmp_path):
    """`proofsmith bench dco --quick --json` end to end: three real fine-tunes, samples, coqc, the curves."""
    import itertools
    import json
    import os
    import subprocess
    import sys

    from proofsmith.paths import cache_dir

    (tmp_path / "models").symlink_to(cache_dir("models"))  # the dequantised default model, made once
    env = {**os.environ, "PROOFSMITH_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "proofsmith", "bench", "dco", "--quick", "--json"], env=env,
                         capture_output=True, text=True, timeout=900, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(result["pass_at_k"]) == {"ce", "dco", "dco-step"} and result["k"] == [1, 2, 3, 4]
    for curve in result["pass_at_k"].values():
        assert all(0 <= a <= b <= 1 for a, b in itertools.pairwise(curve))  # pass@k never falls with k

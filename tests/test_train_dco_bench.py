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

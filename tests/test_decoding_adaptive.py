"""The adaptive draft length: drafts more when they are accepted, none when they do not pay."""

from proofsmith.provers.decoding.engine import AdaptiveLength


def test_budget_grows_with_the_acceptance_rate():
    budgets = [AdaptiveLength(16, start_rate=rate).budget() for rate in (0.5, 0.6, 0.8, 0.95)]
    assert budgets == sorted(budgets) and budgets[0] >= 1 and budgets[-1] == 16


def test_low_acceptance_means_plain_steps_with_occasional_probes():
    lengths = AdaptiveLength(16, start_rate=0.05, probe_every=4)
    budgets = [lengths.budget() for _ in range(8)]
    assert budgets.count(0) == 6 and all(b > 0 for b in budgets[3::4])


def test_rate_follows_recent_steps():
    lengths = AdaptiveLength(16, start_rate=0.9)
    for _ in range(6):
        lengths.update(drafted_depth=8, accepted=0)
    assert lengths.rate < 0.05 and lengths.budget() == 0


def test_wide_batches_draft_less():
    lengths = AdaptiveLength(16, start_rate=0.7)
    assert lengths.budget(batch=8) < lengths.budget(batch=1)

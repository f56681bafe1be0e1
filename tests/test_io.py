"""Reading what users have: sample lines as Candidates."""

from __future__ import annotations

from proofsmith.io import candidate_from_sample


def test_a_sample_line_says_how_its_candidate_was_made():
    c = candidate_from_sample({"task_id": "t", "completion": "x", "model": "m", "temperature": 0.8, "top_p": 0.95,
                               "seed": 3, "logprob": -2, "tokens": 7, "seconds": 0.5, "mine": 1})
    assert (c.model, c.logprob, c.tokens, c.seconds) == ("m", -2.0, 7, 0.5)
    assert c.decoding == {"temperature": 0.8, "top_p": 0.95, "seed": 3} and c.fields["mine"] == 1
    odd = candidate_from_sample({"task_id": "t", "completion": "x", "model": 5, "tokens": 1.5, "logprob": True})
    assert (odd.model, odd.tokens, odd.logprob) == ("", None, None)
